"""Charts of a :class:`~interactive_metrics.MetricCollection`: small multiples of its members.

One panel per member (its running result over the steps, a line per element for a
vector result), stacked on one shared step axis, each panel with a y-axis fitted to
its own values: a loss near 0.3 and an accuracy near 0.98 are each read closely.
The chart reads only the collection's public ``history`` (``name/result`` columns).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from interactive_metrics.charts import style
from interactive_metrics.charts._common import (
    MAX_ROWS,
    WIDTH,
    altair,
    json_safe,
    message_chart,
    step_axis,
)
from interactive_metrics.charts.downsample import downsample

__all__ = ["collection_history", "collection_results"]

EMPTY = "no events recorded yet: call update_state on the collection"


def collection_results(collection: Any, field: str = "result") -> pl.DataFrame:
    """The long table the chart draws: ``step``, ``event``, ``member``, ``series``, ``value``.

    ``field`` is a history column of every member (``result``, ``batch_result``).
    A vector result gives one series per element (``result 0``, ``result 1``, ...).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> metrics = im.MetricCollection([im.Mean(), im.Max()])
    >>> metrics.update_state([1.0, 3.0]); metrics.update_state([8.0])
    >>> collection_results(metrics).rows()  # doctest: +NORMALIZE_WHITESPACE
    [(1, 'update', 'mean', 'result', 2.0), (2, 'update', 'mean', 'result', 4.0),
     (1, 'update', 'max', 'result', 3.0), (2, 'update', 'max', 'result', 8.0)]
    """
    frame = collection.history
    parts = []
    for name in collection.keys():
        column = f"{name}/{field}"
        if column not in frame.columns:
            continue
        dtype = frame.schema[column]
        rows = frame.select("step", pl.col("event").cast(pl.String), column).drop_nulls(column)
        if isinstance(dtype, pl.Array) and len(dtype.shape) == 1:
            series = [(f"{field} {i}", pl.col(column).arr.get(i)) for i in range(dtype.shape[0])]
        elif dtype.is_numeric():
            series = [(field, pl.col(column))]
        else:
            continue  # a matrix-valued result has no line to draw
        for label, value in series:
            parts.append(
                rows.select(
                    "step",
                    "event",
                    pl.lit(name).alias("member"),
                    pl.lit(label).alias("series"),
                    value.cast(pl.Float64).alias("value"),
                )
            )
    if not parts:
        schema = {"step": pl.Int64, "event": pl.String, "member": pl.String}
        return pl.DataFrame(schema={**schema, "series": pl.String, "value": pl.Float64})
    return pl.concat(parts)


def collection_history(
    collection: Any,
    field: str = "result",
    *,
    max_rows: int = MAX_ROWS,
    width: int | str = WIDTH,
    panel_height: int = 110,
) -> Any:
    """Small multiples: one panel per member's ``field`` over the steps, one shared step axis.

    Parameters
    ----------
    collection : MetricCollection
        The collection to draw.
    field : str
        A history column every member has: ``"result"`` (default) or ``"batch_result"``.
    max_rows : int
        Each member's series is downsampled to about this many rows (extremes kept).
    width : int or "container"
        Width of each panel in pixels.
    panel_height : int
        Height of each panel in pixels.

    Returns
    -------
    altair.FacetChart
        A row per member, titled with its name; the y-axes are independent.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> metrics = im.MetricCollection({"loss": im.Mean(), "recall": im.Recall()})
    >>> metrics.update_state(values=[0.4, 0.2], y_true=[1, 1], y_pred=[0.9, 0.3])
    >>> spec = collection_history(metrics).to_dict()
    >>> spec["facet"]["row"]["field"], spec["resolve"]["scale"]
    ('member', {'y': 'independent'})
    """
    alt = altair()
    data = collection_results(collection, field)
    if data.height == 0:
        return message_chart(EMPTY, "Metrics over steps")
    members = [m for m in collection.keys() if m in set(data["member"].to_list())]
    drawn = downsample(data, ["value"], max_rows * len(members), by="member")
    drawn = json_safe(drawn)
    steps = drawn.get_column("step")
    several = drawn.get_column("series").n_unique() > 1
    color = (
        alt.Color("series:N", legend=alt.Legend(title=None, orient="top"))
        if several
        else alt.value(style.RESULT_COLOR)
    )
    base = alt.Chart(drawn).encode(
        x=step_axis(alt, "step", steps=[steps.min(), steps.max()]),
        y=alt.Y(
            "value:Q",
            title=style.column_label(field),
            scale=alt.Scale(zero=False),
            axis=alt.Axis(format=style.NUMBER_FORMAT),
        ),
        color=color,
        tooltip=[
            alt.Tooltip("member:N"),
            alt.Tooltip("step:Q", format=style.STEP_FORMAT),
            alt.Tooltip("event:N"),
            alt.Tooltip("series:N"),
            alt.Tooltip("value:Q", format=style.NUMBER_FORMAT),
        ],
    )
    line = base.mark_line(strokeWidth=2, point=drawn.height <= 60 * max(len(members), 1))
    return (
        line.properties(width=width, height=panel_height)
        .facet(
            row=alt.Row(
                "member:N",
                sort=members,
                title=None,
                header=alt.Header(labelAngle=0, labelAlign="left", labelFontSize=12),
            )
        )
        .resolve_scale(y="independent")
        .properties(title="Metrics over steps")
    )
