"""What each widget shows, as plain data and HTML: no widget library needed.

The widget classes only wire these functions to ipywidgets and altair, so every
number a widget displays or sends to the browser is tested here, headless.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from interactive_metrics.widgets.card import format_value

if TYPE_CHECKING:
    import polars as pl

    from interactive_metrics.metric import Metric
    from interactive_metrics.streams import Streams
    from interactive_metrics.widgets.teaching import Lesson

__all__ = [
    "history_rows",
    "keep_rows",
    "lesson_html",
    "live_streams_html",
    "live_summary_html",
    "step_panel_html",
]

MUTED = "opacity:.7;font-size:12px"
INTERVAL_COLUMN = "interval"
"""The explorer table's column of ``ci_low – ci_high``."""
TABLE_STYLE = (
    "<style>.im-table{border-collapse:collapse;margin:4px 0}"
    ".im-table th,.im-table td{padding:2px 10px;text-align:right}"
    ".im-table tbody tr:nth-child(odd){background:rgba(127,127,127,.08)}</style>"
)


def keep_rows(values: np.ndarray, max_points: int) -> np.ndarray:
    """Row positions that draw ``values`` with at most ~``max_points`` points.

    Splits the rows into ``max_points // 4`` bins and keeps each bin's first, last,
    smallest and largest row, so spikes and the latest value always survive.

    Examples
    --------
    >>> keep_rows(np.arange(5.0), 100)
    array([0, 1, 2, 3, 4])
    >>> values = np.zeros(1000)
    >>> values[500] = 9.0
    >>> kept = keep_rows(values, 40)
    >>> len(kept) <= 40, 500 in kept, int(kept[-1])
    (True, True, 999)
    """
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    bins = max(max_points // 4, 1)
    edges = np.linspace(0, n, bins + 1).astype(np.intp)
    starts = edges[:-1]
    clean = np.where(np.isfinite(values), values, 0.0)
    bin_of = np.repeat(np.arange(bins), np.diff(edges))
    position = np.arange(n)
    low = np.minimum.reduceat(clean, starts)[bin_of] == clean
    high = np.maximum.reduceat(clean, starts)[bin_of] == clean
    first_low = np.minimum.reduceat(np.where(low, position, n), starts)
    first_high = np.minimum.reduceat(np.where(high, position, n), starts)
    kept = np.concatenate([starts, edges[1:] - 1, first_low, first_high])
    return np.unique(kept)


def _json_number(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def history_rows(
    metric: Metric, max_points: int = 400, columns: Sequence[str] = ("result", "batch_result")
) -> list[dict[str, Any]]:
    """The history rows a chart receives: ``step`` and ``columns``, downsampled, JSON-safe.

    Reads the history buffer's columns directly (no DataFrame is built) and turns
    NaN and infinities into ``None`` (JSON has no NaN).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Mean()
    >>> m.update_state([1, 3])
    >>> m.update_state([8])
    >>> history_rows(m, columns=["result"])
    [{'step': 1, 'result': 2.0}, {'step': 2, 'result': 4.0}]
    """
    if not metric.records_history or metric.result_shape != ():
        return []
    frame = metric.history
    if frame.height == 0:
        return []
    kept = keep_rows(frame.get_column("result").to_numpy(), max_points)
    picked = frame.select("step", *columns)[kept]
    steps = picked.get_column("step").to_list()
    values = {name: picked.get_column(name).to_list() for name in columns}
    return [
        {"step": step, **{name: _json_number(values[name][i]) for name in columns}}
        for i, step in enumerate(steps)
    ]


def _cell(frame: Any, column: str) -> Any:
    """The value of ``column`` in the one-row ``frame`` (an array for array columns)."""
    value = frame.get_column(column)[0]
    return value.to_numpy() if hasattr(value, "to_numpy") else value


def live_summary_html(metric: Metric) -> str:
    """The live view's header: result, step count, and what the last batch added.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Sum(name="errors")
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> text = live_summary_html(m)
    >>> ">4</span>" in text, "1 step" in text, "total +4" in text
    (True, True, True)
    """
    name = html.escape(f"{type(metric).__name__} {metric.name}")
    result = html.escape(format_value(metric.result()))
    steps = metric.step
    last = ""
    if metric.records_history:
        row = metric.history.tail(1)
        if row.height:
            event = str(row.get_column("event")[0])
            if event == "update":
                added = ", ".join(
                    f"{f.name} +{format_value(_cell(row, f'batch_{f.name}'))}"
                    for f in metric.fields
                )
                batch_result = format_value(_cell(row, "batch_result"))
                last = f"last batch: result {batch_result} ({added})"
            else:
                last = f"last event: {event}"
    return (
        f'<div class="im-live" style="font-family:var(--jp-ui-font-family,sans-serif)">'
        f'<span style="{MUTED}">{name}</span> '
        f'<span class="im-live-result" style="font-size:20px;font-weight:600">{result}</span> '
        f'<span class="im-live-steps" style="{MUTED}">{steps} step{"" if steps == 1 else "s"}'
        f"</span><br><span class='im-live-last' style=\"{MUTED}\">{html.escape(last)}</span></div>"
    )


def step_panel_html(frame: pl.DataFrame, fields: Sequence[str], row: int | None) -> str:
    """The scrubber's table at one history row: each field's batch and running value.

    ``row`` is a position in ``frame`` (the metric's history); ``None`` shows step 0,
    the fresh state, whose values the caller passes in as the frame's absence.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Mean()
    >>> m.update_state([1, 3])
    >>> m.update_state([8])
    >>> text = step_panel_html(m.history, ["total", "count"], 1)
    >>> "step 2" in text and "<td class='im-running-total'>12</td>" in text
    True
    """
    if row is None:
        head = "<b class='im-step'>step 0</b> (fresh state)"
        cells = [(f, "", "0") for f in fields]
        result, batch_result = "0", ""
    else:
        values: Mapping[str, Any] = frame.row(row, named=True)
        head = f"<b class='im-step'>step {values['step']}</b> ({values['event']})"

        def show(x: Any) -> str:
            return "–" if x is None else format_value(x)

        cells = [(f, show(values[f"batch_{f}"]), show(values[f"running_{f}"])) for f in fields]
        result, batch_result = show(values["result"]), show(values["batch_result"])
    body = "".join(
        f"<tr><th>{html.escape(f)}</th><td class='im-batch-{f}'>{html.escape(b)}</td>"
        f"<td class='im-running-{f}'>{html.escape(r)}</td></tr>"
        for f, b, r in cells
    )
    body += (
        f"<tr><th>result</th><td class='im-batch-result'>{html.escape(batch_result)}</td>"
        f"<td class='im-result'>{html.escape(result)}</td></tr>"
    )
    return (
        f"<div class='im-scrub-panel'>{TABLE_STYLE}{head}<table class='im-table'>"
        "<thead><tr><th></th><th>this batch</th><th>running</th></tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def lesson_html(lesson: Lesson) -> str:
    """The playground's results: the four numbers, the table per batch, the merge step.

    Examples
    --------
    >>> from interactive_metrics.widgets.teaching import Batch, sum_mean_lesson
    >>> text = lesson_html(sum_mean_lesson([Batch((1, 3, 5, 7), (1, 1, 0, 0))]))
    >>> "<b class='im-pg-sum'>4</b>" in text, "<b class='im-pg-weighted-mean'>2</b>" in text
    (True, True)
    >>> "unweighted mean (weights ignored) <b class='im-pg-mean'>4</b>" in text
    True
    """
    f = format_value
    summary = (
        f"<div class='im-pg-summary'>Sum <b class='im-pg-sum'>{f(lesson.sum)}</b> · "
        f"weighted mean <b class='im-pg-weighted-mean'>{f(lesson.weighted_mean)}</b> · "
        f"unweighted mean (weights ignored) <b class='im-pg-mean'>{f(lesson.plain_mean)}</b>"
        f" · mean of batch means <b class='im-pg-mean-of-means'>"
        f"{f(lesson.mean_of_batch_means)}</b></div>"
    )
    rows = "".join(
        f"<tr><td>{r.batch}</td><td>{r.size}</td><td>{f(r.weight)}</td><td>{f(r.batch_sum)}</td>"
        f"<td>{f(r.batch_mean)}</td><td>{f(r.running_sum)}</td><td>{f(r.running_mean)}</td>"
        f"<td>{f(r.running_plain_mean)}</td></tr>"
        for r in lesson.rows
    )
    table = (
        "<table class='im-table im-pg-rows'><thead><tr><th>batch</th><th>n values</th>"
        "<th>weight</th><th>batch sum</th><th>batch weighted mean</th><th>running sum</th>"
        "<th>running weighted mean</th><th>running unweighted mean</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
    merge = ""
    if lesson.merge is not None:
        m = lesson.merge
        first = "batch 1" if m.split == 1 else f"batches 1–{m.split}"
        merge = (
            f"<div class='im-pg-merge'>Merge: metric A ({first}) gives weighted mean "
            f"{f(m.first)}, metric B (the rest) {f(m.second)}; "
            f"<code>A.merge_state([B])</code> → <b class='im-pg-merged'>{f(m.merged)}</b> "
            f"(the pooled weighted mean), while (A + B) / 2 = {f(m.mean_of_two)}.</div>"
        )
    explanation = f"<p class='im-pg-why'>{html.escape(lesson.explanation)}</p>"
    return f"<div class='im-playground-out'>{TABLE_STYLE}{summary}{explanation}{table}{merge}</div>"


def stale_html(shown: str, error: str) -> str:
    """The playground's last numbers, greyed out under the error that stopped their update.

    Examples
    --------
    >>> text = stale_html("<b class='im-pg-sum'>4</b>", "`values` must be numbers")
    >>> "not updated" in text and "im-pg-stale" in text and "opacity:.4" in text
    True
    """
    return (
        "<div class='im-pg-stale'>"
        "<div class='im-pg-stale-note' style='color:#c0392b;font-weight:600'>"
        f"not updated: {html.escape(error)}. The numbers below are from the last valid input."
        f"</div><div style='opacity:.4;filter:grayscale(1)'>{shown}</div></div>"
    )


SORTS = {"result": "worst result first", "weight": "biggest weight first"}
"""How the explorer sorts its list and its table."""


def sort_streams(breakdown: pl.DataFrame, sort_by: str = "result") -> pl.DataFrame:
    """The breakdown sorted as the explorer shows it: by result ascending, or weight descending.

    Streams without a result go last; ties keep the order streams first appeared.

    Examples
    --------
    >>> import polars as pl
    >>> table = pl.DataFrame({"stream": ["a", "b"], "weight": [90.0, 10.0], "result": [0.9, 0.2]})
    >>> sort_streams(table)["stream"].to_list(), sort_streams(table, "weight")["stream"].to_list()
    (['b', 'a'], ['a', 'b'])
    """
    if sort_by not in SORTS:
        raise ValueError(
            f"`sort_by` must be one of {list(SORTS)}, got {sort_by!r}; "
            "'result' puts the worst stream first, 'weight' the biggest"
        )
    return breakdown.sort(
        sort_by, descending=sort_by == "weight", nulls_last=True, maintain_order=True
    )


def stream_options(breakdown: pl.DataFrame, sort_by: str = "result") -> list[tuple[str, Any]]:
    """The explorer's choices: ``(label, key)`` per stream, sorted by ``result`` or ``weight``.

    Sorted ascending by result (the worst first) or descending by weight (the
    biggest first); the share of weight reads as a percentage, as in the table.

    Examples
    --------
    >>> import polars as pl
    >>> table = pl.DataFrame(
    ...     {"stream": ["a", "b"], "weight": [90.0, 10.0], "share": [0.9, 0.1],
    ...      "result": [0.9, 0.2]}
    ... )
    >>> stream_options(table)
    [('b · 0.2 · 10.0% of weight', 'b'), ('a · 0.9 · 90.0% of weight', 'a')]
    >>> [key for _, key in stream_options(table, "weight")]
    ['a', 'b']
    """
    from interactive_metrics.charts.style import format_share, stream_label

    options = []
    for row in sort_streams(breakdown, sort_by).iter_rows(named=True):
        label = (
            f"{stream_label(row['stream'])} · {format_value(row['result'])} · "
            f"{format_share(row['share'])} of weight"
        )
        options.append((label, row["stream"]))
    return options


def breakdown_html(
    breakdown: pl.DataFrame,
    selected: Sequence[Any],
    micro: Any,
    macro: Any,
    sort_by: str = "result",
    colors: Mapping[Any, str] | None = None,
    interval_label: str = "95% interval",
    merged_interval: str = "",
) -> str:
    """The explorer's table: micro and macro side by side, then the selected streams' rows.

    A breakdown with ``ci_low`` and ``ci_high`` (e.g. from
    :func:`~interactive_metrics.intervals.breakdown_intervals`) shows them as one
    column ``low – high`` headed by the level of ``interval_label`` (the method in
    its tooltip); ``merged_interval`` is said beside the micro result.

    Rows follow ``sort_by`` (as the list does), shares read as percentages, an
    all-null column (``contribution`` of most metrics) is left out, and with no
    stream selected the table says so instead of showing an empty header.
    ``colors`` (stream key -> colour) puts each stream's chart colour by its name.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> s = im.Streams(im.Mean())
    >>> s.update_state([1.0] * 98 + [0.0, 0.0], stream=["big"] * 98 + ["small"] * 2)
    >>> text = breakdown_html(s.breakdown(), ["small"], s.result(), s.macro_result())
    >>> "<b class='im-micro'>0.98</b>" in text, "<b class='im-macro'>0.5</b>" in text
    (True, True)
    >>> "<td class='im-share'>2.0%</td>" in text
    True
    >>> "no stream selected" in breakdown_html(s.breakdown(), [], s.result(), s.macro_result())
    True
    """
    import polars as pl

    from interactive_metrics.charts.style import format_interval, format_share, stream_label

    n = breakdown.height
    sides = (
        f"<div class='im-micro-macro'>micro (all samples pooled) <b class='im-micro'>"
        f"{format_value(micro)}</b>"
        + (
            f" <span class='im-micro-interval'>({html.escape(merged_interval)})</span>"
            if merged_interval
            else ""
        )
        + f" · macro (mean of {n} stream result{'' if n == 1 else 's'}, "
        f"each counts once) <b class='im-macro'>{format_value(macro)}</b></div>"
    )
    chosen = sort_streams(breakdown.filter(pl_col_is_in(breakdown, selected)), sort_by)
    if chosen.height == 0:
        empty = (
            f"<div class='im-no-selection' style='{MUTED}'>no stream selected: pick one or more "
            "in the list (Ctrl/Cmd-click for several)</div>"
        )
        return f"<div class='im-explorer-table'>{sides}{empty}</div>"
    columns = [c for c in breakdown.columns if breakdown[c].null_count() < n or c == "stream"]
    bounds = "ci_low" in columns and "ci_high" in columns
    if bounds:  # one column "low – high" in place of the two, after the result
        columns = [c for c in columns if c not in ("ci_low", "ci_high")]
        at = columns.index("result") + 1 if "result" in columns else len(columns)
        columns.insert(at, INTERVAL_COLUMN)
        chosen = chosen.with_columns(pl.struct("ci_low", "ci_high").alias(INTERVAL_COLUMN))
    interval_header = f"{interval_label.split(' ')[0]} interval"
    head = "".join(
        f"<th title='{html.escape(interval_label)}'>{html.escape(interval_header)}</th>"
        if c == INTERVAL_COLUMN
        else f"<th>{html.escape(c)}</th>"
        for c in columns
    )
    colors = colors or {}

    def cell(column: str, value: Any) -> str:
        if column == "stream":
            swatch = colors.get(value)
            dot = f"<span style='color:{swatch}'>&#9679;</span> " if swatch is not None else ""
            return f"<td class='im-stream'>{dot}{html.escape(stream_label(value))}</td>"
        if column == "share":
            return f"<td class='im-share'>{format_share(value)}</td>"
        if column == INTERVAL_COLUMN:
            shown = format_interval(value["ci_low"], value["ci_high"])
            return f"<td class='im-interval'>{html.escape(shown)}</td>"
        return f"<td>{html.escape(_show(value))}</td>"

    body = "".join(
        "<tr class='im-stream-row'>"
        + "".join(cell(c, v) for c, v in zip(columns, row, strict=True))
        + "</tr>"
        for row in chosen.select(columns).iter_rows()
    )
    return (
        f"<div class='im-explorer-table'>{TABLE_STYLE}{sides}<table class='im-table'>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _show(value: Any) -> str:
    return "–" if value is None else format_value(value)


def pl_col_is_in(frame: pl.DataFrame, keys: Sequence[Any]) -> Any:
    """``stream`` is one of ``keys`` (as an expression usable in ``filter``)."""
    import polars as pl

    return pl.col("stream").is_in(pl.Series(list(keys), dtype=frame["stream"].dtype).implode())


def stream_rows(
    long_history: pl.DataFrame,
    merged: Metric,
    selected: Sequence[Any],
    max_points: int = 300,
) -> list[dict[str, Any]]:
    """The explorer chart's rows: each selected stream's result over steps, and the merged one.

    Each line is downsampled on its own (:func:`keep_rows`); the merged line is
    labelled ``"merged (micro)"``.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> s = im.Streams(im.Mean())
    >>> s.update_state([1.0, 0.0], stream=["a", "b"])
    >>> s.update_state([1.0, 1.0], stream=["a", "b"])
    >>> for row in stream_rows(s.history, s.merged(), ["b"]):
    ...     print(row)
    {'step': 1, 'stream': 'b', 'result': 0.0}
    {'step': 2, 'stream': 'b', 'result': 0.5}
    {'step': 1, 'stream': 'merged (micro)', 'result': 0.5}
    {'step': 2, 'stream': 'merged (micro)', 'result': 0.75}
    """
    from interactive_metrics.charts.style import stream_label

    rows: list[dict[str, Any]] = []
    chosen = long_history.filter(pl_col_is_in(long_history, selected))
    for key in selected:
        part = chosen.filter(pl_col_is_in(chosen, [key]))
        result = part["result"].to_numpy()
        kept = keep_rows(result, max_points)
        steps = part["step"].to_numpy()[kept].tolist()
        values = result[kept].tolist()
        label = stream_label(key)
        rows += [
            {"step": s, "stream": label, "result": _json_number(v)}
            for s, v in zip(steps, values, strict=True)
        ]
    for row in history_rows(merged, max_points, columns=("result",)):
        rows.append({"step": row["step"], "stream": MERGED_LABEL, "result": row["result"]})
    return rows


MERGED_LABEL = "merged (micro)"


def live_streams_html(streams: Streams) -> str:
    """The live view's extra line for a Streams: macro result and the farthest stream.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> s = im.Streams(im.Mean())
    >>> s.update_state([1.0] * 98 + [0.0, 0.0], stream=["big"] * 98 + ["small"] * 2)
    >>> print(live_streams_html(s))
    <div ...>2 streams · macro 0.5 · farthest from merged: small 0</div>
    """
    keys = streams.streams
    text = f"{len(keys)} stream{'' if len(keys) == 1 else 's'}"
    if keys:
        results = streams.breakdown().get_column("result").to_numpy().astype(np.float64)
        text += f" · macro {format_value(streams.macro_result())}"
        if results.ndim == 1 and np.isfinite(results).any():
            distance = np.abs(np.where(np.isfinite(results), results, np.nan) - streams.result())
            worst = int(np.nanargmax(distance))
            text += f" · farthest from merged: {keys[worst]} {format_value(results[worst])}"
    return f"<div class='im-live-streams' style='{MUTED}'>{html.escape(text)}</div>"
