"""The first hour of a scaffolded project, from its generated files: the CI's policy pack runs in a virtualenv that
holds its requirements, the stack secrets Pulumi needs are documented and checked before a preview, the
dependency follows the generating release, and Compose environments on one host do not collide."""

from __future__ import annotations

import os
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

import slm_deploy

from slm_deploy.errors import SpecError
from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.writer import write_bundles
from slm_deploy.secret_values import read_secret_values
from slm_deploy.spec.loader import load_deployment
from tests.policies.test_pack_standalone import read_port
from tests.templates.bake import REGISTRY, SOURCE, TENANT, bake

pytestmark = pytest.mark.xdist_group("template-bake")

FIRST_HOUR = {
    "kubernetes": {"runtime": "llamacpp", "target": "kubernetes", "registry": REGISTRY},
    "compose": {"runtime": "ollama", "target": "compose"},
    "host": {"runtime": "foundry-local", "target": "host", "model": "phi-4-mini-instruct", "monitoring": "off"},
}


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("first-hour")
    return {name: bake(root, name, answers) for name, answers in FIRST_HOUR.items()}


def preview_steps(project: Path) -> list[dict]:
    workflow = yaml.safe_load((project / ".github/workflows/deployment.yml").read_text())
    return workflow["jobs"]["preview"]["steps"]


def run_step(step: dict, project: Path, runner_temp: Path, **env: str) -> subprocess.CompletedProcess:
    """A `run:` step under bash, as the runner runs it, with the step's own env and the runner's files."""
    outputs = runner_temp / "github-output"
    outputs.touch()
    environment = {**os.environ, **step.get("env", {}), "RUNNER_TEMP": str(runner_temp),
                   "GITHUB_OUTPUT": str(outputs), **env}
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step["run"]], cwd=project, env=environment,
                          capture_output=True, text=True, timeout=120)


def program_virtualenv(project: Path) -> Path:
    """The project's .venv as the CI's install step leaves it: slm-deploy importable (here, this checkout's)."""
    home = project / ".venv"
    venv.create(home, with_pip=False)
    (site,) = home.glob("lib/python*/site-packages")
    (site / "slm-deploy-under-test.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    return home


def test_ci_policy_pack_runs_in_a_virtualenv_holding_its_requirements(projects: dict[str, Path],
                                                                      tmp_path: Path) -> None:
    """The preview's pack folder names a virtualenv in PulumiPolicy.yaml, the step makes it, and the Pulumi policy
    host started from it (as the CLI starts a Python pack) loads the rules."""
    project = projects["kubernetes"]
    program_virtualenv(project)
    (step,) = [step for step in preview_steps(project) if step.get("id") == "pack"]
    result = run_step(step, project, tmp_path)
    assert result.returncode == 0, result.stderr
    pack = Path(dict(line.split("=", 1) for line in (tmp_path / "github-output").read_text().splitlines())["path"])
    runtime = yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())["runtime"]
    assert runtime["name"] == "python"
    python = pack / runtime["options"]["virtualenv"] / "bin" / "python"
    process = subprocess.Popen([str(python), "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(pack)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=pack,
                               env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")})
    try:
        assert read_port(process) > 0
    finally:
        process.kill()
        process.communicate(timeout=30)


def test_readme_says_how_to_set_every_secret_the_program_reads(projects: dict[str, Path]) -> None:
    """The README's commands set exactly the config keys `pulumi up` stops on, for every stack."""
    project = projects["kubernetes"]
    readme = (project / "README.md").read_text()
    for env in ("dev", "prod"):
        with pytest.raises(SpecError) as refused:
            read_secret_values(lambda key: None, load_deployment(project / f"Pulumi.{env}.yaml"))
        keys = {problem.path for problem in refused.value.problems}
        assert keys == {"slm-deploy:secret-api-keys"}
        for key in keys:
            assert f"pulumi config set --secret {key} -s {env} < ./api-keys.{env}" in readme
    assert "`key_id:key`" in readme.split("## Stack secrets")[1]
    assert "## Stack secrets" not in (projects["compose"] / "README.md").read_text(), "Compose keeps them in files"


def test_ci_preview_stops_naming_an_unset_stack_secret(projects: dict[str, Path], tmp_path: Path) -> None:
    project = projects["kubernetes"]
    if not (project / ".venv").exists():
        program_virtualenv(project)
    (step,) = [step for step in preview_steps(project) if "Stack secrets" in step.get("name", "")]
    steps = preview_steps(project)
    assert steps.index(step) < next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("pulumi/actions"))
    env = {"STACK_FILE": step["env"]["STACK_FILE"].replace("${{ matrix.stack }}", "dev")}
    unset = run_step({**step, "env": {}}, project, tmp_path, **env)
    assert unset.returncode == 1
    assert ("::error file=Pulumi.dev.yaml::slm-deploy:secret-api-keys is not set in stack dev: run "
            "`pulumi config set --secret slm-deploy:secret-api-keys -s dev") in unset.stdout
    stack = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack.read_text())
    document["config"]["slm-deploy:secret-api-keys"] = "k1:plain-canary"  # what pulumi config set without --secret writes
    stack.write_text(yaml.safe_dump(document))
    plain = run_step({**step, "env": {}}, project, tmp_path, **env)
    assert plain.returncode == 1 and "plain-canary" not in plain.stdout + plain.stderr
    assert ("::error file=Pulumi.dev.yaml::slm-deploy:secret-api-keys is stored in plain text (rotate the value: it "
            "is in the repository's history) in stack dev") in plain.stdout
    document["config"]["slm-deploy:secret-api-keys"] = {"secure": "v1:AAAA"}  # what pulumi config set --secret writes
    stack.write_text(yaml.safe_dump(document))
    assert run_step({**step, "env": {}}, project, tmp_path, **env).returncode == 0


