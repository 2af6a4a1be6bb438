"""Every bundle rendered from every example stack passes every rule of the pack, with no waivers."""

from __future__ import annotations

import plistlib
from pathlib import Path

import pytest
import yaml

from slm_deploy.policies import check_bundle
from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.writer import write_bundle
from slm_deploy.spec.model_records import RECORD_CHECKS
from slm_deploy.spec.loader import load_deployment
from tests.conftest import STACKS, stack_id


@pytest.mark.parametrize("stack", STACKS, ids=stack_id)
def test_rendered_bundle_passes_every_rule_without_waivers(stack: Path, tmp_path: Path) -> None:
    deployment = load_deployment(stack)
    assert deployment.spec.waivers == [], "example stacks must pass without waivers"
    bundle = tmp_path / "bundle"
    write_bundle(render_bundle(deployment), bundle)
    report = check_bundle(bundle)
    assert report.findings == (), "\n".join(
        f"{f.rule} {f.severity.value} {f.resource} ({f.location}): {f.message}" for f in report.findings)


@pytest.mark.parametrize("stack", STACKS, ids=stack_id)
def test_every_rendered_target_is_checked(stack: Path, tmp_path: Path) -> None:
    deployment = load_deployment(stack)
    bundle = tmp_path / "bundle"
    write_bundle(render_bundle(deployment), bundle)
    checked = check_bundle(bundle).checked
    if (bundle / "compose" / "compose.yaml").exists():
        assert "compose/compose.yaml" in checked
    rendered_k8s = sorted(p.name for p in (bundle / "kubernetes").glob("*.yaml") if p.name != "kustomization.yaml")
    assert {f"kubernetes/{name}" for name in rendered_k8s} <= set(checked)
    assert {p.relative_to(bundle).as_posix() for p in bundle.glob("docker/*/Dockerfile*")} <= set(checked)


def test_a_rendered_conversion_step_given_the_token_or_a_network_is_reported(tmp_path: Path) -> None:
    """The rendered split preparation, edited the way a hand change would: the conversion step gains the download
    step's token and network (Compose) or its secret mount and an online hub client (Kubernetes)."""
    stack = next(s for s in STACKS if stack_id(s) == "qwen3-gguf-prepared")
    data = yaml.safe_load(stack.read_text())
    spec_data = data["config"]["slm-deploy:deployment"]
    spec_data["model"]["hub_token_secret"] = "hf-token"
    spec_data["secrets"]["hf-token"] = dict(spec_data["secrets"]["api-keys"])
    spec = tmp_path / "Pulumi.prepared.yaml"
    spec.write_text(yaml.safe_dump(data))
    deployment = load_deployment(spec)
    bundle = tmp_path / "bundle"
    write_bundle(render_bundle(deployment), bundle)
    assert [f for f in check_bundle(bundle).findings if f.rule == "slm-serving-013"] == []
    name = deployment.spec.name
    compose_file = bundle / "compose" / "compose.yaml"
    compose = yaml.safe_load(compose_file.read_text())
    download, convert = compose["services"][f"{name}-model-download"], compose["services"][f"{name}-model-prep"]
    convert.pop("network_mode")
    convert["networks"], convert["secrets"] = download["networks"], download["secrets"]
    compose_file.write_text(yaml.safe_dump(compose))
    (job_file,) = (bundle / "kubernetes").glob(f"job-{name}-model-prep-*.yaml")
    job = yaml.safe_load(job_file.read_text())
    steps = {c["name"]: c for c in job["spec"]["template"]["spec"]["initContainers"]}
    steps["convert"]["volumeMounts"] = steps["download"]["volumeMounts"]
    steps["convert"]["env"] = steps["download"]["env"]
    job_file.write_text(yaml.safe_dump(job))
    found = [(f.location, f.message) for f in check_bundle(bundle).findings if f.rule == "slm-serving-013"]
    assert any("given secrets" in m for _, m in found) and any("has a network" in m for _, m in found)
    assert any("mounts secrets" in m for _, m in found) and any("hub token" in m for _, m in found)
    assert any("HF_HUB_OFFLINE=1" in m for _, m in found)


def _rendered_prepared_bundle(tmp_path: Path) -> tuple[str, Path]:
    """The bundle of the stack that downloads through the egress proxy on Compose and Kubernetes."""
    stack = next(s for s in STACKS if stack_id(s) == "qwen3-gguf-prepared")
    deployment = load_deployment(stack)
    bundle = tmp_path / "bundle"
    write_bundle(render_bundle(deployment), bundle)
    return deployment.spec.name, bundle


