"""Charts of one metric's history: per-batch sums, sum versus mean, any column over steps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from interactive_metrics.charts import style
from interactive_metrics.charts._common import (
    FEW_POINTS,
    MAX_ROWS,
    PANEL_HEIGHT,
    WIDTH,
    altair,
    bins_for,
    count_not_finite,
    event_color,
    fit_panels,
    history_of,
    json_safe,
    message_chart,
    note,
    panel_title,
    require_columns,
    require_scalar,
    step_axis,
    step_scale_axis,
    step_zoom,
)
from interactive_metrics.charts.downsample import bin_edges, downsample

__all__ = ["batch_sums", "history", "mean_pair", "sum_vs_mean"]

NUMBER = style.NUMBER_FORMAT
MAX_EVENT_RULES = 200
BAR_HALF_WIDTH = 0.42
"""Half the width of one batch's bar, in steps (bars of consecutive steps leave a gap)."""
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
                scale=alt.Scale(domain=kinds, range=[event_color(k) for k in kinds]),
                legend=alt.Legend(title="event", orient="right"),
            ),
            tooltip=[alt.Tooltip("step:Q", format=style.STEP_FORMAT), alt.Tooltip("event:N")],
        )
    )
    return rules, shown


def _scalar_fields(frame: pl.DataFrame) -> list[str]:
    """The state fields with a numeric (scalar) ``batch_<field>`` column, in order."""
    return [
        column.removeprefix("batch_")
        for column in frame.columns
        if column.startswith("batch_")
        and column != "batch_result"
        and frame.schema[column].is_numeric()
    ]


def _scalar_field(frame: pl.DataFrame, chart: str) -> str:
    fields = _scalar_fields(frame)
    if fields:
        return fields[0]
    raise ValueError(
        f"`{chart}` needs a scalar state field (a `batch_<field>` column), got columns "
        f"{frame.columns}; pass `field=` naming one"
    )


def mean_pair(metric: Any) -> tuple[str, str] | None:
    """The (weighted total, weight) fields of a metric whose state is a mean, or None.

    The one rule that decides which metrics have a sum-versus-mean view, in
    ``plot("sum_vs_mean")`` and in the report alike: the state has a scalar summed
    ``count`` field (the total weight ``Σ w``) and exactly one other scalar summed
    field (the weighted total ``Σ w·v``). So ``Mean`` is ``("total", "count")``,
    ``BinaryAccuracy`` ``("correct", "count")`` and ``MeanSquaredError``
    ``("squared_error_sum", "count")``; ``Sum`` (no weight) and ``Precision`` (two
    counts, neither a weight) have none.

    Parameters
    ----------
    metric : Metric or polars.DataFrame
        A metric (its declared ``fields`` must reduce by sum), or its history table.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> mean_pair(im.Mean()), mean_pair(im.BinaryAccuracy()), mean_pair(im.Sum())
    (('total', 'count'), ('correct', 'count'), None)
    """
    frame, _ = history_of(metric, "metric")
    fields = _scalar_fields(frame)
    declared = getattr(metric, "fields", None)
    if declared is not None and not isinstance(metric, pl.DataFrame):
        summed = {f.name for f in declared if getattr(f, "reduce", None) == "sum"}
        fields = [f for f in fields if f in summed]
    if "count" in fields and len(fields) == 2:
        total = next(name for name in fields if name != "count")
        return total, "count"
    return None


def _line_style(alt: Any, points: int, color: str, width: float = 2) -> dict[str, Any]:
    """Keyword arguments of ``mark_line``: points drawn too when there are few."""
    point = alt.OverlayMarkDef(size=28, color=color) if points <= FEW_POINTS else False
    return {"color": color, "point": point, "strokeWidth": width}


