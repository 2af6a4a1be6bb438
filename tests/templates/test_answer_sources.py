"""Answers plain `cookiecutter` reads from a replay file or a config file are data, never code: the hooks cannot be
broken out of, and nothing is rendered or written before the template refuses them; a replay file's private keys
are refused by the template and never read by `slm-deploy new --replay-file`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from slm_deploy.cli.new import _template_dir
from tests.conftest import CLI, run_cli
from tests.templates.bake import SOURCE_ANSWER

COOKIECUTTER = Path(sys.executable).parent / "cookiecutter"


def _cookiecutter(tmp_path: Path, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
    """Plain cookiecutter, run with its own HOME (where it reads and writes replay files) and temporary folder."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.run([COOKIECUTTER, "-o", tmp_path / "out", *arguments], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp")})


def _replay_file(tmp_path: Path, **answers: object) -> Path:
    """The replay file cookiecutter writes for the default answers, with these answers swapped in."""
    baked = _cookiecutter(tmp_path, "--no-input", _template_dir(), SOURCE_ANSWER)
    assert baked.returncode == 0, baked.stdout + baked.stderr
    written = tmp_path / "home" / ".cookiecutter_replay" / "project.json"
    replay = json.loads(written.read_text(encoding="utf-8"))
    replay["cookiecutter"].update(answers)
    written.unlink()
    for path in sorted((tmp_path / "out").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(replay), encoding="utf-8")
    return edited


def test_a_replayed_answer_cannot_break_out_of_the_pre_generation_hook(tmp_path: Path) -> None:
    """A quote in a choice answer once closed the hook's string literal and ran what followed."""
    marker = tmp_path / "ran"
    runtime = f'" + ("" if __import__("os").system("touch {marker}") else "") + "ollama'
    replay = _replay_file(tmp_path, runtime=runtime)
    refused = _cookiecutter(tmp_path, "--replay-file", replay, _template_dir())
    assert not marker.exists(), "the answer did not run"
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr == "error: runtime: choose one of ollama, llamacpp, vllm, onnxruntime, foundry-local\n"
    assert list((tmp_path / "out").iterdir()) == [], "nothing is written"


@pytest.mark.parametrize("how", ["--config-file", "COOKIECUTTER_CONFIG"])
def test_a_config_file_answer_holding_template_syntax_is_refused_before_it_runs(how: str, tmp_path: Path) -> None:
    """cookiecutter renders a config file's default_context as it renders key=value answers: refused alike, by name,
    with exit 2, nothing run and nothing written."""
    marker = tmp_path / "ran"
    config = tmp_path / "config.yaml"
    config.write_text("default_context:\n"
                      f"  registry: '{{{{ cycler.__init__.__globals__.os.system(\"touch {marker}\") }}}}reg.corp.io'\n"
                      "  target: kubernetes\n"
                      "  another_templates_answer: '{{ left for the template that defines it }}'\n",
                      encoding="utf-8")
    arguments = ["--config-file", config] if how == "--config-file" else []
    refused = subprocess.run([COOKIECUTTER, "--no-input", "-o", tmp_path / "out", *arguments, _template_dir()],
                             capture_output=True, text=True, timeout=300,
                             env={**os.environ, "HOME": str(tmp_path / "home"), "COOKIECUTTER_CONFIG": str(config)})
    assert not marker.exists(), "the answer did not run"
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr == ("error: registry: holds template syntax, which cookiecutter would run as code\n"
                              "  allowed: plain text without {{, {% or {#\n")
    assert refused.stdout == ""
    assert not (tmp_path / "out").exists() and not (tmp_path / "home").exists(), "nothing is written"


@pytest.mark.parametrize("shape", ["['{code}Team']", "['Team', '{code}']", "{{name: '{code}'}}", "{{'{code}': x}}"])
def test_template_syntax_inside_a_config_file_list_or_mapping_is_refused_before_it_runs(shape: str,
                                                                                       tmp_path: Path) -> None:
    """cookiecutter renders the text inside a default_context list or mapping too, before any hook runs."""
    marker = tmp_path / "ran"
    code = f'{{{{ cycler.__init__.__globals__.os.system("touch {marker}") }}}}'
    config = tmp_path / "config.yaml"
    config.write_text(f"default_context:\n  project_name: {shape.format(code=code)}\n", encoding="utf-8")
    refused = subprocess.run([COOKIECUTTER, "--no-input", "-o", tmp_path / "out", "--config-file", config,
                              _template_dir()], capture_output=True, text=True, timeout=300,
                             env={**os.environ, "HOME": str(tmp_path / "home")})
    assert not marker.exists(), "the answer did not run"
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith("error: project_name: holds template syntax"), refused.stderr
    assert not (tmp_path / "out").exists(), "nothing is written"


