"""The hub token is one raw token file for every runtime: llama.cpp's download script turns it into an
Authorization header without the token ever being a process argument, and a real curl sends it."""

from __future__ import annotations

import hashlib
import http.server
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from slm_deploy.runtimes import plan_deployment
from slm_deploy.runtimes.llamacpp import fetch_script
from slm_deploy.spec.loader import parse_deployment
from tests.support.serving import serving
from tests.support.tools import find_executable
from tests.test_pulumi_components import stack_spec

TOKEN = "hf_canaryToken0123456789abcdefABCDEF"
BODY = b"GGUF" + bytes(range(256)) * 64


class HubHandler(http.server.BaseHTTPRequestHandler):
    """Serves one file only to requests that carry the token as a bearer credential."""

    seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        HubHandler.seen.append(self.headers.get("Authorization"))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[str]:
    HubHandler.seen = []
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), HubHandler)) as url:
        yield f"{url}/Qwen/resolve/abc/model.gguf"


def run_script(script: str) -> subprocess.CompletedProcess:
    find_executable("curl", "apt-get install curl")
    return subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, timeout=60)


def test_the_raw_token_file_reaches_the_hub_as_a_bearer_header(hub: str, tmp_path: Path) -> None:
    token_file = tmp_path / "hf-token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")  # a trailing newline, as editors and echo write it
    target, header = tmp_path / "models" / "gguf" / "model.gguf", tmp_path / "hub-auth.header"
    script = fetch_script(hub, str(target), hashlib.sha256(BODY).hexdigest(), str(token_file), str(header))
    assert TOKEN not in script and "$" not in script  # Compose and Kubernetes expand $ in commands
    result = run_script(script)
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == BODY
    assert HubHandler.seen == [f"Bearer {TOKEN}"]
    assert not header.exists(), "the header file is removed when the script ends"
    assert TOKEN not in result.stdout + result.stderr


def test_a_wrong_token_fails_the_step_and_leaves_no_header(hub: str, tmp_path: Path) -> None:
    token_file = tmp_path / "hf-token"
    token_file.write_text("hf_wrong\n", encoding="utf-8")
    target, header = tmp_path / "model.gguf", tmp_path / "hub-auth.header"
    result = run_script(fetch_script(hub, str(target), None, str(token_file), str(header)))
    assert result.returncode != 0
    assert not target.exists() and not header.exists()


def test_every_runtime_mounts_the_same_raw_token_file() -> None:
    for stack, runtime in (("qwen3-llamacpp-edge", "llamacpp"), ("phi4-onnx-edge", "onnxruntime"),
                           ("phi4-vllm-aks", "vllm"), ("qwen3-gguf-prepared", "prepared")):
        spec = stack_spec(stack)
        spec["model"]["hub_token_secret"] = "hf-token"
        spec["secrets"]["hf-token"] = ({"backend": "azure-key-vault", "vault": spec["secrets"]["api-keys"]["vault"]}
                                       if runtime == "vllm" else dict(spec["secrets"]["api-keys"]))
        steps = plan_deployment(parse_deployment(spec)).by_role("model-prep")
        (prep,) = [step for step in steps if step.secret_files]
        after = [step for step in steps if step is not prep]
        (token,) = prep.secret_files
        assert token.path == "/run/secrets/hf-token"
        if runtime == "llamacpp":
            assert "< /run/secrets/hf-token;" in prep.args[0]
        elif runtime == "prepared":
            (convert,) = after  # the conversion step parses untrusted checkpoint data: no token, no network
            assert not convert.secret_files and convert.offline and convert.depends_on == (prep.name,)
            assert "HF_TOKEN_PATH" not in dict(convert.env) and "hf-token" not in convert.args[0]
            assert dict(prep.env)["HF_TOKEN_PATH"] == "/run/secrets/hf-token"
        else:
            assert dict(prep.env)["HF_TOKEN_PATH"] == "/run/secrets/hf-token"
