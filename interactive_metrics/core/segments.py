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

import datetime as dt
import math
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from interactive_metrics.core.reduce import Reduction

__all__ = [
    "KEY_KINDS",
    "MISSING",
    "RowCompute",
    "check_key_dtype",
    "codes_in",
    "factorize",
    "first_appearances",
    "is_key_sequence",
    "is_missing_key",
    "key_parts",
    "key_scalar",
    "key_series",
    "factorize_parts",
    "reduce_segments",
    "sample_weights",
    "scan_segments",
    "stack_states",
]

Plan = Sequence[tuple[str, Reduction]]

PARALLEL_ROWS = 1 << 16
"""Batches of at least this many keys are coded by polars' query engine, on all its threads."""


MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
"""What :func:`key_scalar` returns for a missing key (None, NaN, pandas NA / NaT, NaT)."""

KEY_KINDS = "strings, integers, floats, booleans, bytes, dates, datetimes, durations or times"
"""The keys a stream (or a group) may have, as error messages list them."""

_INT_RANGE = (-(2**63), 2**64)


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
    kind = type(keys)
    return (
        kind.__module__.startswith("pandas")
        and hasattr(keys, "__len__")
        and not hasattr(keys, "columns")  # a DataFrame is several key columns: refused
    )


def is_missing_key(key: Any) -> bool:
    """Whether ``key`` marks a missing key: None, a float NaN, pandas NA / NaT, numpy NaT.

    Examples
    --------
    >>> is_missing_key(None), is_missing_key(float("nan")), is_missing_key(np.datetime64("NaT"))
    (True, True, True)
    >>> is_missing_key("nan"), is_missing_key(0.0)
    (False, False)
    """
    if key is None:
        return True
    if isinstance(key, (float, np.floating)):
        return bool(np.isnan(key))
    if isinstance(key, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(key))
    kind = type(key)
    return kind.__module__.startswith("pandas") and kind.__name__ in ("NAType", "NaTType")


def check_key_dtype(dtype: pl.DataType, name: str, subject: str | None = None) -> None:
    """Refuse a key dtype that cannot name a stream: composite, object or decimal.

    Keys may be strings (Categorical and Enum too), integers, floats, booleans,
    bytes, dates, datetimes, durations or times.

    Examples
    --------
    >>> check_key_dtype(pl.String(), "stream")
    >>> check_key_dtype(pl.List(pl.Int64), "stream")
    Traceback (most recent call last):
    ...
    TypeError: `stream` must be one key per sample (one key column per call), got keys of ...
    """
    subject = subject or f"`{name}`"
    if isinstance(dtype, (pl.List, pl.Array, pl.Struct)):
        got = "lists, tuples or dicts" if dtype == pl.List(pl.Null) else f"dtype {dtype}"
        raise TypeError(
            f"{subject} must be one key per sample (one key column per call), got keys of "
            f"{got}; pass composite keys as a DataFrame (a column per part), a list of "
            "key columns, or a list of tuples"
        )
    supported = (
        dtype == pl.String
        or dtype == pl.Binary
        or dtype == pl.Boolean
        or dtype == pl.Null
        or isinstance(dtype, (pl.Categorical, pl.Enum))
        or dtype in (pl.Float32, pl.Float64, pl.Date, pl.Time)
        or isinstance(dtype, (pl.Datetime, pl.Duration))
        or dtype.is_integer()
    )
    if not supported:
        raise TypeError(
            f"{subject} keys must be {KEY_KINDS}, got keys of dtype {dtype}; convert them "
            "first, e.g. with `str`"
        )


def _types_of(keys: Any) -> str:
    names = sorted({type(k).__name__ for k in keys})
    return ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")