@pytest.mark.parametrize("key", ["CANARY-7171", "runtme"])
def test_a_key_the_template_does_not_define_is_refused_by_position(key: str, tmp_path: Path) -> None:
    """A misspelt key would be ignored and its answer lost; the key is input, so it is named by position, as
    `slm-deploy new` names it."""
    refused = _cookiecutter(tmp_path, "--no-input", _template_dir(), "target=compose", f"{key}={{{{ 1 }}}}",
                            SOURCE_ANSWER)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith("error: <argument 2>: is not a template variable (expected key=value)\n"
                                     "  allowed: azure_tenant_id, bind_address, deployment_name, environments")
    assert key not in refused.stderr + refused.stdout
    assert not (tmp_path / "out").exists()
    by_new = run_cli("new", "--no-input", "-o", str(tmp_path / "out"), "target=compose", f"{key}={{{{ 1 }}}}",
                     SOURCE_ANSWER)
    assert (by_new.code, by_new.stderr) == (2, refused.stderr), "one rule for both"


OWN_EXTENSIONS = json.loads((_template_dir() / "cookiecutter.json").read_text(encoding="utf-8"))["_extensions"]
TAMPERED = [
    ({"__slm_deploy_requirement": "unvetted-package==6.6.6"},
     "error: __slm_deploy_requirement: differs from what the template derives from the other answers: remove "
     "__slm_deploy_requirement from the replay file\n"),
    ({"_extensions": [*OWN_EXTENSIONS, "jinja2.ext.do"]},
     "error: _extensions: differs from the template's own (cookiecutter imports the modules it names): remove "
     "_extensions from the replay file\n"),
    ({"_copy_without_render": ["*"]},
     "error: the answers hold 1 key(s) the template does not define (a replay file can add keys cookiecutter obeys): "
     "generate from the template's own answers, e.g. `slm-deploy new --replay-file`, which reads only its template "
     "variables\n"),
    ({"deployment_name": 1234}, "error: deployment_name: every answer is text; this one is not\n"),
    ({"project_name": "Canary\n"},
     "error: project_name: letters, digits, spaces and . _ -, starting with a letter or digit, at most 63 (it becomes "
     "the README title and the Pulumi project's description)\n"),
]


@pytest.mark.parametrize(("tampered", "message"), TAMPERED, ids=[repr(next(iter(t.items()))) for t, _ in TAMPERED])
def test_plain_cookiecutter_refuses_replayed_keys_the_template_does_not_own_or_cannot_read(
        tampered: dict[str, object], message: str, tmp_path: Path) -> None:
    """cookiecutter takes a replay file's keys as they are: a derived answer lands in requirements.txt, an
    extension is imported, _copy_without_render writes the template's sources, a number or a trailing newline
    reaches the rules. The hook refuses them, exit 2, nothing written, not even its rendered copy (which holds
    every answer) in the temporary folder."""
    replay = _replay_file(tmp_path, **tampered)
    refused = _cookiecutter(tmp_path, "--replay-file", replay, _template_dir())
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr == message
    assert list((tmp_path / "out").iterdir()) == [], "nothing is written"
    assert list((tmp_path / "tmp").iterdir()) == [], "no rendered hook is left behind"


