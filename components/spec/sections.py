"""The spec sections around the model and runtime: resources, serving, exposure, targets and more."""

from __future__ import annotations

import ipaddress
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from slm_deploy.spec.base import SpecModel
from slm_deploy.spec.fields import (
    ByteQuantity, Cidr, DnsLabel, DnsName, IpAddress, LabelKey, LabelValue, PinsRow, PushRegistry, RegistryHost, SafeText,
    SecretName, SpecificAddress,
)
from slm_deploy.spec.hosts import ends_in_a_number
from slm_deploy.spec.images import PinnedImage



class GpuType(str, Enum):
    """GPUs the sizing knows the memory of."""

    T4 = "nvidia-t4"
    L4 = "nvidia-l4"
    A10 = "nvidia-a10"
    A100_40 = "nvidia-a100-40gb"
    A100_80 = "nvidia-a100-80gb"
    H100 = "nvidia-h100"


def _whole_millicores(value: float) -> float:
    """Kubernetes and Compose round CPU to millicores; a finer value would render something else."""
    if abs(value * 1000 - round(value * 1000)) > 1e-6:
        raise ValueError("has more than three decimals; allowed: a number of CPUs in steps of 0.001, such as 0.5 or 2")
    return value


class Gpu(SpecModel):
    """NVIDIA GPUs per replica, scheduled through the device plugin."""

    count: int = Field(default=1, ge=1, le=8)
    type: GpuType = GpuType.A10
    """The GPU model, whose memory sizes the deployment. Kubernetes pods select nodes whose GPUs have that memory and
    AKS picks the GPU pool's VM size from it; Compose takes any NVIDIA GPU, so the bundle README names the one the
    host needs."""


class Resources(SpecModel):
    """Per-replica compute; unset memory is filled in by the sizing."""

    cpu: Annotated[float, Field(ge=0.1, le=256), AfterValidator(_whole_millicores)] = 2.0
    """CPUs per replica, from 0.1 in steps of 0.001 (Kubernetes counts millicores)."""
    memory: ByteQuantity | None = None
    """Memory limit (and request); defaults to the sizing estimate with headroom."""
    gpu: Gpu | None = None
    shm_size: ByteQuantity | None = None
    """Shared memory (/dev/shm); vLLM defaults to 2Gi, others to 64Mi."""


class Auth(SpecModel):
    """API-key authentication, enforced by the gateway in front of every runtime."""

    enabled: bool = True
    api_keys_secret: SecretName = "api-keys"
    """Secret (declared under `secrets`) holding the key file."""
    rate_per_second: float = Field(default=10.0, gt=0, le=100_000)
    burst: int = Field(default=20, ge=1, le=100_000)
    max_concurrency_per_key: int = Field(default=16, ge=1, le=10_000)


class Autoscaling(SpecModel):
    """Scale replicas on the runtime's queue signal."""

    enabled: bool = False
    min_replicas: int = Field(default=1, ge=0, le=100)
    max_replicas: int = Field(default=3, ge=1, le=100)
    target_queue_depth: int = Field(default=4, ge=1, le=10_000)
    scale_to_zero: bool = False


class Serving(SpecModel):
    """How the model is served: port, replicas, concurrency and auth."""

    port: int | None = Field(default=None, ge=1024, le=65535)
    """Runtime port; defaults per runtime (vLLM 8000, Ollama 11434, ONNX 8001, llama.cpp 8080, MLX 8081); Foundry Local
    uses runtime.port instead."""
    replicas: int = Field(default=1, ge=1, le=100)
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    """Concurrent sequences; defaults to as many full-context sequences as the GPU holds (up to 16), 4 on CPU."""
    auth: Auth = Field(default_factory=Auth.model_construct)
    autoscaling: Autoscaling = Field(default_factory=Autoscaling.model_construct)
    startup_budget_seconds: int | None = Field(default=None, ge=60, le=86_400)
    """Override the startup-probe budget (default 15 min + 18 s per GiB of weights)."""


