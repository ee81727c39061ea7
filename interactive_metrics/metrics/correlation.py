"""Similarity, correlation and goodness of fit, with Keras 3's formulas.

``CosineSimilarity``, ``PearsonCorrelation``, ``ConcordanceCorrelation`` and ``R2Score``.

``CosineSimilarity`` is a weighted mean of one value per sample. The correlations
keep weighted sums of ``x``, ``y``, ``x²``, ``y²`` and ``x·y`` (pooled over every
sample of shape ``(n,)`` seen) and the sum of per-sample correlations of rows
(inputs of shape ``(n, d)``, Keras' reading); ``R2Score`` keeps sums per output.
Every state is a sum, so merging, streams and replay are exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from interactive_metrics.metric import Metric, State, StateField
from interactive_metrics.metrics._checks import check_axis, check_integer
from interactive_metrics.metrics._paired import MeanOfSamples, element_weights, matched
from interactive_metrics.metrics.probabilistic import EPSILON, class_axis

__all__ = ["ConcordanceCorrelation", "CosineSimilarity", "PearsonCorrelation", "R2Score"]


def _l2_normalize(x: np.ndarray) -> np.ndarray:
    """``x / max(‖x‖, 1e-7)`` along the last axis (Keras' ``normalize``): zero rows stay 0."""
    square_sum = np.sum(np.square(x), axis=-1, keepdims=True)
    return x / np.sqrt(np.maximum(square_sum, EPSILON * EPSILON))


class CosineSimilarity(MeanOfSamples):
    """The weighted mean cosine similarity of ``y_true`` and ``y_pred`` along ``axis``.

    Parameters
    ----------
    name : str, optional
        Default ``"cosine_similarity"``.
    dtype : str or numpy dtype, optional
        As for :class:`~interactive_metrics.Metric`.
    axis : int
        The axis the vectors lie along (not 0, which holds the samples); default the last.
    **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    A zero vector has similarity 0 with anything (Keras floors the norm at 1e-7).

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.CosineSimilarity(axis=1)
    >>> m.update_state([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]])
    >>> round(m.result(), 6)
    0.5
    >>> m.reset_state()
    >>> m.update_state(
    ...     [[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]], sample_weight=[0.3, 0.7]
    ... )
    >>> round(m.result(), 6)
    0.7
    """

    fields = (StateField("cosine_similarity_sum"), StateField("count"))

    def __init__(
        self, name: str | None = None, dtype: Any = None, axis: int = -1, **options: Any
    ) -> None:
        self.axis = check_axis(axis)
        super().__init__(name=name, dtype=dtype, **options)

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """The cosine similarity of each sample's two vectors."""
        y_true, y_pred = matched(y_true, y_pred)
        axis = class_axis(y_pred, self.axis)
        y_true, y_pred = np.moveaxis(y_true, axis, -1), np.moveaxis(y_pred, axis, -1)
        return np.sum(_l2_normalize(y_true) * _l2_normalize(y_pred), axis=-1)


_MOMENTS = (
    "x_sum",
    "y_sum",
    "x_squared_sum",
    "y_squared_sum",
    "xy_sum",
    "weight_total",
    "sample_count",
)


class _Correlation(Metric):
    """Pooled weighted moments of 1-D inputs, and the sum of row correlations of 2-D inputs."""

    fields = (
        *(StateField(name) for name in _MOMENTS),
        StateField("row_correlation_sum"),
        StateField("row_count"),
    )

    def __init__(
        self, name: str | None = None, dtype: Any = None, axis: int = -1, **options: Any
    ) -> None:
        self.axis = check_axis(axis)
        super().__init__(name=name, dtype=dtype, **options)

    def _rows(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """The correlation of each sample's row (override this)."""
        raise NotImplementedError

    def _pooled(self, state: Mapping[str, Any]) -> Any:
        """The correlation of the pooled moments (override this)."""
        raise NotImplementedError

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Weighted moments of each sample (1-D inputs) or its weighted row correlation."""
        y_true, y_pred = matched(y_true, y_pred)
        if y_pred.ndim == 2 and y_pred.shape[1] == 1:
            y_true, y_pred = y_true[:, 0], y_pred[:, 0]
        n = y_pred.shape[0]
        zero = np.zeros(n, dtype=self.engine.dtype)
        if y_pred.ndim == 1:
            weight = element_weights(sample_weight, (n,))
            w = np.ones(n, dtype=self.engine.dtype) if weight is None else weight
            wx, wy = w * y_true, w * y_pred
            return {
                "x_sum": wx,
                "y_sum": wy,
                "x_squared_sum": wx * y_true,
                "y_squared_sum": wy * y_pred,
                "xy_sum": wx * y_pred,
                "weight_total": w,
                "sample_count": (w != 0).astype(self.engine.dtype),
                "row_correlation_sum": zero,
                "row_count": zero,
            }
        axis = class_axis(y_pred, self.axis)
        y_true, y_pred = np.moveaxis(y_true, axis, -1), np.moveaxis(y_pred, axis, -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rows = self._rows(y_true, y_pred)
        rows = rows.reshape(n, -1).mean(axis=1) if rows.ndim > 1 else rows
        weight = element_weights(sample_weight, (n,))
        out: State = {name: zero for name in _MOMENTS}
        out["row_correlation_sum"] = rows if weight is None else rows * weight
        out["row_count"] = np.ones(n, dtype=self.engine.dtype) if weight is None else weight
        return out

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The pooled correlation, or the mean row correlation; 0 before any sample."""
        rows, pooled = state["row_count"], state["weight_total"]
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_row = state["row_correlation_sum"] / rows
            pooled_value = np.where(state["sample_count"] >= 2, self._pooled(state), np.nan)
            value = np.where(pooled > 0, pooled_value, np.where(rows > 0, mean_row, 0.0))
            value = np.where((pooled > 0) & (rows > 0), np.nan, value)
        return value[()] if value.ndim == 0 else value

    @staticmethod
    def _moments(state: Mapping[str, Any]) -> tuple[Any, Any, Any, Any, Any]:
        """Weighted means of x and y, their (population) variances and covariance."""
        weight = state["weight_total"]
        mean_x, mean_y = state["x_sum"] / weight, state["y_sum"] / weight
        var_x = state["x_squared_sum"] / weight - mean_x * mean_x
        var_y = state["y_squared_sum"] / weight - mean_y * mean_y
        covariance = state["xy_sum"] / weight - mean_x * mean_y
        return mean_x, mean_y, np.maximum(var_x, 0.0), np.maximum(var_y, 0.0), covariance


_CORRELATION_NOTES = """
    Inputs of shape ``(n, d)`` (``axis`` picks the axis of length ``d``): the
    correlation of each sample's ``d`` values, averaged over samples with the
    weights, as Keras' ``MeanMetricWrapper`` does. Inputs of shape ``(n,)`` or
    ``(n, 1)`` have no axis besides the samples: their correlation is the weighted
    correlation of *every sample seen*, pooled from the sums ``x_sum`` ...
    ``xy_sum`` (Keras correlates each batch and averages the batch values, so its
    result depends on how the data was batched; this one does not, and equals
    Keras on a single batch). Do not mix the two shapes in one metric (the
    result is then NaN). Fewer than two samples of nonzero weight have no
    correlation (NaN). Raw moment sums lose precision when the means are
    large against the spread (e.g. values near 1e8 varying by 1).
"""


class PearsonCorrelation(_Correlation):
    """Pearson's correlation coefficient of ``y_true`` and ``y_pred``.

    Parameters
    ----------
    name : str, optional
        Default ``"pearson_correlation"``.
    dtype : str or numpy dtype, optional
        As for :class:`~interactive_metrics.Metric`.
    axis : int
        The axis of each sample's values for inputs of shape ``(n, d)``; default the last.
    **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    {notes}
    A constant input has no correlation: NaN, as in Keras and scipy.

    Examples
    --------
    The numbers of the Keras documentation (one correlation per row, averaged):

    >>> import interactive_metrics as im
    >>> m = im.PearsonCorrelation()
    >>> m.update_state([[0, 1, 0.5], [1, 1, 0.2]], [[0.1, 0.9, 0.5], [1, 0.9, 0.2]])
    >>> round(m.result(), 6)
    0.9967

    One-dimensional inputs: the correlation of all samples, over two batches.

    >>> m = im.PearsonCorrelation()
    >>> m.update_state([1, 2, 3], [1, 3, 2])
    >>> m.update_state([4, 5], [5, 4])
    >>> round(m.result(), 6)
    0.8
    """

    def _rows(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        centred_true = y_true - y_true.mean(axis=-1, keepdims=True)
        centred_pred = y_pred - y_pred.mean(axis=-1, keepdims=True)
        centred_true = centred_true / centred_true.std(axis=-1, keepdims=True)
        centred_pred = centred_pred / centred_pred.std(axis=-1, keepdims=True)
        return np.mean(centred_true * centred_pred, axis=-1)

    def _pooled(self, state: Mapping[str, Any]) -> Any:
        _, _, var_x, var_y, covariance = self._moments(state)
        return covariance / np.sqrt(var_x * var_y)


class ConcordanceCorrelation(_Correlation):
    """Lin's concordance correlation coefficient ``2·cov / (var_x + var_y + (mean_x - mean_y)²)``.

    As in Keras, ``1e-7`` is added to the denominator and variances are
    population variances.

    Parameters
    ----------
    name : str, optional
        Default ``"concordance_correlation"``.
    dtype : str or numpy dtype, optional
        As for :class:`~interactive_metrics.Metric`.
    axis : int
        The axis of each sample's values for inputs of shape ``(n, d)``; default the last.
    **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    {notes}

    Examples
    --------
    The numbers of the Keras documentation (one coefficient per row, averaged):

    >>> import interactive_metrics as im
    >>> m = im.ConcordanceCorrelation()
    >>> m.update_state([[0, 1, 0.5], [1, 1, 0.2]], [[0.1, 0.9, 0.5], [1, 0.9, 0.2]])
    >>> round(m.result(), 6)
    0.981632
    """

    def _rows(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        mean_true = y_true.mean(axis=-1, keepdims=True)
        mean_pred = y_pred.mean(axis=-1, keepdims=True)
        var_true = np.square(y_true - mean_true).mean(axis=-1)
        var_pred = np.square(y_pred - mean_pred).mean(axis=-1)
        covariance = ((y_true - mean_true) * (y_pred - mean_pred)).mean(axis=-1)
        gap = np.square(mean_true - mean_pred)[..., 0]
        return 2.0 * covariance / (var_true + var_pred + gap + EPSILON)

    def _pooled(self, state: Mapping[str, Any]) -> Any:
        mean_x, mean_y, var_x, var_y, covariance = self._moments(state)
        return 2.0 * covariance / (var_x + var_y + np.square(mean_x - mean_y) + EPSILON)


for _cls in (PearsonCorrelation, ConcordanceCorrelation):
    _cls.__doc__ = (_cls.__doc__ or "").replace(
        "    {notes}\n", _CORRELATION_NOTES.strip("\n") + "\n"
    )

_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class R2Score(Metric):
    """The coefficient of determination R², per output or aggregated, optionally adjusted.

    ``R² = 1 - Σ w·(y - ŷ)² / Σ w·(y - ȳ)²`` per output, from the weighted sums
    of ``y``, ``y²``, the squared residuals and the weights.

    Parameters
    ----------
    class_aggregation : {"uniform_average", "variance_weighted_average", None}
        How the outputs' scores combine: their mean, their mean weighted by each
        output's variance, or none (one score per output).
    num_regressors : int
        ``p`` of the adjusted R² ``1 - (1 - R²)·(n - 1)/(n - p - 1)``, where ``n``
        counts the samples with a nonzero weight; 0 (default) gives the plain R².
    name : str, optional
        Default ``"r2_score"``.
    dtype : str or numpy dtype, optional
        As for :class:`~interactive_metrics.Metric`.
    num_outputs : int
        The number of columns of ``y_true`` and ``y_pred`` (default 1, which also
        accepts inputs of shape ``(n,)``). Keras reads it from the first batch;
        here it fixes the shape of the state up front.
    **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    As in Keras, an output whose targets are constant (zero variance) scores 0
    (NaN if its predictions are exact too), and when ``num_regressors >= n - 1``
    the plain R² is returned (Keras also warns; this class cannot, as results
    are computed for every history row). Before any sample, the result is 0.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.R2Score()
    >>> m.update_state([[1], [4], [3]], [[2], [4], [4]])
    >>> round(m.result(), 6)
    0.571429
    >>> m = im.R2Score(class_aggregation=None, num_outputs=2)
    >>> m.update_state([[1, 2], [4, 3], [3, 5]], [[2, 2], [4, 4], [4, 4]])
    >>> m.result().round(4)
    array([0.5714, 0.5714])
    """

    def __init__(
        self,
        class_aggregation: Literal["uniform_average", "variance_weighted_average"]
        | None = "uniform_average",
        num_regressors: int = 0,
        name: str | None = None,
        dtype: Any = None,
        num_outputs: int = 1,
        **options: Any,
    ) -> None:
        if class_aggregation not in _AGGREGATIONS:
            raise ValueError(
                f"`class_aggregation` must be one of {_AGGREGATIONS}, got {class_aggregation!r}"
            )
        self.class_aggregation = class_aggregation
        self.num_regressors = check_integer(
            num_regressors, "num_regressors", 0, "; 0 gives the plain (unadjusted) R²"
        )
        self.num_outputs = check_integer(num_outputs, "num_outputs", 1)
        super().__init__(name=name, dtype=dtype, **options)

    @property
    def fields(self) -> tuple[StateField, ...]:  # type: ignore[override]
        """Per-output sums of ``y``, ``y²``, squared residuals and weights; the sample count."""
        shape = (self.num_outputs,)
        return (
            StateField("y_sum", shape=shape),
            StateField("y_squared_sum", shape=shape),
            StateField("squared_residual_sum", shape=shape),
            StateField("weight_total", shape=shape),
            StateField("sample_count"),
        )

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Each sample's weighted ``y``, ``y²``, squared residual and weight per output."""
        y_true, y_pred = matched(y_true, y_pred)
        if y_pred.ndim == 1:
            y_true, y_pred = y_true[:, None], y_pred[:, None]
        k = self.num_outputs
        if y_pred.ndim != 2 or y_pred.shape[1] != k:
            raise ValueError(
                f"`y_pred` must have shape (n, {k}) (num_outputs={k}), got shape "
                f"{y_pred.shape}; pass num_outputs={y_pred.shape[-1]} for "
                f"{y_pred.shape[-1]} outputs"
            )
        weight = element_weights(sample_weight, y_pred.shape)
        if weight is None:
            weight = np.ones(y_pred.shape, dtype=self.engine.dtype)
        weighted = weight * y_true
        return {
            "y_sum": weighted,
            "y_squared_sum": weighted * y_true,
            "squared_residual_sum": weight * np.square(y_true - y_pred),
            "weight_total": weight,
            "sample_count": np.any(weight != 0, axis=1).astype(self.engine.dtype),
        }

    def compute(self, state: Mapping[str, Any]) -> Any:
        """R² per output, aggregated and adjusted as configured; 0 before any sample."""
        count = state["weight_total"]
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = state["y_sum"] / count
            total = state["y_squared_sum"] - state["y_sum"] * mean
            residual = state["squared_residual_sum"]
            if float(state["sample_count"]) < 2:  # one sample has no variance: rounding aside
                total = np.zeros_like(total)
            raw = 1.0 - residual / total
            raw = np.where(np.isinf(raw), 0.0, raw)
            raw = np.where(count > 0, raw, 0.0)
            score: Any
            if self.class_aggregation == "uniform_average":
                score = np.mean(raw)
            elif self.class_aggregation == "variance_weighted_average":
                score = np.sum(total * raw) / np.sum(total) if np.any(count > 0) else 0.0
            else:
                score = raw
            n, p = float(state["sample_count"]), self.num_regressors
            if p and p < n - 1:
                score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return score
