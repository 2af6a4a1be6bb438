"""The egress proxy's ipBlock rules leave out every address that is not public, whatever family it is written in."""

from __future__ import annotations

import ipaddress

import pytest

from slm_deploy.render.kubernetes.public_addresses import PUBLIC_INTERNET_BLOCKS

BLOCKED = [ipaddress.ip_network(block) for _, blocks in PUBLIC_INTERNET_BLOCKS for block in blocks]
BLOCKED_THOUGH_PYTHON_CALLS_GLOBAL = {ipaddress.ip_network(n) for n in (
    "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16",  # translate to any IPv4 address, metadata ones included
    "2001::/23", "192.0.0.0/24",  # IANA blocks with a few globally reachable sub-blocks, none a model hub
    "3fff::/20", "5f00::/16",  # registered (RFC 9637, RFC 9602) after Python 3.11's table was written
)}


def _blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(address in block for block in BLOCKED)


def _ipv4_samples() -> list[ipaddress.IPv4Address]:
    """The first and last address of every /16, and both ends of every block Python knows as not global."""
    found = [ipaddress.IPv4Address(n << 16) for n in range(1 << 16)]
    found += [ipaddress.IPv4Address((n << 16) | 0xFFFF) for n in range(1 << 16)]
    return found + [a for n in ipaddress._IPv4Constants._private_networks for a in (n[0], n[-1])]


def test_every_ipv4_address_python_calls_non_global_is_blocked_and_no_global_unicast_one_is():
    wrong = [str(a) for a in _ipv4_samples()
             if _blocked(a) != (not a.is_global or a.is_multicast)
             and a not in ipaddress.ip_network("192.0.0.0/24")]
    assert wrong == []


@pytest.mark.parametrize("address", [
    "::ffff:169.254.169.254", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "::1", "::",
    "fd00::1", "fe80::1", "ff02::1", "2001:db8::1", "100::1",
    *[str(a) for n in ipaddress._IPv6Constants._private_networks for a in (n[0], n[-1])],
])
def test_ipv6_forms_of_private_metadata_and_local_addresses_are_blocked(address):
    assert _blocked(ipaddress.IPv6Address(address))


@pytest.mark.parametrize("address", ["2606:4700::6810:84e5", "2a00:1450:4001:82a::200e", "2600:1f18::1"])
def test_public_ipv6_hub_addresses_stay_reachable(address):
    assert not _blocked(ipaddress.IPv6Address(address))


def test_each_blocked_range_is_not_global_multicast_or_leads_to_ipv4():
    loose = [str(block) for block in BLOCKED
             if block[0].is_global and not block.is_multicast and block not in BLOCKED_THOUGH_PYTHON_CALLS_GLOBAL]
    assert loose == []


def test_blocks_sit_inside_their_family_cidr_as_kubernetes_requires():
    for cidr, blocks in PUBLIC_INTERNET_BLOCKS:
        assert all(ipaddress.ip_network(b).subnet_of(ipaddress.ip_network(cidr)) for b in blocks)