def bar_bounds(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left and right edges of bins of steps ``first[i]..last[i]``: touching, never empty.

    Neighbouring bins meet half-way between one's last step and the next one's first
    step, the outer bins reach half a step beyond their end steps: together the bins
    cover the whole axis, and every bin has a width of at least one step.

    Examples
    --------
    >>> bar_bounds(np.array([1, 3, 4]), np.array([2, 3, 9]))
    (array([0.5, 2.5, 3.5]), array([2.5, 3.5, 9.5]))
    """
    first, last = np.asarray(first, dtype=np.float64), np.asarray(last, dtype=np.float64)
    middles = (last[:-1] + first[1:]) / 2
    left = np.concatenate(([first[0] - 0.5], middles)) if len(first) else first
    right = np.concatenate((middles, [last[-1] + 0.5])) if len(last) else last
    return left, right


def _binned_bars(
    steps: np.ndarray, values: np.ndarray, weights: np.ndarray | None, bins: int
) -> pl.DataFrame:
    """Per bin of consecutive batches: its steps and edges, count, smallest, largest, sum."""
    starts = bin_edges(len(steps), bins)
    ends = np.concatenate((starts[1:], [len(steps)])) - 1
    left, right = bar_bounds(steps[starts], steps[ends])
    with np.errstate(invalid="ignore"):
        data = {
            "step_start": steps[starts],
            "step_end": steps[ends],
            "left": left,
            "right": right,
            "batches": ends - starts + 1,
            "smallest": np.fmin.reduceat(values, starts),
            "largest": np.fmax.reduceat(values, starts),
            "bin_total": np.add.reduceat(np.nan_to_num(values, nan=0.0), starts),
        }
        if weights is not None:
            data["bin_weight"] = np.add.reduceat(np.nan_to_num(weights, nan=0.0), starts)
    return pl.DataFrame(data)


def _title(text: str, notes: Sequence[str]) -> Any:
    return altair().TitleParams(text, subtitle=note(notes), anchor="start")


def batch_sums(
    metric: Any,
    field: str | None = None,
    *,
    weight: str | None = "count",
    max_rows: int = MAX_ROWS,
    width: int | str = WIDTH,
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
    width : int or "container"
        Width of each of the two panels, in pixels (or the container's width).
    height : int
        Height of each panel, in pixels.

    Returns
    -------
    altair.VConcatChart
        Two panels sharing the step axis (drag to pan, scroll to zoom); resets and
        merges are dashed rules. With more batches than half the width in pixels,
        the bars become bins that fill the axis (no batch is hidden): each bin is
        dark up to its smallest batch and light up to its largest, with the bin's
        sum in the tooltip. The y-axes start at zero (these are sums).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Sum()
    >>> m.update_state([1, 3, 5, 7])
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> spec = batch_sums(m).to_dict()
    >>> (rows,) = spec["datasets"].values()  # one table feeds both panels
    >>> [(row["batch_total"], row["left"], row["right"]) for row in rows]
    [(16.0, 0.58, 1.42), (4.0, 1.58, 2.42)]
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
    title = style.title_for(name, "batch_sums")
    if frame.height == 0:
        return message_chart(EMPTY, title)

    label = style.column_label(field)
    batch_label, running_label = f"batch {label}", f"running {label}"
    data = frame.select(
        "step", "event", batch, *([weight_column] if weight_column else []), running
    )
    notes: list[str] = []
    rules, rules_note = _event_rules(alt, data)
    notes.append(rules_note)
    zoom = step_zoom(alt, "zoom_steps")
    steps = data.get_column("step")
    x = step_axis(alt, "step", steps=[steps.min(), steps.max()])
    x_scale, x_axis = step_scale_axis(alt, [steps.min(), steps.max()])

    bars_frame = data.filter(pl.col("event").cast(pl.String) != "reset")
    max_bars = bins_for(width)
    line_frame = json_safe(downsample(data, [running], max_rows, always=_not_update()))
    if bars_frame.height <= max_bars:
        line_frame = line_frame.with_columns(
            (pl.col("step") - BAR_HALF_WIDTH).alias("left"),
            (pl.col("step") + BAR_HALF_WIDTH).alias("right"),
        )
        bar_values = bars_frame.get_column(batch).to_list()
        bars = (
            alt.Chart(line_frame)  # the same table as the line: shipped once
            .transform_filter(alt.datum.event != "reset")
            .mark_bar()
            .encode(
                color=alt.when(alt.datum.event == "merge")
                .then(alt.value(style.colors().merge))
                .otherwise(alt.value(style.colors().batch)),
                x=alt.X("left:Q", title=None, axis=x_axis, scale=x_scale),
                x2="right:Q",
                y=alt.Y(
                    f"{batch}:Q",
                    title=batch_label,
                    scale=style.value_scale(bar_values, include_zero=True),
                    axis=alt.Axis(format=NUMBER),
                ),
                y2=alt.datum(0),
                tooltip=[
                    alt.Tooltip("step:Q", format=style.STEP_FORMAT),
                    alt.Tooltip("event:N"),
                    alt.Tooltip(f"{batch}:Q", title=batch_label, format=NUMBER),
                    *(
                        [alt.Tooltip(f"{weight_column}:Q", title="batch weight", format=NUMBER)]
                        if weight_column
                        else []
                    ),
                    alt.Tooltip(f"{running}:Q", title=running_label, format=NUMBER),
                ],
            )
        )
    else:
        step_values = bars_frame.get_column("step").to_numpy()
        values = bars_frame.get_column(batch).cast(pl.Float64).to_numpy()
        weights = (
            bars_frame.get_column(weight_column).cast(pl.Float64).to_numpy()
            if weight_column
            else None
        )
        binned = json_safe(_binned_bars(step_values, values, weights, max_bars))
        notes.append(
            f"{bars_frame.height:,} batches in {binned.height:,} bins: dark to the smallest, "
            "light to the largest batch of each bin"
        )
        extremes = [*binned.get_column("smallest").to_list(), *binned.get_column("largest")]
        y_scale = style.value_scale(extremes, include_zero=True)
        base = alt.Chart(binned).encode(
            x=alt.X("left:Q", title=None, axis=x_axis, scale=x_scale),
            x2="right:Q",
            tooltip=[
                alt.Tooltip("step_start:Q", title="first step", format=style.STEP_FORMAT),
                alt.Tooltip("step_end:Q", title="last step", format=style.STEP_FORMAT),
                alt.Tooltip("batches:Q", format=style.STEP_FORMAT),
                alt.Tooltip("smallest:Q", title=f"smallest {batch_label}", format=NUMBER),
                alt.Tooltip("largest:Q", title=f"largest {batch_label}", format=NUMBER),
                alt.Tooltip("bin_total:Q", title=f"{label} of the bin", format=NUMBER),
                *(
                    [alt.Tooltip("bin_weight:Q", title="weight of the bin", format=NUMBER)]
                    if weight_column
                    else []
                ),
            ],
        )
        bars = alt.layer(
            base.mark_bar(color=style.colors().batch, opacity=0.45).encode(
                y=alt.Y(
                    "largest:Q", title=batch_label, scale=y_scale, axis=alt.Axis(format=NUMBER)
                ),
                y2=alt.datum(0),
            ),
            base.mark_bar(color=style.colors().result, opacity=0.8).encode(
                y="smallest:Q", y2=alt.datum(0)
            ),
        )

    if line_frame.height < data.height:
        notes.append(f"{running_label}: {line_frame.height:,} of {data.height:,} steps drawn")
    line = (
        alt.Chart(line_frame)
        .mark_line(**_line_style(alt, line_frame.height, style.colors().result))
        .encode(
            x=x,
            y=alt.Y(
                f"{running}:Q",
                title=running_label,
                scale=style.value_scale(line_frame.get_column(running), include_zero=True),
                axis=alt.Axis(format=NUMBER),
            ),
            tooltip=[
                alt.Tooltip("step:Q", format=style.STEP_FORMAT),
                alt.Tooltip("event:N"),
                alt.Tooltip(f"{running}:Q", title=running_label, format=NUMBER),
            ],
        )
        .add_params(zoom)
    )
    top = alt.layer(bars, rules) if rules is not None else alt.layer(bars)
    bottom = alt.layer(line, rules) if rules is not None else alt.layer(line)
    chart = alt.vconcat(
        top.properties(width=width, height=height, title=panel_title(batch_label)),
        bottom.properties(width=width, height=height, title=panel_title(running_label)),
        spacing=18,
    ).resolve_scale(x="shared")
    return fit_panels(chart.properties(title=_title(title, notes)), width)


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


def series_colors() -> list[str]:
    """The colours of :data:`SERIES` in the theme in force."""
    colors = style.colors()
    return [colors.batch, colors.result, colors.palette[1]]


def sum_vs_mean(
    metric: Any,
    *,
    total: str | None = None,
    count: str | None = None,
    max_rows: int = MAX_ROWS,
    width: int | str = WIDTH,
    height: int = PANEL_HEIGHT,
) -> Any:
    """The same history as a running sum and as means: pooled, per batch, and mean of means.

    The top panel is the running sum ``Σ w·v`` (what a ``Sum`` reports: it keeps
    growing). The bottom panel is the pooled running mean ``Σ w·v / Σ w`` (what a
    ``Mean`` reports), each batch's own mean (light dots, under the lines), and the
    running mean of the batch means (dashed) that you get by averaging per-batch
    results: it differs from the pooled mean as soon as batches differ in weight.

    Parameters
    ----------
    metric : Metric or polars.DataFrame
        A metric whose state is a weighted total and a weight (see :func:`mean_pair`:
        ``Mean``, ``BinaryAccuracy``, ``MeanSquaredError``, ...), or its history.
    total, count : str, optional
        The state fields holding ``Σ w·v`` and ``Σ w``; by default those of
        :func:`mean_pair`.
    max_rows : int
        Longer histories are downsampled to about this many rows.
    width : int or "container"
        Width of each panel, in pixels.
    height : int
        Height of each panel, in pixels.

    Returns
    -------
    altair.VConcatChart

    Raises
    ------
    ValueError
        When the metric has no weight field, e.g. a ``Sum`` or a ``Precision``.

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
    if total is None or count is None:
        pair = mean_pair(metric)
        if pair is None and count is None:
            fields = tuple(_scalar_fields(frame))
            raise ValueError(
                f"`sum_vs_mean` needs a weight field `count` (Σ w) and one weighted total "
                f"(Σ w·v), got fields {fields}; track the same values with im.Mean() "
                "(fields total and count), or pass `total=` and `count=` naming the fields"
            )
        total = total if total is not None else (pair[0] if pair else "total")
        count = count if count is not None else (pair[1] if pair else "count")
    needed = [f"{p}_{f}" for f in (total, count) for p in ("batch", "running")]
    require_columns(
        frame, ["step", "event", *needed], "sum_vs_mean", "pass `total=` and `count=` naming them"
    )
    require_scalar(frame, needed, "sum_vs_mean")
    title = style.title_for(name, "sum_vs_mean")
    if frame.height == 0:
        return message_chart(EMPTY, title)

    sum_label = "running sum Σ w·v" if total == "total" else f"running {style.column_label(total)}"
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
    steps = drawn.get_column("step")
    x = step_axis(alt, "step", steps=[steps.min(), steps.max()])
    sum_line = (
        alt.Chart(drawn)
        .mark_line(**_line_style(alt, drawn.height, style.colors().result))
        .encode(
            x=x,
            y=alt.Y(
                "running_sum:Q",
                title=sum_label,
                scale=style.value_scale(drawn.get_column("running_sum"), include_zero=True),
                axis=alt.Axis(format=NUMBER),
            ),
            tooltip=[
                alt.Tooltip("step:Q", format=style.STEP_FORMAT),
                alt.Tooltip("running_sum:Q", title=sum_label, format=NUMBER),
                alt.Tooltip("running_weight:Q", title="running weight Σ w", format=NUMBER),
            ],
        )
        .add_params(zoom)
    )
    color = alt.Color(
        "series:N",
        scale=alt.Scale(domain=list(SERIES), range=series_colors()),
        legend=alt.Legend(title=None, orient="top", direction="horizontal"),
    )
    mean_values = [v for s in SERIES for v in drawn.get_column(s).to_list()]
    base = (
        alt.Chart(drawn)
        .transform_fold(list(SERIES), as_=["series", "value"])
        .encode(
            x=x,
            y=alt.Y(
                "value:Q",
                title="mean",
                scale=style.value_scale(mean_values),
                axis=alt.Axis(format=NUMBER),
            ),
            color=color,
            tooltip=[
                alt.Tooltip("step:Q", format=style.STEP_FORMAT),
                alt.Tooltip("series:N"),
                alt.Tooltip("value:Q", format=NUMBER),
                alt.Tooltip("batch_weight:Q", title="batch weight", format=NUMBER),
            ],
        )
    )
    dots = base.transform_filter(alt.datum.series == SERIES[0]).mark_circle(size=22, opacity=0.7)
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
            width=width, height=height, title=panel_title(f"{sum_label}: what a Sum reports")
        ),
        means_panel.properties(
            width=width,
            height=height,
            title=panel_title("means: the pooled running mean is what a Mean reports"),
        ),
        spacing=18,
    ).resolve_scale(x="shared", color="independent", strokeDash="independent")
    return fit_panels(chart.properties(title=_title(title, notes)), width)


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


