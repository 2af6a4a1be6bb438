"""Every flag, variable, probe path and metric the adapters render exists in the pinned runtime's record."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from slm_deploy.pins.interfaces import RUNTIMES, available, load
from slm_deploy.pins.table import read_pins
from slm_deploy.render.bundle import render_bundle
from slm_deploy.spec.loader import load_deployment
from tests.conftest import ROOT, STACKS
from tests.render.kubernetes_cases import SPECS_DIR
from tests.support.interfaces import Findings, check_metric_names, check_plan

SPECS = sorted([*STACKS, *SPECS_DIR.glob("*.yaml"), *ROOT.glob("tests/**/specs/*.yaml")])
PINS = read_pins(ROOT / "components/runtimes/pins.yaml")


def _spec_id(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def _rendered_texts(deployment) -> list[str]:
    """Drains and autoscaler queries as rendered: every preStop command and ScaledObject trigger."""
    texts = []
    for path, text in render_bundle(deployment).files.items():
        if not path.startswith(("kubernetes/", "monitoring/")) or not path.endswith((".yaml", ".yml")):
            continue
        for document in yaml.safe_load_all(text):
            if not isinstance(document, dict):
                continue
            if path.startswith("monitoring/"):
                texts.append(text)
                break
            texts.append(yaml.safe_dump(_drains_and_triggers(document)))
    return texts


def _drains_and_triggers(document: dict) -> list:
    template = document.get("spec", {}).get("template", {}).get("spec", {})
    found = [c.get("lifecycle", {}).get("preStop") for c in template.get("containers", [])]
    found += [t.get("metadata") for t in document.get("spec", {}).get("triggers", []) or []]
    return [f for f in found if f]


@pytest.mark.parametrize("spec", SPECS, ids=_spec_id)
def test_everything_a_spec_renders_exists_in_the_pinned_runtime(spec: Path) -> None:
    deployment = load_deployment(spec)
    findings = check_plan(deployment)
    check_metric_names(_rendered_texts(deployment), findings)
    assert not findings.missing, f"no interface record for {sorted(findings.missing)} (components/runtimes/interfaces/)"
    assert findings.violations == []


def test_putting_a_removed_vllm_flag_back_fails_naming_runtime_flag_and_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """An adapter that renders a flag vLLM removed (as ours once did) is caught, whatever the spec allows."""
    from slm_deploy.runtimes import vllm

    rendered = vllm._args
    monkeypatch.setattr(vllm, "_args", lambda deployment, port: (*rendered(deployment, port), "--disable-log-requests"))
    findings = check_plan(load_deployment(ROOT / "stacks/Pulumi.phi4-vllm-aks.yaml"))
    assert findings.violations == ["vllm v0.26.0 has no flag --disable-log-requests (service phi4-mini)"]


def test_a_llama_server_flag_removed_before_the_pinned_build_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """An adapter that renders a flag llama-server dropped is caught against the record of the pinned build."""
    from slm_deploy.runtimes import llamacpp

    rendered = llamacpp._args
    monkeypatch.setattr(llamacpp, "_args", lambda deployment, port, model: (*rendered(deployment, port, model), "--memory-f32"))
    findings = check_plan(load_deployment(ROOT / "stacks/Pulumi.qwen3-llamacpp-edge.yaml"))
    assert findings.violations == ["llamacpp b10133 has no flag --memory-f32 (service qwen3-edge)"]


def test_an_unknown_environment_variable_and_probe_path_are_named() -> None:
    from dataclasses import replace

    from slm_deploy.runtimes import plan_deployment
    from tests.support import interfaces

    deployment = load_deployment(ROOT / "stacks/Pulumi.ollama-webui-compose.yaml")
    server = plan_deployment(deployment).by_role("runtime")[0]
    broken = replace(server, env=server.env + (("OLLAMA_NO_SUCH_KNOB", "1"),),
                     health=interfaces.HttpCheck("/healthz", server.port))
    findings = Findings()
    interfaces._check_service(broken, findings)
    assert findings.violations == [
        "ollama 0.24.0 serves no /healthz (probe of assistant)",
        "ollama 0.24.0 reads no environment variable OLLAMA_NO_SUCH_KNOB (service assistant)",
    ]


def test_a_metric_name_the_exporter_does_not_have_is_named() -> None:
    findings = Findings()
    check_metric_names(['query: sum(vllm:cache_usage_ratio{namespace="x"}) + sum(vllm:gpu_cache_usage_perc)'],
                       findings)
    assert findings.violations == ["vllm v0.26.0 exports no metric vllm:cache_usage_ratio"]  # the second is an
    # older release's spelling the vocabulary declares (older_releases), read so older images feed the same series


@pytest.mark.parametrize("runtime", available(), ids=str)
def test_every_record_file_has_the_shared_shape_and_sorted_lists(runtime: str) -> None:
    rec = load(runtime)
    path = ROOT / "components/runtimes/interfaces" / f"{runtime}.yaml"
    document = yaml.safe_load(path.read_text())
    for name in ("flags", "env", "metrics", "endpoints", "persistent_env", "data_paths", "commands", "sources"):
        values = document.get(name) or []
        assert values == sorted(set(values)), f"{path.name}: {name} is not sorted and de-duplicated"
    assert rec.derived_by.startswith("slm_deploy.pins.interfaces.")
    assert rec.sources, f"{path.name} names no public source"


@pytest.mark.parametrize("row", [r for r in PINS if r.key in RUNTIMES], ids=lambda r: r.key)
def test_each_record_describes_the_version_pins_yaml_pins(row) -> None:
    rec = load(row.key)
    assert row.key in rec.pin
    assert _bare(rec.version) == _bare(row.tag), f"{row.key}.yaml describes {rec.version}, pins.yaml pins {row.tag}"


def _bare(version: str) -> str:
    """v0.26.0 -> 0.26.0, server-b10133 -> 10133: the version number a tag and a record both carry."""
    return re.sub(r"^(server-)?[vb]?", "", version)
