"""KubernetesWorkloads: the rendered Kubernetes objects as typed pulumi-kubernetes resources."""

import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from typing_extensions import Required

from slm_deploy.child_names import claim_child_names
from slm_deploy.component_inputs import ResolvedSpec, checked_args, kubernetes_provider
from slm_deploy.crd_installers import installers_for
from slm_deploy.errors import SlmDeployError
from slm_deploy.image_pinning import pin_built_images
from slm_deploy.image_reference import PINNED_BY_DIGEST
from slm_deploy.model_wait_timeouts import await_timeouts
from slm_deploy.namespace_claims import Claim, owned_by_program, register_claim
from slm_deploy.render.deployable import deployable_plan
from slm_deploy.render.images import build_owners, built_image
from slm_deploy.render.kubernetes.objects import Manifest, render_kubernetes
from slm_deploy.render.kubernetes.autoscaling import MANAGED_QUERY_ENDPOINT
from slm_deploy.secret_values import kubernetes_secrets, read_secret_values, with_key_vault
from slm_deploy.spec.consistency import kubernetes_target, namespace_of
from slm_deploy.spec.secret_uses import backend_of, in_monitoring_namespace

RESOURCE_TYPES: dict[tuple[str, str], Callable[..., pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
}
"""Typed classes, so mocks and CrossGuard see every object with literal security fields."""
CUSTOM_KINDS: frozenset[tuple[str, str]] = frozenset({
    ("keda.sh/v1alpha1", "ScaledObject"), ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("monitoring.coreos.com/v1", "PodMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("azmonitoring.coreos.com/v1", "PodMonitor"),
    ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"),
    ("external-secrets.io/v1", "ExternalSecret"),
    ("external-secrets.io/v1", "SecretStore"),
    ("external-secrets.io/v1", "ClusterSecretStore"),
})
"""CRD objects the renderer emits; registered as apiextensions.CustomResource (KEDA, the Prometheus operator or
AKS's managed agent, the Secrets Store CSI driver or External Secrets Operator must be installed)."""
UNCHECKED_NAMESPACE = (
    "args['namespace'] is not a SharedNamespace of this program: slm-deploy neither labels nor bounds it, so make sure "
    "it enforces Pod Security restricted (pod-security.kubernetes.io/enforce=restricted) and holds one ResourceQuota "
    "and LimitRange sized for every deployment in it")
"""Why a namespace the program does not own is worth a look (its labels cannot be read at program time)."""
SECRET_FIELDS = {("v1", "Secret"): ["data", "stringData"]}
"""Outputs the provider returns that carry secret values, kept secret in state and previews."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def resource_args(manifest: Manifest) -> dict[str, Any]:
    """Top-level fields as snake_case keyword arguments; nested camelCase dicts pass through unchanged."""
    return {_snake(key): value for key, value in manifest.items() if key not in ("apiVersion", "kind")}


def logical_name(manifest: Manifest) -> str:
    """A stable Pulumi name per object: <kind>-<name>."""
    return f"{manifest['kind'].lower()}-{manifest['metadata']['name']}"


def create_objects(parent: pulumi.Resource, prefix: str, manifests: list[Manifest],
                   provider: pulumi.ProviderResource | None,
                   after: list[pulumi.Resource] | None = None) -> list[pulumi.CustomResource]:
    """Namespaces first, then every other object inside them; names scoped by `prefix` so components never
    collide, whatever cluster or namespace they share."""
    base = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=after or [])
    namespaces = [m for m in manifests if m["kind"] == "Namespace"]
    created = [_create(prefix, m, base) for m in namespaces]
    after_namespace = pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=created))
    return created + [_create(prefix, m, _awaited(after_namespace, m, manifests), provider)
                      for m in manifests if m["kind"] != "Namespace"]


def _awaited(opts: pulumi.ResourceOptions, manifest: Manifest, manifests: list[Manifest]) -> pulumi.ResourceOptions:
    """Longer awaits for a preparation Job and the workloads waiting for it than the provider's 10-minute default."""
    timeouts = await_timeouts(manifest, manifests)
    if timeouts is None:
        return opts
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(custom_timeouts=timeouts))


def _create(prefix: str, manifest: Manifest, opts: pulumi.ResourceOptions,
            provider: pulumi.ProviderResource | None = None) -> pulumi.CustomResource:
    key, name = (manifest["apiVersion"], manifest["kind"]), f"{prefix}-{logical_name(manifest)}"
    if key in CUSTOM_KINDS:
        crds = installers_for(provider, manifest["apiVersion"])
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=crds))
        return k8s.apiextensions.CustomResource(name, api_version=manifest["apiVersion"], kind=manifest["kind"],
                                                opts=opts, **resource_args(manifest))
    if key in SECRET_FIELDS:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_FIELDS[key]))
    return RESOURCE_TYPES[key](name, opts=opts, **resource_args(manifest))


