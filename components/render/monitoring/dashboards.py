"""Grafana dashboards as code (grafana-foundation-sdk): an overview across deployments and one per runtime,
querying only the normalised `slm:*` series, so a runtime's metric renames never break a panel."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from slm_deploy.render.monitoring.context import Monitored
from slm_deploy.render.monitoring.rules import ERROR_RATIO, SLO_SERIES, THROTTLE_RATIO_SERIES, normalising
from slm_deploy.render.monitoring.vocabulary import not_exported

DATASOURCE_VARIABLE = "datasource"
SCOPE = 'deployment=~"$deployment"'


@dataclass(frozen=True)
class Panel:
    """One panel: title, unit, and the queries (PromQL over `slm:*` series) with their legends."""

    title: str
    unit: str
    queries: tuple[tuple[str, str], ...]
    needs: tuple[str, ...]
    """Recorded series the panel reads; it is left out where the deployment records none of them."""
    stat: bool = False
    signal: str = ""
    """The one vocabulary signal the panel shows, when a runtime may not export it."""
    note: str = ""
    """Set where the runtime does not export `signal`: the panel shows this text instead of an empty graph."""


def _quantile(q: float, series: str) -> str:
    return f"histogram_quantile({q}, sum by (deployment, le) ({series}{{{SCOPE}}}))"


def _mean(signal: str) -> str:
    return (f"sum by (deployment) (slm:{signal}_sum:rate5m{{{SCOPE}}}) / "
            f"sum by (deployment) (slm:{signal}_count:rate5m{{{SCOPE}}})")


PANELS = (
    Panel("Model loaded", "bool_yes_no", (("max by (deployment) (slm:model_loaded{%s})" % SCOPE, "{{deployment}}"),),
          ("slm:model_loaded",), stat=True),
    Panel("Requests per second", "reqps", (("sum by (deployment) (slm:requests:rate5m{%s})" % SCOPE, "{{deployment}}"),),
          ("slm:requests:rate5m",)),
    Panel("Server error ratio", "percentunit", (("max by (deployment) (%s{%s})" % (ERROR_RATIO, SCOPE), "{{deployment}}"),),
          (ERROR_RATIO,)),
    Panel("Throttled (429) ratio", "percentunit",
          (("max by (deployment) (%s{%s})" % (THROTTLE_RATIO_SERIES, SCOPE), "{{deployment}}"),),
          (THROTTLE_RATIO_SERIES,)),
    Panel("Generated tokens per second", "short",
          (("sum by (deployment) (slm:generated_tokens:rate5m{%s})" % SCOPE, "{{deployment}}"),),
          ("slm:generated_tokens:rate5m",)),
    Panel("Prompt tokens per second", "short",
          (("sum by (deployment) (slm:prompt_tokens:rate5m{%s})" % SCOPE, "{{deployment}}"),),
          ("slm:prompt_tokens:rate5m",)),
    Panel("Time to first token", "s",
          ((_quantile(0.5, "slm:time_to_first_token_seconds_bucket:rate5m"), "p50 {{deployment}}"),
           (_quantile(0.95, "slm:time_to_first_token_seconds_bucket:rate5m"), "p95 {{deployment}}")),
          ("slm:time_to_first_token_seconds_bucket:rate5m",)),
    Panel("Time per output token (mean)", "s", ((_mean("time_per_output_token_seconds"), "{{deployment}}"),),
          ("slm:time_per_output_token_seconds_count:rate5m",), signal="time_per_output_token_seconds"),
    Panel("End-to-end latency", "s",
          ((_quantile(0.5, "slm:request_duration_seconds_bucket:rate5m"), "p50 {{deployment}}"),
           (_quantile(0.95, "slm:request_duration_seconds_bucket:rate5m"), "p95 {{deployment}}")),
          ("slm:request_duration_seconds_bucket:rate5m",)),
    Panel("Requests running and waiting", "short",
          (("sum by (deployment) (slm:requests_running{%s})" % SCOPE, "running {{deployment}}"),
           ("sum by (deployment) (slm:requests_waiting{%s})" % SCOPE, "waiting {{deployment}}")),
          ("slm:requests_running", "slm:requests_waiting")),
    Panel("KV cache in use", "percentunit", (("max by (deployment) (slm:kv_cache_usage{%s})" % SCOPE, "{{deployment}}"),),
          ("slm:kv_cache_usage",), signal="kv_cache_usage"),
    Panel("SLO error ratio (1h)", "percentunit",
          (("max by (deployment, slo) (%s1h{%s})" % (SLO_SERIES, SCOPE), "{{slo}} {{deployment}}"),),
          (f"{SLO_SERIES}1h",)),
)


def _recorded(m: Monitored) -> set[str]:
    from slm_deploy.render.monitoring.rules import _slo_rules  # noqa: PLC0415 - same rule source
    return {r["record"] for r in normalising(m) + _slo_rules(m)}


def _shown(m: Monitored) -> list[Panel]:
    """The panels whose series the deployment records, and a note for each signal its runtime does not export."""
    present = _recorded(m)
    shown = []
    for panel in PANELS:
        if all(n in present for n in panel.needs):
            shown.append(panel)
        elif panel.signal and (why := not_exported(m.runtime, panel.signal, m.gateway is not None)):
            shown.append(replace(panel, note=f"{panel.title}: {why}, so there is no series to show."))
    return shown


@dataclass(frozen=True)
class Board:
    """One dashboard, by everything its JSON is made of: deployments with equal boards share one serialisation."""

    uid: str
    title: str
    tags: tuple[str, ...]
    variable_query: str
    panels: tuple[Panel, ...]

    def build(self) -> dict[str, Any]:
        """The dashboard's JSON model, built with the Grafana SDK."""
        from grafana_foundation_sdk.builders import dashboard as dash, prometheus, stat, text, timeseries
        from grafana_foundation_sdk.cog.encoder import JSONEncoder
        from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh

        source = DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
        board = (dash.Dashboard(self.title).uid(self.uid).tags(list(self.tags)).refresh("1m").time("now-6h", "now")
                 .readonly()
                 .with_variable(dash.DatasourceVariable(DATASOURCE_VARIABLE).label("Prometheus").type("prometheus"))
                 .with_variable(dash.QueryVariable("deployment").label("Deployment").datasource(source)
                                .query(self.variable_query).multi(True).include_all(True)
                                .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)))
        for panel in self.panels:
            if panel.note:
                board = board.with_panel(text.Panel().title(panel.title).content(panel.note).height(4).span(12))
                continue
            builder = (stat.Panel() if panel.stat else timeseries.Panel()).title(panel.title).unit(panel.unit)
            builder = builder.datasource(source).height(8).span(6 if panel.stat else 12)
            for index, (expr, legend) in enumerate(panel.queries):
                builder = builder.with_target(prometheus.Dataquery().expr(expr).legend_format(legend)
                                              .ref_id(chr(ord("A") + index)))
            board = board.with_panel(builder)
        return json.loads(json.dumps(board.build(), cls=JSONEncoder, sort_keys=True))


def dashboards(m: Monitored) -> dict[str, Board]:
    """File name -> dashboard: the overview and the deployment's runtime dashboard."""
    usable = _shown(m)
    overview = Board("slm-overview", "SLM deployments: overview", ("slm-deploy",),
                     "label_values(slm:model_loaded, deployment)", tuple(p for p in usable if p.title in OVERVIEW))
    runtime = Board(f"slm-runtime-{m.runtime}", f"SLM runtime: {m.runtime}", ("slm-deploy", m.runtime),
                    f'label_values(slm:model_loaded{{runtime="{m.runtime}"}}, deployment)', tuple(usable))
    return {"slm-overview.json": overview, f"slm-runtime-{m.runtime}.json": runtime}


OVERVIEW = ("Model loaded", "Requests per second", "Server error ratio", "Generated tokens per second",
            "Time to first token", "Requests running and waiting", "KV cache in use", "SLO error ratio (1h)")
