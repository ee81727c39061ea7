"""Turn whatever a user passes into a validated numpy array: the one place inputs are coerced.

Every metric input (values, labels, scores) and every ``sample_weight`` goes
through :func:`to_numeric`, so the rules below hold everywhere (``update_state``,
``Streams``, replay):

- accepted: numbers and booleans (``True`` is 1) as Python scalars, lists and tuples,
  numpy arrays of any memory layout (negative strides, read-only), numpy scalars,
  polars and pandas Series, pandas and polars nullable and categorical data of numbers,
  and objects with ``__array__`` or ``__dlpack__`` (torch, jax, tensorflow tensors;
  a torch tensor that requires grad is detached first);
- ndarray subclasses become plain arrays first (``np.matrix`` a plain 2-D array);
  masked arrays are refused (the mask would be lost), with the remedy;
- a missing value (pandas ``NaN``/``pd.NA``, a polars null) is NaN, so
  ``nan_strategy`` decides what happens to it, as for numpy's NaN;
- refused with a :class:`TypeError`: ``None``, str and bytes, DataFrames (pass one
  column), dicts and sets, generators and iterators (pass a list), and arrays of
  strings, bytes, Python objects (also ints beyond 64 bits), complex numbers,
  datetimes and timedeltas; an ``__array__`` that raises;
- refused with a :class:`ValueError`: ragged nested lists, and samples with no values
  (shape ``(n, 0)`` with ``n > 0``; an empty batch ``(0, ...)`` is fine).

Each error names the argument, says what was expected and what was got, and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
import polars as pl

__all__ = [
    "as_array",
    "as_integers_or_floats",
    "as_labels",
    "as_sample_weight",
    "check_choice",
    "check_integer",
    "check_name",
    "check_number",
    "check_optional_integer",
    "check_sample_weight",
    "resolve_dtype",
    "to_numeric",
]

_FLOAT_DTYPES = ("float16", "float32", "float64")
_NUMERIC = "biuf"  # numpy dtype kinds a metric accepts: bool, int, uint, float
_KIND_NAMES = {
    "U": "strings",
    "S": "bytes",
    "O": "Python objects",
    "c": "complex numbers",
    "M": "datetimes",
    "m": "timedeltas",
    "V": "raw records",
}
_KIND_REMEDIES = {
    "U": "parse the text into numbers first",
    "S": "parse the bytes into numbers first",
    "O": "convert it to numbers first, e.g. `np.asarray(x, dtype=float)` (a missing value "
    "is float('nan'); integers beyond 64 bits must be given as floats)",
    "c": "pass the real part (`x.real`) or the magnitude (`np.abs(x)`)",
    "M": "convert them to numbers first, e.g. seconds since a start: "
    "`(x - x[0]) / np.timedelta64(1, 's')`",
    "m": "convert them to numbers first, e.g. seconds: `x / np.timedelta64(1, 's')`",
}


def resolve_dtype(dtype: Any) -> np.dtype[Any]:
    """Return the numpy floating dtype a metric computes in.

    Parameters
    ----------
    dtype : str, numpy dtype, type or None
        ``None`` means ``float64``, the default (more honest for teaching than
        Keras' ``float32``). Anything numpy reads as float16, float32 or float64
        (``"float32"``, ``np.float32``, ``"f4"``) is accepted, in native byte order.

    Returns
    -------
    numpy.dtype

    Raises
    ------
    TypeError
        When numpy cannot read ``dtype`` as a dtype at all.
    ValueError
        For a dtype that is not float16, float32 or float64 (integers, bool, float128).

    Examples
    --------
    >>> resolve_dtype(None)
    dtype('float64')
    >>> resolve_dtype("float32")
    dtype('float32')
    >>> resolve_dtype("int64")
    Traceback (most recent call last):
    ...
    ValueError: `dtype` must be one of ('float16', 'float32', 'float64'), got 'int64'; ...
    """
    if dtype is None:
        return np.dtype(np.float64)
    try:
        resolved = np.dtype(dtype)
    except Exception:  # numpy raises TypeError, ValueError or KeyError for what it cannot read
        raise TypeError(
            f"`dtype` must be one of {_FLOAT_DTYPES} (a name or a numpy dtype), got "
            f"{_describe(dtype)}, which is not a dtype; pass e.g. dtype='float32'"
        ) from None
    if resolved.name not in _FLOAT_DTYPES:
        raise ValueError(
            f"`dtype` must be one of {_FLOAT_DTYPES}, got {_describe(dtype)}; "
            "metrics accumulate in floating point (pass e.g. dtype='float32')"
        )
    return np.dtype(resolved.name)  # native byte order, the one instance numpy caches


def _describe(x: Any) -> str:
    try:
        text = repr(x)
    except Exception:  # a hostile __repr__ must not hide the real error
        text = f"<{type(x).__name__} object>"
    return text if len(text) <= 60 else text[:57] + "..."


def _refuse_kind(array: np.ndarray, name: str, source: str = "an array") -> TypeError:
    kind = array.dtype.kind
    what = _KIND_NAMES.get(kind, array.dtype.name)
    example = ""
    if kind == "O" and array.size:
        sample = array.flat[:1000]
        element = next((e for e in sample if not _fits_a_number(e)), sample[0])
        example = f", e.g. {_describe(element)} of type {type(element).__name__}"
    remedy = _KIND_REMEDIES.get(kind, "convert it to a numeric array first")
    return TypeError(
        f"`{name}` must hold numbers or booleans, got {source} of {what} "
        f"(dtype {array.dtype}{example}); {remedy}"
    )


def _fits_a_number(element: Any) -> bool:
    """Whether numpy would have read ``element`` into a numeric array on its own."""
    if isinstance(element, int) and not isinstance(element, bool):
        return -(2**63) <= element < 2**64
    return isinstance(element, (bool, float, np.bool_, np.number))


def to_numeric(x: Any, name: str) -> np.ndarray:
    """Read one input as a plain numpy array of booleans or numbers: the one conversion.

    The rules are listed in this module's docstring. The result is a plain
    :class:`numpy.ndarray` (never a subclass) whose dtype kind is bool, int, uint
    or float, in the shape given (a scalar stays 0-d); missing values of pandas and
    polars become NaN. Nothing is copied that need not be.

    Parameters
    ----------
    x : array-like
        What a user passed.
    name : str
        The argument's name, used in error messages.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    TypeError
        For what does not hold numbers (see the module docstring).
    ValueError
        For ragged nested sequences.

    Examples
    --------
    >>> to_numeric([True, False], "sample_weight")
    array([ True, False])
    >>> to_numeric(np.ma.masked_array([1.0, 2.0], mask=[0, 1]), "values")
    Traceback (most recent call last):
    ...
    TypeError: `values` must be a plain array, got a masked array with 1 masked value(s); ...
    """
    array = _to_numpy(x, name)
    if array.dtype.kind not in _NUMERIC:
        raise _refuse_kind(array, name)
    return array


def _to_numpy(x: Any, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):  # subclasses first, before anything looks at them
        if isinstance(x, np.ma.MaskedArray):
            raise TypeError(
                f"`{name}` must be a plain array, got a masked array with "
                f"{int(np.ma.count_masked(x))} masked value(s); a metric would lose the mask, "
                "so pass `x.filled(np.nan)` (with nan_strategy='ignore' to drop those samples), "
                "`x.filled(0)`, or `x.compressed()` for the unmasked values of a 1-d array"
            )
        return x if type(x) is np.ndarray else np.asarray(x)  # np.matrix -> plain 2-d
    if x is None:
        raise TypeError(f"`{name}` must be array-like, got None; pass a list, array or Series")
    if isinstance(x, (str, bytes, bytearray)):
        raise TypeError(
            f"`{name}` must be array-like of numbers, got the "
            f"{'string' if isinstance(x, str) else type(x).__name__} "
            f"{_describe(x)}; pass numbers, not text"
        )
    module = type(x).__module__
    if module.startswith(("pandas", "polars")):
        converted = _from_dataframe_library(x, name, module.partition(".")[0])
        if converted is not None:
            return converted
    elif isinstance(x, (Mapping, AbstractSet)):
        raise TypeError(
            f"`{name}` must be array-like, got a {type(x).__name__} {_describe(x)}, which has "
            "no order of samples; pass a list (e.g. `list(d.values())`) or an array"
        )
    elif isinstance(x, Iterator):
        raise TypeError(
            f"`{name}` must be array-like, got a {type(x).__name__} (an iterator, read only "
            "once and of unknown length); pass `list(x)` or `np.fromiter(x, float)`"
        )
    if hasattr(x, "__dlpack__") and not hasattr(x, "__array__"):
        try:
            return np.asarray(np.from_dlpack(x))
        except Exception as error:
            raise TypeError(
                f"`{name}` could not be read through `__dlpack__` ({error}); "
                "move it to the CPU or convert it with `numpy.asarray` first"
            ) from None
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor that may require grad
        try:
            x = x.detach().cpu()
        except Exception:
            pass  # not torch after all: np.asarray below says what went wrong
    try:
        array = np.asarray(x)
    except ValueError as error:
        if "inhomogeneous" not in str(error) and "sequence" not in str(error):
            raise _unreadable(x, name, error) from None
        raise ValueError(
            f"`{name}` must be a rectangular array, got a ragged nested sequence "
            f"{_describe(x)}; give every row the same length"
        ) from None
    except Exception as error:  # an __array__ that raises (torch with grad, a lazy frame ...)
        raise _unreadable(x, name, error) from None
    return array if type(array) is np.ndarray else np.asarray(array)


def _unreadable(x: Any, name: str, error: BaseException) -> TypeError:
    return TypeError(
        f"`{name}` must be array-like, got {type(x).__name__}, which numpy could not read "
        f"({type(error).__name__}: {str(error)[:200]}); convert it to a numpy array first "
        "(a torch tensor: `x.detach().cpu().numpy()`)"
    )


def _from_dataframe_library(x: Any, name: str, library: str) -> np.ndarray | None:
    """A pandas or polars object as an array, missing values as NaN; None: not theirs to read."""
    kind_of = type(x).__name__
    if kind_of in ("DataFrame", "LazyFrame"):
        raise TypeError(
            f"`{name}` must be one column (a Series or an array), got a {library} {kind_of}; "
            "pass the column, `df['column']`, or for several columns as one 2-d array, "
            "`df.to_numpy()`"
        )
    dtype = getattr(x, "dtype", None)
    if dtype is None or not hasattr(x, "to_numpy"):
        return None
    if library == "polars":
        if not hasattr(x, "null_count"):
            return None
        base = dtype.base_type().__name__
        if dtype.is_numeric() or base in ("Boolean", "Null"):
            if x.null_count() or base in ("Null", "Decimal"):
                x = x.cast(pl.Float64)  # nulls become NaN, decimals floats
            return np.asarray(x.to_numpy())
        array = np.asarray(x.to_numpy())  # e.g. a fixed-width Array column: 2-d
        if array.dtype.kind in _NUMERIC:
            return array
        raise TypeError(
            f"`{name}` must hold numbers or booleans, got a polars Series of dtype {dtype}; "
            + (
                "encode the categories as numbers first (`.to_physical()` gives their codes)"
                if base in ("Categorical", "Enum")
                else "convert it to a numeric dtype first (`.cast(pl.Float64)`)"
            )
        )
    # pandas: Series, Index, and extension arrays (nullable, categorical, arrow-backed)
    if getattr(dtype, "name", None) == "category":
        categories = getattr(x, "cat", x).categories
        if categories.dtype.kind not in _NUMERIC:
            raise TypeError(
                f"`{name}` must hold numbers or booleans, got a pandas categorical of "
                f"{categories.dtype} categories; encode the categories as numbers first "
                "(`.cat.codes` gives their codes)"
            )
        return np.asarray(x, dtype=np.float64)  # the categories' values, NaN where missing
    kind = getattr(dtype, "kind", "O")
    if kind not in _NUMERIC:
        remedy = (
            "`pd.to_numeric(x)` or `x.astype('Float64')`" if kind == "O" else "`.astype(float)`"
        )
        raise TypeError(
            f"`{name}` must hold numbers or booleans, got a pandas {kind_of} of dtype {dtype}; "
            f"convert it to numbers first ({remedy})"
        )
    try:
        if bool(np.asarray(x.isna()).any()):
            return np.asarray(x.to_numpy(dtype=np.float64, na_value=np.nan))
        return np.asarray(x.to_numpy(dtype=getattr(dtype, "numpy_dtype", None)))
    except (TypeError, ValueError, AttributeError):
        return None  # an unusual pandas array: numpy reads it below


def as_array(x: Any, name: str, dtype: np.dtype[Any]) -> np.ndarray:
    """Coerce one input to a numpy array of ``dtype`` with at least one dimension.

    Parameters
    ----------
    x : array-like
        A list, numpy array, polars or pandas Series, or any object with
        ``__array__`` or ``__dlpack__``; the rules are in this module's docstring.
        A scalar is treated as a batch of one sample.
    name : str
        The argument's name, used in error messages.
    dtype : numpy.dtype
        The floating dtype to cast to.

    Returns
    -------
    numpy.ndarray
        ``x`` as a plain array of ``dtype`` (no copy when it already is one).

    Raises
    ------
    TypeError
        For ``None``, strings, masked arrays, DataFrames, iterators, and arrays that
        do not hold numbers or booleans.
    ValueError
        For ragged nested lists and samples with no values.

    Examples
    --------
    >>> as_array([1, 2, 3], "values", np.dtype("float64"))
    array([1., 2., 3.])
    >>> as_array(5, "values", np.dtype("float64"))
    array([5.])
    >>> as_array([[1, 2], [3]], "values", np.dtype("float64"))
    Traceback (most recent call last):
    ...
    ValueError: `values` must be a rectangular array, got a ragged nested sequence ...
    """
    if type(x) is np.ndarray and x.dtype is dtype and (x.ndim == 1 or (x.ndim and x.size)):
        return x  # `is`: the common case, fast
    array = to_numeric(x, name)
    if array.ndim == 0:
        array = array.reshape(1)
    _check_samples(array, name)
    source = array.dtype
    if source == dtype:
        return array
    if dtype.itemsize >= 4 and (source.kind in "biu" or source.itemsize <= dtype.itemsize):
        return array.astype(dtype)  # nothing to overflow: no errstate (about 1 µs) needed
    with np.errstate(over="ignore"):  # beyond the dtype's range is ±inf, as numpy casts
        return array.astype(dtype)


def _check_samples(array: np.ndarray, name: str) -> None:
    if array.ndim > 1 and array.shape[0] and not array.size:
        raise ValueError(
            f"`{name}` must hold at least one value per sample, got shape {array.shape} "
            f"({array.shape[0]} samples of no values); an empty batch has shape "
            f"(0, ...), e.g. (0,)"
        )


def as_labels(x: Any, name: str, dtype: np.dtype[Any]) -> np.ndarray:
    """Coerce an input that holds class labels: :func:`as_array`, without rounding them.

    Labels cast to a narrow float may change: in float16, 2049 becomes 2048, and
    a wrong label is then counted as right. So integers keep their integer dtype
    (no float copy either), and floats wider than ``dtype`` keep theirs; the metric
    checks that they are whole numbers in range.

    Parameters
    ----------
    x : array-like
        What :func:`as_array` accepts.
    name : str
        The argument's name, used in error messages.
    dtype : numpy.dtype
        The metric's floating dtype, for floats no wider than it and for booleans.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> as_labels([2049, 3], "y_true", np.dtype("float16"))
    array([2049,    3])
    >>> as_array([2049, 3], "y_true", np.dtype("float16"))
    array([2048.,    3.], dtype=float16)
    """
    if type(x) is np.ndarray and x.dtype.kind in "iu" and (x.ndim == 1 or (x.ndim and x.size)):
        return x
    array = to_numeric(x, name)
    kind = array.dtype.kind
    if kind in "iu" or (kind == "f" and array.dtype.itemsize > dtype.itemsize):
        array = array.reshape(1) if array.ndim == 0 else array
        _check_samples(array, name)
        return array
    return as_array(array, name, dtype)


def as_integers_or_floats(x: Any, name: str, dtype: np.dtype[Any]) -> np.ndarray:
    """Coerce labels or scores: integers as they are, the rest as :func:`as_array` does.

    For inputs that may be class labels (``Precision(num_classes=k)``) or
    scores: integer labels keep their dtype (no float copy to check and cast back),
    floats and booleans are cast to ``dtype`` exactly as :func:`as_array` casts them.

    Examples
    --------
    >>> as_integers_or_floats([2, 0], "y_true", np.dtype("float64"))
    array([2, 0])
    >>> as_integers_or_floats([0.5, 1], "y_pred", np.dtype("float32"))
    array([0.5, 1. ], dtype=float32)
    """
    if type(x) is np.ndarray and x.dtype.kind in "iu" and (x.ndim == 1 or (x.ndim and x.size)):
        return x
    array = to_numeric(x, name)
    if array.dtype.kind in "iu":
        return as_labels(array, name, dtype)
    return as_array(array, name, dtype)


def as_sample_weight(sample_weight: Any, dtype: np.dtype[Any], check: bool = True) -> np.ndarray:
    """Coerce and check ``sample_weight``: numeric, finite and non-negative.

    The weights are read by the same rules as every input (see this module's
    docstring): booleans are 0 and 1, a missing weight is NaN (and so refused).

    Parameters
    ----------
    sample_weight : array-like
        One weight per sample (or per value); 0 masks a sample out.
    dtype : numpy.dtype
        The floating dtype to cast to.
    check : bool
        Run :func:`check_sample_weight` (the Metric base defers it to each chunk
        of a large batch, where the weights are already in cache).

    Returns
    -------
    numpy.ndarray
        The weights, keeping the shape they were given in (a scalar stays 0-d).

    Examples
    --------
    >>> as_sample_weight([1, 1, 0, 0], np.dtype("float64"))
    array([1., 1., 0., 0.])
    >>> as_sample_weight([1, -2], np.dtype("float64"))
    Traceback (most recent call last):
    ...
    ValueError: `sample_weight` must be >= 0 and not NaN or infinite, got 1 bad weight(s), ...
    """
    if type(sample_weight) is np.ndarray and sample_weight.dtype is dtype:
        weight = sample_weight
    else:
        weight = to_numeric(sample_weight, "sample_weight")
        if weight.dtype != dtype:
            with np.errstate(over="ignore"):
                weight = weight.astype(dtype)
    if check:
        check_sample_weight(weight)
    return weight


_INF = float("inf")
_INFINITY_BITS: dict[np.dtype[Any], tuple[np.dtype[Any], Any]] = {  # dtype -> (view, +inf bits)
    np.dtype(np.float64): (np.dtype(np.uint64), np.uint64(0x7FF0000000000000)),
    np.dtype(np.float32): (np.dtype(np.uint32), np.uint32(0x7F800000)),
    np.dtype(np.float16): (np.dtype(np.uint16), np.uint16(0x7C00)),
}


def check_sample_weight(weight: np.ndarray) -> None:
    """Raise :class:`ValueError` unless every weight is finite and >= 0.

    Examples
    --------
    >>> check_sample_weight(np.array([0.0, 2.0]))
    >>> check_sample_weight(np.array([1.0, np.inf]))
    Traceback (most recent call last):
    ...
    ValueError: `sample_weight` must be >= 0 and not NaN or infinite, got 1 bad weight(s), ...
    """
    # Negative, NaN and infinite weights are refused (an infinite one would turn the
    # state into NaN for good: inf * 0). Small batches: argmin/argmax point at the
    # smallest/largest weight or the first NaN. Large ones: one pass, as unsigned
    # integers the bits of every finite float >= +0 are below those of +inf, and those
    # of negative numbers, NaN and inf are not; only then the exact check (-0.0 is fine).
    flat = weight if weight.ndim == 1 else weight.reshape(-1)
    n = flat.shape[0]
    if not n:
        return
    if n > 2048:
        bits = _INFINITY_BITS.get(flat.dtype)
        if bits is not None and flat.view(bits[0]).max() < bits[1]:
            return
    if not (flat[flat.argmin()] >= 0 and flat[flat.argmax()] < _INF):
        bad = weight[~((weight >= 0) & (weight < _INF))]
        raise ValueError(
            f"`sample_weight` must be >= 0 and not NaN or infinite, got {bad.size} bad "
            f"weight(s), e.g. {float(bad[0])!r}; weights say how much a sample counts, "
            "use 0 to mask a sample out"
        )


# -- constructor arguments ----------------------------------------------------------------


def check_name(name: Any) -> str:
    """Return ``name`` if it is a non-empty string: a metric's name labels charts and files.

    Raises
    ------
    TypeError
        For anything that is not a ``str``.
    ValueError
        For an empty or blank string.

    Examples
    --------
    >>> check_name("loss")
    'loss'
    >>> check_name(123)
    Traceback (most recent call last):
    ...
    TypeError: `name` must be a non-empty str, got 123 (int); pass e.g. name='loss'
    """
    if not isinstance(name, str):
        raise TypeError(
            f"`name` must be a non-empty str, got {_describe(name)} ({type(name).__name__}); "
            "pass e.g. name='loss'"
        )
    if not name.strip():
        raise ValueError(f"`name` must be a non-empty str, got {name!r}; pass e.g. name='loss'")
    return str(name)


def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
) -> float:
    """Return a constructor argument as a finite float, checked against its range.

    Parameters
    ----------
    value : Any
        What the user passed. ``bool`` is refused (``True`` is no threshold).
    name : str
        The argument's name, used in error messages.
    low, high : float, optional
        The range (``high`` always inclusive).
    low_inclusive : bool
        Whether ``low`` itself is allowed.

    Raises
    ------
    TypeError
        For what is not a real number.
    ValueError
        For NaN, ±inf and numbers out of range: a metric configured with NaN could
        never be merged with its own saved copy (NaN equals nothing).

    Examples
    --------
    >>> check_number(0.5, "threshold", low=0, high=1)
    0.5
    >>> check_number(float("nan"), "threshold")
    Traceback (most recent call last):
    ...
    ValueError: `threshold` must be a finite number, got nan
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(
            f"`{name}` must be a number, got {_describe(value)} ({type(value).__name__})"
        )
    if isinstance(value, (complex, np.complexfloating)):
        raise TypeError(f"`{name}` must be a real number, got {value!r}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"`{name}` must be a finite number, got {number!r}")
    too_low = low is not None and (number < low or (number == low and not low_inclusive))
    if too_low or (high is not None and number > high):
        left = "[" if low_inclusive else "("
        where = (
            f"in {left}{low}, {high}]"
            if low is not None and high is not None
            else (f"> {low}" if not low_inclusive else f">= {low}")
            if low is not None
            else f"<= {high}"
        )
        raise ValueError(f"`{name}` must be a number {where}, got {number!r}")
    return number


MAX_INTEGER = 2**62
"""The largest count, size or index an argument may be (larger ones overflow numpy)."""


def check_integer(value: Any, name: str, minimum: int) -> int:
    """Return a constructor argument as an ``int`` >= ``minimum`` (``bool`` refused).

    Raises
    ------
    TypeError
        For what is not an integer (floats too: ``2.0`` is not a count).
    ValueError
        For an integer below ``minimum``.

    Examples
    --------
    >>> check_integer(3, "k", 1)
    3
    >>> check_integer(0, "k", 1)
    Traceback (most recent call last):
    ...
    ValueError: `k` must be an integer >= 1, got 0
    """
    return _integer(value, name, minimum, f"an integer >= {minimum}")


def check_optional_integer(value: Any, name: str, minimum: int) -> int | None:
    """:func:`check_integer`, with ``None`` allowed (and returned).

    Examples
    --------
    >>> check_optional_integer(None, "top_k", 1) is None
    True
    """
    if value is None:
        return None
    return _integer(value, name, minimum, f"None or an integer >= {minimum}")


def _integer(value: Any, name: str, minimum: int, expected: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"`{name}` must be {expected}, got {_describe(value)} ({type(value).__name__})"
        )
    if value < minimum:
        raise ValueError(f"`{name}` must be {expected}, got {value!r}")
    if value > MAX_INTEGER:
        raise ValueError(
            f"`{name}` must be {expected} and at most 2**62, got {value!r}; no count, size "
            "or index here is that large"
        )
    return int(value)


def check_choice(value: Any, name: str, choices: tuple[Any, ...], remedy: str = "") -> Any:
    """Return ``value`` if it is one of ``choices`` (compared without numpy broadcasting).

    Examples
    --------
    >>> check_choice("ignore", "nan_strategy", ("propagate", "ignore", "error"))
    'ignore'
    >>> check_choice("drop", "nan_strategy", ("propagate", "ignore"))
    Traceback (most recent call last):
    ...
    ValueError: `nan_strategy` must be one of ('propagate', 'ignore'), got 'drop'
    """
    for choice in choices:
        if isinstance(value, type(choice)) and value == choice:
            return choice  # the canonical object: a str, not a numpy str
    raise ValueError(
        f"`{name}` must be one of {choices}, got {_describe(value)}" + (remedy and f"; {remedy}")
    )