class KubernetesWorkloadsArgs(TypedDict, total=False):
    """The spec to run on a cluster, the images it runs, and where."""

    spec: Required[dict[str, Any]]
    """The deployment mapping (the value of slm-deploy:deployment); Python programs may pass a Deployment."""
    images: pulumi.Input[dict[str, str]]
    """ImageBuilds' `images` output; required when the spec builds images, so pods pull them by digest."""
    registry: pulumi.Input[str]
    """The registry the images were pushed to, when ImageBuilds was given one (same value)."""
    namespace: pulumi.Input[str]
    """A namespace the caller owns (a SharedNamespace, or created elsewhere): used, never created, and bounded by
    its owner's ResourceQuota and LimitRange (the deployment renders none)."""
    kubernetes_provider: k8s.Provider
    """The cluster to deploy to (default: the ambient kubeconfig)."""
    secret_values: dict[str, pulumi.Input[str]]
    """Value of each secret Pulumi writes, by config key (secret-<name>); kept secret."""
    key_vault_client_id: pulumi.Input[str]
    """Client id of the workload identity that reads Key Vault secrets (KeyVaultSecrets' client_id)."""
    key_vault_names: pulumi.Input[dict[str, str]]
    """Spec vault name -> Azure name (KeyVaultSecrets' vault_names); required for vaults Pulumi creates."""
    prometheus_query_endpoint: pulumi.Input[str]
    """Azure Monitor workspace query endpoint KEDA's ScaledObjects read (managed monitoring)."""
    keda_client_id: pulumi.Input[str]
    """Client id of the identity KEDA presents to that workspace (managed monitoring)."""


KUBERNETES_WORKLOADS_ARGS = frozenset(KubernetesWorkloadsArgs.__annotations__)