def key_series(keys: Any, name: str) -> pl.Series:
    """Per-sample keys as a polars Series of a supported dtype, missing keys as nulls.

    Float NaN, pandas NA / NaT and numpy NaT become nulls, like polars nulls and
    None: every missing key is a null, counted under one rule (a Streams'
    ``null_stream``). Keys of several types in one call, composite keys (lists,
    tuples, structs) and keys polars cannot group on are a ``TypeError``.

    Examples
    --------
    >>> key_series(["a", float("nan"), None], "stream").to_list()
    ['a', None, None]
    >>> key_series(np.array([1.0, np.nan]), "stream").to_list()
    [1.0, None]
    >>> key_series([1, "a"], "stream")
    Traceback (most recent call last):
    ...
    TypeError: `stream` must hold keys of one type per call, got int, str; ...
    """
    if isinstance(keys, pl.Series):
        series = keys
    elif type(keys).__module__.startswith("pandas"):
        try:
            converted = pl.from_pandas(keys)  # NaN, NA and NaT become nulls
        except (TypeError, ValueError, pl.exceptions.PolarsError, ImportError):
            converted = None
        if isinstance(converted, pl.Series):
            series = converted
        else:
            series = _series_of_objects(list(keys), name)
    elif isinstance(keys, np.ndarray) and keys.dtype.kind not in "OV":
        if keys.dtype.kind == "c":
            raise TypeError(f"`{name}` keys must be {KEY_KINDS}, got complex numbers")
        if keys.dtype.kind in "Mm":  # polars takes ms, us and ns (and days for dates)
            unit = np.datetime_data(keys.dtype)[0]
            if unit not in ("ms", "us", "ns", *(("D",) if keys.dtype.kind == "M" else ())):
                if unit in ("ps", "fs", "as"):
                    raise TypeError(
                        f"`{name}` keys must be {KEY_KINDS} of at most nanosecond "
                        f"resolution, got {keys.dtype}; cast them to nanoseconds first"
                    )
                keys = keys.astype(f"{keys.dtype.kind}8[us]")
        series = pl.Series(name, keys)
    else:
        series = _series_of_objects(keys, name)
    check_key_dtype(series.dtype, name)
    if series.dtype in (pl.Float32, pl.Float64) and series.is_nan().any():
        series = series.fill_nan(None)
    return series.alias(name)


def _series_of_objects(keys: Any, name: str) -> pl.Series:
    """A list, tuple or object array of keys as a Series; missing markers as nulls."""
    try:
        series = pl.Series(name, keys)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        series = None
    if series is None or series.dtype == pl.Object:
        cleaned = [None if is_missing_key(k) else k for k in keys]
        try:
            series = pl.Series(name, cleaned)
        except OverflowError:
            raise TypeError(
                f"`{name}` keys that are integers must fit in 128 bits; pass larger ones as strings"
            ) from None
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            if any(isinstance(k, (list, tuple, dict, np.ndarray)) for k in cleaned):
                check_key_dtype(pl.List(pl.Null), name)  # composite keys: say so
            raise TypeError(
                f"`{name}` must hold keys of one type per call, got {_types_of(cleaned)}; "
                f"convert them to one type first (keys may be {KEY_KINDS})"
            ) from None
        if series.dtype == pl.Object:
            raise TypeError(
                f"`{name}` keys must be {KEY_KINDS}, got {_types_of(cleaned)}; convert the "
                "keys first, e.g. with `str`"
            )
    return series


def key_scalar(key: Any, name: str) -> Any:
    """One key for a whole batch, as the Python value a stream is registered under.

    Returns :data:`MISSING` for a missing key (None, NaN, pandas NA / NaT, numpy
    NaT). numpy scalars become Python values (``np.int64(3)`` is the stream ``3``).

    Examples
    --------
    >>> key_scalar("a", "stream"), key_scalar(np.int64(3), "stream"), key_scalar(np.nan, "stream")
    ('a', 3, MISSING)
    >>> key_scalar(2**70, "stream") == 2**70  # polars holds it in an Int128 column
    True
    >>> key_scalar(2**200, "stream")
    Traceback (most recent call last):
    ...
    TypeError: `stream` keys that are integers must fit in 128 bits; pass larger ones as strings
    """
    kind = type(key)
    if kind is str:
        return key
    if kind is int and _INT_RANGE[0] <= key < _INT_RANGE[1]:
        return key
    if is_missing_key(key):
        return MISSING
    if isinstance(key, np.ndarray) and key.ndim == 0:
        return key_scalar(key[()], name)
    if kind is tuple and key:  # a composite key: each part a key (a missing part stays MISSING)
        return tuple(key_scalar(part, name) for part in key)
    if not isinstance(key, (bool, int, float, bytes, np.generic, dt.date, dt.time, dt.timedelta)):
        iterable = isinstance(key, (Iterator, range, set, frozenset, dict))
        hint = (
            "pass one key per sample as a list, numpy array or Series (e.g. list(...))"
            if iterable
            else f"pass one of {KEY_KINDS}, or a list of them"
        )
        if hasattr(key, "columns"):
            hint = "pass composite keys per sample: a DataFrame with one column per part"
        raise TypeError(
            f"`{name}` must be a key or one key per sample, got {kind.__name__}; {hint}"
        )
    values = key_series([key], name).to_list()
    return MISSING if values[0] is None else values[0]


