"""Rules that relate several spec fields; pydantic checks each field, these check them together."""

from __future__ import annotations

from slm_deploy.errors import Problem
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.fields import SECRET_NAME_PARTS
from slm_deploy.spec.images import pins_table
from slm_deploy.spec.monitoring_checks import monitoring_problems, monitoring_secrets
from slm_deploy.spec.sections import KubernetesTarget

RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
CONTAINER_TARGETS = ("docker", "compose", "kubernetes", "aks")


def kubernetes_target(spec: DeploymentSpec) -> KubernetesTarget | None:
    """The Kubernetes target, implied by an AKS target when only that is given."""
    if spec.targets.kubernetes is not None:
        return spec.targets.kubernetes
    return KubernetesTarget() if spec.targets.aks is not None else None


def namespace_of(spec: DeploymentSpec) -> str:
    """The namespace every Kubernetes object of the deployment lives in."""
    target = kubernetes_target(spec)
    return (target.namespace if target and target.namespace else spec.name)


def secret_references(spec: DeploymentSpec) -> dict[str, str]:
    """Field path -> secret name for every secret the spec uses."""
    refs = {}
    if spec.serving.auth.enabled:
        refs["serving.auth.api_keys_secret"] = spec.serving.auth.api_keys_secret
    if spec.model.hub_token_secret:
        refs["model.hub_token_secret"] = spec.model.hub_token_secret
    webui = getattr(spec.runtime, "open_webui", None)
    if webui is not None and webui.enabled:
        refs["runtime.open_webui.secret_key_secret"] = webui.secret_key_secret
        if spec.serving.auth.enabled:
            refs["runtime.open_webui.api_key_secret"] = webui.api_key_secret
    refs.update(monitoring_secrets(spec))
    return refs


def _secret_problems(spec: DeploymentSpec) -> list[Problem]:
    declared = sorted(spec.secrets)
    problems = []
    for path, name in secret_references(spec).items():
        if name not in spec.secrets:
            problems.append(Problem(path, f"names secret {name!r}, which `secrets` does not declare",
                                    allowed=", ".join(declared) or "(none declared)",
                                    hint=f"add `secrets: {{{name}: {{backend: kubernetes}}}}`"))
    for name, ref in spec.secrets.items():
        if ref.backend == "azure-key-vault" and not ref.vault:
            problems.append(Problem(f"secrets.{name}.vault", "the azure-key-vault backend needs a vault name",
                                    allowed="3-24 letters, digits and hyphens"))
        if ref.backend == "external-secrets" and not ref.store:
            problems.append(Problem(f"secrets.{name}.store", "the external-secrets backend needs a SecretStore",
                                    allowed="a DNS-1123 label"))
    return problems


def _env_problems(spec: DeploymentSpec) -> list[Problem]:
    return [
        Problem(f"runtime.env.{name}", "looks like a secret; secrets are never passed as environment values",
                allowed="non-secret settings", hint="declare it under `secrets` and mount it as a file")
        for name in spec.runtime.env
        if SECRET_NAME_PARTS.search(name)
    ]


def _runtime_problems(spec: DeploymentSpec) -> list[Problem]:
    runtime, gpu, targets = spec.runtime, spec.resources.gpu, spec.targets
    problems = []
    if runtime.kind == "vllm" and gpu is None:
        problems.append(Problem("resources.gpu", "vLLM's image needs an NVIDIA GPU",
                                allowed="resources.gpu: {count: 1, type: ...}",
                                hint="for CPU serving choose runtime llamacpp, ollama or onnxruntime"))
    if runtime.kind == "vllm" and runtime.trust_remote_code:
        repo = getattr(spec.model.source, "repo", None) or spec.model.id
        if repo not in spec.security.trust_remote_code_allowlist:
            problems.append(Problem("runtime.trust_remote_code", "runs code from the model repository",
                                    allowed="only for models listed in security.trust_remote_code_allowlist",
                                    hint=f"review the repository's code, then add {repo!r} to the allow-list"))
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
    elif targets.host is not None:
        problems.append(Problem("targets.host", f"{runtime.kind} runs in containers; the host target is for Foundry Local",
                                allowed="docker, compose, kubernetes, aks"))
    return problems


def _exposure_problems(spec: DeploymentSpec) -> list[Problem]:
    problems = []
    if spec.exposure.mode == "ingress" and spec.exposure.host is None:
        problems.append(Problem("exposure.host", "required when exposure.mode is ingress",
                                allowed="a DNS name such as llm.example.com"))
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
    target = kubernetes_target(spec)
    if target and namespace_of(spec) in RESERVED_NAMESPACES:
        problems.append(Problem("targets.kubernetes.namespace", f"{namespace_of(spec)!r} is shared by the cluster",
                                allowed="a dedicated namespace", hint="leave it unset to use the deployment name"))
    known = sorted(pins_table())
    for key in spec.security.base_images:
        if key not in known:
            problems.append(Problem(f"security.base_images.{key}", "is not a row of the pins table",
                                    allowed=", ".join(known)))
    return problems


def consistency_problems(spec: DeploymentSpec) -> list[Problem]:
    """Every cross-field problem, in a stable order."""
    return (_secret_problems(spec) + _env_problems(spec) + _runtime_problems(spec)
            + _exposure_problems(spec) + _scaling_problems(spec) + _target_problems(spec) + monitoring_problems(spec))