class KubernetesWorkloads(pulumi.ComponentResource):
    """The deployment's Kubernetes objects, rendered exactly as `render` writes them, pulling built images by
    digest; creates the namespace first unless the caller owns it."""

    namespace: pulumi.Output[str]
    gateway_service: pulumi.Output[str]
    """The Service clients call (the gateway's, or the runtime's when there is no gateway)."""
    endpoint_url: pulumi.Output[str]
    """The OpenAI-compatible API: https://<host> with an Ingress, else the in-cluster Service URL."""

    def __init__(self, name: str, args: KubernetesWorkloadsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("slm-deploy:index:KubernetesWorkloads", name, None, opts)
        values = checked_args("KubernetesWorkloads", args, KUBERNETES_WORKLOADS_ARGS)
        provider = kubernetes_provider("KubernetesWorkloads", values)
        resolved = ResolvedSpec(values["spec"], registry=values.get("registry"), namespace=values.get("namespace"))
        deployment = resolved.deployment
        try:
            plan = deployable_plan(deployment)
            if kubernetes_target(deployment.spec) is None or not plan.services:
                raise TypeError("KubernetesWorkloads needs a spec with targets.kubernetes or targets.aks "
                                "and at least one service")
            given = read_secret_values((values.get("secret_values") or {}).get, deployment,
                                       lambda secret: workload_secret(deployment, secret))
        except SlmDeployError as exc:
            raise pulumi.RunError(f"slm-deploy:deployment cannot be deployed:\n{exc}") from None
        manifests = render_kubernetes(deployment, plan)
        register_claim(namespace_claim(f"KubernetesWorkloads {name!r}", deployment, values.get("namespace"), provider))
        if values.get("namespace") is not None and not owned_by_program(values["namespace"]):
            pulumi.log.warn(UNCHECKED_NAMESPACE, resource=self)
        if values.get("key_vault_client_id") is not None:
            manifests = with_key_vault(manifests, deployment, values["key_vault_client_id"],
                                       values.get("key_vault_names"))
        if any(m["kind"] == "TriggerAuthentication" for m in manifests):
            manifests = _bound_to_managed_prometheus(manifests, values)
        namespace = namespace_of(deployment.spec)
        own_secrets = kubernetes_secrets(deployment, given)
        refs = built_refs(deployment, plan, values.get("images"))
        manifests = resolved.bind(pin_built_images(own_secrets + manifests, refs))
        self.resources = create_objects(self, name, manifests, provider)
        gateway = gateway_service(manifests)
        self.namespace = pulumi.Output.from_input(resolved.bind(namespace))
        self.gateway_service = pulumi.Output.from_input(gateway["metadata"]["name"])
        self.endpoint_url = pulumi.Output.from_input(resolved.bind(endpoint_url(deployment, gateway, namespace)))
        claim_child_names(self)
        self.register_outputs({"namespace": self.namespace, "gatewayService": self.gateway_service,
                               "endpointUrl": self.endpoint_url})


def workload_secret(deployment, secret: str) -> bool:
    """Whether the deployment's own pods mount `secret` from a Kubernetes Secret this component writes (Grafana's and
    Alertmanager's are MonitoringStack's, a created Key Vault's are KeyVaultSecrets')."""
    return backend_of(deployment.spec, secret) == "kubernetes" and not in_monitoring_namespace(deployment.spec, secret)


def namespace_claim(component: str, deployment, given: pulumi.Input[str] | None,
                    provider: pulumi.ProviderResource | None) -> Claim:
    """Where the deployment's objects land: a given namespace (a name or an Output), else the spec's own, which it
    creates."""
    if given is None:
        return Claim(component, namespace_of(deployment.spec), None, provider, deployment.spec.name, creates=True)
    if isinstance(given, str):
        return Claim(component, given, None, provider, deployment.spec.name, creates=False)
    return Claim(component, None, given, provider, deployment.spec.name, creates=False)


def _bound_to_managed_prometheus(manifests: list[Manifest], values: dict[str, Any]) -> list[Manifest]:
    """ScaledObjects on Azure's managed Prometheus need the workspace's query endpoint and KEDA's identity, which
    exist only once Azure creates them: refuse to deploy KEDA objects that could never authenticate."""
    endpoint, client_id = values.get("prometheus_query_endpoint"), values.get("keda_client_id")
    unresolved = any(t["metadata"].get("serverAddress") == MANAGED_QUERY_ENDPOINT
                     for m in manifests if m["kind"] == "ScaledObject" for t in m["spec"]["triggers"])
    if client_id is None or (unresolved and endpoint is None):
        raise TypeError("KubernetesWorkloads needs args['prometheus_query_endpoint'] (AksCluster's "
                        "prometheus_query_endpoint, or set monitoring.prometheus_url) and args['keda_client_id'] "
                        "(AksManagedMonitoring's keda_client_id) for a spec that autoscales on Azure's managed "
                        "Prometheus")
    from slm_deploy.aks_monitoring import bind_managed_prometheus  # azure-native is the optional aks extra

    return bind_managed_prometheus(manifests, endpoint, client_id)


def built_refs(deployment, plan, images: pulumi.Input[Mapping[str, str]] | None) -> dict[str, pulumi.Output[str]]:
    """Built image name -> its pushed name@digest from ImageBuilds' output; refuses to run unbuilt images."""
    owners = build_owners(plan)
    if not owners:
        return {}
    if images is None:
        raise TypeError("KubernetesWorkloads needs args['images'] (ImageBuilds' `images` output) for the images "
                        f"this spec builds: {', '.join(o.name for o in owners)}")
    given = pulumi.Output.from_input(images)
    return {built_image(deployment, owner): given.apply(partial(_ref, service=owner.name)) for owner in owners}


def _ref(refs: Mapping[str, str], service: str) -> str:
    """The pushed image of one service, refused unless pinned by digest (never a tag someone can move)."""
    if service not in refs:
        raise TypeError(f"args['images'] has no image for service {service}; pass ImageBuilds' `images` output")
    ref = refs[service]
    tag = ref.partition("@")[0].rsplit("/", 1)[-1].partition(":")[2] if isinstance(ref, str) else ""
    if not isinstance(ref, str) or not PINNED_BY_DIGEST.match(ref) or tag == "latest":
        raise TypeError(f"args['images'] for service {service} is not pinned by digest (allowed: "
                        "name[:tag]@sha256:<64 hex digits>, never the latest tag); pass ImageBuilds' `images` output")
    return ref


def gateway_service(manifests: list[Manifest]) -> Manifest:
    """The Service clients call: the gateway's, or the only serving Service when there is no gateway."""
    services = [m for m in manifests if m["kind"] == "Service"]
    gateways = [m for m in services if m["metadata"].get("labels", {}).get("slm-deploy.io/component") == "gateway"]
    return (gateways or services)[0]


def endpoint_url(deployment, service: Manifest, namespace: str) -> str:
    """https://<host> behind an Ingress, else http://<service>.<namespace>.svc.cluster.local:<port>."""
    exposure = deployment.spec.exposure
    if exposure.mode == "ingress" and exposure.host:
        return f"https://{exposure.host}"
    port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "http")
    return f"http://{service['metadata']['name']}.{namespace}.svc.cluster.local:{port}"
