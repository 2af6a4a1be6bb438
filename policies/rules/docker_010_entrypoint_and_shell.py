"""D10: one exec-form CMD/ENTRYPOINT, no MAINTAINER, pipefail before piped RUNs."""

from __future__ import annotations

import re

from slm_deploy.policies.access import items
from slm_deploy.policies.docker_helpers import final_stage, instructions, stages, text_of
from slm_deploy.policies.model import HADOLINT, TRIVY, Rule, Severity, Violation, bench

PIPE = re.compile(r"(?<!\|)\|(?!\|)")


def _has_pipefail(shell) -> bool:
    """Whether a SHELL instruction enables pipefail."""
    words = [str(w) for w in items(shell.get("json"))]
    return "pipefail" in words and any(w.startswith("-") and "o" in w for w in words)


def check(dockerfile, ctx):
    """Yield violations for missing or shell-form entry points, MAINTAINER and pipes without pipefail."""
    stage = final_stage(dockerfile)
    if stage is not None:
        cmds = instructions(stage, "CMD")
        entries = instructions(stage, "ENTRYPOINT")
        if not cmds and not entries:
            yield Violation("the final stage sets neither CMD nor ENTRYPOINT", stage.get("line"))
        for group in (cmds, entries):
            if len(group) > 1:
                yield Violation(f"the final stage has more than one {group[0].get('instruction')}",
                                group[1].get("line"))
            for instruction in group:
                if instruction.get("json") is None:
                    yield Violation(f"{instruction.get('instruction')} must use the JSON exec form so signals "
                                    "reach the server", instruction.get("line"))
    for maintainer in instructions(dockerfile, "MAINTAINER"):
        yield Violation("MAINTAINER is deprecated; use an org.opencontainers.image.authors LABEL",
                        maintainer.get("line"))
    for each in stages(dockerfile):
        pipefail = False
        for instruction in instructions(each):
            if instruction.get("instruction") == "SHELL":
                pipefail = _has_pipefail(instruction)
            elif instruction.get("instruction") == "RUN" and instruction.get("json") is None:
                text = text_of(instruction)
                if PIPE.search(text) and not pipefail and "pipefail" not in text:
                    yield Violation('RUN pipes commands without pipefail; add SHELL ["/bin/bash", "-o", '
                                    '"pipefail", "-c"] first', instruction.get("line"))


RULE = Rule(
    id="slm-docker-010",
    name="The image has one exec-form entry point, no MAINTAINER, and pipefail before piped RUN commands.",
    severity=Severity.MEDIUM,
    controls=("D10",),
    kinds=frozenset({"Dockerfile"}),
    rationale="A shell-form entry point runs the server under /bin/sh, which swallows SIGTERM and breaks "
              "graceful shutdown; without pipefail a failed download piped into another command goes unnoticed.",
    remediation='Use `ENTRYPOINT ["..."]`/`CMD ["..."]` once each, LABEL instead of MAINTAINER, and '
                '`SHELL ["/bin/bash", "-o", "pipefail", "-c"]` before RUN lines with pipes.',
    benchmarks=(bench(TRIVY, "DS-0007", "DS-0016", "DS-0022"),
                bench(HADOLINT, "DL3025", "DL4000", "DL4003", "DL4004", "DL4006")),
    check=check,
    tags=("dockerfile",),
)
