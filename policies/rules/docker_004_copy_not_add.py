"""D4: COPY rather than ADD; sane multi-stage references."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from slm_deploy.policies.docker_helpers import flag_values, instructions, stages, text_of
from slm_deploy.policies.model import CIS_DOCKER, HADOLINT, TRIVY, Context, Rule, Severity, Violation, bench


def check(dockerfile: Any, ctx: Context) -> Iterator[Violation]:
    """Yield violations for ADD, self-referencing COPY --from, duplicate aliases and ambiguous destinations."""
    seen: set[str] = set()
    for stage in stages(dockerfile):
        alias = str(stage.get("alias") or "").lower()
        if alias:
            if alias in seen:
                yield Violation("two stages share the same alias", stage.get("line"))
            seen.add(alias)
        own = {str(stage.get("index")), alias} - {""}
        for add in instructions(stage, "ADD"):
            yield Violation("use COPY instead of ADD (ADD fetches URLs and unpacks archives implicitly)",
                            add.get("line"))
        for copy in instructions(stage, "COPY"):
            if any(v.lower() in own for v in flag_values(copy, "from")):
                yield Violation("COPY --from refers to its own stage", copy.get("line"))
            words = [str(w) for w in copy.get("json") or []] or text_of(copy).split()
            if len(words) > 2 and not words[-1].endswith("/"):
                yield Violation("COPY with several sources needs a destination directory ending in /",
                                copy.get("line"))


RULE = Rule(
    id="slm-docker-004",
    name="Files are added with COPY, never ADD, and stage references are unambiguous.",
    severity=Severity.MEDIUM,
    controls=("D4",),
    kinds=frozenset({"Dockerfile"}),
    rationale="ADD silently downloads remote content and unpacks archives, which hides what enters the image; "
              "ambiguous stage aliases make multi-stage builds copy from the wrong place, and several sources copied "
              "to a path without a trailing / fail or land somewhere unexpected.",
    remediation="Replace ADD with COPY (download with a verified checksum in a build stage if needed); give "
                "every stage a unique alias and never COPY --from the current stage.",
    benchmarks=(bench(CIS_DOCKER, "4.9"), bench(TRIVY, "DS-0005", "DS-0006", "DS-0011", "DS-0012"),
                bench(HADOLINT, "DL3020", "DL3022", "DL3023", "DL3024")),
    check=check,
    tags=("dockerfile", "supply-chain"),
)
