"""Reduction metrics: Sum, Mean, Count, Min, Max and the two function wrappers.

Each is a declaration on :class:`~interactive_metrics.metric.Metric`: state fields,
per-sample terms, and a result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from interactive_metrics.core.reduce import Product, divide_no_nan
from interactive_metrics.core.weights import masked_samples, squeeze_or_expand, weighted_samples
from interactive_metrics.metric import Metric, State, StateField

__all__ = ["Count", "Max", "Mean", "MeanMetricWrapper", "Min", "Sum", "SumMetricWrapper"]


class Sum(Metric):
    """The weighted sum of the values: ``Σ wᵢ·vᵢ``.

    Values of rank > 1 are summed over their trailing axes (Keras 3 rules; see
    :func:`~interactive_metrics.core.weighted_samples`).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Sum()
    >>> m.update_state([1, 3, 5, 7])
    >>> m.result()
    16.0
    >>> m.reset_state()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    4.0
    """

    fields = (StateField("total"),)

    def terms(self, values: np.ndarray, sample_weight: np.ndarray | None = None) -> State:
        """Each sample's weighted value."""
        weighted, _ = weighted_samples(values, sample_weight, reduce="sum", factored=True)
        return {"total": weighted}

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The total."""
        return state["total"]


class Mean(Metric):
    """The weighted mean: ``Σ wᵢ·vᵢ / Σ wᵢ``, and 0 before any weight is seen.

    Parameters
    ----------
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.
    variance : bool
        Also keep ``total_squares``, the weighted sum of squares (default False, so
        that the state and history of a plain mean stay two fields).

    Notes
    -----
    The state is a ``total`` and a ``count`` (the total weight), so merging is
    exact: the mean of merged metrics is the pooled mean, not the mean of means.
    Values of rank > 1 are averaged over their trailing axes before weighting, as
    in Keras 3 (see :func:`~interactive_metrics.core.weighted_samples`).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Mean()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    2.0

    Rank-2 values with one weight per row:

    >>> m = im.Mean()
    >>> m.update_state([[1, 2, 3], [4, 5, 6]], sample_weight=[1, 3])
    >>> m.result(), m.state
    (4.25, {'total': 17.0, 'count': 4.0})

    ``variance=True`` also keeps ``total_squares`` (``Σ wᵢ·vᵢ²``), so that
    ``interval()`` gives a Student t interval:

    >>> m = im.Mean(variance=True)
    >>> m.update_state([1.0, 2.0, 3.0, 4.0])
    >>> m.state["total_squares"], [round(x, 4) for x in m.interval(0.95)]
    (30.0, [0.4457, 4.5543])
    """

    mean_fields: ClassVar[tuple[str, str, str]] = ("total", "count", "total_squares")
    """The fields of a Student t interval (``interval()``): sum, count, sum of squares."""

    def __init__(
        self, name: str | None = None, dtype: Any = None, *, variance: bool = False, **options: Any
    ) -> None:
        if not isinstance(variance, (bool, np.bool_)):
            raise TypeError(
                f"`variance` must be True or False, got {variance!r}; True also keeps the "
                "weighted sum of squares (`total_squares`), for `interval()`"
            )
        self.variance = bool(variance)
        super().__init__(name=name, dtype=dtype, **options)

    @property
    def fields(self) -> tuple[StateField, ...]:  # type: ignore[override]
        """``total`` and ``count``; with ``variance=True`` also ``total_squares``."""
        if self.variance:
            return (StateField("total"), StateField("count"), StateField("total_squares"))
        return (StateField("total"), StateField("count"))

    def terms(self, values: np.ndarray, sample_weight: np.ndarray | None = None) -> State:
        """Each sample's weighted value and its weight (1 when unweighted); squares if asked."""
        weighted, weight = weighted_samples(values, sample_weight, reduce="mean", factored=True)
        out = {"total": weighted, "count": 1.0 if weight is None else weight}
        if self.variance:
            if sample_weight is None and values.ndim == 1 and values.dtype.kind == "f":
                out["total_squares"] = Product(values, values)  # a sum of squares: one dot
            else:
                squares, _ = weighted_samples(values * values, sample_weight, reduce="mean")
                out["total_squares"] = squares
        return out

    def compute(self, state: Mapping[str, Any]) -> Any:
        """``total / count``; 0 when ``count`` is 0."""
        return divide_no_nan(state["total"], state["count"])


