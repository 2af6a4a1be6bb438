"""The log pipeline: Loki's single-binary configuration and the Alloy pipeline from GELF to Loki."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slm_deploy.runtimes.monitoring import GELF_PORT, LOKI_PORT

RETENTION = "168h"


def loki_config() -> dict[str, Any]:
    """Single tenant on the filesystem of its volume, a week's retention, no usage reporting."""
    return {
        "auth_enabled": False,
        "server": {"http_listen_port": LOKI_PORT, "grpc_listen_port": 9096, "log_level": "warn"},
        "common": {"instance_addr": "127.0.0.1", "path_prefix": "/loki", "replication_factor": 1,
                   "ring": {"kvstore": {"store": "inmemory"}},
                   "storage": {"filesystem": {"chunks_directory": "/loki/chunks", "rules_directory": "/loki/rules"}}},
        "schema_config": {"configs": [{"from": "2024-01-01", "store": "tsdb", "object_store": "filesystem",
                                       "schema": "v13", "index": {"prefix": "index_", "period": "24h"}}]},
        "limits_config": {"retention_period": RETENTION},
        "compactor": {"working_directory": "/loki/compactor", "retention_enabled": True,
                      "delete_request_store": "filesystem"},
        "analytics": {"reporting_enabled": False},
    }


@dataclass(frozen=True)
class Ref:
    """A reference to another component's export, written bare (`loki.write.local.receiver`)."""

    path: str


@dataclass(frozen=True)
class Block:
    """An Alloy block: attributes as (name, value) pairs and nested blocks, in order."""

    kind: str
    label: str | None
    body: tuple[tuple[str, Any] | Block, ...]


def _value(value: Any) -> str:
    if isinstance(value, Ref):
        return value.path
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(value)


def _render(block: Block, depth: int = 0) -> str:
    pad = "  " * depth
    lines = [f'{pad}{block.kind} "{block.label}" {{' if block.label else f"{pad}{block.kind} {{"]
    for entry in block.body:
        lines.append(_render(entry, depth + 1) if isinstance(entry, Block) else f"{pad}  {entry[0]} = {_value(entry[1])}")
    return "\n".join(lines + [f"{pad}}}"])


def alloy_config(deployment: str, loki_host: str) -> str:
    """config.alloy: GELF from the Docker daemon, labelled by deployment, host and level, pushed to Loki."""
    blocks = (
        Block("loki.relabel", "gelf", (
            ("forward_to", []),
            Block("rule", None, (("source_labels", ["__gelf_message_host"]), ("target_label", "host"))),
            Block("rule", None, (("source_labels", ["__gelf_message_level"]), ("target_label", "level"))),
        )),
        Block("loki.source.gelf", "containers", (
            ("listen_address", f"0.0.0.0:{GELF_PORT}"),
            ("relabel_rules", Ref("loki.relabel.gelf.rules")),
            ("forward_to", [Ref("loki.write.local.receiver")]),
        )),
        Block("loki.write", "local", (
            Block("endpoint", None, (("url", f"http://{loki_host}:{LOKI_PORT}/loki/api/v1/push"),)),
            ("external_labels", {"deployment": deployment}),
        )),
    )
    header = "// Rendered by slm-deploy: container logs (GELF from the Docker daemon) to Loki.\n"
    return header + "\n\n".join(_render(b) for b in blocks) + "\n"
