"""Serving: credentials are never literals in env or on the command line."""

from __future__ import annotations

from slm_deploy.policies.access import WORKLOAD_KINDS, is_secret_name
from slm_deploy.policies.model import CIS_K8S, TRIVY, Rule, Severity, bench
from slm_deploy.policies.rules._serving import launches

SECRET_FLAGS = ("--api-key", "--hf-token", "--token", "--password", "--api-keys")


def check(manifest, ctx):
    """Yield violations for credential-named env vars and secret flags given inline."""
    for launch in launches(manifest, ctx.kind):
        for index, name in enumerate(sorted(launch.env)):
            if is_secret_name(name):
                yield f"{launch.path} sets a credential-named environment variable (entry {index} by name " \
                      "order); mount the secret as a file"
        for word_index, word in enumerate(launch.words):
            if word.split("=", 1)[0] in SECRET_FLAGS:
                yield f"{launch.path} passes a credential on the command line (argument {word_index}); use " \
                      "the runtime's *-file flag"


RULE = Rule(
    id="slm-serving-007",
    name="Credentials never appear as environment variables or command-line literals of model servers.",
    severity=Severity.CRITICAL,
    controls=("S-secret-literals", "K16"),
    kinds=WORKLOAD_KINDS | {"ComposeProject"},
    rationale="Command lines are visible in `ps` and /proc to every process, and env vars leak through "
              "inspect output and crash reports; API keys and hub tokens belong in files.",
    remediation="Mount secrets under /run/secrets and use --api-key-file, HF_TOKEN_PATH or *_FILE variables.",
    benchmarks=(bench(CIS_K8S, "5.4.1"), bench(TRIVY, "KSV-0109")),
    check=check,
    tags=("serving", "secrets"),
)
