"""The rule model shared by the CrossGuard pack and the offline checker."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

RULE_ID = re.compile(r"^slm-(docker|k8s|aks|secrets|compose|serving)-[0-9]{3}$")


class Severity(str, Enum):
    """How bad a violation is; ordered so a threshold can be compared."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position in the order low < medium < high < critical."""
        return list(Severity).index(self)

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Accept a severity name in any case, so CLI flags read naturally."""
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            allowed = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity; allowed: {allowed}") from None


@dataclass(frozen=True)
class Benchmark:
    """A control in a public benchmark that a rule maps to, so auditors can cross-check."""

    framework: str
    version: str
    ids: tuple[str, ...]

    def tags(self) -> tuple[str, ...]:
        """Flat tags such as `cis-docker-1.6.0:4.1` for the Pulumi output."""
        slug = re.sub(r"[^a-z0-9.]+", "-", f"{self.framework} {self.version}".lower()).strip("-")
        return tuple(f"{slug}:{i}" for i in self.ids)


PSS = "Kubernetes Pod Security Standards"
CIS_DOCKER = "CIS Docker Benchmark"
CIS_K8S = "CIS Kubernetes Benchmark"
CIS_AKS = "CIS Azure Kubernetes Service Benchmark"
NSA = "NSA/CISA Kubernetes Hardening Guidance"
TRIVY = "Trivy"
HADOLINT = "Hadolint"
KICS = "KICS"

BENCHMARK_VERSIONS = {
    PSS: "v1.33",
    CIS_DOCKER: "1.6.0",
    CIS_K8S: "1.10",
    CIS_AKS: "1.8",
    NSA: "1.2",
    TRIVY: "0.6x",
    HADOLINT: "2.12",
    KICS: "2.x",
}


def bench(framework: str, *ids: str) -> Benchmark:
    """Build a Benchmark with the version this pack pins for the framework."""
    return Benchmark(framework, BENCHMARK_VERSIONS[framework], tuple(ids))


@dataclass(frozen=True)
class Option:
    """One per-rule setting: its JSON schema carries the default the code uses."""

    name: str
    schema: Mapping[str, Any]
    description: str

    @property
    def default(self) -> Any:
        """The value used when the policy config leaves the option out."""
        return self.schema["default"]


@dataclass(frozen=True)
class Violation:
    """One failed check; the message names fields and expectations, never values."""

    message: str
    line: int | None = None


@dataclass(frozen=True)
class Context:
    """What a rule knows besides the manifest: its kind, patch mode and config."""

    kind: str
    options: tuple[Option, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    patch: bool = False

    def get(self, name: str) -> Any:
        """The configured value of an option, or the schema default."""
        for option in self.options:
            if option.name == name:
                value = self.config.get(name) if self.config is not None else None
                return option.default if value is None else value
        raise KeyError(f"rule has no option {name!r}")

    def get_int(self, name: str) -> int:
        """An integer option; config numbers arrive as floats through protobuf."""
        return int(self.get(name))

    def get_list(self, name: str) -> tuple[str, ...]:
        """A list-of-strings option as a tuple."""
        return tuple(str(x) for x in (self.get(name) or ()))


Check = Callable[[Any, Context], Iterable["Violation | str"]]

Scope = Literal["resource", "bundle"]


@dataclass(frozen=True)
class Rule:
    """A policy rule: metadata for reviewers plus a pure check over a manifest."""

    id: str
    name: str
    severity: Severity
    controls: tuple[str, ...]
    kinds: frozenset[str]
    rationale: str
    remediation: str
    benchmarks: tuple[Benchmark, ...]
    check: Check
    tags: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    scope: Scope = "resource"
    crossguard: bool = True

    def all_tags(self) -> list[str]:
        """Own tags, control numbers and every benchmark id, for CrossGuard and SARIF."""
        out = list(self.tags) + [f"control:{c}" for c in self.controls]
        for b in self.benchmarks:
            out.extend(b.tags())
        return out

    def config_defaults(self) -> dict[str, Any]:
        """The defaults the config schema declares, keyed by option name."""
        return {o.name: o.default for o in self.options}

    def evaluate(self, subject: Any, kind: str, config: Mapping[str, Any] | None = None,
                 patch: bool = False) -> list[Violation]:
        """Run the check and normalise what it yields into Violations."""
        ctx = Context(kind=kind, options=self.options, config=config or {}, patch=patch)
        out: list[Violation] = []
        for item in self.check(subject, ctx):
            out.append(item if isinstance(item, Violation) else Violation(str(item)))
        return out
