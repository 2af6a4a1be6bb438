"""Rules that relate several spec fields; pydantic checks each field, these check them together."""

from __future__ import annotations

import ipaddress

from slm_deploy.errors import Problem
from slm_deploy.spec.hosts import PRIVATE_SUFFIXES, documentation_host, private_name
from slm_deploy.spec.host_paths import DATA_ROOTS_TEXT, has_parent_step, mountable
from slm_deploy.spec.env_classes import NO_GPU
from slm_deploy.spec.launch_env import SECRET_REASON, allowed_text, no_effect
from slm_deploy.spec.launch_env import refusal as env_refusal
from slm_deploy.servers.gateway.render import GATEWAY_METRICS_PORT
from slm_deploy.spec.catalogue import catalogue
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.env_values import value_refusal
from slm_deploy.spec.extra_args import EXTRA_ARGS, extra_args_problems
from slm_deploy.spec.idle_fields import idle_field_problems
from slm_deploy.spec.images import pins_table
from slm_deploy.spec.mlx_models import mlx_target_problems
from slm_deploy.spec.modelfile_parameters import parameter_problems, system_prompt_problems
from slm_deploy.spec.present import present
from slm_deploy.spec.runtime_options import KEEP_ALIVE_LIMITS, keep_alive_fits
from slm_deploy.spec.ollama_engine import engine_parameter_problems
from slm_deploy.spec.monitoring_checks import monitoring_mode, monitoring_problems
from slm_deploy.spec.secret_checks import secret_problems
from slm_deploy.spec.secret_uses import in_monitoring_namespace, secret_uses
from slm_deploy.spec.cluster_namespaces import APP_ROUTING_NAMESPACE, DEFAULT_INGRESS_NAMESPACE, taken_by
from slm_deploy.spec.sections import APP_ROUTING_CLASS, KubernetesTarget
from slm_deploy.spec.secrets import SecretRef

CONTAINER_TARGETS = ("docker", "compose", "kubernetes", "aks")
DEFAULT_SECRET_NAMES = {
    "serving.auth.api_keys_secret": "api-keys",
    "runtime.open_webui.secret_key_secret": "webui-secret-key",
    "runtime.open_webui.api_key_secret": "webui-api-key",
    "monitoring.grafana.admin_password_secret": "grafana-admin-password",
}
"""Secrets a spec may leave undeclared while it uses them under these default names."""

PUBLIC_ACME_ISSUER = "letsencrypt"
"""The default ClusterIssuer, which slm-deploy renders as ACME against Let's Encrypt (on AKS under any name): it
validates public names only."""


def kubernetes_target(spec: DeploymentSpec) -> KubernetesTarget | None:
    """The Kubernetes target, implied by an AKS target when only that is given."""
    if spec.targets.kubernetes is not None:
        return spec.targets.kubernetes
    return KubernetesTarget() if spec.targets.aks is not None else None


def ingress_namespace(spec: DeploymentSpec) -> str:
    """The ingress controller's namespace: the spec's, else the one its ingress class's controller runs in."""
    target = kubernetes_target(spec)
    if target is not None and target.ingress_namespace:
        return target.ingress_namespace
    return APP_ROUTING_NAMESPACE if spec.exposure.ingress_class == APP_ROUTING_CLASS else DEFAULT_INGRESS_NAMESPACE
def cluster_target(spec: DeploymentSpec) -> KubernetesTarget:
    """The Kubernetes target (or the one an AKS target implies) that cluster objects are rendered for."""
    return present(kubernetes_target(spec), "targets.kubernetes")


def namespace_of(spec: DeploymentSpec) -> str:
    """The namespace every Kubernetes object of the deployment lives in."""
    target = kubernetes_target(spec)
    return (target.namespace if target and target.namespace else spec.name)


def own_add_on_namespaces(spec: DeploymentSpec) -> dict[str, str]:
    """Namespace -> what runs there, for the namespaces the spec itself names for add-ons its bundle installs
    (the monitoring stack) or relies on (the Prometheus that scrapes, the ingress controller)."""
    target, mode = kubernetes_target(spec), monitoring_mode(spec)
    found = {}
    if target is not None and spec.exposure.mode == "ingress":
        found[ingress_namespace(spec)] = "the ingress controller"
    if target is not None and spec.monitoring.enabled and mode in ("bundled", "existing"):
        found[target.monitoring_namespace] = ("the bundled monitoring stack" if mode == "bundled"
                                              else "the Prometheus that scrapes the deployment")
    return found


