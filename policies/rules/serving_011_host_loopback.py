"""Serving: a host install keeps the runtime on loopback: Foundry Local has no gateway there, and MLX's gateway is
the only authenticated way in to mlx_lm.server."""

from __future__ import annotations

import re

from slm_deploy.policies.model import Rule, Severity
from slm_deploy.policies.rules.serving_002_gateway_auth import is_loopback

OPENERS = {
    "a port proxy (netsh interface portproxy)": re.compile(r"netsh\s+interface\s+portproxy\s+(add|set)\b", re.I),
    "an inbound firewall rule (New-NetFirewallRule)": re.compile(r"New-NetFirewallRule\b[^\n]*", re.I),
    "a firewall opening (ufw allow)": re.compile(r"\bufw\s+allow\b"),
    "a firewall opening (firewall-cmd)": re.compile(r"\bfirewall-cmd\b[^\n]*--add-(port|service|rich-rule)"),
    "a socket forwarder (systemd-socket-proxyd)": re.compile(r"systemd-socket-proxyd"),
    "a socket forwarder (socat)": re.compile(r"\bsocat\b[^\n]*LISTEN", re.I),
}
"""What opens a loopback service to other machines, in the shells the install scripts use."""
LISTEN_ADDRESS = re.compile(r"(?:ListenStream=|--host[ =]|--bind[ =]|listenaddress=)\[?([0-9A-Fa-f:.]+|\*)", re.I)


def check(manifest, ctx):
    """Yield one violation per way the script opens the service beyond loopback."""
    script = str(manifest.get("script", ""))
    for what, pattern in OPENERS.items():
        if pattern.search(script):
            yield f"the install script opens the unauthenticated runtime to other machines with {what}"
    for found in LISTEN_ADDRESS.findall(script):
        address = found.split(":")[0] if found.count(":") == 1 else found  # an IPv4 address with its port
        if not is_loopback(address):
            yield f"the install script makes a listener on {address}, beyond loopback, with no API-key gateway"


RULE = Rule(
    id="slm-serving-011",
    name="Host installs keep the runtime on loopback: no forwarder, port proxy or firewall opening.",
    severity=Severity.CRITICAL,
    controls=("S-gateway-auth",),
    kinds=frozenset({"HostInstall"}),
    rationale="Foundry Local and mlx_lm.server check no API keys (on a host only MLX has the gateway in front), "
              "so anything that forwards or admits other machines to the runtime's port serves the model to the "
              "network without authentication.",
    remediation="Keep the host runtime on 127.0.0.1; serve other machines through the API-key gateway (MLX's "
                "targets.host.bind_address, or a container target with runtime.image for Foundry Local).",
    benchmarks=(),
    check=check,
    tags=("serving", "exposure", "authentication"),
)
