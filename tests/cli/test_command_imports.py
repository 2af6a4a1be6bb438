"""Each command loads only what it uses: a `render` run does not import the scaffolding, image-building, smoke
and benchmark commands, nor the libraries only they (or the Pulumi components) need, so a render starts fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PROGRAM = """
import json, sys
from slm_deploy.cli.app import main
sys.argv = ["slm-deploy", *sys.argv[1:]]
try:
    main()
except SystemExit as exit_:
    code = exit_.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""
# libraries of other commands and of the Pulumi components; rich prints tables and errors, not a quiet render
NOT_FOR_RENDER = ("rich", "cookiecutter", "pulumi", "pulumi_kubernetes", "docker", "httpx", "aiohttp",
                  "prometheus_client", "slm_deploy.cli.new", "slm_deploy.cli.build", "slm_deploy.cli.check",
                  "slm_deploy.cli.pins", "slm_deploy.smoke.command", "slm_deploy.bench.command")


def _modules_after(*args: str) -> tuple[int, set[str]]:
    proc = subprocess.run([sys.executable, "-c", PROGRAM, *args], capture_output=True, text=True, check=True,
                          timeout=120)
    report = json.loads(proc.stdout.splitlines()[-1])
    return report["code"], set(report["modules"])


def _loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(f"{name}.") for m in modules)


def test_a_quiet_render_imports_nothing_of_the_other_commands(tmp_path: Path) -> None:
    code, modules = _modules_after("render", str(ROOT / "stacks/Pulumi.phi4-vllm-aks.yaml"), "--out",
                                   str(tmp_path / "bundle"), "-q")
    assert code == 0
    assert (tmp_path / "bundle/manifest.json").is_file()
    assert [name for name in NOT_FOR_RENDER if _loaded(modules, name)] == []


KUBERNETES_RENDERERS = ("slm_deploy.render.kubernetes.workloads", "slm_deploy.render.kubernetes.model_cache",
                        "slm_deploy.render.kubernetes.pods", "slm_deploy.render.kubernetes.network")
POLICY_PACK = ("slm_deploy.policies.registry", "slm_deploy.policies.rules")
OTHER_RUNTIMES = ("slm_deploy.runtimes.vllm", "slm_deploy.render.mlx_host", "slm_deploy.servers.ortgenai")
"""The vLLM adapter, the MLX host renderer and the ONNX server's settings: only specs of those runtimes load them."""
MONITORING_FILES = ("slm_deploy.render.monitoring.files", "slm_deploy.render.monitoring.rules",
                    "slm_deploy.render.monitoring.grafana")


@pytest.mark.parametrize(("stack", "not_loaded"), [
    # Compose and Docker only, no waivers: no Kubernetes renderer, no policy rule, no other runtime's adapter
    ("qwen3-llamacpp-edge", (*KUBERNETES_RENDERERS, *POLICY_PACK, *OTHER_RUNTIMES,
                             "slm_deploy.runtimes.foundry_local")),
    # a host install: nothing of Kubernetes, monitoring or the smoke test, and not the llama.cpp adapter
    ("foundry-windows", ("slm_deploy.render.kubernetes", *POLICY_PACK, *OTHER_RUNTIMES, *MONITORING_FILES,
                         "slm_deploy.smoke.from_spec", "slm_deploy.runtimes.llamacpp")),
    # monitored on Compose without Grafana: the rules are rendered, Grafana's configuration is not
    ("ollama-webui-compose", ("slm_deploy.render.monitoring.grafana", *OTHER_RUNTIMES)),
])
def test_a_render_loads_only_the_targets_and_runtime_its_spec_names(tmp_path: Path, stack: str,
                                                                    not_loaded: tuple[str, ...]) -> None:
    code, modules = _modules_after("render", str(ROOT / f"stacks/Pulumi.{stack}.yaml"), "--out",
                                   str(tmp_path / "bundle"), "-q")
    assert code == 0
    assert (tmp_path / "bundle/manifest.json").is_file()
    assert [name for name in not_loaded if _loaded(modules, name)] == []


def test_a_cluster_spec_still_loads_the_kubernetes_renderers(tmp_path: Path) -> None:
    code, modules = _modules_after("render", str(ROOT / "stacks/Pulumi.phi4-vllm-aks.yaml"), "--out",
                                   str(tmp_path / "bundle"), "-q")
    assert code == 0
    assert (tmp_path / "bundle/kubernetes/kustomization.yaml").is_file()
    assert (tmp_path / "bundle/monitoring/RUNBOOKS.md").is_file()
    assert [name for name in (*KUBERNETES_RENDERERS, *MONITORING_FILES, "slm_deploy.runtimes.vllm")
            if not _loaded(modules, name)] == []


def test_help_still_lists_every_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "slm_deploy.cli", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0
    for command in ("render", "validate", "schema", "new", "build", "check", "pins", "smoke", "bench",
                    "bench-report"):
        assert f" {command} " in proc.stdout
