"""Foundry Local host installs: the pinned CLI release, loopback service with a guarded forwarder, a boot-time
service on every OS, addresses clients can reach, and shell scripts that pass shellcheck."""

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
EXPOSED = {"bind_address": "10.20.0.15", "allowed_clients": ["10.20.0.0/24"]}


def _spec(os_name: str, **host) -> dict:
    return {"name": f"edge-{os_name}", "model": {"id": "phi-4-mini-instruct"},
            "runtime": {"kind": "foundry-local", "port": 5273}, "serving": {"auth": {"enabled": False}},
            "exposure": {"mode": "none"}, "monitoring": {"enabled": False},
            "targets": {"host": {"os": os_name, **host}}}


def _host_files(spec: dict) -> dict[str, str]:
    files = render_bundle(parse_deployment(spec)).files
    return {path.rsplit("/", 1)[1]: text for path, text in files.items() if path.startswith("hosts/")}


CASES = [("linux", {}), ("linux", EXPOSED), ("macos", {}), ("windows", {}), ("windows", EXPOSED)]
CASE_IDS = ["linux-loopback", "linux-exposed", "macos-loopback", "windows-loopback", "windows-exposed"]


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
def test_clients_are_told_an_address_they_can_reach(os_name: str, host: dict) -> None:
    files = _host_files(_spec(os_name, **host))
    expected = f"http://{host.get('bind_address', '127.0.0.1')}:5273/v1"
    assert f"Clients use `{expected}`" in files["README.md"]
    assert "0.0.0.0" not in "".join(files.values())
    script = files["install.ps1" if os_name == "windows" else "install.sh"]
    if host:
        forwarder = "portproxy add v4tov4" if os_name == "windows" else "systemd-socket-proxyd 127.0.0.1"
        assert forwarder in script.replace("$PROXYD 127.0.0.1", "systemd-socket-proxyd 127.0.0.1")
        assert "10.20.0.0/24" in script
    else:
        assert "portproxy" not in script and "ufw" not in script and "forward" not in script.lower()


@pytest.mark.parametrize(("os_name", "host"), CASES[:3], ids=CASE_IDS[:3])
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
    assert "Clients use `http://10.20.0.15:5273/v1`" in files["README.md"]
    assert set(FOUNDRY_CLI) == {"version", "start", "download", "load", "stop", "status"}


@pytest.mark.parametrize(("host", "field"), [
    ({"bind_address": "0.0.0.0", "allowed_clients": ["10.20.0.0/24"]}, "targets.host.bind_address"),
    ({"bind_address": "127.0.0.1", "allowed_clients": ["10.20.0.0/24"]}, "targets.host.allowed_clients"),
    ({"bind_address": "10.20.0.15"}, "targets.host.allowed_clients"),
])
def test_unreachable_or_unguarded_addresses_are_refused(host: dict, field: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(_spec("windows", **host)))
    result = run_cli("render", str(spec), "--out", str(tmp_path / "out"))
    assert result.code == 2 and field in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_macos_refuses_exposure_it_cannot_forward(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(_spec("macos", **EXPOSED)))
    result = run_cli("validate", str(spec))
    assert result.code == 2 and "targets.host.bind_address" in result.stderr and "macOS" in result.stderr


def test_an_ipv6_bind_address_is_bracketed_and_proxied_from_ipv6() -> None:
    host = {"bind_address": "fd00::5", "allowed_clients": ["fd00::/64"]}
    linux = _host_files(_spec("linux", **host))
    assert "ListenStream=[fd00::5]:5273" in linux["install.sh"]
    assert "Clients use `http://[fd00::5]:5273/v1`" in linux["README.md"]
    assert "portproxy add v6tov4 listenaddress=$ListenAddress" in _host_files(_spec("windows", **host))["install.ps1"]
