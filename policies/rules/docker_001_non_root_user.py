"""D1: the image runs as a created, numeric, high UID:GID."""

from __future__ import annotations

import re

from slm_deploy.policies.docker_helpers import commands, final_stage, instructions
from slm_deploy.policies.model import CIS_DOCKER, HADOLINT, TRIVY, Option, Rule, Severity, Violation, bench

NUMERIC_USER = re.compile(r"^([0-9]+)(?::([0-9]+))?$")


def _created_uids(stage) -> tuple[set[int], bool]:
    """UIDs created by useradd/adduser in the stage, and whether every useradd skips the lastlog."""
    uids: set[int] = set()
    no_log_init = True
    for run in instructions(stage, "RUN"):
        for words in commands(run):
            if words[0] not in ("useradd", "adduser"):
                continue
            for index, word in enumerate(words):
                if word in ("-u", "--uid") and index + 1 < len(words) and words[index + 1].isdigit():
                    uids.add(int(words[index + 1]))
                elif word.startswith("--uid=") and word[6:].isdigit():
                    uids.add(int(word[6:]))
            if words[0] == "useradd" and not ({"-l", "--no-log-init"} & set(words)):
                no_log_init = False
    return uids, no_log_init


def check(dockerfile, ctx):
    """Yield violations for a root, named or low-numbered final user."""
    stage = final_stage(dockerfile)
    if stage is None:
        yield Violation("the Dockerfile has no FROM instruction")
        return
    users = instructions(stage, "USER")
    if not users:
        yield Violation("the final stage sets no USER, so the container runs as root", stage.get("line"))
        return
    last = users[-1]
    match = NUMERIC_USER.match(str(last.get("value") or "").strip())
    if not match or match.group(2) is None:
        yield Violation("the final USER must be a numeric UID:GID pair", last.get("line"))
        return
    minimum = ctx.get_int("minUid")
    if int(match.group(1)) < minimum or int(match.group(2)) < minimum:
        yield Violation(f"the final USER's UID and GID must both be at least {minimum}", last.get("line"))
    uids, no_log_init = _created_uids(stage)
    if int(match.group(1)) not in uids:
        yield Violation("the final stage does not create the USER's UID (useradd -u)", last.get("line"))
    if not no_log_init:
        yield Violation("useradd without --no-log-init (-l) bloats the image with a sparse lastlog",
                        last.get("line"))


RULE = Rule(
    id="slm-docker-001",
    name="The image runs as a numeric non-root user with UID and GID of at least 10001, created in the image.",
    severity=Severity.HIGH,
    controls=("D1",),
    kinds=frozenset({"Dockerfile"}),
    rationale="A container that runs as root turns any runtime escape into host root; numeric IDs let "
              "Kubernetes verify runAsNonRoot, and IDs above 10000 avoid clashing with host accounts.",
    remediation="Create the user in the final stage with `useradd --no-log-init -u 10001 -g 10001 ...` and end "
                "the stage with `USER 10001:10001`.",
    benchmarks=(bench(CIS_DOCKER, "4.1"), bench(TRIVY, "DS-0002"), bench(HADOLINT, "DL3002", "DL3046")),
    check=check,
    tags=("dockerfile", "identity"),
    options=(Option("minUid", {"type": "integer", "minimum": 1, "default": 10001},
                    "Lowest UID and GID accepted for the final USER."),),
)
