"""llama.cpp built from source is the pinned build, its interface record is what that build says, and the
stand-in image has the upstream server image's layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from slm_deploy.pins.interfaces import RecordError
from slm_deploy.pins.interfaces import llamacpp as deriver
from slm_deploy.spec.images import pins_table
from tests.conftest import run_cli
from tests.support.docker_engine import docker, docker_cli
from tests.support.llamacpp_build import LlamaCppBuild, pinned_build_number, server_version
from tests.support.llamacpp_image import StandInImage
from tests.support.tools import run

RECORD = Path(__file__).resolve().parents[2] / "components" / "runtimes" / "interfaces" / "llamacpp.yaml"


def test_the_binary_is_the_build_the_image_is_pinned_to(llamacpp: LlamaCppBuild) -> None:
    assert pins_table()["llamacpp"].image.tag == f"server-b{llamacpp.build_number}"
    assert llamacpp.build_number == pinned_build_number()
    assert server_version(llamacpp.server) == f"version: {llamacpp.build_number} ({llamacpp.commit[:7]})"


def test_pins_update_writes_the_committed_record_from_the_built_binary(
        llamacpp: LlamaCppBuild, llamacpp_image: StandInImage, tmp_path: Path) -> None:
    image, _, digest = llamacpp_image.reference.partition("@")
    repository, _, tag = image.rpartition(":")
    pins = tmp_path / "pins.yaml"
    pins.write_text(f"pins:\n  llamacpp:\n    image: {repository}\n    tag: {tag}\n    digest: {digest}\n"
                    f"    sources:\n      - https://github.com/ggml-org/llama.cpp/pkgs/container/llama.cpp\n")
    (tmp_path / "interfaces").mkdir()
    result = run_cli("pins", "--update", "--file", str(pins), "--llama-server", str(llamacpp.server))
    assert result.code == 0, result.stdout + result.stderr
    assert "record written   llamacpp" in result.stdout, result.stdout
    assert (tmp_path / "interfaces" / "llamacpp.yaml").read_text() == RECORD.read_text(), "run slm-deploy pins --update"
    committed = yaml.safe_load(RECORD.read_text())
    assert {"--metrics", "--no-slots", "--api-key-file", "-c", "--ctx-size"} <= set(committed["flags"])
    assert {"LLAMA_ARG_CTX_SIZE", "LLAMA_CACHE"} <= set(committed["env"])
    assert "--disable-log-requests" not in committed["flags"]


def test_a_binary_of_another_build_is_refused(tmp_path: Path) -> None:
    impostor = tmp_path / "llama-server"
    impostor.write_text("#!/bin/sh\necho 'version: 9999 (0000000)'\n")
    impostor.chmod(0o755)
    with pytest.raises(RecordError, match="llama-server given is not build b10133"):
        deriver.derive("server-b10133", impostor)


def test_the_stand_in_has_the_upstream_layout(llamacpp_image: StandInImage, llamacpp: LlamaCppBuild) -> None:
    config = json.loads(docker("image", "inspect", llamacpp_image.reference))[0]["Config"]
    record = yaml.safe_load(RECORD.read_text())["image"]
    assert config["Entrypoint"] == record["entrypoint"] == ["/app/llama-server"]
    assert config["User"] == "" and record["user"] == "root"
    assert config["WorkingDir"] == "/app" and "LLAMA_ARG_HOST=0.0.0.0" in config["Env"]
    assert config["Healthcheck"]["Test"] == ["CMD", "curl", "-f", "http://localhost:8080/health"]
    assert config["Labels"]["org.opencontainers.image.version"] == f"b{llamacpp.build_number}"


def test_the_stand_in_carries_upstream_tools_and_nothing_more(llamacpp_image: StandInImage) -> None:
    probe = ("for tool in curl ffmpeg awk date sh python3 python; do "
             "command -v $tool >/dev/null && echo present $tool || echo absent $tool; done; /app/llama-server --version")
    result = run([docker_cli(), "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", llamacpp_image.reference,
                  "-c", probe], timeout=120)
    lines = set(result.stdout.split("\n"))
    assert {"present curl", "present ffmpeg", "present awk", "present date", "present sh"} <= lines, result.stdout
    assert {"absent python3", "absent python"} <= lines, result.stdout
    assert "version: " in result.stderr + result.stdout
