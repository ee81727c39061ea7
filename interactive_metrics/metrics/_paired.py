"""Shared pieces of the ``(y_true, y_pred)`` metric families.

Validation helpers (each raises from ``terms``, before any state changes) and two
small bases: :class:`MeanOfSamples` (a weighted mean of a per-sample function,
Keras' ``MeanMetricWrapper`` as a declaration) and :class:`SumOfSamples` (its
weighted sum).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from interactive_metrics.core.memo import checked_once
from interactive_metrics.core.reduce import divide_no_nan
from interactive_metrics.core.weights import squeeze_or_expand, weighted_samples
from interactive_metrics.metric import Metric, State

__all__ = [
    "MeanOfSamples",
    "SumOfSamples",
    "binary_labels",
    "both_within",
    "class_labels",
    "element_weights",
    "matched",
    "in_unit_interval",
    "probabilities",
    "within",
]

# the unsigned integer of each float's width: non-negative floats order as their bits do,
# and NaN and anything with the sign bit set (negatives, -0.0) come after every number
_BITS = {np.dtype(t): np.dtype(u) for t, u in (("f8", "u8"), ("f4", "u4"), ("f2", "u2"))}
_FLOAT64, _UINT64 = np.dtype("f8"), np.dtype("u8")
_LIMITS: dict[tuple[np.dtype[Any], float], Any] = {}
_LIMITS_FLOAT64: dict[float, Any] = {}


def _bits_limit(dtype: np.dtype[Any], high: float) -> Any:
    """The bits of ``high`` in ``dtype`` (as its unsigned integer), or False if it is not exact."""
    exact = dtype.type(high)
    return exact.view(_BITS[dtype]) if exact == high else False


def within(values: np.ndarray, high: float) -> bool:
    """Whether every value is a number in ``[0, high]`` (NaN is not): one pass for floats.

    A float array is read as unsigned integers of its width: its largest one is at
    most the bits of ``high`` exactly when every value is in ``[+0, high]``. That
    is one reduction instead of a minimum and a maximum; anything else (integers,
    ``-0.0``, a value out of range) takes the minimum and the maximum.

    Examples
    --------
    >>> within(np.array([0.0, 0.5, 1.0]), 1.0), within(np.array([-0.0, 1.0]), 1.0)
    (True, True)
    >>> within(np.array([0.5, np.nan]), 1.0), within(np.array([2, 0]), 1.0)
    (False, False)
    """
    if not values.size:
        return True
    dtype = values.dtype
    if dtype is _FLOAT64:  # the common case, with its own cache
        limit = _LIMITS_FLOAT64.get(high)
        if limit is None:
            limit = _LIMITS_FLOAT64[high] = _bits_limit(dtype, high)
        if limit is not False and np.maximum.reduce(values.view(_UINT64), None) <= limit:
            return True
    elif dtype in _BITS and dtype.isnative:
        key = (dtype, high)
        limit = _LIMITS.get(key)
        if limit is None:
            limit = _LIMITS[key] = _bits_limit(dtype, high)
        if limit is not False and np.maximum.reduce(values.view(_BITS[dtype]), None) <= limit:
            return True
    return bool(values.min() >= 0 and values.max() <= high)  # False for NaN too


def both_within(first: np.ndarray, second: np.ndarray, high: float) -> bool:
    """:func:`within` of two arrays of one float64 shape in one reduction (their bits' maximum).

    Examples
    --------
    >>> both_within(np.array([0.0, 1.0]), np.array([0.5, 0.25]), 1.0)
    True
    >>> both_within(np.array([0.0, 1.0]), np.array([0.5, 1.5]), 1.0)
    False
    """
    if first.dtype is _FLOAT64 and second.dtype is _FLOAT64 and first.shape == second.shape:
        if not first.size:
            return True
        limit = _LIMITS_FLOAT64.get(high)
        if limit is None:
            limit = _LIMITS_FLOAT64[high] = _bits_limit(first.dtype, high)
        if limit is not False:
            bits = np.maximum(first.view(_UINT64), second.view(_UINT64))
            if np.maximum.reduce(bits, None) <= limit:
                return True
    return within(first, high) and within(second, high)


def matched(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bring ``y_true`` and ``y_pred`` to the same rank (Keras rules) and require the same shape.

    Examples
    --------
    >>> y_true, y_pred = matched(np.zeros((3, 1)), np.ones(3))
    >>> y_true.shape, y_pred.shape
    ((3, 1), (3, 1))
    >>> matched(np.zeros((3, 2)), np.ones((3, 4)))
    Traceback (most recent call last):
    ...
    ValueError: `y_true` of shape (3, 2) and `y_pred` of shape (3, 4) must have the same shape; ...
    """
    if y_true.shape == y_pred.shape:
        return y_true, y_pred
    y_true, y_pred = squeeze_or_expand(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"`y_true` of shape {y_true.shape} and `y_pred` of shape {y_pred.shape} must have "
            "the same shape; pass one prediction per target"
        )
    return y_true, y_pred


def binary_labels(y_true: np.ndarray) -> np.ndarray:
    """Check that ``y_true`` holds only 0 and 1 and return it as booleans.

    Inside :func:`~interactive_metrics.core.memo.shared_checks` (a collection's
    update) an array is checked once, however many members ask.

    Examples
    --------
    >>> binary_labels(np.array([0.0, 1.0, 1.0]))
    array([False,  True,  True])
    >>> binary_labels(np.array([0.0, 2.0]))
    Traceback (most recent call last):
    ...
    ValueError: `y_true` must hold binary labels (0 or 1), got 1 other value(s), e.g. 2.0; ...
    """
    return checked_once("binary_labels", y_true, _binary_labels)


def _binary_labels(y_true: np.ndarray) -> np.ndarray:
    labels = y_true == 1
    if np.count_nonzero(y_true) != np.count_nonzero(labels):  # NaN counts as nonzero
        bad = y_true[(y_true != 0) & (y_true != 1)]
        raise ValueError(
            f"`y_true` must hold binary labels (0 or 1), got {bad.size} other value(s), "
            f"e.g. {float(bad[0])!r}; threshold or encode the targets first "
            "(NaN labels can be dropped with nan_strategy='ignore')"
        )
    return labels


def in_unit_interval(values: np.ndarray, name: str, holding: str, remedy: str) -> np.ndarray:
    """Check that ``values`` lie in ``[0, 1]`` (NaN does not) and return them.

    Examples
    --------
    >>> in_unit_interval(np.array([0.2, 1.4]), "y_pred", "probabilities", "apply a sigmoid")
    Traceback (most recent call last):
    ...
    ValueError: `y_pred` must hold probabilities in [0, 1], got values from 0.2 to 1.4; ...
    """
    if not within(values, 1.0):
        low, high = np.min(values), np.max(values)
        raise ValueError(
            f"`{name}` must hold {holding} in [0, 1], got values from {float(low)!r} "
            f"to {float(high)!r}; {remedy} (NaN samples can be dropped with "
            "nan_strategy='ignore')"
        )
    return values


def probabilities(y_pred: np.ndarray) -> np.ndarray:
    """Check that ``y_pred`` holds probabilities in ``[0, 1]`` (as Keras asserts) and return it."""
    return checked_once("probabilities", y_pred, _probabilities)


def _probabilities(y_pred: np.ndarray) -> np.ndarray:
    return in_unit_interval(
        y_pred, "y_pred", "probabilities", "apply a sigmoid or softmax to scores first"
    )


def class_labels(labels: np.ndarray, num_classes: int, name: str = "y_true") -> np.ndarray:
    """Check that ``labels`` are whole numbers in ``[0, num_classes)`` and return them as ints.

    Examples
    --------
    >>> class_labels(np.array([0.0, 2.0]), 3)
    array([0, 2])
    >>> class_labels(np.array([0.0, 3.0]), 3)
    Traceback (most recent call last):
    ...
    ValueError: `y_true` must hold class labels in [0, 3) (whole numbers), got 3.0; ...
    """
    with np.errstate(invalid="ignore"):  # NaN and inf cast to garbage, caught just below
        as_int = labels.astype(np.intp)
    if labels.size:
        bad = (as_int != labels) | (as_int < 0) | (as_int >= num_classes)
        if bad.any():
            raise ValueError(
                f"`{name}` must hold class labels in [0, {num_classes}) (whole numbers), "
                f"got {float(labels[bad][0])!r}; encode the classes as 0 .. {num_classes - 1}"
            )
    return as_int


def element_weights(sample_weight: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """Broadcast weights to one weight per value of ``shape`` (Keras 3 rank rules).

    A weight array of rank ``r`` weights the first ``r`` axes: one weight per sample
    (shape ``(n,)``) applies to every value of that sample. A trailing axis of size 1
    is squeezed or added as :func:`~interactive_metrics.core.squeeze_or_expand` does.

    Examples
    --------
    >>> element_weights(np.array([1.0, 0.0]), (2, 3))
    array([[1., 1., 1.],
           [0., 0., 0.]])
    >>> element_weights(np.array([1.0, 0.0, 2.0]), (2, 3))
    Traceback (most recent call last):
    ...
    ValueError: `sample_weight` of shape (3,) cannot broadcast to the values of shape (2, 3); ...
    """
    if sample_weight is None:
        return None
    weight = sample_weight
    if weight.shape == shape:
        return weight
    if weight.ndim == len(shape) + 1 and weight.shape[-1] == 1:
        weight = weight[..., 0]
    if weight.ndim < len(shape):
        weight = weight.reshape(weight.shape + (1,) * (len(shape) - weight.ndim))
    try:
        return np.broadcast_to(weight, shape)
    except ValueError:
        raise ValueError(
            f"`sample_weight` of shape {sample_weight.shape} cannot broadcast to the values "
            f"of shape {shape}; pass one weight per sample (shape {shape[:1]}) "
            f"or one per value (shape {shape})"
        ) from None


class _PerSample(Metric):
    """A metric of one value per sample (or per value): declare ``per_sample``."""

    def _names(self) -> tuple[str, ...]:
        """The names of the declared fields (read once)."""
        names: tuple[str, ...] | None = self.__dict__.get("_field_names")
        if names is None:
            names = self._field_names = tuple(f.name for f in self.fields)
        return names

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Values of shape ``(n, ...)`` for one batch (override this)."""
        raise NotImplementedError(f"{type(self).__name__} must define `per_sample`")

    def _weighted(
        self,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        sample_weight: np.ndarray | None,
        reduce: Literal["sum", "mean"],
    ) -> tuple[Any, np.ndarray | None]:
        """``per_sample`` in the metric's dtype, weighted per sample (Keras 3 rules)."""
        values = self.per_sample(y_true, y_pred)
        if sample_weight is None and values.ndim == 1 and values.dtype == np.bool_:
            return values, None  # hits: counted exactly, with no float copy
        if values.dtype != self.engine.dtype:
            values = values.astype(self.engine.dtype)
        return weighted_samples(values, sample_weight, reduce=reduce, factored=True)


class MeanOfSamples(_PerSample):
    """The weighted mean of ``per_sample(y_true, y_pred)``: declare two fields and that function.

    ``fields`` are ``(<what is summed>, count)``; values of rank > 1 are averaged
    over their trailing axes per sample, as Keras' ``MeanMetricWrapper`` does.
    """

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Each sample's weighted value and its weight (1 when unweighted)."""
        weighted, weight = self._weighted(y_true, y_pred, sample_weight, "mean")
        total, count = self._names()
        return {total: weighted, count: 1.0 if weight is None else weight}

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The weighted sum divided by the total weight; 0 when no weight was seen."""
        total, count = self._names()
        return divide_no_nan(state[total], state[count])


class SumOfSamples(_PerSample):
    """The weighted sum of ``per_sample(y_true, y_pred)``: declare one field and that function.

    Values of rank > 1 are summed over their trailing axes per sample.
    """

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Each sample's weighted value."""
        weighted, _ = self._weighted(y_true, y_pred, sample_weight, "sum")
        return {self._names()[0]: weighted}

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The weighted sum."""
        return state[self._names()[0]]
