"""The project template baked for every runtime and target: each project validates, renders, passes
`slm-deploy check` through its own generated test, and ships a valid workflow, editor schema and README."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement
from typer.testing import CliRunner

from slm_deploy.cli.app import app
from tests.support.tools import find_executable
from tests.templates.bake import BAKES, INGRESS_DOMAIN, SOURCE, bake

PROJECT_FILES = {
    ".gitignore", ".pre-commit-config.yaml", "Pulumi.yaml", "README.md", "__main__.py", "requirements.txt",
    "slm-deploy.schema.json", ".github/workflows/deployment.yml", ".vscode/settings.json", "tests/test_stacks.py",
}


pytestmark = pytest.mark.xdist_group("template-bake")  # one worker bakes once for the whole module


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("baked")
    return {name: bake(root, name, answers) for name, answers in BAKES.items()}


def environments(name: str) -> list[str]:
    return [env.strip() for env in BAKES[name].get("environments", "dev,prod").split(",")]


@pytest.mark.parametrize("name", BAKES)
def test_project_is_complete(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    files = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}
    stacks = {f"Pulumi.{env}.yaml" for env in environments(name)}
    assert files == PROJECT_FILES | stacks, "one stack per environment, nothing left from the template's staging"


@pytest.mark.parametrize("name", BAKES)
def test_every_stack_validates_with_the_answers(projects: dict[str, Path], name: str) -> None:
    answers = BAKES[name]
    for env in environments(name):
        result = CliRunner().invoke(app, ["validate", str(projects[name] / f"Pulumi.{env}.yaml"), "--json"])
        assert result.exit_code == 0, result.output
        plan = json.loads(result.output)
        assert plan["runtime"] == answers["runtime"]
        target = {"aks": "kubernetes"}.get(answers["target"], answers["target"])
        assert target in plan["targets"]


def test_environments_differ_in_size(projects: dict[str, Path]) -> None:
    dev, prod = (yaml.safe_load((projects["llamacpp-kubernetes"] / f"Pulumi.{env}.yaml").read_text())
                 ["config"]["slm-deploy:deployment"] for env in ("dev", "prod"))
    assert (dev["serving"]["replicas"], prod["serving"]["replicas"]) == (1, 2)
    assert dev["resources"]["cpu"] < prod["resources"]["cpu"]
    assert dev["targets"]["kubernetes"]["namespace"] != prod["targets"]["kubernetes"]["namespace"]


def test_generated_tests_pass(projects: dict[str, Path]) -> None:
    """Each project's own test (render every stack, run `slm-deploy check`), with this environment's pytest."""
    test_dirs = [str(project / "tests") for project in projects.values()]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
                           "-o", "addopts=", *test_dirs], capture_output=True, text=True, timeout=600,
                          cwd=next(iter(projects.values())).parent)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    stacks = sum(len(environments(name)) for name in BAKES)
    assert f"{stacks + 2 * len(BAKES)} passed" in proc.stdout, proc.stdout[-2000:]


def test_workflows_are_valid_github_actions_workflows(projects: dict[str, Path]) -> None:
    workflows = [str(project / ".github/workflows/deployment.yml") for project in projects.values()]
    proc = subprocess.run([str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
                           "vendor.github-workflows", *workflows], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_checks_every_environment_and_previews_only_with_credentials(projects: dict[str, Path]) -> None:
    workflow = yaml.safe_load((projects["vllm-compose"] / ".github/workflows/deployment.yml").read_text())
    assert workflow["jobs"]["check"]["strategy"]["matrix"]["stack"] == ["qa", "prod"]
    steps = workflow["jobs"]["check"]["steps"]
    runs = " ".join(step.get("run", "") for step in steps)
    assert all(command in runs for command in ("slm-deploy validate", "slm-deploy render",
                                               "slm-deploy check", "--format sarif", "pytest tests"))
    assert any(step.get("uses", "").startswith("github/codeql-action/upload-sarif") for step in steps)
    assert workflow["jobs"]["check"]["permissions"] == {"actions": "read", "contents": "read",
                                                        "security-events": "write"}, "upload-sarif's permissions"
    preview = workflow["jobs"]["preview"]
    assert preview["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    (pulumi,) = [step for step in preview["steps"] if step.get("uses", "").startswith("pulumi/actions@")]
    assert "PULUMI_ACCESS_TOKEN != ''" in pulumi["if"]
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["upsert"] is True, "a new stack is created"
    assert "matrix.stack" in pulumi["with"]["stack-name"]
    (pack,) = [step for step in preview["steps"] if step.get("id") == "pack"]
    assert pulumi["with"]["policyPacks"] == "${{ steps.pack.outputs.path }}" and "slm_deploy.policies" in pack["run"]
    installs = [step["run"] for step in preview["steps"] if "requirements.txt" in step.get("run", "")]
    assert installs and ".venv/bin/python -m pip install" in installs[0], "into the virtualenv Pulumi.yaml names"


def test_aks_preview_signs_in_to_azure_with_oidc(projects: dict[str, Path]) -> None:
    preview = yaml.safe_load((projects["vllm-aks"] / ".github/workflows/deployment.yml").read_text())["jobs"]["preview"]
    assert preview["permissions"]["id-token"] == "write" and preview["env"]["ARM_USE_OIDC"] == "true"
    (login,) = [step for step in preview["steps"] if step.get("uses", "").startswith("azure/login@")]
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}, "OIDC: no client secret"
    names = [step.get("uses", step.get("name")) for step in preview["steps"]]
    assert names.index(login["uses"]) < next(i for i, n in enumerate(names) if n.startswith("pulumi/actions@"))


def test_kubernetes_preview_reads_the_cluster_credentials(projects: dict[str, Path]) -> None:
    preview = yaml.safe_load((projects["llamacpp-kubernetes"] / ".github/workflows/deployment.yml").read_text())
    steps = preview["jobs"]["preview"]["steps"]
    (credentials,) = [step for step in steps if "KUBECONFIG" in step.get("run", "")]
    assert credentials["env"]["KUBECONFIG_CONTENT"] == "${{ secrets.KUBECONFIG }}"
    assert "GITHUB_ENV" in credentials["run"] and "umask 077" in credentials["run"]
    compose = yaml.safe_load((projects["vllm-compose"] / ".github/workflows/deployment.yml").read_text())
    assert not any("KUBECONFIG" in step.get("run", "") or "azure/login" in step.get("uses", "")
                   for step in compose["jobs"]["preview"]["steps"]), "a Compose project needs no cloud sign-in"


def test_workflow_scripts_pass_shellcheck(projects: dict[str, Path]) -> None:
    """Each `run:` script as the runner's bash sees it, with GitHub's expressions replaced by a word."""
    shellcheck = find_executable("shellcheck", "apt-get install shellcheck")
    for project in projects.values():
        workflow = yaml.safe_load((project / ".github/workflows/deployment.yml").read_text())
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if "run" in step:
                    script = re.sub(r"\$\{\{.*?\}\}", "expr", step["run"])
                    proc = subprocess.run([shellcheck, "-s", "bash", "-"], input=script, capture_output=True,
                                          text=True, timeout=60)
                    assert proc.returncode == 0, f"{project.name}: {step.get('name')}: {proc.stdout}"


@pytest.mark.parametrize("name", ["vllm-aks", "foundry-local-host"])
def test_editor_schema_accepts_the_stacks_and_flags_mistakes(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    settings = json.loads((project / ".vscode/settings.json").read_text())
    (schema_file, patterns), = settings["yaml.schemas"].items()
    assert patterns == ["Pulumi.*.yaml"] and (project / schema_file).is_file()
    validator = jsonschema.Draft202012Validator(json.loads((project / schema_file).read_text()))
    for stack in project.glob("Pulumi.*.yaml"):
        assert stack.read_text().startswith(f"# yaml-language-server: $schema={schema_file.removeprefix('./')}\n")
        document = yaml.safe_load(stack.read_text())
        assert list(validator.iter_errors(document)) == []
        document["config"]["slm-deploy:deployment"].setdefault("serving", {})["replicas"] = "two"
        assert any(e.path[-1] == "replicas" for e in validator.iter_errors(document))


def test_pre_commit_hook_validates_every_stack(projects: dict[str, Path], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the local hook as pre-commit would when one stack is staged (its entry, plus that file unless the hook
    takes no file names): the stacks are validated together, so a broken stack not staged still stops the commit."""
    project = shutil.copytree(projects["vllm-compose"], tmp_path / "project")
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    (hook,) = [h for repo in config["repos"] if repo["repo"] == "local" for h in repo["hooks"]]
    assert re.search(hook["files"], "Pulumi.prod.yaml") and not re.search(hook["files"], "README.md")
    program, *args = shlex.split(hook["entry"])
    assert program == "slm-deploy"
    staged = ["Pulumi.prod.yaml"] if hook.get("pass_filenames", True) else []
    monkeypatch.chdir(project)
    result = CliRunner().invoke(app, [*args, *staged])
    assert (result.exit_code, result.output) == (0, "")
    other = project / "Pulumi.qa.yaml"
    other.write_text(other.read_text().replace("kind: vllm", "kind: not-a-runtime"))
    refused = CliRunner().invoke(app, [*args, *staged])
    assert refused.exit_code != 0 and "Pulumi.qa.yaml" in str(refused.exception), "the stack not staged is validated"


