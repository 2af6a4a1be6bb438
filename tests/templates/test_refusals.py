"""Impossible answers are refused by the template's pre-generation hook with a clear message, and nothing is
written; a spec slm-deploy rejects is refused by the same hook, validated in memory before any file lands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from slm_deploy.cli.new import _template_dir
from tests.conftest import run_cli
from tests.templates.bake import REGISTRY, SOURCE, SOURCE_ANSWER, VAULT_SERVER, bake

REFUSED = [
    ({"runtime": "foundry-local", "target": "compose"}, "runtime=foundry-local installs on a host"),
    ({"runtime": "ollama", "target": "host"}, "target=host is for runtime=foundry-local"),
    ({"runtime": "vllm", "target": "kubernetes"}, "runtime=vllm needs a GPU"),
    ({"runtime": "foundry-local", "target": "host", "gpu_type": "nvidia-l4"}, "leave gpu_type=none"),
    ({"target": "compose", "exposure": "ingress"}, "exposure=ingress needs a cluster"),
    ({"target": "kubernetes", "monitoring": "managed"}, "monitoring=managed is Azure Managed Prometheus"),
    ({"target": "compose", "monitoring": "existing"}, "monitoring=existing means a Prometheus operator"),
    ({"target": "compose", "secret_store": "kubernetes"}, "secret_store=kubernetes mounts secrets into pods"),
    ({"target": "kubernetes", "registry": REGISTRY, "deployment_name": "kube", "environments": "system"},
     "deployment_name answer, stack field targets.kubernetes.monitoring_namespace: is a namespace the cluster"),
    ({"target": "kubernetes", "secret_store": "azure-key-vault"}, "secret_store=azure-key-vault is wired"),
    ({"target": "aks", "secret_store": "file"}, "secret_store=file is for Compose"),
    ({"target": "aks", "secret_store": "azure-key-vault"}, "azure_tenant_id: secret_store=azure-key-vault needs"),
    ({"target": "aks", "secret_store": "azure-key-vault", "azure_tenant_id": "00000000-0000-0000-0000-000000000000"},
     "azure_tenant_id: a tenant id is a GUID"),
    ({"target": "aks", "secret_store": "azure-key-vault", "azure_tenant_id": "my-tenant"},
     "azure_tenant_id: a tenant id is a GUID"),
    ({"target": "aks", "azure_tenant_id": "4f1c2a9e-7b3d-4e6a-9c58-2d0b7e1f3a64"}, "azure_tenant_id names the tenant"),
    ({"environments": "dev,Prod"}, "environments: each must be lower-case"),
    ({"environments": "dev,dev"}, "environments: each name once"),
    ({"environments": " , "}, "environments: name at least one"),
    ({"deployment_name": "Team #1"}, "set deployment_name="),
    ({"project_name": "Team\nconfig: {}", "deployment_name": "team"}, "project_name: letters, digits, spaces"),
    ({"project_name": "Team $(id)", "deployment_name": "team"}, "project_name: letters, digits, spaces"),
    ({"target": "kubernetes", "deployment_name": "a" * 25}, "deployment_name: at most 24 characters"),
    ({"target": "kubernetes", "environments": "dev,dev-monitoring"}, "environments: an environment may not be named"),
    ({"target": "kubernetes", "monitoring": "off", "deployment_name": "a" * 36},
     "deployment_name: at most 35 characters"),
    ({"target": "compose", "deployment_name": "a" * 30, "environments": "dev,production"},
     "deployment_name: at most 29 characters"),
    ({"runtime": "foundry-local", "target": "host", "model": "phi-4-mini-instruct", "environments": "dev,prod"},
     "environments: target=host writes the same stack"),
    ({"runtime": "foundry-local", "target": "host", "model": "phi-4-mini-instruct", "exposure": "internal"},
     "target=host serves Foundry Local on loopback only"),
    ({"runtime": "foundry-local", "target": "host", "model": "phi-4-mini-instruct", "secret_store": "file"},
     "target=host keeps no secrets"),
    ({"runtime": "foundry-local", "target": "host", "model": "phi-4-mini-instruct", "registry": "r.example.com"},
     "registry: a host install builds no image"),
    ({"host_os": "linux"}, "host_os: only target=host reads it"),
    ({"ingress_host": "api.example.org"}, "ingress_host: only exposure=ingress reads it"),
    ({"target": "kubernetes", "exposure": "ingress", "ingress_host": "10.0.0.1", "registry": REGISTRY},
     "ingress_host answer, stack field exposure.host"),
    ({"target": "kubernetes", "exposure": "ingress", "ingress_host": "corp", "registry": REGISTRY},
     "ingress_host: a single label is no public domain"),
    ({"target": "aks", "exposure": "ingress", "ingress_host": "team.internal", "registry": REGISTRY},
     "ingress_host answer, stack field exposure.host: is a name no public certificate is issued for"),
    ({"target": "kubernetes", "exposure": "ingress", "ingress_host": "svc.cluster.local", "registry": REGISTRY},
     "ingress_host answer, stack field exposure.host: is a name no public certificate is issued for"),
    ({"target": "kubernetes"}, "registry: target=kubernetes pulls the images slm-deploy builds from a registry"),
    ({"target": "aks"}, "registry: target=aks pulls the images slm-deploy builds from a registry"),
    ({"target": "kubernetes", "registry": REGISTRY, "exposure": "ingress"},
     "ingress_host: exposure=ingress serves each environment at <environment>.<ingress_host>"),
    ({"registry": "registry.example.com"}, "registry: example.com, example.net, example.org, example, invalid"),
    ({"target": "kubernetes", "registry": "cr.team.example:5000/llm"}, "registry: example.com, example.net"),
    ({"target": "kubernetes", "registry": "invalid/team"}, "registry: example.com, example.net"),
    ({"target": "kubernetes", "registry": "198.51.100.7:5000"}, "registry: example.com, example.net"),
    ({"target": "kubernetes", "registry": "203.0.113.20"}, "networks 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24"),
    ({"target": "kubernetes", "registry": REGISTRY, "exposure": "ingress", "ingress_host": "LLM.Example.ORG"},
     "ingress_host: example.com, example.net, example.org, example, invalid"),
    ({"target": "kubernetes", "registry": REGISTRY, "exposure": "ingress", "ingress_host": "example"},
     "ingress_host: example.com, example.net, example.org, example, invalid"),
    ({"target": "kubernetes", "registry": REGISTRY, "exposure": "ingress", "ingress_host": "Invalid"},
     "ingress_host: example.com, example.net, example.org, example, invalid"),
    ({"target": "kubernetes", "registry": REGISTRY, "secret_store": "external-secrets"},
     "vault_server: secret_store=external-secrets reads the secrets from your team's HashiCorp Vault"),
    ({"target": "kubernetes", "registry": REGISTRY, "secret_store": "external-secrets",
      "vault_server": "https://vault.example.com:8200"}, "vault_server: example.com, example.net"),
    ({"target": "kubernetes", "registry": REGISTRY, "secret_store": "external-secrets",
      "vault_server": "https://vault.corp.invalid"}, "vault_server: example.com, example.net"),
    ({"target": "kubernetes", "registry": REGISTRY, "secret_store": "external-secrets",
      "vault_server": "https://192.0.2.10:8200"}, "vault_server: example.com, example.net"),
    ({"target": "kubernetes", "registry": REGISTRY, "secret_store": "external-secrets",
      "vault_server": "http://vault.assistants-platform.dev:8200"}, "vault_server answer, stack field secret_stores"),
    ({"target": "kubernetes", "registry": REGISTRY, "secret_store": "kubernetes", "vault_server": VAULT_SERVER},
     "vault_server: only secret_store=external-secrets reads it"),
    ({"vault_server": VAULT_SERVER}, "vault_server: only secret_store=external-secrets reads it"),
    ({"target": "kubernetes", "registry": "myteam"},
     "registry answer, stack field targets.docker.registry: is not in the allowed form"),
    ({"registry": "myteam/llm"}, "registry answer, stack field targets.docker.registry: is not in the allowed form"),
    ({"target": "kubernetes", "registry": "192.0.2"},
     "registry answer, stack field targets.docker.registry: spells a host as a number other than four decimal"),
    ({"target": "kubernetes", "registry": "0xc0000205:5000/llm"},
     "registry answer, stack field targets.docker.registry: spells a host as a number other than four decimal"),
    ({"target": "kubernetes", "registry": "0300.0.2.1"},
     "registry answer, stack field targets.docker.registry: spells a host as a number other than four decimal"),
    ({"target": "kubernetes", "registry": REGISTRY, "secret_store": "external-secrets", "vault_server": "https://vault"},
     "vault_server answer, stack field secret_stores.external_secrets.vault.provider.server: is not in the allowed"),
    ({"target": "kubernetes", "registry": REGISTRY, "secret_store": "external-secrets",
      "vault_server": "https://3221225989:8200"},
     "vault_server answer, stack field secret_stores.external_secrets.vault.provider.server: spells a host as a"),
    ({"target": "kubernetes", "registry": REGISTRY, "secret_store": "external-secrets",
      "vault_server": "https://192.0.2:8200"},
     "vault_server answer, stack field secret_stores.external_secrets.vault.provider.server: spells a host as a"),
    ({"target": "kubernetes", "registry": REGISTRY, "secret_store": "external-secrets",
      "vault_server": "https://vault.assistants-platform.dev:99999"},
     "vault_server answer, stack field secret_stores.external_secrets.vault.provider.server: has a port outside"),
]


@pytest.mark.parametrize(("answers", "message"), REFUSED, ids=[f"{m} ({', '.join(a)})" for a, m in REFUSED])
def test_pre_generation_hook_refuses(answers: dict[str, str], message: str, tmp_path: Path,
                                     capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FailedHookException):
        bake(tmp_path, "svc", answers)
    err = capfd.readouterr().err
    assert err.startswith("error: ") and message in err
    assert list(tmp_path.iterdir()) == [], "nothing is written"


def test_every_clash_is_reported_at_once(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FailedHookException):
        bake(tmp_path, "svc", {"runtime": "vllm", "target": "compose", "exposure": "ingress"})
    assert capfd.readouterr().err.count("error: ") == 2


def test_pre_generation_hook_refuses_what_slm_deploy_rejects(tmp_path: Path,
                                                              capfd: pytest.CaptureFixture[str]) -> None:
    """A model the runtime has no pinned source for: only slm-deploy's validation knows."""
    with pytest.raises(FailedHookException):
        bake(tmp_path, "svc", {"runtime": "onnxruntime", "model": "qwen3-1.7b", "environments": "production"})
    err = capfd.readouterr().err
    assert err.count("error: ") == 1
    assert ("error: Pulumi.production.yaml: model answer, stack field model.id: the catalogue has no pinned "
            "onnxruntime source") in err
    assert "hint: change the model answer; or, after generating, edit the stack: give model.source" in err
    assert list(tmp_path.iterdir()) == [], "the stacks were validated before cookiecutter wrote anything"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_plain_cookiecutter_overwriting_a_project_leaves_it_untouched_when_a_stack_is_refused(tmp_path: Path) -> None:
    """`cookiecutter -f` keeps the folder when a hook fails: the refusal must come before the first file."""
    cookiecutter = Path(sys.executable).parent / "cookiecutter"
    answers = ["project_name=svc", "target=kubernetes", "runtime=onnxruntime", f"registry={REGISTRY}"]
    made = subprocess.run([cookiecutter, "--no-input", "-o", tmp_path, _template_dir(), SOURCE_ANSWER, *answers,
                           "model=phi-4-mini-instruct"], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    before = _snapshot(tmp_path)
    refused = subprocess.run([cookiecutter, "--no-input", "-f", "-o", tmp_path, _template_dir(), SOURCE_ANSWER, *answers,
                              "model=qwen3-1.7b"], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2
    assert refused.stderr.count("error: ") == 1 and "model.id: the catalogue has no pinned" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    assert _snapshot(tmp_path) == before, "no file of the existing project was rewritten"


def test_plain_cookiecutter_ends_a_refusal_with_exit_2_the_reasons_and_no_traceback(tmp_path: Path) -> None:
    """As typed from a checkout (a relative template path): the hook's reasons on stderr, nothing from cookiecutter's
    report of a failed hook, and no project folder."""
    template = _template_dir()
    out = tmp_path / "out"
    refused = subprocess.run([Path(sys.executable).parent / "cookiecutter", "--no-input", "-o", out, template.name,
                              "runtime=vllm", "target=compose", SOURCE_ANSWER], cwd=template.parent, capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr == ("error: runtime=vllm needs a GPU: choose a gpu_type, or runtime=ollama, llamacpp or "
                              "onnxruntime for CPU\n")
    assert refused.stdout == "", "cookiecutter's traceback and 'Hook script failed' are not printed"
    assert not out.exists() or list(out.iterdir()) == [], "nothing is written"


TEMPLATE_SYNTAX_ANSWERS = [
    ("registry", "{{ 7 * 7 }}.azurecr.io"),
    ("registry", "{{ CANARY"),
    ("environments", "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}dev"),
    ("project_name", "x{# CANARY"),
    ("secrets_expire_on", "{% if true %}2030-01-01{% endif %}"),
]
"""Answers cookiecutter would render: evaluated, run as code, or ending in a traceback that quotes them."""


@pytest.mark.parametrize(("answer", "value"), TEMPLATE_SYNTAX_ANSWERS, ids=[v for _, v in TEMPLATE_SYNTAX_ANSWERS])
def test_plain_cookiecutter_refuses_answers_holding_template_syntax_as_new_does(answer: str, value: str,
                                                                                 tmp_path: Path) -> None:
    """Refused before cookiecutter renders an answer: exit 2, the answer's name and the rule `slm-deploy new`
    gives, never the value, no traceback, and nothing written, not even cookiecutter's replay file."""
    marker, out, home = tmp_path / "ran", tmp_path / "out", tmp_path / "home"
    answers = [f"{answer}={value.replace('MARKER', str(marker))}", "target=kubernetes", f"registry={REGISTRY}"]
    refused = subprocess.run([Path(sys.executable).parent / "cookiecutter", "--no-input", "-o", out, _template_dir(),
                              *answers[1:], answers[0]], capture_output=True, text=True, timeout=300,
                             env={**os.environ, "HOME": str(home)})
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr == (f"error: {answer}: holds template syntax, which cookiecutter would run as code\n"
                              "  allowed: plain text without {{, {% or {#\n")
    assert refused.stdout == ""
    assert not marker.exists(), "the answer did not run"
    assert not out.exists() and not home.exists(), "no project folder, no replay file"
    by_new = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(out), *answers[1:], answers[0])
    assert (by_new.code, by_new.stderr) == (2, refused.stderr), "one rule for both"


def test_new_refuses_with_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "runtime=vllm", "target=compose")
    assert result.code == 2
    assert "error: runtime=vllm needs a GPU: choose a gpu_type" in result.stderr
    assert "the template refused these answers" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_free_text_answers_cannot_inject_yaml(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A registry answer carrying a newline and a key stays one (invalid) string; it never adds a target."""
    with pytest.raises(FailedHookException):
        bake(tmp_path, "svc", {"registry": f"{REGISTRY}\n      kubernetes: {{}}"})
    err = capfd.readouterr().err
    assert "registry answer, stack field targets.docker.registry: is not in the allowed form" in err
    assert "kubernetes: {}" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("monitoring", "longest"), [("off", 35), ("default", 24)])
def test_longest_name_that_fits_renders(monitoring: str, longest: int, tmp_path: Path) -> None:
    """With prod the longest environment: <name>-prod names the namespace, and <name>-prod-monitoring the bundled
    stack's; one character more is refused by the hook."""
    answers = {"target": "kubernetes", "registry": REGISTRY, "monitoring": monitoring}
    project = bake(tmp_path, "svc", {**answers, "deployment_name": "a" * longest})
    for stack in sorted(project.glob("Pulumi.*.yaml")):
        result = run_cli("render", str(stack), "--out", str(tmp_path / stack.stem), "--quiet")
        assert result.code == 0, result.stderr
    refused = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path / "longer"), "project_name=svc",
                      *(f"{key}={value}" for key, value in answers.items()), f"deployment_name={'a' * (longest + 1)}")
    assert refused.code == 2 and f"deployment_name: at most {longest} characters" in refused.stderr, refused.stderr


