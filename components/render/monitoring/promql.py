"""PromQL building blocks: selectors scoped to one deployment, per-source expressions, preference chains."""

from __future__ import annotations

from slm_deploy.render.monitoring.vocabulary import RawMetric

BY = "deployment, runtime"


def selector(name: str, deployment: str, matchers: str = "") -> str:
    """`name{deployment="x",...}`: every series of the deployment, whichever Prometheus holds several."""
    extra = f",{matchers}" if matchers else ""
    return f'{name}{{deployment="{deployment}"{extra}}}'


def prefer(expressions: list[str]) -> str:
    """The first expression's series, then each later one's only for (deployment, runtime) not yet covered."""
    return f" or on ({BY}) ".join(f"({e})" if " " in e else e for e in expressions)


def le_matcher(bound: float) -> str:
    """Match a bucket bound however it is spelled (`1` or `1.0`; Prometheus 3 rewrites `le` to floats)."""
    text = repr(float(bound))
    spellings = [text] + ([text[:-2]] if text.endswith(".0") else [])
    return 'le=~"' + "|".join(s.replace(".", "\\\\.") for s in spellings) + '"'


def snapped_bound(buckets: tuple[float, ...], threshold: float) -> float | None:
    """The largest bucket bound at or below the threshold (stricter, never looser), or None."""
    below = [b for b in buckets if b <= threshold]
    return max(below) if below else None


def gauge(raw: RawMetric, deployment: str, aggregate: str) -> str:
    """A gauge aggregated to one series per deployment and runtime."""
    return f"{aggregate} by ({BY}) ({selector(raw.name, deployment, raw.matchers)})"


def rate(raw: RawMetric, deployment: str, window: str, part: str = "") -> str | None:
    """Per-second rate of a counter, or of one part (bucket, sum, count) of a histogram or counter pair."""
    if raw.kind == "counter":
        name, by = raw.name, BY
    elif raw.kind == "histogram":
        name, by = f"{raw.name}_{part}", (f"{BY}, le" if part == "bucket" else BY)
    elif raw.kind == "counter_pair" and part in ("sum", "count"):
        name, by = (raw.name if part == "sum" else raw.count_name), BY
    else:
        return None
    return f"sum by ({by}) (rate({selector(name, deployment, raw.matchers)}[{window}]))"


def series_rate(raw: RawMetric, deployment: str, window: str, part: str = "") -> str:
    """The rate of a series an SLO is built on; a metric table entry without that series is a bug in slm-deploy."""
    expr = rate(raw, deployment, window, part)
    if expr is None:
        raise ValueError(f"{raw.name} is a {raw.kind}, which has no {part or 'plain'} series to rate")
    return expr


def ratio_or_zero(errors: str, total: str) -> str:
    """errors / total, reading a missing error series as zero errors rather than no data."""
    return f"(({errors}) or on ({BY}) (({total}) * 0)) / ({total})"
