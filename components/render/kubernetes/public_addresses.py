"""The address blocks the egress proxy may reach: the whole internet minus every block that is not public.

The `except` lists are the blocks IANA marks "Globally Reachable: False" in its special-purpose registries
(https://www.iana.org/assignments/iana-ipv4-special-registry and
https://www.iana.org/assignments/iana-ipv6-special-registry; RFC 6890, RFC 8190), the multicast blocks
(https://www.iana.org/assignments/multicast-addresses, https://www.iana.org/assignments/ipv6-multicast-addresses)
and the IPv6 prefixes that embed an IPv4 address and so lead back to private or metadata addresses: IPv4-mapped
(::ffff:0:0/96), NAT64 (64:ff9b::/96, RFC 6052, and the local-use 64:ff9b:1::/48, RFC 8215) and 6to4
(2002::/16, RFC 3056). 240.0.0.0/4 includes the limited broadcast address; 2001::/23 is blocked whole, its few
globally reachable sub-blocks (AMT, ORCHIDv2, AS112) serving no model hub.
"""

from __future__ import annotations

PUBLIC_INTERNET_BLOCKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("0.0.0.0/0", (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "224.0.0.0/4", "240.0.0.0/4",
    )),
    ("::/0", (
        "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
        "2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "ff00::/8",
    )),
)
"""(cidr, except) per address family for the proxy's ipBlock rules; the check rules compare against this too."""
