"""Fixtures and the CrossGuard harness (hardening.md section 10.2) shared by the policy tests."""

from __future__ import annotations

import asyncio
import copy
import inspect
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pulumi_policy import (PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, ResourceValidationArgs,
                           StackValidationArgs)
from pulumi_policy.policy import _NotApplicableError as NotApplicable
from pulumi_policy.proxy import unknown_checking_proxy

from slm_deploy.policies.bundle import HOST_INSTALL, HOST_SCRIPTS, SQUID_CONFIG, SQUID_FILE
from slm_deploy.policies.crossguard import classify
from slm_deploy.policies.dockerfile import parse_dockerfile

HERE = Path(__file__).parent
COMPLIANT = HERE / "fixtures" / "compliant"
BROKEN = HERE / "broken"
SENTINEL = "s3cr3t-sentinel-never-printed"


@dataclass(frozen=True)
class Fixture:
    """One compliant object: its rule kind, Pulumi type token (None when Pulumi has none) and content."""

    name: str
    kind: str
    token: str | None
    manifest: Any = None
    text: str | None = None
    patch: bool = False
    location: str = ""
    extra: dict = field(default_factory=dict)

    def subject(self) -> Any:
        """What rules read: the parsed Dockerfile or the manifest."""
        return parse_dockerfile(self.text) if self.kind == "Dockerfile" else self.manifest

    def props(self) -> Any:
        """What CrossGuard passes as props for this fixture's resource."""
        if self.kind == "Dockerfile":
            return {"dockerfile": {"inline": self.text}, "push": False, "tags": ["registry.example/app:1"]}
        return self.manifest


def k8s_token(obj: dict) -> str:
    """The pulumi-kubernetes type token of a manifest (core group spelled core/v1)."""
    api = str(obj["apiVersion"])
    group = api if "/" in api else f"core/{api}"
    return f"kubernetes:{group}:{obj['kind']}"


