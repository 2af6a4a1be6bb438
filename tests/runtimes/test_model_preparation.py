"""The prepared model's records and the check before serving, run by a real shell on real files: a model prepared
as the spec asks passes; another revision or other options, an edited file, or a missing file are refused with a
message that names no value; and the rendered Compose step and Kubernetes pods carry that check."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from slm_deploy.render.bundle import render_bundle
from slm_deploy.runtimes.model_preparation import (
    CHECKPOINT_CHECK_CODE, CHECKSUMS, PROVENANCE, PreparedModel, check_script, prepare_script, prepared_model, record_script,
)
from slm_deploy.spec.loader import parse_deployment

REVISION = "0123456789abcdef0123456789abcdef01234567"
OTHER_REVISION = "89abcdef0123456789abcdef0123456789abcdef"
SPEC: dict[str, Any] = {
    "name": "tiny",
    "model": {"source": {"kind": "huggingface", "repo": "acme/tiny-chat", "revision": REVISION},
              "parameters_billion": 1.0, "native_context": 4096, "prepare": {"format": "gguf"}},
    "runtime": {"kind": "llamacpp"},
    "secrets": {"api-keys": {}},
    "targets": {"compose": {}, "kubernetes": {"namespace": "tiny"}, "docker": {"registry": "registry.example.com"}},
}


def prepared(directory: Path, **model: Any) -> PreparedModel:
    data = copy.deepcopy(SPEC)
    data["model"].update(model)
    return prepared_model(parse_deployment(data), str(directory))


def sh(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/sh", "-eu", "-c", script], capture_output=True, text=True, timeout=60)


@pytest.fixture
def cache(tmp_path: Path) -> PreparedModel:
    """A model directory recorded by the rendered record step, from a converted file in the scratch folder."""
    model = prepared(tmp_path / "models" / "gguf")
    staging = Path(model.scratch) / "output"
    staging.mkdir(parents=True)
    (staging / model.entry_file).write_bytes(b"GGUF" + bytes(range(256)) * 16)
    result = sh(record_script(model, str(staging)))
    assert result.returncode == 0, result.stderr
    return model


def test_the_record_holds_the_provenance_and_every_file_checksum(cache: PreparedModel) -> None:
    directory = Path(cache.directory)
    digest = hashlib.sha256((directory / cache.entry_file).read_bytes()).hexdigest()
    assert (directory / CHECKSUMS).read_text() == f"{digest}  ./{cache.entry_file}\n"
    assert (directory / PROVENANCE).read_text().splitlines() == [
        "source=huggingface:acme/tiny-chat", f"revision={REVISION}", "format=gguf", "quantization=q4_k_m",
        "llama.cpp=b10133"]


def test_a_model_prepared_as_asked_passes(cache: PreparedModel) -> None:
    result = sh(check_script(cache))
    assert result.returncode == 0 and result.stderr == ""


@pytest.mark.parametrize("model", [{"source": {"kind": "huggingface", "repo": "acme/tiny-chat", "revision": OTHER_REVISION}},
                                   {"source": {"kind": "huggingface", "repo": "acme/other-chat", "revision": REVISION}},
                                   {"prepare": {"format": "gguf", "quantization": "q8_0"}}])
def test_a_model_prepared_from_another_revision_or_with_other_options_is_refused(
        cache: PreparedModel, model: dict[str, Any]) -> None:
    wanted = prepared(Path(cache.directory), **model)
    wanted = PreparedModel(cache.directory, cache.entry_file, wanted.provenance)  # same file name, other record
    result = sh(check_script(wanted))
    assert result.returncode == 3
    assert "another source, revision or options" in result.stderr
    assert "acme" not in result.stderr and REVISION not in result.stderr and OTHER_REVISION not in result.stderr


def test_an_edited_model_file_is_refused(cache: PreparedModel) -> None:
    path = Path(cache.directory) / cache.entry_file
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    result = sh(check_script(cache))
    assert result.returncode == 3 and "does not match the sha256" in result.stderr
    assert cache.entry_file not in result.stderr


def test_a_model_whose_served_file_is_gone_is_refused(cache: PreparedModel) -> None:
    directory = Path(cache.directory)
    (directory / cache.entry_file).unlink()
    (directory / CHECKSUMS).write_text("")
    result = sh(check_script(cache))
    assert result.returncode == 3 and "does not match the sha256" in result.stderr


def test_compose_prepares_before_serving_and_kubernetes_pods_check_before_serving() -> None:
    deployment = parse_deployment(copy.deepcopy(SPEC))
    files = render_bundle(deployment).files
    check = check_script(prepared_model(deployment, "/models/gguf"))
    compose = yaml.safe_load(files["compose/compose.yaml"])
    prep, server = compose["services"]["tiny-model-prep"], compose["services"]["tiny"]
    assert check in prep["command"][-1]
    assert server["depends_on"]["tiny-model-prep"] == {"condition": "service_completed_successfully"}
    assert "/models/gguf/tiny-chat-q4_k_m.gguf" in server["command"]
    served = yaml.safe_load(files["kubernetes/deployment-tiny.yaml"])["spec"]["template"]["spec"]
    wait = next(c for c in served["initContainers"] if c["name"] == "wait-for-model")
    assert wait["command"][-1].endswith(check)
    assert all(m.get("readOnly") for m in wait["volumeMounts"] if m["name"] == "models")


def test_only_the_download_holds_the_hub_token_and_the_conversion_has_no_network() -> None:
    """Checkpoint data is untrusted and the converters parse it: they run after the download, in a step that mounts
    no token and has no network on Compose, and in an init container without the token on Kubernetes."""
    data = copy.deepcopy(SPEC)
    data["model"]["hub_token_secret"] = "hf-token"
    data["secrets"]["hf-token"] = {}
    files = render_bundle(parse_deployment(data)).files
    services = yaml.safe_load(files["compose/compose.yaml"])["services"]
    download, convert = services["tiny-model-download"], services["tiny-model-prep"]
    assert download["secrets"] == [{"source": "hf-token", "target": "hf-token"}] and download["networks"] == ["model-download"]
    assert "secrets" not in convert and "networks" not in convert and convert["network_mode"] == "none"
    assert convert["depends_on"] == {"tiny-model-download": {"condition": "service_completed_successfully"}}
    assert download["volumes"] == convert["volumes"] == ["models:/models"]
    assert "convert_hf_to_gguf" in convert["command"][-1] and "convert_hf_to_gguf" not in download["command"][-1]
    assert "snapshot_download" in download["command"][-1] and "snapshot_download" not in convert["command"][-1]
    (job,) = [yaml.safe_load(text) for name, text in files.items() if name.startswith("kubernetes/job-tiny-model-prep")]
    pod = job["spec"]["template"]["spec"]
    first, second = pod["initContainers"]
    assert (first["name"], second["name"]) == ("download", "convert")
    assert any(m["name"] == "secrets" for m in first["volumeMounts"])
    assert not any(m["name"] == "secrets" for m in second["volumeMounts"])
    assert {"name": "HF_HUB_OFFLINE", "value": "1"} in second["env"]
    assert "HF_TOKEN_PATH" not in {e["name"] for e in second["env"]}


def test_a_file_the_record_does_not_list_is_refused(cache: PreparedModel) -> None:
    """ONNX Runtime GenAI and llama.cpp may load any file they find beside the model: the folder holds only the record's."""
    (Path(cache.directory) / "extra.safetensors").write_bytes(b"weights")
    result = sh(check_script(cache))
    assert result.returncode == 3 and "does not list" in result.stderr