@pytest.mark.parametrize("component", ["model-prep", "egress-proxy"])
def test_the_model_server_relabelled_onto_the_egress_network_is_reported(component: str, tmp_path: Path) -> None:
    """The rendered llama-server given the proxy's network and the label of a component the network rules treat
    apart: the label exempts nothing, and the mismatch is named."""
    name, bundle = _rendered_prepared_bundle(tmp_path)
    compose_file = bundle / "compose" / "compose.yaml"
    compose = yaml.safe_load(compose_file.read_text())
    server = compose["services"][name]
    server["networks"].append("egress")
    server["labels"] |= {"slm-deploy.io/component": component, "app.kubernetes.io/component": component}
    compose_file.write_text(yaml.safe_dump(compose))
    found = {f.rule: f.message for f in check_bundle(bundle).findings}
    assert f"services.{name} publishes no ports" in found["slm-compose-008"]
    assert f"services.{name} is labelled {component} but" in found["slm-compose-016"]


def _edit_proxy_policy(bundle: Path, name: str, edit) -> None:
    path = bundle / "kubernetes" / f"networkpolicy-{name}-egress-proxy-egress.yaml"
    policy = yaml.safe_load(path.read_text())
    edit(policy)
    path.write_text(yaml.safe_dump(policy))


def _runtime_copy(bundle: Path, name: str) -> None:
    """A copy of the proxy's internet egress selecting the model server's pods, listed in the kustomization."""
    policy = yaml.safe_load((bundle / "kubernetes" / f"networkpolicy-{name}-egress-proxy-egress.yaml").read_text())
    policy["metadata"]["name"] = f"{name}-runtime-internet"
    policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] = "runtime"
    copy = f"networkpolicy-{name}-runtime-internet.yaml"
    (bundle / "kubernetes" / copy).write_text(yaml.safe_dump(policy))
    kustomization = bundle / "kubernetes" / "kustomization.yaml"
    listing = yaml.safe_load(kustomization.read_text())
    listing["resources"].append(copy)
    kustomization.write_text(yaml.safe_dump(listing))


@pytest.mark.parametrize(("edit", "expect"), [
    (lambda b, n: _edit_proxy_policy(b, n, lambda p: p["spec"]["podSelector"]["matchLabels"].pop(
        "app.kubernetes.io/component")), "pods other than the egress proxy"),
    (lambda b, n: _edit_proxy_policy(b, n, lambda p: p["spec"]["egress"][0].pop("ports")), "other than TCP 443"),
    (lambda b, n: _edit_proxy_policy(b, n, lambda p: p["spec"]["egress"][0]["to"][0]["ipBlock"]["except"].remove(
        "169.254.0.0/16")), "reach 169.254.0.0/16"),
    (_runtime_copy, "pods other than the egress proxy"),
], ids=["selector without the component", "no ports", "metadata range reachable", "copy for the runtime"])
def test_internet_egress_beyond_the_rendered_proxy_policy_is_reported(edit, expect: str, tmp_path: Path) -> None:
    name, bundle = _rendered_prepared_bundle(tmp_path)
    edit(bundle, name)
    found = [f.message for f in check_bundle(bundle).findings if f.rule == "slm-k8s-027"]
    assert len(found) == 1 and expect in found[0], found


def test_monitoring_routes_to_the_api_server_and_the_alert_receiver_pass(tmp_path: Path) -> None:
    """The cluster monitoring stack with an alert webhook on its own port: Prometheus and kube-state-metrics reach
    the API server and Alertmanager the receiver through public ranges, which slm-k8s-027 leaves alone."""
    stack = next(s for s in STACKS if stack_id(s) == "qwen3-gguf-prepared")
    data = yaml.safe_load(stack.read_text())
    spec_data = data["config"]["slm-deploy:deployment"]
    spec_data["monitoring"] = {"receiver": {"kind": "webhook", "url": "https://oncall.example.com:8443/hooks/slm"}}
    spec = tmp_path / "Pulumi.receiver.yaml"
    spec.write_text(yaml.safe_dump(data))
    bundle = tmp_path / "bundle"
    deployment = load_deployment(spec)
    write_bundle(render_bundle(deployment), bundle)
    opened = [p for p in (bundle / "kubernetes").rglob("networkpolicy-*.yaml") if "ipBlock" in p.read_text()]
    prefix = f"networkpolicy-{deployment.spec.name}-"
    assert {p.stem.removeprefix(prefix) for p in opened} == {
        "egress-proxy-egress", "prometheus-egress", "alertmanager-egress", "kube-state-metrics-egress"}
    assert "port: 8443" in next(p for p in opened if p.stem.endswith("alertmanager-egress")).read_text()
    assert [f for f in check_bundle(bundle).findings if f.rule == "slm-k8s-027"] == []