def load_compliant() -> dict[str, Fixture]:
    """Every compliant fixture by name, plus a DeploymentPatch twin of the vLLM Deployment."""
    out: dict[str, Fixture] = {}
    for path in sorted(COMPLIANT.glob("docker/*/Dockerfile")):
        name = f"dockerfile-{path.parent.name}"
        out[name] = Fixture(name, "Dockerfile", "docker-build:index:Image", text=path.read_text(),
                            location=path.relative_to(COMPLIANT).as_posix())
    compose = COMPLIANT / "compose" / "compose.yaml"
    out["compose"] = Fixture("compose", "ComposeProject", None, yaml.safe_load(compose.read_text()),
                             location="compose/compose.yaml")
    for path in sorted((COMPLIANT / "kubernetes").glob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        out[path.stem] = Fixture(path.stem, obj["kind"], k8s_token(obj), obj,
                                 location=path.relative_to(COMPLIANT).as_posix())
    for path in sorted((COMPLIANT / "azure").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        kind, _ = classify(doc["type"])
        out[path.stem] = Fixture(path.stem, kind, doc["type"], doc["props"], location=path.name)
    for path in sorted(COMPLIANT.glob(f"docker/*/{SQUID_FILE}")):
        name = f"squid-{path.parent.name}"
        out[name] = Fixture(name, SQUID_CONFIG, None, {"file": path.name, "config": path.read_text()},
                            location=path.relative_to(COMPLIANT).as_posix())
    for path in sorted(p for p in (COMPLIANT / "hosts").glob("*/*") if p.name in HOST_SCRIPTS):
        name = f"host-{path.parent.name}-{path.name.replace('.', '-')}"
        out[name] = Fixture(name, HOST_INSTALL, None,
                            {"os": HOST_SCRIPTS[path.name], "file": path.name, "script": path.read_text()},
                            location=path.relative_to(COMPLIANT).as_posix())
    vllm = out["deployment-vllm"]
    out["deployment-vllm-patch"] = replace(vllm, name="deployment-vllm-patch",
                                           token="kubernetes:apps/v1:DeploymentPatch", patch=True)
    return out


def mutated(fixture: Fixture, apply) -> Fixture:
    """A copy of the fixture with one mutation applied (text for Dockerfiles, data otherwise)."""
    if fixture.kind == "Dockerfile":
        return replace(fixture, text=apply(fixture.text))
    manifest = copy.deepcopy(fixture.manifest)
    apply(manifest)
    return replace(fixture, manifest=manifest)


def _opts() -> PolicyResourceOptions:
    """Empty resource options, as the servicer builds them."""
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _run(result) -> None:
    """Drive an async validator the way the servicer does."""
    if inspect.isawaitable(result):
        asyncio.new_event_loop().run_until_complete(result)


def run_resource_policy(policy, token: str, props: Any, config: dict | None = None, name: str = "r",
                        not_applicable: list[str] | None = None) -> list[str]:
    """Run one ResourceValidationPolicy on proxied props; returns the violation messages.

    A policy that declares itself not applicable raises, as it does in the servicer; with a `not_applicable`
    list it yields no violations instead and its reason is appended there.
    """
    violations: list[str] = []
    args = ResourceValidationArgs(token, unknown_checking_proxy(props), f"urn:pulumi:test::p::{token}::{name}",
                                  name, _opts(), None, config or {})
    try:
        _run(policy.validate(args, lambda message, urn=None: violations.append(message)))
    except NotApplicable as skipped:
        if not_applicable is None:
            raise
        not_applicable.append(str(getattr(skipped, "reason", None) or skipped))
        return []
    return violations


def run_stack_policy(policy, fixtures: list[Fixture], config: dict | None = None) -> list[str]:
    """Run one StackValidationPolicy over the fixtures as stack resources (proxied outputs)."""
    return run_stack_policy_over(policy, [(f.token, f.name, f.props()) for f in fixtures if f.token], config)


def run_stack_policy_over(policy, resources: list[tuple[str, str, Any]], config: dict | None = None) -> list[str]:
    """Run one StackValidationPolicy over (type token, name, props) stack resources (proxied outputs)."""
    resources = [PolicyResource(token, unknown_checking_proxy(props), f"urn:pulumi:test::p::{token}::{name}", name,
                                _opts(), None, None, [], {})
                 for token, name, props in resources]
    violations: list[str] = []
    _run(policy.validate(StackValidationArgs(resources, config or {}),
                         lambda message, urn=None: violations.append(message)))
    return violations


def k8s_fixtures(fixtures: dict[str, Fixture]) -> list[Fixture]:
    """The Kubernetes objects of the compliant bundle (patch twin excluded)."""
    return [f for f in fixtures.values() if f.token and f.token.startswith("kubernetes:") and not f.patch]


def write_bundle(root: Path, fixtures: dict[str, Fixture]) -> Path:
    """Lay the compliant fixtures out as a rendered bundle (docker/, compose/, kubernetes/, hosts/)."""
    for fixture in fixtures.values():
        if fixture.patch or not fixture.location or fixture.kind in AZURE_KINDS:
            continue
        target = root / fixture.location
        target.parent.mkdir(parents=True, exist_ok=True)
        if fixture.kind == "Dockerfile":
            target.write_text(fixture.text)
        elif fixture.kind == HOST_INSTALL:
            target.write_text(fixture.manifest["script"])
        elif fixture.kind == SQUID_CONFIG:
            target.write_text(fixture.manifest["config"])
        else:
            target.write_text(yaml.safe_dump(fixture.manifest, sort_keys=False))
    return root


AZURE_KINDS = frozenset({"ManagedCluster", "AgentPool", "Vault", "KeyVaultSecret", "KeyVaultKey", "DiagnosticSetting",
                         "RoleAssignment", "FederatedIdentityCredential"})
