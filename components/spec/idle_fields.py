"""Fields a spec writes where its runtime and targets read nothing: refused at validate, never silently dropped.

Only fields the spec wrote itself count; a default nothing reads is never an error."""

from __future__ import annotations

import ipaddress

from slm_deploy.errors import Problem
from slm_deploy.spec.deployment import DeploymentSpec
from slm_deploy.spec.model_section import OnnxSource
from slm_deploy.spec.runtime_options import WEIGHT_DTYPES
from slm_deploy.spec.present import host_target

IDLE_HINT = "drop the field, or turn on what reads it; an accepted field must change the output"
HOST_ONLY_FIELDS = (
    ("serving", "auth"), ("serving", "concurrency"), ("serving", "replicas"), ("serving", "autoscaling"),
    ("serving", "startup_budget_seconds"), ("runtime", "env"), ("model", "context_length"),
    ("exposure",), ("resources",), ("security", "uid"), ("security", "gid"),
    ("monitoring",),
)
"""What a Foundry Local host install cannot honour: it runs the pinned `foundry` service as the installing
account, on loopback, with the model's own context and batching, with no gateway, limits or metrics."""
FOUNDRY_IDLE = (
    ("serving.port", "(it listens on runtime.port, the fixed service port)", "runtime.port"),
    ("model.quantisation", "(it picks the weight variant of model.source.alias for the device)",
     "leave it unset; Foundry Local chooses the variant"),
)
"""Fields Foundry Local has its own way of setting, on a host or in a container."""
MLX_IDLE_FIELDS = (
    ("serving", "concurrency"), ("serving", "replicas"), ("serving", "autoscaling"),
    ("serving", "startup_budget_seconds"), ("runtime", "env"), ("runtime", "image"), ("model", "context_length"),
    ("exposure", "mode"), ("exposure", "bind_address"), ("exposure", "host"), ("exposure", "tls"),
    ("exposure", "ingress_class"),
    ("resources",), ("security", "uid"), ("security", "gid"), ("security", "registry_mirror"), ("monitoring",),
)
"""What the MLX host install cannot honour: one mlx_lm.server (no context limit flag, its own batching) run by
the installing account under launchd, the gateway on targets.host.bind_address, no containers and no metrics
scraping."""
CATALOGUE_FACTS = ("parameters_billion", "architecture", "native_context")
"""Facts about the weights that a catalogue entry records for its pinned sources; sizing reads the entry's."""


def written(model, *path: str) -> bool:
    """Whether the spec wrote this field itself (defaults do not count)."""
    for name in path[:-1]:
        if name not in model.model_fields_set:
            return False
        model = getattr(model, name)
    return path[-1] in model.model_fields_set


def host_only(spec: DeploymentSpec) -> bool:
    """Foundry Local installed on a host and nothing in a container (no runtime.image)."""
    return spec.runtime.kind == "foundry-local" and spec.runtime.image is None and spec.targets.host is not None


def _host_idle(spec: DeploymentSpec) -> list[tuple[str, str, str]]:
    """Fields a host-only Foundry Local install has no place for."""
    why = "for Foundry Local on a host (the install runs the `foundry` service on loopback, with no gateway)"
    found = [(".".join(path), why, "leave it unset; set runtime.image to run Foundry Local in a container")
             for path in HOST_ONLY_FIELDS if written(spec, *path)]
    host = host_target(spec)
    if written(host, "bind_address") and str(host.bind_address) != "127.0.0.1":
        found.append(("targets.host.bind_address", "beyond 127.0.0.1 for Foundry Local on a host: it has no "
                      "authentication and no API-key gateway runs in front of it on a host", "127.0.0.1"))
    if host.allowed_clients:
        found.append(("targets.host.allowed_clients", "for Foundry Local on a host: it serves loopback only, "
                      "since no API-key gateway runs in front of it there", "an empty list"))
    if written(spec, "security", "registry_mirror"):
        found.append(("security.registry_mirror", "for Foundry Local on a host (the install pulls no container "
                      "image)", "leave it unset; set runtime.image to run Foundry Local in a container"))
    if spec.model.source is not None:
        found += [(f"model.{field}", "for Foundry Local on a host (it loads the variant of model.source.alias it "
                   "picks for the device, with that model's own context; no limit or sizing applies on a host)",
                   "leave it unset; Foundry Local knows its catalogue's models")
                  for field in CATALOGUE_FACTS if written(spec, "model", field)]
    return found


