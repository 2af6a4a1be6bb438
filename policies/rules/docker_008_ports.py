"""D8: valid, unprivileged exposed ports and no SSH."""

from __future__ import annotations

import re

from slm_deploy.policies.docker_helpers import instructions
from slm_deploy.policies.model import HADOLINT, TRIVY, Option, Rule, Severity, Violation, bench

PORT = re.compile(r"^([0-9]+)(?:-([0-9]+))?(?:/(tcp|udp|sctp))?$", re.IGNORECASE)


def check(dockerfile, ctx):
    """Yield violations for SSH, invalid or privileged EXPOSE ports."""
    minimum = ctx.get_int("minPort")
    for expose in instructions(dockerfile, "EXPOSE"):
        line = expose.get("line")
        for token in str(expose.get("value") or "").split():
            match = PORT.match(token)
            if not match:
                yield Violation("EXPOSE lists a port that is not a literal number", line)
                continue
            low = int(match.group(1))
            high = int(match.group(2) or low)
            if not (1 <= low <= high <= 65535):
                yield Violation("EXPOSE lists a port outside 1-65535", line)
            elif low <= 22 <= high:
                yield Violation("EXPOSE opens port 22 (SSH); containers are entered with exec, not SSH", line)
            elif low < minimum:
                yield Violation(f"EXPOSE lists a privileged port; serve on a port of at least {minimum}", line)


RULE = Rule(
    id="slm-docker-008",
    name="The image exposes only valid unprivileged ports and never SSH.",
    severity=Severity.MEDIUM,
    controls=("D8",),
    kinds=frozenset({"Dockerfile"}),
    rationale="Ports below 1024 need NET_BIND_SERVICE or root, and an SSH port means an extra daemon and "
              "credentials inside the container.",
    remediation="Serve on the runtime's high port (vLLM 8000, Ollama 11434, ONNX 8001, llama.cpp 8080) and "
                "remove EXPOSE 22.",
    benchmarks=(bench(TRIVY, "DS-0004", "DS-0008", "KSV-0117"), bench(HADOLINT, "DL3011")),
    check=check,
    tags=("dockerfile", "network"),
    options=(Option("minPort", {"type": "integer", "minimum": 1, "maximum": 65535, "default": 1024},
                    "Lowest port EXPOSE may list."),),
)
