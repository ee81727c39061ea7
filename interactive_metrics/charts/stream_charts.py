"""Charts of a per-stream metric: the breakdown (which stream fails) and per-stream history."""

from __future__ import annotations

import json
import math
from typing import Any

import polars as pl

from interactive_metrics.charts import style
from interactive_metrics.charts._common import (
    WIDTH,
    altair,
    count_not_finite,
    json_safe,
    message_chart,
    note,
    require_columns,
    require_scalar,
    step_axis,
    step_zoom,
)
from interactive_metrics.charts.downsample import downsample

__all__ = ["stream_breakdown", "stream_history"]

NUMBER = style.NUMBER_FORMAT
ABOVE, BELOW, SAME = "above merged", "below merged", "same as merged"
MERGED = "merged (micro)"
MACRO = "macro (mean of streams)"
EMPTY = "no streams yet: call update_state with a `stream`"
MERGED_LINE = "(merged)"


def _number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"`stream_breakdown` draws a scalar result, but {what} is {value!r}; "
            "break down a metric with a single-number result"
        ) from None
    return number


def _breakdown_of(
    streams: Any, merged: float | None, macro: float | None
) -> tuple[pl.DataFrame, float, float, str]:
    if isinstance(streams, pl.DataFrame):
        frame = streams
        require_columns(frame, ["stream", "result"], "stream_breakdown", "pass streams.breakdown()")
        require_scalar(frame, ["result"], "stream_breakdown")
        if merged is None:
            raise ValueError(
                "`merged` is needed with a breakdown DataFrame (the merged, micro result); "
                "pass merged=streams.result(), or pass the Streams object itself"
            )
        if macro is None:
            counted = frame.filter(pl.col("weight") > 0) if "weight" in frame.columns else frame
            mean = counted.get_column("result").mean()
            macro = float(mean) if isinstance(mean, (int, float)) else math.nan
        return frame, float(merged), float(macro), "streams"
    breakdown = getattr(streams, "breakdown", None)
    if breakdown is None:
        raise TypeError(
            f"`streams` must be a Streams object or its breakdown() DataFrame, got "
            f"{type(streams).__name__}; wrap the metric: im.Streams(metric)"
        )
    frame = style.with_stream_label(breakdown(), getattr(streams, "key_names", ()))
    name = str(getattr(getattr(streams, "metric", None), "name", None) or "streams")
    if frame.height:
        require_scalar(frame, ["result"], "stream_breakdown")
    merged_value = _number(streams.result() if merged is None else merged, "the merged result")
    macro_value = _number(streams.macro_result() if macro is None else macro, "the macro result")
    return frame, merged_value, macro_value, name


