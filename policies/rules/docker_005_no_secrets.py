"""D5: no credentials in ENV, ARG or copied files."""

from __future__ import annotations

import re

from slm_deploy.policies.access import is_secret_name
from slm_deploy.policies.docker_helpers import env_pairs, instructions
from slm_deploy.policies.model import CIS_DOCKER, HADOLINT, TRIVY, Rule, Severity, Violation, bench

SECRET_FILES = re.compile(
    r"(^|/)(\.env(\..*)?|id_rsa|id_ed25519|id_ecdsa|[^/]*\.pem|[^/]*\.key|[^/]*\.p12|[^/]*\.pfx|\.netrc|\.npmrc|"
    r"\.pypirc|\.git-credentials|credentials(\.json)?|[^/]*token[^/]*|secrets?(\..*)?)$",
    re.IGNORECASE,
)


def check(dockerfile, ctx):
    """Yield violations for credential-named ENV/ARG variables and copied secret files."""
    for instruction in instructions(dockerfile, "ENV", "ARG"):
        for name, _value in env_pairs(instruction):
            if is_secret_name(name):
                yield Violation(f"{instruction.get('instruction')} declares a credential-named variable; "
                                "use RUN --mount=type=secret or a file under /run/secrets",
                                instruction.get("line"))
    for instruction in instructions(dockerfile, "COPY", "ADD"):
        sources = str(instruction.get("value") or "").split()[:-1]
        if any(SECRET_FILES.search(s.rstrip("/")) for s in sources):
            yield Violation(f"{instruction.get('instruction')} copies a file that looks like a credential",
                            instruction.get("line"))


RULE = Rule(
    id="slm-docker-005",
    name="No credential is baked into the image through ENV, ARG or a copied file.",
    severity=Severity.CRITICAL,
    controls=("D5",),
    kinds=frozenset({"Dockerfile"}),
    rationale="Image layers and build history are readable by anyone who can pull the image; a token put "
              "there (HF_TOKEN, an API key) leaks for as long as the image exists.",
    remediation="Use `RUN --mount=type=secret,id=hf_token` at build time and mount runtime secrets as files "
                "under /run/secrets (point the runtime at them with *_FILE/*_PATH variables).",
    benchmarks=(bench(CIS_DOCKER, "4.10"), bench(TRIVY, "DS-0031"), bench(HADOLINT, "DL3064")),
    check=check,
    tags=("dockerfile", "secrets"),
)
