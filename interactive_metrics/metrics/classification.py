"""Accuracy metrics with Keras semantics, and the correct-prediction count Keras lacks.

Every accuracy is a weighted mean of a per-sample 0/1 "correct" value, so its state
is ``correct`` (the weighted number of correct predictions) and ``count`` (the
total weight): merging is exact and the history shows both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interactive_metrics.core.coerce import (
    as_array,
    as_integers_or_floats,
    as_labels,
    check_integer,
    check_number,
)
from interactive_metrics.metric import StateField
from interactive_metrics.metrics._checks import check_flag
from interactive_metrics.metrics._paired import (
    MeanOfSamples,
    SumOfSamples,
    binary_labels,
    class_labels,
    matched,
)

__all__ = [
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "SumBinaryAccuracy",
    "TopKCategoricalAccuracy",
]

_ACCURACY_FIELDS = (StateField("correct"), StateField("count"))
_ACCURACY_RATIO = ("correct", ("count",))
"""The result is ``correct / count``: a ratio of counts (Wilson intervals, ``interval()``)."""


def _labels_then_scores(x: Any, name: str, dtype: np.dtype[Any]) -> np.ndarray:
    """``y_true`` holds class labels (never rounded to the dtype), ``y_pred`` scores."""
    return as_labels(x, name, dtype) if name == "y_true" else as_array(x, name, dtype)


def _class_scores(y_pred: np.ndarray) -> np.ndarray:
    if y_pred.ndim < 2:
        raise ValueError(
            f"`y_pred` must hold one score per class, shape (n, classes), got shape "
            f"{y_pred.shape}; for a single score per sample use BinaryAccuracy"
        )
    return y_pred


def _one_hot_labels(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = _class_scores(y_pred)
    if y_true.shape != scores.shape:
        raise ValueError(
            f"`y_true` of shape {y_true.shape} must be one-hot with the shape of `y_pred` "
            f"{scores.shape}; for integer labels use the Sparse variant of this metric"
        )
    return np.argmax(y_true, axis=-1), scores


def _sparse_labels(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = _class_scores(y_pred)
    if y_true.ndim == scores.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_true.shape != scores.shape[:-1]:
        raise ValueError(
            f"`y_true` of shape {y_true.shape} must hold one class label per row of `y_pred` "
            f"(shape {scores.shape[:-1]}, `y_pred` has shape {scores.shape}); "
            "for one-hot labels use the non-sparse variant of this metric"
        )
    return class_labels(y_true, scores.shape[-1]), scores


def _broadcast_sparse_hits(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """``y_true == argmax(y_pred)`` with Keras 3's shape rules, within each sample.

    As ``keras.metrics.sparse_categorical_accuracy``: a trailing axis of size 1 of
    ``y_true`` is squeezed when the ranks are equal, then labels and predicted
    classes broadcast. Here they broadcast axis by axis within a sample (the first
    axis holds the samples on both sides), so ``y_true`` of shape ``(n, 1)`` is
    compared with every prediction of ``y_pred`` of shape ``(n, steps, classes)``.
    """
    scores = _class_scores(y_pred)
    if y_true.ndim == scores.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    predicted = np.argmax(scores, axis=-1)
    if y_true.shape != predicted.shape:
        try:
            if y_true.ndim != predicted.ndim:
                raise ValueError
            shape = np.broadcast_shapes(y_true.shape, predicted.shape)
        except ValueError:
            raise ValueError(
                f"`y_true` of shape {y_true.shape} must hold one class label per row of "
                f"`y_pred` (shape {scores.shape[:-1]}, `y_pred` has shape {scores.shape}), or "
                "broadcast to it axis by axis (e.g. (n, 1) against (n, steps, classes)); "
                "for one-hot labels use the non-sparse variant of this metric"
            ) from None
        y_true, predicted = np.broadcast_to(y_true, shape), np.broadcast_to(predicted, shape)
    return class_labels(y_true, scores.shape[-1]) == predicted


def _sorted_id_hits(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Whether each label is among the first ``k`` ids of its row of sorted class ids."""
    if y_pred.ndim < 2:
        raise ValueError(
            f"`y_pred` must hold the sorted ids of the top predicted classes, shape (n, ids), "
            f"got shape {y_pred.shape}; e.g. the indices returned by a top-k"
        )
    ids = y_pred.reshape(-1, y_pred.shape[-1])
    labels = y_true.reshape(-1)
    if labels.shape[0] != ids.shape[0]:
        raise ValueError(
            f"`y_true` of shape {y_true.shape} must hold one label per row of ids of `y_pred` "
            f"(shape {y_pred.shape}); pass one label per row"
        )
    for values, name in ((labels, "y_true"), (ids, "y_pred")):
        if values.size and not (np.all(values >= 0) and np.all(values == np.round(values))):
            bad = values[~((values >= 0) & (values == np.round(values)))]
            raise ValueError(
                f"`{name}` must hold class ids (whole numbers >= 0), got {float(bad[0])!r}; "
                "encode the classes as 0, 1, 2, ..."
            )
    hits = np.any(labels[:, None] == ids[:, :k], axis=1)
    return hits.reshape(y_pred.shape[:-1])


