"""Cross-field rules of the secrets section: references, purposes, backends against targets, stores and keys."""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections import defaultdict

from slm_deploy.errors import Problem
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.secret_uses import (
    CONSUMER_NAMES, SecretUse, backend_of, has_kubernetes, in_monitoring_namespace, read_on_kubernetes, remote_key,
    secret_uses,
)
from slm_deploy.spec.secrets import SECRET_OBJECT_BACKENDS

KEY_VAULT_SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
REMOTE_KEY_FORMS = {
    "hashicorp-vault": (re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$"),
                        "path segments of letters, digits, . _ - separated by / (e.g. llm/phi4/api-keys)"),
    "aws-secrets-manager": (re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$"),
                            "up to 512 letters, digits and / _ + = . @ - (e.g. llm/phi4/api-keys)"),
    "google-secret-manager": (re.compile(r"^[A-Za-z0-9_-]{1,255}$"),
                              "up to 255 letters, digits, _ and - (Secret Manager ids have no /)"),
}
"""Remote key forms per External Secrets provider, from each service's naming rules."""
FIELDS_BY_BACKEND = {"file": (), "kubernetes": (), "azure-key-vault": ("key", "vault"),
                     "external-secrets": ("key", "property", "store")}


def _declared(names: dict, section: str) -> str:
    """What a reference may name, without printing the names: a pasted token must not reach the terminal."""
    return f"a name declared under {section}" if names else f"(none declared under {section})"


def _reference_problems(spec: DeploymentSpec, uses: list[SecretUse]) -> list[Problem]:
    declared = "a name declared under `secrets`" if spec.secrets else "(none declared)"
    problems, purposes = [], defaultdict(set)
    for use in uses:
        consumer = CONSUMER_NAMES[use.consumer]
        if use.secret not in spec.secrets:
            problems.append(Problem(use.path, f"{consumer} needs the {use.purpose.value} secret this field names, "
                                    "which `secrets` does not declare", allowed=declared,
                                    hint="declare it under `secrets` by that name (`{}` takes the default backend), "
                                         "or name a declared secret"))
            continue
        purposes[use.secret].add(use.purpose)
        declared_purpose = spec.secrets[use.secret].purpose
        if declared_purpose is not None and declared_purpose != use.purpose:
            problems.append(Problem(f"secrets.{use.secret}.purpose", f"is {declared_purpose.value}, but "
                                    f"{consumer} reads it through {use.path} as {use.purpose.value}",
                                    allowed=use.purpose.value, hint="each purpose has its own file format; use "
                                    "a separate secret for each"))
    for name, found in sorted(purposes.items()):
        if len(found) > 1:
            problems.append(Problem(f"secrets.{name}", "is used for several purposes, whose file formats differ: "
                                    + ", ".join(sorted(p.value for p in found)),
                                    allowed="one purpose per secret", hint="declare one secret per purpose"))
    used = {u.secret for u in uses}
    for name in sorted(set(spec.secrets) - used):
        purpose = spec.secrets[name].purpose
        problems.append(Problem(f"secrets.{name}", "no consumer uses this secret"
                                + (f" (nothing in this spec reads a {purpose.value} secret)" if purpose else ""),
                                allowed="secrets named by " + ", ".join(sorted({u.path for u in uses}) or ["no field"]),
                                hint="remove it, or name it from the field of the consumer that needs it"))
    return problems


def _host_only(spec: DeploymentSpec) -> bool:
    """Whether a host install (MLX on a Mac) is the only target: its secrets are files under the install folder."""
    targets = spec.targets
    return targets.host is not None and all(getattr(targets, name) is None
                                            for name in type(targets).model_fields if name != "host")