def _is_column(x: Any) -> bool:
    """A column of keys: a 1-D numpy array, or a polars / pandas Series."""
    if isinstance(x, np.ndarray):
        return x.ndim == 1
    if isinstance(x, pl.Series):
        return True
    kind = type(x)
    return kind.__module__.startswith("pandas") and kind.__name__ == "Series"


def key_parts(keys: Any, name: str = "stream") -> tuple[list[pl.Series], list[str]] | None:
    """Composite keys as one Series per part, with the parts' names; None for simple keys.

    A composite key has several parts (``(sensor, site)``). Per-sample composite
    keys come as a polars or pandas DataFrame (a part per column), a polars
    ``Struct`` Series (a part per field), a list of columns (numpy arrays or
    Series, one per part) or a list of tuples (one per sample). Parts are named
    after their columns where they have names, else ``stream_0``, ``stream_1``, ...
    Each part holds keys of one kind, as for simple keys (:func:`key_series`).

    Examples
    --------
    >>> parts, names = key_parts(pl.DataFrame({"sensor": ["a", "b"], "site": [1, 2]}))
    >>> names, [p.to_list() for p in parts]
    (['sensor', 'site'], [['a', 'b'], [1, 2]])
    >>> key_parts([("a", 1), ("b", 2)])[1]
    ['stream_0', 'stream_1']
    >>> key_parts(["a", "b"]) is None
    True
    """
    columns: list[Any]
    names: list[str | None]
    if isinstance(keys, pl.DataFrame):
        columns, names = [keys[c] for c in keys.columns], list(keys.columns)
    elif hasattr(keys, "columns") and type(keys).__module__.startswith("pandas"):
        columns = [keys[c] for c in keys.columns]
        names = [str(c) for c in keys.columns]
    elif isinstance(keys, pl.Series) and isinstance(keys.dtype, pl.Struct):
        frame = keys.struct.unnest()
        columns, names = [frame[c] for c in frame.columns], list(frame.columns)
    elif isinstance(keys, list) and keys and all(_is_column(x) for x in keys):
        columns = list(keys)
        names = [getattr(x, "name", None) or None for x in keys]
    elif isinstance(keys, list) and keys and all(type(x) is tuple for x in keys):
        width = len(keys[0])
        if width < 1 or any(len(x) != width for x in keys):
            raise TypeError(
                f"`{name}` must hold composite keys of one length, got tuples of lengths "
                f"{sorted({len(x) for x in keys})}; give every sample the same parts"
            )
        columns, names = [list(part) for part in zip(*keys, strict=True)], [None] * width
    else:
        return None
    if not columns:
        raise ValueError(f"`{name}` must have at least one key column, got none")
    lengths = {len(c) for c in columns}
    if len(lengths) > 1:
        raise ValueError(
            f"`{name}` must have key columns of one length, got lengths {sorted(lengths)}; "
            "give every key column one key per sample"
        )
    named = [n if isinstance(n, str) and n else f"stream_{i}" for i, n in enumerate(names)]
    if len(set(named)) != len(named):
        named = [f"stream_{i}" for i in range(len(named))]
    return [key_series(c, n) for c, n in zip(columns, named, strict=True)], named


def _codable(part: Any) -> Any:
    """Integer keys without nulls as numpy, which :func:`factorize` codes by a table."""
    if isinstance(part, pl.Series) and part.dtype.is_integer() and part.null_count() == 0:
        if part.dtype not in (pl.Int128, pl.UInt128):
            return part.to_numpy()
    return part


