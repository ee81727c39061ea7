"""The altair charts inside the widgets: built once, then fed new rows or params.

Charts are shown with :class:`altair.JupyterChart` (svg renderer, so marks can be
counted in a browser test) with vega bundled offline by vl-convert: no CDN.
"""

from __future__ import annotations

from typing import Any

try:
    import altair as alt
except ImportError as error:  # pragma: no cover - exercised without the extra only
    from interactive_metrics.widgets._deps import missing

    raise missing("altair", "charts") from error

__all__ = ["EMBED_OPTIONS", "DATASET", "jupyter_chart", "running_chart", "with_rows"]

from interactive_metrics.charts import style

EMBED_OPTIONS = {"renderer": "svg", "actions": False}
DATASET = "history"
RUNNING_LABEL = "running result"
BATCH_LABEL = "batch result"
WIDTH = "container"
"""Widget charts fill the width the notebook gives them."""


def enable_offline() -> None:
    """Make :class:`altair.JupyterChart` load vega from vl-convert's bundle, not a CDN."""
    try:
        alt.JupyterChart.enable_offline()
    except ImportError as error:  # pragma: no cover - vl-convert missing
        from interactive_metrics.widgets._deps import missing

        raise missing("vl-convert-python", "charts") from error


def jupyter_chart(chart: Any) -> Any:
    """An offline :class:`altair.JupyterChart` of ``chart`` drawn as SVG, as wide as its cell."""
    enable_offline()
    widget = alt.JupyterChart(chart, embed_options=EMBED_OPTIONS)
    widget.layout.width = "100%"  # with the spec's width "container": the cell's width
    widget.add_class("im-chart")
    return widget


def running_chart(
    rows: list[dict[str, Any]],
    title: str,
    *,
    marker: str | None = None,
    marked: tuple[float, float] = (0.0, 0.0),
    width: int | str = WIDTH,
    height: int = 170,
) -> Any:
    """Running result (line) and each batch's own result (dots) over steps, with a legend.

    With ``marker``, a rule and a point mark the step held by the params
    ``{marker}_step`` / ``{marker}_result`` (starting at ``marked``): moving them
    needs no new data.
    """
    data = alt.NamedData(name=DATASET)
    base = alt.Chart(data).encode(x=alt.X("step:Q", title="step", axis=alt.Axis(format=",d")))
    legend = alt.Scale(
        domain=[RUNNING_LABEL, BATCH_LABEL], range=[style.colors().result, style.colors().batch]
    )
    tooltip = [
        alt.Tooltip("step:Q", format=",d"),
        alt.Tooltip("result:Q", title=RUNNING_LABEL, format=style.NUMBER_FORMAT),
        alt.Tooltip("batch_result:Q", title=BATCH_LABEL, format=style.NUMBER_FORMAT),
    ]
    series = alt.Color("series:N", scale=legend, legend=alt.Legend(title=None, orient="top-right"))
    line = (
        base.transform_calculate(series=f"'{RUNNING_LABEL}'")
        .mark_line(strokeWidth=2)
        .encode(
            y=alt.Y("result:Q", title="result", scale=alt.Scale(zero=False)),
            color=series,
            tooltip=tooltip,
        )
    )
    dots = (
        base.transform_calculate(series=f"'{BATCH_LABEL}'")
        .mark_circle(size=16, opacity=0.7)
        .encode(y="batch_result:Q", color=series, tooltip=tooltip)
    )
    layers: list[Any] = [dots, line]
    params: list[Any] = []
    if marker is not None:
        step = alt.param(name=f"{marker}_step", value=marked[0])
        value = alt.param(name=f"{marker}_result", value=marked[1])
        params = [step, value]
        one = alt.Chart(alt.InlineData(values=[{}]))
        layers.append(
            one.mark_rule(color=style.colors().worse).encode(
                x=alt.XDatum(alt.ExprRef(step.name), type="quantitative")
            )
        )
        layers.append(
            one.mark_point(color=style.colors().worse, filled=True, size=60).encode(
                x=alt.XDatum(alt.ExprRef(step.name), type="quantitative"),
                y=alt.YDatum(alt.ExprRef(value.name), type="quantitative"),
            )
        )
    chart = alt.layer(*layers).properties(width=width, height=height, title=title)
    if params:
        chart = chart.add_params(*params)
    return chart.properties(datasets={DATASET: rows})


def with_rows(spec: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of a chart spec whose named dataset holds ``rows`` (nothing else rebuilt)."""
    return {**spec, "datasets": {**spec.get("datasets", {}), DATASET: rows}}


def streams_chart(
    rows: list[dict[str, Any]],
    title: str,
    merged_label: str,
    colors: dict[str, str] | None = None,
) -> Any:
    """Selected streams' results over steps (colored lines) against the merged one (dashed).

    ``colors`` maps each drawn label to its colour (a stream keeps its colour
    whatever else is selected); without it vega-lite picks them.
    """
    data = alt.NamedData(name=DATASET)
    is_merged = alt.datum.stream == merged_label
    scale = alt.Scale(domain=list(colors), range=list(colors.values())) if colors else alt.Undefined
    chart = (
        alt.Chart(data)
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X("step:Q", title="step", axis=alt.Axis(format=",d")),
            y=alt.Y("result:Q", title="result", scale=alt.Scale(zero=False)),
            color=alt.Color("stream:N", title="stream", sort=None, scale=scale),
            strokeDash=alt.condition(is_merged, alt.value([6, 3]), alt.value([1, 0])),
            tooltip=[
                "stream:N",
                alt.Tooltip("step:Q", format=",d"),
                alt.Tooltip("result:Q", format=style.NUMBER_FORMAT),
            ],
        )
        .properties(width=WIDTH, height=190, title=title)
    )
    return chart.properties(datasets={DATASET: rows})


def with_colors(spec: dict[str, Any], colors: dict[str, str]) -> dict[str, Any]:
    """A copy of a streams chart spec whose colour scale is ``colors`` (label -> colour)."""
    encoding = spec["encoding"]
    color = {**encoding["color"], "scale": {"domain": list(colors), "range": list(colors.values())}}
    return {**spec, "encoding": {**encoding, "color": color}}
