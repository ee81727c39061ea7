"""How a widget follows its metric or Streams: throttled redraws, weakly held.

Every event of the followed object (``update_state``, ``replay``, ``merge_state``,
``reset_state``) calls a :class:`Follower`; it asks the widget's
:class:`~interactive_metrics.widgets.Throttle` whether a redraw is due, and when
the notebook cell that ran the loop ends, draws once more if one was skipped, so
a widget always ends on the final state. The follower holds the widget through a
weak reference and detaches itself once the widget is closed or gone: a closed
widget never keeps redrawing, nor stays alive because a metric knows it.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

__all__ = ["Follower"]


class _Followable(Protocol):
    """A widget a :class:`Follower` drives: a throttle and a redraw."""

    throttle: Any
    comm: Any

    def refresh(self) -> None: ...


def _dead() -> None:
    return None


class Follower:
    """Redraw ``widget`` after events of ``source`` (a Metric or a Streams), throttled.

    Parameters
    ----------
    source : Metric or Streams
        What the widget shows.
    widget : widget
        Has ``throttle`` (a :class:`~interactive_metrics.widgets.Throttle`) and
        ``refresh()``, which redraws and records the redraw in the throttle.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> from interactive_metrics.widgets import Throttle
    >>> class Counter:
    ...     throttle, comm, drawn = Throttle(interval=0), "open", 0
    ...     def refresh(self):
    ...         self.drawn += 1
    ...         self.throttle.drawn(self.throttle.clock())
    >>> m, view = im.Sum(), Counter()
    >>> follower = Follower(m, view)
    >>> m.update_state([1.0])
    >>> view.drawn
    1
    >>> follower.stop()
    >>> m.update_state([2.0])
    >>> view.drawn
    1
    """

    def __init__(self, source: Any, widget: _Followable) -> None:
        self.source = source
        self.widget: Any = weakref.ref(widget)
        _listen(source, self.on_event)
        self._shell = _ipython()
        if self._shell is not None:
            self._shell.events.register("post_run_cell", self.on_cell_done)

    def _alive(self) -> Any:
        widget = self.widget()
        if widget is None or getattr(widget, "comm", None) is None:
            return None
        return widget

    def on_event(self, source: Any, event: int) -> None:
        """After an event of ``source``: redraw if the throttle allows it."""
        widget = self._alive()
        if widget is None:
            _unlisten(source, self.on_event)
            self.stop()
            return
        if widget.throttle.due():
            widget.refresh()

    def on_cell_done(self, *args: Any) -> None:
        """When a notebook cell ends: draw the redraw the throttle held back, if any."""
        widget = self._alive()
        if widget is None:
            self.stop()
        elif widget.throttle.pending:
            widget.refresh()

    def stop(self) -> None:
        """Stop following (the widget closes)."""
        source, self.source = self.source, None
        if source is not None:
            _unlisten(source, self.on_event)
        if self._shell is not None:
            try:
                self._shell.events.unregister("post_run_cell", self.on_cell_done)
            except ValueError:
                pass
            self._shell = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Follower:
        """A copied metric does not drive this widget: its copy of the follower is detached."""
        copy = Follower.__new__(Follower)
        copy.source, copy.widget, copy._shell = None, _dead, None
        return copy


def _listen(source: Any, listener: Any) -> None:
    source.add_listener(listener)  # Metric and Streams alike


def _unlisten(source: Any, listener: Any) -> None:
    source.remove_listener(listener)


def _ipython() -> Any:
    """The running IPython shell, or None outside one."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    return get_ipython()