def _namespace_problems(spec: DeploymentSpec) -> list[Problem]:
    """The deployment's namespace is its own (its deny-all policy and quota would cut off and starve anything else
    there); a bundled monitoring stack gets a namespace no one else runs in."""
    target = kubernetes_target(spec)
    if target is None:
        return []
    problems = []
    owner = taken_by(namespace_of(spec)) or own_add_on_namespaces(spec).get(namespace_of(spec))
    if owner:
        field, what = ("targets.kubernetes.namespace", "is") if target.namespace else (
            "name", "is also the namespace (targets.kubernetes.namespace is unset), and that is")
        problems.append(Problem(field, f"{what} a namespace {owner} uses; the deployment's deny-all NetworkPolicy and "
                                "quota would cut off and starve its pods",
                                allowed="a dedicated namespace no cluster add-on runs in",
                                hint="set targets.kubernetes.namespace to a namespace of the deployment's own"))
    monitoring = target.monitoring_namespace
    if spec.monitoring.enabled and monitoring_mode(spec) == "bundled" and taken_by(monitoring):
        problems.append(Problem("targets.kubernetes.monitoring_namespace",
                                f"is a namespace {taken_by(monitoring)} uses, which the bundled monitoring stack "
                                "would relabel and share", allowed="a namespace of the monitoring stack's own",
                                hint="leave it unset for the default, monitoring"))
    return problems


def secret_namespace(spec: DeploymentSpec, name: str) -> str:
    """The namespace of a kubernetes-backend secret's Secret: where the pods that mount it run."""
    target = kubernetes_target(spec)
    if target is not None and in_monitoring_namespace(spec, name):
        return target.monitoring_namespace
    return namespace_of(spec)


def secret_references(spec: DeploymentSpec) -> dict[str, str]:
    """Field path -> secret name for every secret the spec uses."""
    return {use.path: use.secret for use in secret_uses(spec)}


def with_default_secrets(spec: DeploymentSpec) -> DeploymentSpec:
    """Declare, with the default backend, the secrets the spec uses under their default names."""
    missing = {name: SecretRef() for path, name in secret_references(spec).items()
               if name not in spec.secrets and DEFAULT_SECRET_NAMES.get(path) == name}
    return spec.model_copy(update={"secrets": {**spec.secrets, **missing}}) if missing else spec


def _why_no_gpu(spec: DeploymentSpec) -> str | None:
    """Why the model server uses no GPU, or None when it does. llama.cpp with --n-gpu-layers 0 still does: the
    CUDA build offloads large batches of host-tensor operations to the GPU (op offload is on by default)."""
    if spec.resources.gpu is None:
        return NO_GPU
    modelfile = getattr(spec.runtime, "modelfile", None)
    if spec.runtime.kind == "ollama" and modelfile is not None and modelfile.parameters.get("num_gpu") == 0:
        return "runtime.modelfile.parameters.num_gpu is 0, so Ollama offloads no layer and loads the model on CPUs"
    return None


def _env_problems(spec: DeploymentSpec) -> list[Problem]:
    """Extra environment may tune the runtime with what it reads, never re-route, re-flag or weaken it (one table
    with the rules); the error names a variable only when a runtime's record lists it (slm_deploy.spec.redact),
    never one the user invented, which may be a token, and lists the names the runtime accepts."""
    kind, no_gpu, problems = spec.runtime.kind, _why_no_gpu(spec), []
    for name, value in spec.runtime.env.items():
        reason = env_refusal(kind, name, no_gpu=no_gpu)
        if reason:
            hint = ("declare it under `secrets` and mount it as a file" if reason == SECRET_REASON
                    else "remove it" if reason == no_effect(kind, name, no_gpu=no_gpu)
                    else "use the typed runtime options" + (" or runtime.extra_args" if kind in EXTRA_ARGS else ""))
            problems.append(Problem(f"runtime.env.{name}", reason, allowed=allowed_text(kind, no_gpu=no_gpu),
                                    hint=hint))
        elif (allowed := value_refusal(kind, name, value)) is not None:
            problems.append(Problem(f"runtime.env.{name}", f"has a value {kind} cannot parse, or would misread, for "
                                    "this variable (it would stop at start, quietly read another value or use it as "
                                    "no one meant)", allowed=allowed))
    return problems


def _served_repository(spec: DeploymentSpec) -> str | None:
    """The Hugging Face repository vLLM is told to serve: the source's, or the catalogue entry's."""
    if spec.model.source is not None:
        return getattr(spec.model.source, "repo", None)
    entry = catalogue().get(spec.model.id or "")
    return entry.hf_repo if entry else None


def _model_path_problems(spec: DeploymentSpec) -> list[Problem]:
    """An ONNX folder stays inside the repository, or is a local folder inside a data root (slm-compose-012)."""
    source = spec.model.source
    if source is None or source.kind != "onnx":
        return []
    if source.repo is not None:
        if has_parent_step(source.path) or source.path.startswith("/"):
            return [Problem("model.source.path", "must name a folder inside the repository",
                            allowed="a relative path without '..' steps, such as cpu_and_mobile/cpu-int4-rtn-block-32")]
        return []
    if not mountable(source.path):
        return [Problem("model.source.path", "is a local folder the container must not mount",
                        allowed=f"an absolute path strictly inside a data root ({DATA_ROOTS_TEXT}) without '..', "
                                "hidden (.ssh, .config...) or socket steps, names of at most 255 bytes, such as "
                                "/srv/models/phi4-onnx",
                        hint="move or bind-mount the model folder under /srv/models")]
    return []


