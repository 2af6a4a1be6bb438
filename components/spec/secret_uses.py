"""Which consumer uses which secret for what: the one list every renderer and check reads."""

from __future__ import annotations

from dataclasses import dataclass

from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.idle_fields import host_only
from slm_deploy.spec.monitoring_checks import monitoring_mode
from slm_deploy.spec.secrets import Purpose
from slm_deploy.spec.present import present


@dataclass(frozen=True)
class SecretUse:
    """One spec field naming a secret that one consumer mounts as a file."""

    path: str
    """The spec field that names the secret."""
    secret: str
    purpose: Purpose
    consumer: str
    """The service role that mounts it (gateway, model-prep, ui, grafana, alertmanager)."""


CONSUMER_NAMES = {"gateway": "the gateway", "model-prep": "model preparation", "ui": "Open WebUI",
                  "grafana": "Grafana", "alertmanager": "Alertmanager"}
"""How errors and the README name each consumer."""
CONFIG_PREFIX = "secret-"
"""Pulumi reads a value it writes from slm-deploy:secret-<name>, always set with --secret."""
MONITORING_CONSUMERS = frozenset({"grafana", "alertmanager"})
"""On Kubernetes these run only in the bundled mode, in the monitoring namespace (slm-deploy's own stack)."""


def secret_uses(spec: DeploymentSpec) -> list[SecretUse]:
    """Every secret the spec's consumers mount, in a stable order."""
    uses = []
    if spec.serving.auth.enabled and not host_only(spec):  # no gateway runs on a host
        uses.append(SecretUse("serving.auth.api_keys_secret", spec.serving.auth.api_keys_secret,
                              Purpose.GATEWAY_API_KEYS, "gateway"))
    if spec.model.hub_token_secret:
        uses.append(SecretUse("model.hub_token_secret", spec.model.hub_token_secret,
                              Purpose.MODEL_HUB_TOKEN, "model-prep"))
    webui = getattr(spec.runtime, "open_webui", None)
    if webui is not None and webui.enabled:
        uses.append(SecretUse("runtime.open_webui.secret_key_secret", webui.secret_key_secret,
                              Purpose.OPEN_WEBUI_SECRET_KEY, "ui"))
        if spec.serving.auth.enabled:
            uses.append(SecretUse("runtime.open_webui.api_key_secret", webui.api_key_secret,
                                  Purpose.GATEWAY_CLIENT_KEY, "ui"))
    return uses + _monitoring_uses(spec)


def runs_alerting(spec: DeploymentSpec) -> bool:
    """Whether slm-deploy runs Alertmanager (and Grafana, when asked): on Compose, or the bundled Kubernetes stack."""
    return spec.monitoring.enabled and (spec.targets.compose is not None
                                        or (has_kubernetes(spec) and monitoring_mode(spec) == "bundled"))


def _monitoring_uses(spec: DeploymentSpec) -> list[SecretUse]:
    """Grafana's admin password and the alert receiver's credentials, where slm-deploy runs their readers."""
    if not runs_alerting(spec):
        return []
    monitoring, uses = spec.monitoring, []
    if monitoring.grafana.enabled:
        uses.append(SecretUse("monitoring.grafana.admin_password_secret", monitoring.grafana.admin_password_secret,
                              Purpose.GRAFANA_ADMIN, "grafana"))
    receiver = monitoring.receiver
    for field in ("url_secret", "token_secret"):
        name = getattr(receiver, field) if receiver is not None else None
        if name:
            uses.append(SecretUse(f"monitoring.receiver.{field}", name, Purpose.ALERTMANAGER_RECEIVER, "alertmanager"))
    return uses


def secrets_of(spec: DeploymentSpec, consumer: str) -> list[str]:
    """The secrets one consumer mounts, in name order."""
    return sorted({use.secret for use in secret_uses(spec) if use.consumer == consumer})


def has_kubernetes(spec: DeploymentSpec) -> bool:
    """Whether any target runs the deployment on Kubernetes (AKS implies it)."""
    return spec.targets.kubernetes is not None or spec.targets.aks is not None


def read_on_kubernetes(spec: DeploymentSpec, name: str) -> bool:
    """Whether a pod on Kubernetes mounts the secret (Grafana's and Alertmanager's only in the bundled mode)."""
    if not has_kubernetes(spec):
        return False
    bundled = monitoring_mode(spec) == "bundled"
    return any(use.secret == name and (bundled or use.consumer not in MONITORING_CONSUMERS)
               for use in secret_uses(spec))


def in_monitoring_namespace(spec: DeploymentSpec, name: str) -> bool:
    """Whether Kubernetes reads the secret in the monitoring namespace (every reader is Grafana or Alertmanager)."""
    readers = {use.consumer for use in secret_uses(spec) if use.secret == name}
    return bool(readers) and readers <= MONITORING_CONSUMERS


def backend_of(spec: DeploymentSpec, name: str) -> str:
    """The store Kubernetes reads a declared secret from (Compose always reads files)."""
    ref = spec.secrets[name]
    if ref.backend is not None:
        return ref.backend
    return "kubernetes" if read_on_kubernetes(spec, name) else "file"


def purpose_of(spec: DeploymentSpec, name: str) -> Purpose:
    """The declared purpose, else the purpose of the first field that names the secret (one nothing reads is refused)."""
    ref = spec.secrets.get(name)
    if ref is not None and ref.purpose is not None:
        return ref.purpose
    return present(next((u.purpose for u in secret_uses(spec) if u.secret == name), None), f"secrets.{name}.purpose")


def vault_of(spec: DeploymentSpec, name: str) -> str:
    """The Key Vault an azure-key-vault secret is kept in (that backend requires one)."""
    return present(spec.secrets[name].vault, f"secrets.{name}.vault")


def store_of(spec: DeploymentSpec, name: str) -> str:
    """The External Secrets store an external-secrets secret is served by (that backend requires one)."""
    return present(spec.secrets[name].store, f"secrets.{name}.store")


def remote_key(spec: DeploymentSpec, name: str) -> str:
    """The secret's name inside its store."""
    return spec.secrets[name].key or name


def config_key(name: str) -> str:
    """The stack config key holding a secret's value."""
    return f"slm-deploy:{CONFIG_PREFIX}{name}"
