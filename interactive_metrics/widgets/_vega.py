"""The altair charts inside the widgets: built once, then fed new rows or params.

Charts are shown with :class:`altair.JupyterChart` (svg renderer, so marks can be
counted in a browser test) with vega bundled offline by vl-convert: no CDN.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import altair as alt
except ImportError as error:  # pragma: no cover - exercised without the extra only
    from interactive_metrics.widgets._deps import missing

    raise missing("altair", "charts") from error

__all__ = [
    "DATASET",
    "EMBED_OPTIONS",
    "ThemedChart",
    "follow_theme_source",
    "jupyter_chart",
    "running_chart",
    "with_rows",
]

from interactive_metrics.charts import style

EMBED_OPTIONS = {"renderer": "svg", "actions": False}
DATASET = "history"
RUNNING_LABEL = "running result"
BATCH_LABEL = "batch result"
WIDTH = "container"
"""Widget charts fill the width the notebook gives them."""
STEP_AXIS = alt.Axis(format=",d", tickMinStep=1)
"""Steps are whole numbers: no tick between two (a few steps read "0 0 1 1 2", not "0 1 2")."""
STEP_SCALE = alt.Scale(zero=False, nice=False, padding=10)
"""Steps start at the first step (not 0), and the end points keep off the frame."""


def enable_offline() -> None:
    """Make :class:`altair.JupyterChart` load vega from vl-convert's bundle, not a CDN.

    And give :class:`ThemedChart` its module: the same, with the page's theme followed.
    """
    try:
        alt.JupyterChart.enable_offline()
    except ImportError as error:  # pragma: no cover - vl-convert missing
        from interactive_metrics.widgets._deps import missing

        raise missing("vl-convert-python", "charts") from error
    if ThemedChart.follows is None:
        source = follow_theme_source()
        ThemedChart.follows = source is not None
        if source is not None:
            ThemedChart._esm = source


FOLLOW_JS = r"""
const IM_DARK_COLORS = __IM_DARK_COLORS__;
function imIsDark() {
  const body = document.body;
  if (!body) return false;
  const light = body.dataset ? body.dataset.jpThemeLight : undefined;
  if (light !== undefined) return light === "false";  // JupyterLab, Notebook 7
  return body.classList.contains("vscode-dark") || body.classList.contains("vscode-high-contrast");
}
function imRecolor(node) {
  if (typeof node === "string") {
    const dark = IM_DARK_COLORS[node.toLowerCase()];
    return dark === undefined ? node : dark;
  }
  if (Array.isArray(node)) return node.map(imRecolor);
  if (node !== null && typeof node === "object") {
    const out = {};
    for (const [key, value] of Object.entries(node)) {
      out[key] = (key === "datasets" || key === "values") ? value : imRecolor(value);
    }
    return out;
  }
  return node;
}
function imFollowTheme(spec) {
  const meta = spec && spec.usermeta && spec.usermeta.interactive_metrics;
  if (!meta || meta.theme !== "auto" || !imIsDark()) return spec;
  return imRecolor(spec);
}
function imWatchTheme(redraw) {
  let dark = imIsDark();
  const observer = new MutationObserver(() => {
    const now = imIsDark();
    if (now !== dark) { dark = now; redraw(); }
  });
  observer.observe(document.body, {
    attributes: true, attributeFilter: ["data-jp-theme-light", "class"]
  });
  return () => observer.disconnect();
}
"""
"""What :class:`ThemedChart` adds to altair's widget module: read the page's theme (JupyterLab's
``data-jp-theme-light`` on ``<body>``, VS Code's ``vscode-dark`` class), recolour a chart
built with the auto theme (``style.recolor_dark``, the same walk) and redraw when the
theme changes."""

_ANCHORS = (
    ('let spec=structuredClone(model.get("spec"));',
     'let spec=imFollowTheme(structuredClone(model.get("spec")));'),
    ('model.on("change:max_wait",reembed);await reembed();}',
     'model.on("change:max_wait",reembed);const imStop=imWatchTheme(reembed);'
     "await reembed();return imStop;}"),
)  # fmt: skip
"""The two places of altair's offline widget module that change (as vl-convert bundles it)."""


def follow_theme_source() -> str | None:
    """Altair's offline widget module, with the page's theme followed; None if it cannot be.

    altair's module (``index.js`` bundled by vl-convert, self-contained) gets
    :data:`FOLLOW_JS` in front and two statements changed: where the spec is read
    (recoloured when the page is dark) and where the first draw happens (then
    watch the theme, and stop watching when the view goes). No second bundle is
    built. When a future altair or vl-convert writes those statements otherwise,
    this returns None and charts draw as altair draws them.
    """
    alt.JupyterChart.enable_offline()
    source = str(alt.JupyterChart._esm)
    for before, after in _ANCHORS:
        if source.count(before) != 1:
            return None
        source = source.replace(before, after)
    mapping = json.dumps(style.dark_color_map())
    return FOLLOW_JS.replace("__IM_DARK_COLORS__", mapping) + source


class ThemedChart(alt.JupyterChart):
    """:class:`altair.JupyterChart`, offline, drawn in the dark theme when the page is dark.

    Charts built with the package's default theme (``style.use_theme("auto")``) are
    recoloured in the browser when JupyterLab (or VS Code) shows a dark theme, and
    redrawn when the theme changes; any other chart draws as altair draws it.
    ``follows`` says whether the module could be built (None: not tried yet).
    """

    follows: bool | None = None


def jupyter_chart(chart: Any) -> Any:
    """An offline :class:`ThemedChart` of ``chart`` drawn as SVG, as wide as its cell."""
    enable_offline()
    widget = ThemedChart(chart, embed_options=EMBED_OPTIONS)
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
    base = alt.Chart(data).encode(x=alt.X("step:Q", title="step", axis=STEP_AXIS, scale=STEP_SCALE))
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
            y=alt.Y("result:Q", title="result", scale=alt.Scale(zero=False, padding=8)),
            color=series,
            tooltip=tooltip,
        )
    )
    dots = (
        base.transform_calculate(series=f"'{BATCH_LABEL}'")
        .mark_circle(size=28, opacity=0.75)
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
            x=alt.X("step:Q", title="step", axis=STEP_AXIS, scale=STEP_SCALE),
            y=alt.Y("result:Q", title="result", scale=alt.Scale(zero=False, padding=8)),
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