class Count(Metric):
    """How many samples were seen, weighted: ``Σ wᵢ`` (the number of samples when unweighted).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Count()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0.5])
    >>> m.result()
    2.5
    """

    fields = (StateField("count"),)

    def terms(self, values: np.ndarray, sample_weight: np.ndarray | None = None) -> State:
        """Each sample's weight (1 when unweighted)."""
        _, weight = weighted_samples(values, sample_weight, reduce="mean")
        return {"count": 1.0 if weight is None else weight}

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The count."""
        return state["count"]


class Min(Metric):
    """The smallest value seen; a weight of 0 masks a value out.

    Notes
    -----
    Before any value is seen the result is ``+inf``, the identity of the minimum
    (so merging with a fresh metric changes nothing). Weights only mask: any
    positive weight counts the value once.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Min()
    >>> m.result()
    inf
    >>> m.update_state([4, 1, 3], sample_weight=[1, 0, 1])
    >>> m.result()
    3.0
    """

    fields = (StateField("min", reduce="min"),)

    def terms(self, values: np.ndarray, sample_weight: np.ndarray | None = None) -> State:
        """Each sample's smallest unmasked value."""
        return {"min": masked_samples(values, sample_weight, np.minimum, np.inf)}

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The minimum."""
        return state["min"]


class Max(Metric):
    """The largest value seen; a weight of 0 masks a value out.

    Notes
    -----
    Before any value is seen the result is ``-inf``, the identity of the maximum.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Max()
    >>> m.update_state([[4, 9], [1, 3]])
    >>> m.result()
    9.0
    """

    fields = (StateField("max", reduce="max"),)

    def terms(self, values: np.ndarray, sample_weight: np.ndarray | None = None) -> State:
        """Each sample's largest unmasked value."""
        return {"max": masked_samples(values, sample_weight, np.maximum, -np.inf)}

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The maximum."""
        return state["max"]


def _call_fn(
    fn: Callable[..., Any],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    fn_kwargs: Mapping[str, Any],
) -> np.ndarray:
    y_true, y_pred = squeeze_or_expand(y_true, y_pred)
    try:
        values = np.asarray(fn(y_true, y_pred, **fn_kwargs))
    except ValueError as error:
        if "broadcast" not in str(error):
            raise
        raise ValueError(
            f"`y_true` of shape {y_true.shape} and `y_pred` of shape {y_pred.shape} do not "
            f"match for {getattr(fn, '__name__', fn)!r}; pass arrays of the same shape"
        ) from None
    if values.ndim == 0 or values.shape[0] != y_true.shape[0]:
        raise ValueError(
            f"`fn` must return one value per sample (shape ({y_true.shape[0]}, ...)), "
            f"got shape {values.shape}; do not reduce over the batch inside `fn`"
        )
    return values


class _FunctionWrapper(Metric):
    """Shared configuration of the wrappers: ``fn`` and its keyword arguments."""

    def __init__(
        self, fn: Callable[..., Any], name: str | None = None, dtype: Any = None, **kwargs: Any
    ) -> None:
        if not callable(fn):
            raise TypeError(
                f"`fn` must be a callable fn(y_true, y_pred, **kwargs) returning one value per "
                f"sample, got {fn!r} ({type(fn).__name__})"
            )
        base = {k: kwargs.pop(k) for k in list(kwargs) if k in Metric.BASE_CONFIG}
        self.fn = fn
        self.fn_kwargs = kwargs
        super().__init__(
            name=name if name is not None else getattr(fn, "__name__", None), dtype=dtype, **base
        )

    def get_config(self) -> dict[str, Any]:
        """``fn``, its keyword arguments, and the base configuration."""
        return {**super().get_config(), **self.fn_kwargs}


class MeanMetricWrapper(_FunctionWrapper):
    """The weighted mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Parameters
    ----------
    fn : callable
        Returns one value per sample (shape ``(n,)`` or ``(n, ...)``, the trailing
        axes averaged per sample), never a batch mean.
    name : str, optional
        Defaults to ``fn.__name__``.
    dtype : str, optional
        Defaults to ``float64``.
    **kwargs
        Passed to ``fn`` (and the base options such as ``history``).

    Examples
    --------
    >>> import numpy as np
    >>> import interactive_metrics as im
    >>> def absolute_error(y_true, y_pred):
    ...     return np.abs(y_true - y_pred)
    >>> m = im.MeanMetricWrapper(absolute_error)
    >>> m.update_state([1, 2, 3], [1, 4, 6])
    >>> m.result(), m.name
    (1.6666666666666667, 'absolute_error')
    """

    fields = (StateField("total"), StateField("count"))

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Each sample's weighted ``fn`` value, and its weight."""
        values = _call_fn(self.fn, y_true, y_pred, self.fn_kwargs)
        weighted, weight = weighted_samples(values, sample_weight, reduce="mean", factored=True)
        return {"total": weighted, "count": 1.0 if weight is None else weight}

    def compute(self, state: Mapping[str, Any]) -> Any:
        """``total / count``; 0 when ``count`` is 0."""
        return divide_no_nan(state["total"], state["count"])


class SumMetricWrapper(_FunctionWrapper):
    """The weighted *sum* of a per-sample function: the metric Keras users hand-write.

    Keras' wrappers average over the samples; when a job needs "how many errors
    in total" (or a sum of absolute errors), the mean hides the size of the batch.

    Parameters
    ----------
    fn : callable
        Returns one value per sample (trailing axes are summed per sample).
    name : str, optional
        Defaults to ``fn.__name__``.
    dtype : str, optional
        Defaults to ``float64``.
    **kwargs
        Passed to ``fn`` (and the base options such as ``history``).

    Examples
    --------
    >>> import numpy as np
    >>> import interactive_metrics as im
    >>> def wrong(y_true, y_pred):
    ...     return y_true != y_pred
    >>> m = im.SumMetricWrapper(wrong)
    >>> m.update_state([1, 0, 1, 1], [1, 1, 0, 1])
    >>> m.update_state([0, 0], [1, 1], sample_weight=[1, 0])
    >>> m.result()
    3.0
    """

    fields = (StateField("total"),)

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Each sample's weighted ``fn`` value."""
        values = _call_fn(self.fn, y_true, y_pred, self.fn_kwargs)
        weighted, _ = weighted_samples(values, sample_weight, reduce="sum", factored=True)
        return {"total": weighted}

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The total."""
        return state["total"]
