"""ipywidgets views: live view, history scrubber, stream and threshold explorers, playground.

The widget classes import ipywidgets and altair when first used; the pure logic
behind them (:mod:`.throttle`, :mod:`.card`, :mod:`.teaching`, :mod:`.panels`)
imports neither and is tested without a browser.

Examples
--------
>>> import interactive_metrics as im
>>> m = im.Mean()
>>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
>>> view = m.widget()  # follows update_state as it happens
>>> view.summary.value.count("im-live-result")
1
>>> view.close()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from interactive_metrics.widgets.card import metric_card
from interactive_metrics.widgets.teaching import Batch, sum_mean_lesson
from interactive_metrics.widgets.throttle import Throttle

if TYPE_CHECKING:
    from interactive_metrics.metric import Metric
    from interactive_metrics.streams import Streams
    from interactive_metrics.widgets.explorer import StreamExplorer
    from interactive_metrics.widgets.live import LiveView
    from interactive_metrics.widgets.playground import Playground
    from interactive_metrics.widgets.scrubber import HistoryScrubber
    from interactive_metrics.widgets.threshold import ThresholdExplorer

__all__ = [
    "Batch",
    "HistoryScrubber",
    "LiveView",
    "Playground",
    "StreamExplorer",
    "ThresholdExplorer",
    "Throttle",
    "metric_card",
    "metric_widget",
    "streams_widget",
    "sum_mean_lesson",
]

_LAZY = {
    "LiveView": "live",
    "HistoryScrubber": "scrubber",
    "Playground": "playground",
    "StreamExplorer": "explorer",
    "ThresholdExplorer": "threshold",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


METRIC_KINDS = ("live", "scrubber")
STREAM_KINDS = ("explorer", "live")
THRESHOLD_KINDS = ("thresholds",)
"""What metrics (and Streams) that keep counts per threshold add: the threshold explorer."""


def _kinds(source: Any, kinds: tuple[str, ...]) -> tuple[str, ...]:
    from interactive_metrics.charts.curve_charts import has_threshold_counts

    return (*kinds, *THRESHOLD_KINDS) if has_threshold_counts(source) else kinds


def _thresholds(source: Any, kind: str, kinds: tuple[str, ...], options: dict[str, Any]) -> Any:
    if kind in THRESHOLD_KINDS and kind in _kinds(source, kinds):
        from interactive_metrics.widgets.threshold import ThresholdExplorer

        return ThresholdExplorer(source, **options)
    return None


def metric_widget(metric: Metric, kind: str = "live", **options: Any) -> Any:
    """The widget ``metric.widget(kind)`` returns: a live view or a history scrubber.

    A metric that keeps counts per threshold (``AUC``, ``PrecisionAtRecall``, ...)
    also has ``"thresholds"``: the :class:`ThresholdExplorer`.
    """
    explorer = _thresholds(metric, kind, METRIC_KINDS, options)
    if explorer is not None:
        return explorer
    if kind == "live":
        from interactive_metrics.widgets.live import LiveView

        return LiveView(metric, **options)
    if kind == "scrubber":
        from interactive_metrics.widgets.scrubber import HistoryScrubber

        return HistoryScrubber(metric, **options)
    raise ValueError(
        f"`kind` must be one of {_kinds(metric, METRIC_KINDS)}, got {kind!r}; "
        "use 'live' to follow updates or 'scrubber' to step through the history"
    )


def streams_widget(streams: Streams, kind: str = "explorer", **options: Any) -> Any:
    """The widget ``streams.widget(kind)`` returns: the stream explorer or a live view.

    A Streams of a metric that keeps counts per threshold also has ``"thresholds"``.
    """
    explorer = _thresholds(streams, kind, STREAM_KINDS, options)
    if explorer is not None:
        return explorer
    if kind == "explorer":
        from interactive_metrics.widgets.explorer import StreamExplorer

        return StreamExplorer(streams, **options)
    if kind == "live":
        from interactive_metrics.widgets.live import LiveView

        return LiveView(streams, **options)
    raise ValueError(
        f"`kind` must be one of {_kinds(streams, STREAM_KINDS)}, got {kind!r}; "
        "use 'explorer' to compare streams or 'live' to follow updates"
    )