def test_dependency_is_the_answered_source_with_a_documented_override(projects: dict[str, Path]) -> None:
    project = projects["ollama-compose"]
    requirements = [line for line in (project / "requirements.txt").read_text().splitlines()
                    if line and not line.startswith("#")]
    assert (Requirement(requirements[0]).name, Requirement(requirements[0]).url) == ("slm-deploy", SOURCE)
    readme = (project / "README.md").read_text()
    assert f"`{SOURCE}`" in readme and "slm-deploy @ git+https://<git host>/" in readme
    assert "slm_deploy_source=" in readme
    assert SOURCE in (project / ".github/workflows/deployment.yml").read_text()


def test_readme_snippets_are_valid_shell_and_python(projects: dict[str, Path]) -> None:
    for project in projects.values():
        readme = (project / "README.md").read_text()
        for block in re.findall(r"```python\n(.*?)```", readme, flags=re.S):
            compile(block, f"{project.name}/README.md", "exec")
        for block in re.findall(r"```sh\n(.*?)```", readme, flags=re.S):
            proc = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True, check=False)
            assert proc.returncode == 0, f"{project.name}/README.md: {proc.stderr}"


def test_foundry_local_clients_ask_the_host_for_the_model_id(projects: dict[str, Path]) -> None:
    readme = (projects["foundry-local-host"] / "README.md").read_text()
    assert 'MODEL="$(curl -sS http://127.0.0.1:5273/v1/models' in readme
    assert "model=client.models.list().data[0].id" in readme and "Authorization" not in readme


