"""Build arguments for an image build: `NAME=VALUE`, and only names its Dockerfile declares with ARG."""

from __future__ import annotations

import re

from slm_deploy.errors import BundleError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DECLARATION = re.compile(r"^\s*ARG\s+(.+)$", re.IGNORECASE | re.MULTILINE)


def declared_build_args(dockerfile: str) -> frozenset[str]:
    """Names a Dockerfile declares with ARG (ARG NAME, ARG NAME=default, several on one line)."""
    return frozenset(token.split("=", 1)[0] for line in DECLARATION.findall(dockerfile) for token in line.split()
                     if NAME.fullmatch(token.split("=", 1)[0]))


def parse_build_args(given: list[str], declared: frozenset[str]) -> dict[str, str]:
    """NAME=VALUE pairs as a mapping, refused (naming neither the name nor the value) when malformed or undeclared."""
    allowed = ", ".join(sorted(declared)) or "none: the bundle's Dockerfiles declare no ARG"
    parsed: dict[str, str] = {}
    for item in given:
        name, equals, value = item.partition("=")
        if not equals or not NAME.fullmatch(name):
            raise BundleError("--build-arg: not of the form NAME=VALUE\n"
                              f"  allowed: NAME=VALUE with NAME one of {allowed}")
        if name not in declared:
            raise BundleError("--build-arg: a name no Dockerfile of the bundle declares with ARG\n"
                              f"  allowed: {allowed}")
        parsed[name] = value
    return parsed


def build_args_for(dockerfile: str, build_args: dict[str, str]) -> dict[str, str]:
    """The arguments one image's Dockerfile declares, in name order, so each build gets only its own."""
    declared = declared_build_args(dockerfile)
    return {name: build_args[name] for name in sorted(build_args) if name in declared}