def _not_an_address(value: str) -> str:
    """Kubernetes refuses an IP address as an Ingress rule's host, and a certificate is issued for names; a name
    whose last label is a number (dev.10.0.0.1, 0xc0000205) is no public name (RFC 3696, section 2) and reads as
    an address."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not ends_in_a_number(value):
            return value
    raise ValueError("is an IP address or ends in a numeric label; allowed: a DNS name whose DNS you control, such as llm.<your domain>")


class Tls(SpecModel):
    """TLS at the ingress, issued by cert-manager."""

    issuer: DnsLabel = "letsencrypt"
    """cert-manager ClusterIssuer name."""
    secret_name: DnsLabel | None = None


class Exposure(SpecModel):
    """Who can reach the API: nobody outside, the cluster/host network, or the internet via ingress."""

    mode: Literal["none", "internal", "ingress"] = "none"
    host: Annotated[DnsName, AfterValidator(_not_an_address)] | None = None
    """Ingress host name; required when mode is ingress (an Ingress rule's host cannot be an IP address)."""
    tls: Tls = Field(default_factory=Tls.model_construct)
    ingress_class: DnsName = "nginx"
    """IngressClass name, a DNS subdomain (on AKS: webapprouting.kubernetes.azure.com, the managed NGINX)."""
    bind_address: SpecificAddress = "127.0.0.1"
    """Host address Compose publishes the gateway on; 127.0.0.1 (or ::1) unless you expose the service. One
    interface's unicast address: never 0.0.0.0 or ::, link-local (fe80::/10 needs a zone) or multicast."""
    port: int = Field(default=8080, ge=1024, le=65535)
    """The port clients use: the gateway's, which checks API keys before anything reaches the runtime."""


class DockerTarget(SpecModel):
    """The images slm-deploy builds: their build contexts, and where they are pushed. `pulumi up` builds them only
    with this target (into the local engine without a registry); Compose writes the contexts on its own."""

    registry: PushRegistry | None = None
    repository: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+([._/-][a-z0-9]+)*$")] | None = None
    tags: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]] = Field(
        default_factory=list
    )


class ComposeTarget(SpecModel):
    """A Docker Compose project for one host."""

    project_name: DnsLabel | None = None


class KubernetesTarget(SpecModel):
    """Kubernetes workloads in a dedicated namespace."""

    namespace: DnsLabel | None = None
    """Defaults to the deployment name; never default or kube-*, nor a namespace where a cluster add-on runs
    (cert-manager, ingress-nginx, app-routing-system, nvidia-device-plugin, keda, gatekeeper-system,
    external-secrets), nor the monitoring or ingress namespace below while the deployment uses it."""
    shared_namespace: bool = False
    """The namespace belongs to its owner (a SharedNamespace component or the cluster's admins), who creates it with
    Pod Security labels and one ResourceQuota and LimitRange sized for every deployment placed in it; the deployment
    then renders none of the three (quotas and limit ranges apply to the whole namespace)."""
    storage_class: DnsLabel | None = None
    cache_size: ByteQuantity | None = None
    """Model-cache volume size; defaults to twice the weights, at least 5Gi."""
    monitoring_namespace: DnsLabel = "monitoring"
    """Where the Prometheus that scrapes the deployment runs (bundled and existing monitoring); a bundled stack's
    namespace is never default, kube-* or a cluster add-on's."""
    ingress_namespace: DnsLabel | None = None
    """Where the ingress controller runs, admitted to the gateway with exposure.mode ingress; defaults to
    app-routing-system for AKS's application routing class (webapprouting.kubernetes.azure.com), else ingress-nginx."""


APP_ROUTING_CLASS = "webapprouting.kubernetes.azure.com"
"""The IngressClass the AKS application routing add-on creates for its managed NGINX."""


