"""Hugging Face repository ids: every id the spec accepts is one the hub client accepts, so the download step never
dies on an id that validated, and the ids it refuses are refused by field, without echoing them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from slm_deploy.errors import SpecError
from slm_deploy.spec.catalogue import catalogue
from slm_deploy.spec.fields import HF_REPO_PATTERN, HfRepo
from slm_deploy.spec.loader import parse_deployment
from tests.support.cli import run_in_process

REPO = TypeAdapter(HfRepo)
REVISION = "0123456789abcdef0123456789abcdef01234567"
SPEC: dict[str, Any] = {
    "name": "demo", "runtime": {"kind": "llamacpp"}, "secrets": {"api-keys": {}},
    "model": {"source": {"kind": "huggingface", "repo": "acme/tiny-chat", "revision": REVISION},
              "parameters_billion": 1.0, "native_context": 4096, "prepare": {"format": "gguf"}},
}


def spec_accepts(repo: str) -> bool:
    try:
        REPO.validate_python(repo)
    except ValidationError:
        return False
    return True


def hub_accepts(repo: str) -> bool:
    try:
        validate_repo_id(repo)
    except HFValidationError:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(st.from_regex(HF_REPO_PATTERN, fullmatch=True))
def test_ids_of_the_spec_form_that_the_spec_accepts_the_hub_client_accepts(repo: str) -> None:
    if spec_accepts(repo):
        assert hub_accepts(repo)


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet="aZ09_.-/", max_size=200))
def test_any_id_the_spec_accepts_the_hub_client_accepts(repo: str) -> None:
    if spec_accepts(repo):
        assert hub_accepts(repo)


def test_every_catalogue_repository_is_accepted() -> None:
    repos = {e.hf_repo for e in catalogue().values()}
    repos |= {source["repo"] for e in catalogue().values() for source in (e.gguf, e.onnx) if source}
    assert repos and all(spec_accepts(repo) and hub_accepts(repo) for repo in repos)


@pytest.mark.parametrize("repo", [
    "my-org/ft..x", "org/ft--y", "my-org/ft.git", "my-org/" + "a" * 97, "a" * 97 + "/model",
    "org/model-", "org/model.", "org./model", "org-/model", "org/.model", "-org/model",
])
def test_ids_the_hub_client_refuses_are_refused_by_field_without_echo(repo: str, tmp_path: Path) -> None:
    assert not hub_accepts(repo)
    data = copy.deepcopy(SPEC)
    data["model"]["source"]["repo"] = repo
    with pytest.raises(SpecError) as refused:
        parse_deployment(data)
    assert [p.path for p in refused.value.problems] == ["model.source.repo"]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = run_in_process("validate", str(path))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "model.source.repo" in result.stderr and repo not in result.stderr + result.stdout


def test_ids_at_the_hub_client_limits_are_accepted() -> None:
    for repo in ("a/b", "a" * 96 + "/" + "b" * 96, "Org_1/Model-v1.5_", "0/9"):
        assert spec_accepts(repo) and hub_accepts(repo)
