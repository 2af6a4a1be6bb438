"""The pydantic base every spec section shares: strict keys, immutable once validated."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from slm_deploy.spec.field_docs import describe_fields


class SpecModel(BaseModel):
    """Unknown keys are errors and validated specs never change; field docstrings become the schema's
    descriptions when a schema is made. Validators are built on first use, and default sections are made with
    model_construct (pydantic does not validate defaults; constructing them through the model would build a
    validator for each default section on every start)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True, json_schema_extra=describe_fields)
