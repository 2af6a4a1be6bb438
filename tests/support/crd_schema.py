"""Validators for custom objects from the upstream CRDs vendored under tests/schemas/crds, strict as kubectl's
field validation is: a field the schema neither defines nor preserves is an error."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CRDS = Path(__file__).resolve().parents[1] / "schemas" / "crds"


def strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever the CRD does not preserve them."""
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
def crd_validator(file: str, api_version: str, kind: str) -> jsonschema.Draft7Validator:
    """The schema of the served version `api_version` of `kind`, read from one vendored CRD file."""
    crd = yaml.safe_load((CRDS / file).read_text(encoding="utf-8"))
    group, version = api_version.split("/")
    assert crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind, file
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version and v["served"]]
    return jsonschema.Draft7Validator(strict(served["schema"]["openAPIV3Schema"]))


def schema_errors(validator: jsonschema.Draft7Validator, obj: dict[str, Any]) -> list[str]:
    """Each violation as `path: message`."""
    return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(obj)]


def object_errors(file: str, obj: dict[str, Any]) -> list[str]:
    """What the CRD in `file` finds wrong with a custom object, by the object's own apiVersion and kind."""
    return schema_errors(crd_validator(file, obj["apiVersion"], obj["kind"]), obj)


CLUSTER_ISSUER_CRD = "cert-manager.io_clusterissuers.yaml"
