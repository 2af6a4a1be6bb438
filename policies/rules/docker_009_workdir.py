"""D9: absolute, non-system WORKDIR and no RUN cd."""

from __future__ import annotations

from slm_deploy.policies.docker_helpers import commands, instructions
from slm_deploy.policies.model import HADOLINT, TRIVY, Rule, Severity, Violation, bench

SYSTEM_DIRS = frozenset({"/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/root",
                         "/run", "/sbin", "/sys", "/usr", "/usr/bin", "/usr/lib", "/usr/sbin", "/var",
                         "/var/lib", "/var/run"})


def check(dockerfile, ctx):
    """Yield violations for relative or system WORKDIRs and `cd` inside RUN."""
    for workdir in instructions(dockerfile, "WORKDIR"):
        path = str(workdir.get("value") or "").strip().strip("\"'")
        if not path.startswith("/"):
            yield Violation("WORKDIR must be an absolute path", workdir.get("line"))
        elif path.rstrip("/") in SYSTEM_DIRS or path == "/":
            yield Violation("WORKDIR must not be a system directory", workdir.get("line"))
    for run in instructions(dockerfile, "RUN"):
        if any(words[0] == "cd" for words in commands(run)):
            yield Violation("RUN changes directory with cd; use WORKDIR", run.get("line"))


RULE = Rule(
    id="slm-docker-009",
    name="WORKDIR is an absolute application directory and RUN never changes directory with cd.",
    severity=Severity.LOW,
    controls=("D9",),
    kinds=frozenset({"Dockerfile"}),
    rationale="Relative or system working directories make file writes land in unexpected places, and "
              "`RUN cd` hides the directory later instructions run in.",
    remediation="Use `WORKDIR /app` (or /opt/<runtime>) and replace `RUN cd x && ...` with WORKDIR.",
    benchmarks=(bench(TRIVY, "DS-0009", "DS-0030", "DS-0013"), bench(HADOLINT, "DL3000", "DL3003")),
    check=check,
    tags=("dockerfile",),
)
