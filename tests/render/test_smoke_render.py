"""The smoke checks rendered into every bundle: a Compose profile, a Kubernetes Job with its own access, the image
context, and client snippets in the README that parse in their own languages.

The judges that every rendered compose.yaml and kubernetes/ folder already go through (tests/render/test_compose.py,
test_kubernetes.py, test_dockerfiles.py and the policy pack) see the smoke service, image and Job too; these tests
check what they are for."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from slm_deploy.render.bundle import render_bundle
from slm_deploy.smoke.from_spec import expectations_for
from slm_deploy.spec.loader import load_deployment
from tests.conftest import STACKS, stack_id
from tests.render.kubernetes_cases import CASES, case_id, deployment_of, kubernetes_files, objects
from tests.render.test_kubernetes import write_workload_identity_env
from tests.support import judges
from tests.support.tools import find_executable

BUILT = re.compile(r":src-[0-9a-f]{16}$")
FENCE = re.compile(r"```(?P<lang>[a-z]+)\n(?P<body>.*?)```", re.S)


def files_of(spec: Path) -> dict[str, str]:
    return render_bundle(load_deployment(spec)).files


def compose_stacks() -> list[Path]:
    return [s for s in STACKS if "compose/compose.yaml" in files_of(s)]


@pytest.mark.parametrize("stack", compose_stacks(), ids=stack_id)
def test_the_compose_profile_runs_the_checks_from_the_client_side(stack: Path) -> None:
    deployment = load_deployment(stack)
    files = files_of(stack)
    services = yaml.safe_load(files["compose/compose.yaml"])["services"]
    name = f"{deployment.spec.name}-smoke"
    smoke = services[name]
    gated = f"{deployment.spec.name}-gateway" in services
    client = f"{deployment.spec.name}-gateway" if gated else deployment.spec.name
    assert smoke["profiles"] == ["smoke"] and smoke["networks"] == ["smoke"] and "ports" not in smoke
    document = yaml.safe_load(files["compose/compose.yaml"])
    assert document["networks"]["smoke"] == {"internal": True}
    assert [s for s, body in services.items() if "smoke" in body.get("networks", [])] == [client, name]
    assert smoke["depends_on"] == {client: {"condition": "service_healthy"}}
    assert smoke["build"] == {"context": f"../docker/{name}"}
    assert smoke["entrypoint"] == ["python", "-m", "slm_deploy.smoke"]
    assert smoke["command"][:3] == [f"http://{client}:{services[client]['ports'][0].split(':')[-1]}", "--expect",
                                    "/etc/slm-smoke/expectations.json"]
    assert ("--api-key-file" in smoke["command"]) == gated == ("secrets" in smoke)
    assert smoke["read_only"] is True and smoke["cap_drop"] == ["ALL"] and smoke["user"] == "10001:10001"
    context = {k.removeprefix(f"docker/{name}/"): v for k, v in files.items() if k.startswith(f"docker/{name}/")}
    assert json.loads(context["expectations.json"]) == json.loads(expectations_for(deployment).to_json())
    assert "slm_deploy/smoke/from_spec.py" not in context and "slm_deploy/smoke/runner.py" in context


@pytest.fixture(scope="module", params=CASES, ids=case_id)
def case(request: pytest.FixtureRequest) -> Path:
    return request.param


def test_a_smoke_job_is_rendered_where_the_cluster_can_pull_its_image(case: Path) -> None:
    docker = deployment_of(case).spec.targets.docker
    has_job = any(n.startswith("kubernetes/smoke/") for n in kubernetes_files(case))
    assert has_job == bool(docker and docker.registry)
    readme = render_bundle(deployment_of(case)).files["README.md"]
    assert ("kubectl apply -k kubernetes/smoke/" in readme) == has_job
    assert ("no smoke Job is rendered" in readme) == (not has_job)


@pytest.mark.parametrize("case_with_job", [c for c in CASES if objects(c, folder="smoke")], ids=case_id)
def test_the_smoke_job_runs_once_hardened_against_the_client_service(case_with_job: Path, tmp_path: Path) -> None:
    case = case_with_job
    smoke = objects(case, folder="smoke")
    (job,) = [o for o in smoke if o["kind"] == "Job"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert job["spec"]["backoffLimit"] == 0 and pod["restartPolicy"] == "Never"
    assert BUILT.search(container["image"]) and container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    spec = deployment_of(case).spec
    client = f"{spec.name}-gateway" if spec.serving.auth.enabled else spec.name
    assert container["args"][0].startswith(f"http://{client}:") and "--metrics-url" not in container["args"]
    policies = {o["metadata"]["name"]: o["spec"] for o in smoke if o["kind"] == "NetworkPolicy"}
    assert set(policies) == {f"{spec.name}-smoke-egress", f"{client}-from-smoke"}
    port = int(container["args"][0].rsplit(":", 1)[1])
    assert policies[f"{spec.name}-smoke-egress"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": port}]
    assert policies[f"{client}-from-smoke"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"][
        "app.kubernetes.io/component"] == "smoke"
    folder = tmp_path / "smoke"
    folder.mkdir()
    for name, text in kubernetes_files(case).items():
        if name.startswith("kubernetes/smoke/"):
            (folder / name.rsplit("/", 1)[1]).write_text(text)
    generated = write_workload_identity_env(folder)
    built = judges.kustomize_build(folder)
    key_vault = [("SecretProviderClass", f"{spec.name}-smoke-secrets")] if any(
        o["kind"] == "SecretProviderClass" for o in smoke) else []
    assert sorted((o["kind"], o["metadata"]["name"]) for o in built) == sorted(
        [("Job", f"{spec.name}-smoke"), *[("NetworkPolicy", name) for name in policies], *key_vault, *generated])
    assert {o["metadata"]["namespace"] for o in built} == {job["metadata"]["namespace"]}


def snippets(readme: str) -> dict[str, str]:
    section = readme.split("\n## Clients\n", 1)[1].split("\n## ", 1)[0]
    found: dict[str, str] = {}
    for match in FENCE.finditer(section):
        found.setdefault(match["lang"], match["body"])
    return found


@pytest.mark.parametrize("spec", [*STACKS, *CASES], ids=[*map(stack_id, STACKS), *map(case_id, CASES)])
def test_client_snippets_name_the_real_endpoint_and_parse(spec: Path, tmp_path: Path) -> None:
    deployment = load_deployment(spec)
    readme = files_of(spec)["README.md"]
    if "\n## Clients\n" not in readme:
        assert not any(n.startswith(("compose/", "kubernetes/")) for n in files_of(spec))
        return
    found = snippets(readme)
    model = expectations_for(deployment).model
    assert {"python", "javascript", "csharp", "sh"} <= set(found)
    for lang in ("python", "javascript", "csharp", "sh"):
        assert f'"{model}"' in found[lang], lang
    if deployment.spec.serving.auth.enabled:
        assert 'os.environ["SLM_API_KEY"]' in found["python"] and "process.env.SLM_API_KEY" in found["javascript"]
    ast.parse(found["python"])
    script = tmp_path / "chat.mjs"
    script.write_text(found["javascript"])
    node = find_executable("node", "apt-get install nodejs")
    assert subprocess.run([node, "--check", str(script)], capture_output=True).returncode == 0
    assert subprocess.run(["bash", "-n"], input=found["sh"].encode(), capture_output=True).returncode == 0
    assert csharp_errors(found["csharp"]) == []


def csharp_errors(source: str) -> list[str]:
    """Syntax errors tree-sitter's C# grammar finds (the `#:package` directive of file-based apps is dropped)."""
    import tree_sitter
    import tree_sitter_c_sharp

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_c_sharp.language()))
    code = "\n".join(line for line in source.splitlines() if not line.startswith("#:"))
    tree = parser.parse(code.encode())
    errors, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            errors.append(f"line {node.start_point[0] + 1}: {node.type}")
        stack.extend(node.children)
    return errors


