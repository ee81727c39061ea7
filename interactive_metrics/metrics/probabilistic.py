"""Probabilistic metrics with Keras 3's formulas: crossentropies, KL divergence, Poisson.

Each is a weighted mean of one loss value per sample (Keras' ``MeanMetricWrapper``):
the state is ``<loss>_sum`` (the weighted sum of per-sample losses) and ``count``
(the total weight), so merging, streams and replay are exact. Probabilities are
clipped to ``[1e-7, 1 - 1e-7]`` exactly where ``keras.losses`` clips them.

Values of rank > 1 without a class axis (binary crossentropy, Poisson) are
averaged over their trailing axes per sample, as Keras averages the last axis;
the categorical losses reduce the class axis ``axis`` first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interactive_metrics.core.weights import weighted_samples
from interactive_metrics.metric import State, StateField
from interactive_metrics.metrics._checks import check_axis, check_flag, check_fraction
from interactive_metrics.metrics._paired import (
    MeanOfSamples,
    class_labels,
    element_weights,
    matched,
)

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "KLDivergence",
    "LogLoss",
    "Poisson",
    "SparseCategoricalCrossentropy",
]

EPSILON = 1e-7
"""Keras' ``backend.epsilon()``: where probabilities are clipped and logarithms floored."""

_CROSSENTROPY_FIELDS = (StateField("crossentropy_sum"), StateField("count"))


