"""Serving: no --trust-remote-code unless the model is allow-listed."""

from __future__ import annotations

from slm_deploy.policies.access import flag_present, flag_value
from slm_deploy.spec.env_classes import TRUST_REMOTE_CODE_ENV
from slm_deploy.policies.model import Option, Rule, Severity
from slm_deploy.policies.rules._serving import SERVING_KINDS, launches


def model_of(words: list[str]) -> str | None:
    """The model a vLLM command line serves (`--model X` or `vllm serve X`)."""
    value = flag_value(words, "--model")
    if value:
        return value
    for index, word in enumerate(words[:-1]):
        if word == "serve" and not words[index + 1].startswith("-"):
            return words[index + 1]
    return None


def check(manifest, ctx):
    """Yield a violation per launch that trusts remote code for a model outside the allow-list."""
    allowed = set(ctx.get_list("trustRemoteCodeAllowlist"))
    for launch in launches(manifest, ctx.kind):
        enabled = flag_present(launch.words, "--trust-remote-code") or \
            str(launch.env.get(TRUST_REMOTE_CODE_ENV, "")).lower() in ("1", "true")
        if enabled and model_of(launch.words) not in allowed:
            yield f"{launch.path} passes --trust-remote-code for a model that is not in trustRemoteCodeAllowlist"


RULE = Rule(
    id="slm-serving-001",
    name="Model servers never trust remote code unless the model is on the reviewed allow-list.",
    severity=Severity.CRITICAL,
    controls=("S-trust-remote-code",),
    kinds=SERVING_KINDS,
    rationale="--trust-remote-code executes Python shipped in the model repository inside the server, with "
              "its secrets and network access; a changed repository is a remote code execution.",
    remediation="Drop --trust-remote-code, or review the repository at a pinned revision and add the model id "
                "to trustRemoteCodeAllowlist (the spec's security.trust_remote_code_allowlist).",
    benchmarks=(),
    check=check,
    tags=("serving", "supply-chain"),
    options=(Option("trustRemoteCodeAllowlist", {"type": "array", "items": {"type": "string"}, "default": []},
                    "Model ids reviewed for --trust-remote-code."),),
)
