"""D13: the egress proxy's Squid configuration lets through only CONNECT to port 443 of exact host names."""

from __future__ import annotations

import re
from collections.abc import Iterator

from slm_deploy.policies.model import Rule, Severity

CONTINUATION = re.compile(r"\\\n")
FORBIDDEN = ("ssl_bump", "https_port", "include", "cache_peer", "always_direct", "never_direct")
"""Directives that decrypt, add listeners, pull in unseen text or send requests elsewhere."""
HOST_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
"""One exact host name of at least two labels: no leading dot (every subdomain), no wildcard, no bare TLD."""


def _directives(text: str) -> list[list[str]]:
    """The words of each directive, continuation lines joined and comments dropped, as Squid reads them."""
    lines = CONTINUATION.sub(" ", text).splitlines()
    return [line.split() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _acls(directives: list[list[str]]) -> dict[str, tuple[str, list[str]]]:
    """Each ACL name with its type and every value (Squid adds the values of repeated `acl` lines together)."""
    acls: dict[str, tuple[str, list[str]]] = {}
    for words in directives:
        if words[0] == "acl" and len(words) >= 3:
            kind, values = acls.get(words[1], (words[2], []))
            acls[words[1]] = (kind if kind == words[2] else "mixed", values + [v for v in words[3:] if v != "-n"])
    return acls


def _access(directives: list[list[str]], acls) -> Iterator[str]:
    """Violations of the one access order that keeps the proxy an allowlist: refuse what is not CONNECT, refuse
    other ports, allow one dstdomain ACL, refuse everything else."""
    rules = [words[1:] for words in directives if words[0] == "http_access"]
    allows = [rule for rule in rules if rule[:1] == ["allow"]]
    if len(allows) != 1 or len(allows[0]) != 2 or acls.get(allows[0][1], ("",))[0] != "dstdomain":
        yield "http_access must allow exactly one dstdomain ACL of host names, nothing else"
    if not rules or rules[-1] != ["deny", "all"]:
        yield "the last http_access must be `deny all`"
    before = rules[:rules.index(allows[0])] if len(allows) == 1 else []
    denied = {rule[1].removeprefix("!") for rule in before if len(rule) == 2 and rule[0] == "deny"
              and rule[1].startswith("!")}
    if not any(acls.get(name) == ("method", ["CONNECT"]) for name in denied):
        yield "http_access does not refuse every method but CONNECT before its allow"
    if not any(acls.get(name) == ("port", ["443"]) for name in denied):
        yield "http_access does not refuse every port but 443 before its allow"


def _hosts(acls) -> Iterator[str]:
    """Violations of the allowlist entries: exact host names only."""
    for name, (kind, values) in sorted(acls.items()):
        if kind in ("dst", "dstdom_regex", "dst_as", "mixed"):
            yield f"acl {name} is a {kind} ACL: the proxy allows host names, not addresses or patterns"
        elif kind == "dstdomain":
            loose = [v for v in values if not HOST_NAME.match(v.lower())]
            if loose or not values:
                yield f"acl {name} holds {len(loose) or 'no'} entries that are not one exact host name " \
                      "(a leading dot, a wildcard or a bare top-level domain opens many hosts)"


def check(squid, ctx):
    """Yield a violation per way the configuration lets more than CONNECT to 443 of the listed names through."""
    directives = _directives(str(squid.get("config") or ""))
    acls = _acls(directives)
    yield from _access(directives, acls)
    yield from _hosts(acls)
    if sum(words[0] == "http_port" for words in directives) != 1:
        yield "the proxy must listen on exactly one http_port"
    for words in directives:
        if words[0] in FORBIDDEN:
            yield f"{words[0]} is set: the proxy only tunnels, unread, to the listed names"


RULE = Rule(
    id="slm-docker-013",
    name="The egress proxy's Squid configuration allows only CONNECT to port 443 of exact host names.",
    severity=Severity.MEDIUM,
    controls=("D-egress-allowlist",),
    kinds=frozenset({"SquidConfig"}),
    rationale="The model downloads' only way out is the egress proxy, and the network rules (slm-compose-015, "
              "slm-k8s-026) are only as narrow as its configuration, `docker/<name>-egress-proxy/squid.conf`, "
              "which the image bakes in. `http_access allow all`, a second allow, a missing final `deny all`, a "
              "leading-dot or top-level entry (`.com`), an address ACL, TLS interception or another listener "
              "turn the allowlist into an open proxy for the token-holding download.",
    remediation="Render the bundle again rather than editing squid.conf: it denies every method but CONNECT and "
                "every port but 443, allows the one `dstdomain` ACL of the model source's exact host names and "
                "ends with `http_access deny all`; widen the allowlist through the spec's model source.",
    benchmarks=(),
    check=check,
    tags=("docker", "network", "model-prep"),
)
