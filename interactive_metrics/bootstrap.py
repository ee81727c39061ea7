"""A streaming Poisson bootstrap of any metric: :class:`Bootstrap`.

A bootstrap is a declaration whose fields gain a replicate axis. ``Bootstrap(metric,
replicates=R)`` is itself a :class:`~interactive_metrics.Metric`: its state holds

- the wrapped metric's fields, unchanged (the *plain* state: :meth:`Bootstrap.result`
  is the wrapped metric's result on the unweighted data, bit for bit);
- ``replicate_<field>`` for each of them, with a leading axis of ``R`` replicates:
  replicate ``j`` counts sample ``i`` ``w[i, j]`` times, ``w[i, j] ~ Poisson(1)``;
- ``first_row`` (a minimum) and ``end_row`` (a maximum): the row numbers seen.

History, merge, :class:`~interactive_metrics.Streams`, replay and save/load then work as
for any metric, since every one of those fields merges exactly.

The draws
---------
``w[i, j]`` is a pure function of ``(seed, row number of sample i, j)``: a counter-based
generator (the splitmix64 mix of the counter ``row * ceil(R / 2) + j // 2``, keyed by the
seed, gives 64 random bits, i.e. two 32-bit uniforms ``u``), then the inverse Poisson(1)
distribution function (``w`` is the number of Poisson thresholds at or below ``u``; the
probabilities are rounded to multiples of ``2**-32``). So a sample gets the same weights
however the data is split into batches, and in whichever process it is drawn.

Row numbers. ``update_state`` numbers the samples it sees consecutively, from ``offset``
(default 0) for the first one, continuing after the largest row seen (``end_row``).
``update_state(..., row=...)`` gives them explicitly (one integer per sample).
**The rule that makes merges exact**: the row numbers of the samples of two bootstraps
that are merged must not overlap. Give each part the row numbers it has in the whole
data set, e.g. ``Bootstrap(m, offset=rows_before_this_part)``; then ``merge_state`` of the
parts equals one bootstrap updated on all the data, bit for bit. Merging parts whose
row ranges overlap is refused (the samples in the overlap would get the same weights
twice, correlating the replicates); so is an update whose rows lie within the range
already seen.

Memory. The weights are drawn in blocks of about ``2**19`` numbers (``2**19 / R``
samples): there is never a ``(replicates x samples)`` array. :class:`~interactive_metrics.Streams`
of a bootstrap computes dense per-sample replicate terms (``n x R`` numbers per batch):
give it moderate batches.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import polars as pl

from interactive_metrics.core.coerce import check_choice, resolve_dtype
from interactive_metrics.core.reduce import OneHot
from interactive_metrics.engine import Batch, Engine, State
from interactive_metrics.intervals import check_level as _check_level
from interactive_metrics.metric import SUMMATIONS, Metric, StateField
from interactive_metrics.replay import input_roles

if TYPE_CHECKING:
    from interactive_metrics.collection import MetricCollection
    from interactive_metrics.streams import Streams

__all__ = [
    "INTERVAL_METHODS",
    "Bootstrap",
    "bca_interval",
    "check_method",
    "percentile_interval",
    "poisson_weights",
    "stream_intervals",
]

BLOCK = 1 << 19
"""About how many weights are drawn at once (samples per block times replicates)."""

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, in place on a uint64 array (wrapping arithmetic)."""
    z ^= z >> np.uint64(30)
    z *= _MIX1
    z ^= z >> np.uint64(27)
    z *= _MIX2
    z ^= z >> np.uint64(31)
    return z


def _poisson_thresholds() -> np.ndarray:
    """``T[k-1] = floor(P(X <= k-1) * 2**32)`` for X ~ Poisson(1): w(u) = #{T <= u}."""
    thresholds = []
    cdf, term, k = 0.0, math.exp(-1.0), 0
    while True:
        cdf += term
        k += 1
        term /= k
        value = math.floor(cdf * 2**32)
        if value >= 2**32:
            break
        thresholds.append(value)
        if term * 2**32 < 0.5:
            break
    return np.array(thresholds, dtype=np.uint64)


_THRESHOLDS = _poisson_thresholds()
_CELL_BITS = 20
_CELLS = 1 << (32 - _CELL_BITS)


def _cell_tables() -> tuple[np.ndarray, np.ndarray, int]:
    starts = np.arange(_CELLS, dtype=np.uint64) << np.uint64(_CELL_BITS)
    base = np.searchsorted(_THRESHOLDS, starts, side="right").astype(np.uint8)
    following = np.full(_CELLS, 2**32, dtype=np.uint64)
    inside = _THRESHOLDS >> np.uint64(_CELL_BITS)
    cells, counts = np.unique(inside, return_counts=True)
    for cell, count in zip(cells.tolist(), counts.tolist(), strict=True):
        if count == 1:
            following[cell] = _THRESHOLDS[inside == cell][0]
    crowded = cells[counts > 1]
    first_crowded = int(crowded.min()) if len(crowded) else _CELLS
    return base, following, first_crowded


_BASE, _FOLLOWING, _FIRST_CROWDED = _cell_tables()


def _key(seed: int) -> np.uint64:
    z = np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64)
    z *= _GOLDEN
    return np.uint64(_splitmix(z)[0])