def as_float64(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The arrays in float64 (no copy when they already are): ``1 - 1e-7`` is 1 in float16."""
    return tuple(np.asarray(x, dtype=np.float64) for x in arrays)


def class_axis(y_pred: np.ndarray, axis: int) -> int:
    """``axis`` as a non-negative axis of ``y_pred``, which must have one besides the samples.

    Examples
    --------
    >>> class_axis(np.zeros((4, 3)), -1)
    1
    >>> class_axis(np.zeros(4), -1)
    Traceback (most recent call last):
    ...
    ValueError: `y_pred` must have a class axis besides the samples (shape (n, classes)), ...
    """
    if y_pred.ndim < 2:
        raise ValueError(
            "`y_pred` must have a class axis besides the samples (shape (n, classes)), got "
            f"shape {y_pred.shape}; pass one score per class for each sample"
        )
    if not -y_pred.ndim <= axis < y_pred.ndim or axis % y_pred.ndim == 0:
        raise ValueError(
            f"`axis` {axis} is not a class axis of `y_pred` of shape {y_pred.shape}; "
            f"pick an axis in [1, {y_pred.ndim}) or [-{y_pred.ndim - 1}, -1]"
        )
    return axis % y_pred.ndim


def log_probabilities(y_pred: np.ndarray, from_logits: bool) -> np.ndarray:
    """``log(softmax(y_pred))`` for logits, else ``log(clip(y_pred / Σ y_pred, ε, 1 - ε))``.

    The class axis is the last one. This is the numpy backend of Keras 3.

    Examples
    --------
    >>> log_probabilities(np.array([[0.05, 0.95, 0.0]]), False).round(4)
    array([[ -2.9957,  -0.0513, -16.1181]])
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        if from_logits:
            shifted = y_pred - np.max(y_pred, axis=-1, keepdims=True)
            return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        output = y_pred / np.sum(y_pred, axis=-1, keepdims=True)
        return np.log(np.clip(output, EPSILON, 1.0 - EPSILON))


class BinaryCrossentropy(MeanOfSamples):
    """The weighted mean binary crossentropy (log loss) of ``y_pred`` against ``y_true``.

    Per value: ``-(y·log(p) + (1 - y)·log(1 - p))`` with ``p`` clipped to
    ``[1e-7, 1 - 1e-7]``; per sample, the mean over its values.

    Parameters
    ----------
    name : str, optional
        Default ``"binary_crossentropy"``.
    dtype : str or numpy dtype, optional
        As for :class:`~interactive_metrics.Metric`.
    from_logits : bool
        ``y_pred`` holds logits (any real number) rather than probabilities.
    label_smoothing : float
        In ``[0, 1]``: targets become ``y·(1 - s) + s/2`` (squeezed towards 0.5).
    **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    With ``from_logits=True`` the loss is computed without clipping
    (``max(x, 0) - x·y + log(1 + exp(-|x|))``), as Keras' TensorFlow, JAX and torch
    backends do; its numpy backend clips ``sigmoid(x)`` and so caps the loss at
    ``-log(1e-7) ≈ 16.12``.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.BinaryCrossentropy()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> round(m.result(), 6)
    0.814924
    >>> m.reset_state()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]], sample_weight=[1, 0])
    >>> round(m.result(), 6)
    0.916291
    """

    fields = _CROSSENTROPY_FIELDS

    def __init__(
        self,
        name: str | None = None,
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        **options: Any,
    ) -> None:
        self.from_logits = check_flag(from_logits, "from_logits")
        self.label_smoothing = check_fraction(label_smoothing, "label_smoothing")
        super().__init__(name=name, dtype=dtype, **options)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """The crossentropy of each value."""
        y_true, y_pred = as_float64(*matched(y_true, y_pred))
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        if self.from_logits:
            with np.errstate(over="ignore", invalid="ignore"):
                return np.maximum(y_pred, 0.0) - y_pred * y_true + np.log1p(np.exp(-np.abs(y_pred)))
        p = np.minimum(np.maximum(y_pred, EPSILON), 1.0 - EPSILON)  # np.clip: 1 µs slower
        log_p, log_not_p = np.log(p), np.log1p(-p)
        return y_true * (log_not_p - log_p) - log_not_p  # -(y·log p + (1 - y)·log(1 - p))


class LogLoss(BinaryCrossentropy):
    """Log loss, the name scikit-learn and torchmetrics users know: :class:`BinaryCrossentropy`.

    The same metric (same parameters, state and result) under scikit-learn's name;
    only the default ``name`` differs (``"log_loss"``). It is scikit-learn's
    ``log_loss(y_true, y_pred, sample_weight=...)`` for binary labels and the
    probability of class 1, up to clipping: Keras (and this class) clip
    probabilities to ``[1e-7, 1 - 1e-7]``, scikit-learn to the float64 machine
    epsilon, so they differ only for probabilities within 1e-7 of 0 or 1. For
    integer labels of more classes, use :class:`SparseCategoricalCrossentropy`
    (one-hot labels: :class:`CategoricalCrossentropy`).

    Parameters
    ----------
    name : str, optional
        Default ``"log_loss"``.
    dtype, from_logits, label_smoothing, **options
        As for :class:`BinaryCrossentropy`.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.LogLoss()
    >>> m.update_state([1, 0, 1], [0.9, 0.2, 0.6])
    >>> round(m.result(), 6), m.name
    (0.279777, 'log_loss')
    """


class CategoricalCrossentropy(MeanOfSamples):
    """The weighted mean crossentropy of one-hot (or probability) targets and class scores.

    Per sample: ``-Σ_c y_c·log(p_c)`` along ``axis``, where ``p`` is ``y_pred``
    rescaled to sum to 1 and clipped to ``[1e-7, 1 - 1e-7]`` (or ``softmax(y_pred)``
    with ``from_logits=True``).

    Parameters
    ----------
    name : str, optional
        Default ``"categorical_crossentropy"``.
    dtype : str or numpy dtype, optional
        As for :class:`~interactive_metrics.Metric`.
    from_logits : bool
        ``y_pred`` holds logits rather than probabilities.
    label_smoothing : float
        In ``[0, 1]``: targets become ``y·(1 - s) + s/classes``.
    axis : int
        The class axis (not 0, which holds the samples); default the last.
    **options
        As for :class:`~interactive_metrics.Metric`.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.CategoricalCrossentropy()
    >>> m.update_state([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    >>> round(m.result(), 6)
    1.176939
    >>> m.reset_state()
    >>> m.update_state(
    ...     [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]], sample_weight=[0.3, 0.7]
    ... )
    >>> round(m.result(), 6)
    1.627198
    """

    fields = _CROSSENTROPY_FIELDS

    def __init__(
        self,
        name: str | None = None,
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        **options: Any,
    ) -> None:
        self.from_logits = check_flag(from_logits, "from_logits")
        self.label_smoothing = check_fraction(label_smoothing, "label_smoothing")
        self.axis = check_axis(axis)
        super().__init__(name=name, dtype=dtype, **options)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """The crossentropy of each sample (the class axis summed away)."""
        y_true, y_pred = as_float64(*matched(y_true, y_pred))
        axis = class_axis(y_pred, self.axis)
        y_true, y_pred = np.moveaxis(y_true, axis, -1), np.moveaxis(y_pred, axis, -1)
        if self.label_smoothing:
            classes = y_pred.shape[-1]
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / classes
        with np.errstate(invalid="ignore"):
            return -np.sum(y_true * log_probabilities(y_pred, self.from_logits), axis=-1)


class SparseCategoricalCrossentropy(MeanOfSamples):
    """The weighted mean crossentropy of integer class labels and class scores.

    Per sample: ``-log(p[y_true])``, with ``p`` as for
    :class:`CategoricalCrossentropy`.

    Parameters
    ----------
    name : str, optional
        Default ``"sparse_categorical_crossentropy"``.
    dtype : str or numpy dtype, optional
        As for :class:`~interactive_metrics.Metric`.
    from_logits : bool
        ``y_pred`` holds logits rather than probabilities.
    axis : int
        The class axis of ``y_pred`` (not 0); default the last.
    ignore_class : int, optional
        Samples (or values) with this label are masked out: they count with weight 0.
    **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    ``y_true`` has the shape of ``y_pred`` without its class axis (or with that
    axis of size 1). A label outside ``[0, classes)`` is a ``ValueError`` (Keras
    silently scores it 0), unless it is ``ignore_class``.

    With ``ignore_class``, an ignored sample has weight 0, so it is out of the
    mean. Keras agrees when weights are passed, but without weights it divides
    by every sample, ignored ones included: on its test batch (labels
    ``[0, 1, 2]``, ``ignore_class=0``) Keras reports 0.7846 where this class
    reports 1.1770, the mean of the two samples that count.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.SparseCategoricalCrossentropy()
    >>> m.update_state([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    >>> round(m.result(), 6)
    1.176939
    >>> m.reset_state()
    >>> m.update_state([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]], sample_weight=[0.3, 0.7])
    >>> round(m.result(), 6)
    1.627198
    >>> m = im.SparseCategoricalCrossentropy(ignore_class=0)
    >>> y_pred = [[0.8, 0.1, 0.1], [0.05, 0.95, 0], [0.1, 0.8, 0.1]]
    >>> m.update_state([0, 1, 2], y_pred, sample_weight=[0.5, 1.5, 2.0])
    >>> round(m.result(), 5)
    1.33775
    """

    fields = _CROSSENTROPY_FIELDS

    def __init__(
        self,
        name: str | None = None,
        dtype: Any = None,
        from_logits: bool = False,
        axis: int = -1,
        ignore_class: int | None = None,
        **options: Any,
    ) -> None:
        self.from_logits = check_flag(from_logits, "from_logits")
        self.axis = check_axis(axis)
        if ignore_class is not None and (
            isinstance(ignore_class, bool) or not isinstance(ignore_class, (int, np.integer))
        ):
            raise ValueError(
                f"`ignore_class` must be None or an integer label, got {ignore_class!r}; "
                "e.g. -1 or 255 for a 'void' class"
            )
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        super().__init__(name=name, dtype=dtype, **options)

    def _labels_and_scores(
        self, y_true: np.ndarray, y_pred: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels of shape ``(n, ...)`` and scores of shape ``(n, ..., classes)``."""
        axis = class_axis(y_pred, self.axis)
        if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
            y_true = np.squeeze(y_true, axis=axis)
        y_pred = np.moveaxis(y_pred, axis, -1)
        if y_true.shape != y_pred.shape[:-1]:
            raise ValueError(
                f"`y_true` of shape {y_true.shape} must hold one label per sample of `y_pred` "
                f"of shape {y_pred.shape} without its class axis {axis}, i.e. shape "
                f"{y_pred.shape[:-1]}; pass class indices, not one-hot rows"
            )
        return y_true, y_pred

    def _crossentropy(self, labels: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        index = class_labels(labels.ravel(), y_pred.shape[-1]).reshape(labels.shape)
        log_p = log_probabilities(np.asarray(y_pred, dtype=np.float64), self.from_logits)
        one_hot = index[..., None] == np.arange(y_pred.shape[-1])
        with np.errstate(invalid="ignore"):  # a NaN score spreads to its sample, as in Keras
            return -np.sum(np.where(one_hot, log_p, 0.0 * log_p), axis=-1)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """The crossentropy of each sample's labelled class."""
        labels, scores = self._labels_and_scores(y_true, y_pred)
        return self._crossentropy(labels, scores)

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Each sample's weighted crossentropy and weight; ``ignore_class`` labels weigh 0."""
        if self.ignore_class is None:
            return super().terms(y_true, y_pred, sample_weight)
        labels, scores = self._labels_and_scores(y_true, y_pred)
        kept = labels != self.ignore_class
        values = self._crossentropy(np.where(kept, labels, 0), scores)
        values = np.where(kept, values, 0.0).astype(self.engine.dtype, copy=False)
        weight = element_weights(sample_weight, labels.shape)
        weight = kept.astype(self.engine.dtype) if weight is None else weight * kept
        weighted, per_sample_weight = weighted_samples(values, weight, reduce="mean")
        return {"crossentropy_sum": weighted, "count": per_sample_weight}


class KLDivergence(MeanOfSamples):
    """The weighted mean Kullback-Leibler divergence ``Σ y·log(y / p)`` along the last axis.

    Both ``y_true`` and ``y_pred`` are clipped to ``[1e-7, 1]`` first, as Keras does.
    Inputs of shape ``(n,)`` give one term per sample.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.KLDivergence()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> round(m.result(), 6)
    0.458143
    >>> m.reset_state()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]], sample_weight=[1, 0])
    >>> round(m.result(), 6)
    0.916289
    """

    fields = (StateField("kl_divergence_sum"), StateField("count"))

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``Σ y·log(y / p)`` over the last axis of each sample."""
        y_true, y_pred = as_float64(*matched(y_true, y_pred))
        y_true = np.clip(y_true, EPSILON, 1.0)
        with np.errstate(invalid="ignore"):
            divergence = y_true * np.log(y_true / np.clip(y_pred, EPSILON, 1.0))
        return divergence.sum(axis=-1) if divergence.ndim > 1 else divergence


class Poisson(MeanOfSamples):
    """The weighted mean Poisson loss ``y_pred - y_true·log(y_pred + 1e-7)``.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.Poisson()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> round(m.result(), 6)
    0.5
    >>> m.reset_state()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
    >>> round(m.result(), 6)
    1.0
    """

    fields = (StateField("poisson_loss_sum"), StateField("count"))

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``y_pred - y_true·log(y_pred + ε)`` for each value."""
        y_true, y_pred = as_float64(*matched(y_true, y_pred))
        with np.errstate(divide="ignore", invalid="ignore"):
            return y_pred - y_true * np.log(y_pred + EPSILON)