class AksTarget(SpecModel):
    """An AKS cluster with a system pool and an optional GPU pool."""

    location: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+$")] = "westeurope"
    resource_group: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._()-]{1,90}$")] | None = None
    """Name of the resource group Pulumi creates (default rg-<name>), with a 6-hex suffix per stack and component
    (as the cluster's aks-<name>), so one spec deploys into several clusters side by side."""
    kubernetes_version: Annotated[str, StringConstraints(pattern=r"^1\.[0-9]{2}(\.[0-9]+)?$")] = "1.33"
    system_vm_size: Annotated[str, StringConstraints(pattern=r"^Standard_[A-Za-z0-9_]+$")] = "Standard_D4ds_v5"
    gpu_vm_size: Annotated[str, StringConstraints(pattern=r"^Standard_[A-Za-z0-9_]+$")] | None = None
    """Only with resources.gpu; defaults to the smallest size with resources.gpu.count GPUs of its type (e.g.
    nvidia-a100-80gb -> Standard_NC24ads_A100_v4). A known size without them is refused."""
    private_cluster: bool = True
    """The API server is reachable from the cluster's virtual network only."""
    authorized_ip_ranges: list[Cidr] = Field(default_factory=list)
    """Networks allowed to reach a public API server (private_cluster: false needs them; a private one takes none)."""


class HostTarget(SpecModel):
    """A host-level install for runtimes without a container (Foundry Local, MLX on macOS)."""

    os: Literal["windows", "linux", "macos"] = "windows"
    bind_address: IpAddress = "127.0.0.1"
    """Where MLX's API-key gateway listens; for Foundry Local only 127.0.0.1, since no gateway runs in front of it."""
    allowed_clients: list[Cidr] = Field(default_factory=list)
    """Only empty: neither host install filters clients by address (serve other machines through MLX's gateway,
    or from a container target)."""


class Targets(SpecModel):
    """What to generate; each section present turns that target on, a bare key (`compose:`) with its defaults."""

    @model_validator(mode="before")
    @classmethod
    def _bare_key_means_defaults(cls, data: Any) -> Any:
        """`targets: {compose: null}` is how YAML writes a key with nothing under it: the target, defaults."""
        if isinstance(data, dict):
            return {key: {} if value is None else value for key, value in data.items()}
        return data

    docker: DockerTarget | None = None
    compose: ComposeTarget | None = None
    kubernetes: KubernetesTarget | None = None
    aks: AksTarget | None = None
    host: HostTarget | None = None


class Slo(SpecModel):
    """Service-level objectives the alert rules are built from (multi-window, multi-burn-rate)."""

    ttft_p95_seconds: float = Field(default=2.0, gt=0)
    """95% of streamed requests see their first token within this time."""
    latency_p95_seconds: float = Field(default=30.0, gt=0)
    """95% of requests complete within this time."""
    error_ratio: float = Field(default=0.01, gt=0, lt=1)
    """Share of requests answered with a server error (5xx) above which SLMHighErrorRate fires."""
    availability: float = Field(default=0.995, gt=0, lt=1)
    """Share of requests that must not fail with a server error; its error budget drives the burn-rate alerts."""


InClusterUrl = Annotated[str, StringConstraints(pattern=r"^https?://[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$",
                                                max_length=253)]
"""An http(s) URL without credentials, query or fragment (a Prometheus or webhook endpoint)."""
SlackChannel = Annotated[str, StringConstraints(pattern=r"^#?[a-z0-9][a-z0-9._-]{0,79}$")]


class AlertReceiver(SpecModel):
    """Where Alertmanager sends alerts; credentials come from secret files, never from the spec."""

    kind: Literal["webhook", "slack"] = "webhook"
    url: InClusterUrl | None = None
    """Webhook endpoint (kind webhook); no credentials in it, the token comes from `token_secret`."""
    token_secret: SecretName | None = None
    """Secret (declared under `secrets`) holding a bearer token sent to the webhook."""
    url_secret: SecretName | None = None
    """Secret holding the Slack incoming-webhook URL (kind slack), which is itself a credential."""
    channel: SlackChannel | None = None
    """Slack channel (kind slack); the webhook's own channel when unset."""
    send_resolved: bool = True


