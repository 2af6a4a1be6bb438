"""The JSON Schema of a Pulumi stack file carrying the spec, for editors that open stack files directly."""

from __future__ import annotations

import json
from typing import Any

from slm_deploy.spec.schema import deployment_schema

STACK_KEY = "slm-deploy:deployment"


def stack_schema() -> dict[str, Any]:
    """The deployment schema under `config.slm-deploy:deployment`, its definitions hoisted so `#/$defs` refs hold."""
    spec = dict(deployment_schema())
    definitions = spec.pop("$defs", {})
    draft = spec.pop("$schema")
    spec.pop("$id", None)
    return {
        "$schema": draft,
        "title": "Pulumi stack with an slm-deploy deployment",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": {STACK_KEY: spec},
                "required": [STACK_KEY],
            },
        },
        "required": ["config"],
        "$defs": definitions,
    }


def stack_schema_text() -> str:
    """The stack schema serialised with stable key order."""
    return json.dumps(stack_schema(), indent=2, sort_keys=True) + "\n"
