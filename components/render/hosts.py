"""Host-level installs (Foundry Local): an install script per OS that binds and firewalls the service."""

from __future__ import annotations

from slm_deploy.render.templating import render_template
from slm_deploy.runtimes.plan import HostInstall
from slm_deploy.spec.loader import Deployment

SCRIPT = {"windows": "install.ps1", "linux": "install.sh", "macos": "install.sh"}


def listen_address(host: HostInstall) -> str:
    """Bind beyond loopback only when the firewall admits specific client networks."""
    return host.bind_address if host.allowed_clients or host.bind_address == "127.0.0.1" else "127.0.0.1"


def render_host(host: HostInstall, deployment: Deployment) -> dict[str, str]:
    """The install script and its README for one host."""
    root = f"hosts/{host.service}"
    context = {"host": host, "listen": listen_address(host), "model": deployment.model}
    template = "hosts/foundry-local.ps1.j2" if host.os == "windows" else "hosts/foundry-local.sh.j2"
    return {
        f"{root}/{SCRIPT[host.os]}": render_template(template, **context),
        f"{root}/README.md": render_template("hosts/README.md.j2", script=SCRIPT[host.os], **context),
    }
