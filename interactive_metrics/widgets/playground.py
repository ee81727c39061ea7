"""The sum-versus-mean playground: edit batches, watch Sum and Mean disagree."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

try:
    import ipywidgets
except ImportError as error:  # pragma: no cover - exercised without the extra only
    from interactive_metrics.widgets._deps import missing

    raise missing("ipywidgets") from error

from interactive_metrics.widgets.panels import lesson_html, stale_html
from interactive_metrics.widgets.teaching import Batch, Lesson, sum_mean_lesson

__all__ = ["Playground"]

DEFAULT_BATCHES = (("1, 3, 5, 7", "1, 1, 0, 0"), ("10", "1"))


class _BatchEditor(ipywidgets.HBox):
    """One batch: its values and weights as text, and a remove button."""

    def __init__(self, values: str, weights: str) -> None:
        layout = ipywidgets.Layout(width="230px")
        style = {"description_width": "56px"}
        self.label = ipywidgets.Label()
        self.values = ipywidgets.Text(
            values, description="values", continuous_update=False, layout=layout, style=style
        )
        self.weights = ipywidgets.Text(
            weights,
            description="weights",
            placeholder="all 1",
            continuous_update=False,
            layout=layout,
            style=style,
        )
        self.remove = ipywidgets.Button(
            description="remove", icon="minus", layout=ipywidgets.Layout(width="90px")
        )
        super().__init__([self.label, self.values, self.weights, self.remove])
        self.add_class("im-pg-batch")


class Playground(ipywidgets.VBox):
    """Edit a few batches of values and weights; see Sum and the means change.

    The numbers say what they are: Sum (Σ w·v), the weighted mean (Σ w·v / Σ w,
    what ``Mean`` reports), the unweighted mean (weights ignored) and the mean of
    batch means. After invalid input the error is shown and the last numbers are
    greyed out under a "not updated" note until the input is valid again.

    Every number comes from real metrics updated batch by batch
    (:func:`~interactive_metrics.widgets.teaching.sum_mean_lesson`), with a
    sentence saying why the numbers differ, and a merge step: metric A on the
    first batches, metric B on the rest, ``A.merge_state([B])``.

    Parameters
    ----------
    batches : sequence of (values, weights) strings, optional
        The starting batches, e.g. ``[("1, 3, 5, 7", "1, 1, 0, 0")]``; an empty
        weights string means every weight is 1.

    Examples
    --------
    >>> playground = Playground()
    >>> playground.lesson.sum, playground.lesson.weighted_mean
    (14.0, 4.666...)
    >>> playground.editors[1].weights.value = "0"  # mask out the second batch
    >>> playground.lesson.sum, playground.lesson.weighted_mean
    (4.0, 2.0)
    """

    def __init__(self, batches: Sequence[tuple[str, str]] = DEFAULT_BATCHES) -> None:
        self.editors: list[_BatchEditor] = []
        self.rows = ipywidgets.VBox()
        self.add_button = ipywidgets.Button(description="add batch", icon="plus")
        self.add_button.on_click(lambda _: self.add_batch("1, 2, 3", ""))
        self.split = ipywidgets.IntSlider(
            value=1, min=1, max=1, description="merge after", continuous_update=False
        )
        self.split.observe(lambda _: self.recompute(), names="value")
        self.error = ipywidgets.HTML()
        self.output = ipywidgets.HTML()
        self.lesson: Lesson | None = None
        self.stale = False  # True while the numbers shown are from an earlier, valid input
        self._shown = ""
        super().__init__(
            [
                self.rows,
                ipywidgets.HBox([self.add_button, self.split]),
                self.error,
                self.output,
            ]
        )
        self.add_class("im-playground")
        for values, weights in batches:
            self.add_batch(values, weights, recompute=False)
        self.split.value = max(len(self.editors) // 2, 1)
        self.recompute()

    def add_batch(self, values: str, weights: str = "", *, recompute: bool = True) -> None:
        """Append a batch (as a learner would with the "add batch" button)."""
        editor = _BatchEditor(values, weights)
        editor.values.observe(lambda _: self.recompute(), names="value")
        editor.weights.observe(lambda _: self.recompute(), names="value")
        editor.remove.on_click(lambda _: self.remove_batch(editor))
        self.editors.append(editor)
        self._relayout()
        if recompute:
            self.recompute()

    def remove_batch(self, editor: Any) -> None:
        """Remove one batch (its "remove" button)."""
        self.editors.remove(editor)
        editor.close()
        self._relayout()
        self.recompute()

    def _relayout(self) -> None:
        for i, editor in enumerate(self.editors, start=1):
            editor.label.value = f"batch {i}"
        self.rows.children = tuple(self.editors)
        self.split.max = max(len(self.editors) - 1, 1)

    def recompute(self) -> None:
        """Read every batch, update the metrics again and redraw (errors shown, not raised)."""
        try:
            batches = [Batch.parse(e.values.value, e.weights.value) for e in self.editors]
        except ValueError as error:
            self.error.value = (
                f"<span class='im-pg-error' style='color:#c0392b'>{html.escape(str(error))}</span>"
            )
            self.stale = True
            self.output.value = stale_html(self._shown, "fix the input above")
            return
        self.error.value = ""
        self.stale = False
        self.lesson = sum_mean_lesson(batches, split=self.split.value)
        self._shown = lesson_html(self.lesson)
        self.output.value = self._shown
