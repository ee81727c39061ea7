"""The stream explorer: pick streams, see their rows, their history against the merged one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import ipywidgets
except ImportError as error:  # pragma: no cover - exercised without the extra only
    from interactive_metrics.widgets._deps import missing

    raise missing("ipywidgets") from error

from interactive_metrics.charts import style
from interactive_metrics.widgets import _vega
from interactive_metrics.widgets.card import (
    INTERVAL_LEVEL,
    breakdown_with_intervals,
    interval_text,
)
from interactive_metrics.widgets.follow import Follower
from interactive_metrics.widgets.panels import (
    MERGED_LABEL,
    SORTS,
    breakdown_html,
    sort_streams,
    stream_options,
    stream_rows,
)
from interactive_metrics.widgets.throttle import Throttle

if TYPE_CHECKING:
    from interactive_metrics.streams import Streams

__all__ = ["StreamExplorer"]


def _interval_label(metric: Any) -> str:
    from interactive_metrics.bootstrap import Bootstrap
    from interactive_metrics.intervals import closed_form

    kind = "bootstrap" if isinstance(metric, Bootstrap) else closed_form(metric)
    return style.interval_label(INTERVAL_LEVEL, kind)


class StreamExplorer(ipywidgets.VBox):
    """Pick streams of a :class:`~interactive_metrics.Streams` and compare them.

    A multi-select lists the streams sorted by result (worst first) or by weight
    (biggest first); the selected streams' breakdown rows (in the same order),
    the micro (merged) and macro results side by side, and each selected
    stream's result over steps against the merged result. When the metric has an
    interval (closed form, or a Bootstrap), the table shows each stream's 95% interval
    and the micro result's; otherwise none. Each stream keeps one
    colour for the life of the Streams (its place in ``streams.streams``), in the
    chart and in the table.

    The explorer follows the streams: every update, replay, merge or reset
    redraws it (at most ``1 / interval`` times a second, and once more when the
    notebook cell ends), keeping the selection.

    Parameters
    ----------
    streams : Streams
        The per-stream metric to explore.
    sort_by : {"result", "weight"}
        How the list is sorted at first.
    selected : sequence, optional
        The streams selected at first; default: the stream whose result is
        farthest from the merged result (chosen again on the first events while
        nothing is selected).
    max_points : int
        The most history rows per line sent to the chart.
    chart : bool
        Show the history chart.
    interval : float
        The shortest time between two redraws while following, in seconds.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> s = im.Streams(im.Mean())
    >>> explorer = StreamExplorer(s, chart=False)  # before any update: nothing to pick
    >>> s.update_state([1.0] * 98 + [0.0, 0.0], stream=["big"] * 98 + ["small"] * 2)
    >>> explorer.picker.value  # followed: the stream farthest from the merged result
    ('small',)
    >>> explorer.picker.value = ("big", "small")
    >>> explorer.table.value.count("im-stream-row")
    2
    >>> explorer.close()
    """

    def __init__(
        self,
        streams: Streams,
        *,
        sort_by: str = "result",
        selected: Any = None,
        max_points: int = 300,
        chart: bool = True,
        interval: float = 0.1,
    ) -> None:
        if sort_by not in SORTS:
            raise ValueError(
                f"`sort_by` must be one of {list(SORTS)}, got {sort_by!r}; "
                "'result' puts the worst stream first, 'weight' the biggest"
            )
        self.streams = streams
        self.source = streams
        self.max_points = max_points
        self.throttle = Throttle(interval=interval)
        self._auto_select = selected is None
        self._read()
        if selected is None:
            selected = self._farthest()
        self.sort = ipywidgets.ToggleButtons(
            options=[(label, key) for key, label in SORTS.items()],
            value=sort_by,
            style={"button_width": "150px"},
        )
        self.picker = ipywidgets.SelectMultiple(
            options=stream_options(self.breakdown, sort_by),
            value=tuple(selected),
            rows=self._rows_shown(),
            description="streams",
            layout=ipywidgets.Layout(width="100%", max_width="560px"),
        )
        self.table = ipywidgets.HTML()
        self.chart: Any = None
        sort_row = ipywidgets.HBox(
            [ipywidgets.Label("sort", layout=ipywidgets.Layout(width="90px")), self.sort],
            layout=ipywidgets.Layout(align_items="center"),
        )
        children: list[Any] = [sort_row, self.picker, self.table]
        if chart:
            title = style.title_for(streams.metric.name, "stream history")
            spec = _vega.streams_chart(self._chart_rows(), title, MERGED_LABEL, self._colors())
            self.chart = _vega.jupyter_chart(spec)
            children.append(self.chart)
        super().__init__(children=children, layout=ipywidgets.Layout(width="100%"))
        self.add_class("im-explorer")
        self.sort.observe(self._on_sort, names="value")
        self._quiet = False  # True while the explorer itself changes the picker
        self.picker.observe(self._on_pick, names="value")
        self.show()
        self.follower = Follower(streams, self)

    # -- what the streams hold now ------------------------------------------------------------

    def _read(self) -> None:
        streams = self.streams
        table = breakdown_with_intervals(streams, INTERVAL_LEVEL)
        self.breakdown = style.with_stream_label(table, streams.key_names)
        self.long_history = style.with_stream_label(streams.history, streams.key_names)
        self.merged = streams.merged()
        self.micro, self.macro = streams.result(), streams.macro_result()
        self.merged_interval = interval_text(self.merged, INTERVAL_LEVEL)
        self.interval_label = _interval_label(streams.metric)
        self.shown_step = streams.step

    def _rows_shown(self) -> int:
        return min(max(self.breakdown.height, 2), 8)

    def _farthest(self) -> list[Any]:
        table = self.breakdown.drop_nulls("result")
        if table.height == 0:
            return []
        distance = (table["result"] - float(self.micro)).abs()
        return [table["stream"][int(distance.arg_max() or 0)]]

    def selected(self) -> list[Any]:
        """The selected streams in the order of the chosen sort (as the list shows them)."""
        chosen = set(self.picker.value)
        order = sort_streams(self.breakdown, self.sort.value)["stream"].to_list()
        return [key for key in order if key in chosen]

    def _colors(self) -> dict[str, str]:
        """Label -> colour of the drawn lines: each stream's own colour, then the merged one."""
        keys = self.selected()
        colors = style.stream_colors(keys, self.streams.streams)
        drawn = {style.stream_label(k): c for k, c in zip(keys, colors, strict=True)}
        return {**drawn, MERGED_LABEL: style.colors().merged}

    def _chart_rows(self) -> list[dict[str, Any]]:
        return stream_rows(self.long_history, self.merged, self.selected(), self.max_points)

    # -- redraws ------------------------------------------------------------------------------

    def _on_pick(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self._auto_select = False  # a person chose: keep their choice
            self.show()

    def _set_picker(self, options: list[tuple[str, Any]], chosen: Any) -> None:
        self._quiet = True
        try:
            if options != list(self.picker.options):
                self.picker.options = options
                self.picker.rows = self._rows_shown()
            self.picker.value = tuple(chosen)
        finally:
            self._quiet = False

    def _on_sort(self, change: dict[str, Any]) -> None:
        self._set_picker(stream_options(self.breakdown, change["new"]), self.picker.value)
        self.show()

    def refresh(self) -> None:
        """Read the streams again (streams, results, histories); redraw, keeping the selection."""
        started = self.throttle.clock()
        self._read()
        chosen = [key for key in self.picker.value if key in set(self.streams.streams)]
        if not chosen and self._auto_select:
            chosen = self._farthest()
        self._auto_select = self._auto_select and not chosen
        self._set_picker(stream_options(self.breakdown, self.sort.value), chosen)
        self.show()
        self.throttle.drawn(started)

    def show(self) -> None:
        """Redraw the table and the chart for the selected streams."""
        keys = self.selected()
        colors = dict(zip(keys, style.stream_colors(keys, self.streams.streams), strict=True))
        self.table.value = breakdown_html(
            self.breakdown,
            keys,
            self.micro,
            self.macro,
            self.sort.value,
            colors,
            interval_label=self.interval_label,
            merged_interval=self.merged_interval,
        )
        if self.chart is not None:
            spec = _vega.with_colors(self.chart.spec, self._colors())
            self.chart.spec = _vega.with_rows(spec, self._chart_rows())

    def close(self) -> None:
        """Stop following the streams and close the widget."""
        follower = getattr(self, "follower", None)
        if follower is not None and follower.source is not None:
            follower.stop()
        for child in (self.sort, self.picker, self.table, self.chart):
            if child is not None:
                child.close()
        super().close()
