"""A deployment's namespace is its own: never the cluster's, never where a cluster add-on runs (its deny-all
NetworkPolicy and quota would cut the add-on off), and a bundled monitoring stack's namespace is its own too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from slm_deploy.spec.cluster_namespaces import ADD_ON_NAMESPACES, SYSTEM_NAMESPACES
from tests.support.cli import CliResult, run_in_process

KUBERNETES: dict[str, Any] = {"name": "demo", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "llamacpp"},
                              "targets": {"kubernetes": {}, "docker": {"registry": "registry.example"}}}
INGRESS = {"mode": "ingress", "host": "llm.contoso.com"}
ADD_ONS = ["cert-manager", "ingress-nginx", "nvidia-device-plugin", "app-routing-system", "keda",
           "gatekeeper-system", "external-secrets"]
"""Written out, so a name dropped from the table fails here."""


def _spec(kubernetes: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    spec = {**KUBERNETES, **top}
    spec["targets"] = {**KUBERNETES["targets"], "kubernetes": kubernetes or {}}
    return spec


def _validate(tmp_path: Path, spec: dict[str, Any]) -> CliResult:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return run_in_process("validate", str(path))


def _refused(tmp_path: Path, spec: dict[str, Any], field: str, words: str) -> None:
    result = _validate(tmp_path, spec)
    assert result.code == 2, result.stdout
    assert "Traceback" not in result.stderr
    assert f"{field}: " in result.stderr and words in result.stderr, result.stderr
    assert len([line for line in result.stderr.splitlines() if not line.startswith(" ")]) == 1, result.stderr
    assert "  allowed: " in result.stderr


def test_the_table_names_every_add_on_a_bundle_installs_or_relies_on() -> None:
    assert set(ADD_ONS) == set(ADD_ON_NAMESPACES)


@pytest.mark.parametrize("namespace", ADD_ONS + sorted(SYSTEM_NAMESPACES) + ["kube-team", "kube-xcanaryx-ghp-9f8e7d6c5b4a"])
def test_a_cluster_or_add_on_namespace_is_refused(namespace: str, tmp_path: Path) -> None:
    _refused(tmp_path, _spec({"namespace": namespace}), "targets.kubernetes.namespace", "deny-all NetworkPolicy")


def test_a_name_that_becomes_an_add_on_namespace_is_refused_at_the_name(tmp_path: Path) -> None:
    _refused(tmp_path, _spec(name="cert-manager"), "name", "targets.kubernetes.namespace is unset")


def test_a_name_in_the_prefix_kubernetes_reserves_is_refused_at_the_name(tmp_path: Path) -> None:
    _refused(tmp_path, _spec(name="kube-bot"), "name", "targets.kubernetes.namespace is unset")


def test_an_aks_target_alone_is_judged_the_same(tmp_path: Path) -> None:
    spec = {**KUBERNETES, "name": "keda",
            "targets": {"aks": {"private_cluster": True}, "docker": {"registry": "registry.example"}}}
    _refused(tmp_path, spec, "name", "KEDA")


@pytest.mark.parametrize(("mode", "owner"), [("bundled", "the bundled monitoring stack"),
                                             ("existing", "the Prometheus that scrapes")])
def test_the_monitoring_namespace_is_refused_while_its_prometheus_scrapes(mode: str, owner: str,
                                                                          tmp_path: Path) -> None:
    spec = _spec({"namespace": "observability", "monitoring_namespace": "observability"},
                 monitoring={"mode": mode})
    _refused(tmp_path, spec, "targets.kubernetes.namespace", owner)
    _refused(tmp_path, _spec(name="monitoring", monitoring={"mode": mode}), "name", owner)


def test_the_monitoring_namespace_is_free_when_monitoring_is_off(tmp_path: Path) -> None:
    result = _validate(tmp_path, _spec({"namespace": "monitoring"}, monitoring={"enabled": False}))
    assert result.code == 0, result.stderr


def test_the_ingress_controller_namespace_is_refused_with_an_ingress(tmp_path: Path) -> None:
    spec = _spec({"namespace": "edge", "ingress_namespace": "edge"}, exposure=INGRESS)
    _refused(tmp_path, spec, "targets.kubernetes.namespace", "the ingress controller")


@pytest.mark.parametrize("namespace", ["kube-system", "cert-manager", "default"])
def test_a_bundled_monitoring_stack_never_moves_into_a_taken_namespace(namespace: str, tmp_path: Path) -> None:
    _refused(tmp_path, _spec({"monitoring_namespace": namespace}, monitoring={"mode": "bundled"}),
             "targets.kubernetes.monitoring_namespace", "relabel")


def test_a_dedicated_namespace_validates(tmp_path: Path) -> None:
    result = _validate(tmp_path, _spec({"namespace": "llm-serving"}, exposure=INGRESS))
    assert result.code == 0, result.stderr