def stream_breakdown(
    streams: Any,
    *,
    higher_is_better: bool | None = None,
    max_streams: int = 30,
    merged: float | None = None,
    macro: float | None = None,
    interval: float | None = None,
    correction: str = "holm",
    width: int = 420,
) -> Any:
    """Each stream's result against the merged (micro) and macro results, and its share.

    One row per stream: a dot at the stream's result joined to the merged result
    (so the distance is what stands out), the merged result as a solid rule and
    the macro result (the plain mean of the streams' results) as a dashed one;
    beside it, the stream's share of the total weight. A stream far below the
    merged result with a small share is the one an average hides.

    Parameters
    ----------
    streams : Streams or polars.DataFrame
        A ``Streams`` metric, or its ``breakdown()`` table (then pass ``merged``).
    higher_is_better : bool, optional
        Streams on the bad side of the merged result are "worse than merged" (red,
        :data:`~interactive_metrics.charts.style.WORSE_COLOR`) and the worst come
        first. By default the direction comes from the metric's name
        (:func:`~interactive_metrics.charts.style.higher_is_better`: precision up,
        errors down); when it cannot tell (a plain mean), rows are sorted by
        result, highest first, and are "above" or "below" merged, in blue and grey.
    max_streams : int
        With more streams, only the ``max_streams`` farthest from the merged
        result are drawn (the subtitle says so).
    merged, macro : float, optional
        Override the merged and macro results (defaults: ``streams.result()``
        and ``streams.macro_result()``; for a DataFrame the macro defaults to the
        mean of its ``result`` column).
    interval : float, optional
        A confidence level in (0, 1), e.g. ``0.95``: an error bar from ``ci_low`` to
        ``ci_high`` per stream, and the streams that
        :func:`~interactive_metrics.intervals.stream_differences` flags (their
        interval excludes the result of all the other streams merged, corrected
        across streams) ringed and marked "differs". The intervals are closed-form
        where the metric has one (Wilson, Student t), else a
        ``Streams(Bootstrap(...))``'s percentile intervals; any other metric raises
        a ``ValueError`` that says to wrap it in ``im.Bootstrap``. With a breakdown
        DataFrame, its ``ci_low``/``ci_high`` (and ``differs``, if any) columns are
        drawn, e.g. from ``stream_differences(streams)``.
    correction : {"holm", "bonferroni"}
        The family-wise correction of ``differs`` across streams.
    width : int
        Width of the result panel in pixels; the height grows with the streams.

    Returns
    -------
    altair.HConcatChart

    Examples
    --------
    >>> import polars as pl
    >>> table = pl.DataFrame(
    ...     {"stream": ["a", "b", "c"], "weight": [90.0, 5.0, 5.0], "result": [0.9, 0.2, 0.8]}
    ... )
    >>> table = table.with_columns(share=pl.col("weight") / 100)
    >>> spec = stream_breakdown(table, merged=0.86, higher_is_better=True).to_dict()
    >>> rules = spec["datasets"][spec["hconcat"][0]["layer"][2]["data"]["name"]]
    >>> [(r["line"], round(r["value"], 4)) for r in rules]
    [('merged (micro)', 0.86), ('macro (mean of streams)', 0.6333)]
    >>> spec["hconcat"][0]["layer"][0]["encoding"]["y"]["sort"]
    ['b', 'c', 'a']
    """
    alt = altair()
    if not (isinstance(max_streams, int) and max_streams >= 1):
        raise ValueError(f"`max_streams` must be a positive integer, got {max_streams!r}")
    frame, merged_value, macro_value, name = _breakdown_of(streams, merged, macro)
    title = style.title_for(name, "breakdown")
    intervals: pl.DataFrame | None = None
    interval_label = ""
    if interval is not None and frame.height:
        intervals, interval_label = _stream_intervals(streams, frame, interval, correction)
    if higher_is_better is None and name != "streams":
        higher_is_better = style.higher_is_better(name)
    if frame.height == 0:
        return message_chart(EMPTY, title)
    if "share" not in frame.columns and "weight" in frame.columns:
        total = frame.get_column("weight").sum()
        frame = frame.with_columns(share=pl.col("weight") / total if total else pl.lit(0.0))
    keep = [
        c for c in ("stream", "weight", "share", "result", "contribution") if c in frame.columns
    ]
    data = frame.select(keep).with_columns(
        pl.col("stream").cast(pl.String).fill_null("(null)"),
        (pl.col("result") - merged_value).alias("difference"),
        pl.lit(merged_value).alias("merged"),
    )
    notes: list[str] = []
    if intervals is not None:
        data = data.join(intervals, on="stream", how="left", maintain_order="left")
        flagged = int(data.get_column(DIFFERS).sum())
        notes.append(
            f"bars: {interval_label}s · ringed, '{DIFFERS}': its interval excludes the rest "
            "of the data "
            f"({CORRECTIONS.get(correction, correction)} across {intervals.height:,} streams; "
            f"{flagged:,} flagged)"
        )
    if data.height > max_streams:
        notes.append(
            f"{max_streams} of {data.height:,} streams shown: those farthest from the merged result"
        )
        data = data.sort(pl.col("difference").abs(), descending=True, nulls_last=True).head(
            max_streams
        )
    bad = count_not_finite(data, "result")
    if bad:
        notes.append(f"{bad} stream(s) with a NaN or infinite result are not drawn")
    same = pl.col("difference") == 0
    if higher_is_better is None:
        data = data.sort("result", descending=True, nulls_last=True)
        side = pl.when(same).then(pl.lit(SAME)).when(pl.col("difference") > 0)
        data = data.with_columns(side.then(pl.lit(ABOVE)).otherwise(pl.lit(BELOW)).alias("side"))
        theme = style.colors()
        sides = {ABOVE: theme.better, SAME: theme.neutral, BELOW: theme.neutral}
    else:
        worse = pl.col("difference") < 0 if higher_is_better else pl.col("difference") > 0
        data = data.sort("result", descending=not higher_is_better, nulls_last=True)
        data = data.with_columns(
            pl.when(same)
            .then(pl.lit(SAME))
            .when(worse)
            .then(pl.lit(style.WORSE_LABEL))
            .otherwise(pl.lit(style.BETTER_LABEL))
            .alias("side")
        )
        sides = {
            style.WORSE_LABEL: style.colors().worse,
            SAME: style.colors().neutral,
            style.BETTER_LABEL: style.colors().better,
        }
    present = set(data.get_column("side").drop_nulls().to_list())
    domain = [side for side in sides if side in present] or list(sides)[:1]
    colors = [sides[side] for side in domain]
    order = data.get_column("stream").to_list()
    data = json_safe(data)
    row_step = 22 if len(order) <= 15 else 16
    axis = alt.Axis(labelLimit=160)
    if intervals is not None:  # the streams that differ: "· differs" by the name, in bold
        named = json.dumps(
            {k: True for k, d in zip(data["stream"], data[DIFFERS], strict=True) if d}
        )
        test = f"{named}[datum.label] === true"
        axis = alt.Axis(
            labelLimit=200,
            labelExpr=f"{test} ? datum.label + ' · {DIFFERS}' : datum.label",
            labelFontWeight=alt.condition(test, alt.value(700), alt.value(400)),
        )
    y = alt.Y("stream:N", sort=order, title="stream", axis=axis)
    tooltip = [
        alt.Tooltip("stream:N"),
        alt.Tooltip("result:Q", format=NUMBER),
        alt.Tooltip("difference:Q", title="result − merged", format="+,.4~r"),
        *([alt.Tooltip("weight:Q", format=NUMBER)] if "weight" in data.columns else []),
        *(
            [alt.Tooltip("share:Q", title="share of weight", format=style.SHARE_FORMAT)]
            if "share" in keep
            else []
        ),
        *([alt.Tooltip("contribution:Q", format=NUMBER)] if "contribution" in data.columns else []),
        *(
            [
                alt.Tooltip("ci_low:Q", title=f"{interval_label}: low", format=NUMBER),
                alt.Tooltip("ci_high:Q", title=f"{interval_label}: high", format=NUMBER),
                *(
                    [alt.Tooltip("rest_result:Q", title="rest of the data", format=NUMBER)]
                    if "rest_result" in data.columns
                    else []
                ),
                *(
                    [alt.Tooltip("p_adjusted:Q", title="adjusted p-value", format=".3~g")]
                    if "p_adjusted" in data.columns
                    else []
                ),
                alt.Tooltip(f"{DIFFERS}:N", title=DIFFERS),
            ]
            if intervals is not None
            else []
        ),
    ]
    color = alt.Color(
        "side:N",
        scale=alt.Scale(domain=domain, range=colors),
        legend=alt.Legend(title=None, orient="bottom"),
    )
    base = alt.Chart(data).encode(y=y, tooltip=tooltip)
    extent = [*data.get_column("result").to_list(), merged_value, macro_value]
    if intervals is not None:
        extent += [*data.get_column("ci_low").to_list(), *data.get_column("ci_high").to_list()]
    x_result = alt.X(
        "merged:Q" if intervals is None else "ci_low:Q",
        title="result",
        scale=style.value_scale(extent),
        axis=alt.Axis(format=NUMBER),
    )
    marks: list[Any] = []
    if intervals is None:  # a stick from the merged result to the stream's
        marks.append(
            base.mark_rule(strokeWidth=2, opacity=0.6).encode(
                x=x_result, x2="result:Q", color=color
            )
        )
    else:  # an error bar with caps, a ring and a word on the streams that differ
        marks.append(
            base.mark_rule(strokeWidth=2, opacity=0.75).encode(
                x=x_result, x2="ci_high:Q", color=color
            )
        )
        for end in ("ci_low", "ci_high"):
            marks.append(
                base.mark_tick(thickness=2, size=10, opacity=0.75).encode(x=f"{end}:Q", color=color)
            )
        differs = base.transform_filter(alt.datum[DIFFERS] == True)  # noqa: E712
        marks.append(
            differs.mark_point(size=260, filled=False, strokeWidth=2).encode(
                x="result:Q", color=color
            )
        )
    dots = base.mark_circle(size=90, opacity=1).encode(x="result:Q", color=color)
    lines = pl.DataFrame({"line": [MERGED, MACRO], "value": [merged_value, macro_value]})
    rules = (
        alt.Chart(json_safe(lines))
        .mark_rule(strokeWidth=1.5)
        .encode(
            x="value:Q",
            strokeDash=alt.StrokeDash(
                "line:N",
                scale=alt.Scale(domain=[MERGED, MACRO], range=[[1, 0], [5, 4]]),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=[alt.Tooltip("line:N", title="rule"), alt.Tooltip("value:Q", format=NUMBER)],
        )
    )
    result_panel = alt.layer(*marks, dots, rules).properties(width=width, height=alt.Step(row_step))
    panels = [result_panel]
    if "share" in data.columns:
        top_share = data.get_column("share").max()
        largest_share = float(top_share) if isinstance(top_share, (int, float)) else 1.0
        share_base = alt.Chart(data).encode(
            y=alt.Y("stream:N", sort=order, axis=None),
            x=alt.X(
                "share:Q",
                title="share of weight",
                axis=alt.Axis(format="%", tickCount=3),
                scale=alt.Scale(domainMax=largest_share * 1.3),
            ),
            tooltip=tooltip,
        )
        share_panel = alt.layer(
            share_base.mark_bar(color=style.colors().neutral, height={"band": 0.6}),
            share_base.mark_text(align="left", dx=3, fontSize=11).encode(
                text=alt.Text("share:Q", format=style.SHARE_FORMAT)
            ),
        ).properties(width=max(110, width // 3), height=alt.Step(row_step))
        panels.append(share_panel)
    subtitle = note(
        [
            f"merged {style.format_number(merged_value)} · "
            f"macro {style.format_number(macro_value)}",
            *notes,
        ]
    )
    return (
        alt.hconcat(*panels, spacing=8)
        .resolve_scale(y="shared")
        .properties(title=alt.TitleParams(title, subtitle=subtitle, anchor="start"))
    )


DIFFERS = "differs"
"""The word the breakdown chart writes by a stream whose interval excludes the rest."""
CORRECTIONS = {"holm": "Holm", "bonferroni": "Bonferroni"}


def _stream_intervals(
    streams: Any, frame: pl.DataFrame, level: Any, correction: str
) -> tuple[pl.DataFrame, str]:
    """Per stream label: ``ci_low``, ``ci_high``, ``differs`` (and the test's numbers)."""
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(
            f"`interval` must be a confidence level strictly between 0 and 1 (e.g. 0.95), "
            f"got {level!r}"
        )
    if isinstance(streams, pl.DataFrame):
        require_columns(
            frame,
            ["ci_low", "ci_high"],
            "stream_breakdown",
            "pass the Streams itself, or stream_differences(streams)",
        )
        table = frame
        label = style.interval_label(level, None)
    else:
        from interactive_metrics.bootstrap import Bootstrap
        from interactive_metrics.intervals import closed_form, stream_differences

        metric = streams.metric
        try:
            found = stream_differences(streams, float(level), correction)
        except ValueError as error:
            if isinstance(metric, Bootstrap) or closed_form(metric) is not None:
                raise
            raise ValueError(
                f"{error}; for streams wrap the metric: "
                f"im.Streams(im.Bootstrap({type(metric).__name__}(...), replicates=200))"
            ) from None
        table = style.with_stream_label(found, getattr(streams, "key_names", ()))
        kind = "bootstrap" if isinstance(metric, Bootstrap) else closed_form(metric)
        label = style.interval_label(level, kind)
    extra = [c for c in ("rest_result", "p_adjusted") if c in table.columns]
    differs = pl.col(DIFFERS) if DIFFERS in table.columns else pl.lit(False)
    out = table.select(
        pl.col("stream").cast(pl.String).fill_null("(null)"),
        pl.col("ci_low", "ci_high").cast(pl.Float64),
        *extra,
        differs.fill_null(False).alias(DIFFERS),
    )
    return out, label


def stream_history(
    streams: Any,
    field: str = "result",
    *,
    max_streams: int = 12,
    merged: bool = True,
    rolling: int | None = None,
    max_rows: int = 4000,
    width: int = WIDTH,
    height: int = 280,
) -> Any:
    """Each stream's history as a line; click a legend entry to highlight one stream.

    Parameters
    ----------
    streams : Streams or polars.DataFrame
        A ``Streams`` metric, or its long ``history`` (``step``, ``stream``, columns).
    field : str
        A history column (``result``, ``batch_result``, ``running_count``, ...) or a
        state field name (``total`` means ``running_total``).
    max_streams : int
        With more streams, only the ``max_streams`` whose last value is farthest
        from the median of the streams' last values are drawn.
    merged : bool
        Also draw the merged metric's line (``style.MERGED_COLOR``), from
        ``streams.merged().history``,
        when ``streams`` is a Streams object.
    rolling : int, optional
        Draw each stream's result over its last ``rolling`` batches
        (``streams.rolling``) instead of its running result: what shows a stream
        that degrades after a long good start.
    max_rows : int
        Longer histories are downsampled to about this many rows in all.
    width, height : int
        Size in pixels.

    Returns
    -------
    altair.LayerChart

    Examples
    --------
    >>> import polars as pl
    >>> long = pl.DataFrame(
    ...     {
    ...         "step": [1, 1, 2, 3],
    ...         "event": ["update"] * 4,
    ...         "stream": ["a", "b", "a", "b"],
    ...         "result": [0.5, 0.9, 0.6, 0.2],
    ...     }
    ... )
    >>> spec = stream_history(long).to_dict()
    >>> rows = spec["datasets"][spec["data"]["name"]]
    >>> [(r["stream"], r["step"], r["result"]) for r in rows]
    [('a', 1, 0.5), ('b', 1, 0.9), ('a', 2, 0.6), ('b', 3, 0.2)]
    """
    alt = altair()
    if isinstance(streams, pl.DataFrame):
        frame, name = streams, "streams"
    else:
        found = getattr(streams, "history", None)
        if not isinstance(found, pl.DataFrame):
            raise TypeError(
                f"`streams` must be a Streams object or its history DataFrame, got "
                f"{type(streams).__name__}; wrap the metric: im.Streams(metric)"
            )
        frame = style.with_stream_label(found, getattr(streams, "key_names", ()))
        name = str(getattr(getattr(streams, "metric", None), "name", None) or "streams")
        if rolling is not None:
            if field != "result":
                raise ValueError(f"`rolling` draws the result, got field={field!r}")
            window = streams.rolling(rolling).with_columns(pl.lit("update").alias("event"))
            frame = style.with_stream_label(window, getattr(streams, "key_names", ()))
    all_keys = (
        list(streams.streams)
        if hasattr(streams, "streams") and not isinstance(streams, pl.DataFrame)
        else frame.get_column("stream").unique(maintain_order=True).to_list()
        if "stream" in frame.columns
        else []
    )
    column = field
    if column not in frame.columns and f"running_{field}" in frame.columns:
        column = f"running_{field}"
    if column not in frame.columns or column in ("step", "stream", "event"):
        options = [c for c in frame.columns if c not in ("step", "stream", "event")]
        raise ValueError(
            f"`field` must name a history column or a state field, got {field!r}; "
            f"choose from {options}"
        )
    require_columns(frame, ["step", "stream"], "stream_history", "pass streams.history")
    require_scalar(frame, [column], "stream_history")
    label = style.column_label(column)
    title = (
        style.title_for(name, "stream history")
        if column == "result"
        else f"{style.title_for(name, label)}, per stream"
    )
    if rolling is not None:
        title = f"{name}: result over the last {rolling} batches, per stream"
        label = f"result over the last {rolling} batches"
    if frame.height == 0:
        return message_chart(EMPTY, title, height=height)
    has_event = "event" in frame.columns
    event = [pl.col("event")] if has_event else []
    data = frame.select("step", *event, "stream", column)
    if not data.get_column("step").is_sorted():
        data = data.sort("step", maintain_order=True)
    notes: list[str] = []
    count = data.get_column("stream").n_unique()
    if count > max_streams:
        last = data.group_by("stream").agg(pl.col(column).drop_nans().last().alias("last"))
        median = last.get_column("last").median()
        chosen = last.sort(
            (pl.col("last") - (median if isinstance(median, (int, float)) else 0.0)).abs(),
            descending=True,
            nulls_last=True,
        ).head(max_streams)
        data = data.filter(pl.col("stream").is_in(chosen.get_column("stream").implode()))
        notes.append(
            f"{max_streams} of {count:,} streams shown: those whose last {field} is farthest "
            "from the median"
        )
    shown = min(count, max_streams)
    overall: pl.DataFrame | None = None
    if merged and not isinstance(streams, pl.DataFrame) and hasattr(streams, "merged"):
        merged_history = streams.merged().history
        if rolling is not None:
            merged_history = (
                streams.merged().rolling(rolling).with_columns(pl.lit("update").alias("event"))
            )
        if column in merged_history.columns:
            overall = merged_history.select(
                "step",
                *(e.cast(pl.String) for e in event),
                pl.lit(MERGED_LINE).alias("stream"),
                pl.col(column).cast(frame.schema[column]),
            )
    lines = shown + (overall is not None)
    before = data.height
    always = (pl.col("event") != "update") if has_event else None
    data = downsample(data, [column], max_rows * shown // lines, by="stream", always=always)
    data = data.with_columns(
        pl.col("stream").cast(pl.String).fill_null("(null)"), *(e.cast(pl.String) for e in event)
    )
    if overall is not None:
        before += overall.height
        data = pl.concat([data, downsample(overall, [column], max_rows // lines, always=always)])
    if data.height < before:
        notes.append(f"{data.height:,} of {before:,} rows drawn (extremes kept)")
    bad = count_not_finite(data, column)
    if bad:
        notes.append(f"{bad:,} NaN or infinite value(s) are not drawn")
    data = json_safe(data)
    # each stream keeps its colour (its place among all streams), whatever is shown
    shown_labels = set(data.get_column("stream").to_list()) - {MERGED_LINE}
    streams_shown = [k for k in all_keys if style.stream_label(k) in shown_labels]
    domain = [style.stream_label(k) for k in streams_shown]
    colors = style.stream_colors(streams_shown, all_keys)
    if overall is not None:
        domain.append(MERGED_LINE)
        colors.append(style.colors().merged)
    pick = alt.selection_point(fields=["stream"], bind="legend", name="pick_stream")
    zoom = step_zoom(alt, "zoom_steps")
    legend = alt.Legend(title="stream", symbolLimit=max_streams + 1, labelLimit=140)
    line = (
        alt.Chart(data)
        .mark_line(strokeWidth=2, point=data.height <= 80)
        .encode(
            x=step_axis(alt, "step"),
            y=alt.Y(
                f"{column}:Q",
                title=label,
                scale=style.value_scale(
                    data.get_column(column).to_list(),
                    include_zero=column.startswith(("running_", "batch_"))
                    and column != "batch_result",
                ),
                axis=alt.Axis(format=NUMBER),
            ),
            color=alt.Color(
                "stream:N", legend=legend, scale=alt.Scale(domain=domain, range=colors)
            ),
            opacity=alt.when(pick).then(alt.value(1.0)).otherwise(alt.value(0.12)),
            tooltip=[
                alt.Tooltip("stream:N"),
                alt.Tooltip("step:Q", format=style.STEP_FORMAT),
                alt.Tooltip(f"{column}:Q", title=label, format=NUMBER),
            ],
        )
        .add_params(pick, zoom)
    )
    return line.properties(
        width=width,
        height=height,
        title=alt.TitleParams(title, subtitle=note(notes), anchor="start"),
    )
