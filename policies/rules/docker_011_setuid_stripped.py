"""D11: setuid/setgid bits stripped in the final stage."""

from __future__ import annotations

import re

from slm_deploy.policies.docker_helpers import final_stage, instructions, text_of
from slm_deploy.policies.model import CIS_DOCKER, Rule, Severity, Violation, bench

FIND_PERM = re.compile(r"\bfind\b.*-perm\s+[/+-]?(?:[0-7]*[4-7]000|u=s|g=s|u\+s|g\+s)")
CHMOD_STRIP = re.compile(r"\bchmod\b(?:\s+-\S+)*\s+[ugoa]*-s\b|\bchmod\b.*\b[ugoa]*-s\b|-exec\s+chmod\s+[ugoa]*-s")


def check(dockerfile, ctx):
    """Yield a violation when the final stage never strips setuid/setgid bits."""
    stage = final_stage(dockerfile)
    if stage is None or str(stage.get("image")) == "scratch":
        return
    for run in instructions(stage, "RUN"):
        text = text_of(run)
        if FIND_PERM.search(text) and CHMOD_STRIP.search(text):
            return
    yield Violation("the final stage does not strip setuid/setgid bits (find / -perm /6000 -exec chmod a-s)",
                    stage.get("line"))


RULE = Rule(
    id="slm-docker-011",
    name="The final stage strips setuid and setgid bits from every file.",
    severity=Severity.MEDIUM,
    controls=("D11",),
    kinds=frozenset({"Dockerfile"}),
    rationale="setuid binaries let a non-root process gain the file owner's privileges; stripping them keeps "
              "the non-root user non-root even if allowPrivilegeEscalation were ever relaxed.",
    remediation="In the final stage, before USER, run `find / -xdev -perm /6000 -type f -exec chmod a-s {} + "
                "|| true`.",
    benchmarks=(bench(CIS_DOCKER, "4.8"),),
    check=check,
    tags=("dockerfile", "identity"),
)
