"""Answers that belong to one target reach its project: AKS installs the extra its Pulumi program imports,
Compose publishes an internal endpoint on the address answered and bundles monitoring when asked."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from typer.testing import CliRunner

from slm_deploy.cli.app import app
from slm_deploy.cli.new import _template_dir
from tests.conftest import run_cli
from tests.templates.bake import REGISTRY, SOURCE, SOURCE_ANSWER, VAULT_SERVER

COOKIECUTTER = Path(sys.executable).parent / "cookiecutter"


def plain_cookiecutter(output: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COOKIECUTTER, "--no-input", "-o", output, _template_dir(), SOURCE_ANSWER, *answers],
                          capture_output=True, text=True, timeout=300)


def rendered(stack: Path, out: Path) -> Path:
    result = CliRunner().invoke(app, ["render", str(stack), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def test_aks_project_installs_the_aks_extra(tmp_path: Path) -> None:
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "project_name=cloud", "target=aks", "environments=dev",
                     f"registry={REGISTRY}")
    assert result.code == 0, result.stderr
    lines = [line for line in (tmp_path / "cloud/requirements.txt").read_text().splitlines()
             if line and not line.startswith("#")]
    requirement = Requirement(lines[0])
    assert (requirement.name, requirement.extras) == ("slm-deploy", {"aks"})
    aks_extra = [Requirement(r) for r in metadata.requires("slm-deploy") or []
                 if Requirement(r).marker is not None and Requirement(r).marker.evaluate({"extra": "aks"})
                 and not Requirement(r).marker.evaluate({"extra": ""})]
    assert "pulumi-azure-native" in {r.name for r in aks_extra}, "the extra brings the provider the program imports"
    assert requirement.url == SOURCE
    assert "slm-deploy[aks] @ git+https://" in (tmp_path / "cloud/README.md").read_text()


def test_compose_project_without_aks_installs_no_extra(tmp_path: Path) -> None:
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "project_name=box", "environments=dev")
    assert result.code == 0, result.stderr
    lines = (tmp_path / "box/requirements.txt").read_text().splitlines()
    assert f"slm-deploy @ {SOURCE}" in lines


def test_compose_internal_publishes_on_the_answered_address(tmp_path: Path) -> None:
    made = plain_cookiecutter(tmp_path, "project_name=lan", "exposure=internal", "bind_address=10.20.0.5")
    assert made.returncode == 0, made.stderr
    for stack, port in [("Pulumi.dev.yaml", 8080), ("Pulumi.prod.yaml", 8180)]:  # one host: distinct ports
        compose = yaml.safe_load((rendered(tmp_path / "lan" / stack, tmp_path / stack) / "compose/compose.yaml")
                                 .read_text())
        published = [str(port) for service in compose["services"].values() for port in service.get("ports", [])]
        assert [p for p in published if not p.startswith("127.0.0.1:")] == [f"10.20.0.5:{port}:{port}"], \
            "the gateway alone leaves loopback"


def test_compose_internal_without_an_address_is_refused_up_front(tmp_path: Path) -> None:
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "project_name=lan", "exposure=internal")
    assert result.code == 2
    assert result.stderr.count("error: exposure=internal on Compose") == 1 and "set bind_address" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_address_without_internal_compose_is_refused(tmp_path: Path) -> None:
    made = plain_cookiecutter(tmp_path, "target=kubernetes", "bind_address=10.20.0.5")
    assert made.returncode != 0 and "error: bind_address is where Compose publishes" in made.stderr
    assert list(tmp_path.iterdir()) == []


def test_compose_bundled_monitoring_runs_prometheus(tmp_path: Path) -> None:
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "project_name=watched", "monitoring=bundled",
                     "environments=dev")
    assert result.code == 0, result.stderr
    bundle = rendered(tmp_path / "watched/Pulumi.dev.yaml", tmp_path / "bundle")
    compose = yaml.safe_load((bundle / "compose/compose.yaml").read_text())
    assert "watched-prometheus" in compose["services"]
    off = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path / "off"), "project_name=quiet", "monitoring=off",
                  "environments=dev")
    assert off.code == 0, off.stderr
    quiet = yaml.safe_load((rendered(tmp_path / "off/quiet/Pulumi.dev.yaml", tmp_path / "b2")
                            / "compose/compose.yaml").read_text())
    assert not any(name.endswith("-prometheus") for name in quiet["services"]), "the answer changes the project"


def test_default_answers_write_no_placeholder_host(tmp_path: Path) -> None:
    """A Compose project from the defaults builds its images into this host's engine and pushes nowhere; no file
    names a documentation domain (example.com) a deployment could be sent to."""
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "project_name=box")
    assert result.code == 0, result.stderr
    for stack in ("Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        spec = yaml.safe_load((tmp_path / "box" / stack).read_text())["config"]["slm-deploy:deployment"]
        assert spec["targets"]["docker"] == {}, "no registry: nothing is pushed"
        readme = (rendered(tmp_path / "box" / stack, tmp_path / stack) / "README.md").read_text()
        assert "docker push" not in readme and "--push" not in readme, "the bundle's instructions push nowhere"
    texts = [p.read_text() for p in (tmp_path / "box").rglob("*") if p.is_file()]
    assert not [t for t in texts if "example.com" in t or "example.org" in t]


def test_cluster_answers_name_the_registry_and_hosts_given(tmp_path: Path) -> None:
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "project_name=api", "target=kubernetes",
                     "exposure=ingress", f"registry={REGISTRY}", "ingress_host=llm.assistants-platform.dev")
    assert result.code == 0, result.stderr
    for env in ("dev", "prod"):
        spec = yaml.safe_load((tmp_path / "api" / f"Pulumi.{env}.yaml").read_text())["config"]["slm-deploy:deployment"]
        assert spec["targets"]["docker"] == {"registry": REGISTRY}
        assert spec["exposure"]["host"] == f"{env}.llm.assistants-platform.dev"



def test_external_secrets_read_the_vault_answered(tmp_path: Path) -> None:
    """The Vault server answered is the one every environment's SecretStore reads from: no placeholder lands."""
    result = run_cli("new", "--no-input", SOURCE_ANSWER, "-o", str(tmp_path), "project_name=vaulted", "runtime=llamacpp",
                     "target=kubernetes", f"registry={REGISTRY}", "secret_store=external-secrets",
                     f"vault_server={VAULT_SERVER}")
    assert result.code == 0, result.stderr
    for env in ("dev", "prod"):
        stack = tmp_path / "vaulted" / f"Pulumi.{env}.yaml"
        spec = yaml.safe_load(stack.read_text())["config"]["slm-deploy:deployment"]
        assert spec["secret_stores"]["external_secrets"]["vault"]["provider"]["server"] == VAULT_SERVER
        bundle = rendered(stack, tmp_path / env)
        manifests = "\n".join(p.read_text() for p in bundle.rglob("*.yaml"))
        assert f"server: {VAULT_SERVER}" in manifests and "example.com" not in manifests
