"""The live view: a metric's result, running chart and last batch, following updates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import ipywidgets
except ImportError as error:  # pragma: no cover - exercised without the extra only
    from interactive_metrics.widgets._deps import missing

    raise missing("ipywidgets") from error

from interactive_metrics.charts import style
from interactive_metrics.widgets import _vega
from interactive_metrics.widgets.follow import Follower
from interactive_metrics.widgets.panels import history_rows, live_streams_html, live_summary_html
from interactive_metrics.widgets.throttle import Throttle

if TYPE_CHECKING:
    from interactive_metrics.metric import Metric
    from interactive_metrics.streams import Streams

__all__ = ["LiveView"]


class LiveView(ipywidgets.VBox):
    """Follow a metric (or Streams) as ``update_state`` is called: result, chart, last batch.

    Every event of the metric calls the view; it redraws only when its
    :class:`~interactive_metrics.widgets.Throttle` says so (at most 10 times a
    second, and within 5% of the loop's time), and once more when the notebook
    cell that ran the loop finishes, so the view always ends on the final state.

    Parameters
    ----------
    metric : Metric or Streams
        What to follow; for a :class:`~interactive_metrics.Streams`, the merged
        result, the macro result and the stream farthest from the merged one.
    interval : float
        The shortest time between two redraws, in seconds.
    max_points : int
        The most history rows sent to the chart (long histories are downsampled,
        keeping spikes and the last step).
    chart : bool
        Show the running chart (``False``: the numbers only).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Mean()
    >>> view = LiveView(m)
    >>> for batch in ([1, 3], [5, 7], [8]):
    ...     m.update_state(batch)
    >>> view.refresh()  # a loop is redrawn at most 10 times a second; this draws now
    >>> ">4.8</span>" in view.summary.value, m.result()
    (True, 4.8)
    >>> view.close()  # stop following
    """

    def __init__(
        self,
        metric: Metric | Streams,
        *,
        interval: float = 0.1,
        max_points: int = 400,
        chart: bool = True,
    ) -> None:
        from interactive_metrics import Streams

        self.source = metric
        self.streams: Streams | None = None
        if isinstance(metric, Streams):  # a Streams: chart its merged metric
            self.streams = metric
            metric = metric.merged()
        self.metric: Metric = metric
        self.max_points = max_points
        self.throttle = Throttle(interval=interval)
        self.summary = ipywidgets.HTML()
        self.chart: Any = None
        children: list[Any] = [self.summary]
        if chart:
            title = style.title_for(metric.name, "running result")
            spec = _vega.running_chart(history_rows(metric, max_points), title)
            self.chart = _vega.jupyter_chart(spec)
            children.append(self.chart)
        super().__init__(children=children)
        self.add_class("im-live-view")
        self.refresh()
        self.follower = Follower(self.source, self)

    def _on_cell_done(self, *args: Any) -> None:
        self.follower.on_cell_done()

    def refresh(self) -> None:
        """Redraw now with the metric's current state and history."""
        started = self.throttle.clock()
        if self.streams is not None:  # the merged copy of this event (made once per event)
            self.metric = self.streams.merged()
        summary = live_summary_html(self.metric)
        if self.streams is not None:
            summary += live_streams_html(self.streams)
        self.summary.value = summary
        if self.chart is not None:
            rows = history_rows(self.metric, self.max_points)
            self.chart.spec = _vega.with_rows(self.chart.spec, rows)
        self.throttle.drawn(started)

    def close(self) -> None:
        """Stop following the metric and close the widget."""
        follower = getattr(self, "follower", None)
        if follower is not None and follower.source is not None:
            follower.stop()
        if self.chart is not None:
            self.chart.close()
        self.summary.close()
        super().close()
