"""Serving: model servers run without debug or trace output and leave GPU selection to the device plugin."""

from __future__ import annotations

from slm_deploy.policies.model import Rule, Severity
from slm_deploy.policies.rules._serving import SERVER_WORDS, SERVING_KINDS, launches, starts_server
from slm_deploy.spec.env_classes import DEBUG_OUTPUT, GPU_SELECTION

JUDGED = {"debug output": DEBUG_OUTPUT, "GPU selection": GPU_SELECTION}
"""The classes of the launch-environment table slm-deploy never sets itself, so any match is a finding."""


def check(manifest, ctx):
    """Yield a violation per model-server variable in a judged class, by its position (names may be secrets)."""
    for launch in launches(manifest, ctx.kind):
        if launch.runtime not in SERVER_WORDS or not starts_server(launch):
            continue
        for index, name in enumerate(sorted(launch.env)):
            for what, env_class in JUDGED.items():
                if env_class.pattern.search(name):
                    yield (f"{launch.path} sets a {what} variable (entry {index} by name order): it "
                           f"{env_class.reason}")


RULE = Rule(
    id="slm-serving-012",
    name="Model servers run without debug or trace output and leave GPU selection to the device plugin.",
    severity=Severity.HIGH,
    controls=("S-launch-env",),
    kinds=SERVING_KINDS,
    rationale="At debug level vLLM logs every input prompt and Ollama's trace level logs model output, so a log "
              "level variable sends users' prompts to the log pipeline; a CUDA_VISIBLE_DEVICES or NVIDIA_* variable "
              "overrides the GPUs the device plugin assigned (NVIDIA_VISIBLE_DEVICES=all shows the container every "
              "GPU of the node).",
    remediation="Remove the variable; runtime.env refuses these classes (components/spec/launch_env.py), and "
                "resources.gpu sets what the device plugin assigns.",
    benchmarks=(),
    check=check,
    tags=("serving", "privacy"),
)