def _backend_problems(spec: DeploymentSpec, name: str) -> list[Problem]:
    ref, backend, path = spec.secrets[name], backend_of(spec, name), f"secrets.{name}"
    problems = [Problem(f"{path}.{field}", f"is not used by the {backend} backend",
                        allowed=", ".join(FIELDS_BY_BACKEND[backend]) or "backend and purpose only")
                for field in ("key", "property", "vault", "store")
                if getattr(ref, field) is not None and field not in FIELDS_BY_BACKEND[backend]]
    on_kubernetes = read_on_kubernetes(spec, name)
    if backend == "file" and on_kubernetes:
        problems.append(Problem(f"{path}.backend", "a file secret has no source on Kubernetes",
                                allowed="kubernetes, azure-key-vault, external-secrets",
                                hint="Compose reads compose/secrets/<name> whatever the backend"))
    if backend != "file" and not has_kubernetes(spec) and _host_only(spec):
        problems.append(Problem(f"{path}.backend", f"the {backend} backend serves Kubernetes, and this deployment "
                                "installs on a host", allowed="file (the host install reads secrets/<name> in its "
                                "install folder, as its README says)"))
    elif backend != "file" and not has_kubernetes(spec):
        problems.append(Problem(f"{path}.backend", f"the {backend} backend serves Kubernetes, and no Kubernetes "
                                "target is on", allowed="file (Compose reads compose/secrets/<name>)",
                                hint="or add targets.kubernetes / targets.aks"))
    elif backend != "file" and not on_kubernetes and any(u.secret == name for u in secret_uses(spec)):
        problems.append(Problem(f"{path}.backend", "only Compose reads this secret: Grafana and Alertmanager run on "
                                "Kubernetes only in monitoring.mode bundled",
                                allowed="file (Compose reads compose/secrets/<name>)",
                                hint="or choose monitoring.mode bundled to run them in the cluster"))
    if backend not in ("file", "kubernetes") and on_kubernetes and in_monitoring_namespace(spec, name):
        problems.append(Problem(f"{path}.backend", "the bundled stack's Grafana and Alertmanager read a "
                                "Kubernetes Secret in the monitoring namespace", allowed="kubernetes",
                                hint="Pulumi creates that Secret from `pulumi config set --secret`"))
    if backend == "azure-key-vault":
        problems += _key_vault_problems(spec, name)
    if backend == "external-secrets":
        problems += _external_problems(spec, name)
    return problems


def _key_vault_problems(spec: DeploymentSpec, name: str) -> list[Problem]:
    ref, path = spec.secrets[name], f"secrets.{name}"
    problems = []
    if spec.targets.aks is None and has_kubernetes(spec):
        problems.append(Problem(f"{path}.backend", "azure-key-vault needs targets.aks: the identity federates "
                                "with the cluster's OIDC issuer and the CSI driver is the AKS add-on",
                                allowed="kubernetes or external-secrets on other clusters"))
    if ref.vault is None:
        problems.append(Problem(f"{path}.vault", "the azure-key-vault backend needs a vault",
                                allowed=_declared(spec.secret_stores.azure_key_vaults, "secret_stores.azure_key_vaults"),
                                hint="declare it under secret_stores.azure_key_vaults"))
    elif ref.vault not in spec.secret_stores.azure_key_vaults:
        problems.append(Problem(f"{path}.vault", "names a vault that secret_stores.azure_key_vaults does not declare",
                                allowed=_declared(spec.secret_stores.azure_key_vaults, "secret_stores.azure_key_vaults")))
    if not KEY_VAULT_SECRET_NAME.match(remote_key(spec, name)):
        problems.append(Problem(f"{path}.key", "is not a Key Vault secret name",
                                allowed="1-127 letters, digits and - (Key Vault names have no / . or _)"))
    return problems


def _external_problems(spec: DeploymentSpec, name: str) -> list[Problem]:
    ref, path = spec.secrets[name], f"secrets.{name}"
    stores = spec.secret_stores.external_secrets
    if ref.store is None or ref.store not in stores:
        return [Problem(f"{path}.store", "the external-secrets backend needs a store that "
                        "secret_stores.external_secrets declares", allowed=_declared(stores, "secret_stores.external_secrets"))]
    provider = stores[ref.store].provider
    if provider is None:
        return []
    pattern, allowed = REMOTE_KEY_FORMS[provider.kind]
    if not pattern.match(remote_key(spec, name)):
        return [Problem(f"{path}.key", f"is not a {provider.kind} key", allowed=allowed)]
    return []


def _consumer_problems(spec: DeploymentSpec, uses: list[SecretUse]) -> list[Problem]:
    """One secret volume per pod: Key Vault (one vault) or Kubernetes Secrets, not both."""
    sources: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
    for use in uses:
        if use.secret in spec.secrets:
            backend = backend_of(spec, use.secret)
            sources[use.consumer].add((backend, spec.secrets[use.secret].vault) if backend == "azure-key-vault"
                                      else ("Kubernetes Secrets", None) if backend in SECRET_OBJECT_BACKENDS
                                      else (backend, None))
    return [Problem("secrets", f"{CONSUMER_NAMES[consumer]} mounts secrets from {len(found)} sources: "
                    + ", ".join(sorted({kind if kind != "azure-key-vault" else "Key Vault" for kind, _ in found})),
                    allowed="one source per consumer: one Key Vault, or Kubernetes Secrets (kubernetes and "
                            "external-secrets backends)",
                    hint="its secrets share one /run/secrets volume; give them the same source")
            for consumer, found in sorted(sources.items()) if len(found) > 1]


