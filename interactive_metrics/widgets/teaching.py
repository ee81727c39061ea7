"""The logic of the sum-versus-mean playground: plain Python, no widgets.

A learner edits a few batches of values and weights; :func:`sum_mean_lesson`
feeds them to real metrics (:class:`~interactive_metrics.Sum`,
:class:`~interactive_metrics.Mean`) one batch at a time and reads every number it
reports from their state and history, so the playground shows exactly what the
library computes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Batch", "BatchRow", "Lesson", "MergeStep", "parse_numbers", "sum_mean_lesson"]


def parse_numbers(text: str, name: str = "values") -> tuple[float, ...]:
    """Read numbers separated by commas or spaces, e.g. ``"1, 3, 5, 7"``.

    Examples
    --------
    >>> parse_numbers("1, 3 5,7")
    (1.0, 3.0, 5.0, 7.0)
    >>> parse_numbers("1, x", "weights")
    Traceback (most recent call last):
    ...
    ValueError: `weights` must be numbers separated by commas, got 'x'; write e.g. 1, 0.5, 0
    """
    numbers = []
    for token in re.split(r"[,\s;]+", text.strip()):
        if not token:
            continue
        try:
            number = float(token)
        except ValueError:
            raise ValueError(
                f"`{name}` must be numbers separated by commas, got {token!r}; write e.g. 1, 0.5, 0"
            ) from None
        numbers.append(number)
    return tuple(numbers)


@dataclass(frozen=True)
class Batch:
    """One batch of the playground: values and their weights (``None``: every weight is 1)."""

    values: tuple[float, ...]
    weights: tuple[float, ...] | None = None

    @classmethod
    def parse(cls, values: str, weights: str = "") -> Batch:
        """A batch from the text a learner typed (empty weights: every weight is 1).

        Examples
        --------
        >>> Batch.parse("1, 3, 5, 7", "1, 1, 0, 0")
        Batch(values=(1.0, 3.0, 5.0, 7.0), weights=(1.0, 1.0, 0.0, 0.0))
        """
        parsed = parse_numbers(values, "values")
        if not weights.strip():
            return cls(parsed, None)
        w = parse_numbers(weights, "weights")
        if len(w) != len(parsed):
            raise ValueError(
                f"`weights` must have one weight per value ({len(parsed)}), got {len(w)}; "
                "leave it empty for weights of 1"
            )
        if any(x < 0 or math.isnan(x) for x in w):
            raise ValueError(f"`weights` must be >= 0, got {w!r}; 0 masks a value out")
        return cls(parsed, w)

    @property
    def weight_list(self) -> list[float]:
        """The weights, with 1 for each value when none were given."""
        return [1.0] * len(self.values) if self.weights is None else list(self.weights)


@dataclass(frozen=True)
class BatchRow:
    """What one batch adds, and where the running results stand after it."""

    batch: int
    size: int
    weight: float
    batch_sum: float
    batch_mean: float
    running_sum: float
    running_mean: float
    running_plain_mean: float


@dataclass(frozen=True)
class MergeStep:
    """Two metrics, one on batches ``1..split`` and one on the rest, then merged."""

    split: int
    first: float
    second: float
    merged: float
    mean_of_two: float


@dataclass(frozen=True)
class Lesson:
    """Every number the playground shows, and the sentence that explains them."""

    rows: tuple[BatchRow, ...]
    sum: float
    plain_mean: float
    weighted_mean: float
    mean_of_batch_means: float
    masked: int
    merge: MergeStep | None
    explanation: str


def sum_mean_lesson(batches: Sequence[Batch], split: int | None = None) -> Lesson:
    """Update ``Sum``, ``Mean`` and weighted ``Mean`` batch by batch and compare them.

    Parameters
    ----------
    batches : sequence of Batch
        The batches, in update order.
    split : int, optional
        For the merge step: metric A sees batches ``1..split``, metric B the rest;
        default: half of them.

    Returns
    -------
    Lesson
        ``sum`` (Σ w·v), ``plain_mean`` (weights ignored), ``weighted_mean``
        (Σ w·v / Σ w, the pooled mean), ``mean_of_batch_means`` (each batch's
        weighted mean, averaged over the batches that carry weight), how many
        values are ``masked`` (weight 0), the rows per batch, the merge step and a
        one-line explanation.

    Examples
    --------
    Keras' numbers, then a batch of one value:

    >>> lesson = sum_mean_lesson([Batch((1, 3, 5, 7), (1, 1, 0, 0)), Batch((10,))])
    >>> lesson.sum, lesson.weighted_mean, lesson.mean_of_batch_means, lesson.plain_mean
    (14.0, 4.666..., 6.0, 5.2)
    >>> lesson.merge.merged == lesson.weighted_mean, lesson.merge.mean_of_two
    (True, 6.0)
    >>> print(lesson.explanation)
    The mean of batch means (6) is not the pooled weighted mean (4.667): batch 1 carries ...
    """
    import interactive_metrics as im

    total, weighted, plain = im.Sum(), im.Mean(), im.Mean()
    for batch in batches:
        total.update_state(list(batch.values), sample_weight=batch.weight_list)
        weighted.update_state(list(batch.values), sample_weight=batch.weight_list)
        plain.update_state(list(batch.values))
    sums, means, plains = total.history, weighted.history, plain.history
    weights = means["batch_count"].to_list()
    rows = tuple(
        BatchRow(
            batch=i + 1,
            size=len(batch.values),
            weight=weights[i],
            batch_sum=sums["batch_total"][i],
            batch_mean=means["batch_result"][i],
            running_sum=sums["result"][i],
            running_mean=means["result"][i],
            running_plain_mean=plains["result"][i],
        )
        for i, batch in enumerate(batches)
    )
    carrying = [row.batch_mean for row in rows if row.weight > 0]
    mean_of_means = sum(carrying) / len(carrying) if carrying else 0.0
    merge = _merge_step(batches, len(batches) // 2 if split is None else split)
    lesson = Lesson(
        rows=rows,
        sum=total.result(),
        plain_mean=plain.result(),
        weighted_mean=weighted.result(),
        mean_of_batch_means=mean_of_means,
        masked=sum(1 for batch in batches for w in batch.weight_list if w == 0),
        merge=merge,
        explanation="",
    )
    return Lesson(**{**lesson.__dict__, "explanation": explain(lesson)})


def _merge_step(batches: Sequence[Batch], split: int) -> MergeStep | None:
    import interactive_metrics as im

    if not 1 <= split < len(batches):
        return None
    first, second = im.Mean(name="a"), im.Mean(name="b")
    for metric, part in ((first, batches[:split]), (second, batches[split:])):
        for batch in part:
            metric.update_state(list(batch.values), sample_weight=batch.weight_list)
    a, b = first.result(), second.result()
    first.merge_state(second)
    return MergeStep(split, a, b, first.result(), (a + b) / 2)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _fmt(x: float) -> str:
    from interactive_metrics.charts.style import format_number

    return format_number(x)


def explain(lesson: Lesson) -> str:
    """One plain-language sentence on why the numbers differ (or agree).

    Examples
    --------
    >>> print(sum_mean_lesson([Batch((1, 2)), Batch((3, 4))]).explanation)
    Every batch carries the same weight, so the mean of batch means equals the pooled weighted ...
    """
    rows = lesson.rows
    if not rows or all(row.size == 0 for row in rows):
        return "Add a few values to a batch: Sum and Mean of nothing are both 0."
    if not any(row.weight > 0 for row in rows):
        return (
            "Every weight is 0, so every value is masked out: Sum is 0 and the weighted mean "
            "is 0 (0 / 0 is reported as 0, as in Keras); the unweighted mean "
            f"({_fmt(lesson.plain_mean)}) ignores weights, so it still counts every value."
        )
    pooled, of_means = lesson.weighted_mean, lesson.mean_of_batch_means
    if not _close(pooled, of_means):
        light = min((r for r in rows if r.weight > 0), key=lambda r: r.weight)
        heavy = max(rows, key=lambda r: r.weight)
        return (
            f"The mean of batch means ({_fmt(of_means)}) is not the pooled weighted mean "
            f"({_fmt(pooled)}): batch {heavy.batch} carries weight {_fmt(heavy.weight)} and "
            f"batch {light.batch} only {_fmt(light.weight)}, yet each batch counts once in a "
            "mean of means, while each unit of weight counts once in the pooled weighted mean."
        )
    if not _close(pooled, lesson.plain_mean):
        masked = " (a weight of 0 masks a value out)" if lesson.masked else ""
        return (
            f"Weights change the mean: the weighted mean ({_fmt(pooled)}) counts each value "
            f"as often as its weight{masked}, the unweighted mean ({_fmt(lesson.plain_mean)}) "
            "counts each value once."
        )
    total_weight = sum(row.weight for row in rows)
    return (
        "Every batch carries the same weight, so the mean of batch means equals the pooled "
        f"weighted mean ({_fmt(pooled)}); Sum ({_fmt(lesson.sum)}) keeps growing with every "
        f"value, the weighted mean divides it by the total weight ({_fmt(total_weight)})."
    )
