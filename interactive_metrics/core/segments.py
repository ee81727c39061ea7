"""Group-by for metric states: keys to integer codes, terms reduced per code, results per row.

Per-stream breakdowns and the replay of logged runs both reduce the same
per-sample terms by an integer *segment id* (a stream, a batch, or a pair of
both) instead of over the whole batch. This module turns keys into codes in
order of first appearance (:func:`factorize`), reduces every state field by
segment in one pass each (:func:`reduce_segments`), scans segment states
sequentially (:func:`scan_segments`) and evaluates a metric's result for many
states at once (:class:`RowCompute`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from interactive_metrics.core.reduce import Reduction

__all__ = [
    "RowCompute",
    "as_key_series",
    "codes_in",
    "factorize",
    "first_appearances",
    "is_key_sequence",
    "reduce_segments",
    "sample_weights",
    "scan_segments",
    "stack_states",
]

Plan = Sequence[tuple[str, Reduction]]

PARALLEL_ROWS = 1 << 16
"""Batches of at least this many keys are coded by polars' query engine, on all its threads."""


def is_key_sequence(keys: Any) -> bool:
    """Whether ``keys`` holds one key per sample (a sequence) rather than one key for all.

    Strings, bytes, numbers and other scalars are one key; lists, tuples, numpy
    arrays and polars / pandas Series are one key per sample.

    Examples
    --------
    >>> is_key_sequence("sensor-1"), is_key_sequence(7), is_key_sequence(["a", "b"])
    (False, False, True)
    """
    if isinstance(keys, (str, bytes)):
        return False
    if isinstance(keys, (list, tuple, np.ndarray, pl.Series)):
        return not (isinstance(keys, np.ndarray) and keys.ndim == 0)
    module = type(keys).__module__
    return module.startswith("pandas") and hasattr(keys, "__len__")


def as_key_series(keys: Any, name: str) -> pl.Series:
    """Keys as a polars Series, with an error naming ``name`` when polars cannot hold them."""
    if isinstance(keys, pl.Series):
        return keys
    if type(keys).__module__.startswith("pandas"):
        return pl.Series(name, keys.to_numpy() if hasattr(keys, "to_numpy") else list(keys))
    try:
        return pl.Series(name, keys)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError) as error:
        raise TypeError(
            f"`{name}` must hold keys of one type (strings, integers, ...), got a sequence "
            f"polars cannot group on ({type(error).__name__}: {error}); "
            "convert the keys to one type first"
        ) from None


def first_appearances(keys: np.ndarray) -> np.ndarray:
    """The distinct values of a 1-D array, in order of first appearance (one hash pass).

    Examples
    --------
    >>> first_appearances(np.array([30, 10, 30, 20]))
    array([30, 10, 20])
    """
    return pl.Series(keys).unique(maintain_order=True).to_numpy()


def _codes_by_table(keys: np.ndarray) -> tuple[np.ndarray, list[Any]] | None:
    """Codes of integer keys spanning a small range: a lookup table instead of a sort.

    polars finds the distinct keys in order of first appearance (one hash pass);
    a table indexed by ``key - min`` numbers them. About 15x faster than
    ``np.unique`` on a million keys. None when the range is too wide for a table.
    """
    if not keys.size:
        return None
    low, high = int(keys.min()), int(keys.max())
    if high >= 2**63 or high - low >= max(4 * keys.size, 1 << 16):
        return None
    uniques = first_appearances(keys)
    table = np.empty(high - low + 1, dtype=np.intp)
    table[uniques.astype(np.int64) - low] = np.arange(len(uniques))
    return table[keys.astype(np.int64) - low], uniques.tolist()


