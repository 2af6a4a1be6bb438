"""Environment variables a model server may be given from outside: one table (env_classes.py), read by the spec's
validation of `runtime.env` and by the serving rules that judge a rendered launch.

A variable is accepted only when the runtime at its pinned version reads it (its interface record, derived from
the runtime's own artifact, lists it) and it is in no refused class: another spelling of a command-line flag
(llama.cpp reads every flag from LLAMA_ARG_*, which would bypass the extra_args allow-list), something that
changes what the process loads or where it connects (loader, interpreter, proxies, hub endpoints), a path (the
root file system is read-only; slm-deploy sets the writable paths), a switch that weakens the server, GPU
selection (the device plugin or the Compose device reservation decides which GPUs a container sees), tuning
for hardware no target runs on (ROCm, XPU, Neuron, TPU and other backends; vLLM's CPU backend), debug or
log-level output (at debug level vLLM logs input prompts and Ollama's trace level logs generated text), logging
configuration (streams, prefixes, intervals, vLLM's own logging set-up), the
runtime's own build, test and child-process variables, or a variable slm-deploy sets from a typed field of
the spec. A variable that would do nothing on the deployment is refused as well: one only the runtime's
interactive client reads (the record lists them), a model-transfer setting (servers never fetch models; a
preparation step does), or a GPU setting on a deployment whose server uses no GPU (no resources.gpu, or an Ollama
Modelfile's num_gpu 0, which offloads no layer).
"""

from __future__ import annotations

from slm_deploy.spec.env_classes import (CLASSES, FLAG_PREFIXES, GPU_ONLY, IGNORED, JSON_OR_FILE,
                                         MODEL_TRANSFER, ON_APPLE_SILICON, OTHER_HARDWARE, OWN_PREFIXES, OWNED,
                                         UNCHECKED_READER, UNUSED_PARTS)
from slm_deploy.spec.fields import SECRET_NAME_PARTS
from slm_deploy.spec.runtime_records import record_of

LISTED_IN_FULL = 40
"""Allowed names an error lists in full; longer lists are sampled and the rest found in docs/runtime-env.md."""
SECRET_REASON = "looks like a secret; secrets are never passed as environment values"


def class_refusal(runtime: str, name: str) -> str | None:
    """Why `name` is refused for `runtime` whatever the runtime reads, or None when it is in no refused class."""
    if SECRET_NAME_PARTS.search(name):
        return SECRET_REASON
    prefix = FLAG_PREFIXES.get(runtime)
    if prefix and name.startswith(prefix):
        return "is the environment spelling of a command-line flag; pass flags through runtime.extra_args"
    own_classes = tuple(table[runtime] for table in (OWNED, UNUSED_PARTS) if runtime in table)
    for env_class in own_classes + CLASSES:
        if env_class.pattern.search(name) and not (env_class is OTHER_HARDWARE and runtime in ON_APPLE_SILICON):
            return env_class.reason
    return None


def refusal(runtime: str, name: str, *, no_gpu: str | None = None) -> str | None:
    """Why `runtime` must not be given the variable `name`, or None; `no_gpu` says why the server uses no GPU (None
    when it does)."""
    reason, record = class_refusal(runtime, name), record_of(runtime)
    if reason is None and record.env_values.get(name) == "json-or-file":
        return JSON_OR_FILE
    if reason is None and name not in record.env:
        return f"is not a variable {runtime} reads at its pinned version ({record.runtime} {record.version})"
    prefix = OWN_PREFIXES.get(runtime)
    if reason is None and prefix and not name.startswith(prefix) and name not in record.env_values:
        return UNCHECKED_READER.format(runtime=runtime)
    return reason or no_effect(runtime, name, no_gpu=no_gpu)


def no_effect(runtime: str, name: str, *, no_gpu: str | None) -> str | None:
    """Why a variable the runtime reads would do nothing on this deployment, or None when it would act."""
    record = record_of(runtime)
    if name in record.client_env:
        return (f"is read only by {runtime}'s interactive client or desktop app, never by the server, so on the "
                "deployment it would do nothing")
    if record.env_values.get(name) == IGNORED:
        return (f"is kept by {runtime} at its pinned version ({record.version}) only to warn that it was renamed or "
                "retired: its reader returns nothing whatever the value, so it would do nothing")
    if MODEL_TRANSFER.pattern.search(name):
        return MODEL_TRANSFER.reason
    if no_gpu and GPU_ONLY.pattern.search(name):
        return f"{GPU_ONLY.reason}, but {no_gpu}: the runtime never uses it there"
    return None


def allowed_names(runtime: str, *, no_gpu: str | None = None) -> tuple[str, ...]:
    """Every variable `runtime.env` may give `runtime`, sorted: read by its server, and in no refused class."""
    return tuple(sorted(name for name in record_of(runtime).env if refusal(runtime, name, no_gpu=no_gpu) is None))


def allowed_text(runtime: str, *, no_gpu: str | None = None) -> str:
    """What an error says runtime.env accepts for `runtime`: the names, or a sample and where the rest are."""
    names = allowed_names(runtime, no_gpu=no_gpu)
    if not names:
        return f"no variables: {runtime} reads none that runtime.env may set; use the typed runtime options"
    if len(names) <= LISTED_IN_FULL:
        return ", ".join(names)
    sample = names[::len(names) // 8][:8]
    return (f"one of the {len(names)} variables {runtime} reads that no rule refuses, such as "
            f"{', '.join(sample)} (all listed in docs/runtime-env.md)")
