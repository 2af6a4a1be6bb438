"""An air-gapped build of a preparation image can name a mirror for everything it fetches besides torch: the
llama.cpp source archive (whose sha256 stays fixed in the Dockerfile) and the package index of the hash-locked
requirements. The defaults are the pinned public addresses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from slm_deploy.runtimes.model_preparation import llamacpp_source
from tests.support.cli import run_in_process


def prep_dockerfile(tmp_path: Path, fmt: str) -> str:
    runtime = {"gguf": "llamacpp", "onnx": "onnxruntime"}[fmt]
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"name": "demo", "model": {"id": "qwen3-0.6b", "prepare": {"format": fmt}},
                                    "runtime": {"kind": runtime}, "secrets": {"api-keys": {}},
                                    "targets": {"compose": {}}}), encoding="utf-8")
    assert run_in_process("render", str(spec), "--out", str(tmp_path / "out")).code == 0
    return (tmp_path / "out" / "docker" / "demo-model-prep" / "Dockerfile").read_text(encoding="utf-8")


def test_the_llamacpp_archive_comes_from_a_build_argument_and_keeps_its_fixed_sha256(tmp_path: Path) -> None:
    dockerfile = prep_dockerfile(tmp_path, "gguf")
    url, sha256 = llamacpp_source()
    assert f"ARG LLAMACPP_SDIST_URL={url}\n" in dockerfile
    assert "urlretrieve(sys.argv[1],sys.argv[2])' \"$LLAMACPP_SDIST_URL\" /tmp/llama.cpp.tar.gz" in dockerfile
    assert url not in dockerfile.replace(f"ARG LLAMACPP_SDIST_URL={url}\n", "")
    assert f'echo "{sha256}  /tmp/llama.cpp.tar.gz" | sha256sum -c -' in dockerfile


@pytest.mark.parametrize("fmt", ["gguf", "onnx"])
def test_the_lock_installs_from_the_package_index_argument_with_its_hashes(tmp_path: Path, fmt: str) -> None:
    dockerfile = prep_dockerfile(tmp_path, fmt)
    assert "ARG PACKAGE_INDEX=https://pypi.org/simple\n" in dockerfile
    lock_install, = (line for line in dockerfile.splitlines() if "-r /tmp/requirements.txt" in line)
    assert re.search(r'--require-hashes --no-deps --index-url "\$PACKAGE_INDEX" -r ', lock_install)
