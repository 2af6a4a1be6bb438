"""Every host a spec names for a client to connect to, a registry or a Vault server, follows one rule: a host Docker
and the resolver read as written (a dotted name, localhost, an IPv4 address as four decimal numbers, or one label
with its port), with a port that can be connected to."""

from __future__ import annotations

from typing import Any

import pytest

from slm_deploy.errors import SpecError
from slm_deploy.render.images import build_owners, built_image
from slm_deploy.runtimes import plan_deployment
from slm_deploy.spec.loader import parse_deployment
from tests.secret_stores.cases import spec_of

HOSTS = ["registry.team.dev", "localhost", "localhost:5000", "registry:5000", "10.0.0.5", "10.0.0.5:5000",
         "cr-1.team.dev:443"]
"""Hosts both fields take."""
NUMERIC_SPELLINGS = ["3221225989:5000", "0xc0000205:443", "0x:5000", "0300.0.2.1", "192.0.2", "192.0.0x2.1",
                     "10.0.0.05", "1.2.3.4.5", "registry.10", "registry.0x10", "192.0.2:5000"]
"""Numbers the resolver (inet_aton) reads as addresses, or names that end in one, other than a dotted quad (without
a port, a single label is refused as one, as test_a_single_label_without_a_port_is_refused shows)."""


def _with_registry(registry: str) -> dict[str, Any]:
    spec = spec_of("external-hashicorp-vault")
    spec["targets"]["docker"]["registry"] = registry
    return spec


def _with_vault_server(server: str) -> dict[str, Any]:
    spec = spec_of("external-hashicorp-vault")
    spec["secret_stores"]["external_secrets"]["vault"]["provider"]["server"] = server
    return spec


REGISTRY = "targets.docker.registry"
VAULT_SERVER = "secret_stores.external_secrets.vault.provider.server"
FIELDS = {REGISTRY: (_with_registry, "{host}", "{host}/team"),
          VAULT_SERVER: (_with_vault_server, "https://{host}", "https://{host}/vault")}
"""Each field: how a spec names it, and its value for a host, bare and with a path."""


