"""Serving: llama.cpp exports metrics and hides the slots endpoint."""

from __future__ import annotations

from slm_deploy.policies.access import flag_present
from slm_deploy.spec.env_classes import METRICS_ENV, NO_SLOTS_ENV, SLOTS_ENV
from slm_deploy.policies.model import Rule, Severity
from slm_deploy.policies.rules._serving import SERVING_KINDS, launches, starts_server

TRUE = ("1", "true", "on", "enabled")


def check(manifest, ctx):
    """Yield violations for llama.cpp servers without --metrics or with the slots endpoint on."""
    for launch in launches(manifest, ctx.kind):
        if launch.runtime != "llamacpp" or not starts_server(launch):
            continue
        env = {k: str(v).lower() for k, v in launch.env.items()}
        if not (flag_present(launch.words, "--metrics") or env.get(METRICS_ENV) in TRUE):
            yield f"{launch.path} runs llama.cpp without --metrics"
        if flag_present(launch.words, "--slots") or env.get(SLOTS_ENV) in TRUE:
            yield f"{launch.path} enables the llama.cpp --slots endpoint"
        elif not (flag_present(launch.words, "--no-slots") or env.get(NO_SLOTS_ENV) in TRUE):
            yield f"{launch.path} leaves the llama.cpp slots endpoint on by default; pass --no-slots"


RULE = Rule(
    id="slm-serving-008",
    name="llama.cpp servers run with --metrics and with the slots endpoint turned off.",
    severity=Severity.MEDIUM,
    controls=("S-llamacpp",),
    kinds=SERVING_KINDS,
    rationale="Without --metrics llama.cpp exports nothing to Prometheus; the slots endpoint (on by default) "
              "reveals other users' prompts and generation state.",
    remediation="Pass --metrics and --no-slots (or LLAMA_ARG_ENDPOINT_METRICS=1 and "
                "LLAMA_ARG_NO_ENDPOINT_SLOTS=1).",
    benchmarks=(),
    check=check,
    tags=("serving", "monitoring", "privacy"),
)
