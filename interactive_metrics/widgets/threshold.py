"""The threshold explorer: move the threshold, watch the confusion counts and rates change."""

from __future__ import annotations

import html
from typing import Any

try:
    import ipywidgets
except ImportError as error:  # pragma: no cover - exercised without the extra only
    from interactive_metrics.widgets._deps import missing

    raise missing("ipywidgets") from error

import polars as pl

from interactive_metrics.charts import style
from interactive_metrics.charts.curve_charts import (
    MERGED,
    has_threshold_counts,
    operating_point,
    threshold_table,
)
from interactive_metrics.errors import UnknownKeyError
from interactive_metrics.widgets.follow import Follower
from interactive_metrics.widgets.throttle import Throttle

__all__ = ["COLUMNS", "ThresholdExplorer", "threshold_html"]

COLUMNS = {
    "true_positives": "TP",
    "false_positives": "FP",
    "true_negatives": "TN",
    "false_negatives": "FN",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
}
"""The columns of :func:`threshold_table` the explorer shows, and their headers."""
_CSS_CLASS = {
    "true_positives": "im-tp",
    "false_positives": "im-fp",
    "true_negatives": "im-tn",
    "false_negatives": "im-fn",
    "precision": "im-precision",
    "recall": "im-recall",
    "f1": "im-f1",
}


_CELL = "padding:2px 12px"