def _series_colors(columns: Sequence[str]) -> list[str]:
    """The running result is the strong blue, batch values light blue, others the palette."""
    theme = style.colors()
    colors: list[str] = []
    others = 0
    for column in columns:
        if column == "result":
            colors.append(theme.result)
        elif column.startswith("batch_"):
            colors.append(theme.batch)
        elif column.startswith(ROLLING.split("{")[0]):  # the rolling result: apart from blue
            colors.append(theme.palette[1])
        else:
            colors.append(theme.palette[others % len(theme.palette)])
            others += 1
    return colors


BAND_LOW, BAND_HIGH = "ci_low", "ci_high"
"""The columns of the interval band ``history(interval=...)`` draws."""


def _with_interval(
    metric: Any, frame: pl.DataFrame, level: Any, method: str | None
) -> tuple[pl.DataFrame, str]:
    """The history with ``ci_low``/``ci_high`` at ``level``, and how the band is named."""
    from interactive_metrics.intervals import closed_form, interval_history

    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(
            f"`interval` must be a confidence level strictly between 0 and 1 (e.g. 0.95), "
            f"got {level!r}"
        )
    if isinstance(metric, pl.DataFrame):
        require_columns(
            frame,
            [BAND_LOW, BAND_HIGH],
            "history",
            "pass the metric itself, or a table with ci_low and ci_high "
            "(e.g. bootstrap.interval_history())",
        )
        return frame, style.interval_label(level, None)
    from interactive_metrics.bootstrap import Bootstrap

    with_band = interval_history(metric, float(level), method)
    kind = "bootstrap" if isinstance(metric, Bootstrap) else closed_form(metric, method)
    return with_band, style.interval_label(level, kind)