def poisson_weights(rows: np.ndarray, replicates: int, seed: int = 0) -> np.ndarray:
    """The Poisson(1) weights of the samples with row numbers ``rows``: ``(len(rows), replicates)``.

    A pure function of ``(seed, row, replicate)``: the weights of a row never depend
    on which other rows are drawn with it. Draws whole arrays at once; see
    :class:`Bootstrap` for the blocks it is called on.

    Examples
    --------
    >>> import numpy as np
    >>> w = poisson_weights(np.arange(5), 3, seed=1)
    >>> w.shape, w.dtype
    ((5, 3), dtype('uint8'))
    >>> bool((poisson_weights(np.arange(2, 4), 3, seed=1) == w[2:4]).all())
    True
    """
    half = (replicates + 1) // 2
    first = np.asarray(rows, dtype=np.uint64).reshape(-1, 1) * np.uint64(half)
    z: np.ndarray = first + np.arange(half, dtype=np.uint64)
    z *= _GOLDEN
    z += _key(seed)
    _splitmix(z)
    uniforms = np.empty((z.shape[0], 2 * half), dtype=np.uint64)
    np.bitwise_and(z, np.uint64(0xFFFFFFFF), out=uniforms[:, :half])
    np.right_shift(z, np.uint64(32), out=uniforms[:, half:])
    u = uniforms[:, :replicates]
    cell = (u >> np.uint64(_CELL_BITS)).astype(np.intp)
    weights = _BASE[cell]
    weights += u >= _FOLLOWING[cell]
    crowded = np.flatnonzero(cell >= _FIRST_CROWDED)
    if len(crowded):
        flat = u.reshape(-1)[crowded]
        weights.reshape(-1)[crowded] = np.searchsorted(_THRESHOLDS, flat, side="right")
    return weights


def _row_numbers(row: Any, n: int) -> np.ndarray:
    rows = np.asarray(row)
    if rows.shape != (n,) or (n and rows.dtype.kind not in "iu"):
        if rows.shape == (n,) and rows.dtype.kind == "f" and bool(np.all(rows == np.round(rows))):
            rows = rows.astype(np.int64)
        else:
            raise ValueError(
                f"`row` must hold one integer row number per sample ({n}), got shape "
                f"{rows.shape} and dtype {rows.dtype}; leave it out to number rows consecutively"
            )
    if n and (rows.min() < 0 or rows.max() >= 2**53):
        raise ValueError(
            f"`row` numbers must be in [0, 2**53), got {int(rows.min())}..{int(rows.max())}"
        )
    return rows.astype(np.int64, copy=False)


