"""Model downloads reach only the model source's host names: the allowlist, the proxy's configuration, the Compose
networks that leave the proxy as the downloads' only way out, and the policy rules that refuse any other route."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from slm_deploy.policies import check_bundle
from slm_deploy.runtimes import plan_deployment
from slm_deploy.runtimes.egress_allowlist import OLLAMA_BLOB_STORE, OLLAMA_REGISTRY, allowed_hosts
from slm_deploy.runtimes.egress_proxy import PROXY_PORT, is_download, squid_config
from slm_deploy.spec.loader import load_deployment, parse_deployment
from tests.conftest import STACKS, stack_id
from tests.render.bundles import rendered, stacks_with

DOWNLOADING_STACKS = [s for s in STACKS if any(is_download(p) for p in plan_deployment(load_deployment(s)).services)]
COMPOSE_DOWNLOADS = [s for s in stacks_with("compose/compose.yaml") if s in DOWNLOADING_STACKS]
HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _stack(name: str) -> Path:
    return next(s for s in STACKS if stack_id(s) == name)


def _ollama(tag: str):
    raw = yaml.safe_load(_stack("ollama-webui-compose").read_text())["config"]["slm-deploy:deployment"]
    raw["model"] = {"source": {"kind": "ollama", "tag": tag}, "parameters_billion": 1.7}
    return parse_deployment(raw)


def test_the_examples_that_download_are_the_ones_expected() -> None:
    assert {stack_id(s) for s in DOWNLOADING_STACKS} >= {"qwen3-gguf-prepared", "phi4-vllm-aks", "ollama-webui-compose"}


@pytest.mark.parametrize("stack", DOWNLOADING_STACKS, ids=stack_id)
def test_the_allowlist_holds_host_names_only_never_wildcards_or_addresses(stack: Path) -> None:
    hosts = allowed_hosts(load_deployment(stack))
    assert hosts and list(hosts) == sorted(set(hosts))
    for host in hosts:
        assert HOST_NAME.match(host), host
    assert not {"hf.co", "cloudflarestorage.com", "r2.cloudflarestorage.com", "xethub.hf.co"} & set(hosts)


def test_hugging_face_sources_reach_the_hub_and_the_hosts_its_downloads_redirect_to() -> None:
    hosts = set(allowed_hosts(load_deployment(_stack("qwen3-gguf-prepared"))))
    assert {"huggingface.co", "cas-server.xethub.hf.co", "transfer.xethub.hf.co", "cdn-lfs-us-1.hf.co",
            "us.aws.cdn.hf.co", "cas-bridge.xethub.hf.co"} <= hosts
    assert not any("ollama" in h or "cloudflare" in h for h in hosts)


def test_the_ollama_library_reaches_its_registry_and_its_one_blob_bucket() -> None:
    assert allowed_hosts(load_deployment(_stack("ollama-webui-compose"))) == tuple(sorted(
        (OLLAMA_REGISTRY, OLLAMA_BLOB_STORE)))


def test_an_ollama_tag_on_the_hub_reaches_the_hub_not_the_library() -> None:
    hosts = set(allowed_hosts(_ollama("hf.co/bartowski/qwen3-gguf:q4_k_m")))
    assert {"hf.co", "huggingface.co", "transfer.xethub.hf.co"} <= hosts and OLLAMA_REGISTRY not in hosts


def test_squid_admits_only_tls_tunnels_to_the_listed_names_and_refuses_the_rest_in_order() -> None:
    config = squid_config(("huggingface.co", "transfer.xethub.hf.co"))
    lines = [line.strip() for line in config.replace("\\\n", " ").splitlines() if line and not line.startswith("#")]
    assert "acl download_hosts dstdomain -n huggingface.co transfer.xethub.hf.co" in [" ".join(x.split()) for x in lines]
    access = [line for line in lines if line.startswith("http_access")]
    assert access == ["http_access deny !CONNECT", "http_access deny !tls_port", "http_access allow download_hosts",
                      "http_access deny all"]
    assert "acl tls_port port 443" in lines and "cache deny all" in lines
    assert f"http_port {PROXY_PORT}" in lines


@pytest.fixture(scope="module", params=COMPOSE_DOWNLOADS, ids=stack_id)
def compose_case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return request.param, rendered(request.param, tmp_path_factory)


def _project(bundle: Path) -> dict:
    return yaml.safe_load((bundle / "compose" / "compose.yaml").read_text())


def _component(service: dict) -> str:
    return service["labels"]["slm-deploy.io/component"]


def test_in_compose_the_proxy_is_the_downloads_only_way_out(compose_case: tuple[Path, Path]) -> None:
    document = _project(compose_case[1])
    services, networks = document["services"], document["networks"]
    (proxy_name, proxy), = [(n, s) for n, s in services.items() if _component(s) == "egress-proxy"]
    downloads = {n: s for n, s in services.items() if _component(s) == "model-prep" and "networks" in s}
    assert downloads
    for name, service in downloads.items():
        assert all(networks[net].get("internal") is True for net in service["networks"]), name
        assert set(service["networks"]) <= set(proxy["networks"]), name
        assert service["environment"]["HTTPS_PROXY"] == f"http://{proxy_name}:{PROXY_PORT}"
        assert service["environment"]["https_proxy"] == f"http://{proxy_name}:{PROXY_PORT}"
        assert service["depends_on"][proxy_name] == {"condition": "service_healthy"}
    routed_out = {n for n, s in services.items() for net in s.get("networks", [])
                  if not networks[net].get("internal") and not s.get("ports")}
    assert routed_out == {proxy_name}, "only the proxy has a route out without publishing a port"
    download_networks = {net for s in downloads.values() for net in s["networks"]}
    sharing = {n for n, s in services.items() if download_networks & set(s.get("networks", []))}
    assert sharing == set(downloads) | {proxy_name}


def test_the_proxy_image_is_hardened_and_carries_the_rendered_allowlist(compose_case: tuple[Path, Path]) -> None:
    stack, compose_bundle = compose_case
    document = _project(compose_bundle)
    (proxy_name, proxy), = [(n, s) for n, s in document["services"].items() if _component(s) == "egress-proxy"]
    context = compose_bundle / "docker" / proxy_name
    dockerfile = (context / "Dockerfile").read_text()
    assert re.search(r"^FROM \S+@sha256:[0-9a-f]{64} AS runtime$", dockerfile, re.M)
    assert "apt-get install -y --no-install-recommends squid=" in dockerfile
    assert "COPY squid.conf /etc/squid/squid.conf" in dockerfile
    assert dockerfile.count("HEALTHCHECK") == 1 and "USER 10001:10001" in dockerfile
    assert proxy["read_only"] is True and proxy["cap_drop"] == ["ALL"] and "secrets" not in proxy
    config = (context / "squid.conf").read_text()
    assert config == squid_config(allowed_hosts(load_deployment(stack)))


@pytest.mark.parametrize(("what", "rule"), [("joins egress", "slm-compose-015"),
                                             ("network not internal", "slm-compose-015")])
def test_the_policy_pack_refuses_a_compose_download_with_its_own_route_out(
        what: str, rule: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    bundle = rendered(_stack("qwen3-gguf-prepared"), tmp_path_factory)
    assert not check_bundle(bundle).findings
    path = bundle / "compose" / "compose.yaml"
    document = yaml.safe_load(path.read_text())
    if what == "joins egress":
        document["services"]["qwen3-prepared-model-download"]["networks"].append("egress")
    else:
        document["networks"]["model-download"].pop("internal")
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    assert rule in {f.rule for f in check_bundle(bundle).findings}


def test_the_policy_pack_refuses_a_download_pod_with_an_address_range_egress(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    bundle = rendered(_stack("qwen3-gguf-prepared"), tmp_path_factory)
    path = bundle / "kubernetes" / "networkpolicy-qwen3-prepared-model-prep-egress.yaml"
    policy = yaml.safe_load(path.read_text())
    policy["spec"]["egress"][0]["to"] = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    assert "slm-k8s-026" in {f.rule for f in check_bundle(bundle).findings}
