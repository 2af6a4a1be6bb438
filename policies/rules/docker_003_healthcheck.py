"""D3: exactly one HEALTHCHECK in exec form."""

from __future__ import annotations

from slm_deploy.policies.docker_helpers import final_stage, instructions
from slm_deploy.policies.model import CIS_DOCKER, HADOLINT, TRIVY, Rule, Severity, Violation, bench


def check(dockerfile, ctx):
    """Yield violations for a missing, repeated, disabled or shell-form HEALTHCHECK."""
    stage = final_stage(dockerfile)
    if stage is None:
        return
    checks = instructions(stage, "HEALTHCHECK")
    if not checks:
        yield Violation("the final stage has no HEALTHCHECK", stage.get("line"))
        return
    if len(checks) > 1:
        yield Violation("the final stage has more than one HEALTHCHECK; only the last takes effect",
                        checks[1].get("line"))
    last = checks[-1]
    if last.get("subcommand") != "CMD":
        yield Violation("HEALTHCHECK must run a command (HEALTHCHECK NONE disables it)", last.get("line"))
    elif last.get("json") is None:
        yield Violation("HEALTHCHECK CMD must use the JSON exec form", last.get("line"))


RULE = Rule(
    id="slm-docker-003",
    name="The image declares exactly one HEALTHCHECK in JSON exec form.",
    severity=Severity.LOW,
    controls=("D3",),
    kinds=frozenset({"Dockerfile"}),
    rationale="Without a health check Docker cannot tell a model server that is still loading or wedged "
              "from a healthy one; exec form avoids depending on a shell in the image.",
    remediation='Add one `HEALTHCHECK --interval=30s CMD ["/usr/local/bin/healthcheck"]` to the final stage.',
    benchmarks=(bench(CIS_DOCKER, "4.6"), bench(TRIVY, "DS-0026", "DS-0023"), bench(HADOLINT, "DL3012", "DL3057")),
    check=check,
    tags=("dockerfile", "availability"),
)