@pytest.mark.parametrize(("name", "model", "url"), [
    ("ollama-compose", "qwen3:1.7b", "http://127.0.0.1:8080/v1"),
    ("vllm-aks", "phi-4-mini-instruct", f"https://dev.{INGRESS_DOMAIN}/v1"),
])
def test_readme_has_client_snippets_for_the_endpoint(projects: dict[str, Path], name: str, model: str,
                                                     url: str) -> None:
    readme = (projects[name] / "README.md").read_text()
    assert "curl -sS -H \"Authorization: Bearer $SLM_API_KEY\"" in readme
    assert f'OpenAI(base_url="{url}"' in readme and f'"model": "{model}"' in readme


def test_readme_starts_each_target_the_way_it_runs(projects: dict[str, Path], tmp_path: Path) -> None:
    """Only a cluster is created by `pulumi up`; a Compose project is started from its bundle (whose README holds
    the command named), a host project by its install script."""
    compose, host = (projects[name] / "README.md" for name in ("ollama-compose", "foundry-local-host"))
    assert "pulumi up -s" not in compose.read_text() + host.read_text()
    assert "`docker compose up -d` in the bundle" in compose.read_text() and "install script" in host.read_text()
    assert "pulumi up -s dev" in (projects["llamacpp-kubernetes"] / "README.md").read_text()
    result = CliRunner().invoke(app, ["render", str(projects["ollama-compose"] / "Pulumi.dev.yaml"), "--out",
                                      str(tmp_path / "bundle"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "\ndocker compose up -d\n" in (tmp_path / "bundle" / "README.md").read_text()
