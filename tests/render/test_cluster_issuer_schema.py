"""The ClusterIssuer that `render` writes to kubernetes/cluster/ and AksAddOns creates, against cert-manager's own
ClusterIssuer CRD (vendored under tests/schemas/crds, see SOURCE.md), strictly: an unknown field is an error."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
import yaml

from slm_deploy.aks_ingress import CERT_MANAGER_VERSION
from slm_deploy.render.bundle import render_bundle
from slm_deploy.render.kubernetes.cert_manager import LETSENCRYPT_PRODUCTION, cluster_issuer
from slm_deploy.spec.loader import load_deployment, parse_deployment
from tests.conftest import STACKS
from tests.support.crd_schema import CLUSTER_ISSUER_CRD as CRD_FILE, CRDS, object_errors

STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"


def issuer_errors(obj: dict[str, Any]) -> list[str]:
    return object_errors(CRD_FILE, obj)


def rendered_issuers() -> list[tuple[str, dict[str, Any]]]:
    """(stack/path, object) for every ClusterIssuer an example stack's bundle holds."""
    found = []
    for stack in STACKS:
        for path, text in render_bundle(load_deployment(stack)).files.items():
            if path.startswith("kubernetes/cluster/") and path.endswith(".yaml"):
                obj = yaml.safe_load(text)
                if obj.get("kind") == "ClusterIssuer":
                    found.append((f"{stack.stem}/{path}", obj))
    return found


ISSUERS = rendered_issuers()


def test_the_vendored_crd_is_the_recorded_upstream_file_for_the_pinned_release() -> None:
    table = (CRDS / "SOURCE.md").read_text(encoding="utf-8")
    row = next(line for line in table.splitlines() if line.startswith(f"| {CRD_FILE} |"))
    assert hashlib.sha256((CRDS / CRD_FILE).read_bytes()).hexdigest() in row
    assert CERT_MANAGER_VERSION in row  # the release the Helm chart installs


def test_an_example_stack_renders_a_cluster_issuer() -> None:
    assert ISSUERS, "no example stack writes kubernetes/cluster/ with a ClusterIssuer"


@pytest.mark.parametrize(("where", "issuer"), ISSUERS, ids=[where for where, _ in ISSUERS])
def test_the_rendered_issuer_validates_against_cert_managers_crd(where: str, issuer: dict[str, Any]) -> None:
    assert issuer_errors(issuer) == []


@pytest.mark.parametrize(("server", "email"), [(LETSENCRYPT_PRODUCTION, None), (STAGING, "platform@example.com")])
def test_every_issuer_setting_stays_within_the_crd(server: str, email: str | None) -> None:
    spec = load_deployment(next(s for s in STACKS if "aks" in s.stem)).source
    spec = copy.deepcopy(spec)
    spec["exposure"]["tls"]["issuer"] = "public-acme"
    spec["exposure"]["ingress_class"] = "nginx"
    issuer = cluster_issuer(parse_deployment(spec).spec, server, email)
    assert issuer_errors(issuer) == []


@pytest.mark.parametrize("break_it", [
    lambda acme: acme.pop("server"),
    lambda acme: acme["solvers"][0]["http01"]["ingress"].update(ingressClass_name="nginx"),
    lambda acme: acme.update(privateKeySecretRef="letsencrypt-account-key"),
], ids=["no server", "misspelt solver field", "secret ref as a string"])
def test_the_judge_refuses_issuers_cert_manager_would(break_it) -> None:
    _, issuer = ISSUERS[0]
    broken = copy.deepcopy(issuer)
    break_it(broken["spec"]["acme"])
    assert issuer_errors(broken)
