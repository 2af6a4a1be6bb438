"""Key Vault names the template derives are valid Azure names, distinct per environment, whatever the project
and environment names; the secrets' expiry is an answer, defaulting to a year after generation."""

from __future__ import annotations

import datetime
import re
import string

import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from slm_deploy.cli.app import app
from slm_deploy.cli.template_facts import key_vault_name
from tests.conftest import run_cli
from tests.templates.bake import REGISTRY, SOURCE_ANSWER, TENANT

DEPLOYMENT_NAMES = st.from_regex(r"\A[a-z]([-a-z0-9]{0,38}[a-z0-9])?\Z")
ENVIRONMENT_NAMES = st.from_regex(r"\A[a-z][a-z0-9-]{0,30}\Z")


def is_azure_vault_name(name: str) -> bool:
    """Azure's rules for vault names (Microsoft.KeyVault naming rules), checked one by one."""
    return (3 <= len(name) <= 24 and set(name) <= set(string.ascii_letters + string.digits + "-")
            and name[0].isalpha() and name[-1].isalnum() and "--" not in name)


@given(DEPLOYMENT_NAMES, st.lists(ENVIRONMENT_NAMES, min_size=2, max_size=6, unique=True))
def test_derived_names_are_valid_and_distinct(deployment: str, environments: list[str]) -> None:
    names = [key_vault_name(deployment, env) for env in environments]
    assert all(is_azure_vault_name(name) for name in names), names
    assert len(set(names)) == len(names)


def test_hostile_names_make_valid_distinct_vaults_that_render(tmp_path) -> None:
    """`--` in the project name, environments equal in their first six characters, one ending in `-` there."""
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "project_name=x", "deployment_name=team--llm---x",
                     "target=aks", "secret_store=azure-key-vault", "environments=stage-a,stage-b,staging",
                     f"azure_tenant_id={TENANT}", f"registry={REGISTRY}")
    assert result.code == 0, result.stderr
    vaults = []
    for env in ("stage-a", "stage-b", "staging"):
        stack = tmp_path / "team--llm---x" / f"Pulumi.{env}.yaml"
        spec = yaml.safe_load(stack.read_text())["config"]["slm-deploy:deployment"]
        (vault,) = spec["secret_stores"]["azure_key_vaults"]
        assert is_azure_vault_name(vault) and spec["secrets"]["api-keys"]["vault"] == vault
        vaults.append(vault)
        rendered = CliRunner().invoke(app, ["render", str(stack), "--out", str(tmp_path / env), "--quiet"])
        assert rendered.exit_code == 0, rendered.output
    assert len(set(vaults)) == 3


def test_spec_refuses_a_vault_name_azure_refuses(tmp_path) -> None:
    stack = tmp_path / "spec.yaml"
    stack.write_text(yaml.safe_dump({
        "name": "svc", "model": {"id": "qwen3-1.7b"}, "runtime": {"kind": "ollama"},
        "targets": {"aks": {}, "docker": {"registry": "registry.example.com"}},
        "secrets": {"api-keys": {"backend": "azure-key-vault", "vault": "kv--svc"}},
        "secret_stores": {"azure_key_vaults": {"kv--svc": {"tenant_id": "00000000-0000-0000-0000-000000000000"}}}}))
    result = run_cli("validate", str(stack))
    assert result.code == 2 and "single hyphens" in result.stderr and "Traceback" not in result.stderr


def expiry(tmp_path, *answers: str) -> str:
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "project_name=kv", "target=aks",
                     "secret_store=azure-key-vault", "environments=dev", f"azure_tenant_id={TENANT}",
                     f"registry={REGISTRY}", *answers)
    assert result.code == 0, result.stderr
    spec = yaml.safe_load((tmp_path / "kv/Pulumi.dev.yaml").read_text())["config"]["slm-deploy:deployment"]
    (store,) = spec["secret_stores"]["azure_key_vaults"].values()
    return store["secrets_expire_on"]


def test_expiry_defaults_to_a_year_after_generation(tmp_path) -> None:
    today = datetime.datetime.now(datetime.timezone.utc).date()
    written = datetime.date.fromisoformat(expiry(tmp_path))
    assert written - today in (datetime.timedelta(days=365), datetime.timedelta(days=364))  # generated near midnight


def test_expiry_answer_is_written(tmp_path) -> None:
    answer = (datetime.date.today() + datetime.timedelta(days=400)).isoformat()
    assert expiry(tmp_path, f"secrets_expire_on={answer}") == answer


def test_expiry_in_the_past_or_without_key_vault_is_refused(tmp_path) -> None:
    past = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "target=aks", "secret_store=azure-key-vault",
                   "secrets_expire_on=2001-01-01", f"azure_tenant_id={TENANT}", f"registry={REGISTRY}")
    assert past.code == 2 and past.stderr.count("error: ") == 2  # the reason, then that nothing was written
    assert "secrets_expire_on: an expired secret cannot be read" in past.stderr
    unused = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "secrets_expire_on=2099-06-30")
    assert unused.code == 2 and "error: secrets_expire_on dates the secrets" in unused.stderr
    assert re.search(r"2001|2099", past.stderr + unused.stderr) is None, "the answer is never printed back"
    assert list(tmp_path.iterdir()) == []
