"""Constrained string types shared by the spec, so no value can smuggle markup or shell into output."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from slm_deploy.spec.quantity import parse_bytes

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_FORBIDDEN_MARKUP = ("{{", "}}", "{%", "%}", "$(", "${", "`", '"""')


def _no_markup(value: str) -> str:
    """Reject template and shell expansion syntax and control characters in free text."""
    for token in _FORBIDDEN_MARKUP:
        if token in value:
            raise ValueError(f"must not contain {token!r} (template or shell expansion)")
    if any(ord(ch) < 32 and ch not in "\t" for ch in value):
        raise ValueError("must not contain newlines or control characters")
    return value


def _byte_quantity(value: str) -> str:
    parse_bytes(value)
    return value


DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL_PATTERN, min_length=1, max_length=40)]
"""A DNS-1123 label short enough to take suffixes such as -open-webui (40 characters)."""

DnsName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", max_length=253),
]
"""A DNS-1123 subdomain such as an ingress host name."""

ArgToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/,=+@%-]+$", max_length=512)]
"""One command-line token: no spaces, quotes, shell or template characters."""

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$", max_length=128)]
"""An environment variable name in the portable upper-case form."""

EnvValue = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/,=+@%* -]*$", max_length=1024)]
"""An environment value without quotes, newlines or expansion syntax."""

SafeText = Annotated[str, StringConstraints(max_length=4096), AfterValidator(_no_markup)]
"""Free text (a system prompt) that can be quoted safely into any output format."""

ByteQuantity = Annotated[str, AfterValidator(_byte_quantity)]
"""A byte quantity such as 16Gi; parsed once here, formatted per target later."""

Cidr = Annotated[
    str,
    StringConstraints(pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$|^[0-9a-fA-F:]+/[0-9]{1,3}$"),
]
"""An IPv4 or IPv6 network in CIDR form."""

IpAddress = Annotated[str, StringConstraints(pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}$|^[0-9a-fA-F:]+$")]
"""A literal IP address to bind a published port to."""

PATTERN_DESCRIPTIONS = {
    DNS_LABEL_PATTERN: "lowercase letters, digits and '-', starting and ending with a letter or digit (DNS-1123)",
    r"^[A-Za-z0-9._:/,=+@%-]+$": "letters, digits and . _ : / , = + @ % - (no spaces, quotes, $, backticks or braces)",
    r"^[A-Z_][A-Z0-9_]*$": "upper-case letters, digits and _, not starting with a digit",
    r"^[A-Za-z0-9._:/,=+@%* -]*$": "letters, digits, spaces and . _ : / , = + @ % * - (no quotes, $, backticks or braces)",
    r"^[0-9a-f]{40}$": "a 40-character lowercase commit sha (branch names move)",
    r"^[A-Za-z0-9._+=@-]+(/[A-Za-z0-9._+=@-]+)*$":
        "letters, digits and . _ + = @ -, in path segments separated by single / (e.g. llm/phi4/api-keys)",
    r"^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$": "an Azure Key Vault name: 3-24 letters, digits and -, starting with a letter",
    r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$": "a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47",
}
"""Human wording for the patterns above, used in error messages."""

SECRET_NAME_PARTS = re.compile(r"(^|_)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|AUTH|CREDENTIALS?)(_|$)")
"""Environment names that scanners treat as secrets (Trivy DS-0031 matches on the name)."""
