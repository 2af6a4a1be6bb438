"""D2: every base image is pinned by tag and digest, from a trusted registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from slm_deploy.image_reference import PINNED_BY_DIGEST
from slm_deploy.policies.access import get
from slm_deploy.policies.docker_helpers import stages
from slm_deploy.policies.model import CIS_DOCKER, HADOLINT, TRIVY, Context, Option, Rule, Severity, Violation, bench

def split_reference(ref: str) -> tuple[str, str | None, str | None]:
    """Split an image reference into (registry, tag, digest); registry defaults to docker.io."""
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    first = name.split("/", 1)[0]
    registry = first if "/" in name and ("." in first or ":" in first or first == "localhost") else "docker.io"
    return registry, tag, ("@" + digest) if digest else None


def check(dockerfile: Any, ctx: Context) -> Iterator[Violation]:
    """Yield violations for unpinned, latest or untrusted FROM images."""
    trusted = ctx.get_list("trustedRegistries")
    previous: list[str] = []
    for stage in stages(dockerfile):
        image = str(get(stage, "image") or "")
        line = stage.get("line")
        if image.lower() in previous or image == "scratch":
            pass
        elif "$" in image:
            yield Violation("FROM uses a build argument, so the base image cannot be verified as pinned", line)
        else:
            registry, tag, digest = split_reference(image)
            if tag is None or tag == "latest":
                yield Violation("FROM must name an explicit tag other than latest", line)
            if digest is None or not PINNED_BY_DIGEST.match(image):
                yield Violation("FROM must pin the image by @sha256 digest", line)
            if trusted and registry not in trusted:
                yield Violation("FROM pulls from a registry that is not in trustedRegistries", line)
        if stage.get("alias"):
            previous.append(str(stage.get("alias")).lower())


RULE = Rule(
    id="slm-docker-002",
    name="Every base image is pinned to an explicit tag and a sha256 digest from a trusted registry.",
    severity=Severity.HIGH,
    controls=("D2",),
    kinds=frozenset({"Dockerfile"}),
    rationale="Tags move; a digest makes the build reproducible and stops a compromised or re-pushed tag "
              "from changing what runs.",
    remediation="Write `FROM registry/image:1.2.3@sha256:<digest>`; mirror images into a registry listed in "
                "trustedRegistries for air-gapped sites.",
    benchmarks=(bench(CIS_DOCKER, "4.2", "4.3"), bench(TRIVY, "DS-0001"),
                bench(HADOLINT, "DL3006", "DL3007", "DL3026")),
    check=check,
    tags=("dockerfile", "supply-chain"),
    options=(Option("trustedRegistries", {"type": "array", "items": {"type": "string"}, "default": []},
                    "Registries FROM may pull from; empty accepts any registry."),),
)
