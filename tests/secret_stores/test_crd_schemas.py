"""SecretProviderClass, ExternalSecret, SecretStore and ClusterSecretStore objects validate against the upstream
CRDs (vendored under tests/schemas/crds with source, tag and licence), unknown fields rejected."""

from __future__ import annotations

import copy
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from slm_deploy.render.kubernetes import render_kubernetes
from slm_deploy.runtimes import plan_deployment
from tests.secret_stores.cases import CASES, case

CRDS = Path(__file__).resolve().parents[1] / "schemas" / "crds"
FILES = {"SecretProviderClass": "secretproviderclasses.yaml", "ExternalSecret": "externalsecrets.yaml",
         "SecretStore": "secretstores.yaml", "ClusterSecretStore": "clustersecretstores.yaml"}


def strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever the CRD does not preserve them (strict field validation)."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out \
                and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


@lru_cache(maxsize=None)
def validator(kind: str, api_version: str) -> jsonschema.Draft7Validator:
    """The served, stored version's schema of one kind."""
    crd = yaml.safe_load((CRDS / FILES[kind]).read_text(encoding="utf-8"))
    group, version = api_version.split("/")
    assert crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version and v["served"]]
    return jsonschema.Draft7Validator(strict(served["schema"]["openAPIV3Schema"]))


def errors(obj: dict[str, Any]) -> list[str]:
    found = validator(obj["kind"], obj["apiVersion"]).iter_errors(obj)
    return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


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