def _planted_module(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose Python can import a module `planted`, which leaves a marker file when imported."""
    marker, modules = tmp_path / "imported", tmp_path / "modules"
    modules.mkdir()
    (modules / "planted.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
                                        "from jinja2.ext import Extension\n\n\nclass Planted(Extension):\n    pass\n",
                                        encoding="utf-8")
    return {**os.environ, "HOME": str(tmp_path / "home"), "PYTHONPATH": str(modules)}, marker


def test_new_takes_only_the_public_answers_of_a_replay_file(tmp_path: Path) -> None:
    """`slm-deploy new --replay-file` regenerates from a replay's answers and never passes on its private keys:
    the planted extension is not imported, the requirement is the template's own. Plain cookiecutter imports it
    before the template can refuse (as the README warns), then refuses."""
    environment, marker = _planted_module(tmp_path)
    replay = _replay_file(tmp_path, runtime="llamacpp", _extensions=[*OWN_EXTENSIONS, "planted.Planted"],
                          __slm_deploy_requirement="unvetted-package==6.6.6", _copy_without_render=["*"])
    made = subprocess.run([*CLI, "new", "--replay-file", replay, "-o", tmp_path / "new", "environments=dev"],
                          capture_output=True, text=True, timeout=300, env=environment)
    assert made.returncode == 0, made.stdout + made.stderr
    assert not marker.exists(), "the replayed extension was not imported"
    project = tmp_path / "new" / "team-assistant"
    assert "unvetted-package" not in (project / "requirements.txt").read_text(encoding="utf-8")
    assert "kind: llamacpp" in (project / "Pulumi.dev.yaml").read_text(encoding="utf-8"), "replayed answer taken"
    assert sorted(path.name for path in project.glob("Pulumi.*.yaml")) == ["Pulumi.dev.yaml"], "key=value overrides"
    plain = subprocess.run([COOKIECUTTER, "-o", tmp_path / "out", "--replay-file", replay, _template_dir()],
                           capture_output=True, text=True, timeout=300, env=environment)
    assert marker.exists() and plain.returncode == 2, plain.stdout + plain.stderr
    assert list((tmp_path / "out").iterdir()) == [], "nothing is written"


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "error: --replay-file: cannot be read as JSON\n"),
    ('{"cookiecutter": ["runtime"]}', "error: --replay-file: holds no `cookiecutter` object of answers\n"),
    ('{"cookiecutter": {"runtime": ["CANARY-5150"]}}', "error: --replay-file: holds an answer that is not text\n"),
    ('{"cookiecutter": {"target": "compose", "CANARY-5150": "x"}}',
     "error: --replay-file: answer 2 is not a template variable\n"),
    ('{"cookiecutter": {"runtime": "CANARY-5150"}}', "error: runtime: is not offered\n"),
])
def test_new_refuses_a_replay_file_it_cannot_use_without_echoing_it(content: str, message: str,
                                                                   tmp_path: Path) -> None:
    replay = tmp_path / "replay.json"
    replay.write_text(content, encoding="utf-8")
    refused = run_cli("new", "--replay-file", str(replay), "-o", str(tmp_path / "out"))
    assert refused.code == 2 and refused.stderr.startswith(message), refused.stderr
    assert "CANARY" not in refused.stderr + refused.stdout and "Traceback" not in refused.stderr
    assert not (tmp_path / "out").exists()


def test_the_options_the_template_reads_answers_from_are_cookiecutters_own() -> None:
    """The template's refusal finds config-file and key=value answers through these options of cookiecutter's
    command line: a cookiecutter that renames one fails here, not by skipping the check."""
    from cookiecutter.cli import main

    assert {"extra_context", "config_file", "default_config"} <= {option.name for option in main.params}


@pytest.mark.parametrize("how", ["--config-file", "COOKIECUTTER_CONFIG"])
def test_a_config_file_named_by_a_relative_path_is_read_where_cookiecutter_read_it(how: str, tmp_path: Path) -> None:
    """cookiecutter runs each hook from the template's folder: the answers it read from ../config.yaml are still
    the answers checked there, and the project is generated, with nothing left behind in the temporary folder."""
    (tmp_path / "work").mkdir()
    (tmp_path / "tmp").mkdir()
    (tmp_path / "config.yaml").write_text(f"default_context:\n  project_name: Relative Config\n  runtime: llamacpp\n"
                                          f"  slm_deploy_source: '{SOURCE_ANSWER.split('=', 1)[1]}'\n",
                                          encoding="utf-8")
    arguments = ["--config-file", "../config.yaml"] if how == "--config-file" else []
    generated = subprocess.run([COOKIECUTTER, "--no-input", *arguments, _template_dir()], cwd=tmp_path / "work",
                               capture_output=True, text=True, timeout=300,
                               env={**os.environ, "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp"),
                                    "COOKIECUTTER_CONFIG": "../config.yaml"})
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "on llamacpp" in (tmp_path / "work" / "relative-config" / "Pulumi.dev.yaml").read_text()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_config_file_choice_the_template_does_not_offer_is_refused(tmp_path: Path) -> None:
    """cookiecutter warns of such a default and generates with the template's first option instead: an answer
    accepted and ignored. The template refuses it, exit 2, nothing written."""
    config = tmp_path / "config.yaml"
    config.write_text("default_context:\n  runtime: not-a-runtime\n", encoding="utf-8")
    refused = _cookiecutter(tmp_path, "--no-input", "--config-file", config, _template_dir())
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.endswith("error: runtime: is not offered\n"
                                   "  allowed: ollama, llamacpp, vllm, onnxruntime, foundry-local\n")
    assert not (tmp_path / "out").exists()


def test_a_config_file_cannot_set_a_private_key_of_the_template(tmp_path: Path) -> None:
    """cookiecutter renders a config file's value for a derived key as it renders the template's own expression:
    refused by name before it runs, exit 2, nothing written."""
    marker = tmp_path / "ran"
    config = tmp_path / "config.yaml"
    config.write_text("default_context:\n  __slm_deploy_requirement: "
                      f"'{{{{ cycler.__init__.__globals__.os.system(\"touch {marker}\") }}}}slm-deploy'\n",
                      encoding="utf-8")
    refused = _cookiecutter(tmp_path, "--no-input", "--config-file", config, _template_dir())
    assert not marker.exists(), "the value did not run"
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith("error: default_context.__slm_deploy_requirement: is a private key of the "
                                     "template, which derives it")
    assert not (tmp_path / "out").exists()
