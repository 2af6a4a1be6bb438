"""The rendered egress proxy, built from its rendered Dockerfile and run as the rendered Compose project runs it,
is a download's only way out and lets through only the listed names.

The project's networks are made as compose.yaml declares them (the download network internal, the egress network
not). A stand-in hub on the egress network answers HTTPS (a certificate from a test CA) under two names: a listed
one, `huggingface.co`, and an unlisted one, so a refusal proves the proxy filters by name, not that the host is
unreachable. A client on the download network with the download step's rendered proxy variables and the test CA
then tries what a download (or an attacker holding its token) could try. Nothing here reaches the internet.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.integration.model_preparation import project_name, write_spec
from tests.integration.stacks import free_loopback_port, rendered_builds, wait_for
from tests.support.base_image import BaseImage
from tests.support.docker_engine import docker, docker_build, docker_cli, image_exists
from tests.support.tools import find_executable, run

FORMAT = "gguf"
LISTED, UNLISTED = "huggingface.co", "unlisted.example.org"
HUB_SERVER = """
import http.server, ssl, sys
server = http.server.ThreadingHTTPServer(("", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler)
if sys.argv[2] == "tls":
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain("/tls/hub.pem", "/tls/hub.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


@dataclass(frozen=True)
class Setup:
    """The running proxy, hub and client, and what the rendered project says about them."""

    proxy: str
    proxy_url: str
    client: str
    hub_ip: str
    proxy_env: dict[str, str]


def _test_ca(folder: Path) -> Path:
    """A CA and a certificate for both hub names, made with the host's openssl (a dependency of ca-certificates)."""
    openssl = find_executable("openssl", "apt-get install openssl")
    folder.mkdir()
    steps = [
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=slm-test-ca",
         "-keyout", "ca.key", "-out", "ca.pem"],
        [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={LISTED}", "-keyout", "hub.key",
         "-out", "hub.csr"],
        [openssl, "x509", "-req", "-in", "hub.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "2", "-out", "hub.pem", "-extfile", "san.ext"],
    ]
    (folder / "san.ext").write_text(f"subjectAltName=DNS:{LISTED},DNS:{UNLISTED}\n")
    for step in steps:
        result = run(step, cwd=folder, timeout=60)
        assert result.returncode == 0, result.stderr
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def _run_flags(service: dict) -> list[str]:
    """`docker run` options for the hardening compose.yaml gives a service."""
    flags = ["--user", service["user"], "--cap-drop", "ALL", "--pids-limit", str(service["pids_limit"])]
    flags += ["--read-only"] if service["read_only"] else []
    for entry in service["tmpfs"]:
        flags += ["--tmpfs", entry]
    for option in service["security_opt"]:
        flags += ["--security-opt", option]
    return flags + (["--init"] if service.get("init") else [])


def _in_client(setup: Setup, *command: str) -> subprocess.CompletedProcess:
    return run([docker_cli(), "exec", setup.client, *command], timeout=120)


@pytest.fixture(scope="module")
def setup(base_image: BaseImage, host_ca_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp("egress")
    spec = write_spec(folder, FORMAT, {"python": base_image.reference, "debian": base_image.reference},
                      free_loopback_port())
    builds = rendered_builds(spec, folder / "bundle")
    proxy_name = f"{project_name(FORMAT)}-egress-proxy"
    context, tag = builds[proxy_name]
    if not image_exists(tag):
        docker_build(context, tag, secrets={"ca_bundle": host_ca_bundle})
    document = yaml.safe_load((folder / "bundle" / "compose" / "compose.yaml").read_text())
    proxy = document["services"][proxy_name]
    download = document["services"][f"{project_name(FORMAT)}-model-download"]
    tls = _test_ca(folder / "tls")
    run_id = uuid.uuid4().hex[:8]
    networks = {name: f"slmeg{run_id}-{name}" for name in proxy["networks"]}
    containers: list[str] = []
    try:
        for name, real in networks.items():
            internal = document["networks"][name].get("internal") is True
            docker("network", "create", *(["--internal"] if internal else []), real)
        (download_network,) = download["networks"]
        outside = next(n for n in proxy["networks"] if n != download_network)
        hub = docker("run", "-d", "--network", networks[outside], "--network-alias", LISTED,
                     "--network-alias", UNLISTED, "-v", f"{tls}:/tls:ro", base_image.local_tag,
                     "python3", "-c", HUB_SERVER, "443", "tls").strip()
        containers.append(hub)
        proxy_id = docker("run", "-d", "--network", networks[download_network], "--network-alias", proxy_name,
                          *_run_flags(proxy), "--entrypoint", proxy["entrypoint"][0], tag, *proxy["command"]).strip()
        containers.append(proxy_id)
        docker("network", "connect", networks[outside], proxy_id)
        proxy_env = {k: v for k, v in download["environment"].items() if k.lower().endswith("_proxy")}
        env_flags = [flag for key, value in proxy_env.items() for flag in ("--env", f"{key}={value}")]
        client = docker("run", "-d", "--network", networks[download_network], *env_flags, "-v", f"{tls}:/tls:ro",
                        base_image.local_tag, "sleep", "infinity").strip()
        containers.append(client)
        hub_ip = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", hub).strip()
        current = Setup(proxy_id, download["environment"]["HTTPS_PROXY"], client, hub_ip, proxy_env)
        wait_for(lambda: _in_client(current, "curl", "-sS", "-o", "/dev/null", "--cacert", "/tls/ca.pem",
                                    f"https://{LISTED}/").returncode == 0,
                 "the proxy tunnelling to the listed hub", 60, 1.0,
                 describe=lambda: docker("logs", "--tail", "30", proxy_id))
        yield current
    finally:
        for container in containers:
            docker("rm", "-f", container)
        for real in networks.values():
            docker("network", "rm", real)


def test_the_download_step_is_pointed_at_the_proxy(setup: Setup) -> None:
    assert setup.proxy_env["HTTPS_PROXY"] == setup.proxy_env["https_proxy"] == setup.proxy_url
    assert setup.proxy_url.endswith(":3128")


def test_a_listed_name_is_let_through_for_curl_and_python(setup: Setup) -> None:
    answer = _in_client(setup, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", "/tls/ca.pem",
                        f"https://{LISTED}/")
    assert (answer.returncode, answer.stdout) == (0, "200"), answer.stderr
    python = ("import ssl,urllib.request;"
              f"print(urllib.request.urlopen('https://{LISTED}/',"
              "context=ssl.create_default_context(cafile='/tls/ca.pem')).status)")
    answer = _in_client(setup, "python3", "-c", python)
    assert (answer.returncode, answer.stdout.strip()) == (0, "200"), answer.stderr
    assert "TCP_TUNNEL/200" in docker("logs", setup.proxy), "the proxy logs to the container's output"


def test_an_unlisted_name_is_refused_though_the_proxy_could_reach_it(setup: Setup) -> None:
    answer = _in_client(setup, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_connect}", "--cacert",
                        "/tls/ca.pem", f"https://{UNLISTED}/")
    assert answer.returncode != 0 and answer.stdout == "403", answer.stderr


def test_an_address_a_plain_request_and_another_port_are_refused(setup: Setup) -> None:
    by_address = _in_client(setup, "curl", "-sS", "-k", "-o", "/dev/null", "-w", "%{http_connect}",
                            f"https://{setup.hub_ip}/")
    assert by_address.returncode != 0 and by_address.stdout == "403", by_address.stderr
    plain = _in_client(setup, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--proxy", setup.proxy_url,
                       f"http://{LISTED}:443/")
    assert plain.stdout == "403", plain.stderr
    other_port = _in_client(setup, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_connect}", "--proxytunnel",
                            "--proxy", setup.proxy_url, f"http://{LISTED}:80/")
    assert other_port.returncode != 0 and other_port.stdout == "403", other_port.stderr


def test_nothing_but_the_proxy_is_reachable_from_the_download_network(setup: Setup) -> None:
    direct = _in_client(setup, "curl", "-sS", "-k", "--noproxy", "*", "--connect-timeout", "5", "-o", "/dev/null",
                        f"https://{setup.hub_ip}/")
    assert direct.returncode in (7, 28), f"a direct connection got through: {direct.returncode} {direct.stderr}"
    by_name = _in_client(setup, "curl", "-sS", "--noproxy", "*", "--connect-timeout", "5", "-o", "/dev/null",
                         "--cacert", "/tls/ca.pem", f"https://{LISTED}/")
    assert by_name.returncode in (6, 7, 28), f"a direct connection got through: {by_name.returncode}"
