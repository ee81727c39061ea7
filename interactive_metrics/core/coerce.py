"""Turn whatever a user passes into a validated numpy array: the one place inputs are coerced.

Lists, numpy arrays, polars and pandas Series, and any object that implements
``__array__`` or ``__dlpack__`` (torch, jax and tensorflow tensors) are accepted.
Everything else gets a :class:`TypeError` or :class:`ValueError` that names the
argument, says what was expected and what was received, and how to fix it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_array", "as_sample_weight", "check_sample_weight", "resolve_dtype"]

_FLOAT_DTYPES = ("float16", "float32", "float64")


def resolve_dtype(dtype: Any) -> np.dtype[Any]:
    """Return the numpy floating dtype a metric computes in.

    Parameters
    ----------
    dtype : str, numpy dtype or None
        ``None`` means ``float64``, the default (more honest for teaching than
        Keras' ``float32``).

    Returns
    -------
    numpy.dtype

    Examples
    --------
    >>> resolve_dtype(None)
    dtype('float64')
    >>> resolve_dtype("float32")
    dtype('float32')
    """
    if dtype is None:
        return np.dtype(np.float64)
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in _FLOAT_DTYPES:
        raise ValueError(
            f"`dtype` must be one of {_FLOAT_DTYPES}, got {dtype!r}; "
            "metrics accumulate in floating point (pass e.g. dtype='float32')"
        )
    return resolved


def _describe(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def as_array(x: Any, name: str, dtype: np.dtype[Any]) -> np.ndarray:
    """Coerce one input to a numpy array of ``dtype`` with at least one dimension.

    Parameters
    ----------
    x : array-like
        A list, numpy array, polars or pandas Series, or any object with
        ``__array__`` or ``__dlpack__``. A scalar is treated as a batch of one sample.
    name : str
        The argument's name, used in error messages.
    dtype : numpy.dtype
        The floating dtype to cast to.

    Returns
    -------
    numpy.ndarray
        ``x`` as an array of ``dtype`` (no copy when it already is one).

    Raises
    ------
    TypeError
        For ``None``, strings, objects and non-numeric arrays.
    ValueError
        For ragged nested lists and Series with null values.

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
    if type(x) is np.ndarray and x.dtype is dtype and x.ndim:  # `is`: the common case, fast
        return x
    array = _to_numpy(x, name)
    kind = array.dtype.kind
    if kind not in "biuf":
        what = {"U": "strings", "S": "bytes", "O": "Python objects", "c": "complex numbers"}
        raise TypeError(
            f"`{name}` must hold numbers or booleans, got an array of "
            f"{what.get(kind, array.dtype.name)} (dtype {array.dtype}); "
            "convert it to a numeric array first"
        )
    if array.ndim == 0:
        array = array.reshape(1)
    return array.astype(dtype, copy=False)


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
    if type(x) is np.ndarray and x.dtype.kind in "iu" and x.ndim:
        return x
    array = _to_numpy(x, name)
    kind = array.dtype.kind
    if kind in "iu" or (kind == "f" and array.dtype.itemsize > dtype.itemsize):
        return array.reshape(1) if array.ndim == 0 else array
    return as_array(array, name, dtype)


def _to_numpy(x: Any, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if x is None:
        raise TypeError(f"`{name}` must be array-like, got None; pass a list, array or Series")
    if isinstance(x, (str, bytes)):
        raise TypeError(
            f"`{name}` must be array-like of numbers, got the string {_describe(x)}; "
            "pass numbers, not text"
        )
    nulls = _null_count(x)
    if nulls:
        raise ValueError(
            f"`{name}` must not contain nulls, got a Series with {nulls} null(s); "
            "fill them (`.fill_null(...)` / `.fillna(...)`) or drop them first"
        )
    if nulls is not None:
        return np.asarray(x.to_numpy())
    if hasattr(x, "__dlpack__") and not hasattr(x, "__array__"):
        try:
            return np.from_dlpack(x)
        except (TypeError, RuntimeError, BufferError) as error:
            raise TypeError(
                f"`{name}` could not be read through `__dlpack__` ({error}); "
                "move it to the CPU or convert it with `numpy.asarray` first"
            ) from None
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor that may require grad
        x = x.detach().cpu()
    try:
        return np.asarray(x)
    except ValueError:
        raise ValueError(
            f"`{name}` must be a rectangular array, got a ragged nested sequence "
            f"{_describe(x)}; give every row the same length"
        ) from None
    except TypeError as error:
        raise TypeError(
            f"`{name}` must be array-like, got {type(x).__name__} ({error}); "
            "pass a list, array or Series of numbers"
        ) from None


def _null_count(x: Any) -> int | None:
    """Nulls in a polars or pandas Series; None for anything that is not a Series."""
    module = type(x).__module__
    if module.startswith("polars") and hasattr(x, "null_count"):
        return int(x.null_count())
    if module.startswith("pandas") and hasattr(x, "isna"):
        return int(x.isna().sum())
    return None


def as_sample_weight(sample_weight: Any, dtype: np.dtype[Any], check: bool = True) -> np.ndarray:
    """Coerce and check ``sample_weight``: numeric, non-negative and not NaN.

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
    ValueError: `sample_weight` must be >= 0 and not NaN, got 1 bad weight(s), e.g. -2.0; ...
    """
    if type(sample_weight) is np.ndarray and sample_weight.dtype is dtype:
        weight = sample_weight
    else:
        weight = _to_numpy(sample_weight, "sample_weight")
        if weight.dtype.kind not in "biuf":
            raise TypeError(
                "`sample_weight` must hold numbers, got an array of dtype "
                f"{weight.dtype}; pass numeric weights (0 masks a sample)"
            )
        weight = weight.astype(dtype, copy=False)
    if check:
        check_sample_weight(weight)
    return weight


def check_sample_weight(weight: np.ndarray) -> None:
    """Raise :class:`ValueError` unless every weight is >= 0 and not NaN.

    Examples
    --------
    >>> check_sample_weight(np.array([0.0, 2.0]))
    >>> check_sample_weight(np.array([1.0, np.nan]))
    Traceback (most recent call last):
    ...
    ValueError: `sample_weight` must be >= 0 and not NaN, got 1 bad weight(s), e.g. nan; ...
    """
    # argmin points at the smallest weight or at the first NaN: one fast pass either way
    flat = weight if weight.ndim == 1 else weight.reshape(-1)
    if flat.shape[0] and not flat[flat.argmin()] >= 0:  # False for NaN too
        bad = weight[~(weight >= 0)]
        raise ValueError(
            f"`sample_weight` must be >= 0 and not NaN, got {bad.size} bad weight(s), "
            f"e.g. {float(bad[0])!r}; weights say how much a sample counts, "
            "use 0 to mask a sample out"
        )
