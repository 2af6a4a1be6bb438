"""Foundry Local host installs: the pinned CLI release, a loopback service (no gateway runs on a host, so nothing
opens it to the network), a boot-time service on every OS, and shell scripts that pass shellcheck."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.hosts import FOUNDRY_CLI, foundry_cli
from slm_deploy.runtimes.foundry_local import FOUNDRY_RELEASE, FOUNDRY_VERSION
from slm_deploy.spec.loader import parse_deployment
from tests.conftest import ROOT, run_cli
from tests.support.tools import find_executable, run

RELEASE_URL = f"https://github.com/microsoft/Foundry-Local/releases/download/{FOUNDRY_RELEASE}"


def _spec(os_name: str, **host) -> dict:
    return {"name": f"edge-{os_name}", "model": {"id": "phi-4-mini-instruct"},
            "runtime": {"kind": "foundry-local", "port": 5273}, "targets": {"host": {"os": os_name, **host}}}


def _host_files(spec: dict) -> dict[str, str]:
    files = render_bundle(parse_deployment(spec)).files
    return {path.rsplit("/", 1)[1]: text for path, text in files.items() if path.startswith("hosts/")}


CASES = [("linux", {}), ("macos", {}), ("windows", {}), ("windows", {"bind_address": "127.0.0.1"})]
CASE_IDS = ["linux", "macos", "windows", "windows-explicit-loopback"]


@pytest.mark.parametrize(("os_name", "host"), CASES, ids=CASE_IDS)
def test_the_script_installs_the_pinned_release_and_never_a_package_channel(os_name: str, host: dict) -> None:
    files = _host_files(_spec(os_name, **host))
    script = files["install.ps1" if os_name == "windows" else "install.sh"]
    assert RELEASE_URL in script and FOUNDRY_VERSION in script
    assert not re.search(r"\b(winget|brew|apt-get|curl [^\n]*\| *sh)\b", script)
    verification = {"linux": "sha256sum -c -", "macos": "Developer ID Installer: Microsoft Corporation",
                    "windows": "O=Microsoft Corporation"}[os_name]
    assert verification in script


@pytest.mark.parametrize(("os_name", "host"), CASES, ids=CASE_IDS)
def test_every_cli_call_is_the_pinned_release_command_set(os_name: str, host: dict) -> None:
    script = _host_files(_spec(os_name, **host))["install.ps1" if os_name == "windows" else "install.sh"]
    calls = foundry_cli(os_name)
    for key in ("start", "download", "load", "status"):
        assert calls[key] in script, key
    assert "--idle-timeout 0" in calls["start"] and "--host" not in script
    assert not re.search(r"foundry service\b", script), "the service command group belongs to the replaced CLI"


@pytest.mark.parametrize(("os_name", "host"), CASES, ids=CASE_IDS)
def test_the_service_comes_back_after_a_reboot(os_name: str, host: dict) -> None:
    script = _host_files(_spec(os_name, **host))["install.ps1" if os_name == "windows" else "install.sh"]
    if os_name == "linux":
        assert "WantedBy=multi-user.target" in script and 'systemctl enable "$UNIT.service"' in script
        assert f"ExecStart=$FOUNDRY {foundry_cli('linux')['start']}" in script
    elif os_name == "macos":
        assert "<key>RunAtLoad</key><true/>" in script and "launchctl bootstrap system" in script
        assert "/Library/LaunchDaemons/" in script
    else:
        assert "New-ScheduledTaskTrigger -AtStartup" in script and "-LogonType S4U" in script
        assert "Register-ScheduledTask" in script


@pytest.mark.parametrize(("os_name", "host"), CASES, ids=CASE_IDS)
def test_the_service_stays_on_loopback_and_nothing_opens_it(os_name: str, host: dict) -> None:
    files = _host_files(_spec(os_name, **host))
    assert "Clients use `http://127.0.0.1:5273/v1`" in files["README.md"]
    script = files["install.ps1" if os_name == "windows" else "install.sh"]
    for opener in ("portproxy", "ufw", "New-NetFirewallRule", "socket-proxyd", "ListenStream", "0.0.0.0"):
        assert opener not in script, opener


@pytest.mark.parametrize(("os_name", "host"), CASES[:2], ids=CASE_IDS[:2])
def test_shell_scripts_pass_shellcheck_and_parse(os_name: str, host: dict, tmp_path: Path) -> None:
    script = tmp_path / "install.sh"
    script.write_text(_host_files(_spec(os_name, **host))["install.sh"])
    shellcheck = find_executable("shellcheck", "install Debian's shellcheck package")
    result = run([shellcheck, "--shell=sh", "--severity=style", str(script)])
    assert result.returncode == 0, result.stdout
    assert subprocess.run(["sh", "-n", str(script)], capture_output=True).returncode == 0


def test_the_example_stack_script_matches_the_pinned_release() -> None:
    files = _host_files(yaml.safe_load((ROOT / "stacks/Pulumi.foundry-windows.yaml").read_text())["config"][
        "slm-deploy:deployment"])
    assert "Clients use `http://127.0.0.1:5273/v1`" in files["README.md"]
    assert set(FOUNDRY_CLI) == {"version", "start", "download", "load", "stop", "status"}


LAN = {"bind_address": "10.0.0.5", "allowed_clients": ["10.0.0.0/24"]}


@pytest.mark.parametrize(("os_name", "host", "fields"), [
    ("windows", LAN, ["targets.host.bind_address", "targets.host.allowed_clients"]),
    ("linux", {"bind_address": "fd00::5", "allowed_clients": ["fd00::/64"]},
     ["targets.host.bind_address", "targets.host.allowed_clients"]),
    ("windows", {"bind_address": "0.0.0.0"}, ["targets.host.bind_address"]),
    ("macos", {"bind_address": "::1"}, ["targets.host.bind_address"]),
    ("linux", {"allowed_clients": ["10.0.0.0/24"]}, ["targets.host.allowed_clients"]),
], ids=["windows-lan", "linux-ipv6-lan", "unspecified", "ipv6-loopback", "clients-without-address"])
def test_a_host_install_is_never_exposed_beyond_loopback(os_name: str, host: dict, fields: list[str],
                                                         tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(_spec(os_name, **host)))
    result = run_cli("render", str(spec), "--out", str(tmp_path / "out"))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert [f for f in fields if f"{f}: has no effect" in result.stderr] == fields and "allowed: " in result.stderr
    assert "10.0.0" not in result.stderr and "fd00" not in result.stderr
    assert not (tmp_path / "out").exists()


IDLE_ON_HOST = {
    "serving.auth": {"serving": {"auth": {"enabled": True}}},
    "serving.concurrency": {"serving": {"concurrency": 3}},
    "serving.replicas": {"serving": {"replicas": 2}},
    "serving.autoscaling": {"serving": {"autoscaling": {"enabled": False}}},
    "runtime.env": {"runtime": {"kind": "foundry-local", "port": 5273, "env": {"FOUNDRY_X": "1"}}},
    "model.context_length": {"model": {"id": "phi-4-mini-instruct", "context_length": 4096}},
    "exposure": {"exposure": {"port": 9000}},
    "resources": {"resources": {"cpu": 4}},
    "security.uid": {"security": {"uid": 20000}},
    "monitoring": {"monitoring": {"enabled": True}},
}


@pytest.mark.parametrize("field", sorted(IDLE_ON_HOST))
def test_fields_a_host_install_cannot_honour_are_refused(field: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({**_spec("windows"), **IDLE_ON_HOST[field]}))
    result = run_cli("validate", str(spec))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert f"{field}: has no effect for Foundry Local on a host" in result.stderr
    assert "allowed: leave it unset" in result.stderr


def test_a_foundry_image_brings_the_container_fields_back(tmp_path: Path) -> None:
    raw = {**_spec("windows"), "serving": {"concurrency": 3},
           "runtime": {"kind": "foundry-local", "port": 5273,
                       "image": "registry.example/foundry-local:1.0@sha256:" + "a" * 64},
           "targets": {"host": {"os": "windows"}, "compose": {}}}
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(raw))
    assert run_cli("validate", str(spec)).code == 0


def test_the_bundle_names_no_gateway_and_no_api_keys_for_a_host_install() -> None:
    files = render_bundle(parse_deployment(_spec("windows"))).files
    assert "api-keys" not in files["README.md"] and "the gateway" not in files["README.md"]
    assert not any("gateway" in path for path in files)
