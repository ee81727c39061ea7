"""The history scrubber: step through a metric's stored history with a slider."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

try:
    import ipywidgets
except ImportError as error:  # pragma: no cover - exercised without the extra only
    from interactive_metrics.widgets._deps import missing

    raise missing("ipywidgets") from error

from interactive_metrics.charts import style
from interactive_metrics.widgets import _vega
from interactive_metrics.widgets.follow import Follower
from interactive_metrics.widgets.panels import history_rows, step_panel_html
from interactive_metrics.widgets.throttle import Throttle

if TYPE_CHECKING:
    from interactive_metrics.metric import Metric

__all__ = ["HistoryScrubber"]


SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
"""The play speeds offered, in steps per second."""
FRAME_MS = 40
"""The shortest time between two frames while playing (25 frames a second)."""
PLAY_SECONDS = 10
"""The default speed plays the whole history in about this many seconds."""


def play_settings(speed: float, stride: int) -> tuple[int, int]:
    """The Play widget's ``(interval in ms, step)`` for ``speed`` steps a second.

    Each frame moves a whole number of ``stride`` steps; fast speeds move several
    strides a frame rather than asking the browser for more than 25 frames a second.

    Examples
    --------
    >>> play_settings(10, 1)  # 10 steps a second: one step every 100 ms
    (100, 1)
    >>> play_settings(200, 1)  # 200 steps a second: 8 steps every 40 ms
    (40, 8)
    >>> play_settings(5, 2)  # strides of 2: one stride every 400 ms
    (400, 2)
    """
    if not speed > 0:
        raise ValueError(f"`speed` must be a number of steps per second > 0, got {speed!r}")
    if not (isinstance(stride, int) and stride >= 1):
        raise ValueError(f"`stride` must be a whole number of steps >= 1, got {stride!r}")
    per_frame = max(1, math.ceil(speed * FRAME_MS / 1000 / stride - 1e-9))
    interval = round(1000 * per_frame * stride / speed)
    return interval, per_frame * stride


def default_speed(steps: int) -> int:
    """The offered speed that plays ``steps`` steps in about :data:`PLAY_SECONDS` seconds.

    Examples
    --------
    >>> default_speed(2000), default_speed(200), default_speed(3)
    (200, 20, 1)
    """
    wanted = steps / PLAY_SECONDS
    return min(SPEEDS, key=lambda s: abs(np.log(s) - np.log(max(wanted, 1))))


class HistoryScrubber(ipywidgets.VBox):
    """A step slider with play, speed, step size and one-step buttons over a metric's history.

    At step k it shows each state field's batch and running value and the
    result, read from the stored history (nothing is recomputed), and marks step
    k on the running chart. The slider spans the cell's width; the arrow keys
    (on the focused slider) and the ◀ ▶ buttons move one step size. Play runs at
    the chosen speed (steps per second; by default the whole history in about
    10 s) and stops at the last step; pressing play there starts again from the
    first step, and the note under the slider says so. The scrubber follows the
    metric: new steps extend the slider (kept at the end if it was there).

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
    speed : int, optional
        Steps per second while playing; default: the whole history in ~10 s.
    interval : float
        The shortest time between two redraws while following, in seconds.

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
    >>> scrubber.speed.value = 50
    >>> scrubber.play.interval, scrubber.play.step
    (40, 2)
    >>> scrubber.close()
    """

    def __init__(
        self,
        metric: Metric,
        *,
        step: int | None = None,
        max_points: int = 400,
        chart: bool = True,
        speed: int | None = None,
        interval: float = 0.1,
    ) -> None:
        if not metric.records_history:
            raise ValueError(
                f"`metric` {metric.name!r} has no history to scrub (created with history=False); "
                "create it with history=True"
            )
        self.metric = metric
        self.source = metric
        self.max_points = max_points
        self.throttle = Throttle(interval=interval)
        self.fields = [f.name for f in metric.fields]
        self._read()
        last = self._last()
        every = metric.history_every
        self.slider = ipywidgets.IntSlider(
            value=last if step is None else step,
            min=self._first(),
            max=last,
            step=every,
            description="step",
            continuous_update=True,
            layout=ipywidgets.Layout(width="100%", min_width="300px"),
        )
        self.play = ipywidgets.Play(
            value=self.slider.value,
            min=self.slider.min,
            max=last,
            step=every,
            interval=150,
            repeat=False,
            description="play",
        )
        ipywidgets.jslink((self.play, "value"), (self.slider, "value"))
        n_steps = max(last - self.slider.min, 1)
        chosen = default_speed(n_steps) if speed is None else speed
        options = sorted({*SPEEDS, chosen})
        self.speed = ipywidgets.Dropdown(
            options=[(f"{s:,} steps/s", s) for s in options],
            value=chosen,
            description="speed",
            layout=ipywidgets.Layout(width="190px"),
            style={"description_width": "44px"},
        )
        self.stride = ipywidgets.BoundedIntText(
            value=every,
            min=every,
            max=max(last, every),
            step=every,
            description="step size",
            layout=ipywidgets.Layout(width="150px"),
            style={"description_width": "64px"},
        )
        self.back = ipywidgets.Button(
            icon="step-backward",
            tooltip="one step size back",
            layout=ipywidgets.Layout(width="36px"),
        )
        self.forward = ipywidgets.Button(
            icon="step-forward", tooltip="one step size on", layout=ipywidgets.Layout(width="36px")
        )
        self.back.on_click(lambda _: self.nudge(-1))
        self.forward.on_click(lambda _: self.nudge(1))
        self.note = ipywidgets.HTML()
        self.speed.observe(lambda _: self._set_speed(), names="value")
        self.stride.observe(lambda _: self._set_speed(), names="value")
        self._set_speed()
        self.panel = ipywidgets.HTML()
        self.chart: Any = None
        controls = ipywidgets.HBox(
            [self.play, self.back, self.forward, self.speed, self.stride],
            layout=ipywidgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        children: list[Any] = [controls, self.slider, self.note, self.panel]
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
        super().__init__(children=children, layout=ipywidgets.Layout(width="100%"))
        self.add_class("im-scrubber")
        self._previous = self.slider.value
        self.slider.observe(self._on_slide, names="value")
        self.play.observe(self._on_playing, names="playing")
        self.show(self.slider.value)
        self.follower = Follower(metric, self)

    def _read(self) -> None:
        self.frame = self.metric.history
        self.steps = self.frame["step"].to_numpy()

    def _last(self) -> int:
        return int(self.steps[-1]) if len(self.steps) else 0

    def _first(self) -> int:
        return max(int(self.steps[0]) - 1, 0) if len(self.steps) else 0

    def _set_speed(self) -> None:
        stride = max(int(self.stride.value), 1)
        self.slider.step = stride  # the arrow keys move one step size
        self.play.interval, self.play.step = play_settings(self.speed.value, stride)

    def nudge(self, strides: int) -> None:
        """Move the slider by ``strides`` step sizes (the ◀ ▶ buttons), within its range."""
        target = self.slider.value + strides * int(self.stride.value)
        self.slider.value = int(min(max(target, self.slider.min), self.slider.max))

    def _on_playing(self, change: dict[str, Any]) -> None:
        if change["new"]:  # pressed at the end, the browser goes back to the first step
            value, low, high = self.slider.value, self.slider.min, self.slider.max
            restarted = value >= high or (value <= low and self._previous >= high)
            self.note.value = _note("playing again from the first step") if restarted else ""
        elif self.slider.value >= self.slider.max:
            self.note.value = _note(f"stopped at the last step ({self.slider.max:,})")

    def refresh(self) -> None:
        """Read the metric's history again: extend the slider and the chart to new steps."""
        started = self.throttle.clock()
        at_end = self.slider.value >= self.slider.max
        self._read()
        last = self._last()
        with self.hold_sync():
            self.slider.max = self.play.max = last
            self.stride.max = max(last, self.stride.min)
            self.slider.min = self.play.min = self._first()
            if at_end:
                self.slider.value = last
        if self.chart is not None:
            rows = history_rows(self.metric, self.max_points)
            self.chart.spec = _vega.with_rows(self.chart.spec, rows)
        self.show(self.slider.value)
        self.throttle.drawn(started)

    def close(self) -> None:
        """Stop following the metric and close the widget."""
        follower = getattr(self, "follower", None)
        if follower is not None and follower.source is not None:
            follower.stop()
        super().close()

    def _on_slide(self, change: dict[str, Any]) -> None:
        self._previous = change["old"]
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


def _note(text: str) -> str:
    return f"<span class='im-scrub-note' style='opacity:.75;font-size:12px'>{text}</span>"
