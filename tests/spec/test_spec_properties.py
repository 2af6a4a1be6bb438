"""The promises every spec keeps, checked over specs generated from the published JSON Schema:

- `validate` exits 0 exactly when `render` exits 0 (and nothing else but 0 or 2);
- every rendered bundle passes `slm-deploy check` with no findings (waived ones aside);
- every refused spec exits 2 with no traceback, names a file, line and field path, writes nothing, and
  prints none of the canary strings planted in its values.

A few hundred examples run by default; set SLM_DEPLOY_PROPERTY_EXAMPLES for a longer hunt.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from slm_deploy.policies.registry import all_rules
from slm_deploy.spec.catalogue import catalogue
from slm_deploy.spec.images import pins_table
from slm_deploy.spec.resolve import _catalogue_source
from slm_deploy.spec.schema import deployment_schema, deployment_schema_text
from tests.conftest import CliResult, run_cli
from tests.spec.schema_strategies import SpecStrategies
from tests.support.cli import run_in_process

EXAMPLES = int(os.environ.get("SLM_DEPLOY_PROPERTY_EXAMPLES", "250"))
CANARY = "zqxcanary"
LOCATED = re.compile(r"^error: .+?\.yaml:\d+(:\d+)?: \S+", re.MULTILINE)
SCHEMA = deployment_schema()

_images = st.sampled_from(sorted(p.image.reference for p in pins_table().values()))
_addresses = st.sampled_from(["127.0.0.1", "::1", "10.1.2.3", "fd00::10", "fe80::1", "239.1.2.3"])
PLAUSIBLE = {
    "model": st.fixed_dictionaries({}, optional={"context_length": st.sampled_from([2048, 4096, 8192])}),
    "runtime.image": _images,
    "runtime.open_webui.image": _images,
    "security.base_images": st.dictionaries(st.sampled_from(sorted(pins_table())), _images, max_size=2),
    "exposure.bind_address": _addresses,
    "targets.host.bind_address": _addresses,
    "targets.host.allowed_clients": st.sampled_from([[], ["10.1.2.0/24"], ["fd00::/64"]]),
    "targets.docker.registry": st.sampled_from(["registry.example:5000", "myregistry.azurecr.io"]),
    "serving.auth.api_keys_secret": st.just("api-keys"),
    "runtime.extra_args": st.sampled_from([[], ["--seed", "7"], ["--seed=42"], ["--tool-call-parser", "hermes"],
                                           ["--reasoning-parser=qwen3"], ["--chat-template", "chatml"],
                                           ["--chat-template", "zqxtemplate"], ["--tool-call-parser", "zqxparser"]]),
    "runtime.open_webui.secret_key_secret": st.just("webui-secret-key"),
    "runtime.open_webui.api_key_secret": st.just("webui-api-key"),
    "runtime.env": st.dictionaries(st.sampled_from([
        "OMP_NUM_THREADS", "OLLAMA_DEBUG", "VLLM_LOGGING_LEVEL", "LLAMA_ARG_ENDPOINT_SLOTS", "LLAMA_ARG_CTX_SIZE",
        "VLLM_TRUST_REMOTE_CODE", "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "HF_ENDPOINT", "LD_PRELOAD", "HTTPS_PROXY",
        "OLLAMA_HOST", "OLLAMA_CONTEXT_LENGTH", "SLM_PORT", "PYTHONPATH", "HOME", "OLLAMA_LOAD_TIMEOUT",
        "OMP_WAIT_POLICY", "OLLAMA_REMOTES", "NVIDIA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES", "LLAMA_LOG_VERBOSITY",
        "OLLAMA_NOHISTORY", "OLLAMA_GPU_OVERHEAD", "VLLM_ENABLE_RESPONSES_API_STORE", "VLLM_ROCM_USE_AITER",
        "OLLAMA_SCHED_SPREAD", "VLLM_ENGINE_READY_TIMEOUT_S", "VLLM_USE_FASTOKENS", "PYTORCH_CUDA_ALLOC_CONF",
        "VLLM_USE_AOT_COMPILE", "VLLM_TRITON_USE_TD", "VLLM_TRITON_ATTN_USE_TD", "GGML_KLEIDIAI_SME", "KMP_BLOCKTIME",
        "OLLAMA_NEW_ENGINE"]),
        st.sampled_from(["1", "true", "info", "no", "1GiB", "5m", "9223372037", "-5", "2", "5\u00b5s", "0\u03bcs",
                         "passive"]),
        max_size=2),
    "runtime.modelfile.parameters": st.dictionaries(
        st.sampled_from(["temperature", "top_k", "top_p", "seed", "stop", "use_mmap", "num_ctx", "num_thread",
                         "num_gpu", "zqxparam", "repeat_penalty", "typical_p"]),
        st.one_of(st.booleans(), st.integers(-5, 100), st.sampled_from([262208, 262209]),
                  st.floats(-1, 2, allow_nan=False),
                  st.sampled_from([2 ** 63 - 1, 2 ** 63, 1e39, "END", "hot", "<|im_end|>", "\n\n", ' x" ', "\x00x",
                                   'a"""\nb', "", [], ["<|eot_id|>", "\n\nUser:"], [""], [1], ["\U0001fae8"],
                                   ["\U0001fae9"]])),
        max_size=3),
    "waivers": st.lists(st.fixed_dictionaries({
        "rule": st.sampled_from(sorted(rule.id for rule in all_rules())),
        "resource": st.sampled_from(["compose/compose.yaml", "Deployment/demo/demo"]),
        "reason": st.just("reviewed by the platform team"),
    }), max_size=2),
}
"""Paths where the plausible stream draws known-good values instead of random text."""


