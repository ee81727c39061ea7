"""Charts of one metric's history: per-batch sums, sum versus mean, any column over steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from interactive_metrics.charts._common import (
    BATCH_COLOR,
    EVENT_COLORS,
    FEW_POINTS,
    MAX_ROWS,
    MEAN_COLOR,
    MEAN_OF_MEANS_COLOR,
    PANEL_HEIGHT,
    RUNNING_COLOR,
    WIDTH,
    altair,
    count_not_finite,
    history_of,
    json_safe,
    message_chart,
    note,
    panel_title,
    require_columns,
    require_scalar,
    step_axis,
    step_zoom,
)
from interactive_metrics.charts.downsample import bin_edges, downsample

__all__ = ["batch_sums", "history", "sum_vs_mean"]

NUMBER = ",.6~g"
MAX_EVENT_RULES = 200
EMPTY = "no events recorded yet: call update_state (or create the metric with history=True)"


def _not_update() -> pl.Expr:
    return pl.col("event").cast(pl.String) != "update"


def _event_rules(alt: Any, frame: pl.DataFrame) -> tuple[Any | None, str]:
    """Vertical rules at reset and merge steps (thinned past ``MAX_EVENT_RULES``)."""
    events = frame.filter(_not_update()).select("step", pl.col("event").cast(pl.String))
    if events.height == 0:
        return None, ""
    shown = ""
    if events.height > MAX_EVENT_RULES:
        every = -(-events.height // MAX_EVENT_RULES)
        shown = f"{events.height:,} reset/merge events, every {every}th drawn"
        events = events.gather_every(every)
    kinds = sorted(set(events["event"].to_list()))
    rules = (
        alt.Chart(events)
        .mark_rule(strokeDash=[4, 3], strokeWidth=1.5)
        .encode(
            x="step:Q",
            color=alt.Color(
                "event:N",
                scale=alt.Scale(domain=kinds, range=[EVENT_COLORS[k] for k in kinds]),
                legend=alt.Legend(title="event", orient="right"),
            ),
            tooltip=[alt.Tooltip("step:Q", format=","), alt.Tooltip("event:N")],
        )
    )
    return rules, shown


def _scalar_field(frame: pl.DataFrame, chart: str) -> str:
    for column in frame.columns:
        if column.startswith("batch_") and column != "batch_result":
            if frame.schema[column].is_numeric():
                return column.removeprefix("batch_")
    raise ValueError(
        f"`{chart}` needs a scalar state field (a `batch_<field>` column), got columns "
        f"{frame.columns}; pass `field=` naming one"
    )


def _line_style(alt: Any, points: int, color: str) -> dict[str, Any]:
    """Keyword arguments of ``mark_line``: points drawn too when there are few."""
    point = alt.OverlayMarkDef(size=28, color=color) if points <= FEW_POINTS else False
    return {"color": color, "point": point, "strokeWidth": 2}


def _binned_bars(
    steps: np.ndarray, values: np.ndarray, weights: np.ndarray | None, bins: int
) -> pl.DataFrame:
    """Per bin of consecutive batches: first and last step, count, smallest, largest, sum."""
    starts = bin_edges(len(steps), bins)
    ends = np.concatenate((starts[1:], [len(steps)])) - 1
    with np.errstate(invalid="ignore"):
        data = {
            "step_start": steps[starts],
            "step_end": steps[ends],
            "batches": ends - starts + 1,
            "smallest": np.fmin.reduceat(values, starts),
            "largest": np.fmax.reduceat(values, starts),
            "bin_total": np.add.reduceat(np.nan_to_num(values, nan=0.0), starts),
        }
        if weights is not None:
            data["bin_weight"] = np.add.reduceat(np.nan_to_num(weights, nan=0.0), starts)
    return pl.DataFrame(data)


def batch_sums(
    metric: Any,
    field: str | None = None,
    *,
    weight: str | None = "count",
    max_rows: int = MAX_ROWS,
    width: int = WIDTH,
    height: int = PANEL_HEIGHT,
) -> Any:
    """What each batch adds (bars) and the running total it builds (a linked line below).

    Parameters
    ----------
    metric : Metric or polars.DataFrame
        A metric, or its ``history`` table.
    field : str, optional
        The state field to draw (default ``total``, else the first scalar field):
        the bars are ``batch_<field>``, the line is ``running_<field>``.
    weight : str or None
        The field shown as each batch's weight in the tooltips (default ``count``,
        skipped when the metric has no such field).
    max_rows : int
        Longer histories are downsampled to about this many rows per drawn table.
    width, height : int
        Size of each of the two panels, in pixels.

    Returns
    -------
    altair.VConcatChart
        Two panels sharing the step axis (drag to pan, scroll to zoom); resets and
        merges are dashed rules. With more batches than half the width in pixels,
        the bars become bins: dark up to the smallest batch of the bin, light up to
        the largest (so no extreme is hidden), with the bin's sum in the tooltip.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Sum()
    >>> m.update_state([1, 3, 5, 7])
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> spec = batch_sums(m).to_dict()
    >>> (rows,) = spec["datasets"].values()  # one table feeds both panels
    >>> [row["batch_total"] for row in rows]
    [16.0, 4.0]
    """
    alt = altair()
    frame, name = history_of(metric, "metric")
    field = field if field is not None else _scalar_field(frame, "batch_sums")
    batch, running = f"batch_{field}", f"running_{field}"
    require_columns(
        frame, ["step", "event", batch, running], "batch_sums", "pass `field=` naming a state field"
    )
    require_scalar(frame, [batch, running], "batch_sums")
    weight_column = f"batch_{weight}" if weight is not None else None
    if weight_column not in frame.columns or weight == field:
        weight_column = None
    title = alt.TitleParams(f"{name}: what each batch adds to the running {field}", anchor="start")
    if frame.height == 0:
        return message_chart(EMPTY, title.text)

    label = field.replace("_", " ")
    data = frame.select(
        "step", "event", batch, *([weight_column] if weight_column else []), running
    )
    notes: list[str] = []
    rules, rules_note = _event_rules(alt, data)
    notes.append(rules_note)
    zoom = step_zoom(alt, "zoom_steps")
    x = step_axis(alt, "step")

    bars_frame = data.filter(pl.col("event").cast(pl.String) != "reset")
    max_bars = max(1, width // 2)
    tooltip_number = {"format": NUMBER}
    line_frame = json_safe(downsample(data, [running], max_rows, always=_not_update()))
    if bars_frame.height <= max_bars:
        bars = (
            alt.Chart(line_frame)  # the same table as the line: shipped once
            .transform_filter(alt.datum.event != "reset")
            .transform_calculate(left="datum.step - 0.42", right="datum.step + 0.42")
            .mark_bar()
            .encode(
                color=alt.when(alt.datum.event == "merge")
                .then(alt.value(EVENT_COLORS["merge"]))
                .otherwise(alt.value(BATCH_COLOR)),
                x=step_axis(alt, "left", title=None),
                x2="right:Q",
                y=alt.Y(f"{batch}:Q", title=f"batch {label}"),
                y2=alt.datum(0),
                tooltip=[
                    alt.Tooltip("step:Q", format=","),
                    alt.Tooltip("event:N"),
                    alt.Tooltip(f"{batch}:Q", title=f"batch {label}", **tooltip_number),
                    *(
                        [alt.Tooltip(f"{weight_column}:Q", title="batch weight", **tooltip_number)]
                        if weight_column
                        else []
                    ),
                    alt.Tooltip(f"{running}:Q", title=f"running {label}", **tooltip_number),
                ],
            )
        )
    else:
        steps = bars_frame.get_column("step").to_numpy()
        values = bars_frame.get_column(batch).cast(pl.Float64).to_numpy()
        weights = (
            bars_frame.get_column(weight_column).cast(pl.Float64).to_numpy()
            if weight_column
            else None
        )
        binned = json_safe(_binned_bars(steps, values, weights, max_bars))
        notes.append(
            f"{bars_frame.height:,} batches in {binned.height:,} bins: dark bar to the smallest, "
            "light bar to the largest batch of each bin"
        )
        base = alt.Chart(binned).encode(
            x=step_axis(alt, "step_start", title=None),
            x2="step_end:Q",
            tooltip=[
                alt.Tooltip("step_start:Q", title="first step", format=","),
                alt.Tooltip("step_end:Q", title="last step", format=","),
                alt.Tooltip("batches:Q", format=","),
                alt.Tooltip("smallest:Q", title=f"smallest batch {label}", **tooltip_number),
                alt.Tooltip("largest:Q", title=f"largest batch {label}", **tooltip_number),
                alt.Tooltip("bin_total:Q", title=f"{label} of the bin", **tooltip_number),
                *(
                    [alt.Tooltip("bin_weight:Q", title="weight of the bin", **tooltip_number)]
                    if weight_column
                    else []
                ),
            ],
        )
        bars = alt.layer(
            base.mark_bar(color=BATCH_COLOR, opacity=0.35).encode(
                y=alt.Y("largest:Q", title=f"batch {label}"), y2=alt.datum(0)
            ),
            base.mark_bar(color=BATCH_COLOR).encode(y="smallest:Q", y2=alt.datum(0)),
        )

    if line_frame.height < data.height:
        notes.append(f"running {label}: {line_frame.height:,} of {data.height:,} steps drawn")
    line = (
        alt.Chart(line_frame)
        .mark_line(**_line_style(alt, line_frame.height, RUNNING_COLOR))
        .encode(
            x=x,
            y=alt.Y(f"{running}:Q", title=f"running {label}"),
            tooltip=[
                alt.Tooltip("step:Q", format=","),
                alt.Tooltip("event:N"),
                alt.Tooltip(f"{running}:Q", title=f"running {label}", **tooltip_number),
            ],
        )
        .add_params(zoom)
    )
    top = alt.layer(bars, rules) if rules is not None else alt.layer(bars)
    bottom = alt.layer(line, rules) if rules is not None else alt.layer(line)
    chart = alt.vconcat(
        top.properties(width=width, height=height, title=panel_title(f"batch {label}")),
        bottom.properties(width=width, height=height, title=panel_title(f"running {label}")),
        spacing=18,
    ).resolve_scale(x="shared")
    return chart.properties(title=alt.TitleParams(title.text, subtitle=note(notes), anchor="start"))


def _means(frame: pl.DataFrame, total: str, count: str) -> pl.DataFrame:
    """Per-batch mean, pooled running mean and running mean of batch means, from the state."""
    batch_total, batch_count = pl.col(f"batch_{total}"), pl.col(f"batch_{count}")
    running_total, running_count = pl.col(f"running_{total}"), pl.col(f"running_{count}")
    is_batch = (pl.col("event").cast(pl.String) != "reset") & (batch_count > 0)
    batch_mean = pl.when(is_batch).then(batch_total / batch_count)
    segment = (pl.col("event").cast(pl.String) == "reset").cum_sum()
    batches = is_batch.fill_null(False).cast(pl.Int64).cum_sum().over(segment)
    summed = batch_mean.fill_null(0.0).cum_sum().over(segment)
    return frame.select(
        "step",
        pl.col("event").cast(pl.String),
        running_total.alias("running_sum"),
        pl.when(running_count > 0).then(running_total / running_count).alias("pooled_mean"),
        batch_mean.alias("batch_mean"),
        pl.when(batches > 0).then(summed / batches).alias("mean_of_batch_means"),
        batch_count.alias("batch_weight"),
        running_count.alias("running_weight"),
    )


SERIES = ("batch mean", "running mean (pooled)", "mean of batch means")


def sum_vs_mean(
    metric: Any,
    *,
    total: str = "total",
    count: str = "count",
    max_rows: int = MAX_ROWS,
    width: int = WIDTH,
    height: int = PANEL_HEIGHT,
) -> Any:
    """The same history as a running sum and as means: pooled, per batch, and mean of means.

    The top panel is the running sum ``Σ w·v`` (what a ``Sum`` reports: it keeps
    growing). The bottom panel is the pooled running mean ``Σ w·v / Σ w`` (what a
    ``Mean`` reports), each batch's own mean (dots), and the running mean of the
    batch means (dashed) that you get by averaging per-batch results: it differs
    from the pooled mean as soon as batches differ in weight.

    Parameters
    ----------
    metric : Metric or polars.DataFrame
        A metric with a sum field and a weight field (``Mean``, a mean-like metric),
        or its history.
    total, count : str
        The state fields holding ``Σ w·v`` and ``Σ w``.
    max_rows : int
        Longer histories are downsampled to about this many rows.
    width, height : int
        Size of each panel, in pixels.

    Returns
    -------
    altair.VConcatChart

    Raises
    ------
    ValueError
        When the metric has no ``count`` (weight) field, e.g. a ``Sum``.

    Notes
    -----
    Batches with no weight have no mean: they are left out of the dots and of the
    mean of batch means (a merge counts as one batch). Means are computed from the
    recorded state, so for a metric whose result is not ``total / count`` (e.g. a
    root mean squared error) the means drawn are those of its state, not its result.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Mean()
    >>> m.update_state([1.0, 1.0, 1.0, 1.0])
    >>> m.update_state([5.0])
    >>> spec = sum_vs_mean(m).to_dict()
    >>> (rows,) = spec["datasets"].values()  # one table feeds both panels
    >>> {series: rows[1][series] for series in SERIES}
    {'batch mean': 5.0, 'running mean (pooled)': 1.8, 'mean of batch means': 3.0}
    """
    alt = altair()
    frame, name = history_of(metric, "metric")
    needed = [f"{p}_{f}" for f in (total, count) for p in ("batch", "running")]
    if f"batch_{count}" not in frame.columns:
        fields = tuple(
            c.removeprefix("batch_")
            for c in frame.columns
            if c.startswith("batch_") and c != "batch_result"
        )
        raise ValueError(
            f"`sum_vs_mean` needs a `{count}` state field (the total weight Σ w) beside "
            f"`{total}` (Σ w·v), got fields {fields}; track the same values with im.Mean() "
            "(fields total and count), or pass `count=` naming the weight field"
        )
    require_columns(frame, ["step", "event", *needed], "sum_vs_mean", "pass `total=` naming Σ w·v")
    require_scalar(frame, needed, "sum_vs_mean")
    title = f"{name}: running sum, pooled mean and mean of batch means"
    if frame.height == 0:
        return message_chart(EMPTY, f"{name}: sum versus mean")

    means = _means(frame, total, count)
    notes: list[str] = []
    drawn = downsample(
        means,
        ["running_sum", "pooled_mean", "batch_mean", "mean_of_batch_means"],
        max_rows,
        always=_not_update(),
    )
    if drawn.height < means.height:
        notes.append(f"{drawn.height:,} of {means.height:,} steps drawn (extremes kept)")
    no_weight = means.filter(pl.col("batch_mean").is_null() & _not_update().not_()).height
    if no_weight:
        notes.append(f"{no_weight:,} batch(es) without weight have no mean and are not drawn")
    if count_not_finite(means, "pooled_mean") or count_not_finite(means, "running_sum"):
        notes.append("NaN or infinite values are not drawn")
    drawn = json_safe(drawn).rename(
        {"batch_mean": SERIES[0], "pooled_mean": SERIES[1], "mean_of_batch_means": SERIES[2]}
    )
    rules, rules_note = _event_rules(alt, drawn)
    notes.append(rules_note)
    zoom = step_zoom(alt, "zoom_steps")
    x = step_axis(alt, "step")
    sum_line = (
        alt.Chart(drawn)
        .mark_line(**_line_style(alt, drawn.height, RUNNING_COLOR))
        .encode(
            x=x,
            y=alt.Y("running_sum:Q", title="running sum Σ w·v"),
            tooltip=[
                alt.Tooltip("step:Q", format=","),
                alt.Tooltip("running_sum:Q", title="running sum", format=NUMBER),
                alt.Tooltip("running_weight:Q", title="running weight Σ w", format=NUMBER),
            ],
        )
        .add_params(zoom)
    )
    color = alt.Color(
        "series:N",
        scale=alt.Scale(domain=list(SERIES), range=[BATCH_COLOR, MEAN_COLOR, MEAN_OF_MEANS_COLOR]),
        legend=alt.Legend(title=None, orient="top", direction="horizontal"),
    )
    base = (
        alt.Chart(drawn)
        .transform_fold(list(SERIES), as_=["series", "value"])
        .encode(
            x=x,
            y=alt.Y("value:Q", title="mean", scale=alt.Scale(padding=6)),
            color=color,
            tooltip=[
                alt.Tooltip("step:Q", format=","),
                alt.Tooltip("series:N"),
                alt.Tooltip("value:Q", format=NUMBER),
                alt.Tooltip("batch_weight:Q", title="batch weight", format=NUMBER),
            ],
        )
    )
    dots = base.transform_filter(alt.datum.series == SERIES[0]).mark_circle(size=30, opacity=0.7)
    lines = base.transform_filter(alt.datum.series != SERIES[0]).mark_line(
        strokeWidth=2, point=drawn.height <= FEW_POINTS
    )
    lines = lines.encode(
        strokeDash=alt.StrokeDash(
            "series:N",
            scale=alt.Scale(domain=list(SERIES[1:]), range=[[1, 0], [6, 4]]),
            legend=None,
        )
    )
    means_panel = alt.layer(dots, lines)
    sum_panel = alt.layer(sum_line)
    if rules is not None:
        sum_panel = alt.layer(sum_line, rules)
        means_panel = alt.layer(means_panel, rules).resolve_scale(
            color="independent", strokeDash="independent"
        )
    chart = alt.vconcat(
        sum_panel.properties(
            width=width, height=height, title=panel_title("running sum: what a Sum reports")
        ),
        means_panel.properties(
            width=width,
            height=height,
            title=panel_title("means: the pooled running mean is what a Mean reports"),
        ),
        spacing=18,
    ).resolve_scale(x="shared", color="independent", strokeDash="independent")
    return chart.properties(title=alt.TitleParams(title, subtitle=note(notes), anchor="start"))


def _resolve(frame: pl.DataFrame, field: str) -> str:
    if field in frame.columns and field not in ("step", "event"):
        return field
    if f"running_{field}" in frame.columns:
        return f"running_{field}"
    options = [c for c in frame.columns if c not in ("step", "event")]
    raise ValueError(
        f"`field` must name a history column or a state field, got {field!r}; choose from {options}"
    )


def _expand_arrays(frame: pl.DataFrame, columns: list[str]) -> tuple[pl.DataFrame, list[str]]:
    """One column per element for 1-D array columns (e.g. a per-class result)."""
    out: list[str] = []
    exprs: list[pl.Expr] = []
    for column in columns:
        dtype = frame.schema[column]
        if isinstance(dtype, pl.Array) and len(dtype.shape) == 1:
            for i in range(dtype.shape[0]):
                exprs.append(pl.col(column).arr.get(i).alias(f"{column} {i}"))
                out.append(f"{column} {i}")
        else:
            out.append(column)
    return (frame.with_columns(exprs) if exprs else frame), out


def history(
    metric: Any,
    field: str | Sequence[str] = "result",
    *,
    max_rows: int = MAX_ROWS,
    width: int = WIDTH,
    height: int = 260,
) -> Any:
    """Any history column over the steps: a line per column, with resets and merges marked.

    Parameters
    ----------
    metric : Metric or polars.DataFrame
        A metric, or its history (slice it with ``filter`` to look closely at a range).
    field : str or sequence of str
        History columns (``result``, ``batch_result``, ``running_total``, ...) or
        state field names (``total`` means ``running_total``). A 1-D array column
        (a per-class result) draws one line per element.
    max_rows : int
        Longer histories are downsampled to about this many rows.
    width, height : int
        Size in pixels.

    Returns
    -------
    altair.LayerChart
        Hover shows the values at the nearest step; with several columns, click a
        legend entry to highlight one. Drag to pan, scroll to zoom the steps.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Mean()
    >>> for batch in ([1, 3], [8], [2, 2, 2]):
    ...     m.update_state(batch)
    >>> spec = history(m, ["batch_result", "result"]).to_dict()
    >>> rows = spec["datasets"][spec["data"]["name"]]
    >>> [(r["batch_result"], r["result"]) for r in rows]
    [(2.0, 2.0), (8.0, 4.0), (2.0, 3.0)]
    """
    alt = altair()
    frame, name = history_of(metric, "metric")
    requested = [field] if isinstance(field, str) else list(field)
    if not requested:
        raise ValueError("`field` must name at least one history column, got []")
    columns = [_resolve(frame, f) for f in requested]
    frame, columns = _expand_arrays(frame, columns)
    require_scalar(frame, columns, "history")
    label = ", ".join(requested)
    if frame.height == 0:
        return message_chart(EMPTY, f"{name}: {label}", height=height)
    data = frame.select("step", pl.col("event").cast(pl.String), *columns)
    notes: list[str] = []
    drawn = downsample(data, columns, max_rows, always=_not_update())
    if drawn.height < data.height:
        notes.append(f"{drawn.height:,} of {data.height:,} steps drawn (extremes kept)")
    bad = sum(count_not_finite(data, c) for c in columns)
    if bad:
        notes.append(f"{bad:,} NaN or infinite value(s) are not drawn")
    nulls = sum(data.get_column(c).null_count() for c in columns)
    if nulls and any(c.startswith("batch_") for c in columns):
        notes.append("resets have no batch values")
    drawn = json_safe(drawn)
    rules, rules_note = _event_rules(alt, drawn)
    notes.append(rules_note)
    zoom = step_zoom(alt, "zoom_steps")
    x = step_axis(alt, "step")
    several = len(columns) > 1
    pick = alt.selection_point(fields=["series"], bind="legend", name="pick_series")
    hover = alt.selection_point(
        fields=["step"], nearest=True, on="pointerover", empty=False, name="hover_step"
    )
    color = (
        alt.Color("series:N", sort=columns, legend=alt.Legend(title=None, orient="top"))
        if several
        else alt.value(RUNNING_COLOR)
    )
    base = (
        alt.Chart(drawn)
        .transform_fold(columns, as_=["series", "value"])
        .encode(x=x, y=alt.Y("value:Q", title=label, scale=alt.Scale(padding=6)), color=color)
    )
    line = base.mark_line(**_line_style(alt, drawn.height, RUNNING_COLOR)).add_params(zoom)
    if several:
        line = line.encode(
            opacity=alt.when(pick).then(alt.value(1.0)).otherwise(alt.value(0.15))
        ).add_params(pick)
    tooltip = [alt.Tooltip("step:Q", format=","), alt.Tooltip("event:N")] + [
        alt.Tooltip(f"{c}:Q", format=NUMBER) for c in columns
    ]
    hover_rule = (
        alt.Chart(drawn)
        .mark_rule(color="#999999")
        .encode(
            x="step:Q",
            opacity=alt.when(hover).then(alt.value(0.6)).otherwise(alt.value(0.0)),
            tooltip=tooltip,
        )
        .add_params(hover)
    )
    layers = [line, hover_rule] + ([rules] if rules is not None else [])
    return alt.layer(*layers).properties(
        width=width,
        height=height,
        title=alt.TitleParams(f"{name}: {label}", subtitle=note(notes), anchor="start"),
    )