def _store_problems(spec: DeploymentSpec) -> list[Problem]:
    problems = []
    used_vaults = {r.vault for n, r in spec.secrets.items() if backend_of(spec, n) == "azure-key-vault"}
    for name, vault in sorted(spec.secret_stores.azure_key_vaults.items()):
        path = f"secret_stores.azure_key_vaults.{name}"
        if name not in used_vaults:
            problems.append(Problem(path, "no azure-key-vault secret uses this vault",
                                    hint="remove it, or set `vault:` on the secrets kept there"))
        if not vault.create and vault.resource_group is None:
            problems.append(Problem(f"{path}.resource_group", "an existing vault needs its resource group",
                                    allowed="the vault's resource group name"))
        if not vault.create and (vault.secrets_expire_on or vault.allowed_ip_ranges):
            problems.append(Problem(path, "expiry and firewall ranges apply to a vault Pulumi creates",
                                    allowed="create: true, or leave secrets_expire_on and allowed_ip_ranges unset",
                                    hint="the existing vault's owner sets its network rules and expiries"))
        if vault.create and vault.secrets_expire_on is None:
            problems.append(Problem(f"{path}.secrets_expire_on", "a vault Pulumi creates writes secrets, and "
                                    "every secret carries an expiry", allowed="a date such as 2027-06-30"))
        problems += _vault_value_problems(path, vault)
    used_stores = {r.store for n, r in spec.secrets.items() if backend_of(spec, n) == "external-secrets"}
    for name, store in sorted(spec.secret_stores.external_secrets.items()):
        path = f"secret_stores.external_secrets.{name}"
        if name not in used_stores:
            problems.append(Problem(path, "no external-secrets secret uses this store",
                                    hint="remove it, or set `store:` on the secrets it serves"))
        if store.create and store.provider is None:
            problems.append(Problem(f"{path}.provider", "a store slm-deploy creates needs its provider",
                                    allowed="kind: hashicorp-vault, aws-secrets-manager or google-secret-manager"))
        if not store.create and store.provider is not None:
            problems.append(Problem(f"{path}.provider", "is only used when create is true",
                                    allowed="unset for a store the platform already runs"))
    return problems


MAX_EXPIRY_DAYS = 5 * 366
"""Secrets written for longer than this are never reviewed; rotation is the point of the expiry."""
NARROWEST_WIDE_PREFIX = {4: 8, 6: 16}
"""Firewall ranges shorter than these prefixes admit a large part of the internet (0.0.0.0/0 all of it)."""


def _vault_value_problems(path: str, vault) -> list[Problem]:
    """Values a created vault cannot use: an expiry already past or beyond review, a range that admits everyone."""
    problems = []
    today = datetime.date.today()
    expiry = vault.secrets_expire_on
    if expiry is not None and not today < expiry <= today + datetime.timedelta(days=MAX_EXPIRY_DAYS):
        problems.append(Problem(f"{path}.secrets_expire_on", "an expired secret cannot be read, and an expiry years "
                                "away is never reviewed", allowed="a date after today and within five years"))
    for index, cidr in enumerate(vault.allowed_ip_ranges):
        network = ipaddress.ip_network(cidr)
        if network.prefixlen < NARROWEST_WIDE_PREFIX[network.version]:
            problems.append(Problem(f"{path}.allowed_ip_ranges[{index}]", "admits a large part of the internet",
                                    allowed="your own networks: IPv4 /8 or narrower, IPv6 /16 or narrower",
                                    hint="leave allowed_ip_ranges empty to turn public network access off"))
    return problems


def secret_problems(spec: DeploymentSpec) -> list[Problem]:
    """Every problem of the secrets section, in a stable order."""
    uses = secret_uses(spec)
    problems = _reference_problems(spec, uses)
    for name in sorted(spec.secrets):
        problems += _backend_problems(spec, name)
    return problems + _consumer_problems(spec, uses) + _store_problems(spec)