def _container_idle(spec: DeploymentSpec) -> list[tuple[str, str, str]]:
    """Fields the container targets the spec chose do not read."""
    serving, exposure, targets = spec.serving, spec.exposure, spec.targets
    kubernetes = targets.kubernetes is not None or targets.aks is not None
    found = []
    if not kubernetes:
        for field in ("replicas", "autoscaling"):
            if written(serving, field):
                found.append((f"serving.{field}", "without a Kubernetes target (Compose runs one replica)",
                              "a kubernetes or aks target"))
    elif serving.autoscaling.enabled and written(serving, "replicas") and targets.aks is None:
        found.append(("serving.replicas", "while autoscaling is on without AKS (the autoscaler sets the count; on "
                      "AKS it is the GPU pool's first node count)", "serving.autoscaling.min_replicas and max_replicas"))
    if kubernetes and not serving.autoscaling.enabled:
        found += [(f"serving.autoscaling.{field}", "while serving.autoscaling.enabled is false",
                   "serving.autoscaling.enabled: true")
                  for field in sorted(serving.autoscaling.model_fields_set - {"enabled"})]
    if not serving.auth.enabled and written(exposure, "port"):
        found.append(("exposure.port", "while serving.auth is off (it is the gateway's port)",
                      "serving.auth.enabled: true"))
    if exposure.mode != "ingress":
        found += [(f"exposure.{field}", "unless exposure.mode is ingress", "exposure.mode: ingress")
                  for field in ("host", "tls", "ingress_class") if written(exposure, field)]
        if targets.kubernetes is not None and written(targets.kubernetes, "ingress_namespace"):
            found.append(("targets.kubernetes.ingress_namespace", "unless exposure.mode is ingress (only the "
                          "ingress controller's namespace is admitted to the gateway)", "exposure.mode: ingress"))
    loopback = ipaddress.ip_address(str(exposure.bind_address)).is_loopback
    if exposure.mode == "internal" and not kubernetes and loopback and written(exposure, "mode"):
        found.append(("exposure.mode", "internal on Compose while exposure.bind_address is loopback (Compose "
                      "publishes on bind_address)", "none, or a non-loopback exposure.bind_address"))
    return found


HUB_TOKEN_READERS = ("vllm", "llamacpp", "onnxruntime", "mlx")
"""Runtimes whose model download sends a Hugging Face token. Ollama signs registry requests (its own and hf.co's)
with its own key pair, registered with the account instead; Foundry Local downloads from its own catalogue."""


def _runtime_idle(spec: DeploymentSpec) -> list[tuple[str, str, str]]:
    """Fields only another runtime reads."""
    found = []
    if spec.model.hub_token_secret is not None and spec.runtime.kind not in HUB_TOKEN_READERS:
        found.append(("model.hub_token_secret", f"for {spec.runtime.kind} (it never sends a Hugging Face token)",
                      f"unset unless runtime.kind is one of {', '.join(HUB_TOKEN_READERS)}"))
    quantisation = spec.model.quantisation.value if spec.model.quantisation else None
    if (spec.runtime.kind == "vllm" and quantisation in WEIGHT_DTYPES and spec.runtime.dtype != "auto"
            and WEIGHT_DTYPES[quantisation] != spec.runtime.dtype):
        found.append(("model.quantisation", "for vLLM while runtime.dtype names another weight format",
                      "the format runtime.dtype names, or runtime.dtype: auto"))
    webui = getattr(spec.runtime, "open_webui", None)
    if webui is not None and not webui.enabled:
        found += [(f"runtime.open_webui.{field}", "while runtime.open_webui.enabled is false",
                   "runtime.open_webui.enabled: true") for field in sorted(webui.model_fields_set - {"enabled"})]
    if spec.runtime.kind == "foundry-local":
        found += [(path, "for Foundry Local " + why, allowed) for path, why, allowed in FOUNDRY_IDLE
                  if written(spec, *path.split("."))]
    if spec.runtime.kind != "vllm" and spec.security.trust_remote_code_allowlist:
        found.append(("security.trust_remote_code_allowlist", f"for {spec.runtime.kind} (only vLLM runs model "
                      "repository code)", "an empty list unless runtime.kind is vllm"))
    return found


