"""SecretProviderClass, ExternalSecret, SecretStore and ClusterSecretStore objects validate against the upstream
CRDs (vendored under tests/schemas/crds with source, tag and licence), unknown fields rejected."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from slm_deploy.render.kubernetes.objects import render_kubernetes
from slm_deploy.runtimes import plan_deployment
from tests.secret_stores.cases import CASES, case
from tests.support.crd_schema import CRDS, crd_validator, schema_errors

FILES = {"SecretProviderClass": "secretproviderclasses.yaml", "ExternalSecret": "externalsecrets.yaml",
         "SecretStore": "secretstores.yaml", "ClusterSecretStore": "clustersecretstores.yaml"}


def errors(obj: dict[str, Any]) -> list[str]:
    return schema_errors(crd_validator(FILES[obj["kind"]], obj["apiVersion"], obj["kind"]), obj)


def store_objects() -> list[tuple[str, dict[str, Any]]]:
    """(case, object) for every object of a CRD kind that any case renders."""
    found = []
    for name in CASES:
        deployment = case(name)
        for obj in render_kubernetes(deployment, plan_deployment(deployment)):
            if obj["kind"] in FILES:
                found.append((name, obj))
    return found


OBJECTS = store_objects()


def test_the_vendored_crds_are_the_recorded_upstream_files() -> None:
    table = (CRDS / "README.md").read_text(encoding="utf-8")
    for file in FILES.values():
        digest = hashlib.sha256((CRDS / file).read_bytes()).hexdigest()
        assert f"| {file} |" in table and digest in table, file


def test_every_crd_kind_is_rendered_by_some_case() -> None:
    assert {obj["kind"] for _, obj in OBJECTS} == set(FILES)


@pytest.mark.parametrize(("name", "obj"), OBJECTS, ids=[f"{n}:{o['kind']}/{o['metadata']['name']}" for n, o in OBJECTS])
def test_the_object_validates_against_its_crd(name: str, obj: dict[str, Any]) -> None:
    assert errors(obj) == []


@pytest.mark.parametrize(("name", "obj"), OBJECTS, ids=[f"{n}:{o['kind']}/{o['metadata']['name']}" for n, o in OBJECTS])
def test_the_schema_refuses_a_misspelt_field(name: str, obj: dict[str, Any]) -> None:
    broken = copy.deepcopy(obj)
    broken["spec"]["refreshInteval" if obj["kind"] == "ExternalSecret" else "provder"] = "1h"
    assert errors(broken), "the judge must reject unknown fields"


def test_the_pulumi_filled_client_id_still_validates() -> None:
    (spc,) = [o for n, o in OBJECTS if n == "key-vault-created" and o["kind"] == "SecretProviderClass"
              and o["metadata"]["name"].endswith("gateway-secrets")]
    filled = copy.deepcopy(spc)
    filled["spec"]["parameters"]["clientID"] = "11111111-2222-3333-4444-555555555555"
    assert errors(filled) == []
