"""Accuracy metrics with Keras semantics, and the correct-prediction count Keras lacks.

Every accuracy is a weighted mean of a per-sample 0/1 "correct" value, so its state
is ``correct`` (the weighted number of correct predictions) and ``count`` (the
total weight): merging is exact and the history shows both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interactive_metrics.core.coerce import as_array, as_labels, check_integer, check_number
from interactive_metrics.metric import StateField
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

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """1 where ``argmax(y_pred) == argmax(y_true)``."""
        labels, scores = _one_hot_labels(y_true, y_pred)
        return np.argmax(scores, axis=-1) == labels


class SparseCategoricalAccuracy(MeanOfSamples):
    """How often the highest score is the integer label's class.

    ``y_true`` holds labels in ``[0, classes)``, shape ``(n,)`` or ``(n, 1)``;
    ``y_pred`` one score per class, shape ``(n, classes)``.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.SparseCategoricalAccuracy()
    >>> m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    >>> m.result()
    0.5
    >>> m.update_state([3], [[0.1, 0.6, 0.3]])
    Traceback (most recent call last):
    ...
    ValueError: `y_true` must hold class labels in [0, 3) (whole numbers), got 3.0; ...
    """

    fields = _ACCURACY_FIELDS
    as_input = staticmethod(_labels_then_scores)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """1 where ``argmax(y_pred) == y_true``."""
        labels, scores = _sparse_labels(y_true, y_pred)
        return np.argmax(scores, axis=-1) == labels


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
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.SparseTopKCategoricalAccuracy(k=1)
    >>> m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    >>> m.result()
    0.3
    """

    as_input = staticmethod(_labels_then_scores)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """1 where the label's class is in the top ``k``."""
        labels, scores = _sparse_labels(y_true, y_pred)
        return _in_top_k(labels, scores, self.k)
