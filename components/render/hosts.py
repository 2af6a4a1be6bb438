"""Host-level installs (Foundry Local): a pinned install script per OS, a boot-time service, a guarded forwarder."""

from __future__ import annotations

from slm_deploy.render.templating import render_template
from slm_deploy.runtimes.plan import HostInstall, MlxHost
from slm_deploy.spec.loader import Deployment
from slm_deploy.spec.mlx_layout import LABEL_PREFIX

SCRIPT = {"windows": "install.ps1", "linux": "install.sh", "macos": "install.sh"}
TEMPLATE = {"windows": "hosts/foundry-local.ps1.j2", "linux": "hosts/foundry-local-linux.sh.j2",
            "macos": "hosts/foundry-local-macos.sh.j2"}
RELEASE_DOWNLOADS = "https://github.com/microsoft/Foundry-Local/releases/download"
ASSETS = {
    "windows": "foundry-{version}-win-{arch}-winml.msix",
    "linux": "foundry-{version}-linux-{arch}.tar.gz",
    "macos": "foundry-{version}-osx-arm64.pkg",
}
"""Release asset names per OS ({arch} is filled in on the host: x64 or arm64)."""
UNIT_PREFIX = "slm-"
FOUNDRY_CLI = {
    "version": ("--version",),
    "start": ("server", "start", "--port", "{port}", "--idle-timeout", "0"),
    "download": ("model", "download", "{alias}"),
    "load": ("model", "load", "{alias}"),
    "stop": ("server", "stop"),
    "status": ("server", "status"),
}
"""Every Foundry Local CLI call the scripts make, in the command set of the pinned release: the daemon on a
fixed loopback port that never idles out, the model fetched and loaded into it."""
SCRIPT_VARIABLES = {"windows": {"port": "$Port", "alias": "'$Alias'"},
                    "linux": {"port": "$PORT", "alias": "$ALIAS"}, "macos": {"port": "$PORT", "alias": "$ALIAS"}}


def foundry_cli(os_name: str) -> dict[str, str]:
    """The CLI calls with the script's own variables for the port and the model alias."""
    names = SCRIPT_VARIABLES[os_name]
    return {key: " ".join(word.format(**names) for word in words) for key, words in FOUNDRY_CLI.items()}


def unit_name(host: HostInstall) -> str:
    """The systemd unit, launchd label and scheduled task share one name derived from the service."""
    return f"{UNIT_PREFIX}{host.service}"


def render_host(host: HostInstall | MlxHost, deployment: Deployment) -> dict[str, str]:
    """The install script and its README for one host."""
    if isinstance(host, MlxHost):
        # only MLX specs load the MLX host renderer
        from slm_deploy.render.mlx_host import render_mlx_host  # noqa: PLC0415

        return render_mlx_host(host, deployment)
    root = f"hosts/{host.service}"
    context = {
        "host": host, "model": deployment.model, "unit": unit_name(host),
        "launchd_label": f"{LABEL_PREFIX}.{host.service}",
        "release_url": f"{RELEASE_DOWNLOADS}/{host.release}", "asset": ASSETS[host.os], "cli": foundry_cli(host.os),
    }
    return {
        f"{root}/{SCRIPT[host.os]}": render_template(TEMPLATE[host.os], **context),
        f"{root}/README.md": render_template("hosts/README.md.j2", script=SCRIPT[host.os], **context),
    }
