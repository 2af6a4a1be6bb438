"""The local engine builds from the digest-pinned base image with BuildKit secrets, and secrets stay out of images."""

from __future__ import annotations

import hashlib
import re
import secrets
import textwrap
from pathlib import Path

import pytest

from tests.support.base_image import REPOSITORY, debian_mirror, recipe_hash
from tests.support.docker_engine import DockerBuildError, docker, docker_build, image_exists
from tests.support.fixtures import base_image, docker_engine, host_ca_bundle, local_registry  # noqa: F401
from tests.support.registry import manifest_digest


@pytest.fixture
def image_tag(docker_engine):  # noqa: F811
    """A throwaway tag, removed after the test."""
    tag = f"slm-test/probe:{secrets.token_hex(6)}"
    yield tag
    if image_exists(tag):
        docker("image", "rm", "--force", tag)


@pytest.fixture
def token_file(tmp_path) -> tuple[Path, str]:
    """A build secret with a value unique to this test."""
    value = f"hf_{secrets.token_hex(16)}"
    path = tmp_path / "secrets" / "hf_token"
    path.parent.mkdir()
    path.write_text(value)
    return path, value


def context_with(tmp_path: Path, dockerfile: str) -> Path:
    """A build context folder holding one Dockerfile."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(textwrap.dedent(dockerfile))
    return context


@pytest.mark.docker
def test_base_image_is_pinned_by_the_digest_the_registry_serves(base_image, local_registry):  # noqa: F811
    pattern = rf"{re.escape(local_registry)}/{REPOSITORY}:{recipe_hash()}@sha256:[0-9a-f]{{64}}"
    assert re.fullmatch(pattern, base_image.reference)
    assert manifest_digest(local_registry, REPOSITORY, recipe_hash()) == base_image.digest


@pytest.mark.docker
def test_base_image_carries_the_runtime_tools_images_need(base_image):  # noqa: F811
    output = docker("run", "--rm", "--network", "none", base_image.reference, "python3", "-c", "import ensurepip, ssl, venv; print('ok')")
    assert output.strip() == "ok"


@pytest.mark.docker
def test_buildkit_secret_is_readable_during_build_and_absent_from_the_image(tmp_path, base_image, image_tag, token_file):  # noqa: F811
    token_path, token = token_file
    context = context_with(
        tmp_path,
        f"""\
        FROM {base_image.reference}
        RUN --mount=type=secret,id=hf_token sha256sum /run/secrets/hf_token | cut -d' ' -f1 > /token.sha256
        USER 10001:10001
        """,
    )
    # BuildKit does not key its layer cache on secret contents, so a cached layer would hold an older token.
    image_id = docker_build(context, image_tag, secrets={"hf_token": token_path}, extra_args=["--no-cache"])
    assert image_id.startswith("sha256:")
    recorded = docker("run", "--rm", "--network", "none", image_tag, "cat", "/token.sha256").strip()
    assert recorded == hashlib.sha256(token.encode()).hexdigest()
    assert docker("run", "--rm", "--network", "none", image_tag, "ls", "/run/secrets").strip() == ""
    assert token not in docker("history", "--no-trunc", image_tag)
    assert token not in docker("image", "inspect", image_tag)


@pytest.mark.docker
def test_failed_build_reports_the_log_tail_without_secret_values(tmp_path, base_image, image_tag, token_file):  # noqa: F811
    token_path, token = token_file
    context = context_with(
        tmp_path,
        f"""\
        FROM {base_image.reference}
        RUN --mount=type=secret,id=hf_token cat /run/secrets/hf_token && echo model-download-refused && exit 3
        """,
    )
    with pytest.raises(DockerBuildError) as failure:
        docker_build(context, image_tag, secrets={"hf_token": token_path})
    message = str(failure.value)
    assert "model-download-refused" in message
    assert token not in message
    assert "[secret]" in message


@pytest.mark.docker
def test_missing_secret_source_is_reported_before_building(tmp_path, image_tag):
    context = context_with(tmp_path, "FROM scratch\n")
    with pytest.raises(DockerBuildError, match="hf_token"):
        docker_build(context, image_tag, secrets={"hf_token": tmp_path / "absent"})


@pytest.mark.docker
@pytest.mark.slow
def test_builds_reach_pypi_with_the_host_ca_bundle_as_a_secret(tmp_path, base_image, image_tag, host_ca_bundle):  # noqa: F811
    context = context_with(
        tmp_path,
        f"""\
        FROM {base_image.reference}
        RUN python3 -m venv /opt/venv
        RUN --mount=type=secret,id=ca_bundle \\
            PIP_CERT=/run/secrets/ca_bundle /opt/venv/bin/pip download --no-deps --dest /wheels "six==1.16.0"
        """,
    )
    docker_build(context, image_tag, secrets={"ca_bundle": host_ca_bundle})
    assert docker("run", "--rm", "--network", "none", image_tag, "ls", "/wheels").split() == ["six-1.16.0-py2.py3-none-any.whl"]


@pytest.mark.parametrize(
    ("file_name", "content", "expected"),
    [
        (
            "sources.list.d/debian.sources",
            "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
            "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main\n\n"
            "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main contrib\n",
            "http://mirror.example/debian",
        ),
        (
            "sources.list",
            "# local mirror\ndeb [arch=amd64] http://apt.example/debian bookworm main non-free-firmware\n",
            "http://apt.example/debian",
        ),
        ("sources.list", "deb http://apt.example/debian bullseye main\n", "http://deb.debian.org/debian"),
    ],
    ids=["deb822", "one-line", "no-bookworm-entry"],
)
def test_debootstrap_uses_the_mirror_apt_already_reaches(tmp_path, monkeypatch, file_name, content, expected):
    monkeypatch.delenv("SLM_DEPLOY_DEBIAN_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / file_name).write_text(content)
    assert debian_mirror(tmp_path) == expected


def test_an_absent_engine_skips_with_the_reason(tmp_path, monkeypatch):
    from tests.support import docker_engine as engine

    monkeypatch.setenv("SLM_DEPLOY_DOCKER_CLI", str(tmp_path / "docker"))
    monkeypatch.delenv("SLM_DEPLOY_REQUIRE_TOOLS", raising=False)
    engine.docker_available.cache_clear()
    try:
        assert engine.docker_available() == (False, f"{tmp_path / 'docker'} not found (apt-get install docker.io)")
        with pytest.raises(pytest.skip.Exception, match="docker unavailable: .*apt-get install docker.io"):
            engine.require_docker()
    finally:
        engine.docker_available.cache_clear()


def test_an_absent_engine_fails_where_ci_requires_every_engine(tmp_path, monkeypatch):
    from tests.support import docker_engine as engine
    from tests.support.tools import ToolRequired

    monkeypatch.setenv("SLM_DEPLOY_DOCKER_CLI", str(tmp_path / "docker"))
    monkeypatch.setenv("SLM_DEPLOY_REQUIRE_TOOLS", "all")
    engine.docker_available.cache_clear()
    try:
        with pytest.raises(ToolRequired, match="docker is required here"):
            engine.require_docker()
    finally:
        engine.docker_available.cache_clear()


def test_an_engine_that_does_not_answer_skips_with_the_reason(tmp_path, monkeypatch):
    from tests.support import docker_engine as engine

    silent_cli = tmp_path / "docker"
    silent_cli.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock' >&2\nexit 1\n")
    silent_cli.chmod(0o755)
    monkeypatch.setenv("SLM_DEPLOY_DOCKER_CLI", str(silent_cli))
    engine.docker_available.cache_clear()
    try:
        available, reason = engine.docker_available()
    finally:
        engine.docker_available.cache_clear()
    assert not available and "Cannot connect to the Docker daemon" in reason
