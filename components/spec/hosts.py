"""One rule for the hosts a spec names for a client to connect to (a registry, a Vault server): a host Docker and
getaddrinfo read as the user meant, or a clear refusal."""

from __future__ import annotations

import ipaddress
import re

LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
PORT = r"[0-9]{1,5}"
HOST_PORT = rf"(({LABEL}(\.{LABEL})+|localhost)(:{PORT})?|{LABEL}:{PORT})"
"""A dotted name, `localhost`, or a single label with a port: Docker reads any other first path segment of an image
reference (`myteam/app`) as a Docker Hub namespace, so a single-label registry would push to Docker Hub."""
HOST_ALLOWED = ("a host: a dotted name of lower-case DNS labels, an IPv4 address written as four decimal numbers "
                "(such as 10.0.0.5), or localhost, with an optional port from 1 to 65535; a name of one label (a "
                "Kubernetes Service, say) needs its port")
NUMERIC_LABEL = re.compile(r"^([0-9]+|0x[0-9a-f]*)$", re.IGNORECASE)
"""A label that makes an address of the whole host: the resolver (inet_aton, as getaddrinfo calls it) reads 192.0.2,
3221225989, 0xc0000205 and 0300.0.2.1 as IPv4 addresses, and the URL standard reads a host ending in one as one."""


LABEL_LIMIT = 63
NAME_LIMIT = 253
"""The longest DNS label and name (RFC 1035), as exposure.host is bounded."""
NO_SERVER = [ipaddress.IPv4Network(n) for n in ("0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")]
"""Addresses no server answers at: this network (0.0.0.0), link-local (169.254.169.254 is the cloud metadata
service), multicast, and reserved with the broadcast address 255.255.255.255."""


PRIVATE_SUFFIXES = ("localhost", "local", "test", "internal", "home.arpa", "example", "invalid", "onion", "alt",
                    "corp", "home", "mail", "lan")
"""Names reserved for local, private, documentation or special use (RFC 6761: localhost, test, example, invalid;
RFC 6762: local; RFC 8375: home.arpa; RFC 7686: onion; RFC 9476: alt; ICANN's .internal), top-level names ICANN
will never delegate (corp, home, mail), and the undelegated lan of home routers; svc.cluster.local is under local.
Let's Encrypt issues no certificate for them, nor for a single label."""


DOCUMENTATION_NAME = re.compile(r"^(.*\.)?(example\.(com|net|org)|example|invalid)\.?$", re.IGNORECASE)
"""Names reserved for documentation and examples (RFC 2606, RFC 6761): nobody pushes to or serves from them."""
DOCUMENTATION_NETWORKS = [ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
"""IPv4 ranges reserved for documentation (RFC 5737): no server answers there."""


def documentation_host(host: str) -> bool:
    """Whether the host (without a port) is a name or an IPv4 address reserved for documentation."""
    try:
        return any(ipaddress.ip_address(host) in network for network in DOCUMENTATION_NETWORKS)
    except ValueError:
        return bool(DOCUMENTATION_NAME.match(host))


def private_name(host: str) -> bool:
    """Whether a public certificate authority can never issue a certificate for the name."""
    return "." not in host or any(host == suffix or host.endswith(f".{suffix}") for suffix in PRIVATE_SUFFIXES)


def ends_in_a_number(host: str) -> bool:
    """Whether the host's last label is a number, in decimal, octal or hex: such a host is read as an address."""
    return bool(NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]))


def checked_host_port(authority: str, allowed: str = HOST_ALLOWED) -> str:
    """The authority (host, optional port) when its port can be connected to and a number-like host is an IPv4
    address in its one canonical spelling; a ValueError saying what is allowed otherwise."""
    host, _, port = authority.partition(":")
    if port and not 1 <= int(port) <= 65535:
        raise ValueError(f"has a port outside 1-65535; allowed: {allowed}")
    if ends_in_a_number(host) and not _dotted_quad(host):
        raise ValueError("spells a host as a number other than four decimal numbers (the resolver reads forms such "
                         f"as 3221225989, 0xc0000205, 0300.0.2.1 or 192.0.2 as addresses); allowed: {allowed}")
    if len(host) > NAME_LIMIT or any(len(label) > LABEL_LIMIT for label in host.split(".")):
        raise ValueError(f"has a host longer than {NAME_LIMIT} characters or a label longer than {LABEL_LIMIT}; "
                         f"allowed: {allowed}")
    if _dotted_quad(host) and any(ipaddress.IPv4Address(host) in network for network in NO_SERVER):
        raise ValueError("is an address no server answers at (0.0.0.0/8, link-local 169.254.0.0/16 with the cloud "
                         "metadata address, multicast 224.0.0.0/4, reserved 240.0.0.0/4 with 255.255.255.255); "
                         f"allowed: {allowed}")
    return authority


def _dotted_quad(host: str) -> bool:
    """Whether the host is an IPv4 address in canonical form (four decimal numbers without leading zeros)."""
    try:
        return str(ipaddress.IPv4Address(host)) == host
    except ValueError:
        return False