def factorize(
    keys: Any, name: str = "stream", null_label: Hashable | None = None
) -> tuple[np.ndarray, list[Any]]:
    """Integer codes for keys, numbered in order of first appearance.

    Parameters
    ----------
    keys : sequence
        One key per sample: a list, numpy array, or polars / pandas Series of
        strings, integers or anything else polars can group on.
    name : str
        The argument's name, for error messages.
    null_label : hashable, optional
        The key that null / None keys become. Without one, a null key is an error.

    Returns
    -------
    codes : numpy.ndarray
        ``intp`` codes in ``[0, len(uniques))``, one per sample.
    uniques : list
        The distinct keys, as Python objects, in order of first appearance.

    Raises
    ------
    ValueError
        For null keys without ``null_label``.

    Examples
    --------
    >>> codes, uniques = factorize(["b", "a", "b", "c"])
    >>> codes, uniques
    (array([0, 1, 0, 2]), ['b', 'a', 'c'])
    >>> factorize(np.array([30, 10, 30]))
    (array([0, 1, 0]), [30, 10])
    >>> factorize(["a", None])
    Traceback (most recent call last):
    ...
    ValueError: `stream` must not contain null keys, got 1 null(s); ...
    """
    if isinstance(keys, np.ndarray) and keys.dtype.kind in "iub" and keys.ndim == 1:
        by_table = _codes_by_table(keys)
        if by_table is not None:
            return by_table
        distinct, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return rank[inverse].astype(np.intp, copy=False), distinct[order].tolist()
    series = as_key_series(keys, name)
    if series.dtype == pl.Object:
        raise TypeError(
            f"`{name}` must hold keys polars can group on (strings, numbers, dates, ...), "
            f"got Python objects; convert the keys first, e.g. with `str`"
        )
    nulls = series.null_count()
    if nulls:
        if null_label is None:
            raise ValueError(
                f"`{name}` must not contain null keys, got {nulls} null(s); drop those rows, "
                f"or name a stream for them, e.g. null_stream='unknown'"
            )
        try:
            series = series.fill_null(pl.lit(null_label, dtype=series.dtype))
        except (TypeError, pl.exceptions.PolarsError):
            series = series.cast(pl.String).fill_null(str(null_label))
    if isinstance(series.dtype, (pl.Categorical, pl.Enum)):
        series = series.cast(pl.String)
    uniques = series.unique(maintain_order=True)
    if series.dtype == pl.String:
        codes = series.cast(pl.Enum(uniques)).to_physical()
    else:
        codes = series.replace_strict(
            uniques, pl.Series(np.arange(len(uniques), dtype=np.int64)), return_dtype=pl.Int64
        )
    return codes.to_numpy().astype(np.intp, copy=False), uniques.to_list()


def codes_in(keys: pl.Series, categories: pl.Enum) -> pl.Series:
    """Each key's position in ``categories``, or null where the key is not one of them.

    This is a cast to the ``Enum`` (exact string comparison, no sorting). Polars
    builds a lookup table of the categories for every cast, so the cost is that of
    the keys plus that of the categories: use it when the batch is not much smaller
    than the number of categories. Large batches go through a lazy query, which
    polars splits over its thread pool.

    Examples
    --------
    >>> codes_in(pl.Series(["b", "z", "a", "b"]), pl.Enum(["a", "b"])).to_list()
    [1, None, 0, 1]
    """
    if len(keys) < PARALLEL_ROWS:
        return keys.cast(categories, strict=False).to_physical()
    query = keys.to_frame("key").lazy().select(pl.col("key").cast(categories, strict=False))
    return query.collect().to_series().to_physical()


def sample_weights(weight: np.ndarray | None, n: int) -> np.ndarray | None:
    """Each sample's weight (trailing axes averaged), or None when unweighted.

    This is the weight a breakdown reports per stream: the sample count when
    unweighted, the sum of these weights otherwise.

    Examples
    --------
    >>> sample_weights(np.array([[1.0, 0.0], [1.0, 1.0]]), 2)
    array([0.5, 1. ])
    >>> sample_weights(np.array(2.0), 3)
    array([2., 2., 2.])
    """
    if weight is None:
        return None
    if weight.ndim > 1:
        weight = weight.reshape(weight.shape[0], -1).mean(axis=1)
    if weight.shape != (n,):
        weight = np.broadcast_to(weight, (n,))
    return weight


