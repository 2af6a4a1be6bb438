"""The client snippets of a rendered bundle README, run as a user would against the running Compose project:
Python (openai), Node.js (openai from the npm registry, pinned) and curl."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from slm_deploy.render.clients import OPENAI_NPM_VERSION
from tests.integration.compose_projects import Project
from tests.integration.stacks import RenderedStack
from tests.support.cache import cache_root, exclusive
from tests.support.tools import find_executable

FENCE = re.compile(r"```(?P<lang>[a-z]+)\n(?P<body>.*?)```", re.S)
TIMEOUT = 300


def snippet(stack: RenderedStack, lang: str) -> str:
    """The first fenced block of that language in the README's Clients section."""
    readme = (stack.bundle / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Clients\n", 1)[1].split("\n## ", 1)[0]
    return next(m["body"] for m in FENCE.finditer(section) if m["lang"] == lang)


def user_env(project: Project) -> dict[str, str]:
    """The environment the README tells users to set: the key in SLM_API_KEY, nothing else of ours."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "SLM_API_KEY": project.api_key}


def answer_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The lines printed (the tiny model's random words may be blank, so blank lines count)."""
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


@pytest.fixture(scope="session")
def openai_for_node() -> Path:
    """node_modules with the openai package at the README's pinned version, installed once into the cache."""
    npm = find_executable("npm", "install Node.js 20 or newer with npm")
    folder = cache_root() / f"npm-openai-{OPENAI_NPM_VERSION}"
    with exclusive(f"npm-openai-{OPENAI_NPM_VERSION}"):
        if not (folder / "node_modules" / "openai" / "package.json").is_file():
            folder.mkdir(parents=True, exist_ok=True)
            subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--omit=peer",
                            f"openai@{OPENAI_NPM_VERSION}"], check=True, capture_output=True, timeout=TIMEOUT)
    return folder / "node_modules"


def test_the_python_snippet_answers_plain_and_streamed(compose_project: Project, onnx_stack: RenderedStack) -> None:
    result = subprocess.run([sys.executable, "-c", snippet(onnx_stack, "python")], env=user_env(compose_project),
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert len(answer_lines(result)) >= 2  # the reply, then the streamed text


def test_the_node_snippet_answers_plain_and_streamed(compose_project: Project, onnx_stack: RenderedStack,
                                                     openai_for_node: Path, tmp_path: Path) -> None:
    node = find_executable("node", "install Node.js 20 or newer")
    (tmp_path / "node_modules").symlink_to(openai_for_node, target_is_directory=True)
    script = tmp_path / "chat.mjs"
    script.write_text(snippet(onnx_stack, "javascript"))
    result = subprocess.run([node, str(script)], env=user_env(compose_project), capture_output=True, text=True,
                            timeout=TIMEOUT, cwd=tmp_path)
    installed = (openai_for_node / "openai" / "package.json").read_text()
    assert f'"version": "{OPENAI_NPM_VERSION}"' in installed
    assert len(answer_lines(result)) >= 2


def test_the_curl_snippet_answers_plain_and_streamed(compose_project: Project, onnx_stack: RenderedStack) -> None:
    find_executable("curl", "apt-get install curl")
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", snippet(onnx_stack, "sh")],
                            env=user_env(compose_project), capture_output=True, text=True, timeout=TIMEOUT)
    lines = [line for line in answer_lines(result) if line.strip()]  # server-sent events end with a blank line
    assert lines[0].startswith("{") and '"chat.completion"' in lines[0]
    assert lines[-1] == "data: [DONE]"


def test_without_the_key_the_snippets_are_refused(compose_project: Project, onnx_stack: RenderedStack) -> None:
    env = {**user_env(compose_project), "SLM_API_KEY": "not-a-key-the-gateway-knows"}
    result = subprocess.run(["bash", "-c", snippet(onnx_stack, "sh")], env=env, capture_output=True, text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 22 and "Invalid API key." in result.stdout
