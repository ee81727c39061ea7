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

EMBED_OPTIONS = {"renderer": "svg", "actions": False}
DATASET = "history"
RESULT_COLOR = "#4c78a8"
BATCH_COLOR = "#9d9d9d"
MARK_COLOR = "#e45756"


def enable_offline() -> None:
    """Make :class:`altair.JupyterChart` load vega from vl-convert's bundle, not a CDN."""
    try:
        alt.JupyterChart.enable_offline()
    except ImportError as error:  # pragma: no cover - vl-convert missing
        from interactive_metrics.widgets._deps import missing

        raise missing("vl-convert-python", "charts") from error


def jupyter_chart(chart: Any) -> Any:
    """An offline :class:`altair.JupyterChart` of ``chart`` drawn as SVG."""
    enable_offline()
    return alt.JupyterChart(chart, embed_options=EMBED_OPTIONS)


def running_chart(
    rows: list[dict[str, Any]],
    title: str,
    *,
    marker: str | None = None,
    marked: tuple[float, float] = (0.0, 0.0),
    width: int = 420,
    height: int = 150,
) -> Any:
    """Running result (line) and each batch's own result (dots) over steps.

    With ``marker``, a rule and a point mark the step held by the params
    ``{marker}_step`` / ``{marker}_result`` (starting at ``marked``): moving them
    needs no new data.
    """
    data = alt.NamedData(name=DATASET)
    base = alt.Chart(data).encode(x=alt.X("step:Q", title="step"))
    line = base.mark_line(color=RESULT_COLOR, strokeWidth=2).encode(
        y=alt.Y("result:Q", title="result"),
        tooltip=["step:Q", "result:Q", "batch_result:Q"],
    )
    dots = base.mark_circle(color=BATCH_COLOR, size=14, opacity=0.6).encode(y="batch_result:Q")
    layers: list[Any] = [dots, line]
    params: list[Any] = []
    if marker is not None:
        step = alt.param(name=f"{marker}_step", value=marked[0])
        value = alt.param(name=f"{marker}_result", value=marked[1])
        params = [step, value]
        one = alt.Chart(alt.InlineData(values=[{}]))
        layers.append(
            one.mark_rule(color=MARK_COLOR).encode(
                x=alt.XDatum(alt.ExprRef(step.name), type="quantitative")
            )
        )
        layers.append(
            one.mark_point(color=MARK_COLOR, filled=True, size=60).encode(
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


def streams_chart(rows: list[dict[str, Any]], title: str, merged_label: str) -> Any:
    """Selected streams' results over steps (colored lines) against the merged one (dashed)."""
    data = alt.NamedData(name=DATASET)
    is_merged = alt.datum.stream == merged_label
    chart = (
        alt.Chart(data)
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X("step:Q", title="step"),
            y=alt.Y("result:Q", title="result"),
            color=alt.Color("stream:N", title="stream", sort=None),
            strokeDash=alt.condition(is_merged, alt.value([6, 3]), alt.value([1, 0])),
            tooltip=["stream:N", "step:Q", "result:Q"],
        )
        .properties(width=420, height=170, title=title)
    )
    return chart.properties(datasets={DATASET: rows})
