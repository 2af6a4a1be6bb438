"""Specs that validate render, and their bundles pass `slm-deploy check`: the defaults, pass-through flags,
non-default bind addresses, container Foundry Local, and waivers of any rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.support.cli import run_in_process

DIGEST = "sha256:" + "a" * 64
SPECS = {
    "only the required fields": {"name": "demo", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "llamacpp"}},
    "ollama with the UI and defaults": {"name": "chat", "model": {"id": "qwen3-1.7b"},
                                        "runtime": {"kind": "ollama", "open_webui": {"enabled": True}}},
    "IPv6 loopback bind": {"name": "v6", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "llamacpp"},
                           "exposure": {"bind_address": "::1"}},
    "gateway on a LAN address": {"name": "lan", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "llamacpp"},
                                 "exposure": {"mode": "internal", "bind_address": "192.168.1.10"}},
    "allowed llama.cpp flags": {"name": "tuned", "model": {"id": "qwen3-1.7b"},
                                "runtime": {"kind": "llamacpp",
                                            "extra_args": ["--batch-size", "512", "--cache-type-k", "q8_0", "--no-mmap"]}},
    "Foundry Local in a container": {"name": "fl", "model": {"id": "phi-4-mini-instruct"},
                                     "runtime": {"kind": "foundry-local",
                                                 "image": f"ghcr.io/example/foundry-local:1.0@{DIGEST}"}},
    "reviewed remote code": {"name": "trusted", "model": {"id": "phi-4-mini-instruct"},
                             "runtime": {"kind": "vllm", "trust_remote_code": True},
                             "resources": {"gpu": {"type": "nvidia-a100-80gb"}},
                             "security": {"trust_remote_code_allowlist": ["microsoft/Phi-4-mini-instruct"]},
                             "targets": {"compose": {}, "kubernetes": {}, "docker": {"registry": "r.example"}}},
    "slots endpoint waived everywhere": {
        "name": "slots", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "llamacpp", "slots": True},
        "targets": {"compose": {}, "kubernetes": {"namespace": "llm"}, "docker": {"registry": "r.example"}},
        "waivers": [{"rule": "slm-serving-008", "resource": resource, "reason": "slot monitoring by on-call"}
                    for resource in ("docker/slots/Dockerfile", "compose/compose.yaml", "Deployment/llm/slots")]},
    "Kubernetes with a registry": {"name": "kube", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "llamacpp"},
                                   "targets": {"kubernetes": {}, "docker": {"registry": "registry.example:5000"}}},
}


def _render_and_check(tmp_path: Path, spec: dict) -> tuple[Path, dict]:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    validated = run_in_process("validate", str(path), "--json")
    assert validated.code == 0, validated.stderr
    bundle = tmp_path / "bundle"
    rendered = run_in_process("render", str(path), "--out", str(bundle))
    assert rendered.code == 0, rendered.stderr
    checked = run_in_process("check", str(bundle), "-f", "json")
    report = json.loads(checked.stdout)
    assert checked.code == 0 and report["findings"] == [], checked.stdout
    return bundle, report


@pytest.mark.parametrize("case", sorted(SPECS))
def test_what_validates_renders_and_passes_check(tmp_path: Path, case: str) -> None:
    _render_and_check(tmp_path, SPECS[case])


def test_default_targets_are_docker_and_compose(tmp_path: Path) -> None:
    bundle, _ = _render_and_check(tmp_path, SPECS["only the required fields"])
    assert (bundle / "compose" / "compose.yaml").is_file() and (bundle / "docker").is_dir()
    assert not (bundle / "kubernetes").exists()


def test_default_secrets_are_declared_for_the_gateway_and_ui(tmp_path: Path) -> None:
    bundle, _ = _render_and_check(tmp_path, SPECS["ollama with the UI and defaults"])
    compose = yaml.safe_load((bundle / "compose" / "compose.yaml").read_text())
    assert set(compose["secrets"]) == {"api-keys", "webui-secret-key", "webui-api-key"}


def test_ipv6_bind_is_bracketed_in_compose(tmp_path: Path) -> None:
    bundle, _ = _render_and_check(tmp_path, SPECS["IPv6 loopback bind"])
    compose = yaml.safe_load((bundle / "compose" / "compose.yaml").read_text())
    assert compose["services"]["v6-gateway"]["ports"] == ["[::1]:8080:8080"]


def test_allowed_flags_reach_the_command_line(tmp_path: Path) -> None:
    bundle, _ = _render_and_check(tmp_path, SPECS["allowed llama.cpp flags"])
    command = yaml.safe_load((bundle / "compose" / "compose.yaml").read_text())["services"]["tuned"]["command"]
    assert command[-5:] == ["--batch-size", "512", "--cache-type-k", "q8_0", "--no-mmap"]


def test_the_allow_list_reaches_check_through_the_manifest(tmp_path: Path) -> None:
    bundle, _ = _render_and_check(tmp_path, SPECS["reviewed remote code"])
    assert json.loads((bundle / "manifest.json").read_text())["policy_config"] == {
        "slm-serving-001": {"trustRemoteCodeAllowlist": ["microsoft/Phi-4-mini-instruct"]}}
    manifest = json.loads((bundle / "manifest.json").read_text())
    del manifest["policy_config"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    unreviewed = run_in_process("check", str(bundle), "-f", "json")
    assert unreviewed.code == 1
    assert {f["rule"] for f in json.loads(unreviewed.stdout)["findings"]} == {"slm-serving-001"}


def test_shared_memory_reaches_compose_for_every_runtime(tmp_path: Path) -> None:
    bundle, _ = _render_and_check(tmp_path, {**SPECS["only the required fields"], "resources": {"shm_size": "1Gi"}})
    assert yaml.safe_load((bundle / "compose" / "compose.yaml").read_text())["services"]["demo"]["shm_size"] == "1024m"


def test_a_waiver_may_name_a_kubernetes_rule(tmp_path: Path) -> None:
    waiver = {"rule": "slm-k8s-012", "resource": "Deployment/kube/kube", "reason": "pulled through a reviewed cache"}
    bundle, report = _render_and_check(tmp_path, {**SPECS["Kubernetes with a registry"], "waivers": [waiver]})
    assert report["waiversUnused"] == [waiver]
    assert json.loads((bundle / "manifest.json").read_text())["waivers"] == [waiver]


KUBE = {"kubernetes": {}, "docker": {"registry": "r.example"}}
REFUSED_AT_VALIDATE = {
    "autoscaling ollama without the gateway": (
        {"name": "as", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "ollama"}, "targets": KUBE,
         "serving": {"auth": {"enabled": False}, "autoscaling": {"enabled": True}}},
        "serving.autoscaling.enabled: the gateway measures the queue for every runtime"),
    "scale to zero without the gateway": (
        {"name": "as", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "llamacpp"}, "targets": KUBE,
         "serving": {"auth": {"enabled": False},
                     "autoscaling": {"enabled": True, "min_replicas": 0, "scale_to_zero": True}}},
        "serving.autoscaling.enabled: the gateway measures the queue for every runtime"),
    "startup budget below the model's need": (
        {"name": "sb", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "llamacpp"},
         "serving": {"startup_budget_seconds": 60}},
        "serving.startup_budget_seconds: is shorter than the model needs"),
    "a time-to-first-token SLO below every histogram bucket": (
        {"name": "slo", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "llamacpp"},
         "monitoring": {"enabled": True, "slo": {"ttft_p95_seconds": 1e-9}}},
        "monitoring.slo.ttft_p95_seconds: is below the smallest histogram bucket the metrics have"),
}


@pytest.mark.parametrize("case", sorted(REFUSED_AT_VALIDATE))
def test_what_render_would_refuse_is_refused_by_validate_with_its_line(tmp_path: Path, case: str) -> None:
    spec, message = REFUSED_AT_VALIDATE[case]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    for command in (("validate", str(path)), ("render", str(path), "--out", str(tmp_path / "out"))):
        result = run_in_process(*command)
        assert result.code == 2 and "Traceback" not in result.stderr, result.stderr
        assert "spec.yaml:" in result.stderr and message in result.stderr
    assert not (tmp_path / "out").exists()


KUBE_SPEC = SPECS["Kubernetes with a registry"]
STALE_WAIVERS = {
    "an object the bundle does not hold": ("slm-k8s-012", "Deployment/kube/kube-canary-7f3a"),
    "a path the bundle does not hold": ("slm-compose-013", "compose/compose-canary-7f3a.yaml"),
    "a resource the rule does not judge": ("slm-k8s-012", "Service/kube/kube"),
    "a bundle-wide rule's name on a per-object rule": ("slm-k8s-012", "bundle"),
}


@pytest.mark.parametrize("case", sorted(STALE_WAIVERS))
def test_a_waiver_that_matches_nothing_in_the_bundle_is_refused(tmp_path: Path, case: str) -> None:
    rule, resource = STALE_WAIVERS[case]
    spec = {**KUBE_SPEC, "targets": {**KUBE_SPEC["targets"], "compose": {}},
            "waivers": [{"rule": "slm-k8s-012", "resource": "Deployment/kube/kube", "reason": "a reviewed cache"},
                        {"rule": rule, "resource": resource, "reason": "reviewed by the platform team"}]}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    for command in (("validate", str(path)), ("render", str(path), "--out", str(tmp_path / "out"))):
        result = run_in_process(*command)
        assert result.code == 2 and "Traceback" not in result.stderr, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "spec.yaml:" in errors[0], result.stderr
        assert f"waivers[1].resource: names nothing in the rendered bundle that {rule} judges" in errors[0]
        assert "allowed: a resource the rule judges" in result.stderr
        assert "canary" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_waiver_may_name_the_bundle_for_a_bundle_wide_rule(tmp_path: Path) -> None:
    waiver = {"rule": "slm-k8s-015", "resource": "bundle", "reason": "the platform's own default deny applies"}
    _, report = _render_and_check(tmp_path, {**KUBE_SPEC, "waivers": [waiver]})
    assert report["waiversUnused"] == [waiver]


@pytest.mark.parametrize("spelling", ["0::1", "0:0:0:0:0:0:0:1", "0000::0001"])
def test_a_loopback_address_in_any_spelling_renders_canonical_and_passes_check(tmp_path: Path, spelling: str) -> None:
    spec = {"name": "v6", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "llamacpp"},
            "serving": {"auth": {"enabled": False}}, "exposure": {"bind_address": spelling}}
    bundle, _ = _render_and_check(tmp_path, spec)
    assert "[::1]:" in (bundle / "compose" / "compose.yaml").read_text()


def test_the_gateway_rule_parses_addresses_rather_than_matching_prefixes() -> None:
    from slm_deploy.policies.rules.compose_007_published_ports import binds_every_interface
    from slm_deploy.policies.rules.serving_002_gateway_auth import is_loopback

    assert is_loopback("[0:0::1]") and is_loopback("127.0.0.2") and is_loopback("localhost")
    assert not is_loopback("127.example.com") and not is_loopback("::10") and not is_loopback("10.0.0.1")
    assert binds_every_interface("[0::0]") and binds_every_interface(None) and not binds_every_interface("::1")