def _wait_for_model(bundle: Path, name: str) -> tuple[Path, dict, dict]:
    """The rendered model server's Deployment and its init container that checks the prepared model."""
    path = bundle / "kubernetes" / f"deployment-{name}.yaml"
    deployment = yaml.safe_load(path.read_text())
    (wait,) = [c for c in deployment["spec"]["template"]["spec"]["initContainers"] if "SHA256SUMS" in c["command"][-1]]
    return path, deployment, wait


@pytest.mark.parametrize("what", sorted(RECORD_CHECKS))
def test_a_wait_for_model_that_lost_one_check_is_reported(what: str, tmp_path: Path) -> None:
    """Each check of the rendered wait-for-model replaced by `true` on its own: the server would start on a model that
    check refuses, so slm-serving-015 names the check that is gone."""
    name, bundle = _rendered_prepared_bundle(tmp_path)
    path, deployment, wait = _wait_for_model(bundle, name)
    script = wait["command"][-1]
    assert script.count(RECORD_CHECKS[what]) == 1
    wait["command"][-1] = script.replace(RECORD_CHECKS[what], "true")
    path.write_text(yaml.safe_dump(deployment))
    found = [f.message for f in check_bundle(bundle).findings if f.rule == "slm-serving-015"]
    assert len(found) == 1 and found[0].endswith(f"none {what}"), found


@pytest.mark.parametrize("edit", [
    lambda server, step: server["depends_on"][step].update(condition="service_started"),
    lambda server, step: server["depends_on"].pop(step),
], ids=["started, not completed", "no dependency"])
def test_a_compose_server_not_waiting_for_its_model_check_is_reported(edit, tmp_path: Path) -> None:
    name, bundle = _rendered_prepared_bundle(tmp_path)
    compose_file = bundle / "compose" / "compose.yaml"
    compose = yaml.safe_load(compose_file.read_text())
    edit(compose["services"][name], f"{name}-model-prep")
    compose_file.write_text(yaml.safe_dump(compose))
    found = [f.message for f in check_bundle(bundle).findings if f.rule == "slm-serving-016"]
    assert found == [f"services.{name} serves the model {name}-model-prep prepares without depends_on.{name}-model-prep"
                     ".condition: service_completed_successfully: it may start on a model the check refused or has "
                     "not checked yet"]


def test_a_renamed_kubernetes_conversion_step_is_still_held_offline(tmp_path: Path) -> None:
    name, bundle = _rendered_prepared_bundle(tmp_path)
    (job_file,) = (bundle / "kubernetes").glob(f"job-{name}-model-prep-*.yaml")
    job = yaml.safe_load(job_file.read_text())
    convert = job["spec"]["template"]["spec"]["initContainers"][1]
    convert["name"] = "quantize"
    next(e for e in convert["env"] if e["name"] == "HF_HUB_OFFLINE")["value"] = "0"
    job_file.write_text(yaml.safe_dump(job))
    found = [f.message for f in check_bundle(bundle).findings if f.rule == "slm-serving-013"]
    assert len(found) == 1 and "must set HF_HUB_OFFLINE=1" in found[0], found


@pytest.mark.parametrize(("part", "arguments"), [
    ("server", ["/opt/slm-deploy/qwen3-mac/venv/bin/mlx_lm.server", "--model", "/opt/slm-deploy/qwen3-mac/models/m",
                "--host", "0.0.0.0", "--port", "8081"]),
    ("server", ["/bin/sh", "/tmp/serve.sh"]),
    ("gateway", ["/bin/sh", "/opt/slm-deploy/qwen3-mac/bin/serve.sh"]),
], ids=["server without serve.sh", "another serve.sh", "gateway agent runs the server"])
def test_an_mlx_agent_running_another_program_is_reported(part: str, arguments: list[str], tmp_path: Path) -> None:
    """The launchd agents start what the install runs at login: an agent that skips serve.sh serves an unchecked model
    on every interface with no origin restriction."""
    stack = next(s for s in STACKS if stack_id(s) == "qwen3-mlx-mac")
    bundle = tmp_path / "bundle"
    write_bundle(render_bundle(load_deployment(stack)), bundle)
    assert [f for f in check_bundle(bundle).findings if f.rule == "slm-serving-014"] == []
    (agent,) = (bundle / "hosts").glob(f"*/launchd/*.{part}.plist")
    document = plistlib.loads(agent.read_bytes())
    document["ProgramArguments"] = arguments
    agent.write_bytes(plistlib.dumps(document, sort_keys=True))
    found = [(f.location, f.message) for f in check_bundle(bundle).findings if f.rule == "slm-serving-014"]
    assert found == [(agent.relative_to(bundle).as_posix(), f"the launchd {part} agent runs another program than "
                      + ("serve.sh, which checks the prepared model first" if part == "server" else "the gateway module")
                      + " (ProgramArguments)")]