def _in_top_k(labels: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Whether each label is among the ``k`` highest scores, as TensorFlow's ``in_top_k``.

    Ties with the ``k``-th score count in; a label whose own score is not finite
    (NaN or ±inf) is never in the top ``k``; other NaN scores are outranked by
    every number (they do not push the label out).
    """
    label_score = np.take_along_axis(scores, labels[..., None], axis=-1)
    in_top = np.count_nonzero(scores > label_score, axis=-1) < k
    return in_top & np.isfinite(label_score[..., 0])


class Accuracy(MeanOfSamples):
    """How often predictions equal labels: the weighted mean of ``y_true == y_pred``.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.Accuracy()
    >>> m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    >>> m.result()
    0.75
    >>> m.reset_state()
    >>> m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    >>> m.result(), m.state
    (0.5, {'correct': 1.0, 'count': 2.0})
    """

    fields = _ACCURACY_FIELDS
    ratio_of_counts = _ACCURACY_RATIO
    as_input = staticmethod(as_labels)  # labels are compared as given, not rounded to dtype

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """1 where the prediction equals the label."""
        y_true, y_pred = matched(y_true, y_pred)
        return y_true == y_pred


class BinaryAccuracy(MeanOfSamples):
    """How often ``y_pred > threshold`` matches the binary label ``y_true``.

    Parameters
    ----------
    threshold : float
        A prediction above it counts as 1. Use 0 for logits. Any finite number.
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    ``y_true`` must hold 0 and 1 (Keras silently counts any other label as wrong).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.BinaryAccuracy()
    >>> m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    >>> m.result()
    0.75
    >>> m.update_state([[1], [0]], [[0.2], [0.9]], sample_weight=[0, 0])
    >>> m.result(), m.state
    (0.75, {'correct': 3.0, 'count': 4.0})
    """

    fields = _ACCURACY_FIELDS
    ratio_of_counts = _ACCURACY_RATIO
    # integer labels stay integers (no float copy), as Precision and Recall read them: a
    # collection of these binds its inputs once
    as_input = staticmethod(as_integers_or_floats)

    def __init__(
        self, threshold: float = 0.5, name: str | None = None, dtype: Any = None, **options: Any
    ) -> None:
        self.threshold = check_number(threshold, "threshold")
        super().__init__(name=name, dtype=dtype, **options)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """1 where the thresholded prediction equals the label."""
        y_true, y_pred = matched(y_true, y_pred)
        return binary_labels(y_true) == (y_pred > self.threshold)


class SumBinaryAccuracy(SumOfSamples):
    """The weighted *number* of correct binary predictions (not their rate).

    The count Keras users hand-write because ``BinaryAccuracy`` averages: values of
    rank > 1 count every correct value (so a ``(n, 3)`` batch counts up to ``3n``).

    Parameters
    ----------
    threshold : float
        A prediction above it counts as 1. Any finite number.
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.SumBinaryAccuracy()
    >>> m.update_state([1, 1, 0, 0], [0.98, 1, 0, 0.6])
    >>> m.update_state([1, 0], [0.7, 0.1], sample_weight=[1, 0])
    >>> m.result()
    4.0
    >>> m.history.select("step", "batch_correct", "running_correct")
    shape: (2, 3)
    ┌──────┬───────────────┬─────────────────┐
    │ step ┆ batch_correct ┆ running_correct │
    │ ---  ┆ ---           ┆ ---             │
    │ i64  ┆ f64           ┆ f64             │
    ╞══════╪═══════════════╪═════════════════╡
    │ 1    ┆ 3.0           ┆ 3.0             │
    │ 2    ┆ 1.0           ┆ 4.0             │
    └──────┴───────────────┴─────────────────┘
    """

    fields = (StateField("correct"),)

    def __init__(
        self, threshold: float = 0.5, name: str | None = None, dtype: Any = None, **options: Any
    ) -> None:
        self.threshold = check_number(threshold, "threshold")
        super().__init__(name=name, dtype=dtype, **options)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """1 where the thresholded prediction equals the label."""
        y_true, y_pred = matched(y_true, y_pred)
        return binary_labels(y_true) == (y_pred > self.threshold)


class CategoricalAccuracy(MeanOfSamples):
    """How often the highest score is the class of the one-hot label.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.CategoricalAccuracy()
    >>> y_true, y_pred = [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
    >>> m.update_state(y_true, y_pred)
    >>> m.result()
    0.5
    >>> m.reset_state()
    >>> m.update_state(y_true, y_pred, sample_weight=[0.7, 0.3])
    >>> m.result()
    0.3
    """

    fields = _ACCURACY_FIELDS
    ratio_of_counts = _ACCURACY_RATIO

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """1 where ``argmax(y_pred) == argmax(y_true)``."""
        labels, scores = _one_hot_labels(y_true, y_pred)
        return np.argmax(scores, axis=-1) == labels


class SparseCategoricalAccuracy(MeanOfSamples):
    """How often the highest score is the integer label's class.

    ``y_true`` holds labels in ``[0, classes)``, shape ``(n,)`` or ``(n, 1)``;
    ``y_pred`` one score per class, shape ``(n, classes)``. Higher ranks follow
    Keras 3: labels and predicted classes broadcast within each sample, so labels
    of shape ``(n, 1)`` are compared with every step of ``y_pred`` of shape
    ``(n, steps, classes)``, and a sample's value is the mean over its steps.

    Notes
    -----
    Keras also broadcasts the sample axis (``y_true`` of shape ``(2, 1)`` against
    ``y_pred`` of shape ``(1, 2, 3)``); here the first axis always holds the
    samples, so that streams and replays can give each sample its own key. Pass
    ``np.broadcast_to(y_pred, (2, 2, 3))`` for Keras' reading and numbers.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.SparseCategoricalAccuracy()
    >>> m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    >>> m.result()
    0.5
    >>> steps = [[[0.1, 0.9, 0], [0, 1, 0]], [[0, 0, 1], [1, 0, 0]]]  # (2 samples, 2 steps, 3)
    >>> im.SparseCategoricalAccuracy()([[1], [2]], steps)
    0.75
    >>> m.update_state([3], [[0.1, 0.6, 0.3]])
    Traceback (most recent call last):
    ...
    ValueError: `y_true` must hold class labels in [0, 3) (whole numbers), got 3.0; ...
    """

    fields = _ACCURACY_FIELDS
    ratio_of_counts = _ACCURACY_RATIO
    as_input = staticmethod(_labels_then_scores)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """1 where ``argmax(y_pred) == y_true`` (broadcast within each sample)."""
        return _broadcast_sparse_hits(y_true, y_pred)


class TopKCategoricalAccuracy(MeanOfSamples):
    """How often the one-hot label's class is among the ``k`` highest scores.

    Parameters
    ----------
    k : int
        How many of the highest scores count. Classes tied with the ``k``-th score
        count in, and a label whose score is NaN or infinite never does (as
        TensorFlow's ``in_top_k``).
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.TopKCategoricalAccuracy(k=1)
    >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    >>> m.result()
    0.5
    >>> m = im.TopKCategoricalAccuracy(k=2)
    >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    >>> m.result()
    1.0
    """

    fields = _ACCURACY_FIELDS
    ratio_of_counts = _ACCURACY_RATIO

    def __init__(
        self, k: int = 5, name: str | None = None, dtype: Any = None, **options: Any
    ) -> None:
        self.k: int = check_integer(k, "k", 1)
        super().__init__(name=name, dtype=dtype, **options)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """1 where the label's class is in the top ``k``."""
        labels, scores = _one_hot_labels(y_true, y_pred)
        return _in_top_k(labels, scores, self.k)


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """How often the integer label's class is among the ``k`` highest scores.

    Parameters
    ----------
    k : int
        How many of the highest scores count (ties with the ``k``-th count in).
    name, dtype
        As for :class:`~interactive_metrics.Metric`.
    from_sorted_ids : bool
        ``y_pred`` holds, per sample, class ids sorted by decreasing score (what a
        top-k returns), not scores: a hit is a label among the first ``k`` ids,
        as Keras 3.
    **options
        As for :class:`~interactive_metrics.Metric`.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.SparseTopKCategoricalAccuracy(k=1)
    >>> m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    >>> m.result()
    0.3

    The numbers of Keras' tests, with sorted ids:

    >>> m = im.SparseTopKCategoricalAccuracy(k=1, from_sorted_ids=True)
    >>> m.update_state([2, 1], [[1, 0, 3], [1, 2, 3]])
    >>> m.result()
    0.5
    """

    as_input = staticmethod(_labels_then_scores)

    def __init__(
        self,
        k: int = 5,
        name: str | None = None,
        dtype: Any = None,
        from_sorted_ids: bool = False,
        **options: Any,
    ) -> None:
        self.from_sorted_ids = check_flag(from_sorted_ids, "from_sorted_ids")
        if self.from_sorted_ids:  # ids are labels too: never rounded to a narrow dtype
            self.as_input = as_labels  # type: ignore[misc]  # a ClassVar, set per instance
        super().__init__(k, name=name, dtype=dtype, **options)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """1 where the label's class is in the top ``k`` (or among the first ``k`` ids)."""
        if self.from_sorted_ids:
            return _sorted_id_hits(y_true, y_pred, self.k)
        labels, scores = _sparse_labels(y_true, y_pred)
        return _in_top_k(labels, scores, self.k)