def factorize_parts(
    parts: Sequence[pl.Series], name: str = "stream", null_label: Hashable | None = None
) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
    """Integer codes for composite keys (a Series per part), in order of first appearance.

    A missing part (null) becomes ``null_label`` in that part; without one it is an
    error, as for simple keys (:func:`factorize`).

    Examples
    --------
    >>> codes, uniques = factorize_parts([pl.Series(["a", "b", "a"]), pl.Series([1, 1, 1])])
    >>> codes, uniques
    (array([0, 1, 0]), [('a', 1), ('b', 1)])
    """
    n = len(parts[0])
    if n == 0:
        return np.zeros(0, dtype=np.intp), []
    coded = [factorize(_codable(part), name, null_label) for part in parts]
    sizes = [max(len(uniques), 1) for _, uniques in coded]
    if math.prod(sizes) < 2**62:  # one integer per combination (mixed radix), then factorized
        combined = np.zeros(n, dtype=np.int64)
        for (codes, _), size in zip(coded, sizes, strict=True):
            combined = combined * size + codes
        ids, seen = factorize(combined)  # a lookup table when the combinations are few
        rest = np.asarray(seen, dtype=np.int64)
        part_codes = []
        for size in reversed(sizes):  # each part's code of each distinct combination
            rest, code = np.divmod(rest, size)
            part_codes.append(code)
        part_codes.reverse()
    else:  # too many combinations for one integer: group the code columns
        frame = pl.DataFrame([pl.Series(str(i), c) for i, (c, _) in enumerate(coded)])
        distinct = frame.unique(maintain_order=True).with_row_index("id")
        joined = frame.join(distinct, on=frame.columns, how="left", maintain_order="left")
        ids = joined["id"].to_numpy().astype(np.intp)
        part_codes = [distinct[c].to_numpy() for c in frame.columns]
    columns = [
        [uniques[c] for c in codes.tolist()]
        for codes, (_, uniques) in zip(part_codes, coded, strict=True)
    ]
    return np.asarray(ids, dtype=np.intp), list(zip(*columns, strict=True))


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
        The key that missing keys (None, NaN, pandas NA / NaT, polars null) become,
        numbered where the first missing key appears. Without one, a missing key
        is an error.

    Returns
    -------
    codes : numpy.ndarray
        ``intp`` codes in ``[0, len(uniques))``, one per sample.
    uniques : list
        The distinct keys, as Python objects, in order of first appearance.

    Raises
    ------
    ValueError
        For missing keys without ``null_label``.
    TypeError
        For keys of several types, composite keys, or keys that are not one of
        :data:`KEY_KINDS`.

    Examples
    --------
    >>> codes, uniques = factorize(["b", "a", "b", "c"])
    >>> codes, uniques
    (array([0, 1, 0, 2]), ['b', 'a', 'c'])
    >>> factorize(np.array([30, 10, 30]))
    (array([0, 1, 0]), [30, 10])
    >>> factorize([2.0, float("nan"), 1.0, None], null_label="unknown")
    (array([0, 1, 2, 1]), [2.0, 'unknown', 1.0])
    >>> factorize(["a", None])
    Traceback (most recent call last):
    ...
    ValueError: `stream` must not contain missing keys (None, NaN, NA, NaT or null), got ...
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
    series = key_series(keys, name)
    nulls = series.null_count()
    if nulls and null_label is None:
        raise ValueError(
            f"`{name}` must not contain missing keys (None, NaN, NA, NaT or null), got "
            f"{nulls} missing; drop those rows, or name a stream for them, e.g. "
            "null_stream='unknown'"
        )
    if nulls == len(series) and nulls:
        return np.zeros(nulls, dtype=np.intp), [null_label]
    if isinstance(series.dtype, (pl.Categorical, pl.Enum)):
        series = series.cast(pl.String)
    uniques = series.unique(maintain_order=True)
    null_at = None
    if nulls:  # missing keys take the place of their first appearance, as `null_label`
        null_at = int(uniques.is_null().arg_max() or 0)
        uniques = uniques.drop_nulls()
    if series.dtype == pl.String:
        codes = series.cast(pl.Enum(uniques)).to_physical()
    else:
        codes = series.replace_strict(
            uniques,
            pl.Series(np.arange(len(uniques), dtype=np.int64)),
            default=None,
            return_dtype=pl.Int64,
        )
    out = codes.to_numpy().astype(np.intp, copy=False) if not nulls else None
    labels = uniques.to_list()
    if null_at is None:
        assert out is not None
        return out, labels
    physical = codes.cast(pl.Int64).to_numpy()  # float, NaN where missing
    missing = np.isnan(physical)
    found = np.where(missing, 0, physical).astype(np.intp)
    found += found >= null_at
    found[missing] = null_at
    labels.insert(null_at, null_label)
    if null_label in labels[:null_at] or null_label in labels[null_at + 1 :]:
        # the null label is also a key of the batch: one stream, at its first appearance
        seen: dict[Any, int] = {}
        remap = np.array([seen.setdefault(k, len(seen)) for k in labels], dtype=np.intp)
        return remap[found], list(seen)
    return found, labels


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
    >>> fields = [("total", "sum", ()), ("count", "sum", ())]
    >>> rows = RowCompute(m.compute, fields, (), m.engine.dtype)
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

    def one_by_one(self, states: Mapping[str, np.ndarray]) -> np.ndarray:
        """Results of ``k`` states computed one state at a time: each exactly ``compute(state)``."""
        return self._loop(states, len(next(iter(states.values()))))

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
