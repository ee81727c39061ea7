"""The stream explorer: pick streams, see their rows, their history against the merged one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import ipywidgets
except ImportError as error:  # pragma: no cover - exercised without the extra only
    from interactive_metrics.widgets._deps import missing

    raise missing("ipywidgets") from error

from interactive_metrics.widgets import _vega
from interactive_metrics.widgets.panels import (
    MERGED_LABEL,
    breakdown_html,
    stream_options,
    stream_rows,
)

if TYPE_CHECKING:
    from interactive_metrics.streams import Streams

__all__ = ["StreamExplorer"]


class StreamExplorer(ipywidgets.VBox):
    """Pick streams of a :class:`~interactive_metrics.Streams` and compare them.

    A multi-select lists the streams sorted by result (worst first) or by weight
    (biggest first); the selected streams' breakdown rows, the micro (merged)
    and macro results side by side, and each selected stream's result over
    steps against the merged result. It shows the streams as they were when
    created.

    Parameters
    ----------
    streams : Streams
        The per-stream metric to explore.
    sort_by : {"result", "weight"}
        How the list is sorted at first.
    selected : sequence, optional
        The streams selected at first; default: the stream whose result is
        farthest from the merged result.
    max_points : int
        The most history rows per line sent to the chart.
    chart : bool
        Show the history chart.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> s = im.Streams(im.Mean())
    >>> s.update_state([1.0] * 98 + [0.0, 0.0], stream=["big"] * 98 + ["small"] * 2)
    >>> explorer = StreamExplorer(s, chart=False)
    >>> explorer.picker.value  # the stream farthest from the merged result
    ('small',)
    >>> explorer.picker.value = ("big", "small")
    >>> explorer.table.value.count("im-stream-row")
    2
    """

    def __init__(
        self,
        streams: Streams,
        *,
        sort_by: str = "result",
        selected: Any = None,
        max_points: int = 300,
        chart: bool = True,
    ) -> None:
        self.streams = streams
        self.max_points = max_points
        self.breakdown = streams.breakdown()
        self.long_history = streams.history
        self.merged = streams.merged()
        self.micro, self.macro = streams.result(), streams.macro_result()
        if selected is None:
            selected = self._farthest()
        self.sort = ipywidgets.ToggleButtons(
            options=[("worst result first", "result"), ("biggest weight first", "weight")],
            value=sort_by,
            description="sort",
        )
        self.picker = ipywidgets.SelectMultiple(
            options=stream_options(self.breakdown, sort_by),
            value=tuple(selected),
            rows=min(max(self.breakdown.height, 2), 8),
            description="streams",
            layout=ipywidgets.Layout(width="420px"),
        )
        self.table = ipywidgets.HTML()
        self.chart: Any = None
        children: list[Any] = [self.sort, self.picker, self.table]
        if chart:
            title = f"{type(streams.metric).__name__} per stream"
            spec = _vega.streams_chart(self._rows(), title, MERGED_LABEL)
            self.chart = _vega.jupyter_chart(spec)
            children.append(self.chart)
        super().__init__(children=children)
        self.add_class("im-explorer")
        self.sort.observe(self._on_sort, names="value")
        self.picker.observe(lambda _: self.show(), names="value")
        self.show()

    def _farthest(self) -> list[Any]:
        table = self.breakdown.drop_nulls("result")
        if table.height == 0:
            return []
        distance = (table["result"] - float(self.micro)).abs()
        return [table["stream"][int(distance.arg_max() or 0)]]

    def _rows(self) -> list[dict[str, Any]]:
        return stream_rows(self.long_history, self.merged, self.picker.value, self.max_points)

    def _on_sort(self, change: dict[str, Any]) -> None:
        chosen = self.picker.value
        self.picker.options = stream_options(self.breakdown, change["new"])
        self.picker.value = chosen

    def show(self) -> None:
        """Redraw the table and the chart for the selected streams."""
        self.table.value = breakdown_html(self.breakdown, self.picker.value, self.micro, self.macro)
        if self.chart is not None:
            self.chart.spec = _vega.with_rows(self.chart.spec, self._rows())
