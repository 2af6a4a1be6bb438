"""The rendered preparation's script, taken from the rendered Compose project, guards the model cache: for both
formats, a second run over a prepared model only checks its record, and a tampered file stops it before anything is
served; a checkpoint naming code of its own is refused before conversion, and conversion runs offline without the
hub token. That the step prepares a model that is then served is proved in its container, through the gateway
(test_model_preparation_compose.py); these cases run the script on this host, faster, with the image's paths
(/models, /opt/llama.cpp) mapped to a scratch folder and the cached llama.cpp build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from slm_deploy.render.bundle import render_bundle
from slm_deploy.spec.loader import parse_deployment
from tests.support.fake_hub import fake_hub
from tests.support.llamacpp_build import LlamaCppBuild
from tests.support.tiny_gguf import write_sentencepiece_llama
from tests.support.tiny_model import write_hf_model

REPO, REVISION = "acme/tiny-chat", "5d1f0c6b2a8e4f7091c3b2d4e6f8a0b1c2d3e4f5"
PREPARE = {"gguf": ({"format": "gguf", "quantization": "q4_k_m"}, "llamacpp"),
           "onnx": ({"format": "onnx", "precision": "int4"}, "onnxruntime")}
WRITERS = {"gguf": write_sentencepiece_llama, "onnx": write_hf_model}
"""The tiny checkpoint each converter accepts (llama.cpp's converter wants a SentencePiece tokenizer.model)."""


def spec(fmt: str) -> dict:
    prepare, runtime = PREPARE[fmt]
    return {"name": "tiny", "runtime": {"kind": runtime}, "secrets": {"api-keys": {}},
            "model": {"source": {"kind": "huggingface", "repo": REPO, "revision": REVISION},
                      "parameters_billion": 0.02, "native_context": 2048, "context_length": 512, "prepare": prepare}}


STEPS = ("tiny-model-download", "tiny-model-prep")
"""The rendered preparation: the download with the token, then the conversion without it."""
Steps = list[tuple[str, dict[str, str]]]


def rendered_steps(compose: dict) -> Steps:
    """Each step's command and its hub client variables from the rendered Compose project."""
    found = []
    for name in STEPS:
        service = compose["services"][name]
        env = {key: value for key, value in service.get("environment", {}).items()
               if key.startswith("HF_") and key != "HF_HOME"}
        found.append((service["command"][-1], env))
    return found


def moved(steps: Steps, old: str, new: str) -> Steps:
    """The steps with one path replaced in their scripts and variables."""
    return [(script.replace(old, new), {key: value.replace(old, new) for key, value in env.items()})
            for script, env in steps]


def rendered_script(fmt: str, build: LlamaCppBuild, models: Path) -> Steps:
    """The preparation steps of the rendered Compose project, with the image's paths mapped onto this host."""
    compose = yaml.safe_load(render_bundle(parse_deployment(spec(fmt))).files["compose/compose.yaml"])
    steps = rendered_steps(compose)
    for old, new in (("/opt/llama.cpp/llama-quantize", str(build.quantize)), ("/opt/llama.cpp", str(build.source)),
                     ("/models", str(models))):
        steps = moved(steps, old, new)
    return steps


def run(steps: Steps, endpoint: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Each step in turn, as Compose starts the next when one completed; the first failure ends the run."""
    base = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(home), "HF_HUB_DISABLE_TELEMETRY": "1",
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    base.pop("NO_LOCAL_GGUF", None)
    for key in ("HF_TOKEN_PATH", "HF_TOKEN", "HF_HUB_OFFLINE"):
        base.pop(key, None)
    for script, env in steps:
        result = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, env={**base, **env},
                                timeout=900)
        if result.returncode != 0:
            break
    return result


@contextmanager
def preparation(fmt: str, llamacpp: LlamaCppBuild, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """Run the rendered step once on a fresh model folder; the hub stays up for the tests' later runs."""
    checkpoint = tmp_path_factory.mktemp("checkpoint") / "hf"
    checkpoint.mkdir()
    WRITERS[fmt](checkpoint)
    models, home = tmp_path_factory.mktemp("models"), tmp_path_factory.mktemp("hf-home")
    script = rendered_script(fmt, llamacpp, models)
    with fake_hub(checkpoint, REPO, REVISION) as endpoint:
        first = run(script, endpoint, home)
        yield models, script, endpoint, home, first


@pytest.fixture(scope="module")
def prepared_gguf(llamacpp: LlamaCppBuild, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    with preparation("gguf", llamacpp, tmp_path_factory) as done:
        yield done


@pytest.fixture(scope="module")
def prepared_onnx(llamacpp: LlamaCppBuild, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    with preparation("onnx", llamacpp, tmp_path_factory) as done:
        yield done


@pytest.fixture(params=sorted(PREPARE))
def fmt(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def prepared(fmt: str, request: pytest.FixtureRequest) -> tuple:
    return request.getfixturevalue(f"prepared_{fmt}")


def test_a_second_run_checks_the_record_and_a_tampered_file_is_refused(fmt: str, prepared: tuple,
                                                                       tmp_path: Path) -> None:
    models, script, endpoint, home, first = prepared
    assert first.returncode == 0
    copy = tmp_path / "models"
    shutil.copytree(models, copy)
    relocated = moved(script, str(models), str(copy))
    model = max((p for p in (copy / fmt).iterdir() if p.name not in ("PROVENANCE", "SHA256SUMS")),
                key=lambda p: p.stat().st_size)
    before = model.stat().st_mtime_ns
    again = run(relocated, endpoint, home)
    assert again.returncode == 0 and model.stat().st_mtime_ns == before, again.stderr[-2000:]
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    refused = run(relocated, endpoint, home)
    assert refused.returncode == 3 and "does not match the sha256" in refused.stderr
    assert model.read_bytes() == bytes(data)  # refused, not silently prepared again


STAND_IN_CONVERTER = """import json, os, sys
from pathlib import Path
here = Path(__file__).parent
(here / "converter-env.json").write_text(json.dumps(dict(os.environ)))
Path(sys.argv[sys.argv.index("--outfile") + 1]).write_bytes(b"GGUF stand-in")
"""
"""Records the environment it ran in and writes the output, as llama.cpp's converter would (at f16)."""


def stand_in_steps(tmp_path: Path) -> tuple[Steps, Path, Path]:
    """The rendered GGUF steps with a hub token and a stand-in converter, mapped onto scratch folders."""
    data = spec("gguf")
    data["model"].update(prepare={"format": "gguf", "quantization": "f16"}, hub_token_secret="hf-token")
    data["secrets"]["hf-token"] = {"backend": "file"}
    compose = yaml.safe_load(render_bundle(parse_deployment(data)).files["compose/compose.yaml"])
    tools, models, secrets = tmp_path / "llama.cpp", tmp_path / "models", tmp_path / "secrets"
    for folder in (tools, models, secrets):
        folder.mkdir()
    (tools / "convert_hf_to_gguf.py").write_text(STAND_IN_CONVERTER)
    (secrets / "hf-token").write_text("hf_stand_in_token\n")
    steps = rendered_steps(compose)
    for old, new in (("/opt/llama.cpp", str(tools)), ("/models", str(models)), ("/run/secrets", str(secrets))):
        steps = moved(steps, old, new)
    return steps, models, tools


def stand_in_preparation(tmp_path: Path, checkpoint: Path) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """The rendered GGUF steps with a hub token, the converter a stand-in, on a checkpoint served by a local hub."""
    steps, models, tools = stand_in_steps(tmp_path)
    with fake_hub(checkpoint, REPO, REVISION) as endpoint:
        return run(steps, endpoint, tmp_path / "hf-home"), models, tools


def checkpoint_naming_code(folder: Path, marker: Path, *, auto_map: bool) -> Path:
    """A checkpoint holding a tokenizer module that leaves a marker when imported, named by auto_map or not."""
    folder.mkdir()
    write_hf_model(folder)
    (folder / "tokenization_acme.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    if auto_map:
        config = json.loads((folder / "tokenizer_config.json").read_text())
        config["auto_map"] = {"AutoTokenizer": ["tokenization_acme.AcmeTokenizer", None]}
        (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def test_a_checkpoint_naming_its_own_code_is_refused_before_conversion(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    result, models, tools = stand_in_preparation(
        tmp_path, checkpoint_naming_code(tmp_path / "hf", marker, auto_map=True))
    assert result.returncode == 4 and "auto_map" in result.stderr, result.stderr[-2000:]
    assert REPO not in result.stderr and "AcmeTokenizer" not in result.stderr
    assert not (tools / "converter-env.json").exists() and not marker.exists()
    assert not list(models.rglob("*.py")) and not (models / "gguf").exists()


def test_the_checkpoint_is_downloaded_without_code_and_converted_offline_without_the_token(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    result, models, tools = stand_in_preparation(
        tmp_path, checkpoint_naming_code(tmp_path / "hf", marker, auto_map=False))
    assert result.returncode == 0, result.stderr[-2000:]
    env = json.loads((tools / "converter-env.json").read_text())
    assert env.get("HF_HUB_OFFLINE") == "1" and "HF_TOKEN_PATH" not in env and "HF_TOKEN" not in env
    assert (models / "gguf" / "tiny-chat-f16.gguf").read_bytes() == b"GGUF stand-in" and not marker.exists()


def test_a_config_nested_too_deeply_to_parse_is_refused_without_a_traceback(tmp_path: Path) -> None:
    checkpoint = tmp_path / "hf"
    checkpoint.mkdir()
    write_hf_model(checkpoint)
    (checkpoint / "config.json").write_text("[" * 100_000)
    result, models, tools = stand_in_preparation(tmp_path, checkpoint)
    assert result.returncode == 4 and "does not parse" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    assert not (tools / "converter-env.json").exists() and not (models / "gguf").exists()


def _newline_named_copy(folder: Path, entry: Path) -> None:
    """A folder whose name holds a newline, so `find` lists its copy of the model as the listed name plus `.`."""
    hidden = folder / f"{entry.name}\n."
    hidden.mkdir()
    (hidden / entry.name).write_bytes(b"EVIL")


def _listed_link(folder: Path, entry: Path) -> None:
    """A link out of the folder, listed in the record with the checksum of what it points at."""
    target = Path("/etc/hostname")
    (folder / "outside").symlink_to(target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    with (folder / "SHA256SUMS").open("a") as record:
        record.write(f"{digest}  ./outside\n")


def _control_character_name(folder: Path, entry: Path) -> None:
    (folder / "model\tcopy.gguf").write_bytes(entry.read_bytes())


def _linked_record(folder: Path, entry: Path) -> None:
    """The provenance replaced by a link to an identical file elsewhere."""
    outside = folder.parent / "provenance-copy"
    outside.write_bytes((folder / "PROVENANCE").read_bytes())
    (folder / "PROVENANCE").unlink()
    (folder / "PROVENANCE").symlink_to(outside)


@pytest.mark.parametrize("tamper", [_newline_named_copy, _listed_link, _control_character_name, _linked_record])
def test_the_check_refuses_links_and_names_that_hide_from_the_record(tamper, tmp_path: Path) -> None:
    steps, models, tools = stand_in_steps(tmp_path)
    checkpoint = tmp_path / "hf"
    checkpoint.mkdir()
    write_hf_model(checkpoint)
    with fake_hub(checkpoint, REPO, REVISION) as endpoint:
        first = run(steps, endpoint, tmp_path / "hf-home")
    assert first.returncode == 0, first.stderr[-2000:]
    folder = models / "gguf"
    again = run(steps, endpoint, tmp_path / "hf-home")
    assert again.returncode == 0, again.stderr[-2000:]
    tamper(folder, folder / "tiny-chat-f16.gguf")
    refused = run(steps, endpoint, tmp_path / "hf-home")
    assert refused.returncode == 3, refused.stderr[-2000:]
    assert "non-regular file, or a name with a newline or other control character" in refused.stderr