def reduce_segments(
    plan: Plan,
    terms: Mapping[str, Any],
    segment_ids: np.ndarray,
    num_segments: int,
    dtype: np.dtype[Any],
    row_counts: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Reduce each field's per-sample terms by segment: arrays of shape ``(num_segments, ...)``.

    ``row_counts`` (``np.bincount(segment_ids)``) saves one pass for terms that are
    one scalar shared by every sample (``count = 1`` when unweighted).

    Examples
    --------
    >>> from interactive_metrics.core import REDUCTIONS
    >>> plan = [("total", REDUCTIONS["sum"]), ("count", REDUCTIONS["sum"])]
    >>> reduce_segments(plan, {"total": np.array([1.0, 2.0, 4.0]), "count": 1.0},
    ...                 np.array([0, 1, 0]), 2, np.dtype("float64"))
    {'total': array([5., 2.]), 'count': array([2., 1.])}
    """
    out: dict[str, np.ndarray] = {}
    for name, reduction in plan:
        term = terms[name]  # per sample (an array, or a lazy product with `ndim` 1), or one scalar
        if row_counts is not None and not np.ndim(term):
            if reduction.name == "sum":
                out[name] = (row_counts * term).astype(dtype, copy=False)
            else:
                out[name] = np.where(row_counts > 0, term, reduction.identity).astype(dtype)
        else:
            out[name] = reduction.over_segments(term, segment_ids, num_segments, dtype)
    return out


def scan_segments(
    plan: Plan, states: Mapping[str, np.ndarray], group_starts: np.ndarray
) -> dict[str, np.ndarray]:
    """Running states within consecutive groups of rows, summed strictly left to right.

    Row ``i`` of the result is ``((s_start + s_start+1) + ...) + s_i`` within its
    group: the same additions, in the same order, as merging the states one
    by one, so a replay equals a loop of updates to the last bit.

    Parameters
    ----------
    plan : sequence of (name, Reduction)
        The fields and their reductions.
    states : mapping of str to numpy.ndarray
        Per-row states, shape ``(k, ...)``, grouped contiguously.
    group_starts : numpy.ndarray
        Sorted row positions where a group begins (``[0]`` for one group).

    Examples
    --------
    >>> from interactive_metrics.core import REDUCTIONS
    >>> scan_segments([("total", REDUCTIONS["sum"])],
    ...               {"total": np.array([1.0, 2.0, 3.0, 4.0])}, np.array([0, 2]))
    {'total': array([1., 3., 3., 7.])}
    """
    ends = [*group_starts[1:].tolist(), None]
    out: dict[str, np.ndarray] = {}
    for name, reduction in plan:
        x = states[name]
        if len(group_starts) <= 1:
            out[name] = reduction.scan(x) if len(x) else x.copy()
            continue
        result = np.empty_like(x)
        for start, end in zip(group_starts.tolist(), ends, strict=True):
            reduction.ufunc.accumulate(x[start:end], axis=0, out=result[start:end])
        out[name] = result
    return out


def stack_states(states: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """Stack a list of states into one state of arrays with a leading row axis."""
    return {name: np.stack([np.asarray(s[name]) for s in states]) for name in names}


class RowCompute:
    """A metric's result for many states at once: vectorised when ``compute`` allows it.

    ``compute`` is written for one state; most are elementwise (``total / count``)
    and work unchanged on a leading axis of states. Whether this one does is
    probed once, on a few states, against the one-at-a-time loop; if the answers
    differ (or the vectorised call fails) results are computed row by row.

    Parameters
    ----------
    compute : callable
        The metric's ``compute(state)``.
    fields : sequence of (name, reduce, shape)
        The state fields.
    result_shape : tuple of int
        The shape of one result.
    dtype : numpy.dtype
        The dtype of the results.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Mean()
    >>> rows = RowCompute.for_metric(m)
    >>> rows({"total": np.array([3.0, 0.0]), "count": np.array([2.0, 0.0])})
    array([1.5, 0. ])
    >>> rows.vectorised
    True
    """

    def __init__(
        self,
        compute: Callable[[Mapping[str, Any]], Any],
        fields: Sequence[tuple[str, str, tuple[int, ...]]],
        result_shape: tuple[int, ...],
        dtype: np.dtype[Any],
    ) -> None:
        self.compute = compute
        self.fields = tuple(fields)
        self.result_shape = tuple(result_shape)
        self.dtype = dtype
        self.vectorised = self._probe()

    @classmethod
    def for_metric(cls, metric: Any) -> RowCompute:
        """The row computer of a :class:`~interactive_metrics.Metric`."""
        fields = [(f.name, f.reduce, f.shape) for f in metric._fields]
        return cls(metric.compute, fields, metric._result_shape, metric._dtype)

    def _probe_states(self) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(20240611)
        states: dict[str, np.ndarray] = {}
        for name, reduce, shape in self.fields:
            identity = {"sum": 0.0, "min": np.inf, "max": -np.inf}[reduce]
            rows = [
                np.full(shape, identity),
                rng.integers(1, 9, size=shape).astype(float),
                rng.uniform(0.5, 3.0, size=shape),
                np.full(shape, 2.0),
            ]
            states[name] = np.stack(rows).astype(self.dtype)
        return states

    def _probe(self) -> bool:
        states = self._probe_states()
        try:
            with np.errstate(all="ignore"):
                together = np.asarray(self.compute(states))
                one_by_one = self._loop(states, 4)
        except Exception:  # noqa: BLE001 -- any failure means "not vectorisable"
            return False
        return together.shape == one_by_one.shape and bool(
            np.array_equal(together, one_by_one, equal_nan=True)
        )

    def _loop(self, states: Mapping[str, np.ndarray], k: int) -> np.ndarray:
        out = np.empty((k, *self.result_shape), dtype=self.dtype)
        for i in range(k):
            out[i] = self.compute({name: x[i] for name, x in states.items()})
        return out

    def __call__(self, states: Mapping[str, np.ndarray]) -> np.ndarray:
        """Results of ``k`` states given as arrays of shape ``(k, ...)``: shape ``(k, ...)``."""
        k = len(next(iter(states.values())))
        if self.vectorised:
            out = np.asarray(self.compute(states), dtype=self.dtype)
            if out.shape == (k, *self.result_shape):
                return out
        return self._loop(states, k)

    def contribution_field(self) -> str | None:
        """How a state's result adds up to the merged result; see :meth:`contributions`.

        Returns ``"additive"`` when the merged result is the sum of the results
        (``Sum``, ``Count``, true-positive counts), the name of a ``sum`` field
        ``c`` when the merged result is the ``c``-weighted mean of the results
        (``count`` for ``Mean`` and accuracies), and None otherwise (minimum,
        maximum, precision, F1, ...).
        """
        if self.result_shape != () or any(reduce != "sum" for _, reduce, _ in self.fields):
            return None
        rng = np.random.default_rng(7)
        a = {name: rng.uniform(1.0, 3.0, size=shape) for name, _, shape in self.fields}
        b = {name: rng.uniform(1.0, 3.0, size=shape) for name, _, shape in self.fields}
        both = {name: a[name] + b[name] for name in a}
        try:
            with np.errstate(all="ignore"):
                ra, rb, rab = (float(self.compute(s)) for s in (a, b, both))
        except Exception:  # noqa: BLE001 -- a compute we cannot probe has no contribution
            return None
        if np.isclose(rab, ra + rb, rtol=1e-9, atol=0):
            return "additive"
        for name, _, shape in self.fields:
            if shape != ():
                continue
            ca, cb = float(a[name]), float(b[name])
            if np.isclose(rab, (ca * ra + cb * rb) / (ca + cb), rtol=1e-9, atol=0):
                return name
        return None
