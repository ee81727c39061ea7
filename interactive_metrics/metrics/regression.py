"""Regression metrics with Keras semantics, and the error sums Keras lacks.

Each mean metric keeps ``<error>_sum`` (the weighted sum of per-sample errors) and
``count`` (the total weight), so merging is exact. Values of rank > 1 are
averaged over their trailing axes per sample before weighting, as in Keras.
``y_true`` and ``y_pred`` must have the same shape (a trailing axis of size 1 is
squeezed or added, as Keras does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from interactive_metrics.core.reduce import divide_no_nan
from interactive_metrics.metric import StateField
from interactive_metrics.metrics._paired import MeanOfSamples, SumOfSamples, matched

__all__ = [
    "LogCoshError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "RootMeanSquaredError",
    "SumAbsoluteError",
    "SumSquaredError",
]

EPSILON = 1e-7
"""Keras' ``backend.epsilon()``: the floor of ``|y_true|`` in percentage errors and of logs."""

_SQUARED_ERROR_FIELDS = (StateField("squared_error_sum"), StateField("count"))


def _error(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    y_true, y_pred = matched(y_true, y_pred)
    return y_pred - y_true


class MeanAbsoluteError(MeanOfSamples):
    """The weighted mean of ``|y_true - y_pred|``.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.MeanAbsoluteError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> m.result()
    0.25
    >>> m.reset_state()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
    >>> m.result(), m.state
    (0.5, {'absolute_error_sum': 0.5, 'count': 1.0})
    """

    fields = (StateField("absolute_error_sum"), StateField("count"))

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``|y_true - y_pred|``."""
        return np.abs(_error(y_true, y_pred))


class MeanSquaredError(MeanOfSamples):
    """The weighted mean of ``(y_true - y_pred)²``.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.MeanSquaredError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
    >>> m.result()
    0.5
    """

    fields = _SQUARED_ERROR_FIELDS

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``(y_true - y_pred)²``."""
        return np.square(_error(y_true, y_pred))


class RootMeanSquaredError(MeanOfSamples):
    """The square root of the weighted mean squared error (of the pooled mean, not per batch).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.RootMeanSquaredError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> m.result()
    0.5
    >>> m.reset_state()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
    >>> round(m.result(), 8)
    0.70710678
    """

    fields = _SQUARED_ERROR_FIELDS

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``(y_true - y_pred)²``."""
        return np.square(_error(y_true, y_pred))

    def compute(self, state: Mapping[str, Any]) -> Any:
        """``sqrt(squared_error_sum / count)``; 0 when no weight was seen."""
        return np.sqrt(divide_no_nan(state["squared_error_sum"], state["count"]))


class MeanAbsolutePercentageError(MeanOfSamples):
    """The weighted mean of ``100 · |y_true - y_pred| / max(|y_true|, 1e-7)``.

    Notes
    -----
    A target of 0 gives a huge but finite error (Keras' floor ``1e-7``), as the
    Keras documentation's example shows.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.MeanAbsolutePercentageError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> m.result()
    250000000.0
    >>> m.reset_state()
    >>> m.update_state([100, 200], [110, 150])
    >>> m.result()
    17.5
    """

    fields = (StateField("percentage_error_sum"), StateField("count"))

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``100 · |y_true - y_pred| / max(|y_true|, 1e-7)``."""
        y_true, y_pred = matched(y_true, y_pred)
        return 100.0 * np.abs(y_pred - y_true) / np.maximum(np.abs(y_true), EPSILON)


class MeanSquaredLogarithmicError(MeanOfSamples):
    """The weighted mean of ``(log(1 + y_pred) - log(1 + y_true))²``.

    Notes
    -----
    As in Keras, values below ``1e-7`` are raised to ``1e-7`` before the logarithm
    (negative targets do not raise, unlike scikit-learn).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.MeanSquaredLogarithmicError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> round(m.result(), 8)
    0.12011322
    """

    fields = (StateField("squared_log_error_sum"), StateField("count"))

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``(log1p(max(y_pred, ε)) - log1p(max(y_true, ε)))²``."""
        y_true, y_pred = matched(y_true, y_pred)
        return np.square(
            np.log1p(np.maximum(y_pred, EPSILON)) - np.log1p(np.maximum(y_true, EPSILON))
        )


class LogCoshError(MeanOfSamples):
    """The weighted mean of ``log(cosh(y_pred - y_true))``: squared-like near 0, linear far away.

    Computed as ``x + softplus(-2x) - log 2``, which does not overflow for large errors.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.LogCoshError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> round(m.result(), 8)
    0.10844520
    >>> m.reset_state()
    >>> m.update_state([0], [1000])
    >>> round(m.result(), 6)
    999.306853
    """

    fields = (StateField("log_cosh_sum"), StateField("count"))

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``log(cosh(y_pred - y_true))``."""
        x = np.abs(_error(y_true, y_pred))
        return x + np.log1p(np.exp(-2.0 * x)) - np.log(2.0)


class SumAbsoluteError(SumOfSamples):
    """The weighted *sum* of ``|y_true - y_pred|`` (every value of every sample counts).

    The total Keras users hand-write because ``MeanAbsoluteError`` averages. It is
    the sum of per-sample errors, not the sum of per-batch means (see
    ``docs/metrics.md``).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.SumAbsoluteError()
    >>> m.update_state([1, 2, 3], [1, 4, 6])
    >>> m.update_state([0, 0], [1, 1], sample_weight=[1, 0])
    >>> m.result()
    6.0
    """

    fields = (StateField("absolute_error_sum"),)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``|y_true - y_pred|``."""
        return np.abs(_error(y_true, y_pred))


class SumSquaredError(SumOfSamples):
    """The weighted *sum* of ``(y_true - y_pred)²`` (the residual sum of squares).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.SumSquaredError()
    >>> m.update_state([1, 2, 3], [1, 4, 6])
    >>> m.result()
    13.0
    """

    fields = (StateField("squared_error_sum"),)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``(y_true - y_pred)²``."""
        return np.square(_error(y_true, y_pred))