ROLLING = "result over the last {} batches"
"""The column ``history(rolling=N)`` adds: the result of the last N batches merged."""
SMOOTHED = "{}_smoothed"


def _smoothed_colors(columns: Sequence[str], smoothing: float | None) -> list[str]:
    """Smoothed lines keep their column's colour; a smoothed batch column gets a strong one."""
    if smoothing is None:
        return []
    strong = style.PALETTE[1] if "result" in columns else style.colors().result
    return [
        strong if c.startswith("batch_") else color
        for c, color in zip(columns, _series_colors(columns), strict=True)
    ]


def _smoothed(frame: pl.DataFrame, columns: Sequence[str], smoothing: float) -> pl.DataFrame:
    """Debiased exponential moving averages (TensorBoard's smoothing), restarted at resets."""
    segment = (pl.col("event").cast(pl.String) == "reset").cum_sum()
    return frame.with_columns(
        pl.col(c)
        .cast(pl.Float64)
        .fill_nan(None)
        .ewm_mean(alpha=1.0 - smoothing, adjust=True, ignore_nulls=True)
        .over(segment)
        .alias(SMOOTHED.format(c))
        for c in columns
    )


def history(
    metric: Any,
    field: str | Sequence[str] = "result",
    *,
    smoothing: float | None = None,
    rolling: int | None = None,
    interval: float | None = None,
    interval_method: str | None = None,
    max_rows: int = MAX_ROWS,
    width: int | str = WIDTH,
    height: int = 260,
) -> Any:
    """Any history column over the steps: a line per column, with resets and merges marked.

    Drawn like TensorBoard's scalars: the y-axis fits the data (a result near 0.986
    gets an axis near 0.986; state columns, which are sums and counts, start at
    zero), hovering shows a rule with every value at the nearest step, and
    ``smoothing`` draws an exponential moving average over the faint raw line.
    Per-batch columns (``batch_result``) are light points under the running line.

    Parameters
    ----------
    metric : Metric or polars.DataFrame
        A metric, or its history (slice it with ``filter`` to look closely at a range).
    field : str or sequence of str
        History columns (``result``, ``batch_result``, ``running_total``, ...) or
        state field names (``total`` means ``running_total``). A 1-D array column
        (a per-class result) draws one line per element.
    smoothing : float, optional
        In ``[0, 1)``: the weight of the past in a debiased exponential moving average
        (TensorBoard's slider; 0.6 is a light smoothing, 0.95 a strong one), restarted
        at every reset.
    rolling : int, optional
        Also draw the result over the last ``rolling`` batches (``metric.rolling``),
        orange beside the running line.
    interval : float, optional
        A confidence level in (0, 1), e.g. ``0.95``: a band from ``ci_low`` to
        ``ci_high`` around the running result at every step, from
        :func:`~interactive_metrics.intervals.interval_history` (the closed-form
        interval of each step's running state: Wilson for ratios of counts, Student
        t for ``Mean(variance=True)``; a :class:`~interactive_metrics.Bootstrap`'s
        percentile interval). A metric with neither raises the ``ValueError`` that
        says to use the bootstrap. With a history DataFrame, its ``ci_low`` and
        ``ci_high`` columns are drawn (e.g. ``bootstrap.interval_history()``).
        Reset steps have no band (the state is empty there).
    interval_method : str, optional
        ``"clopper-pearson"`` instead of Wilson for a ratio of counts (see
        ``metric.interval``).
    max_rows : int
        Longer histories are downsampled to about this many rows.
    width : int or "container"
        Width in pixels.
    height : int
        Height in pixels.

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
    >>> spec = history(m, smoothing=0.5).to_dict()
    >>> [r["result_smoothed"] for r in spec["datasets"][spec["data"]["name"]]]
    [2.0, 3.333333333333333, 3.142857142857143]
    """
    alt = altair()
    frame, name = history_of(metric, "metric")
    band_label = ""
    if interval is not None:
        frame, band_label = _with_interval(metric, frame, interval, interval_method)
    if rolling is not None:  # the result over the last `rolling` batches, beside the running one
        if not hasattr(metric, "rolling"):
            raise TypeError("`rolling` needs the metric itself (it reads its batch states)")
        window = metric.rolling(rolling).rename({"result": ROLLING.format(rolling)})
        frame = frame.join(window, on="step", how="left", maintain_order="left")
        if field == "result":
            field = ["result", ROLLING.format(rolling)]
    requested = [field] if isinstance(field, str) else list(field)
    if not requested:
        raise ValueError("`field` must name at least one history column, got []")
    if smoothing is not None and not (isinstance(smoothing, (int, float)) and 0 <= smoothing < 1):
        raise ValueError(
            f"`smoothing` must be a number in [0, 1) (the weight of the past), got {smoothing!r}"
        )
    columns = [_resolve(frame, f) for f in requested]
    if band_label and "result" not in columns:
        raise ValueError(
            f"`interval` draws a band around the running result, but `field` is {field!r}; "
            "include 'result' in `field` or leave `interval` out"
        )
    frame, columns = _expand_arrays(frame, columns)
    require_scalar(frame, columns, "history")
    labels = [style.column_label(c) for c in columns]
    if len(set(labels)) < len(labels):
        labels = list(columns)
    is_result = set(columns) <= {"result", "batch_result"} or (
        rolling is not None and set(columns) <= {"result", ROLLING.format(rolling)}
    )
    if columns == ["batch_result"]:
        title = style.title_for(name, "batch result")
    elif is_result:
        title = style.title_for(name, "running result")
    else:
        title = style.title_for(name, ", ".join(labels))
    if frame.height == 0:
        return message_chart(EMPTY, title, height=height)
    band = [BAND_LOW, BAND_HIGH] if band_label else []
    data = frame.select("step", pl.col("event").cast(pl.String), *columns, *band)
    notes: list[str] = []
    if band_label:
        data = data.with_columns(
            pl.when(pl.col("event") == "reset").then(None).otherwise(pl.col(c)).alias(c)
            for c in band
        )
        notes.append(f"band: {band_label} of the running result at each step")
    bad = sum(count_not_finite(data, c) for c in columns)
    nulls = sum(data.get_column(c).null_count() for c in columns)
    smoothed_columns: list[str] = []
    if smoothing is not None:
        data = _smoothed(data, columns, float(smoothing))
        smoothed_columns = [SMOOTHED.format(c) for c in columns]
        notes.append(f"smoothing {smoothing:g}: exponential moving average over the faint raw line")
    drawn = downsample(data, [*columns, *smoothed_columns, *band], max_rows, always=_not_update())
    if drawn.height < data.height:
        notes.append(f"{drawn.height:,} of {data.height:,} steps drawn (extremes kept)")
    if bad:
        notes.append(f"{bad:,} NaN or infinite value(s) are not drawn")
    if nulls and any(c.startswith("batch_") for c in columns):
        notes.append("resets have no batch values")
    drawn = json_safe(drawn)
    # the drawn series keep their column names (what the data says); legends and
    # tooltips say them in words
    names = {c: lab for c, lab in zip(columns, labels, strict=True)}
    names.update({SMOOTHED.format(c): f"{lab}, smoothed" for c, lab in names.copy().items()})
    smoothed_labels = smoothed_columns
    labels = list(columns)
    rules, rules_note = _event_rules(alt, drawn)
    notes.append(rules_note)
    zoom = step_zoom(alt, "zoom_steps")
    steps = drawn.get_column("step")
    x = step_axis(alt, "step", steps=[steps.min(), steps.max()])
    all_labels = [*labels, *smoothed_labels]
    values = [v for lab in [*all_labels, *band] for v in drawn.get_column(lab).to_list()]
    states = all(c.startswith(("running_", "batch_")) and c != "batch_result" for c in columns)
    y_title = (
        (name if name != "history" else "result")
        if is_result
        else ", ".join(names[c] for c in columns)
    )
    y_options = {
        "title": y_title.replace("_", " "),
        "scale": style.value_scale(values, include_zero=states),
        "axis": alt.Axis(format=NUMBER),
    }
    y = alt.Y("value:Q", **y_options)
    colors = _series_colors(columns)
    legend = alt.Legend(
        title=None,
        orient="top",
        direction="horizontal",
        labelExpr=f"{json.dumps(names)}[datum.label] || datum.label",
        symbolOpacity=1,
    )
    color = alt.Color(
        "series:N",
        sort=all_labels,
        scale=alt.Scale(domain=all_labels, range=colors + _smoothed_colors(columns, smoothing)),
        legend=legend if len(all_labels) > 1 else None,
    )
    batch_labels = [lab for c, lab in zip(columns, labels, strict=True) if c.startswith("batch_")]
    line_labels = [lab for lab in labels if lab not in batch_labels]
    pick = alt.selection_point(fields=["series"], bind="legend", name="pick_series")
    several = len(all_labels) > 1

    def folded(series: Sequence[str]) -> Any:
        return (
            alt.Chart(drawn)
            .transform_fold(list(series), as_=["series", "value"])
            .encode(x=x, y=y, color=color)
        )

    def faded(chart: Any, full: float) -> Any:
        if not several:
            return chart
        return chart.encode(
            opacity=alt.when(pick).then(alt.value(full)).otherwise(alt.value(full * 0.15))
        )

    layers: list[Any] = []
    if band_label:  # the interval band, under every line
        layers.append(
            alt.Chart(drawn)
            .mark_area(color=style.colors().result, opacity=0.16, interpolate="linear")
            .encode(
                x=x,
                y=alt.Y(f"{BAND_LOW}:Q", **y_options),
                y2=f"{BAND_HIGH}:Q",
            )
        )
    if batch_labels:  # light points and a thin line, under everything else
        batch_base = folded(batch_labels)
        layers.append(faded(batch_base.mark_line(strokeWidth=1), 0.35))
        layers.append(faded(batch_base.mark_circle(size=14), 0.6))
    raw_opacity = 0.3 if smoothed_labels else 1.0
    if line_labels:
        line_base = folded(line_labels)
        point = drawn.height <= FEW_POINTS and not smoothed_labels
        layers.append(faded(line_base.mark_line(strokeWidth=2, point=point), raw_opacity))
    if smoothed_labels:
        layers.append(faded(folded(smoothed_labels).mark_line(strokeWidth=2.2), 1.0))
    layers[0] = layers[0].add_params(zoom)
    if several:
        layers[-1] = layers[-1].add_params(pick)
    hover = alt.selection_point(
        fields=["step"], nearest=True, on="pointerover", empty=False, name="hover_step"
    )
    tooltip = [
        alt.Tooltip("step:Q", format=style.STEP_FORMAT),
        alt.Tooltip("event:N"),
        *(alt.Tooltip(f"{lab}:Q", title=names[lab], format=NUMBER) for lab in all_labels),
        *(
            alt.Tooltip(f"{c}:Q", title=f"{band_label}: {side}", format=NUMBER)
            for c, side in zip(band, ("low", "high"), strict=False)
        ),
    ]
    hover_rule = (
        alt.Chart(drawn)
        .mark_rule(color=style.colors().neutral)
        .encode(
            x="step:Q",
            opacity=alt.when(hover).then(alt.value(0.7)).otherwise(alt.value(0.0)),
            tooltip=tooltip,
        )
        .add_params(hover)
    )
    hover_points = (
        folded(line_labels + smoothed_labels or labels)
        .mark_point(filled=True, size=46)
        .encode(opacity=alt.when(hover).then(alt.value(1.0)).otherwise(alt.value(0.0)))
    )
    layers += [hover_points, hover_rule] + ([rules] if rules is not None else [])
    chart = alt.layer(*layers)
    if rules is not None:
        chart = chart.resolve_scale(color="independent")
    return chart.properties(width=width, height=height, title=_title(title, notes))
