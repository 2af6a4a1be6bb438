"""Kubernetes monitoring and autoscaling objects against the upstream CRD schemas (vendored in tests/schemas/crds,
see SOURCE.md), strictly: a field the schema does not define is an error, as kubectl's strict validation has it."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.monitoring.bundles import every_bundle

CRDS = Path(__file__).resolve().parents[1] / "schemas" / "crds"
SCHEMA_FILES = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_scaledobjects.yaml",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh_triggerauthentications.yaml",
    ("monitoring.coreos.com/v1", "PodMonitor"): "monitoring.coreos.com_podmonitors.yaml",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_prometheusrules.yaml",
    ("azmonitoring.coreos.com/v1", "PodMonitor"): "monitoring.coreos.com_podmonitors.yaml",
}


def _strict(schema: dict) -> dict:
    """Reject unknown fields wherever the schema lists properties and does not preserve unknown ones."""
    schema = dict(schema)
    if "properties" in schema and "additionalProperties" not in schema \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        schema["additionalProperties"] = False
    for key in ("properties", "patternProperties"):
        if key in schema:
            schema[key] = {name: _strict(sub) for name, sub in schema[key].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            schema[key] = _strict(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            schema[key] = [_strict(sub) for sub in schema[key]]
    return schema


@lru_cache(maxsize=None)
def validator(api_version: str, kind: str) -> jsonschema.Validator:
    crd = yaml.safe_load((CRDS / SCHEMA_FILES[(api_version, kind)]).read_text())
    version = api_version.split("/")[1]
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = _strict(served["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta is checked by kubernetes-validate
    return jsonschema.Draft7Validator(schema)


def custom_objects() -> list[tuple[str, dict]]:
    found = []
    for name, files in every_bundle():
        for path, text in files.items():
            if path.startswith("kubernetes/") and not path.endswith("kustomization.yaml"):
                obj = yaml.safe_load(text)
                if (obj["apiVersion"], obj["kind"]) in SCHEMA_FILES:
                    found.append((f"{name}/{path.removeprefix('kubernetes/')}", obj))
    return found


OBJECTS = custom_objects()


def errors(obj: dict) -> list[str]:
    return [f"{'.'.join(map(str, e.path))}: {e.message}"
            for e in validator(obj["apiVersion"], obj["kind"]).iter_errors(obj)]


def test_every_custom_kind_is_rendered_somewhere() -> None:
    assert {(o["apiVersion"], o["kind"]) for _, o in OBJECTS} == set(SCHEMA_FILES)


@pytest.mark.parametrize(("name", "obj"), OBJECTS, ids=[n for n, _ in OBJECTS])
def test_the_object_validates_against_its_crd(name: str, obj: dict) -> None:
    assert errors(obj) == []


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_the_schemas_reject_what_the_api_server_would(kind: tuple[str, str]) -> None:
    obj = copy.deepcopy(next(o for _, o in OBJECTS if (o["apiVersion"], o["kind"]) == kind))
    obj["spec"]["unknownField"] = True
    assert errors(obj)
    if kind[1] == "ScaledObject":
        broken = copy.deepcopy(obj)
        del broken["spec"]["unknownField"]
        broken["spec"]["minReplicaCount"] = "two"
        assert errors(broken)
