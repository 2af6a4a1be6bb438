"""Constrained string types shared by the spec, so no value can smuggle markup or shell into output."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from slm_deploy.spec.hosts import HOST_ALLOWED, HOST_PORT, checked_host_port
from slm_deploy.spec.images import IMAGE_PATTERN
from slm_deploy.spec.ollama_names import OLLAMA_NAME_CHARACTERS
from slm_deploy.spec.quantity import MAX_BYTES, QUANTITY_PATTERN, parse_bytes

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
SERVICE_NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
DNS_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
_FORBIDDEN_MARKUP = ("{{", "}}", "{%", "%}", "$(", "${", "`", '"""')


_UNSAFE_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")
"""Control and format characters and line and paragraph separators: YAML, Modelfiles and terminals read some of them
as line breaks (U+0085, U+2028, U+2029) and others reorder or hide text (bidirectional overrides, zero widths)."""
_KEPT = "\t\u200c\u200d"
"""Tabs, and the zero-width (non-)joiners that Persian, Indic scripts and emoji sequences spell words with."""


def _no_markup(value: str) -> str:
    """Reject template and shell expansion syntax, line breaks and invisible characters in free text."""
    if any(token in value for token in _FORBIDDEN_MARKUP):
        raise ValueError("must not contain template or shell expansion syntax: " + " ".join(_FORBIDDEN_MARKUP))
    if any(unicodedata.category(ch) in _UNSAFE_CATEGORIES and ch not in _KEPT for ch in value):
        raise ValueError("must be one line of visible text; allowed: letters, digits, punctuation, spaces and tabs, "
                         "without newlines, line or paragraph separators (U+0085, U+2028, U+2029), control characters "
                         "or format characters such as bidirectional overrides or zero-width spaces")
    return value


def _byte_quantity(value: str) -> str:
    if parse_bytes(value) > MAX_BYTES:
        raise ValueError("is larger than any node or volume holds; allowed: at most 1024Ti")
    return value


def _ip_address(value: str) -> str:
    """The address in canonical form (0:0::1 becomes ::1), so every reader sees one spelling; an IPv4-mapped IPv6
    address is refused, since Docker and Go read ::ffff:a.b.c.d as a.b.c.d (::ffff:0:0 as 0.0.0.0, every
    interface) while Python's checks see an IPv6 address that is neither unspecified nor loopback."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("is not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        raise ValueError("is an IPv4-mapped IPv6 address (::ffff:a.b.c.d), which Docker reads as the IPv4 address "
                         "(::ffff:0:0 as 0.0.0.0, every interface); allowed: the IPv4 address itself")
    return str(address)


def _specific_address(value: str) -> str:
    """An address Docker can publish on: one interface's unicast address, with no zone to name."""
    address = ipaddress.ip_address(value)
    if address.is_unspecified:
        raise ValueError("must be one specific address; 0.0.0.0 and :: publish on every interface")
    if address.is_link_local or address.is_multicast or (address.version == 4 and address.is_reserved):
        raise ValueError("must be a unicast address of one interface; allowed: 127.0.0.1, ::1 or a LAN or public "
                         "address, never link-local (169.254.0.0/16, fe80::/10: it needs a zone Docker cannot "
                         "take), multicast (224.0.0.0/4, ff00::/8) or reserved and broadcast (240.0.0.0/4)")
    return value


def _ip_network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError("is not a network in CIDR form with its host bits zero (such as 10.0.0.0/8)") from None
    return value


DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL_PATTERN, min_length=1, max_length=40)]
"""A DNS-1123 label short enough to take suffixes such as -open-webui (40 characters)."""

ServiceName = Annotated[str, StringConstraints(pattern=SERVICE_NAME_PATTERN, min_length=1, max_length=40)]
"""A DNS-1035 label (starts with a letter), as Kubernetes requires of Service names."""

SecretName = Annotated[str, StringConstraints(pattern=DNS_LABEL_PATTERN, max_length=63)]
"""A secret's name: a DNS-1123 label, valid as a Kubernetes Secret, a Compose secret and a file name."""

DnsName = Annotated[str, StringConstraints(pattern=DNS_NAME_PATTERN, max_length=253)]
"""A DNS-1123 subdomain such as an ingress host name (labels of at most 63 characters)."""

ArgToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/,=+@%-]+$", max_length=512)]
"""One command-line token: no spaces, quotes, shell or template characters."""

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$", max_length=128)]
"""An environment variable name in the portable upper-case form."""

EnvValue = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/,=+@%* \u00b5\u03bc-]*$", max_length=1024)]
"""An environment value without quotes, newlines or expansion syntax (µs and μs are Go's microsecond units)."""