def test_host_projects_default_to_one_environment(tmp_path: Path) -> None:
    project = bake(tmp_path, "edge", {"runtime": "foundry-local", "target": "host"})
    assert sorted(p.name for p in project.glob("Pulumi.*.yaml")) == ["Pulumi.dev.yaml"]


def test_new_into_a_path_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("keep")
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path / "file" / "x"))
    assert result.code == 2 and "error: --output-dir: cannot be made a folder" in result.stderr
    assert "Traceback" not in result.stderr and (tmp_path / "file").read_text() == "keep"


def _regenerate(folder: Path, **answers: str) -> None:
    cookiecutter(str(_template_dir()), no_input=True, output_dir=str(folder), default_config=True,
                 overwrite_if_exists=True, extra_context={"project_name": "svc", "target": "kubernetes", "registry": REGISTRY,
                                                        "slm_deploy_source": SOURCE, **answers})


def test_regenerating_over_a_project_refuses_to_leave_a_stale_stack_or_drop_its_settings(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """`cookiecutter -f`: a stack of an environment no longer named, or stack settings the template does not write
    (`pulumi config set --secret`), refuse the regeneration and leave every file as it was; a plain re-run works."""
    project = bake(tmp_path, "svc", {"target": "kubernetes", "environments": "dev,staging,prod", "registry": REGISTRY})
    _regenerate(tmp_path, environments="dev,staging,prod")
    before = _snapshot(tmp_path)
    with pytest.raises(FailedHookException):
        _regenerate(tmp_path, environments="dev,prod")
    assert "error: Pulumi.staging.yaml: this project has a stack for an environment the answers no longer name" \
        in capfd.readouterr().err
    assert _snapshot(tmp_path) == before
    stack = project / "Pulumi.dev.yaml"
    written = stack.read_text()
    for added, named in (("  slm-deploy:secret-api-keys:\n    secure: v1:AAAA\n", "slm-deploy:secret-api-keys"),
                         ("encryptionsalt: v1:AAAA\n", "encryptionsalt"),
                         ("secretsprovider: azurekeyvault://kv/keys/k\nencryptedkey: AAAA\n",
                          "encryptedkey, secretsprovider")):
        stack.write_text(written + added)
        before = _snapshot(tmp_path)
        with pytest.raises(FailedHookException):
            _regenerate(tmp_path, environments="dev,staging,prod")
        assert (f"error: Pulumi.dev.yaml: holds settings the template does not write ({named})"
                in capfd.readouterr().err)
        assert _snapshot(tmp_path) == before
    stack.write_text("config: [\n")
    with pytest.raises(FailedHookException):
        _regenerate(tmp_path, environments="dev,staging,prod")
    err = capfd.readouterr().err
    assert "error: Pulumi.dev.yaml: is not a YAML stack file this template wrote" in err and "Traceback" not in err