def _runtime_problems(spec: DeploymentSpec) -> list[Problem]:
    runtime, gpu, targets = spec.runtime, spec.resources.gpu, spec.targets
    problems = []
    if runtime.kind == "vllm" and gpu is None:
        problems.append(Problem("resources.gpu", "vLLM's image needs an NVIDIA GPU",
                                allowed="resources.gpu: {count: 1, type: ...}",
                                hint="for CPU serving choose runtime llamacpp, ollama or onnxruntime"))
    if runtime.kind == "vllm" and runtime.trust_remote_code:
        if _served_repository(spec) not in spec.security.trust_remote_code_allowlist:
            problems.append(Problem("runtime.trust_remote_code", "runs code from the model repository",
                                    allowed="only for models listed in security.trust_remote_code_allowlist",
                                    hint="review the repository's code at the pinned revision, then add the "
                                         "model's Hugging Face repository (owner/name) to the allow-list"))
    if runtime.kind == "llamacpp" and runtime.n_gpu_layers not in (None, 0) and gpu is None:
        problems.append(Problem("runtime.n_gpu_layers", "offloads layers to a GPU, but resources.gpu is not set",
                                allowed="0 or unset without resources.gpu"))
    if runtime.kind in ("vllm", "llamacpp"):
        problems += extra_args_problems(runtime.kind, runtime.extra_args)
    if runtime.kind == "ollama" and runtime.modelfile is not None:
        refused = parameter_problems(runtime.modelfile.parameters)
        problems += refused + [problem for problem in engine_parameter_problems(spec)
                               if problem.path not in {other.path for other in refused}]
        problems += system_prompt_problems(runtime.modelfile.system_prompt)
    if runtime.kind == "ollama" and not keep_alive_fits(runtime.keep_alive):
        problems.append(Problem("runtime.keep_alive", "is longer than Ollama can hold (Go's time.Duration, int64 "
                                "nanoseconds, about 292 years); Ollama would quietly use 5 minutes or a wrapped value",
                                allowed=f"-1 (forever), or at most {KEEP_ALIVE_LIMITS['h']}h, "
                                        f"{KEEP_ALIVE_LIMITS['m']}m or {KEEP_ALIVE_LIMITS['s']} seconds"))
    if runtime.kind == "onnxruntime" and (runtime.execution_provider == "cuda") != (gpu is not None):
        problems.append(Problem("runtime.execution_provider",
                                "the cuda provider needs resources.gpu, and a GPU needs the cuda provider",
                                allowed="cpu without resources.gpu; cuda with it"))
    if runtime.kind == "foundry-local":
        if runtime.image is None:
            for target in CONTAINER_TARGETS:
                if getattr(targets, target) is not None:
                    problems.append(Problem(
                        f"targets.{target}",
                        "Foundry Local has no official container image, so it cannot run as a container",
                        allowed="targets.host", hint="remove this target, or set runtime.image to an image you built"))
        if targets.host is None and runtime.image is None:
            problems.append(Problem("targets.host", "Foundry Local installs on a host; add targets.host",
                                    allowed="targets.host: {os: windows|linux|macos}"))
    elif runtime.kind == "mlx":
        problems += mlx_target_problems(spec)
    elif targets.host is not None:
        problems.append(Problem("targets.host", f"{runtime.kind} runs in containers; the host target is for Foundry "
                                "Local and MLX", allowed="docker, compose, kubernetes, aks"))
    return problems


