"""The history scrubber: step through a metric's stored history with a slider."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

try:
    import ipywidgets
except ImportError as error:  # pragma: no cover - exercised without the extra only
    from interactive_metrics.widgets._deps import missing

    raise missing("ipywidgets") from error

from interactive_metrics.charts import style
from interactive_metrics.widgets import _vega
from interactive_metrics.widgets.panels import history_rows, step_panel_html

if TYPE_CHECKING:
    from interactive_metrics.metric import Metric

__all__ = ["HistoryScrubber"]


class HistoryScrubber(ipywidgets.VBox):
    """A step slider (with a play button) over a metric's history.

    At step k it shows each state field's batch and running value and the
    result, read from the stored history (nothing is recomputed), and marks step
    k on the running chart. It shows the history as it was when created.

    Parameters
    ----------
    metric : Metric
        A metric with a history (``history=True``, the default).
    step : int, optional
        The step shown first; default: the last one.
    max_points : int
        The most history rows the chart receives.
    chart : bool
        Show the running chart with the step marked.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Sum()
    >>> m.update_state([1, 3, 5, 7])
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> scrubber = HistoryScrubber(m, chart=False)
    >>> scrubber.slider.value = 1
    >>> scrubber.shown_step, "<td class='im-running-total'>16</td>" in scrubber.panel.value
    (1, True)
    """

    def __init__(
        self,
        metric: Metric,
        *,
        step: int | None = None,
        max_points: int = 400,
        chart: bool = True,
    ) -> None:
        if metric._history is None:
            raise ValueError(
                f"`metric` {metric.name!r} has no history to scrub (created with history=False); "
                "create it with history=True"
            )
        self.metric = metric
        self.frame = metric.history
        self.fields = [f.name for f in metric._fields]
        self.steps = self.frame["step"].to_numpy()
        last = int(self.steps[-1]) if len(self.steps) else 0
        first = int(self.steps[0]) - 1 if len(self.steps) else 0
        every = metric.history_every
        self.slider = ipywidgets.IntSlider(
            value=last if step is None else step,
            min=max(first, 0),
            max=last,
            step=1,
            description="step",
            continuous_update=True,
            layout=ipywidgets.Layout(width="420px"),
        )
        self.play = ipywidgets.Play(
            value=self.slider.value,
            min=self.slider.min,
            max=last,
            step=every,
            interval=150,
            description="play",
        )
        ipywidgets.jslink((self.play, "value"), (self.slider, "value"))
        self.panel = ipywidgets.HTML()
        self.chart: Any = None
        children: list[Any] = [ipywidgets.HBox([self.play, self.slider]), self.panel]
        self.shown_step, self.shown_result = self._held_at(self.slider.value)
        if chart:
            title = style.title_for(metric.name, "running result")
            rows = history_rows(metric, max_points)
            marked = (self.shown_step, self.shown_result)
            spec = _vega.running_chart(rows, title, marker="scrub", marked=marked)
            self.chart = _vega.jupyter_chart(spec)
            # a view drawn later starts from the spec's marker: put the shown step back
            self.chart.observe(self._keep_marker, names="_params")
            children.append(self.chart)
        super().__init__(children=children)
        self.add_class("im-scrubber")
        self.slider.observe(self._on_slide, names="value")
        self.show(self.slider.value)

    def _on_slide(self, change: dict[str, Any]) -> None:
        self.show(change["new"])

    def row_of(self, step: int) -> int | None:
        """The history row holding ``step``, or the last one before it (None: step 0)."""
        position = int(np.searchsorted(self.steps, step, side="right")) - 1
        return position if position >= 0 else None

    def _held_at(self, step: int) -> tuple[int, float]:
        """The recorded step shown for ``step``, and its result (as the chart marks it)."""
        row = self.row_of(step)
        if row is None:
            return 0, 0.0
        return int(self.steps[row]), _finite_or_zero(self.frame["result"][row])

    def show(self, step: int) -> None:
        """Show the state at ``step`` (the nearest recorded step at or before it)."""
        self.panel.value = step_panel_html(self.frame, self.fields, self.row_of(step))
        self.shown_step, self.shown_result = self._held_at(step)
        self._mark()

    def _mark(self) -> None:
        if self.chart is None:
            return
        with self.chart.hold_sync():
            self.chart.params.scrub_step = self.shown_step
            self.chart.params.scrub_result = self.shown_result

    def _keep_marker(self, change: dict[str, Any]) -> None:
        if (change["new"] or {}).get("scrub_step") not in (None, self.shown_step):
            self._mark()


def _finite_or_zero(x: Any) -> float:
    value = float(np.asarray(x).ravel()[0]) if np.ndim(x) else float(x)
    return value if np.isfinite(value) else 0.0
