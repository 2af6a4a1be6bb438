"""The one predicate for host folders: pure (the policy pack imports it without pydantic), and what validate
accepts as a local model folder is exactly what slm-compose-012 lets a rendered project bind-mount."""

from __future__ import annotations

import importlib
import sys

import pytest

from slm_deploy.policies.registry import rule_by_id
from slm_deploy.spec.host_paths import mountable

FOLDERS = ["/srv/models/phi4", "/data/phi4", "/mnt/nfs/models", "/opt/models/phi4", "/srv/models/phi4/",
           "/", "/srv", "/home/alice/models", "/home/alice/.ssh", "/var/lib/containerd", "/var/lib/etcd",
           "/var/lib/rancher", "/var/log", "/var/spool/cron", "/lib64", "/opt/containerd", "/tmp/x",
           "/srv/models/.docker", "/data/.aws", "/srv/a/../../etc", "/srv/models/containerd.sock"]


def test_the_predicate_imports_without_pydantic(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("slm_deploy.spec.host_paths", "slm_deploy.policies.rules.compose_012_host_mounts"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "pydantic", None)  # any import of pydantic now raises ImportError
    rule = importlib.import_module("slm_deploy.policies.rules.compose_012_host_mounts")
    assert rule.RULE.id == "slm-compose-012"


@pytest.mark.parametrize("folder", FOLDERS)
def test_validate_and_the_compose_rule_agree(folder: str) -> None:
    project = {"services": {"server": {"volumes": [f"{folder}:/models/onnx:ro"]}}}
    findings = list(rule_by_id("slm-compose-012").evaluate(project, "ComposeProject"))
    assert (findings == []) == mountable(folder)
