"""Monitoring files a bundle carries twice (its Compose folder and its Kubernetes stack's ConfigMaps), serialised
once per deployment: keyed on the whole monitoring view, so equal views share text and nothing else does."""

from __future__ import annotations

from functools import lru_cache

from slm_deploy.render.monitoring.context import Monitored
from slm_deploy.render.monitoring.dashboards import Board, dashboards
from slm_deploy.render.monitoring.rules import check_slo, rule_groups
from slm_deploy.render.serialize import to_json, to_yaml

_RECENT = 8
"""A render asks for one deployment's files a few times in a row; a fleet never comes back to an earlier one."""


def rule_file(m: Monitored, platform: str) -> str:
    """A platform's Prometheus rule file; the SLO check runs every time, as it reads which SLO fields the spec set
    and equal views need not share that."""
    check_slo(m)
    return _rule_file(m, platform)


@lru_cache(maxsize=_RECENT)
def _rule_file(m: Monitored, platform: str) -> str:
    return to_yaml({"groups": rule_groups(m, platform)})


@lru_cache(maxsize=_RECENT)
def dashboard_files(m: Monitored) -> tuple[tuple[str, str], ...]:
    """(file name, Grafana dashboard JSON) of each dashboard."""
    return tuple((name, _board_json(board)) for name, board in dashboards(m).items())


@lru_cache(maxsize=32)
def _board_json(board: Board) -> str:
    """A dashboard depends on the runtime and which series it records, not on the deployment: a fleet's runtimes
    share a handful of them."""
    return to_json(board.build())