class Grafana(SpecModel):
    """Grafana with the deployment's dashboards; the admin password comes from a secret file."""

    enabled: bool = False
    admin_password_secret: SecretName = "grafana-admin-password"
    """Secret (declared under `secrets`) holding the admin password."""
    azure_managed: bool = False
    """On AKS with managed Prometheus: an Azure Managed Grafana instance instead of one in the cluster."""


class MonitoringPorts(SpecModel):
    """Host ports Compose publishes the monitoring services on, on 127.0.0.1 only."""

    prometheus: int = Field(default=9090, ge=1024, le=65535)
    alertmanager: int = Field(default=9093, ge=1024, le=65535)
    grafana: int = Field(default=3000, ge=1024, le=65535)
    logs: int = Field(default=12201, ge=1024, le=65535)
    """UDP port the Docker daemon sends container logs (GELF) to; the log collector listens there."""


class Monitoring(SpecModel):
    """Prometheus, Alertmanager and Grafana around the deployment."""

    enabled: bool = True
    mode: Literal["bundled", "existing", "managed"] | None = None
    """Kubernetes: `bundled` runs slm-deploy's own Prometheus, Alertmanager, Grafana and kube-state-metrics
    (kubernetes/monitoring/), `existing` relies on a Prometheus operator already there, `managed` uses Azure
    Managed Prometheus (AKS only). Defaults to managed on AKS, else bundled."""
    scrape_interval_seconds: int = Field(default=15, ge=5, le=300)
    slo: Slo = Field(default_factory=Slo.model_construct)
    selector_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    """Labels put on PodMonitors and PrometheusRules so the operator's selectors pick them up
    (e.g. `release: kube-prometheus-stack` for an existing install)."""
    scraper_labels: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus"})
    """Pod labels of the Prometheus that scrapes, in `targets.kubernetes.monitoring_namespace`; the
    NetworkPolicies admit exactly those pods to the metrics ports."""
    prometheus_url: InClusterUrl | None = None
    """The Prometheus KEDA queries; defaults to the bundled stack's `<name>-prometheus` Service, the operator's
    `prometheus-operated` Service (existing), both in the monitoring namespace, or the Azure Monitor workspace's
    query endpoint (managed)."""
    receiver: AlertReceiver | None = None
    """Where alerts go; without one Alertmanager keeps them (visible in its UI) and sends nothing."""
    grafana: Grafana = Field(default_factory=Grafana.model_construct)
    logs: bool = True
    """Compose: ship every container's logs to Loki (Grafana Alloy receiving the daemon's GELF stream)."""
    ports: MonitoringPorts = Field(default_factory=MonitoringPorts.model_construct)


class Security(SpecModel):
    """Identity and image provenance overrides."""

    uid: int = Field(default=10001, ge=10001, le=2_147_483_647)
    gid: int = Field(default=10001, ge=10001, le=2_147_483_647)
    registry_mirror: RegistryHost | None = None
    """Re-home every pinned image under this registry (air-gapped sites), keeping digests."""
    base_images: dict[PinsRow, PinnedImage] = Field(
        default_factory=dict
    )
    """Replace rows of the pins table (vllm, ollama, python, ...) with your own pinned images."""
    trust_remote_code_allowlist: list[
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$",
                                         max_length=200)]
    ] = Field(default_factory=list)
    """Hugging Face repositories (owner/name) reviewed to run their own code (vLLM trust_remote_code); `check`
    judges the bundle by this list too (policy slm-serving-001)."""


class Waiver(SpecModel):
    """A reviewed exception to one policy rule for one resource."""

    rule: Annotated[str, StringConstraints(pattern=r"^slm-[a-z0-9]+-[0-9]{3}$")]
    """A policy rule id such as slm-k8s-012 (see docs/policy-catalogue.md)."""
    resource: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/:-]+$", max_length=253)]
    """What the rendered bundle holds and the rule judges: Kind/namespace/name (or Kind/name) of an object, a bundle
    path such as compose/compose.yaml, or `bundle` for a bundle-wide rule; a waiver matching nothing is refused."""
    reason: Annotated[SafeText, StringConstraints(min_length=10)]
    """Why the exception is acceptable, for the security review (shown by `slm-deploy check`)."""