def threshold_html(table: pl.DataFrame, index: int, colors: dict[str, str]) -> str:
    """The explorer's table: one row per curve (stream) at threshold number ``index``.

    Parameters
    ----------
    table : polars.DataFrame
        :func:`~interactive_metrics.charts.threshold_table` of the metric or Streams.
    index : int
        The position of the threshold among the metric's thresholds.
    colors : dict
        Stream label -> colour of its swatch.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.AUC(num_thresholds=3)
    >>> m.update_state([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> text = threshold_html(im.charts.threshold_table(m), 1, {})
    >>> "class='im-tp' style='padding:2px 12px;text-align:right'>1</td>" in text
    True
    """
    labels = table.get_column("stream").unique(maintain_order=True).to_list()
    head = "".join(
        f"<th style='{_CELL};text-align:{'left' if h == 'stream' else 'right'}'>"
        f"{html.escape(h)}</th>"
        for h in ("stream", *COLUMNS.values())
    )
    body = []
    for label in labels:
        rows = table.filter(pl.col("stream") == label)
        if index >= rows.height:
            continue
        row = rows.row(index, named=True)
        swatch = colors.get(label, style.NEUTRAL_COLOR)
        cells = "".join(
            f"<td class='{_CSS_CLASS[c]}' style='{_CELL};text-align:right'>"
            f"{html.escape(style.format_number(row[c]))}</td>"
            for c in COLUMNS
        )
        body.append(
            f"<tr class='im-thr-row' data-stream='{html.escape(label, quote=True)}'>"
            f"<td style='{_CELL}'><span style='color:{swatch}'>●</span> {html.escape(label)}</td>"
            f"{cells}</tr>"
        )
    return (
        "<table class='im-thr-table' style='border-collapse:collapse;font-variant-numeric:"
        f"tabular-nums'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


class ThresholdExplorer(ipywidgets.VBox):
    """A slider over a thresholded metric's thresholds, with the counts and rates at each.

    For ``AUC``, ``PrecisionAtRecall``, ``RecallAtPrecision``,
    ``SensitivityAtSpecificity`` and ``SpecificityAtSensitivity`` (or a
    ``Streams`` of one: one row per stream, and the merged row). At the chosen
    threshold it shows the weighted true and false positives and negatives
    (predicted positive means score > threshold), precision, recall and F1, all
    read from the metric's stored counts (:func:`~interactive_metrics.charts.
    threshold_table`), never recomputed from data. It follows its metric: every
    update, replay, merge or reset redraws it (throttled), keeping the threshold.

    Parameters
    ----------
    source : metric or Streams
        A metric that keeps counts per threshold, or a Streams of one.
    threshold : float, optional
        Where the slider starts: the stored threshold nearest to it. Default: the
        metric's operating point (0.5 for ``AUC``, the constraint's threshold for
        the ``...At...`` metrics).
    interval : float
        The shortest time between two redraws while following, in seconds.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.AUC(num_thresholds=3)
    >>> m.update_state([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> explorer = ThresholdExplorer(m)
    >>> explorer.threshold, explorer.row()["true_positives"], explorer.row()["precision"]
    (0.5, 1.0, 0.5)
    >>> explorer.slider.value = 0  # the lowest threshold: everything is predicted positive
    >>> explorer.row()["true_positives"], explorer.row()["false_positives"]
    (2.0, 2.0)
    >>> explorer.close()
    """

    def __init__(
        self, source: Any, *, threshold: float | None = None, interval: float = 0.1
    ) -> None:
        if not has_threshold_counts(source):
            raise TypeError(
                "`source` must be a metric that keeps counts per threshold (AUC, "
                "PrecisionAtRecall, RecallAtPrecision, SensitivityAtSpecificity, "
                f"SpecificityAtSensitivity) or a Streams of one, got {type(source).__name__}; "
                "e.g. im.AUC().widget('thresholds')"
            )
        from interactive_metrics import Streams

        self.source = source
        self.is_streams = isinstance(source, Streams)
        self.metric = source.merged() if self.is_streams else source
        self.thresholds = [float(t) for t in self.metric.threshold_values]
        self.throttle = Throttle(interval=interval)
        if threshold is None:
            start, _ = operating_point(self.metric)
            start = len(self.thresholds) // 2 if start is None else start
        else:
            if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
                raise TypeError(f"`threshold` must be a number, got {threshold!r}")
            start = min(
                range(len(self.thresholds)), key=lambda i: abs(self.thresholds[i] - threshold)
            )
        self.table = threshold_table(source)
        self.slider = ipywidgets.IntSlider(
            value=start,
            min=0,
            max=len(self.thresholds) - 1,
            step=1,
            readout=False,
            continuous_update=True,
            description="threshold",
            layout=ipywidgets.Layout(width="100%", max_width="560px"),
        )
        self.readout = ipywidgets.HTML()
        self.readout.add_class("im-thr-value")
        self.panel = ipywidgets.HTML()
        title = ipywidgets.HTML(
            f"<b>{html.escape(style.humanize(str(self.metric.name)))}</b>: counts at a threshold "
            "<span style='opacity:.7'>(predicted positive: score &gt; threshold)</span>"
        )
        row = ipywidgets.HBox(
            [self.slider, self.readout], layout=ipywidgets.Layout(align_items="center")
        )
        super().__init__(children=[title, row, self.panel], layout=ipywidgets.Layout(width="100%"))
        self.add_class("im-threshold-explorer")
        self.slider.observe(lambda _: self.show(), names="value")
        self.show()
        self.follower = Follower(source, self)

    @property
    def threshold(self) -> float:
        """The threshold the slider is on."""
        return self.thresholds[self.slider.value]

    def row(self, stream: Any = None) -> dict[str, Any]:
        """The shown row of ``stream`` (default: the metric, or the merged row of a Streams)."""
        label = (MERGED if stream is None else style.stream_label(stream)) if self.is_streams else (
            str(self.metric.name)
        )  # fmt: skip
        rows = self.table.filter(pl.col("stream") == label)
        if rows.height == 0:
            raise UnknownKeyError(f"no stream {stream!r}; known streams are {self.labels()}")
        return rows.row(self.slider.value, named=True)

    def labels(self) -> list[str]:
        """The labels of the table's rows (streams, then the merged row, for a Streams)."""
        labels: list[str] = self.table.get_column("stream").unique(maintain_order=True).to_list()
        if self.is_streams and labels and labels[0] == MERGED:
            labels = [*labels[1:], MERGED]
        return labels

    def _colors(self) -> dict[str, str]:
        if not self.is_streams:
            return {str(self.metric.name): style.colors().result}
        keys = self.source.streams
        labels = [style.stream_label(k) for k in keys]
        colors = dict(zip(labels, style.stream_colors(keys, keys), strict=True))
        return {**colors, MERGED: style.colors().merged}

    def show(self) -> None:
        """Redraw the readout and the table at the slider's threshold."""
        self.readout.value = (
            f"<span class='im-thr-threshold'>{style.format_number(self.threshold)}</span>"
        )
        table = self.table
        if self.is_streams:  # streams first, the merged row last
            table = pl.concat(
                [table.filter(pl.col("stream") != MERGED), table.filter(pl.col("stream") == MERGED)]
            )
        self.panel.value = threshold_html(table, self.slider.value, self._colors())

    def refresh(self) -> None:
        """Read the stored counts again and redraw, keeping the threshold."""
        started = self.throttle.clock()
        if self.is_streams:
            self.metric = self.source.merged()
        self.table = threshold_table(self.source)
        self.show()
        self.throttle.drawn(started)

    def close(self) -> None:
        """Stop following the metric and close the widget."""
        follower = getattr(self, "follower", None)
        if follower is not None and follower.source is not None:
            follower.stop()
        for name in ("slider", "readout", "panel"):  # absent if __init__ refused its input
            child = getattr(self, name, None)
            if child is not None:
                child.close()
        super().close()