@pytest.mark.parametrize(("files", "message"), [
    ({"config.json": "{not json", "model.safetensors": "w"}, "does not parse"),
    ({"config.json": b"\xff\xfe{}", "model.safetensors": "w"}, "does not parse"),
    ({"config.json": '{"auto_map": {}}', "model.safetensors": "w"}, "code of its own"),
    ({"config.json": "{}", "pytorch_model.bin": "w"}, "no safetensors weights"),
])
def test_a_checkpoint_the_converters_cannot_take_is_refused_before_converting(
        tmp_path: Path, files: dict[str, str | bytes], message: str) -> None:
    model = prepared(tmp_path / "models" / "gguf")
    checkpoint = Path(model.checkpoint)
    checkpoint.mkdir(parents=True)
    for name, content in files.items():
        (checkpoint / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    script = prepare_script(parse_deployment(copy.deepcopy(SPEC)), model)
    result = sh(script.replace("python3 /opt/llama.cpp/convert_hf_to_gguf.py", "touch " + str(tmp_path / "converted")))
    assert result.returncode == 4 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "converted").exists()


@pytest.mark.parametrize(("folder", "code", "message"), [
    ("extra.json", 0, ""),
    ("model.safetensors", 4, "no safetensors weights"),
])
def test_folders_named_like_checkpoint_files_count_for_nothing(tmp_path: Path, folder: str, code: int,
                                                              message: str) -> None:
    """The download's patterns match folders too: only regular files count, a folder is never read as JSON."""
    checkpoint = tmp_path / "checkpoint"
    (checkpoint / folder).mkdir(parents=True)
    (checkpoint / folder / "a.json").write_text("{not json")
    (checkpoint / "config.json").write_text("{}")
    if folder != "model.safetensors":
        (checkpoint / "model.safetensors").write_text("w")
    result = subprocess.run(["python3", "-c", CHECKPOINT_CHECK_CODE, str(checkpoint)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == code and message in result.stderr and "Traceback" not in result.stderr
    assert str(tmp_path) not in result.stderr


def test_the_conversion_step_without_a_download_says_so(tmp_path: Path) -> None:
    model = prepared(tmp_path / "models" / "gguf")
    result = sh(prepare_script(parse_deployment(copy.deepcopy(SPEC)), model))
    assert result.returncode == 3 and "not downloaded" in result.stderr


@pytest.mark.parametrize("decoy", ["{digest}  ./{name}.part", "#  ./{name}"])
def test_a_record_that_names_the_served_file_only_in_part_is_refused(cache: PreparedModel, decoy: str) -> None:
    """The served file edited, its line replaced by one that merely contains its name: still refused."""
    directory = Path(cache.directory)
    path = directory / cache.entry_file
    path.write_bytes(path.read_bytes() + b"tampered")
    (directory / f"{cache.entry_file}.part").write_bytes(b"part")
    digest = hashlib.sha256(b"part").hexdigest()
    (directory / CHECKSUMS).write_text(decoy.format(digest=digest, name=cache.entry_file)
                                       + f"\n{digest}  ./{cache.entry_file}.part\n")
    result = sh(check_script(cache))
    assert result.returncode == 3 and "does not match the sha256" in result.stderr


def test_a_ready_model_volume_without_the_prepared_model_says_it_is_missing(cache: PreparedModel) -> None:
    shutil.rmtree(cache.directory)
    result = sh(check_script(cache))
    assert result.returncode == 3 and "prepared model is missing" in result.stderr
    assert "another source" not in result.stderr


def test_the_readme_selector_for_preparing_again_selects_the_rendered_job_alone() -> None:
    """The README's `kubectl delete job -l ...` must match the one Job the bundle renders."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    selector = re.search(r"kubectl delete job -n <namespace> -l (\S+?)`", readme)
    assert selector, "the README says how to delete the preparation Job"
    wanted = dict(pair.split("=", 1) for pair in selector.group(1).replace("<name>", "tiny").split(","))
    files = render_bundle(parse_deployment(copy.deepcopy(SPEC))).files
    documents = [doc for name, text in files.items() if name.startswith("kubernetes/") and name.endswith(".yaml")
                 for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]
    selected = [doc["kind"] for doc in documents
                if wanted.items() <= (doc.get("metadata", {}).get("labels") or {}).items() and doc["kind"] == "Job"]
    assert selected == ["Job"]


def test_a_prepared_onnx_model_serves_the_context_the_spec_gives(tmp_path: Path) -> None:
    """The builder sizes the context from the checkpoint (131072 here); the served genai_config says the spec's 2048,
    and the record made after the cap still passes the check."""
    data = copy.deepcopy(SPEC)
    data["runtime"] = {"kind": "onnxruntime"}
    data["model"].update(prepare={"format": "onnx"}, native_context=131072, context_length=2048)
    deployment = parse_deployment(data)
    model = prepared_model(deployment, str(tmp_path / "models" / "onnx"))
    checkpoint = Path(model.checkpoint)
    checkpoint.mkdir(parents=True)
    (checkpoint / "config.json").write_text("{}")
    (checkpoint / "model.safetensors").write_bytes(b"w")
    builder = tmp_path / "builder"
    builder.write_text('#!/bin/sh\nprintf \'{"model": {"context_length": 131072}, "search": {"max_length": 131072}}\' '
                       '> "$4/genai_config.json"\n')
    builder.chmod(0o755)
    script = prepare_script(deployment, model).replace("python3 -m onnxruntime_genai.models.builder", str(builder))
    result = sh(script)
    assert result.returncode == 0, result.stderr
    config = json.loads((Path(model.directory) / "genai_config.json").read_text())
    assert config["model"]["context_length"] == config["search"]["max_length"] == 2048
    assert "context_length=2048" in model.provenance
    assert sh(check_script(model)).returncode == 0


def test_a_conversion_interrupted_before_its_record_is_redone_in_place(tmp_path: Path) -> None:
    """A restarted conversion step finds the moved folder without PROVENANCE: it converts again into the same place."""
    model = prepared(tmp_path / "models" / "gguf")
    checkpoint = Path(model.checkpoint)
    checkpoint.mkdir(parents=True)
    (checkpoint / "config.json").write_text("{}")
    (checkpoint / "model.safetensors").write_bytes(b"w")
    Path(model.directory).mkdir(parents=True)
    (Path(model.directory) / "half-written.gguf").write_bytes(b"partial")
    converter = tmp_path / "convert"
    converter.write_text('#!/bin/sh\nwhile [ "$1" != --outfile ]; do shift; done\nprintf GGUF > "$2"\n')
    converter.chmod(0o755)
    quantize = tmp_path / "quantize"
    quantize.write_text('#!/bin/sh\ncp "$1" "$2"\n')
    quantize.chmod(0o755)
    script = (prepare_script(parse_deployment(copy.deepcopy(SPEC)), model)
              .replace("python3 /opt/llama.cpp/convert_hf_to_gguf.py", str(converter))
              .replace("/opt/llama.cpp/llama-quantize", str(quantize)))
    result = sh(script)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in Path(model.directory).iterdir()) == sorted([CHECKSUMS, PROVENANCE, model.entry_file])
    assert sh(check_script(model)).returncode == 0
