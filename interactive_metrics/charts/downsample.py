"""Downsampling of long histories before they reach vega-lite (numpy and polars only).

A chart of a million steps has at most a few hundred pixels across: sending every
row makes a spec of megabytes and trips altair's row limit. :func:`downsample`
keeps, per bin of consecutive rows, the first and last row and the rows holding
each column's minimum, maximum and first NaN, plus every non-update event (resets
and merges), so the drawn line keeps its extremes, its gaps and its jumps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

__all__ = ["bin_edges", "downsample", "group_codes", "keep_rows"]


def _first_per_bin(mask: np.ndarray, bin_starts: np.ndarray, n: int) -> np.ndarray:
    """Index of the first ``True`` of ``mask`` in each bin (bins without one are dropped)."""
    candidates = np.where(mask, np.arange(n), n)
    first = np.minimum.reduceat(candidates, bin_starts)
    return first[first < n]


def bin_edges(n: int, bins: int, groups: np.ndarray | None = None) -> np.ndarray:
    """Start positions of ``bins`` near-equal bins of consecutive rows (per group).

    Parameters
    ----------
    n : int
        The number of rows.
    bins : int
        How many bins each group is split into (a group with fewer rows gets one
        bin per row).
    groups : numpy.ndarray, optional
        Integer group codes, one per row, with each group's rows contiguous.

    Returns
    -------
    numpy.ndarray
        Increasing start positions; the first is 0.

    Examples
    --------
    >>> bin_edges(10, 3)
    array([0, 4, 7])
    >>> bin_edges(6, 2, groups=np.array([0, 0, 0, 0, 1, 1]))
    array([0, 2, 4, 5])
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    position = np.arange(n, dtype=np.int64)
    if groups is None:
        run_start = np.zeros(n, dtype=np.int64)
        run_size = np.full(n, n, dtype=np.int64)
        run_id = run_start
    else:
        changes = np.flatnonzero(groups[1:] != groups[:-1]) + 1
        starts = np.concatenate(([0], changes))
        sizes = np.diff(np.concatenate((starts, [n])))
        run_id = np.repeat(np.arange(len(starts), dtype=np.int64), sizes)
        run_start = starts[run_id]
        run_size = sizes[run_id]
    bin_id = run_id * bins + (position - run_start) * bins // run_size
    return np.flatnonzero(np.concatenate(([True], bin_id[1:] != bin_id[:-1])))


def keep_rows(
    values: Sequence[np.ndarray],
    bins: int,
    *,
    groups: np.ndarray | None = None,
    always: np.ndarray | None = None,
) -> np.ndarray:
    """Which rows to draw: per bin, the first, last, min, max and first NaN of each column.

    Parameters
    ----------
    values : sequence of numpy.ndarray
        The drawn columns, each of length ``n`` and in drawing order.
    bins : int
        Bins per group.
    groups : numpy.ndarray, optional
        Integer group codes (e.g. one per stream), each group's rows contiguous;
        every group is binned on its own.
    always : numpy.ndarray of bool, optional
        Rows to keep whatever happens (resets, merges). When there are more of
        them than bins, the first of them in each bin is kept instead.

    Returns
    -------
    numpy.ndarray
        Sorted row positions.

    Examples
    --------
    >>> y = np.array([0.0, 5.0, 1.0, 2.0, -3.0, 4.0, 4.0, 4.0])
    >>> keep_rows([y], bins=2)
    array([0, 1, 3, 4, 5, 7])
    """
    n = len(values[0]) if values else (0 if always is None else len(always))
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = bin_edges(n, bins, groups)
    keep = np.zeros(n, dtype=bool)
    keep[starts] = True
    keep[np.concatenate((starts[1:] - 1, [n - 1]))] = True
    counts = np.diff(np.concatenate((starts, [n])))
    with np.errstate(invalid="ignore"):
        for column in values:
            y = np.asarray(column, dtype=np.float64)
            nan = np.isnan(y)
            if nan.any():
                keep[_first_per_bin(nan, starts, n)] = True
            for extreme in (np.fmin, np.fmax):
                per_bin = np.repeat(extreme.reduceat(y, starts), counts)
                keep[_first_per_bin(y == per_bin, starts, n)] = True
    if always is not None and always.any():
        if int(always.sum()) <= len(starts):
            keep |= always
        else:
            keep[_first_per_bin(always, starts, n)] = True
    return np.flatnonzero(keep)