def _exposure_problems(spec: DeploymentSpec) -> list[Problem]:
    problems = []
    if spec.serving.auth.enabled and spec.exposure.port == GATEWAY_METRICS_PORT:
        problems.append(Problem("exposure.port", f"is the gateway's own metrics port ({GATEWAY_METRICS_PORT})",
                                allowed="any other port from 1024 to 65535"))
    if spec.exposure.mode == "ingress" and kubernetes_target(spec) is None:
        problems.append(Problem("exposure.mode", "ingress needs a Kubernetes target (the Ingress is a Kubernetes "
                                "object)", allowed="none or internal without targets.kubernetes or targets.aks"))
    loopback = ipaddress.ip_address(spec.exposure.bind_address).is_loopback
    if not loopback and spec.exposure.mode == "none":
        problems.append(Problem("exposure.bind_address", "publishes beyond loopback, but exposure.mode is none",
                                allowed="127.0.0.1 or ::1, or exposure.mode internal to serve other machines"))
    webui = getattr(spec.runtime, "open_webui", None)
    if not loopback and webui is not None and webui.enabled:
        problems.append(Problem("exposure.bind_address", "would publish Open WebUI beyond loopback; only the "
                                "API-key gateway may be reachable from other machines",
                                allowed="127.0.0.1 or ::1 while runtime.open_webui is enabled",
                                hint="reach the UI through an SSH tunnel or a reverse proxy with its own login"))
    if not loopback and not spec.serving.auth.enabled:
        problems.append(Problem("exposure.bind_address", "would publish the runtime beyond loopback without "
                                "the API-key gateway", allowed="127.0.0.1 or ::1 while serving.auth is off"))
    if spec.exposure.mode == "ingress" and spec.exposure.host is None:
        problems.append(Problem("exposure.host", "required when exposure.mode is ingress",
                                allowed="a DNS name whose DNS you control, such as llm.<your domain>"))
    if spec.exposure.mode == "ingress" and spec.exposure.host is not None \
            and (spec.exposure.tls.issuer == PUBLIC_ACME_ISSUER or spec.targets.aks is not None) \
            and (private_name(spec.exposure.host) or documentation_host(spec.exposure.host)):
        problems.append(Problem("exposure.host", "is a name no public certificate is issued for, and the issuer is "
                                f"ACME against Let's Encrypt (exposure.tls.issuer {PUBLIC_ACME_ISSUER}, or any "
                                "issuer on AKS, where slm-deploy creates it)",
                                allowed="a public DNS name of two or more labels whose DNS you control, not "
                                        "localhost or under " + ", ".join(f".{name}" for name in PRIVATE_SUFFIXES)
                                        + ", example.com, example.net or example.org",
                                hint="for a private name on Kubernetes, set exposure.tls.issuer to a ClusterIssuer "
                                     "of your own certificate authority"))
    if spec.exposure.mode != "none" and not spec.serving.auth.enabled:
        problems.append(Problem("serving.auth.enabled", "an exposed endpoint must require API keys",
                                allowed="true when exposure.mode is internal or ingress"))
    return problems


def _scaling_problems(spec: DeploymentSpec) -> list[Problem]:
    scaling = spec.serving.autoscaling
    problems = []
    if scaling.min_replicas > scaling.max_replicas:
        problems.append(Problem("serving.autoscaling.min_replicas", "is above max_replicas",
                                allowed=f"0 to {scaling.max_replicas}"))
    if scaling.min_replicas == 0 and not scaling.scale_to_zero:
        problems.append(Problem("serving.autoscaling.min_replicas", "0 replicas needs scale_to_zero: true",
                                allowed="1 or more, or set scale_to_zero"))
    return problems


def _target_problems(spec: DeploymentSpec) -> list[Problem]:
    problems = []
    if not any(getattr(spec.targets, name) is not None for name in type(spec.targets).model_fields):
        problems.append(Problem("targets", "turns no target on, so there would be nothing to render",
                                allowed="one or more of docker, compose, kubernetes, aks, host (a bare key such as "
                                        "`compose:` turns a target on with its defaults)",
                                hint="leave targets out for the default docker and compose"))
    aks = spec.targets.aks
    if aks is not None and not aks.private_cluster and not aks.authorized_ip_ranges:
        problems.append(Problem("targets.aks.authorized_ip_ranges", "a public API server needs authorised ranges "
                                "(without them it accepts connections from any address)",
                                allowed="CIDRs of the networks operators and CI run from",
                                hint="or set targets.aks.private_cluster: true"))
    known = sorted(pins_table())
    for key in spec.security.base_images:
        if key not in known:
            problems.append(Problem(f"security.base_images.{key}", "is not a row of the pins table",
                                    allowed=", ".join(known)))
    return problems


def _waiver_problems(spec: DeploymentSpec) -> list[Problem]:
    if not spec.waivers:
        return []
    from slm_deploy.policies.registry import all_rules  # the pack loads only for specs that waive a rule

    known = {rule.id for rule in all_rules()}
    return [Problem(f"waivers[{index}].rule", "is not a rule of the policy pack",
                    allowed="a rule id from docs/policy-catalogue.md, such as slm-k8s-012")
            for index, waiver in enumerate(spec.waivers) if waiver.rule not in known]


def consistency_problems(spec: DeploymentSpec) -> list[Problem]:
    """Every cross-field problem, in a stable order."""
    return (secret_problems(spec) + _env_problems(spec) + _model_path_problems(spec) + _runtime_problems(spec)
            + _exposure_problems(spec) + _scaling_problems(spec) + _target_problems(spec) + _namespace_problems(spec)
            + _waiver_problems(spec) + monitoring_problems(spec) + idle_field_problems(spec))

