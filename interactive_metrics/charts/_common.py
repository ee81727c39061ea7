"""What every chart shares: the lazy altair import, reading a history, JSON-safe data, looks."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import polars as pl

INSTALL_HINT = 'pip install "interactive-metrics[charts]"'

WIDTH = 640
"""Default plot width in pixels: about a JupyterLab notebook's output width, less the legend.
Every chart also takes ``width="container"`` to fill its container where the front end
supports it (JupyterLab, vega-embed pages)."""
PANEL_HEIGHT = 170
MAX_ROWS = 2000
"""Rows sent to vega-lite per drawn table, at most (altair refuses more than 5000)."""

EVENT_COLORS = {"reset": "#7f7f7f", "merge": "#b07aa1"}
"""The light theme's colours of reset and merge rules (see :func:`event_color`)."""


def event_color(event: str) -> str:
    """The colour of a ``reset`` or ``merge`` rule in the theme in force."""
    from interactive_metrics.charts import style

    return str(getattr(style.colors(), event))


FEW_POINTS = 60
"""Lines with at most this many points also draw their points."""


def altair(*, theme: bool = True) -> ModuleType:
    """Import altair, or raise an ImportError that says what to install.

    With ``theme`` (what every chart asks), our light theme is enabled the first time,
    unless an altair theme was already chosen (see ``style.use_theme``).
    """
    try:
        import altair
    except ImportError as error:
        raise ImportError(
            f"interactive_metrics charts need altair, which is not installed; "
            f"install it with: {INSTALL_HINT}"
        ) from error
    if theme:
        from interactive_metrics.charts import style

        style.ensure_theme()
    return altair


def history_of(source: Any, what: str) -> tuple[pl.DataFrame, str]:
    """The history table of a metric (or a history DataFrame itself) and a name for titles."""
    if isinstance(source, pl.DataFrame):
        return source, "history"
    frame = getattr(source, "history", None)
    if not isinstance(frame, pl.DataFrame):
        raise TypeError(
            f"`{what}` must be a metric (anything with a `history` DataFrame) or a history "
            f"polars DataFrame, got {type(source).__name__}; pass the metric itself"
        )
    return frame, str(getattr(source, "name", type(source).__name__))


def require_columns(frame: pl.DataFrame, needed: Sequence[str], chart: str, remedy: str) -> None:
    """Raise a ValueError naming the missing history columns."""
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(
            f"`{chart}` needs the history column(s) {missing}, got columns {frame.columns}; "
            f"{remedy}"
        )


def require_scalar(frame: pl.DataFrame, columns: Sequence[str], chart: str) -> None:
    """Raise a ValueError for array-valued columns, which these charts do not draw."""
    for column in columns:
        dtype = frame.schema[column]
        if not dtype.is_numeric():
            raise ValueError(
                f"`{chart}` draws numbers, but history column {column!r} holds {dtype}; "
                f"pick a scalar column, e.g. one element with "
                f"`history.with_columns(pl.col({column!r}).arr.get(0))`"
            )


def json_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Floats with NaN or ±inf become null (JSON has neither); enums become strings."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype.is_float():
            column = pl.col(name)
            exprs.append(pl.when(column.is_finite()).then(column).otherwise(None).alias(name))
        elif isinstance(dtype, (pl.Enum, pl.Categorical)):
            exprs.append(pl.col(name).cast(pl.String))
    return frame.with_columns(exprs) if exprs else frame


def count_not_finite(frame: pl.DataFrame, column: str) -> int:
    """How many values of a float column are NaN or ±inf (nulls not counted)."""
    series = frame.get_column(column)
    if not series.dtype.is_float():
        return 0
    return int((~series.drop_nulls().is_finite()).sum())


PANEL_AXIS_EXTENT = 56
"""Pixels the y-axis of each stacked panel takes when the panels fill their container."""
CONTAINER_RESERVE = PANEL_AXIS_EXTENT + 28
"""What a stacked chart of ``width="container"`` panels leaves beside them: the y-axis
labels (:data:`PANEL_AXIS_EXTENT`), its title (~16 px) and the padding (2 × 5 px); 81 px
measured in JupyterLab 4.6 + Chromium, plus 3 px to spare."""


def fit_panels(chart: Any, width: int | str) -> Any:
    """A stacked (``vconcat``) chart whose ``"container"``-wide panels fit their container.

    Vega-Lite gives each panel of a concatenated chart the whole container's width and
    adds its y-axis outside it, so the chart overflows by the axis. Here the y-axes get
    a fixed extent, legends go on top, and ``usermeta`` says how many pixels to leave
    (:data:`CONTAINER_RESERVE`): the notebook renderer makes the chart's box that much
    narrower than the output area. Other widths are left alone.
    """
    if width != "container":
        return chart
    return (
        chart.properties(usermeta={"interactive_metrics": {"container_reserve": CONTAINER_RESERVE}})
        .configure_axisY(minExtent=PANEL_AXIS_EXTENT, maxExtent=PANEL_AXIS_EXTENT)
        .configure_legend(orient="top")
    )


def _message_color() -> str:
    from interactive_metrics.charts import style

    return style.colors().text


def message_chart(message: str, title: str, height: int = PANEL_HEIGHT) -> Any:
    """A chart that says why there is nothing to draw (an empty metric, no count, ...)."""
    alt = altair()
    return (
        alt.Chart(pl.DataFrame({"message": [message]}))
        .mark_text(fontSize=13, color=_message_color())
        .encode(text="message:N")
        .properties(width=WIDTH, height=height, title=title)
    )


def step_scale_axis(alt: ModuleType, steps: Any = None) -> tuple[Any, Any]:
    """The scale and axis of a step axis: integer ticks, a domain fitted to ``steps``.

    With ``steps`` (the drawn steps), the domain is ``style.step_domain`` of them: a
    one-step chart gets a window of a few steps, not one bar across the plot.
    """
    from interactive_metrics.charts import style

    domain = style.step_domain(steps) if steps is not None else None
    scale = (
        alt.Scale(domain=list(domain), nice=False, zero=False)
        if domain is not None
        else alt.Scale(nice=False, zero=False, padding=10)
    )
    axis = alt.Axis(format=style.STEP_FORMAT, tickMinStep=1, labelFlush=False)
    return scale, axis


def step_axis(alt: ModuleType, field: str, title: str | None = "step", steps: Any = None) -> Any:
    """The step axis (see :func:`step_scale_axis`) of ``field``."""
    scale, axis = step_scale_axis(alt, steps)
    return alt.X(f"{field}:Q", title=title, axis=axis, scale=scale)


def bins_for(width: int | str) -> int:
    """How many bars fit in ``width`` pixels (two pixels each; the default width for strings)."""
    pixels = width if isinstance(width, int) else WIDTH
    return max(1, pixels // 2)


def step_zoom(alt: ModuleType, name: str) -> Any:
    """An interval selection bound to the step scale: drag to pan, wheel to zoom."""
    return alt.selection_interval(bind="scales", encodings=["x"], name=name)


def panel_title(text: str) -> Any:
    """The small left-aligned title of one panel of a concatenated chart."""
    return altair().TitleParams(text, anchor="start", fontSize=12, fontWeight="normal")


def note(parts: Sequence[str]) -> str | list[str]:
    """A subtitle from the non-empty parts, or an empty string."""
    kept = [p for p in parts if p]
    return kept if kept else ""