def downsample(
    frame: pl.DataFrame,
    columns: Sequence[str],
    max_rows: int = 2000,
    *,
    by: str | None = None,
    always: pl.Expr | None = None,
) -> pl.DataFrame:
    """The rows of ``frame`` worth drawing, at most about ``max_rows`` of them.

    Frames of ``max_rows`` rows or fewer come back unchanged. Longer ones are cut
    into bins of consecutive rows (per ``by`` group) and each bin keeps its first
    and last row and the rows where each of ``columns`` reaches its minimum or
    maximum or first turns NaN; rows matching ``always`` (resets, merges) are kept
    too, thinned to one per bin only when there are more of them than bins.

    Parameters
    ----------
    frame : polars.DataFrame
        Rows in drawing order (within each ``by`` group, when it is given).
    columns : sequence of str
        The numeric columns that will be drawn.
    max_rows : int
        The budget of rows; each bin keeps up to ``2 + 3 * len(columns)`` rows, so
        the number of bins is chosen to fit.
    by : str, optional
        A column whose groups (e.g. streams) are downsampled independently.
    always : polars.Expr, optional
        A boolean expression selecting rows that must be kept.

    Returns
    -------
    polars.DataFrame
        A subset of the rows of ``frame``, in their order in ``frame``.

    Examples
    --------
    >>> import polars as pl
    >>> frame = pl.DataFrame({"step": range(1, 100_001), "value": [0.0] * 100_000})
    >>> spike = pl.when(pl.col("step") == 777).then(9.0).otherwise("value").alias("value")
    >>> small = downsample(frame.with_columns(spike), ["value"], max_rows=500)
    >>> small.height <= 500, small["value"].max(), small["step"].to_list()[:4]
    (True, 9.0, [1, 777, 1000, 1001])
    """
    if max_rows < 1:
        raise ValueError(f"`max_rows` must be a positive integer, got {max_rows!r}")
    if frame.height <= max_rows:
        return frame
    values = [frame.get_column(c).cast(pl.Float64).to_numpy() for c in columns]
    mask = None if always is None else frame.select(always.fill_null(False)).to_series().to_numpy()
    per_bin = 2 + 3 * len(columns)
    if by is None:
        rows = keep_rows(values, max(1, max_rows // per_bin), always=mask)
        return frame[rows]
    codes = group_codes(frame.get_column(by))
    order: np.ndarray | None = None
    if len(codes) > 1 and not bool(np.all(codes[1:] >= codes[:-1])):
        order = np.argsort(codes, kind="stable")
        codes = codes[order]
        values = [v[order] for v in values]
        mask = None if mask is None else mask[order]
    group_count = int(np.count_nonzero(codes[1:] != codes[:-1])) + 1
    bins = max(1, max_rows // (per_bin * group_count))
    rows = keep_rows(values, bins, groups=codes, always=mask)
    if order is not None:
        rows = np.sort(order[rows])
    return frame[rows]


def group_codes(keys: pl.Series) -> np.ndarray:
    """Integer codes, equal for equal keys (nulls get their own): not dense, not ordered.

    Examples
    --------
    >>> codes = group_codes(pl.Series(["b", "a", None, "b"]))
    >>> bool(codes[0] == codes[3]), len(set(codes.tolist()))
    (True, 3)
    """
    dtype = keys.dtype
    if dtype == pl.String:
        keys = keys.cast(pl.Categorical)
        dtype = keys.dtype
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        physical = keys.to_physical().cast(pl.Int64)
    elif dtype.is_integer():
        physical = keys.cast(pl.Int64)
    else:
        physical = keys.rank("dense").cast(pl.Int64)
    if physical.null_count():
        lowest = physical.min()
        physical = physical.fill_null((lowest if isinstance(lowest, int) else 0) - 1)
    return physical.to_numpy()
