"""The spec's JSON Schema, for editors (yaml-language-server) and other tools."""

from __future__ import annotations

import json

from slm_deploy.spec.deployment import DeploymentSpec

SCHEMA_ID = "https://slm-deploy.dev/schema/deployment.json"


def deployment_schema() -> dict:
    """The JSON Schema of a bare deployment spec."""
    schema = DeploymentSpec.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def deployment_schema_text() -> str:
    """The schema serialised with stable key order."""
    return json.dumps(deployment_schema(), indent=2, sort_keys=True) + "\n"