def _edit_yaml(path: Path, edit) -> None:
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))


@pytest.mark.parametrize(("old", "new", "expect"), [
    ("http_access allow download_hosts", "http_access allow all", "exactly one dstdomain"),
    ("    huggingface.co", "    .com", "not one exact host name"),
    ("http_access deny all\n", "", "deny all"),
], ids=["open proxy", "every .com host", "no final deny"])
def test_a_loosened_proxy_allowlist_in_the_bundle_is_reported(old: str, new: str, expect: str,
                                                               tmp_path: Path) -> None:
    """The rendered squid.conf, edited by hand in the bundle: the check reads the file the proxy image bakes in."""
    name, bundle = _rendered_prepared_bundle(tmp_path)
    squid = bundle / "docker" / f"{name}-egress-proxy" / "squid.conf"
    assert old in squid.read_text()
    squid.write_text(squid.read_text().replace(old, new, 1))
    found = [(f.location, f.message) for f in check_bundle(bundle).findings if f.rule == "slm-docker-013"]
    assert [loc for loc, _ in found] == [f"docker/{name}-egress-proxy/squid.conf"]
    assert expect in found[0][1]


@pytest.mark.parametrize(("edit", "rule", "expect"), [
    (lambda s, n: s[f"{n}-egress-proxy"].__setitem__("extra_hosts", ["huggingface.co:203.0.113.5"]),
     "slm-compose-016", "sets extra_hosts"),
    (lambda s, n: s[f"{n}-egress-proxy"].__setitem__("dns", ["203.0.113.53"]), "slm-compose-016", "sets dns"),
    (lambda s, n: (s[f"{n}-egress-proxy"].pop("build"),
                   s[f"{n}-egress-proxy"].__setitem__("image", "docker.io/ubuntu/squid@sha256:" + "1" * 64)),
     "slm-compose-016", "not built from the bundle"),
    (lambda s, n: s[n]["networks"].append("model-download"), "slm-compose-015", "joins the download network"),
    (lambda s, n: s[f"{n}-egress-proxy"]["networks"].append("backend"), "slm-compose-015",
     "networks besides the download networks"),
], ids=["proxy extra_hosts", "proxy dns", "proxy pulled", "runtime on the download network", "proxy on the backend"])
def test_a_redirected_or_shared_compose_proxy_is_reported(edit, rule: str, expect: str, tmp_path: Path) -> None:
    name, bundle = _rendered_prepared_bundle(tmp_path)
    _edit_yaml(bundle / "compose" / "compose.yaml", lambda c: edit(c["services"], name))
    found = [f.message for f in check_bundle(bundle).findings if f.rule == rule]
    assert any(expect in m for m in found), found


def _job_name(bundle: Path, name: str) -> str:
    (job,) = (bundle / "kubernetes").glob(f"job-{name}-model-prep-*.yaml")
    return yaml.safe_load(job.read_text())["metadata"]["name"]


@pytest.mark.parametrize(("file", "edit", "rule", "expect"), [
    ("networkpolicy-{n}-egress-proxy-ingress.yaml",
     lambda p, b, n: p["spec"]["ingress"][0].__setitem__("from", [{"podSelector": {}}]), "slm-k8s-028",
     "other than the model downloads"),
    ("deployment-{n}-egress-proxy.yaml",
     lambda d, b, n: d["spec"]["template"]["spec"].update(
         dnsPolicy="None", dnsConfig={"nameservers": ["203.0.113.53"]}), "slm-k8s-028", "its own DNS servers"),
    ("networkpolicy-{n}-model-prep-egress.yaml",
     lambda p, b, n: p["spec"].update(
         podSelector={"matchLabels": {"batch.kubernetes.io/job-name": _job_name(b, n)}},
         egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]), "slm-k8s-026", "reach an address range"),
], ids=["proxy ingress from every pod", "proxy with its own name server", "download selected by job-name"])
def test_kubernetes_proxy_reach_beyond_the_downloads_is_reported(file: str, edit, rule: str, expect: str,
                                                                 tmp_path: Path) -> None:
    name, bundle = _rendered_prepared_bundle(tmp_path)
    _edit_yaml(bundle / "kubernetes" / file.format(n=name), lambda obj: edit(obj, bundle, name))
    found = [f.message for f in check_bundle(bundle).findings if f.rule == rule]
    assert any(expect in m for m in found), found
