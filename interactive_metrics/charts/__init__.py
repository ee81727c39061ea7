"""Altair charts of a metric's history and of per-stream breakdowns.

Every chart is a pure function of tidy polars tables (``metric.history``,
``streams.breakdown()``, ``streams.history``) returning an altair chart. Importing
this package does not import altair; the first chart does, and a missing altair
raises an ImportError that says what to install. Long histories are downsampled
(:func:`downsample`) before vega-lite sees them, keeping extremes, resets and merges.
The conventions every chart and widget shares (stream colours, number formats,
titles, axis rules, the light and dark themes) live in :mod:`.style`.

Examples
--------
>>> import interactive_metrics as im
>>> m = im.Mean()
>>> m.update_state([1, 2, 3])
>>> m.update_state([10])
>>> chart = im.charts.sum_vs_mean(m)
>>> type(chart).__name__
'VConcatChart'
"""

from __future__ import annotations

from typing import Any

from interactive_metrics.charts.collection_charts import collection_history
from interactive_metrics.charts.curve_charts import (
    CURVE_KINDS,
    has_threshold_counts,
    pr_curve,
    roc_curve,
    threshold_table,
)
from interactive_metrics.charts.downsample import downsample
from interactive_metrics.charts.export import to_png, to_svg
from interactive_metrics.charts.metric_charts import batch_sums, history, mean_pair, sum_vs_mean
from interactive_metrics.charts.stream_charts import stream_breakdown, stream_history
from interactive_metrics.charts.style import use_theme

__all__ = [
    "COLLECTION_KINDS",
    "CURVE_KINDS",
    "METRIC_KINDS",
    "STREAM_KINDS",
    "batch_sums",
    "collection_history",
    "downsample",
    "history",
    "mean_pair",
    "kinds_for",
    "plot",
    "pr_curve",
    "roc_curve",
    "stream_breakdown",
    "stream_history",
    "sum_vs_mean",
    "threshold_table",
    "to_png",
    "to_svg",
    "use_theme",
]

METRIC_KINDS = {"history": history, "batch_sums": batch_sums, "sum_vs_mean": sum_vs_mean}
"""What ``metric.plot(kind=...)`` draws."""

STREAM_KINDS = {"breakdown": stream_breakdown, "history": stream_history}
"""What ``streams.plot(kind=...)`` draws."""

COLLECTION_KINDS = {"history": collection_history}
"""What ``collection.plot(kind=...)`` draws: small multiples, one panel per member."""


def kinds_for(source: Any, kinds: dict[str, Any]) -> dict[str, Any]:
    """The chart kinds ``source`` offers: ``kinds``, plus what its class adds.

    A metric that keeps counts per threshold (``AUC``, ``PrecisionAtRecall``, ...),
    or a Streams of one, adds :data:`CURVE_KINDS` (``"roc"``, ``"pr"``).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> list(kinds_for(im.AUC(), METRIC_KINDS))
    ['history', 'batch_sums', 'sum_vs_mean', 'roc', 'pr']
    >>> list(kinds_for(im.Streams(im.AUC()), STREAM_KINDS))
    ['breakdown', 'history', 'roc', 'pr']
    """
    if has_threshold_counts(source):
        return {**kinds, **CURVE_KINDS}
    return kinds


def plot(source: Any, kind: str, kinds: dict[str, Any], **options: Any) -> Any:
    """Draw ``kind`` (a key of ``kinds_for(source, kinds)``) of ``source``: what ``plot`` calls.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Sum()
    >>> m.update_state([1, 2])
    >>> plot(m, "pie", METRIC_KINDS)
    Traceback (most recent call last):
    ...
    ValueError: `kind` must be one of ['history', 'batch_sums', 'sum_vs_mean'], got 'pie'
    """
    kinds = kinds_for(source, kinds)
    chart = kinds.get(kind) if isinstance(kind, str) else None
    if chart is None:
        hint = ""
        if isinstance(kind, str) and kind in CURVE_KINDS:
            hint = (
                "; ROC and precision-recall curves need counts per threshold: use im.AUC() "
                "(or PrecisionAtRecall, RecallAtPrecision, ...)"
            )
        raise ValueError(f"`kind` must be one of {list(kinds)}, got {kind!r}{hint}")
    return chart(source, **options)