def test_host_readme_mentions_no_gateway(projects: dict[str, Path]) -> None:
    readme = (projects["host"] / "README.md").read_text()
    assert "gateway" not in readme and "api-keys" not in readme
    assert "without API keys" in readme


@pytest.mark.parametrize("version", ["0.3.1", "1.4.0rc1"])
def test_dependency_names_its_source_and_the_generating_release(version: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slm_deploy, "__version__", version)
    release = tmp_path / "release"  # the hooks run in their own Python: it starts at the same release
    release.mkdir()
    (release / "sitecustomize.py").write_text(f"import slm_deploy\nslm_deploy.__version__ = {version!r}\n")
    monkeypatch.setenv("PYTHONPATH", str(release))
    project = bake(tmp_path, "versioned", {"runtime": "ollama", "target": "compose", "environments": "dev"})
    lines = [line for line in (project / "requirements.txt").read_text().splitlines()
             if line and not line.startswith("#")]
    assert (Requirement(lines[0]).name, Requirement(lines[0]).url) == ("slm-deploy", SOURCE)
    readme = (project / "README.md").read_text()
    assert f"`{SOURCE}`" in readme and f"slm-deploy\n{version} generated" in readme
    assert f"slm-deploy {version}" in (project / "requirements.txt").read_text()


def test_key_vault_trusts_the_answered_tenant(tmp_path: Path) -> None:
    project = bake(tmp_path, "vaulted", {"runtime": "ollama", "target": "aks", "secret_store": "azure-key-vault",
                                         "environments": "dev", "azure_tenant_id": TENANT, "registry": REGISTRY})
    spec = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"]["slm-deploy:deployment"]
    (store,) = spec["secret_stores"]["azure_key_vaults"].values()
    assert store["tenant_id"] == TENANT
    assert "00000000-0000" not in (project / "Pulumi.dev.yaml").read_text()


def test_sarif_upload_skips_pull_requests_from_forks(projects: dict[str, Path]) -> None:
    """A fork's pull request runs with a read-only token, which code scanning refuses."""
    workflow = yaml.safe_load((projects["compose"] / ".github/workflows/deployment.yml").read_text())
    (upload,) = [s for s in workflow["jobs"]["check"]["steps"] if "upload-sarif" in s.get("uses", "")]
    assert ("github.event_name != 'pull_request' || github.event.pull_request.head.repo.full_name == "
            "github.repository") in upload["if"]


def published_host_ports(bundle: Path) -> set[str]:
    """host-address:port[/protocol] of every port the rendered Compose project publishes."""
    compose = yaml.safe_load((bundle / "compose/compose.yaml").read_text())
    found = set()
    for service in compose["services"].values():
        for port in service.get("ports", []):
            address, host_port, container = port.rsplit(":", 2)
            found.add(f"{address}:{host_port}{'/udp' if container.endswith('/udp') else ''}")
    return found


def test_compose_environments_publish_distinct_host_ports(projects: dict[str, Path], tmp_path: Path) -> None:
    """dev and prod on one Docker host: no port either publishes is the other's."""
    project = projects["compose"]
    ports = {}
    for env in ("dev", "prod"):
        bundle = render_bundle(load_deployment(project / f"Pulumi.{env}.yaml"))
        write_bundles([(bundle, tmp_path / env)])
        ports[env] = published_host_ports(tmp_path / env)
    assert "127.0.0.1:8080" in ports["dev"] and len(ports["dev"]) >= 2, ports
    assert ports["dev"].isdisjoint(ports["prod"]), ports
    assert "http://127.0.0.1:8180/v1" in (project / "README.md").read_text(), "prod's clients use prod's port"