def _problem(spec: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as raised:
        parse_deployment(spec)
    (problem,) = raised.value.problems
    return problem.render()


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("host", HOSTS)
def test_a_host_either_field_takes(field: str, host: str) -> None:
    spec_with, bare, with_path = FIELDS[field]
    for value in (bare.format(host=host), with_path.format(host=host)):
        parse_deployment(spec_with(value))


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("host", ["myteam", "vault", "registry-1", "3221225989", "0xc0000205"])
def test_a_single_label_without_a_port_is_refused(field: str, host: str) -> None:
    """Docker reads `myteam/app` as the Docker Hub namespace myteam: a registry must be a host."""
    spec_with, bare, with_path = FIELDS[field]
    for value in (bare.format(host=host), with_path.format(host=host)):
        message = _problem(spec_with(value))
        assert message.startswith(f"{field}: is not in the allowed form")
        assert "a name of one label (a Kubernetes Service, say) needs its port" in message


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("host", NUMERIC_SPELLINGS)
def test_a_numeric_spelling_other_than_a_dotted_quad_is_refused(field: str, host: str) -> None:
    """192.0.2 and 3221225989 are 192.0.0.2 and 192.0.2.5 to getaddrinfo: never what the reader of the spec sees."""
    spec_with, bare, _ = FIELDS[field]
    message = _problem(spec_with(bare.format(host=host)))
    assert message.startswith(f"{field}: spells a host as a number other than four decimal numbers"), message
    assert host not in message.replace("3221225989, 0xc0000205, 0300.0.2.1 or 192.0.2", "")


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("port", ["0", "65536", "99999"])
def test_a_port_outside_1_to_65535_is_refused(field: str, port: str) -> None:
    spec_with, bare, _ = FIELDS[field]
    message = _problem(spec_with(bare.format(host=f"registry.team.dev:{port}")))
    assert message.startswith(f"{field}: has a port outside 1-65535")


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("host", ["Registry.Team.dev", "registry..team.dev", "-registry.team.dev",
                                  "registry.team.dev.", "[::1]:5000", "registry.team.dev:"])
def test_a_malformed_host_is_refused_by_both_fields(field: str, host: str) -> None:
    spec_with, bare, _ = FIELDS[field]
    assert _problem(spec_with(bare.format(host=host))).startswith(f"{field}: is not in the allowed form")


@pytest.mark.parametrize("host", ["0xc0000205", "llm.0x10", "llm.10"])
def test_an_ingress_host_that_ends_in_a_number_is_refused(host: str) -> None:
    spec = spec_of("external-hashicorp-vault")
    spec["exposure"] = {"mode": "ingress", "host": host}
    assert _problem(spec).startswith("exposure.host: is an IP address or ends in a numeric label")


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("host", [f"{'a' * 64}.team.dev", f"registry.{'a' * 64}", f"{'a' * 64}:5000",
                                  ".".join(["a" * 63] * 4) + ".dev"])
def test_a_label_over_63_or_a_host_over_253_characters_is_refused(field: str, host: str) -> None:
    """DNS bounds a label at 63 characters and a name at 253 (RFC 1035), as exposure.host is bounded."""
    spec_with, bare, _ = FIELDS[field]
    message = _problem(spec_with(bare.format(host=host)))
    too_long = "is out of range (got a string)\n  allowed: at most 253 characters"  # the registry's whole value
    assert message.startswith((f"{field}: has a host longer than 253 characters or a label longer than 63",
                               f"{field}: {too_long}")), message


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("host", ["0.0.0.0", "0.0.0.0:5000", "255.255.255.255", "224.0.0.1", "239.255.255.250:443",
                                  "169.254.169.254", "169.254.0.1:8200", "240.0.0.1"])
def test_an_address_no_server_answers_at_is_refused(field: str, host: str) -> None:
    """Unspecified, broadcast, multicast, link-local (the cloud metadata service) and reserved addresses."""
    spec_with, bare, with_path = FIELDS[field]
    for value in (bare.format(host=host), with_path.format(host=host)):
        message = _problem(spec_with(value))
        assert message.startswith(f"{field}: is an address no server answers at"), message


PRIVATE_NAMES = ["llm", "localhost", "llm.localhost", "llm.local", "api.team.svc.cluster.local", "llm.test",
                 "llm.corp.internal", "llm.home.arpa", "a.invalid", "a.example", "a.onion", "a.lan", "a.corp",
                 "a.alt", "example.com", "a.example.com", "x.y.example.org", "a.example.net"]
"""Names a public certificate authority issues no certificate for (the example domains are reserved for
documentation)."""


@pytest.mark.parametrize("host", PRIVATE_NAMES)
def test_an_ingress_host_no_public_certificate_is_issued_for_is_refused_with_lets_encrypt(host: str) -> None:
    spec = spec_of("external-hashicorp-vault")
    spec["exposure"] = {"mode": "ingress", "host": host}
    message = _problem(spec)
    assert message.startswith("exposure.host: is a name no public certificate is issued for"), message
    assert "hint: for a private name on Kubernetes, set exposure.tls.issuer" in message


@pytest.mark.parametrize("host", PRIVATE_NAMES)
def test_a_private_ingress_host_is_taken_with_the_teams_own_issuer(host: str) -> None:
    """A ClusterIssuer of the team's own certificate authority can issue for internal names."""
    spec = spec_of("external-hashicorp-vault")
    spec["exposure"] = {"mode": "ingress", "host": host, "tls": {"issuer": "corp-ca"}}
    assert parse_deployment(spec).spec.exposure.host == host


def test_on_aks_a_private_ingress_host_is_refused_whatever_the_issuer_is_named() -> None:
    """On AKS slm-deploy creates the issuer itself, as ACME against Let's Encrypt, under the name the spec gives."""
    spec = spec_of("key-vault-created")
    spec["exposure"] = {"mode": "ingress", "host": "llm.corp.internal", "tls": {"issuer": "corp-ca"}}
    assert _problem(spec).startswith("exposure.host: is a name no public certificate is issued for")


@pytest.mark.parametrize("registry", ["ghcr.io", "docker.io", "quay.io", "index.docker.io", "quay.io:443",
                                      "public.ecr.aws", "docker.io/library"])
def test_a_shared_public_registry_needs_the_teams_namespace(registry: str) -> None:
    """`ghcr.io` alone names the images ghcr.io/slm-deploy/...: a namespace someone else owns, pulled on every start."""
    message = _problem(_with_registry(registry))
    assert message.startswith(f"{REGISTRY}: "), message
    assert "such as ghcr.io/<your org>" in message
    allowed = message.split("allowed: ", 1)[1]
    assert registry not in message.replace(allowed, ""), "the value is never echoed"


@pytest.mark.parametrize("registry", ["ghcr.io/myorg", "docker.io/myorg", "quay.io/myorg/models",
                                      "myteam.azurecr.io", "localhost:5000", "registry.team.dev:5000"])
def test_a_namespaced_or_private_registry_names_the_built_images_as_given(registry: str) -> None:
    deployment = parse_deployment(_with_registry(registry))
    owners = build_owners(plan_deployment(deployment))
    assert owners and all(built_image(deployment, o).startswith(f"{registry}/slm/{o.name}:") for o in owners)