def _local_folder_idle(spec: DeploymentSpec) -> list[tuple[str, str, str]]:
    """A local ONNX folder is mounted as it is: nothing is downloaded, so no commit or token applies."""
    source = spec.model.source
    if not isinstance(source, OnnxSource) or source.repo is not None:
        return []
    why = "with a local model folder (it is mounted as it is; nothing is downloaded from a repository)"
    found = [("model.source.revision", why, "set it only with model.source.repo")] if written(source, "revision") \
        else []
    if written(spec, "model", "hub_token_secret"):
        found.append(("model.hub_token_secret", why, "set it only with model.source.repo"))
    return found


def _model_idle(spec: DeploymentSpec) -> list[tuple[str, str, str]]:
    """Beside a catalogue id the weights are the entry's pinned ones, so their facts are the entry's too: a
    different layer count or native context would size memory, or allow a context, for weights never loaded."""
    if spec.model.id is None:
        return _local_folder_idle(spec)
    return [(f"model.{field}", "beside model.id (sizing uses the catalogue entry's facts about its pinned weights)",
             "leave it unset with model.id, or give model.source with these facts for other weights")
            for field in CATALOGUE_FACTS if written(spec, "model", field)]


def _aks_idle(spec: DeploymentSpec) -> list[tuple[str, str, str]]:
    """AKS applies authorised IP ranges to the public API server endpoint only; a private cluster has none. The GPU
    pool exists only for a server that asks for GPUs."""
    aks = spec.targets.aks
    if aks is None:
        return []
    found = []
    if aks.private_cluster and aks.authorized_ip_ranges:
        found.append(("targets.aks.authorized_ip_ranges", "on a private cluster (AKS applies authorised ranges only "
                      "to a public API server; a private cluster's API server is reachable from its virtual network "
                      "alone)", "an empty list with private_cluster: true, or private_cluster: false with these ranges"))
    if spec.resources.gpu is None and written(aks, "gpu_vm_size"):
        found.append(("targets.aks.gpu_vm_size", "without resources.gpu (the cluster gets a GPU pool only for a server "
                      "that asks for GPUs)", "leave it unset, or set resources.gpu"))
    return found


def _value_at(spec: DeploymentSpec, path: str) -> object:
    value: object = spec
    for name in path.split("."):
        value = getattr(value, name)
    return value


def idle_problems(spec: DeploymentSpec, found: list[tuple[str, str, str]]) -> list[Problem]:
    """(path, why nothing reads it, what would) as problems; a field written as null is told to go, not to change."""
    return [Problem(path, "is null, which is not allowed here: nothing reads this field " + why, allowed="remove the key",
                    hint="null is no value; leaving the key out is how a spec says nothing")
            if _value_at(spec, path) is None else Problem(path, f"has no effect {why}", allowed=allowed, hint=IDLE_HINT)
            for path, why, allowed in found]


def _mlx_idle(spec: DeploymentSpec) -> list[tuple[str, str, str]]:
    """Fields the MLX host install has no place for."""
    why = "for MLX on a host (launchd runs one mlx_lm.server and the gateway as the installing account)"
    found = [(".".join(path), why, "leave it unset") for path in MLX_IDLE_FIELDS if written(spec, *path)]
    if not spec.serving.auth.enabled:
        found.append(("serving.auth.enabled", "as false for MLX on a host: the gateway in front of mlx_lm.server "
                      "always checks API keys", "true"))
    quantisation = spec.model.quantisation
    if written(spec, "runtime", "group_size") and quantisation is not None and quantisation.value != "int4":
        found.append(("runtime.group_size", "unless model.quantisation is int4 (only quantised weights have groups)",
                      "model.quantisation: int4"))
    return found


def _target_idle(spec: DeploymentSpec) -> list[tuple[str, str, str]]:
    """The idle fields of the targets the runtime installs on."""
    if spec.runtime.kind == "mlx":
        return _mlx_idle(spec)
    return _host_idle(spec) if host_only(spec) else _container_idle(spec)


def idle_field_problems(spec: DeploymentSpec) -> list[Problem]:
    """One problem per written field that nothing reads for this runtime and these targets."""
    return idle_problems(spec, _target_idle(spec) + _aks_idle(spec)
                         + _runtime_idle(spec) + _model_idle(spec))