def _models_for(runtime: str) -> list[str]:
    return sorted(model_id for model_id, entry in catalogue().items()
                  if _catalogue_source(entry, runtime) and not (runtime == "vllm" and entry.gated))


LOCAL_ONNX_PATHS = ["/srv/models/phi4", "/opt/models/phi4/cpu", "/data/phi4", "/mnt/disk/phi4", "/", "/etc",
                    "/var/run/docker.sock", "../../..", "/srv/../etc", "models/phi4", "/home", "/root/models", "//etc",
                    "/var/lib", "/home/alice/models", "/home/alice/.ssh", "/var/lib/containerd", "/var/log",
                    "/srv/models/.docker", "/srv", "/opt/cni/bin"]
"""Local ONNX model folders: ones a container may mount, and ones slm-compose-012 keeps from containers."""


def _with_a_catalogue_model(spec: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Pick a catalogue model the drawn runtime can load (vLLM gets a GPU, as it needs); ONNX Runtime also
    draws local model folders."""
    runtime = spec["runtime"]["kind"]
    resources = dict(spec.get("resources") or {})
    if runtime == "vllm" and not resources.get("gpu"):
        resources["gpu"] = {"type": "nvidia-a100-80gb"}
    catalogued = st.sampled_from(_models_for(runtime)).map(
        lambda model_id: {**spec, "model": {**spec["model"], "id": model_id}, "resources": resources})
    if runtime != "onnxruntime":
        return catalogued
    local = st.sampled_from(LOCAL_ONNX_PATHS).map(lambda path: {**spec, "resources": resources, "model": {
        **spec["model"], "source": {"kind": "onnx", "path": path}, "parameters_billion": 3.8}})
    return st.one_of(catalogued, local)


PLAUSIBLE_SPECS = SpecStrategies(SCHEMA, PLAUSIBLE).strategy().flatmap(_with_a_catalogue_model)
RAW_SPECS = SpecStrategies(SCHEMA).strategy()
SPECS = st.integers(0, 3).flatmap(lambda n: RAW_SPECS if n == 0 else PLAUSIBLE_SPECS)
"""Three plausible specs for every raw one."""


@st.composite
def with_canaries(draw: st.DrawFn, spec: Any) -> tuple[Any, list[str]]:
    """In a third of the specs, replace some string values with canaries (valid as names, so some reach the later
    checks and the messages those produce)."""
    planted: list[str] = []
    if draw(st.integers(0, 2)) != 0:
        return spec, planted

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, str) and draw(st.integers(0, 3)) == 0:
            planted.append(f"{CANARY}{len(planted)}")
            return planted[-1]
        return node

    return walk(spec), planted


def _refused_cleanly(result: CliResult, planted: list[str]) -> None:
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert LOCATED.search(result.stderr), f"no file:line: path in\n{result.stderr}"
    for canary in planted:
        assert canary not in result.stdout + result.stderr, f"echoed a value:\n{result.stderr}"


def _check_findings(bundle: Path) -> list[dict[str, Any]]:
    result = run_in_process("check", str(bundle), "-f", "json")
    assert result.code in (0, 1), result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert (result.code == 0) == (findings == [])
    return findings


def _promises_hold(spec: Any, planted: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="slm-property-") as scratch:
        path, bundle = Path(scratch) / "spec.yaml", Path(scratch) / "bundle"
        path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
        validated = run_in_process("validate", str(path), "--json")
        rendered = run_in_process("render", str(path), "--out", str(bundle))
        assert validated.code == rendered.code, (validated.stderr, rendered.stderr)
        event("rendered" if validated.code == 0 else "refused")
        if validated.code == 0:
            assert _check_findings(bundle) == []
        else:
            for result in (validated, rendered):
                _refused_cleanly(result, planted)
            assert not bundle.exists()


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_spec_is_refused_clearly_or_rendered_and_passes_check(data: st.DataObject) -> None:
    spec = data.draw(SPECS, label="spec")
    spec, planted = data.draw(with_canaries(spec), label="with canaries")
    _promises_hold(spec, planted)


@settings(max_examples=3, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=PLAUSIBLE_SPECS)
def test_the_console_script_agrees_with_the_in_process_runs(spec: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="slm-property-") as scratch:
        path = Path(scratch) / "spec.yaml"
        path.write_text(yaml.safe_dump(spec), encoding="utf-8")
        for command in (["validate", str(path), "--json"], ["render", str(path), "--out", f"{scratch}/b"]):
            real, in_process = run_cli(*command), run_in_process(*command)
            assert (real.code, real.stdout, real.stderr) == (in_process.code, in_process.stdout, in_process.stderr)


def test_the_strategies_draw_from_the_schema_the_cli_publishes() -> None:
    assert run_cli("schema").stdout == deployment_schema_text()
