"""D7: no sudo, no TLS or signature bypass, no chpasswd."""

from __future__ import annotations

import re

from slm_deploy.policies.docker_helpers import commands, env_pairs, instructions
from slm_deploy.policies.model import HADOLINT, TRIVY, Rule, Severity, Violation, bench

BYPASS_WORDS = {
    "--insecure", "--no-check-certificate", "--trusted-host", "--allow-unauthenticated", "--nogpgcheck",
    "--allow-untrusted", "--allow-insecure-repositories", "--allow-downgrades", "--no-verify-ssl",
    "--disable-content-trust", "--insecure-skip-tls-verify",
}
BYPASS_ENV = re.compile(
    r"^(PYTHONHTTPSVERIFY|GIT_SSL_NO_VERIFY|NODE_TLS_REJECT_UNAUTHORIZED|CURL_CA_BUNDLE|REQUESTS_CA_BUNDLE|"
    r"PIP_TRUSTED_HOST|DOCKER_CONTENT_TRUST)$"
)
UNSAFE_ENV_VALUES = {"PYTHONHTTPSVERIFY": "0", "NODE_TLS_REJECT_UNAUTHORIZED": "0", "DOCKER_CONTENT_TRUST": "0",
                     "CURL_CA_BUNDLE": "", "REQUESTS_CA_BUNDLE": ""}


def _env_unsafe(name: str, value: str) -> bool:
    """Whether an ENV setting turns verification off."""
    if name in UNSAFE_ENV_VALUES:
        return value == UNSAFE_ENV_VALUES[name]
    return bool(BYPASS_ENV.match(name))


def check(dockerfile, ctx):
    """Yield violations for privilege tools and verification bypasses."""
    for run in instructions(dockerfile, "RUN"):
        line = run.get("line")
        for words in commands(run):
            if words[0] == "sudo" or "sudo" in words[:1]:
                yield Violation("RUN uses sudo; run build steps as root before USER instead", line)
            if words[0] in ("chpasswd", "passwd"):
                yield Violation("RUN sets a password; images must not carry login credentials", line)
            if words[0] == "curl" and ("-k" in words or any(w.startswith("-") and not w.startswith("--")
                                                              and "k" in w[1:] and len(w) <= 6 for w in words)):
                yield Violation("curl -k disables TLS verification", line)
            if BYPASS_WORDS & set(words) or any(w.split("=")[0] in BYPASS_WORDS for w in words):
                yield Violation("RUN disables TLS or signature verification", line)
            if "sslVerify" in " ".join(words) and "false" in words:
                yield Violation("git http.sslVerify false disables TLS verification", line)
            if words[0] in ("npm", "yarn") and "strict-ssl" in words and "false" in words:
                yield Violation("npm strict-ssl false disables TLS verification", line)
            for word in words:
                name, eq, value = word.partition("=")
                if eq and _env_unsafe(name, value):
                    yield Violation("RUN sets a variable that disables TLS verification", line)
    for env in instructions(dockerfile, "ENV", "ARG"):
        for name, value in env_pairs(env):
            if _env_unsafe(name, value):
                yield Violation(f"{env.get('instruction')} sets a variable that disables TLS verification",
                                env.get("line"))


RULE = Rule(
    id="slm-docker-007",
    name="The build never uses sudo, sets passwords or bypasses TLS and signature checks.",
    severity=Severity.CRITICAL,
    controls=("D7",),
    kinds=frozenset({"Dockerfile"}),
    rationale="sudo in an image is a ready privilege escalation path, and a disabled certificate or "
              "signature check lets anyone on the network replace the packages and weights being installed.",
    remediation="Run privileged build steps before the final USER, install the CA bundle instead of "
                "skipping verification, and remove chpasswd/passwd calls.",
    benchmarks=(bench(TRIVY, "DS-0010"), bench(HADOLINT, "DL3004")),
    check=check,
    tags=("dockerfile", "supply-chain"),
)
