"""Draw the comparison as a PNG (matplotlib) and a self-contained HTML page (plotly)."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

from slm_deploy.bench.panels import Panel, comparison_panels, run_caption
from slm_deploy.errors import SlmDeployError

COLUMNS = 4
TITLE = "slm-deploy bench: runs side by side"


class ChartLibraryMissing(SlmDeployError):
    """Charts need the bench extra; says how to install it."""


def _import(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ChartLibraryMissing(f"charts need {module.split('.')[0]}\n"
                                  "  hint: pip install 'slm-deploy[bench]'") from None


def write_png(runs: list[dict], path: Path) -> None:
    """A grid of grouped bar charts, one colour per run, units on every y axis, the runs described below."""
    matplotlib = _import("matplotlib")
    matplotlib.use("Agg")
    pyplot = _import("matplotlib.pyplot")
    panels = comparison_panels(runs)
    rows = math.ceil(len(panels) / COLUMNS)
    figure, axes = pyplot.subplots(rows, COLUMNS, figsize=(5 * COLUMNS, 4.2 * rows + 0.5 + 0.25 * len(runs)),
                                   squeeze=False)
    colours = pyplot.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, panel in zip(axes.flat, panels):
        _draw_bars(axis, panel, colours)
    spare = list(axes.flat)[len(panels):]
    for axis in spare:
        axis.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if spare:
        spare[0].legend(handles, labels, loc="center", title="run", frameon=True, fontsize=11)
    else:
        figure.legend(handles, labels, loc="upper right", title="run", frameon=True)
    figure.suptitle(TITLE, x=0.01, ha="left", fontsize=14)
    figure.text(0.01, 0.01, "\n".join(run_caption(run) for run in runs), fontsize=9, va="bottom")
    figure.tight_layout(rect=(0, 0.03 + 0.025 * len(runs), 1, 0.95))
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def _draw_bars(axis, panel: Panel, colours: list[str]) -> None:
    width = 0.8 / max(len(panel.series), 1)
    for index, (label, values) in enumerate(panel.series):
        offsets = [c + (index - (len(panel.series) - 1) / 2) * width for c in range(len(panel.categories))]
        bars = axis.bar(offsets, [0.0 if math.isnan(v) else v for v in values], width, label=label,
                        color=colours[index % len(colours)])
        for bar, value in zip(bars, values):
            text = "n/a" if math.isnan(value) else f"{value:.3g}"
            axis.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                          fontsize=7, xytext=(0, 2), textcoords="offset points")
    axis.set_title(panel.title)
    axis.set_ylabel(panel.unit)
    axis.set_xticks(range(len(panel.categories)), panel.categories)
    highest = max((v for _, values in panel.series for v in values if not math.isnan(v)), default=0.0)
    axis.set_ylim(0, highest * 1.15 if highest > 0 else 1.0)
    axis.grid(axis="y", alpha=0.3)


def write_html(runs: list[dict], path: Path) -> None:
    """The same panels as an interactive page with plotly.js inlined, so it opens without a network."""
    subplots = _import("plotly.subplots")
    graph_objects = _import("plotly.graph_objects")
    colours = _import("plotly.colors").qualitative.Plotly
    panels = comparison_panels(runs)
    rows = math.ceil(len(panels) / COLUMNS)
    figure = subplots.make_subplots(rows=rows, cols=COLUMNS, subplot_titles=[p.title for p in panels])
    for number, panel in enumerate(panels):
        row, col = divmod(number, COLUMNS)
        for index, (label, values) in enumerate(panel.series):
            figure.add_trace(graph_objects.Bar(
                name=label, x=list(panel.categories), y=[None if math.isnan(v) else v for v in values],
                legendgroup=label, showlegend=number == 0, marker_color=colours[index % len(colours)],
                hovertemplate=f"{label}<br>%{{x}}: %{{y:.4g}} {panel.unit}<extra></extra>"), row=row + 1, col=col + 1)
        figure.update_yaxes(title_text=panel.unit, rangemode="tozero", row=row + 1, col=col + 1)
    captions = "<br>".join(run_caption(run) for run in runs)
    figure.update_layout(title=TITLE, barmode="group", height=440 * rows + 40 * len(runs), legend_title_text="run",
                         margin={"b": 60 + 18 * len(runs)})
    figure.add_annotation(text=captions, showarrow=False, xref="paper", yref="paper", x=0, y=0, yshift=-50,
                          xanchor="left", yanchor="top", align="left", font={"size": 11})
    figure.write_html(path, include_plotlyjs=True, full_html=True)
