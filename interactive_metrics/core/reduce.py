"""Reductions: ``reduce_sum`` with TensorFlow's rules, and the monoids state fields reduce with.

A :class:`Reduction` is a monoid (an associative operation with an identity). Each
metric state field names one; from it come the batch reduce, the exact merge of
two states, the reduce per segment (per batch id or per stream key) and the
cumulative scan used to replay a logged run.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "REDUCTIONS",
    "OneHot",
    "Product",
    "Reduction",
    "compensated_add",
    "divide_no_nan",
    "reduce_sum",
]


def reduce_sum(
    x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False
) -> np.ndarray | np.generic:
    """Sum over axes with the shape and dtype rules of ``tf.math.reduce_sum``.

    Parameters
    ----------
    x : array-like
        Numbers to sum.
    axis : int, sequence of int or None
        The axes to reduce, each in ``[-rank, rank)``; ``None`` reduces all of them.
    keepdims : bool
        Keep the reduced axes with length 1.

    Returns
    -------
    numpy.ndarray or numpy scalar
        The sum, in the dtype of ``x``.

    Raises
    ------
    ValueError
        When an axis is outside ``[-rank, rank)``.
    TypeError
        For booleans, strings and objects (cast booleans to int first, as TensorFlow asks).

    Notes
    -----
    Unlike :func:`numpy.sum`, the dtype is kept: numpy sums ``int8`` and ``int32``
    in the platform integer (``int64``), TensorFlow (and this function) stays in
    the input's dtype, so small integer types can wrap around.

    Examples
    --------
    >>> x = [[1, 1, 1], [1, 1, 1]]
    >>> reduce_sum(x)
    np.int64(6)
    >>> reduce_sum(x, axis=0)
    array([2, 2, 2])
    >>> reduce_sum(x, axis=1)
    array([3, 3])
    >>> reduce_sum(x, axis=1, keepdims=True)
    array([[3],
           [3]])

    The dtype is kept where numpy would upcast:

    >>> small = np.array([100, 100], dtype=np.int8)
    >>> np.sum(small), reduce_sum(small)
    (np.int64(200), np.int8(-56))
    """
    array = np.asarray(x)
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"`x` must hold integers or floats, got dtype {array.dtype}; "
            "cast it first (booleans: `x.astype(int)`)"
        )
    rank = array.ndim
    axes = None if axis is None else (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if axes is not None:
        for a in axes:
            if not -max(rank, 1) <= a < max(rank, 1):
                raise ValueError(
                    f"`axis` must be in [{-rank}, {rank}) for an input of rank {rank}, "
                    f"got {a!r}; pass an axis of the input or None for all"
                )
        axes = tuple(int(a) % max(rank, 1) for a in axes)
    out = np.sum(array, axis=axes, keepdims=keepdims, dtype=array.dtype)
    return out


def divide_no_nan(numerator: Any, denominator: Any) -> Any:
    """``numerator / denominator``, and 0 where the denominator is 0 (Keras' ``divide_no_nan``).

    Examples
    --------
    >>> three = np.float64(3.0)
    >>> divide_no_nan(three, np.float64(4.0)), divide_no_nan(three, np.float64(0.0))
    (np.float64(0.75), np.float64(0.0))
    >>> divide_no_nan(np.array([1.0, 2.0]), np.array([2.0, 0.0]))
    array([0.5, 0. ])
    """
    if type(denominator) is np.ndarray and denominator.ndim:
        out = np.zeros(
            np.broadcast_shapes(np.shape(numerator), denominator.shape), denominator.dtype
        )
        return np.divide(numerator, denominator, out=out, where=denominator != 0)
    if denominator:
        return numerator / denominator
    return type(denominator)(0) if isinstance(denominator, np.generic) else 0.0


class Product:
    """Per-sample terms ``values * weight``, kept as their two factors until they are summed.

    A float64 weighted sum is then one dot product (a fused multiply-add in BLAS)
    instead of a product array and a second pass to sum it: about 2x faster on
    small batches and on batches larger than the cache. Everything else that needs
    the per-sample terms gets the product array (``np.asarray(product)``).

    Parameters
    ----------
    values, weight : numpy.ndarray
        Two 1-D arrays of the same length and floating dtype.

    Examples
    --------
    >>> p = Product(np.array([1.0, 3.0, 5.0]), np.array([1.0, 0.5, 0.0]))
    >>> p.sum()
    np.float64(2.5)
    >>> np.asarray(p)
    array([1. , 1.5, 0. ])
    """

    __slots__ = ("values", "weight")

    def __init__(self, values: np.ndarray, weight: np.ndarray) -> None:
        self.values = values
        self.weight = weight

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the product: ``(n,)``."""
        return self.values.shape

    @property
    def ndim(self) -> int:
        """1: one term per sample."""
        return 1

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype of the product."""
        return self.values.dtype

    def sum(self) -> Any:
        """``Σ valuesᵢ·weightᵢ``: a BLAS dot in float64; numpy's product and sum otherwise."""
        if self.values.dtype == np.float64:
            return self.values.dot(self.weight)  # the method skips np.dot's dispatch
        return np.add.reduce(self.values * self.weight)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        product = self.values * self.weight
        return product if dtype is None else product.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"Product(values={self.values!r}, weight={self.weight!r})"


_INTP = np.dtype(np.intp)
_FLOAT64 = np.dtype(np.float64)
_FLOAT64_TYPE = type(_FLOAT64)


def _plain_shape(shape: tuple[Any, ...]) -> bool:
    """Whether the tuple ``shape`` holds one or two Python ints (no conversion needed)."""
    if len(shape) == 1:
        return type(shape[0]) is int
    return len(shape) == 2 and type(shape[0]) is int and type(shape[1]) is int


class OneHot:
    """Per-sample terms that are zero but for one entry, kept as that entry's position and weight.

    Sample ``i`` adds ``weight[i]`` (1 when unweighted) at flat position ``index[i]``
    of a sum field of shape ``field_shape``; everywhere else it adds 0. A confusion
    matrix is the example: the dense per-sample terms of ``n`` samples and ``k``
    classes would be an ``(n, k, k)`` array, here they are two arrays of length
    ``n``. Summed over a batch they are one :func:`numpy.bincount` (``sum``), by
    segment one bincount of ``segment · size + index`` (``segment_sums``); anyone
    else gets the dense array from ``np.asarray(one_hot)``.

    Only ``sum`` fields may use it (a minimum or maximum over samples needs the
    zeros too: :class:`Reduction` materialises the dense array for those).
    Sums are accumulated in float64 and rounded once to ``dtype``, so float32
    and float16 counts stay exact up to ``2**53``, not ``2**24`` or ``2**11``.

    Parameters
    ----------
    index : numpy.ndarray
        1-D integer positions in ``[0, prod(field_shape))``, one per sample.
    field_shape : tuple of int
        The shape of the field (``(k, k)`` for a confusion matrix).
    weight : numpy.ndarray, optional
        1-D weights, one per sample (already checked: >= 0, not NaN). None adds 1.
    dtype : numpy.dtype
        The dtype of the terms and of their sums.

    Examples
    --------
    Three samples of a 2 x 2 field: two at position 1 (row 0, column 1), one at 2.

    >>> terms = OneHot(np.array([1, 2, 1]), (2, 2), weight=np.array([1.0, 0.5, 2.0]))
    >>> terms.shape
    (3, 2, 2)
    >>> terms.sum()
    array([[0. , 3. ],
           [0.5, 0. ]])
    >>> terms.segment_sums(np.array([0, 0, 1]), 2)[1]
    array([[0., 2.],
           [0., 0.]])
    >>> np.asarray(terms)[1]
    array([[0. , 0. ],
           [0.5, 0. ]])
    """

    __slots__ = ("dtype", "field_shape", "index", "size", "weight")

    def __init__(
        self,
        index: np.ndarray,
        field_shape: tuple[int, ...],
        weight: np.ndarray | None = None,
        dtype: Any = np.float64,
    ) -> None:
        # the common case (an intp array, a shape of ints, a dtype) without conversions:
        # small updates make one or three of these per batch
        if type(index) is not np.ndarray or index.dtype is not _INTP:
            index = np.asarray(index, dtype=np.intp)
        self.index = index
        if type(field_shape) is not tuple or not _plain_shape(field_shape):
            field_shape = tuple(int(d) for d in field_shape)
        self.field_shape = field_shape
        self.size = math.prod(field_shape)
        self.weight = weight
        self.dtype = dtype if type(dtype) is _FLOAT64_TYPE else np.dtype(dtype)
        if index.ndim != 1 or (weight is not None and weight.shape != index.shape):
            weight_shape = None if weight is None else weight.shape
            raise ValueError(
                f"`index` must be 1-D with one position per sample and `weight` None or of the "
                f"same shape, got shapes {self.index.shape} and {weight_shape}"
            )

    @classmethod
    def from_checked(
        cls,
        index: np.ndarray,
        field_shape: tuple[int, ...],
        weight: np.ndarray | None,
        dtype: np.dtype[Any],
    ) -> OneHot:
        """A :class:`OneHot` of arguments already in form: nothing converted or checked.

        For a metric's ``terms`` on the path of every small update, where the
        arguments are made in form: ``index`` a 1-D ``intp`` array (as
        ``np.ravel_multi_index`` and ``searchsorted`` give), ``field_shape`` a tuple
        of Python ints, ``weight`` None or 1-D of the same length, ``dtype`` a
        :class:`numpy.dtype`. A position out of the field is still refused when the
        terms are summed. Building one this way takes about a third of the time.

        Examples
        --------
        >>> terms = OneHot.from_checked(np.array([3, 0]), (2, 2), None, np.dtype("float64"))
        >>> terms.sum()
        array([[1., 0.],
               [0., 1.]])
        """
        self = object.__new__(cls)
        self.index, self.field_shape, self.weight, self.dtype = index, field_shape, weight, dtype
        self.size = math.prod(field_shape)
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the dense terms: ``(n, *field_shape)``."""
        return (self.index.shape[0], *self.field_shape)

    @property
    def ndim(self) -> int:
        """``1 + len(field_shape)``: one field-shaped term per sample."""
        return 1 + len(self.field_shape)

    def __len__(self) -> int:
        return self.index.shape[0]

    def _out_of_field(self) -> ValueError:
        index = self.index
        bad = index[(index < 0) | (index >= self.size)]
        return ValueError(
            f"`index` must hold positions in [0, {self.size}) of a field of shape "
            f"{self.field_shape}, got {int(bad[0]) if bad.size else None!r}"
        )

    def _counts(self, flat: np.ndarray, length: int) -> np.ndarray:
        try:
            counts = np.bincount(flat, self.weight, minlength=length)
        except ValueError:  # a negative position
            raise self._out_of_field() from None
        if counts.shape[0] != length:
            raise self._out_of_field()
        return counts

    def sum(self) -> np.ndarray:
        """The sum over samples: an array of shape ``field_shape`` (one bincount)."""
        index, size, weight, dtype = self.index, self.size, self.weight, self.dtype
        if weight is None and dtype is _FLOAT64 and index.shape[0] <= _SMALL:
            weight = _ONES_OF_LENGTH[index.shape[0]]  # float64 counts, no cast (exact)
        try:
            counts = np.bincount(index, weight, size)
        except ValueError:  # a negative position
            raise self._out_of_field() from None
        if counts.shape[0] != size:
            raise self._out_of_field()
        field_shape = self.field_shape
        if len(field_shape) != 1:
            counts = counts.reshape(field_shape)
        return counts if counts.dtype is dtype else counts.astype(dtype, copy=False)

    def segment_sums(self, segment_ids: np.ndarray, num_segments: int) -> np.ndarray:
        """Sums by segment: shape ``(num_segments, *field_shape)`` (one bincount).

        Parameters
        ----------
        segment_ids : numpy.ndarray
            Integer ids in ``[0, num_segments)``, one per sample.
        num_segments : int
            How many segments; empty ones are all zeros.
        """
        index = self.index
        if index.size and not (0 <= int(index.min()) and int(index.max()) < self.size):
            raise self._out_of_field()  # it would spill into a neighbouring segment
        flat = np.asarray(segment_ids, dtype=np.intp) * self.size
        flat += index
        counts = self._counts(flat, num_segments * self.size)
        return counts.reshape(num_segments, *self.field_shape).astype(self.dtype, copy=False)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        n = self.index.shape[0]
        dense = np.zeros((n, self.size), dtype=self.dtype)
        dense[np.arange(n), self.index] = 1.0 if self.weight is None else self.weight
        dense = dense.reshape(self.shape)
        return dense if dtype is None else dense.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return (
            f"OneHot(index={self.index!r}, field_shape={self.field_shape!r}, "
            f"weight={self.weight!r}, dtype={self.dtype.name!r})"
        )


_SMALL = 128  # numpy's pairwise sum adds blocks of up to 128 numbers with 8 running sums
_ONES = np.ones(_SMALL)
_ONES.flags.writeable = False
_ONES_OF_LENGTH = [_ONES[:n] for n in range(_SMALL + 1)]


_BOOL = np.dtype(bool)


def _sum_rows(term: np.ndarray) -> Any:
    """``term.sum(axis=0)``; a short 1-D float64 array is summed as a dot product with ones.

    On 32 numbers ``np.add.reduce`` spends about 0.7 µs, nearly all of it setting
    up the ufunc; the dot method takes about 0.3 µs. Up to 128 numbers both add
    with a few running sums, so the rounding is of the same size (not the same
    bits). Other dtypes keep numpy's sum, so float32 rounds exactly as numpy does.
    """
    n = term.shape[0]
    if n <= _SMALL and term.dtype is _ONES.dtype and term.ndim == 1:
        return term.dot(_ONES_OF_LENGTH[n])
    if term.dtype is _BOOL:  # counts (terms with no float copy): exact, and the fastest sum
        return np.count_nonzero(term) if term.ndim == 1 else np.count_nonzero(term, axis=0)
    return np.add.reduce(term, 0)


def _fill(shape: tuple[int, ...], value: float, dtype: np.dtype[Any]) -> np.ndarray:
    return np.full(shape, value, dtype=dtype)


@dataclass(frozen=True)
class Reduction:
    """A monoid a state field reduces with: ``sum``, ``min`` or ``max``.

    Parameters
    ----------
    name : str
        ``"sum"``, ``"min"`` or ``"max"``.
    ufunc : numpy.ufunc
        ``np.add``, ``np.minimum`` or ``np.maximum``.
    identity : float
        ``0``, ``+inf`` or ``-inf``: the value of an empty reduction (and of a reset state).
    combine : callable
        Merges two values (``operator.add`` for sums: fast on scalars and arrays).

    Examples
    --------
    >>> total = REDUCTIONS["sum"]
    >>> total.over_batch(np.array([1.0, 3.0, 5.0, 7.0]), 4, np.dtype("float64"))
    np.float64(16.0)
    >>> total.over_segments(np.array([1.0, 3.0, 5.0]), np.array([0, 1, 0]), 2, np.dtype("float64"))
    array([6., 3.])
    >>> REDUCTIONS["max"].scan(np.array([1.0, 3.0, 2.0]))
    array([1., 3., 3.])
    """

    name: str
    ufunc: np.ufunc
    identity: float
    combine: Callable[[Any, Any], Any]

    def empty(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Any:
        """Return the identity: a numpy scalar for ``shape == ()``, else a filled array."""
        if shape == ():
            return dtype.type(self.identity)
        return _fill(shape, self.identity, dtype)

    def over_batch(self, term: Any, n: int, dtype: np.dtype[Any]) -> Any:
        """Reduce per-sample terms (shape ``(n, ...)``, or one scalar for all ``n``) over axis 0.

        A :class:`Product` term (weighted values) is summed with one dot product, a
        :class:`OneHot` term with one bincount.
        """
        if type(term) is Product and self.name != "sum":
            term = np.asarray(term)  # a minimum of products needs the products
        if type(term) is np.ndarray and term.ndim:
            if self.name == "sum":
                out = _sum_rows(term)
            else:
                out = self.ufunc.reduce(term, 0, initial=self.identity)
            if type(out) is dtype.type:
                return out
            return out.astype(dtype, copy=False) if out.ndim else dtype.type(out)
        if type(term) is Product:
            out = term.sum()
            return out if type(out) is dtype.type else dtype.type(out)
        if type(term) is OneHot:
            if self.name == "sum":
                return term.sum().astype(dtype, copy=False)
            return self.over_batch(np.asarray(term), n, dtype)
        if self.name == "sum":
            return dtype.type(term * n)
        return dtype.type(term if n else self.identity)

    def batch_reducer(self, dtype: np.dtype[Any]) -> Callable[[Any, int], Any]:
        """``over_batch`` for one dtype, as a function of ``(term, n)``.

        Float64 sums of float64 arrays, the terms of most small updates, go straight
        to :func:`_sum_rows`; everything else to :meth:`over_batch`: the same
        results, a few hundred nanoseconds sooner on each update.

        Examples
        --------
        >>> total = REDUCTIONS["sum"].batch_reducer(np.dtype("float64"))
        >>> total(np.array([1.0, 3.0, 5.0, 7.0]), 4)
        np.float64(16.0)
        >>> total(Product(np.array([1.0, 3.0]), np.array([0.5, 1.0])), 2)
        np.float64(3.5)
        """
        over_batch = self.over_batch
        if self.name != "sum" or dtype != _ONES.dtype:
            return lambda term, n: over_batch(term, n, dtype)
        float64 = _ONES.dtype

        def sum_float64(term: Any, n: int) -> Any:
            kind = type(term)
            if kind is np.ndarray and term.dtype is float64 and term.ndim:
                return _sum_rows(term)
            if kind is OneHot and term.dtype is float64:
                return term.sum()
            return over_batch(term, n, dtype)

        return sum_float64

    def over_segments(
        self, term: Any, segment_ids: np.ndarray, num_segments: int, dtype: np.dtype[Any]
    ) -> np.ndarray:
        """Reduce per-sample terms by segment id: shape ``(num_segments, ...)``.

        Parameters
        ----------
        term : numpy.ndarray, Product, OneHot or scalar
            Per-sample terms, or one value shared by every sample. A :class:`OneHot`
            sum is one bincount, without its dense ``(n, ...)`` array.
        segment_ids : numpy.ndarray
            Integer ids in ``[0, num_segments)``, one per sample.
        num_segments : int
            How many segments; empty ones hold the identity.
        dtype : numpy.dtype
            Output dtype.
        """
        if type(term) is OneHot:
            if self.name == "sum":
                return term.segment_sums(segment_ids, num_segments).astype(dtype, copy=False)
            term = np.asarray(term)
        if type(term) is Product:
            term = np.asarray(term)
        if not (isinstance(term, np.ndarray) and term.ndim):
            counts = np.bincount(segment_ids, minlength=num_segments)
            if self.name == "sum":
                return (counts * term).astype(dtype)
            return np.where(counts > 0, term, self.identity).astype(dtype)
        if self.name == "sum" and term.ndim == 1:
            return np.bincount(segment_ids, weights=term, minlength=num_segments).astype(dtype)
        out = _fill((num_segments, *term.shape[1:]), self.identity, dtype)
        with np.errstate(invalid="ignore"):  # a NaN term (nan_strategy="propagate") stays NaN
            self.ufunc.at(out, segment_ids, term)
        return out

    def scan(self, x: np.ndarray) -> np.ndarray:
        """Cumulative reduction along axis 0 (``cumsum``, running min, running max)."""
        return self.ufunc.accumulate(x, axis=0)


REDUCTIONS: dict[str, Reduction] = {
    "sum": Reduction("sum", np.add, 0.0, operator.add),
    "min": Reduction("min", np.minimum, np.inf, np.minimum),
    "max": Reduction("max", np.maximum, -np.inf, np.maximum),
}


def compensated_add(high: Any, low: Any, value: Any) -> tuple[Any, Any]:
    """Add ``value`` to the running sum ``high + low`` without losing its rounding error.

    The running sum is kept as two numbers of the same dtype: ``high``, the sum
    rounded to that dtype, and ``low``, what rounding left out. This is
    Neumaier's improved Kahan–Babuška summation, written with two error-free
    ``two_sum`` steps so that ``high`` is always the rounded value of
    ``high + low``: after a million additions ``high`` is within about one unit
    in the last place of the exact sum, where plain ``high += value`` drifts by
    hundreds (float64) or many thousands (float32) of them.

    Parameters
    ----------
    high, low : numpy scalar or numpy.ndarray
        The running sum and its compensation (start both at 0).
    value : numpy scalar or numpy.ndarray
        What to add, of the same dtype and shape.

    Returns
    -------
    high, low : same type as ``high``
        The new running sum and compensation. Once the sum is not finite
        (``inf``, ``nan``), ``low`` is 0 and ``high`` is what plain addition gives.

    Examples
    --------
    Adding 0.1 ten times in float32: the compensated sum is the float32 closest to
    1, the plain one is not.

    >>> high, low, plain = np.float32(0), np.float32(0), np.float32(0)
    >>> for _ in range(10):
    ...     high, low = compensated_add(high, low, np.float32(0.1))
    ...     plain += np.float32(0.1)
    >>> high, plain
    (np.float32(1.0), np.float32(1.0000001))
    """
    if type(high) is np.float64:  # same IEEE arithmetic in Python floats, ~5x faster
        high_, low_ = _two_sums_float(float(high), float(low), float(value))
        return np.float64(high_), np.float64(low_)
    total = high + value
    if type(total) is np.ndarray:
        finite = np.isfinite(total)
        if not finite.all():
            with np.errstate(invalid="ignore", over="ignore"):
                high, low = _two_sums(high, low, value, total)
            return np.where(finite, high, total), np.where(finite, low, 0).astype(total.dtype)
    elif not math.isfinite(total):
        return total, type(total)(0)
    return _two_sums(high, low, value, total)


def _two_sums_float(high: float, low: float, value: float) -> tuple[float, float]:
    total = high + value
    if not math.isfinite(total):
        return total, 0.0
    value_part = total - high
    low = low + ((high - (total - value_part)) + (value - value_part))
    high = total + low
    total_part = high - total
    return high, (total - (high - total_part)) + (low - total_part)


def _two_sums(high: Any, low: Any, value: Any, total: Any) -> tuple[Any, Any]:
    """``low += error of (high + value)``, then renormalise ``total + low`` (both error-free)."""
    value_part = total - high
    low = low + ((high - (total - value_part)) + (value - value_part))
    high = total + low
    total_part = high - total
    return high, (total - (high - total_part)) + (low - total_part)
