"""The image's ENV carries the same runtime.env values as compose.yaml, read back by Docker's quoting rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from slm_deploy.render.dockerfile import _env_instruction
from tests.spec.test_spec_honesty import _runtime
from tests.support.cli import run_in_process


def docker_env(text: str) -> dict[str, str]:
    """The ENV key=value words of a Dockerfile as Docker's lexer reads them: inside double quotes only
    a backslash before a quote, a dollar or a backslash is dropped; every other character is kept as written."""
    joined = re.sub(r"\\\n", "", text)
    values: dict[str, str] = {}
    for line in joined.splitlines():
        if not line.startswith("ENV "):
            continue
        for key, quoted in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line):
            values[key] = re.sub(r'\\(["$\\])', r"\1", quoted)
    return values


def test_the_image_env_reads_back_as_the_compose_value(tmp_path: Path) -> None:
    spec = _runtime("ollama", env={"OLLAMA_LOAD_TIMEOUT": "2000000µs"})
    path, out = tmp_path / "spec.yaml", tmp_path / "bundle"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    result = run_in_process("render", str(path), "--out", str(out))
    assert result.code == 0, result.stderr
    compose = yaml.safe_load((out / "compose" / "compose.yaml").read_text(encoding="utf-8"))
    (runtime,) = [s for s in compose["services"].values() if "OLLAMA_LOAD_TIMEOUT" in s.get("environment", {})]
    (dockerfile,) = [p for p in out.glob("docker/*/Dockerfile") if "OLLAMA_LOAD_TIMEOUT" in p.read_text("utf-8")]
    image = docker_env(dockerfile.read_text(encoding="utf-8"))
    assert image["OLLAMA_LOAD_TIMEOUT"] == runtime["environment"]["OLLAMA_LOAD_TIMEOUT"] == "2000000µs"


@pytest.mark.parametrize("value", ['say "hi"', "cost $HOME", "C:\\path\\", "tab\there", "µ \\u00b5"])
def test_characters_docker_unescapes_are_escaped_and_no_others(value: str) -> None:
    assert docker_env(_env_instruction([("X", value), ("Y", "2")])) == {"X": value, "Y": "2"}
