"""Distinctive secret values, supplied wherever a value can be supplied (stack config secrets, Compose secret
files, the environment of `render`), appear in no rendered file, no log line, no error message and no plain part
of any Pulumi mock registration, for every example stack and every backend."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from slm_deploy.stack_settings import StackSettings
from tests.conftest import CLI, STACKS, stack_id
from tests.secret_stores.cases import CASES, case, spec_of
from tests.test_pulumi_components import SECRET_SIG, canary_value, run_component
from tests.test_pulumi_components_aks import ENCRYPTION
from tests.test_pulumi_program import run_program

ENV_CANARY = "canary-env-3e9d1f7a2c5b8e4d6a0f"
"""Put in every environment variable a careless program might read a token from."""
SECRET_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "SLM_API_KEYS", "WEBUI_SECRET_KEY", "OPENAI_API_KEY")


def spec_files(tmp_path: Path) -> dict[str, Path]:
    """Every example stack and every backend case, as files `render` reads."""
    files = {stack_id(s): s for s in STACKS}
    for name in CASES:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec_of(name)), encoding="utf-8")
        files[name] = path
    return files


def canaries(names: list[str]) -> list[str]:
    return [canary_value(n) for n in names] + [ENV_CANARY]


def leaks(text: str, values: list[str]) -> list[str]:
    return [v for v in values if v in text]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **{name: ENV_CANARY for name in SECRET_ENV}}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=180)


def plain_parts(value: Any) -> Any:
    """A registration's inputs with every value Pulumi carries as a secret cut out."""
    if isinstance(value, dict) and SECRET_SIG in value:
        return "<secret>"
    if isinstance(value, dict):
        return {k: plain_parts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_parts(v) for v in value]
    return value


NAMES = [stack_id(s) for s in STACKS] + sorted(CASES)


@pytest.mark.parametrize("name", NAMES)
def test_render_and_check_never_show_a_secret_value(name: str, tmp_path: Path) -> None:
    spec = spec_files(tmp_path)[name]
    out = tmp_path / "out"
    first = cli("render", str(spec), "--out", str(out))
    assert first.returncode == 0, first.stderr
    secret_names = sorted(_declared(spec))
    values = canaries(secret_names)
    (out / "compose" / "secrets").mkdir(parents=True, exist_ok=True)
    for secret in secret_names:  # what an operator puts next to the bundle before `docker compose up`
        (out / "compose" / "secrets" / secret).write_text(canary_value(secret) + "\n", encoding="utf-8")
    again = cli("render", str(spec), "--out", str(out))
    check = cli("check", str(out), "--format", "json")
    for run in (first, again, check):
        assert leaks(run.stdout + run.stderr, values) == [], run.args
    owned = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["files"]
    for path in [*owned, "manifest.json"]:
        assert leaks((out / path).read_text(encoding="utf-8"), values) == [], path
    for secret in secret_names:  # render kept the operator's files and wrote none of its own there
        assert (out / "compose" / "secrets" / secret).read_text(encoding="utf-8") == canary_value(secret) + "\n"
        assert f"compose/secrets/{secret}" not in owned


def test_validate_never_shows_a_secret_value(tmp_path: Path) -> None:
    """One spec per run: specs validated together are taken to share a cluster, and these are unrelated."""
    for spec in spec_files(tmp_path).values():
        run = cli("validate", str(spec), "--json")
        assert run.returncode == 0, run.stderr
        assert leaks(run.stdout + run.stderr, [ENV_CANARY]) == []


def _declared(spec: Path) -> dict[str, Any]:
    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    deployment = document.get("config", {}).get("slm-deploy:deployment", document)
    return deployment.get("secrets") or {}


def _registrations_and_logs(name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.DEBUG):
        if name in CASES:
            deployment = case(name)
            settings = StackSettings(work_dir=tmp_path, aks_encryption=ENCRYPTION if deployment.spec.targets.aks else None)
            mocks = run_component(deployment, settings, stack=name)
        else:
            mocks = run_program(next(s for s in STACKS if stack_id(s) == name), tmp_path)
    return mocks.resources, caplog.text


@pytest.mark.parametrize("name", NAMES)
def test_pulumi_registrations_and_logs_carry_values_only_as_secrets(name: str, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    spec_path = spec_files(tmp_path)[name]
    values = canaries(sorted(_declared(spec_path)))
    resources, logs = _registrations_and_logs(name, tmp_path, caplog)
    assert resources
    for resource in resources:
        text = json.dumps(plain_parts(dict(resource.inputs or {})), sort_keys=True, default=str)
        assert leaks(text, values) == [], (resource.typ, resource.name)
    assert leaks(logs, values) == []
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".yaml"]
    for path in written:  # build contexts Pulumi writes to disk
        assert leaks(path.read_text(encoding="utf-8", errors="replace"), values) == [], path


def test_the_values_do_travel_as_secrets(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The canary search above would pass vacuously if no value reached the mocks; they do, wrapped as secrets."""
    resources, _ = _registrations_and_logs("kubernetes-webui", tmp_path, caplog)
    wrapped = json.dumps([dict(r.inputs or {}) for r in resources], default=str)
    for secret in ("api-keys", "webui-api-key", "webui-secret-key"):
        assert canary_value(secret) in wrapped


def test_errors_name_the_missing_value_without_showing_the_others(tmp_path: Path) -> None:
    deployment = case("kubernetes-webui")
    config = {"slm-deploy:secret-api-keys": canary_value("api-keys"),
              "slm-deploy:secret-webui-api-key": canary_value("webui-api-key")}
    with pytest.raises(Exception) as raised:
        run_component(deployment, StackSettings(work_dir=tmp_path), config=config)
    message = str(raised.value)
    assert "webui-secret-key" in message
    assert leaks(message, canaries(["api-keys", "webui-api-key"])) == []
    bad = spec_of("kubernetes-webui")
    bad["runtime"]["open_webui"]["secret_key_secret"] = "session-key"  # names a secret nobody declared
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    run = cli("render", str(path), "--out", str(tmp_path / "never"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert leaks(run.stdout + run.stderr, [ENV_CANARY]) == []
    assert not (tmp_path / "never").exists()
