"""What each runtime needs from its container that static judges cannot see: identity, memory, the hub token,
configuration that takes effect on every start, and data that stays visible."""

from __future__ import annotations

import math
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from slm_deploy.pins.interfaces import load
from slm_deploy.runtimes import plan_deployment
from slm_deploy.runtimes.llamacpp import fetch_script
from slm_deploy.runtimes.ollama import WEBUI_BAKED_CACHE
from slm_deploy.spec.loader import load_deployment
from slm_deploy.spec.quantity import GIB
from slm_deploy.spec.sizing import (
    HEADROOM, LOAD_STAGING_FRACTION, VLLM_API_SERVER_BYTES, VLLM_GPU_PROCESS_BYTES,
)
from tests.conftest import ROOT
from tests.render.kubernetes_cases import SPECS_DIR, kubernetes_files

VLLM_STACK = ROOT / "stacks/Pulumi.phi4-vllm-aks.yaml"
WEBUI_SPECS = [ROOT / "stacks/Pulumi.ollama-webui-compose.yaml", SPECS_DIR / "ollama-webui-internal.yaml",
               SPECS_DIR / "ollama-no-gateway.yaml"]


def _service(spec: Path, role: str):
    return next(s for s in plan_deployment(load_deployment(spec)).services if s.role == role)


def test_vllm_runs_as_a_named_user_without_a_passwd_entry() -> None:
    env = dict(_service(VLLM_STACK, "runtime").env)
    assert env["USER"] == env["LOGNAME"] == "slm" and env["HOME"].startswith("/var/cache/slm")


def test_vllm_host_memory_covers_its_processes_load_staging_and_shared_memory() -> None:
    deployment = load_deployment(VLLM_STACK)
    sizing, gpus = deployment.sizing, deployment.spec.resources.gpu.count
    need = VLLM_API_SERVER_BYTES + gpus * VLLM_GPU_PROCESS_BYTES + sizing.weights_bytes // LOAD_STAGING_FRACTION
    need += sizing.shm_bytes
    assert sizing.host_memory_bytes == math.ceil(need * HEADROOM / GIB) * GIB
    assert sizing.host_memory_bytes >= sizing.weights_bytes + sizing.shm_bytes  # the 7.2 GiB model and 2 GiB shm fit
    server = _service(VLLM_STACK, "runtime")
    assert server.memory_bytes == sizing.host_memory_bytes
    args = list(server.args)
    assert float(args[args.index("--gpu-memory-utilization") + 1]) == round(sizing.gpu_memory_utilisation, 2)


class _Hub(BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).seen.append(self.headers.get("Authorization"))
        body = b"GGUF-bytes"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        return


def test_llamacpp_download_sends_the_raw_token_file_as_a_bearer_header(tmp_path: Path) -> None:
    token = tmp_path / "hf-token"
    token.write_text("hf_raw_token_value\r\n")  # the same raw file vLLM and the ONNX step read via HF_TOKEN_PATH
    hub = ThreadingHTTPServer(("127.0.0.1", 0), type("Hub", (_Hub,), {"seen": []}))
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    target = tmp_path / "gguf" / "model.gguf"
    script = fetch_script(f"http://127.0.0.1:{hub.server_port}/m.gguf", str(target), None, str(token))
    script = script.replace("/models/gguf", str(tmp_path / "gguf"))
    try:
        result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60,
                                env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)})
    finally:
        hub.shutdown()
    assert result.returncode == 0, result.stderr
    assert hub.RequestHandlerClass.seen == ["Bearer hf_raw_token_value"]
    assert target.read_bytes() == b"GGUF-bytes"
    assert "hf_raw_token_value" not in script
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("tmp")] == []  # the header file is gone


def test_every_hub_download_reads_the_token_as_one_raw_file() -> None:
    for spec in (SPECS_DIR / "vllm-scale-to-zero.yaml", SPECS_DIR / "llamacpp-gpu-ingress.yaml"):
        prep = _service(spec, "model-prep")
        (token,) = prep.secret_files
        assert token.path == "/run/secrets/hf-token"
        if "HF_TOKEN_PATH" in dict(prep.env):
            assert dict(prep.env)["HF_TOKEN_PATH"] == token.path
        else:
            assert f"Bearer '; tr -d '\\r\\n' < {token.path}" in prep.args[0]


def test_open_webui_settings_take_effect_on_every_start() -> None:
    record = load("open-webui")
    for spec in WEBUI_SPECS:
        env = dict(_service(spec, "ui").env)
        seeded = sorted(set(env) & record.persistent_env)
        assert seeded, "the UI is configured through persistent settings such as OPENAI_API_BASE_URL"
        assert env["ENABLE_PERSISTENT_CONFIG"] == "False", f"{seeded} would only seed the database once"
        assert "ENABLE_PERSISTENT_CONFIG" in record.env


def test_open_webui_data_volume_leaves_the_baked_models_visible() -> None:
    record = load("open-webui")
    assert f"{WEBUI_BAKED_CACHE}/whisper/models" in record.data_paths
    for spec in WEBUI_SPECS[1:]:
        ui = next(text for name, text in kubernetes_files(spec).items()
                  if name.startswith("kubernetes/deployment-") and name.endswith("-open-webui.yaml"))
        assert "mountPath: /var/lib/open-webui" in ui
        assert "mountPath: /app/backend/data" not in ui
        env = dict(_service(spec, "ui").env)
        assert env["DATA_DIR"] == "/var/lib/open-webui"
        assert env["SENTENCE_TRANSFORMERS_HOME"].startswith(WEBUI_BAKED_CACHE)