def test_the_csharp_check_finds_a_syntax_error() -> None:
    assert csharp_errors('var x = new ChatClient(model: "m"\nConsole.WriteLine(x);') != []


@pytest.mark.parametrize("case_with_job", [c for c in CASES if objects(c, folder="smoke")], ids=case_id)
def test_the_smoke_pod_reaches_the_client_port_and_nothing_else(case_with_job: Path) -> None:
    from tests.render.network_reach import Endpoint, can_reach

    every = objects(case_with_job)
    policies = [o for o in every if o["kind"] == "NetworkPolicy"]
    pods = {o["spec"]["template"]["metadata"]["labels"]["slm-deploy.io/component"]:
            Endpoint(o["metadata"]["name"], o["metadata"]["namespace"], o["spec"]["template"]["metadata"]["labels"])
            for o in every if o["kind"] in ("Deployment", "Job")}
    spec = deployment_of(case_with_job).spec
    (job,) = [o for o in every if o["kind"] == "Job" and o["metadata"]["name"].endswith("-smoke")]
    port = int(job["spec"]["template"]["spec"]["containers"][0]["args"][0].rsplit(":", 1)[1])
    client = pods["gateway"] if spec.serving.auth.enabled else pods["runtime"]
    assert can_reach(policies, pods["smoke"], client, port)
    assert not can_reach(policies, pods["smoke"], client, 9464), "metrics are for the monitoring namespace"
    assert not can_reach(policies, pods["smoke"], Endpoint("internet", ip="203.0.113.10"), 443)
    if spec.serving.auth.enabled:
        runtime_port = next(p["containerPort"] for o in every if o["kind"] == "Deployment"
                            and o["metadata"]["labels"].get("slm-deploy.io/component") == "runtime"
                            for p in o["spec"]["template"]["spec"]["containers"][0]["ports"])
        assert not can_reach(policies, pods["smoke"], pods["runtime"], runtime_port), "only through the gateway"
    without_smoke_folder = [p for p in policies if p not in objects(case_with_job, folder="smoke")]
    assert not can_reach(without_smoke_folder, pods["smoke"], client, port)