SafeText = Annotated[str, StringConstraints(max_length=4096), AfterValidator(_no_markup)]
"""Free text (a system prompt) that can be quoted safely into any output format."""

ByteQuantity = Annotated[str, StringConstraints(pattern=QUANTITY_PATTERN), AfterValidator(_byte_quantity)]
"""A byte quantity such as 16Gi; parsed once here, formatted per target later."""

REGISTRY_PATTERN = rf"^{HOST_PORT}(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
REGISTRY_ALLOWED = (f"{HOST_ALLOWED}; then optional lower-case path segments, such as myteam.azurecr.io or "
                    "registry.<your domain>:5000/team")


def _registry_host(value: str) -> str:
    """The registry's host and port by the rule every host a client connects to follows."""
    checked_host_port(value.split("/", 1)[0], allowed=REGISTRY_ALLOWED)
    return value


RegistryHost = Annotated[str, StringConstraints(pattern=REGISTRY_PATTERN, max_length=253), AfterValidator(_registry_host)]
"""A registry host, with an optional port and path, that a container engine can push to and pull from."""

DOCKER_HUB = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})
SHARED_REGISTRIES = DOCKER_HUB | {
    "ghcr.io", "docker.pkg.github.com", "quay.io", "gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io", "public.ecr.aws",
    "registry.gitlab.com", "nvcr.io", "mcr.microsoft.com"}
"""Public registries many owners share: a path's first segment there is a namespace owned by whoever claimed it."""
OWN_NAMESPACE_ALLOWED = ("on a shared public registry (docker.io, ghcr.io, quay.io, gcr.io, public.ecr.aws, ...), "
                         "its host followed by your own namespace, such as ghcr.io/<your org>; otherwise "
                         f"{REGISTRY_ALLOWED}")


def shared_registry_problem(registry: str) -> str | None:
    """Why images pushed under this registry would land in a namespace someone else owns, or None."""
    host_port, _, path = registry.partition("/")
    host = host_port.split(":", 1)[0]
    if host not in SHARED_REGISTRIES:
        return None
    if not path:
        return ("is the host of a shared public registry without a namespace of your own: the images would be "
                "named after a namespace someone else owns there")
    if host in DOCKER_HUB and path.split("/", 1)[0] == "library":
        return "names Docker Hub's namespace of official images, which nobody outside Docker can push to"
    return None


def _own_namespace(value: str) -> str:
    """A push registry on a shared public host must carry the team's namespace, or pulls come from a stranger's."""
    problem = shared_registry_problem(value)
    if problem:
        raise ValueError(f"{problem}; allowed: {OWN_NAMESPACE_ALLOWED}")
    return value


PushRegistry = Annotated[RegistryHost, AfterValidator(_own_namespace)]
"""The registry slm-deploy pushes its builds to and clusters pull them from: a private host, or a shared public
registry's host with the team's own namespace."""

HTTPS_URL_PATTERN = rf"^https://{HOST_PORT}(/[A-Za-z0-9._~/-]*)?$"
HTTPS_URL_ALLOWED = f"https://, then {HOST_ALLOWED}; then an optional path, such as https://vault.<your domain>:8200"


def _https_url_host(value: str) -> str:
    """The URL's host and port by the rule every host a client connects to follows."""
    checked_host_port(value.removeprefix("https://").split("/", 1)[0], allowed=HTTPS_URL_ALLOWED)
    return value


HttpsUrl = Annotated[str, StringConstraints(pattern=HTTPS_URL_PATTERN, max_length=2048), AfterValidator(_https_url_host)]
"""The https URL of a server slm-deploy's workloads connect to (a HashiCorp Vault)."""

CIDR_PATTERN = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$|^[0-9a-fA-F:]+/[0-9]{1,3}$"
IP_PATTERN = r"^([0-9]{1,3}\.){3}[0-9]{1,3}$|^[0-9a-fA-F:]+$"

Cidr = Annotated[
    str,
    StringConstraints(pattern=CIDR_PATTERN),
    AfterValidator(_ip_network),
]
"""An IPv4 or IPv6 network in CIDR form."""

IpAddress = Annotated[
    str, StringConstraints(pattern=IP_PATTERN), AfterValidator(_ip_address),
]
"""A literal IP address to bind a published port to."""

SpecificAddress = Annotated[IpAddress, AfterValidator(_specific_address)]
"""An address of one interface: never 0.0.0.0 or ::, which publish on all of them."""

LABEL_KEY_PATTERN = r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
LABEL_VALUE_PATTERN = r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"
LabelKey = Annotated[str, StringConstraints(pattern=LABEL_KEY_PATTERN, max_length=126)]
LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE_PATTERN, max_length=63)]
"""A Kubernetes label key (an optional DNS prefix and /, then a name) and value."""

