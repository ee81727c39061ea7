"""The HTML card a metric shows as the last expression of a notebook cell.

Pure string building (no widget library): the card reads the history buffer's
``result`` column directly and draws an inline SVG sparkline of at most
:data:`SPARK_POINTS` points, so showing a metric with a million-step history
stays a matter of milliseconds.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from interactive_metrics.metric import Metric

__all__ = [
    "INTERVAL_LEVEL",
    "breakdown_with_intervals",
    "format_value",
    "interval_text",
    "metric_card",
    "sparkline_points",
    "sparkline_svg",
    "streams_card",
]

INTERVAL_LEVEL = 0.95
"""The confidence level of the intervals cards and the stream explorer show."""

SPARK_POINTS = 120
"""The most points a sparkline draws (min and max of 60 bins)."""


def format_value(value: Any) -> str:
    """A number as people read it (:func:`~interactive_metrics.charts.style.format_number`).

    About 4 significant digits and thousands separators, like every chart and
    the report; an array shows its first six values.

    Examples
    --------
    >>> format_value(16.0), format_value(2 / 3), format_value(float("nan")), format_value(1e6)
    ('16', '0.6667', 'NaN', '1,000,000')
    >>> format_value(0.879107), format_value(123456.7), format_value(1e20)
    ('0.8791', '123,457', '1e+20')
    >>> format_value(np.array([0.5, 0.25])), format_value("pump_b")
    ('[0.5, 0.25]', 'pump_b')
    """
    from interactive_metrics.charts.style import format_number

    array = np.asarray(value)
    if array.dtype.kind not in "biufc":  # a key part (text), not a number
        return str(value)
    if array.ndim:
        flat = array.ravel()
        shown = ", ".join(format_value(v) for v in flat[:6])
        more = ", …" if flat.size > 6 else ""
        return f"[{shown}{more}]"
    return format_number(float(array))


def sparkline_points(values: np.ndarray, points: int = SPARK_POINTS) -> np.ndarray:
    """At most ``points`` values of ``values`` that keep its shape (bins' extremes, in order).

    Non-finite values are dropped first.

    Examples
    --------
    >>> sparkline_points(np.array([1.0, 5.0, 2.0, np.inf, 3.0]))
    array([1., 5., 2., 3.])
    >>> sparkline_points(np.r_[np.zeros(500), 7.0, np.zeros(499)], points=8)
    array([0., 0., 7., 0., 0.])
    """
    from interactive_metrics.widgets.panels import keep_rows

    finite = np.asarray(values[np.isfinite(values)], dtype=np.float64)
    return finite[keep_rows(finite, points)]


def sparkline_svg(
    values: np.ndarray, width: int = 120, height: int = 28, color: str | None = None
) -> str:
    """An inline SVG polyline of ``values`` (downsampled); empty when fewer than 2 points.

    ``color`` defaults to the running result's colour of every chart
    (:data:`~interactive_metrics.charts.style.RESULT_COLOR`).

    Examples
    --------
    >>> svg = sparkline_svg(np.array([0.0, 1.0, 0.5]))
    >>> svg.startswith("<svg") and "polyline" in svg
    True
    >>> sparkline_svg(np.array([1.0]))
    ''
    """
    points = sparkline_points(np.asarray(values, dtype=np.float64))
    if points.size < 2:
        return ""
    if color is None:
        from interactive_metrics.charts.style import RESULT_COLOR as color
    low, high = float(points.min()), float(points.max())
    span = high - low if high > low else 1.0
    pad = 2.0
    x = np.linspace(pad, width - pad, points.size)
    y = height - pad - (points - low) / span * (height - 2 * pad)
    if high == low:
        y = np.full(points.size, height / 2)
    coordinates = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y, strict=True))
    return (
        f'<svg class="im-sparkline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="result over steps">'
        f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{coordinates}"/>'
        f'<circle cx="{x[-1]:.1f}" cy="{y[-1]:.1f}" r="2.2" fill="{color}"/></svg>'
    )


def interval_text(metric: Any, level: float = INTERVAL_LEVEL) -> str:
    """``"95% Wilson interval 0.4902 – 0.9433"`` for a metric's result, or ``""``.

    Empty when the metric has no closed form (and is no
    :class:`~interactive_metrics.Bootstrap`), has no data yet, has a non-scalar
    result, or its interval is not finite: a card never fails for want of one.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.BinaryAccuracy()
    >>> m.update_state([1] * 10, [1] * 8 + [0] * 2)
    >>> interval_text(m)
    '95% Wilson interval 0.4902 – 0.9433'
    >>> interval_text(im.Mean()), interval_text(im.BinaryAccuracy())  # none; no data yet
    ('', '')
    """
    from interactive_metrics.bootstrap import Bootstrap
    from interactive_metrics.charts.style import format_interval, interval_label
    from interactive_metrics.intervals import closed_form

    is_bootstrap = isinstance(metric, Bootstrap)
    kind = "bootstrap" if is_bootstrap else closed_form(metric)
    if kind is None or getattr(metric, "result_shape", None) != () or not metric.step:
        return ""
    try:
        low, high = metric.interval(level)
        if not (math.isfinite(float(low)) and math.isfinite(float(high))):
            return ""
    except (ValueError, TypeError):  # e.g. a ratio metric whose result is not the ratio here
        return ""
    return f"{interval_label(level, kind)} {format_interval(low, high)}"


def metric_card(metric: Metric) -> str:
    """The HTML card of a metric: class and name, result, state, steps, sparkline.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Mean(name="loss")
    >>> m.update_state([1, 3])
    >>> m.update_state([8])
    >>> card = metric_card(m)
    >>> "loss" in card and "4</span>" in card and "2 steps" in card and "<svg" in card
    True
    """
    title = html.escape(type(metric).__name__)
    name = html.escape(metric.name)
    state = metric.state
    fields = " · ".join(
        f"{html.escape(key)} <b>{html.escape(format_value(value))}</b>"
        for key, value in state.items()
    )
    steps = metric.step
    spark = ""
    if metric.records_history and metric.result_shape == ():
        results = metric.history.get_column("result").to_numpy()
        if len(results) > 1:
            spark = sparkline_svg(results)
    result = html.escape(format_value(metric.result()))
    muted = "opacity:.7;font-size:12px"
    interval = interval_text(metric)
    interval_line = (
        f'<div class="im-card-interval" style="{muted}">{html.escape(interval)}</div>'
        if interval
        else ""
    )
    return (
        '<div class="im-card" style="display:inline-flex;gap:14px;align-items:center;'
        "padding:8px 12px;border:1px solid rgba(127,127,127,.35);border-radius:8px;"
        'font-family:var(--jp-ui-font-family,sans-serif);line-height:1.35">'
        f'<div><div style="{muted}">{title} <code>{name}</code></div>'
        f'<span class="im-card-result" style="font-size:20px;font-weight:600">{result}</span>'
        f"{interval_line}"
        f'<div style="{muted}">{fields}</div>'
        f'<div class="im-card-steps" style="{muted}">{steps} step{"" if steps == 1 else "s"}'
        f"</div></div>{spark}</div>"
    )


SPARK_STREAMS = 6
"""The most streams a Streams card draws a sparkline for (the farthest from merged first)."""


def streams_card(streams: Any) -> str:
    """The HTML card of a :class:`~interactive_metrics.Streams`: merged, macro, worst, sparklines.

    Shows the merged (micro) and macro results, the number of streams, the stream
    farthest from the merged result by name, and a sparkline of the result over
    steps for up to :data:`SPARK_STREAMS` streams (the farthest from merged first).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> s = im.Streams(im.Mean(name="hit_rate"))
    >>> s.update_state([1.0] * 8 + [0.0, 0.0], stream=["big"] * 8 + ["small"] * 2)
    >>> s.update_state([1.0, 0.0], stream=["big", "small"])
    >>> card = s._repr_html_()
    >>> "2 streams" in card and "farthest from merged: <b class='im-card-worst'>small</b>" in card
    True
    >>> card.count("<polyline")
    2
    """
    from interactive_metrics.charts.style import (
        format_interval,
        format_number,
        stream_colors,
        stream_label,
        with_stream_label,
    )

    metric = streams.metric
    title = html.escape(type(metric).__name__)
    name = html.escape(metric.name)
    keys = list(streams.streams)
    muted = "opacity:.7;font-size:12px"
    micro = html.escape(format_value(streams.result())) if keys else "0"
    macro = html.escape(format_value(streams.macro_result())) if keys else "–"
    worst = ""
    order: list[int] = []
    key_names = getattr(streams, "key_names", ())
    breakdown = with_stream_label(breakdown_with_intervals(streams), key_names) if keys else None
    merged_interval = interval_text(streams.merged()) if keys else ""
    if breakdown is not None and breakdown["result"].dtype.is_numeric():
        results = breakdown["result"].to_numpy().astype(np.float64, copy=False)
        distance = np.abs(results - float(np.asarray(streams.result()).ravel()[0]))
        finite = np.isfinite(distance)
        order = [int(i) for i in np.argsort(np.where(finite, -distance, np.inf), kind="stable")]
        order = [i for i in order if finite[i]]
        if order:
            i = order[0]
            bounds = ""
            if "ci_low" in breakdown.columns:
                low, high = breakdown["ci_low"][i], breakdown["ci_high"][i]
                shown = format_interval(low, high)
                if shown != "–":
                    bounds = f" <span class='im-card-worst-interval'>({html.escape(shown)})</span>"
            worst = (
                f"<div style='{muted}'>farthest from merged: <b class='im-card-worst'>"
                f"{html.escape(stream_label(breakdown['stream'][i]))}</b> "
                f"{html.escape(format_number(results[i]))}{bounds}</div>"
            )
    lines = []
    history = with_stream_label(streams.history, key_names) if order else None
    # by label: a composite key's parts are joined in the "stream" column (a · 1)
    colors = dict(zip(map(stream_label, keys), stream_colors(keys, keys), strict=True))
    for i in order[:SPARK_STREAMS]:
        key = breakdown["stream"][i] if breakdown is not None else None
        if history is None:
            break
        from interactive_metrics.widgets.panels import pl_col_is_in

        values = history.filter(pl_col_is_in(history, [key]))["result"].to_numpy()
        spark = sparkline_svg(values, width=90, height=20, color=colors.get(stream_label(key)))
        if spark:
            lines.append(
                f"<div style='display:flex;gap:6px;align-items:center;{muted}'>{spark}"
                f"<span>{html.escape(stream_label(key))}</span></div>"
            )
    more = len(keys) - len(lines)
    if lines and more > 0:
        lines.append(f"<div style='{muted}'>and {more} more</div>")
    n = len(keys)
    return (
        '<div class="im-card im-streams-card" style="display:inline-flex;gap:16px;'
        "align-items:flex-start;padding:8px 12px;border:1px solid rgba(127,127,127,.35);"
        'border-radius:8px;font-family:var(--jp-ui-font-family,sans-serif);line-height:1.35">'
        f'<div><div style="{muted}">Streams of {title} <code>{name}</code></div>'
        f'<span style="{muted}">merged (micro)</span> '
        f'<span class="im-card-result" style="font-size:20px;font-weight:600">{micro}</span> '
        f'<span style="{muted}">macro</span> <b class="im-card-macro">{macro}</b>'
        + (
            f'<div class="im-card-interval" style="{muted}">merged: '
            f"{html.escape(merged_interval)}</div>"
            if merged_interval
            else ""
        )
        + f'<div class="im-card-streams" style="{muted}">{n} stream{"" if n == 1 else "s"} · '
        f"{streams.step:,} step{'' if streams.step == 1 else 's'}</div>{worst}</div>"
        f"<div>{''.join(lines)}</div></div>"
    )


def breakdown_with_intervals(streams: Any, level: float = INTERVAL_LEVEL) -> Any:
    """``streams.breakdown()``, with ``ci_low``/``ci_high`` when the metric has an interval.

    Closed-form or bootstrap intervals at ``level``
    (:func:`~interactive_metrics.intervals.breakdown_intervals`); the plain breakdown
    when the metric has neither, or a non-scalar result. Never raises for want of one.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> s = im.Streams(im.Mean())
    >>> s.update_state([1.0, 2.0], stream=["a", "b"])
    >>> "ci_low" in breakdown_with_intervals(s).columns
    False
    """
    from interactive_metrics.bootstrap import Bootstrap
    from interactive_metrics.intervals import breakdown_intervals, closed_form

    metric = streams.metric
    if metric.result_shape == () and (
        isinstance(metric, Bootstrap) or closed_form(metric) is not None
    ):
        try:
            return breakdown_intervals(streams, level)
        except (ValueError, TypeError):
            pass
    return streams.breakdown()


def collection_card(collection: Any) -> str:
    """The HTML card of a :class:`~interactive_metrics.MetricCollection`: a line per member.

    Each line: the member's name, its class and its result; then the step count.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> metrics = im.MetricCollection({"loss": im.Mean(), "recall": im.Recall()})
    >>> metrics.update_state(values=[0.25, 0.75], y_true=[1, 1], y_pred=[0.9, 0.2])
    >>> card = collection_card(metrics)
    >>> card.count("im-card-member"), "<code>loss</code>" in card, "0.5</b>" in card
    (2, True, True)
    """
    muted = "opacity:.7;font-size:12px"
    lines = "".join(
        f'<div class="im-card-member"><code>{html.escape(name)}</code> '
        f'<span style="{muted}">{html.escape(type(metric).__name__)}</span> '
        f"<b>{html.escape(format_value(metric.result()))}</b></div>"
        for name, metric in collection.items()
    )
    steps = collection.step
    return (
        '<div class="im-card im-collection-card" style="display:inline-block;padding:8px 12px;'
        "border:1px solid rgba(127,127,127,.35);border-radius:8px;"
        'font-family:var(--jp-ui-font-family,sans-serif);line-height:1.5">'
        f'<div style="{muted}">MetricCollection of {len(collection)}</div>{lines}'
        f'<div class="im-card-steps" style="{muted}">{steps} step{"" if steps == 1 else "s"}'
        "</div></div>"
    )