class BootstrapEngine(Engine):
    """The engine of a :class:`Bootstrap`: the wrapped metric's engine, with replicates.

    A batch binds the wrapped metric's inputs and one row number per sample (given as
    ``row=``, else consecutive from :attr:`next_row`, the owner's next row).
    :meth:`batch_state` computes the plain state with the wrapped engine and the
    replicate states block by block; :meth:`terms` gives dense per-sample terms
    (for :class:`~interactive_metrics.Streams`).
    """

    def __init__(self, owner: Bootstrap, wrapped: Engine, replicates: int, seed: int) -> None:
        self.wrapped = wrapped
        self.replicates = replicates
        self.seed = seed
        self._bootstrap = owner
        super().__init__(
            owner.fields,
            self._dense_terms,
            owner.compute,
            dtype=np.dtype(np.float64),
            input_names=(*wrapped.input_names, "row"),
            nan_strategy=wrapped.nan_strategy,
            owner=type(owner).__name__,
        )

    def intervals(
        self, running: Mapping[str, np.ndarray], level: float = 0.95, method: str = "percentile"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Intervals of ``m`` states (fields with a leading axis ``m``): ``(low, high)``.

        Each of shape ``(m, *result_shape)``. ``method`` is ``"percentile"`` or
        ``"bca"`` (see :func:`bca_interval`; it also reads the plain fields of
        ``running``, for the estimate).
        """
        fields = self.wrapped.fields
        m = len(np.asarray(running["replicate_" + fields[0].name]))
        shape = self.result_shape
        if m == 0:
            return np.zeros((0, *shape)), np.zeros((0, *shape))
        states = {
            f.name: np.asarray(running["replicate_" + f.name]).reshape(
                m * self.replicates, *f.shape
            )
            for f in fields
        }
        results = self.wrapped.results(states).reshape(m, self.replicates, *shape)
        results = np.moveaxis(results, 1, 0)  # replicates first: (R, m, *shape)
        if method == "bca":
            plain = {f.name: np.asarray(running[f.name]).reshape(m, *f.shape) for f in fields}
            estimate = np.asarray(self.wrapped.results(plain), dtype=np.float64)
            return _bca_bounds(results, estimate.reshape(m, *shape), level)
        alpha = 1 - level
        low, high = np.quantile(results, [alpha / 2, 1 - alpha / 2], axis=0)
        return low, high

    def next_row(self) -> int:
        """Where the rows of the next batch start, when the caller gives none."""
        return self._bootstrap.next_row

    def bind_arguments(
        self, inputs: tuple[Any, ...], named: Mapping[str, Any], sample_weight: Any
    ) -> Batch:
        """The wrapped metric's binding of the inputs, and one row number per sample."""
        named = dict(named)
        row = named.pop("row", None)
        inner = self.wrapped.bind_arguments(tuple(inputs), named, sample_weight)
        if row is None:
            rows = np.arange(inner.n, dtype=np.int64) + self.next_row()
        else:
            rows = _row_numbers(row, inner.n)
        return Batch((*inner.inputs, rows), inner.weight, inner.n, inner.nan_checked)

    def _inner(self, batch: Batch) -> tuple[Batch, np.ndarray]:
        *inputs, rows = batch.inputs
        inner = Batch(tuple(inputs), batch.weight, batch.n, batch.nan_checked)
        return inner, rows

    def drop_nan(self, batch: Batch) -> tuple[Batch, np.ndarray | None]:
        """The wrapped metric's ``nan_strategy``; dropped samples' rows are dropped too."""
        inner, rows = self._inner(batch)
        kept, keep = self.wrapped.drop_nan(inner)
        if keep is not None:
            rows = rows[keep]
        return Batch((*kept.inputs, rows), kept.weight, kept.n, True), keep

    def _row_state(self, rows: np.ndarray) -> State:
        if not len(rows):
            return {"first_row": np.float64(np.inf), "end_row": np.float64(-np.inf)}
        return {"first_row": np.float64(rows.min()), "end_row": np.float64(rows.max() + 1)}

    def batch_state(self, batch: Batch) -> State:
        """One batch reduced to its state: plain, replicates (block by block) and rows."""
        rows_all = batch.inputs[-1]
        kept, _ = self.drop_nan(batch)
        inner, rows = self._inner(kept)
        state: State = dict(self.wrapped.batch_state(inner))
        replicates = {
            f.name: f.reduction.empty((self.replicates, *f.shape), self.dtype)
            for f in self.wrapped.fields
        }
        step = max(1, BLOCK // self.replicates)
        for start in range(0, inner.n, step):
            part = slice(start, start + step)
            block = self._replicate_block(inner.chunk(part), rows[part])
            for f in self.wrapped.fields:
                replicates[f.name] = f.reduction.combine(replicates[f.name], block[f.name])
        for f in self.wrapped.fields:
            state["replicate_" + f.name] = replicates[f.name]
        state.update(self._row_state(rows_all))
        return state

    def _replicate_block(self, inner: Batch, rows: np.ndarray) -> State:
        """The replicate states of one block of samples: each field ``(R, *shape)``."""
        r, n = self.replicates, inner.n
        terms = self.wrapped.terms(inner)
        weights = poisson_weights(rows, r, self.seed)
        dense = weights.astype(np.float64)
        out: State = {}
        for f in self.wrapped.fields:
            term = terms[f.name]
            if f.reduce == "sum":
                if type(term) is OneHot:
                    size = int(np.prod(f.shape, dtype=np.int64))
                    index = np.asarray(term.index, dtype=np.int64)
                    each = np.ones(n) if term.weight is None else np.asarray(term.weight, float)
                    codes = (np.arange(r, dtype=np.int64)[None, :] * size + index[:, None]).ravel()
                    sums = np.bincount(
                        codes, weights=(dense * each[:, None]).ravel(), minlength=r * size
                    )
                    out[f.name] = sums.reshape(r, *f.shape)
                elif np.ndim(term) == 0:
                    out[f.name] = dense.sum(axis=0) * np.float64(term)
                else:
                    flat = np.asarray(term, dtype=np.float64).reshape(n, -1)
                    out[f.name] = (dense.T @ flat).reshape(r, *f.shape)
            else:
                identity = f.reduction.identity
                values = np.broadcast_to(np.asarray(term, dtype=np.float64), (n, *f.shape))
                seen = (weights > 0).reshape(n, r, *([1] * len(f.shape)))
                masked = np.where(seen, values[:, None], identity)
                ufunc = np.minimum if f.reduce == "min" else np.maximum
                out[f.name] = ufunc.reduce(masked, axis=0, initial=identity)
        return out

    def _dense_terms(self, *inputs: Any, sample_weight: Any = None) -> State:
        """Per-sample terms of every field (``n x R`` per replicate field): for Streams."""
        *values, rows = inputs
        n = len(rows)
        inner = Batch(tuple(values), sample_weight, n, True)
        terms = self.wrapped.terms(inner)
        weights = poisson_weights(rows, self.replicates, self.seed).astype(np.float64)
        out: State = {}
        for f in self.wrapped.fields:
            term = np.broadcast_to(np.asarray(terms[f.name], dtype=np.float64), (n, *f.shape))
            out[f.name] = terms[f.name]
            extra = (n, self.replicates, *([1] * len(f.shape)))
            if f.reduce == "sum":
                out["replicate_" + f.name] = weights.reshape(extra) * term[:, None]
            else:
                seen = weights.reshape(extra) > 0
                out["replicate_" + f.name] = np.where(seen, term[:, None], f.reduction.identity)
        out["first_row"] = rows.astype(np.float64)
        out["end_row"] = rows.astype(np.float64) + 1
        return out


def percentile_interval(results: np.ndarray, level: float) -> tuple[Any, Any]:
    """The percentile interval of replicate results (axis 0): ``(low, high)``.

    Examples
    --------
    >>> import numpy as np
    >>> percentile_interval(np.arange(101.0), 0.9)
    (5.0, 95.0)
    """
    alpha = 1 - _check_level(level)
    low, high = np.quantile(results, [alpha / 2, 1 - alpha / 2], axis=0)
    if np.ndim(low):
        return np.asarray(low), np.asarray(high)
    return float(low), float(high)


INTERVAL_METHODS = ("percentile", "bca")
"""The bootstrap intervals: ``method=`` of :meth:`Bootstrap.interval`."""


def check_method(method: Any) -> str:
    """A bootstrap interval's ``method`` (None: ``"percentile"``), or a ``ValueError``.

    ``"bootstrap"`` is accepted as another name of ``"percentile"``.

    Examples
    --------
    >>> check_method(None), check_method("bca")
    ('percentile', 'bca')
    """
    if method is None or (isinstance(method, str) and method == "bootstrap"):
        return "percentile"
    if not isinstance(method, str) or method not in INTERVAL_METHODS:
        raise ValueError(
            f"`method` of a Bootstrap interval must be one of {INTERVAL_METHODS}, got "
            f"{method!r}; 'percentile' is the default"
        )
    return str(method)


_normal_cdf = np.vectorize(NormalDist().cdf, otypes=[float])
_normal_quantile = np.vectorize(NormalDist().inv_cdf, otypes=[float])


def _quantile_each(ordered: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(ordered, q[e], axis=0)[e]`` for every element ``e`` (``ordered`` sorted).

    numpy's default ("linear") definition: position ``q * (R - 1)``, interpolated.
    """
    r = ordered.shape[0]
    position = np.clip(q, 0.0, 1.0) * (r - 1)
    lower = np.floor(position).astype(np.intp)
    upper = np.minimum(lower + 1, r - 1)
    a = np.take_along_axis(ordered, lower[None], axis=0)[0]
    b = np.take_along_axis(ordered, upper[None], axis=0)[0]
    return a + (position - lower) * (b - a)


def _bca_bounds(
    results: np.ndarray, estimate: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """BCa bounds of replicate results ``(R, *shape)`` around ``estimate`` ``shape``."""
    r = results.shape[0]
    estimate = np.asarray(estimate, dtype=np.float64)
    below = (results < estimate).sum(axis=0) + 0.5 * (results == estimate).sum(axis=0)
    # all replicates on one side: z0 would be infinite; the most extreme fraction R can show
    fraction = np.clip(below / r, 0.5 / r, 1 - 0.5 / r)
    bias = _normal_quantile(fraction)
    centred = results - results.mean(axis=0)
    second = (centred * centred).mean(axis=0)
    third = (centred * centred * centred).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        acceleration = np.where(second > 0, third / second**1.5 / 6, 0.0)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    ordered = np.sort(results, axis=0)
    bounds = []
    for side in (-z, z):
        shifted = bias + side
        denominator = 1 - acceleration * shifted
        with np.errstate(divide="ignore", invalid="ignore"):
            adjusted = np.where(
                denominator > 0, bias + shifted / denominator, np.sign(shifted) * np.inf
            )
        q = _normal_cdf(adjusted)
        value = _quantile_each(ordered, np.nan_to_num(q, nan=0.5))
        broken = np.isnan(results).any(axis=0) | np.isnan(estimate)
        bounds.append(np.where(broken, np.nan, value))
    return bounds[0], bounds[1]


def bca_interval(results: np.ndarray, estimate: Any, level: float) -> tuple[Any, Any]:
    """The bias-corrected and accelerated (BCa) interval of replicate results (axis 0).

    The percentile interval, its quantiles moved by two corrections (Efron 1987):

    - the bias ``z0 = Φ⁻¹(fraction of replicates below estimate)``, ties counted half
      (clipped to ``[1/(2R), 1 - 1/(2R)]`` when every replicate is on one side);
    - the acceleration ``a = skewness of the replicate results / 6`` (the moment
      skewness ``m3 / m2**1.5``; 0 when the replicates do not vary). Efron's
      jackknife estimate needs every sample again, which a stream does not keep; for
      a mean the two agree (the bootstrap distribution of a mean has the skewness of
      the data over ``sqrt(n)``, the jackknife's ``a`` is that over 6).

    Then ``low, high`` are the quantiles ``Φ(z0 + (z0 ± z) / (1 - a (z0 ± z)))``
    (numpy's linear interpolation), ``z = Φ⁻¹(1/2 + level/2)``. With ``z0 = a = 0``
    it is the percentile interval.

    Examples
    --------
    >>> import numpy as np
    >>> results = np.arange(101.0)
    >>> [round(x, 6) for x in bca_interval(results, 50.0, 0.9)]  # z0 = a = 0: percentile
    [5.0, 95.0]
    >>> [round(x, 2) for x in bca_interval(results, 60.0, 0.9)]  # the estimate is high
    [12.65, 98.41]
    """
    level = _check_level(level)
    values = np.asarray(results, dtype=np.float64)
    low, high = _bca_bounds(values, np.asarray(estimate, dtype=np.float64), level)
    if np.ndim(low):
        return np.asarray(low), np.asarray(high)
    return float(low), float(high)


class Bootstrap(Metric):
    """A streaming Poisson bootstrap of ``metric``: its result, and how sure it is.

    Parameters
    ----------
    metric : Metric
        What to bootstrap (only its configuration is used; its state is not read).
    replicates : int
        How many bootstrap replicates (default 200).
    seed : int
        Keys the weights: the same seed and row numbers give the same weights.
    offset : int
        The row number of the first sample :meth:`update_state` numbers itself. Give
        each part of a data set that is bootstrapped separately (and merged) the row
        number of its first sample in the whole data set. See the module notes.
    name : str, optional
        Defaults to ``bootstrap_<metric's name>``.
    dtype : None or "float64"
        A bootstrap's state is float64 (row numbers are stored exactly).
    **options
        ``history``, ``history_every``, ``history_last``, as for
        :class:`~interactive_metrics.Metric`.

    Notes
    -----
    ``result()`` is the wrapped metric's result on the data (unweighted);
    :meth:`interval` is the percentile interval of the replicate results;
    :meth:`interval_history` is the history with ``ci_low`` and ``ci_high`` per event; the state is
    float64 (row numbers are exact up to ``2**53``).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> b = im.Bootstrap(im.Mean(), replicates=100, seed=0)
    >>> b.update_state([1.0, 2.0, 3.0, 4.0])
    >>> b.update_state([5.0, 6.0])
    >>> b.result()
    3.5
    >>> low, high = b.interval(0.9)
    >>> bool(low < 3.5 < high)
    True
    >>> b.interval_history().select("step", "result", "ci_low").height
    2
    """

    def __init__(
        self,
        metric: Metric,
        replicates: int = 200,
        seed: int = 0,
        offset: int = 0,
        name: str | None = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        if isinstance(metric, Bootstrap) or not isinstance(metric, Metric):
            raise TypeError(
                f"`metric` must be an interactive_metrics Metric (not a Bootstrap), got "
                f"{type(metric).__name__}; pass e.g. im.Mean()"
            )
        for value, label, lowest in ((replicates, "replicates", 2), (offset, "offset", 0)):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or value < lowest
            ):
                raise ValueError(
                    f"`{label}` must be an integer >= {lowest}, got {value!r}"
                    + ("; 200 or more give stable 95% intervals" if label == "replicates" else "")
                )
        for value, label, highest in ((replicates, "replicates", 10**6), (offset, "offset", 2**62)):
            if value > highest:
                raise ValueError(
                    f"`{label}` must be at most {highest:,}, got {value!r}"
                    + (
                        "; 200 to 10,000 replicates give stable intervals"
                        if label == "replicates"
                        else ""
                    )
                )
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"`seed` must be an integer >= 0, got {seed!r}")
        if dtype is not None and resolve_dtype(dtype) != np.float64:  # resolve: clear errors
            raise ValueError(
                f"`dtype` of a Bootstrap must be float64 (row numbers are stored exactly), "
                f"got {dtype!r}; leave it out"
            )
        if "summation" in options:  # a bad value is refused as every metric refuses it
            check_choice(options["summation"], "summation", SUMMATIONS)
        if options.get("summation", "plain") != "plain":
            raise ValueError(
                "`summation` of a Bootstrap must be 'plain', got "
                f"{options['summation']!r}; the replicate sums are plain float64 sums"
            )
        options.pop("summation", None)
        strategy = options.pop("nan_strategy", metric.nan_strategy)  # the wrapped metric's own
        self.metric = type(metric).from_config(
            {**metric.get_config(), "history": False, "nan_strategy": strategy}
        )
        self.replicates = int(replicates)
        self.seed = int(seed)
        self.offset = int(offset)
        own = [f.name for f in self.metric.engine.fields]
        clash = [n for n in own if n in ("first_row", "end_row") or n.startswith("replicate_")]
        if clash:
            raise ValueError(f"cannot bootstrap {type(metric).__name__}: its fields {clash} clash")
        self.input_names = self.metric.input_names  # type: ignore[misc]
        self._declared = (
            *self.metric.engine.fields,
            *(
                StateField(f"replicate_{f.name}", f.reduce, (self.replicates, *f.shape))
                for f in self.metric.engine.fields
            ),
            StateField("first_row", "min"),
            StateField("end_row", "max"),
        )
        super().__init__(
            name=name if name is not None else f"bootstrap_{metric.name}",
            nan_strategy=strategy,
            **options,
        )

    def make_engine(self) -> BootstrapEngine:
        """The bootstrap's engine: the wrapped metric's, plus the replicate states."""
        return BootstrapEngine(self, self.metric.engine, self.replicates, self.seed)

    @property
    def fields(self) -> tuple[StateField, ...]:  # type: ignore[override]
        """The wrapped metric's fields, each again with a replicate axis, and the row range."""
        return self._declared

    def terms(self, *inputs: Any, sample_weight: Any = None) -> State:
        """Per-sample terms: see :class:`BootstrapEngine` (the engine computes them)."""
        raise TypeError("a Bootstrap's terms are computed by its engine (`bootstrap.engine`)")

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The wrapped metric's result of the plain state."""
        return self.metric.engine.result({f.name: state[f.name] for f in self.metric.engine.fields})

    # -- rows ------------------------------------------------------------------------------

    @property
    def next_row(self) -> int:
        """The row number :meth:`update_state` gives the next sample (when ``row`` is not given)."""
        end = float(self.state["end_row"])
        return self.offset if end == -np.inf else int(end)

    def _rows_seen(self) -> tuple[float, float]:
        state = self.state
        return float(state["first_row"]), float(state["end_row"])

    @staticmethod
    def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] < a[1] and b[0] < b[1] and a[0] < b[1] and b[0] < a[1]

    def _check_rows(self, batches: list[tuple[float, float]]) -> None:
        seen = self._rows_seen()
        for rows in batches:
            if self._overlap(seen, rows):
                raise ValueError(
                    f"the rows of this update ({int(rows[0])}..{int(rows[1]) - 1}) lie within the "
                    f"rows {self.name!r} has seen ({int(seen[0])}..{int(seen[1]) - 1}): the same "
                    "row must never be counted twice (its weights would repeat); pass fresh `row` "
                    "numbers, or replay a Bootstrap with `Bootstrap.replay`"
                )
            if rows[0] < rows[1]:
                seen = (min(seen[0], rows[0]), max(seen[1], rows[1]))

    # -- the tracker, with the row check ---------------------------------------------------

    def update_state(self, *inputs: Any, sample_weight: Any = None, **named: Any) -> None:
        """Add one batch; ``row=`` optionally gives each sample's row number.

        Raises
        ------
        TypeError, ValueError
            As the wrapped metric's ``update_state``, and for ``row`` numbers within the
            range already seen. Nothing changes on error.
        """
        engine = self.engine
        state = engine.batch_state(engine.bind_arguments(inputs, named, sample_weight))
        self._check_rows([(float(state["first_row"]), float(state["end_row"]))])
        super().update_from_state(state)

    def update_from_state(self, batch_state: Mapping[str, Any], validate: bool = True) -> None:
        """As :meth:`Metric.update_from_state`, refusing rows already seen."""
        self._check_rows([(float(batch_state["first_row"]), float(batch_state["end_row"]))])
        super().update_from_state(batch_state, validate)

    def prepare_updates(self, batch_states: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
        """As :meth:`Metric.prepare_updates`, refusing rows already seen (or seen twice)."""
        if isinstance(batch_states, Mapping) and "first_row" in batch_states:
            first = np.asarray(batch_states["first_row"], dtype=np.float64).reshape(-1)
            end = np.asarray(batch_states["end_row"], dtype=np.float64).reshape(-1)
            self._check_rows(list(zip(first.tolist(), end.tolist(), strict=True)))
        return super().prepare_updates(batch_states, *args, **kwargs)

    def merge_state(self, metrics: Metric | Iterable[Metric]) -> None:
        """Merge other bootstraps of the same configuration whose rows do not overlap these.

        Raises
        ------
        ValueError
            For another kind of metric or configuration, or overlapping row ranges
            (give each part ``offset=`` its first row in the whole data).
        """
        others = [metrics] if isinstance(metrics, Metric) else list(metrics)
        ranges = []
        for other in others:
            if isinstance(other, Bootstrap):
                ranges.append(other._rows_seen())
        self._check_rows(ranges)
        super().merge_state(others)

    # -- configuration ---------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """The wrapped metric (class and configuration), replicates, seed, offset and options.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> config = im.Bootstrap(im.Mean(), replicates=10).get_config()
        >>> config["metric"]["class"], config["replicates"]
        ('Mean', 10)
        """
        return {
            "metric": {"class": type(self.metric).__name__, "config": self.metric.get_config()},
            "replicates": self.replicates,
            "seed": self.seed,
            "offset": self.offset,
            "name": self.name,
            "history": self.records_history,
            "history_every": self.history_every,
            "history_last": self.history_last,
        }

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None
    ) -> Bootstrap:
        """A fresh bootstrap from :meth:`get_config` output (``metric`` may be a Metric)."""
        config = dict(config)
        metric = config.pop("metric", None)
        if isinstance(metric, Mapping):
            import interactive_metrics

            classes = dict(custom_objects or {})
            name = metric.get("class")
            found = classes.get(name) if isinstance(name, str) else None
            if found is None and isinstance(name, str) and name in interactive_metrics.__all__:
                found = getattr(interactive_metrics, name)
            if not (isinstance(found, type) and issubclass(found, Metric)):
                raise ValueError(
                    f"`metric` of a Bootstrap configuration names the class {name!r}, which is "
                    "not a metric class of interactive_metrics"
                )
            metric = found.from_config(dict(metric.get("config", {})))
        return cls(metric, **config)

    @classmethod
    def collection(
        cls, metrics: MetricCollection, replicates: int = 200, seed: int = 0, **options: Any
    ) -> MetricCollection:
        """A new :class:`~interactive_metrics.MetricCollection`: a bootstrap of every member.

        Members keep their names; each becomes ``Bootstrap(member, replicates, seed,
        **options)``, fresh (the members' configurations are used, not their states).
        All share the seed and see the same rows, so a sample has the same weights in
        every member: replicate ``j`` of each member is the same resample, and
        ``metrics.interval()`` gives every member's bootstrap interval.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> plain = im.MetricCollection({"loss": im.Mean(), "accuracy": im.BinaryAccuracy()})
        >>> metrics = im.Bootstrap.collection(plain, replicates=100)
        >>> type(metrics["loss"]).__name__, metrics["loss"].replicates
        ('Bootstrap', 100)
        >>> metrics.update_state(values=[0.2, 0.9, 0.4], y_true=[1, 0, 1], y_pred=[1, 0, 0])
        >>> sorted(metrics.interval())
        ['accuracy', 'loss']
        """
        from interactive_metrics.collection import MetricCollection

        if not isinstance(metrics, MetricCollection):
            raise TypeError(
                f"`metrics` must be a MetricCollection, got {type(metrics).__name__}; for one "
                "metric use im.Bootstrap(metric)"
            )
        return MetricCollection(
            {
                name: member
                if isinstance(member, Bootstrap)
                else cls(member, replicates=replicates, seed=seed, **options)
                for name, member in metrics.items()
            }
        )

    def merge_key(self) -> dict[str, Any]:
        """The configuration two bootstraps must share to merge: not ``offset`` nor names."""
        config = super().merge_key()
        config.pop("offset", None)
        config["metric"] = self.metric.merge_key()
        return config

    # -- what a bootstrap adds ---------------------------------------------------------------

    def replicate_results(self, state: Mapping[str, Any] | None = None) -> np.ndarray:
        """The wrapped result of each replicate: shape ``(replicates, *result_shape)``.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> b = im.Bootstrap(im.Mean(), replicates=4)
        >>> b.update_state([1.0, 2.0, 3.0])
        >>> b.replicate_results().shape
        (4,)
        """
        state = self.state if state is None else state
        fields = self.metric.engine.fields
        return self.metric.engine.results(
            {f.name: np.asarray(state["replicate_" + f.name]) for f in fields}
        )

    def interval(self, level: float = 0.95, method: str | None = None) -> tuple[Any, Any]:
        """A bootstrap interval of the result: ``(low, high)``.

        Parameters
        ----------
        level : float
            The confidence level, in (0, 1).
        method : {None, "percentile", "bca"}
            ``"percentile"`` (the default): the ``(1 - level) / 2`` and
            ``(1 + level) / 2`` quantiles of the replicate results. ``"bca"``: the
            bias-corrected and accelerated interval, its acceleration estimated from
            the replicates' skewness (see :func:`bca_interval`).

        Notes
        -----
        For a rate (an accuracy, a precision) on a few dozen samples, the closed-form
        Wilson interval of the wrapped metric (``metric.interval()``) covers better
        than either bootstrap interval; see ``docs/intervals.md``.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> b = im.Bootstrap(im.Mean(), replicates=50)
        >>> b.update_state([0.0, 1.0] * 20)
        >>> low, high = b.interval()
        >>> bool(0.3 < low < 0.5 < high < 0.7)
        True
        >>> low, high = b.interval(method="bca")
        >>> bool(0.3 < low < 0.5 < high < 0.7)
        True
        """
        level = _check_level(level)
        method = check_method(method)
        if method == "bca":
            return bca_interval(self.replicate_results(), self.result(), level)
        return percentile_interval(self.replicate_results(), level)

    derived_history_columns = ("ci_low", "ci_high")

    def derived_columns(self, states: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The 95% percentile interval of each of ``k`` states: ``ci_low``, ``ci_high``.

        What :attr:`history` ends with, and a ``Streams(Bootstrap(...))`` breakdown per
        stream (other levels and BCa: :meth:`interval_history`, :func:`stream_intervals`).

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Bootstrap(im.Mean(), replicates=50, seed=2))
        >>> s.update_state([0.0, 1.0] * 30, stream=["a", "b", "c"] * 20)
        >>> row = s.breakdown().select("stream", "result", "ci_low", "ci_high").row(0)
        >>> row[0], row[2] < row[1] < row[3], (row[2], row[3]) == s["a"].interval()
        ('a', True, True)
        """
        engine = self.engine
        assert isinstance(engine, BootstrapEngine)
        low, high = engine.intervals(states, 0.95, "percentile")
        return {"ci_low": low, "ci_high": high}

    @property
    def history(self) -> pl.DataFrame:
        """The history, as for every metric, with ``ci_low`` and ``ci_high`` after every event.

        Columns: ``step``, ``event``, then ``batch_<field>``, ``batch_result``,
        ``running_<field>`` and ``result`` for every field of the declaration (the
        wrapped metric's fields, ``replicate_<field>`` and the row range), then the
        95% percentile interval of the result after each event, computed on read from
        the ``running_replicate_<field>`` columns (saves leave the two columns out).
        :meth:`interval_history` gives other levels and BCa.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> b = im.Bootstrap(im.Mean(), replicates=50, seed=1)
        >>> b.update_state([1.0, 2.0, 3.0, 4.0])
        >>> row = b.history.select("step", "result", "ci_low", "ci_high").row(0)
        >>> row[:2], row[2] < row[1] < row[3]
        ((1, 2.5), True)
        >>> (row[2], row[3]) == b.interval()
        True
        """
        return self._with_intervals(super().history, 0.95, "percentile")

    def interval_history(self, level: float = 0.95, method: str | None = None) -> pl.DataFrame:
        """:attr:`history` with ``ci_low`` and ``ci_high`` at ``level`` after every recorded event.

        Computed from the ``running_replicate_<field>`` columns, which every history
        row holds: row ``i`` is what :meth:`interval` (same ``level`` and ``method``)
        gave at that step. (``history`` itself keeps the layout of the declaration,
        which ``save``/``load`` check.)

        Examples
        --------
        >>> import interactive_metrics as im
        >>> b = im.Bootstrap(im.Mean(), replicates=20)
        >>> b.update_state([1.0, 2.0, 3.0])
        >>> b.interval_history().columns[-3:]
        ['result', 'ci_low', 'ci_high']
        """
        return self._with_intervals(super().history, _check_level(level), check_method(method))

    def _with_intervals(self, frame: pl.DataFrame, level: float, method: str) -> pl.DataFrame:
        m = frame.height
        running = {
            f.name: frame[f"running_{f.name}"].to_numpy().reshape(m, *f.shape) for f in self.fields
        }
        engine = self.engine
        assert isinstance(engine, BootstrapEngine)
        low, high = engine.intervals(running, level, method)
        if np.ndim(low) > 1:  # one interval per class: Array columns, as `result`
            dtype = frame.schema["result"]
            return frame.with_columns(
                pl.Series("ci_low", np.asarray(low, np.float64), dtype=dtype),
                pl.Series("ci_high", np.asarray(high, np.float64), dtype=dtype),
            )
        return frame.with_columns(
            pl.Series("ci_low", low, dtype=pl.Float64), pl.Series("ci_high", high, dtype=pl.Float64)
        )

    def replay(
        self,
        data: Any,
        *,
        batch: str,
        sample_weight: str | None = None,
        every: str | None = None,
        reset: str | None = None,
        **columns: str,
    ) -> Self:
        """Replay a logged run: one update per batch id (sorted), rows in log order within a batch.

        Equals calling :meth:`update_state` once per batch in sorted id order, bit for bit.

        Examples
        --------
        >>> import polars as pl
        >>> import interactive_metrics as im
        >>> log = pl.DataFrame({"step": [1, 1, 2], "loss": [1.0, 4.0, 3.0]})
        >>> b = im.Bootstrap(im.Mean(), replicates=10).replay(log, values="loss", batch="step")
        >>> loop = im.Bootstrap(im.Mean(), replicates=10)
        >>> loop.update_state([1.0, 4.0]); loop.update_state([3.0])
        >>> bool((b.replicate_results() == loop.replicate_results()).all())
        True
        """
        if every is not None or reset is not None:
            raise TypeError(
                "`every` and `reset` are not supported for a Bootstrap replay yet; bucket the "
                "batch column first (pl.col(...).dt.truncate) or replay one epoch at a time"
            )
        frame = _as_frame(data)
        names = self.input_names
        input_roles(self, columns)
        wanted = [batch, *(columns[n] for n in names)] + ([sample_weight] if sample_weight else [])
        absent = [c for c in wanted if c not in frame.columns]
        if absent:
            raise ValueError(f"column(s) {absent} are not in the data; it has {frame.columns}")
        frame = frame.select(wanted).sort(batch, maintain_order=True)
        ids = frame[batch]
        if ids.null_count():
            raise ValueError(f"column {batch!r} (for `batch`) has missing batch ids")
        starts = (
            np.flatnonzero(np.concatenate(([True], (ids[1:] != ids[:-1]).to_numpy())))
            if frame.height
            else np.zeros(0, dtype=np.intp)
        )
        bounds = [*starts.tolist(), frame.height]
        engine = self.engine
        first = self.next_row
        states = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=False):
            part = frame.slice(a, b - a)
            inputs = tuple(part[columns[n]].to_numpy() for n in names)
            weight = None if sample_weight is None else part[sample_weight].to_numpy()
            rows = np.arange(a, b, dtype=np.int64) + first
            states.append(engine.batch_state(engine.bind_arguments(inputs, {"row": rows}, weight)))
        if not states:
            return self
        stacked = {name: np.stack([s[name] for s in states]) for name in engine.names}
        self.update_from_states(stacked, labels=ids.gather(starts))
        return self

    def save(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Save, as :meth:`Metric.save`; ``load`` rebuilds the Bootstrap and the wrapped metric."""
        return super().save(path, **options)


def _as_frame(data: Any) -> pl.DataFrame:
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    if isinstance(data, (str, os.PathLike)):
        text = str(data)
        return pl.read_parquet(text) if text.endswith(".parquet") else pl.read_csv(text)
    if type(data).__module__.startswith("pandas"):
        return pl.from_pandas(data)
    raise TypeError(
        f"`data` must be a polars or pandas DataFrame, a LazyFrame or a path, got "
        f"{type(data).__name__}"
    )


def stream_intervals(
    streams: Streams, level: float = 0.95, method: str | None = None
) -> pl.DataFrame:
    """The breakdown of a ``Streams(Bootstrap(...))`` with each stream's ``ci_low`` and ``ci_high``.

    ``method`` as for :meth:`Bootstrap.interval` (``"percentile"`` or ``"bca"``).
    Reads only public names: the breakdown's state columns and the bootstrap's
    wrapped metric. ``Streams.breakdown()`` itself has the 95% percentile intervals;
    this table has those of ``level`` and ``method``, without the replicate columns.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> s = im.Streams(im.Bootstrap(im.Mean(), replicates=50))
    >>> s.update_state([0.0, 1.0] * 30, stream=["a", "b", "c"] * 20)
    >>> stream_intervals(s, 0.9).columns[-3:]
    ['ci_low', 'ci_high', 'contribution']
    """
    bootstrap = streams.metric
    if not isinstance(bootstrap, Bootstrap):
        raise TypeError(
            f"`streams` must be a Streams of a Bootstrap, got a Streams of "
            f"{type(bootstrap).__name__}; create it as im.Streams(im.Bootstrap(metric))"
        )
    level = _check_level(level)
    method = check_method(method)
    frame = streams.breakdown()
    k = frame.height
    engine = bootstrap.engine
    assert isinstance(engine, BootstrapEngine)
    running = {}
    for f in bootstrap.metric.engine.fields:
        plain = f"state_{f.name}" if f"state_{f.name}" in frame.columns else f.name
        running[f.name] = frame[plain].to_numpy().reshape(k, *f.shape)
        running[f"replicate_{f.name}"] = frame[f"replicate_{f.name}"].to_numpy().reshape(k, -1)
    low, high = engine.intervals(running, level, method)
    replicate_columns = [c for c in frame.columns if c.startswith("replicate_")]
    return frame.drop(replicate_columns).with_columns(
        pl.Series("ci_low", low, dtype=pl.Float64), pl.Series("ci_high", high, dtype=pl.Float64)
    )