_HF_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?"
HF_REPO_PATTERN = rf"^{_HF_NAME}/{_HF_NAME}$"
"""namespace/name as the hub client's validate_repo_id takes them: each part 1-96 characters, starting with a letter or
digit and ending with a letter, digit or _ (its word boundaries), the rest letters, digits and . _ -."""


def _hub_repo_id(value: str) -> str:
    """Refuse the ids the hub client refuses beyond their form, so the download step never fails on them."""
    if "--" in value or ".." in value:
        raise ValueError("must not contain -- or .. (the Hugging Face hub client refuses them); allowed: "
                         "namespace/name with single - and . between letters and digits")
    if value.endswith(".git"):
        raise ValueError("must not end in .git (the Hugging Face hub client refuses it); allowed: the repository's "
                         "name without .git")
    return value


HfRepo = Annotated[str, StringConstraints(pattern=HF_REPO_PATTERN), AfterValidator(_hub_repo_id)]
"""A Hugging Face repository id that huggingface_hub's validate_repo_id accepts."""

PINS_ROW_PATTERN = r"^[a-z0-9-]+$"
PinsRow = Annotated[str, StringConstraints(pattern=PINS_ROW_PATTERN)]
"""The name of a row of the pins table (vllm, ollama, python, ...)."""

PATTERN_DESCRIPTIONS = {
    OLLAMA_NAME_CHARACTERS: "an Ollama model name: letters, digits and _ . : / -, starting with a letter, digit or _",
    DNS_LABEL_PATTERN: "lowercase letters, digits and '-', starting and ending with a letter or digit (DNS-1123)",
    SERVICE_NAME_PATTERN: "lowercase letters, digits and '-', starting with a letter and ending with a letter or "
                          "digit (DNS-1035, as Kubernetes Service names need)",
    DNS_NAME_PATTERN: "a DNS name: dot-separated labels of lowercase letters, digits and '-', each at most 63 "
                      "characters",
    r"^[A-Za-z0-9._:/,=+@%-]+$": "letters, digits and . _ : / , = + @ % - (no spaces, quotes, $, backticks or braces)",
    r"^[A-Z_][A-Z0-9_]*$": "upper-case letters, digits and _, not starting with a digit",
    r"^[A-Za-z0-9._:/,=+@%* \u00b5\u03bc-]*$": "letters, digits, spaces and . _ : / , = + @ % * - and the micro signs µ and μ of Go durations (no quotes, $, backticks or braces)",
    r"^[0-9a-f]{40}$": "a 40-character lowercase commit sha (branch names move)",
    r"^[A-Za-z0-9._+=@-]+(/[A-Za-z0-9._+=@-]+)*$":
        "letters, digits and . _ + = @ -, in path segments separated by single / (e.g. llm/phi4/api-keys)",
    r"^[A-Za-z](-?[A-Za-z0-9]){2,23}$": "an Azure Key Vault name: 3-24 letters, digits and single hyphens, starting "
                                          "with a letter, ending with a letter or digit",
    r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$": "a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47",
    QUANTITY_PATTERN: "a byte quantity such as 512Mi, 16Gi or 2G",
    IMAGE_PATTERN: "an image pinned by digest: registry/repository:tag@sha256:<64 hex>",
    IP_PATTERN: "an IPv4 or IPv6 address such as 127.0.0.1 or ::1 (no zone suffix)",
    CIDR_PATTERN: "an IPv4 or IPv6 network such as 10.0.0.0/8 or fd00::/8",
    REGISTRY_PATTERN: REGISTRY_ALLOWED,
    HTTPS_URL_PATTERN: HTTPS_URL_ALLOWED,
    LABEL_KEY_PATTERN: "a Kubernetes label key: an optional DNS prefix and /, then letters, digits, - _ and ., "
                       "starting and ending with a letter or digit (such as app.kubernetes.io/name)",
    LABEL_VALUE_PATTERN: "a Kubernetes label value: letters, digits, - _ and ., starting and ending with a letter or "
                         "digit, or empty",
    PINS_ROW_PATTERN: "a row name of the pins table: lowercase letters, digits and -",
    HF_REPO_PATTERN: "a Hugging Face repository id: namespace/name, each 1-96 letters, digits and . _ -, starting "
                     "with a letter or digit and ending with a letter, digit or _",
}
"""Human wording for the patterns above, used in error messages."""

SECRET_NAME_PARTS = re.compile(r"(^|_)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|AUTH|CREDENTIALS?)(_|$)")
"""Environment names that scanners treat as secrets (Trivy DS-0031 matches on the name)."""
