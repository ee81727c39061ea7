"""Replay a logged run: a table of per-sample rows with a batch id becomes a full metric history.

The metric's per-sample terms are computed for every row at once, reduced per
batch id (and per stream, for :class:`~interactive_metrics.Streams`), and the
batch states are scanned (``cumsum``, running min / max) into running states: one
vectorised pass whose history is the one a loop calling ``update_state`` once per
batch, in batch order, records.

Tables larger than memory are read in chunks (polars' streaming engine for
files and lazy frames); each chunk is reduced to partial states per batch, and
partial states merge exactly, which is what mergeable states are for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import polars as pl

from interactive_metrics.core.segments import (
    check_key_dtype,
    factorize,
    factorize_parts,
    key_series,
    sample_weights,
)
from interactive_metrics.engine import Batch, Engine, State
from interactive_metrics.history import BATCH_ID_KINDS, check_batch_dtype
from interactive_metrics.metric import Metric

if TYPE_CHECKING:
    from interactive_metrics.streams import Segments, Streams

__all__ = [
    "BATCH_ID_KINDS",
    "Log",
    "Source",
    "check_batch_dtype",
    "open_log",
    "replay_metric",
    "replay_streams",
]

Source = Any  # pl.DataFrame | pl.LazyFrame | pandas.DataFrame | str | os.PathLike[str]
"""What can be replayed: a polars DataFrame or LazyFrame, a pandas DataFrame, or a
path to a CSV or Parquet file."""

CHUNK_ROWS = 1 << 21
"""Rows reduced at a time: bounds the memory of a replay, whatever the table's size."""


# -- reading -------------------------------------------------------------------------------------


class Log(NamedTuple):
    """The log of a replay, opened and checked: what :func:`open_log` returns."""

    lazy: pl.LazyFrame
    frame: pl.DataFrame | None
    schema: Mapping[str, pl.DataType]
    roles: dict[str, str | None]
    needed: list[str]


def open_log(
    data: Source,
    inputs: Mapping[str, str],
    *,
    batch: str,
    sample_weight: str | None,
    every: str | None,
    reset: str | None,
    stream: str | Sequence[str] | None = None,
) -> Log:
    """A replay's log, checked before anything is read: the prelude every replay shares.

    The roles of its columns (``inputs``, weights, batch ids, stream keys, epochs),
    checked to exist and to hold numbers where they must; the batch ids bucketed by
    ``every``; ``needed`` lists each used column once.

    Examples
    --------
    >>> log = pl.DataFrame({"step": [1, 1, 2], "loss": [1.0, 2.0, 4.0]})
    >>> opened = open_log(log, {"values": "loss"}, batch="step", sample_weight=None,
    ...                   every=None, reset=None)
    >>> opened.needed, opened.roles
    (['loss', 'step'], {'values': 'loss', 'sample_weight': None, 'batch': 'step'})
    """
    lazy, frame = source_frame(data)
    roles: dict[str, str | None] = {
        **inputs,
        "sample_weight": sample_weight,
        "batch": batch,
        **(stream_roles(stream) if stream is not None else {}),
        **epoch_roles(reset),
    }
    check_columns(lazy.collect_schema(), roles, {*inputs, "sample_weight"})
    lazy, frame = bucketed(lazy, frame, batch, every)
    needed = list(dict.fromkeys(c for c in roles.values() if c is not None))
    return Log(lazy, frame, lazy.collect_schema(), roles, needed)


def source_frame(data: Source) -> tuple[pl.LazyFrame, pl.DataFrame | None]:
    """The data of a replay as a LazyFrame, and as a DataFrame when it is already in memory.

    A polars DataFrame or LazyFrame, a pandas DataFrame, or a CSV / Parquet path
    (scanned lazily). Collections and Streams of collections read logs through it too.

    Examples
    --------
    >>> lazy, frame = source_frame(pl.DataFrame({"x": [1, 2]}))
    >>> type(lazy).__name__, frame.height
    ('LazyFrame', 2)
    """
    if isinstance(data, pl.DataFrame):
        return data.lazy(), data
    if isinstance(data, pl.LazyFrame):
        return data, None
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        suffix = path.suffix.lower()
        if not path.exists():
            raise FileNotFoundError(f"`data` must be an existing file, got {str(path)!r}")
        if suffix in (".parquet", ".pq"):
            return pl.scan_parquet(path), None
        if suffix in (".csv", ".tsv", ".txt"):
            return pl.scan_csv(path, separator="\t" if suffix == ".tsv" else ","), None
        raise ValueError(
            f"`data` must be a .csv or .parquet file, got {str(path)!r}; convert it, or "
            "read it with polars and pass the DataFrame"
        )
    if type(data).__module__.startswith("pandas") and hasattr(data, "columns"):
        frame = pl.from_pandas(data)
        return frame.lazy(), frame
    raise TypeError(
        f"`data` must be a polars DataFrame or LazyFrame, a pandas DataFrame or a path to a "
        f"CSV / Parquet file, got {type(data).__name__}"
    )


def source_chunks(lazy: pl.LazyFrame, frame: pl.DataFrame | None, columns: list[str]) -> Any:
    """Yield the needed ``columns`` in chunks of at most about :data:`CHUNK_ROWS` rows.

    ``lazy`` and ``frame`` are what :func:`source_frame` returns; each chunk is read
    once, so several metrics can reduce it in one pass over the log.
    """
    if frame is not None:
        frame = frame.select(columns)
        if frame.height == 0:
            yield frame
        for start in range(0, frame.height, CHUNK_ROWS):
            yield frame.slice(start, CHUNK_ROWS)
        return
    empty = True
    for chunk in lazy.select(columns).collect_batches(chunk_size=CHUNK_ROWS):
        empty = False
        yield chunk
    if empty:
        yield lazy.select(columns).clear().collect()


def _numeric(dtype: pl.DataType) -> bool:
    if isinstance(dtype, (pl.Array, pl.List)):
        return _numeric(dtype.inner)  # type: ignore[arg-type]
    return dtype.is_numeric() or dtype == pl.Boolean


def check_columns(
    schema: Mapping[str, pl.DataType], roles: Mapping[str, str | None], numeric: set[str]
) -> None:
    """Every named column exists, and the value columns hold numbers."""
    available = list(schema)
    for role, column in roles.items():
        if column is None:
            continue
        if not isinstance(column, str):
            raise TypeError(f"`{role}` must be a column name, got {column!r}")
        if column not in schema:
            shown = available[:12] + (["..."] if len(available) > 12 else [])
            raise ValueError(
                f"column {column!r} (for `{role}`) is not in the data; available columns: {shown}"
            )
        dtype = schema[column]
        if role == "batch":
            check_batch_dtype(dtype, column)
        if _is_stream_role(role):
            check_key_dtype(dtype, "stream", f"column {column!r} (for `{role}`)")
        if role in numeric and not _numeric(dtype):
            raise TypeError(
                f"column {column!r} (for `{role}`) must hold numbers, got dtype {dtype}; cast "
                f"it first, e.g. pl.col({column!r}).cast(pl.Float64)"
            )


STRUCTURAL_ROLES = frozenset({"batch", "sample_weight", "reset"})
"""The roles whose nulls a replay refuses (with the stream keys, unless ``null_stream``).

A value column's nulls are missing values, read as NaN as ``update_state`` reads a
polars or pandas column (:func:`input_array`); ``nan_strategy`` then decides.
"""


def check_nulls(chunk: pl.DataFrame, roles: Mapping[str, str | None], allowed: set[str]) -> None:
    """Refuse nulls in the batch ids, weights, epochs and (unless ``allowed``) stream keys.

    Value columns are not checked: their nulls are NaN, as for ``update_state``.

    Examples
    --------
    >>> chunk = pl.DataFrame({"step": [1, None], "loss": [1.0, None]})
    >>> check_nulls(chunk, {"values": "loss"}, set())  # a missing value: NaN
    >>> check_nulls(chunk, {"values": "loss", "batch": "step"}, set())
    Traceback (most recent call last):
    ...
    ValueError: column 'step' (for `batch`) has 1 null(s); fill or drop them first, ...
    """
    for role, column in roles.items():
        if column is None or role in allowed:
            continue
        if role not in STRUCTURAL_ROLES and not _is_stream_role(role):
            continue  # a value column: missing values are NaN (see input_array)
        nulls = chunk[column].null_count()
        if _is_stream_role(role) and chunk[column].dtype in (pl.Float32, pl.Float64):
            nulls += int(chunk[column].is_nan().sum())  # NaN keys are missing keys too
            if nulls:
                raise ValueError(
                    f"column {column!r} (for `{role}`) has {nulls} missing key(s) (null or "
                    "NaN); drop those rows, or name a stream for them, e.g. "
                    "Streams(metric, null_stream='unknown')"
                )
        if nulls:
            raise ValueError(
                f"column {column!r} (for `{role}`) has {nulls} null(s); fill or drop them "
                f"first, e.g. with pl.col({column!r}).fill_null(...) or .drop_nulls({column!r})"
            )


def input_array(column: pl.Series) -> np.ndarray:
    """A value column as ``update_state`` reads a polars Series: missing values are NaN.

    Numbers and booleans with nulls become float64 with NaN where a value is
    missing (a pandas ``NaN`` or ``pd.NA`` is a polars null once read); the
    metric's ``nan_strategy`` then decides, as for ``update_state``.

    Examples
    --------
    >>> input_array(pl.Series([True, None, False]))
    array([ 1., nan,  0.])
    >>> input_array(pl.Series([1, 2])).dtype
    dtype('int64')
    """
    dtype = column.dtype
    if column.null_count() and (dtype.is_numeric() or dtype == pl.Boolean):
        column = column.cast(pl.Float64)
    return column.to_numpy()


def input_arrays(chunk: pl.DataFrame, columns: Mapping[str, str]) -> dict[str, np.ndarray]:
    """``{input name: array}`` of the ``columns`` of ``chunk``, each read by :func:`input_array`."""
    return {name: input_array(chunk[column]) for name, column in columns.items()}


def _is_stream_role(role: str) -> bool:
    return role == "stream" or role.startswith("stream[")


def stream_roles(stream: str | Sequence[str]) -> dict[str, str]:
    """The roles of the key columns: ``{"stream": c}``, or ``stream[i]`` for composite keys.

    Examples
    --------
    >>> stream_roles("sensor"), stream_roles(["sensor", "site"])
    ({'stream': 'sensor'}, {'stream[0]': 'sensor', 'stream[1]': 'site'})
    """
    if isinstance(stream, str):
        return {"stream": stream}
    if not isinstance(stream, Sequence) or not stream:
        raise TypeError(f"`stream` must be a column name or a list of column names, got {stream!r}")
    return {f"stream[{i}]": column for i, column in enumerate(stream)}


def chunk_keys(
    chunk: pl.DataFrame, stream: str | Sequence[str], null_label: Any
) -> tuple[np.ndarray, list[Any]]:
    """The stream of each row of ``chunk`` (codes in order of first appearance) and the keys.

    Several columns make composite keys: tuples, one part per column.
    """
    if isinstance(stream, str):
        return factorize(chunk[stream], "stream", null_label)
    parts = [key_series(chunk[column], column) for column in stream]
    codes, keys = factorize_parts(parts, "stream", null_label)
    return codes, list(keys)


def input_roles(
    target: Any, columns: Mapping[str, str], owner: str | None = None
) -> dict[str, str]:
    """``{input name: column}`` for a replay of ``target`` (anything with ``input_names``).

    ``owner`` names the replay in the message (default: the target's class).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> input_roles(im.Mean(), {"values": "loss"})
    {'values': 'loss'}
    >>> input_roles(im.Mean(), {"value": "loss"})
    Traceback (most recent call last):
    ...
    TypeError: Mean.replay() takes one column name per input (values="..."), got unknown ...
    """
    names = target.input_names
    unknown = sorted(set(columns) - set(names))
    missing = [n for n in names if n not in columns]
    if unknown or missing:
        example = ", ".join(f'{n}="..."' for n in names)
        problem = f"unknown keyword(s) {unknown}" if unknown else f"no column for {missing}"
        raise TypeError(
            f"{owner or type(target).__name__}.replay() takes one column name per input "
            f"({example}), got {problem}"
        )
    return {name: columns[name] for name in names}


# -- batch ids -----------------------------------------------------------------------------------


def batch_codes(ids: pl.Series) -> tuple[np.ndarray | None, np.ndarray, Any]:
    """Batch ids to segments: ``(starts or None, codes, sorted distinct ids)``.

    When the ids are already sorted, ``starts`` holds where each batch begins
    (and ``np.ufunc.reduceat`` reduces without any sort); otherwise codes index the
    sorted distinct ids.
    """
    if ids.dtype.is_temporal():
        ids = ids.to_physical()
    if ids.dtype.is_numeric() or ids.dtype == pl.Boolean:
        values = ids.to_numpy()
        if values.dtype.kind == "f" and np.isnan(values).any():
            raise ValueError(
                f"column {ids.name!r} (for `batch`) has NaN batch ids; a batch id must be a "
                "number, string or date"
            )
        n = len(values)
        if n == 0:
            return np.zeros(1, dtype=np.intp)[:0], np.zeros(0, dtype=np.intp), values
        if n == 1 or bool((values[1:] >= values[:-1]).all()):
            starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
            return starts, np.zeros(0, dtype=np.intp), values[starts]
        if values.dtype.kind in "iu":
            lowest, highest = int(values.min()), int(values.max())
            if highest - lowest < 4 * n + 1024:  # dense integer ids: count, do not sort
                offsets = (values - lowest).astype(np.intp, copy=False)
                present = np.bincount(offsets, minlength=highest - lowest + 1) > 0
                rank = np.cumsum(present) - 1
                return None, rank[offsets], np.flatnonzero(present) + lowest
        distinct, codes = np.unique(values, return_inverse=True)
        return None, codes.astype(np.intp, copy=False), distinct
    ordered = ids.unique().sort()
    codes = (ids.rank("dense").cast(pl.Int64) - 1).to_numpy().astype(np.intp, copy=False)
    return None, codes, ordered


def _concat(parts: list[Any]) -> Any:
    if isinstance(parts[0], pl.Series):
        return pl.concat(parts)
    return np.concatenate(parts)


def sorted_codes(ids: Any) -> tuple[np.ndarray, Any]:
    """Codes of ``ids`` among their sorted distinct values, and those values.

    Examples
    --------
    >>> sorted_codes(np.array([30, 10, 30]))
    (array([1, 0, 1]), array([10, 30]))
    """
    if isinstance(ids, pl.Series):
        ordered = ids.unique().sort()
        codes = (ids.rank("dense").cast(pl.Int64) - 1).to_numpy().astype(np.intp, copy=False)
        return codes, ordered
    distinct, inverse = np.unique(ids, return_inverse=True)
    return inverse.astype(np.intp, copy=False), distinct


# -- the per-chunk pass --------------------------------------------------------------------------


def chunk_batch(
    engine: Engine, chunk: pl.DataFrame, inputs: Mapping[str, str], weight: str | None
) -> Batch:
    """The rows of ``chunk`` as one engine :class:`~interactive_metrics.engine.Batch`.

    ``inputs`` maps each input of the metric to its column; ``weight`` names the
    column of sample weights, if any.

    Examples
    --------
    >>> import polars as pl
    >>> import interactive_metrics as im
    >>> chunk = pl.DataFrame({"loss": [1.0, 3.0], "w": [1.0, 2.0]})
    >>> batch = chunk_batch(im.Mean().engine, chunk, {"values": "loss"}, "w")
    >>> batch.n, batch.weight
    (2, array([1., 2.]))
    """
    arrays = tuple(input_arrays(chunk, inputs).values())
    weights = None if weight is None else chunk[weight].to_numpy()
    return engine.bind(*arrays, sample_weight=weights)


class _Partials:
    """Partial states per batch id, one block per chunk; merged exactly at the end."""

    def __init__(self) -> None:
        self.ids: list[Any] = []
        self.states: list[State] = []

    def add(self, ids: Any, states: State) -> None:
        self.ids.append(ids)
        self.states.append(states)

    def merged(self, engine: Engine) -> tuple[Any, State]:
        """Sorted distinct batch ids, and each batch's state (in that order)."""
        names = engine.names
        if len(self.ids) == 1:
            return self.ids[0], self.states[0]
        ids = _concat(self.ids)
        states = {name: np.concatenate([s[name] for s in self.states]) for name in names}
        codes, distinct = sorted_codes(ids)
        if len(distinct) == len(codes) and bool((np.diff(codes) > 0).all()):
            return distinct, states  # no batch spans two chunks
        return distinct, engine.merge_segments(states, codes, len(distinct))


def _batch_states(
    engine: Engine, terms: State, n: int, starts: np.ndarray | None, codes: np.ndarray, num: int
) -> State:
    if starts is not None:
        return engine.sorted_segment_states(terms, starts, n)
    return engine.segment_states(terms, codes, num)


# -- writing the history -------------------------------------------------------------------------


def batch_labels(ids: Any, dtype: pl.DataType) -> pl.Series:
    """The sorted distinct batch ids as the log holds them (dates stay dates, text is String)."""
    series = ids if isinstance(ids, pl.Series) else pl.Series("log_batch", ids)
    if isinstance(series.dtype, (pl.Categorical, pl.Enum)):
        return series.cast(pl.String)
    return series.cast(dtype) if dtype.is_temporal() and series.dtype != dtype else series


# -- time buckets and epochs ---------------------------------------------------------------------


def bucketed(
    lazy: pl.LazyFrame, frame: pl.DataFrame | None, batch: str, every: str | None
) -> tuple[pl.LazyFrame, pl.DataFrame | None]:
    """The log with its ``batch`` column of datetimes truncated to buckets of ``every``.

    ``every`` is a polars duration string (``"1h"``, ``"15m"``, ``"1d"``, ``"1w"``,
    ``"1mo"``); each bucket's start is its batch id, as ``group_by_dynamic`` labels
    windows.

    Examples
    --------
    >>> import datetime as dt
    >>> import polars as pl
    >>> log = pl.DataFrame({"t": [dt.datetime(2024, 1, 1, 9, 40), dt.datetime(2024, 1, 1, 10, 5)]})
    >>> bucketed(log.lazy(), log, "t", "1h")[1]["t"].dt.hour().to_list()
    [9, 10]
    """
    if every is None:
        return lazy, frame
    if not isinstance(every, str) or not every:
        raise TypeError(f"`every` must be a duration string such as '1h' or '1d', got {every!r}")
    dtype = lazy.collect_schema().get(batch)
    if not isinstance(dtype, pl.Datetime) and dtype != pl.Date:
        raise TypeError(
            f"`every` buckets a column of dates or datetimes, but column {batch!r} (for "
            f"`batch`) holds {dtype}; parse it first, e.g. pl.col({batch!r}).str.to_datetime()"
        )
    try:
        pl.Series([0], dtype=pl.Datetime("us")).dt.truncate(every)
    except (pl.exceptions.PolarsError, ValueError, TypeError):
        raise ValueError(
            f"`every` must be a polars duration such as '30m', '1h', '1d', '1w' or '1mo', "
            f"got {every!r}"
        ) from None
    bucket = pl.col(batch).dt.truncate(every)
    return lazy.with_columns(bucket), None if frame is None else frame.with_columns(bucket)


class Epochs:
    """The epoch of each batch, gathered chunk by chunk (``replay(..., reset="epoch")``)."""

    def __init__(self, column: str | None) -> None:
        self.column = column
        self.parts: list[pl.DataFrame] = []

    def add(self, chunk: pl.DataFrame, batch: str) -> None:
        if self.column is not None:
            if chunk.schema[batch].is_temporal():  # as batch_codes gives the ids
                chunk = chunk.with_columns(pl.col(batch).to_physical())
            self.parts.append(
                chunk.group_by(batch).agg(
                    pl.col(self.column).min().alias("low"), pl.col(self.column).max().alias("high")
                )
            )

    def add_ranges(self, ids: Any, low: Sequence[Any], high: Sequence[Any], batch: str) -> None:
        """Each batch's lowest and highest epoch, gathered elsewhere (on Dask's workers)."""
        if self.column is not None:
            column = ids if isinstance(ids, pl.Series) else pl.Series(ids)
            self.parts.append(
                pl.DataFrame([column.alias(batch), pl.Series("low", low), pl.Series("high", high)])
            )

    def bounds(self, ids: Any, batch: str) -> list[tuple[int, int]] | None:
        """Runs of batches (positions in the sorted ``ids``), one per epoch; None without epochs.

        A batch must lie in one epoch: its rows must share the ``reset`` value.
        """
        if self.column is None:
            return None
        per_batch = (
            pl.concat(self.parts).group_by(batch).agg(pl.col("low").min(), pl.col("high").max())
        )
        split = per_batch.filter(pl.col("low") != pl.col("high"))
        if split.height:
            raise ValueError(
                f"column {self.column!r} (for `reset`) must be constant within a batch, got "
                f"batch {split[batch][0]!r} in epochs {split['low'][0]!r} and "
                f"{split['high'][0]!r}; number the batches anew in each epoch, or reset by "
                "the batch column's own change"
            )
        order = ids.to_frame(batch) if isinstance(ids, pl.Series) else pl.DataFrame({batch: ids})
        epochs = order.join(per_batch, on=batch, how="left", maintain_order="left")["low"]
        if not len(epochs):
            return []
        change = np.flatnonzero(epochs.ne_missing(epochs.shift(1)).fill_null(True).to_numpy())
        ends = [*change[1:].tolist(), len(epochs)]
        return list(zip(change.tolist(), ends, strict=True))


def epoch_roles(reset: str | None) -> dict[str, str]:
    """``{"reset": column}``, or nothing without epochs (the role names the checks use)."""
    if reset is None:
        return {}
    if not isinstance(reset, str):
        raise TypeError(f"`reset` must be a column name (the epoch), got {reset!r}")
    return {"reset": reset}


def _slice_states(states: State, start: int, stop: int) -> State:
    return {name: x[start:stop] for name, x in states.items()}


# -- Metric.replay -------------------------------------------------------------------------------


def replay_metric(
    metric: Metric,
    data: Source,
    *,
    batch: str,
    sample_weight: str | None = None,
    every: str | None = None,
    reset: str | None = None,
    **columns: str,
) -> Metric:
    """Update ``metric`` once per batch of a logged run, in one vectorised pass.

    Parameters
    ----------
    metric : Metric
        Updated in place (and returned).
    data : polars DataFrame or LazyFrame, pandas DataFrame, or path
        One row per sample. A CSV or Parquet path is scanned lazily and read in
        chunks, so it may be larger than memory.
    batch : str
        The column of batch ids (integers, strings or dates). Batches are replayed
        in sorted id order; the rows need not be sorted and ids may have gaps.
    sample_weight : str, optional
        The column of sample weights.
    every : str, optional
        Bucket a ``batch`` column of datetimes into time buckets (a polars duration:
        ``"1h"``, ``"1d"``, ``"1w"``...): one update per bucket, named by its start.
    reset : str, optional
        The column of epochs: the state is reset before each epoch's first batch,
        as a training loop resets its metrics at the start of every epoch (the
        history records those resets). A batch's rows share one epoch.
    **columns : str
        One column name per input of the metric, by the input's name
        (``values="loss"`` for ``Mean``; ``y_true="label", y_pred="score"`` for
        classification metrics). A polars ``Array`` column is a multi-dimensional
        input (one row of it per sample).

    Returns
    -------
    Metric
        ``metric``, with one history row per batch. ``step`` counts batches in
        batch-id order; the ``log_batch`` column holds the log's id of each batch
        (null on rows written by ``update_state``, merges and resets).

    Raises
    ------
    ValueError, TypeError
        For a missing column, a column of the wrong dtype, nulls in a used column,
        or the errors ``update_state`` raises on the same values. Nothing changes on
        error: the whole table is read and reduced before the metric is touched.

    Notes
    -----
    The batch states are reduced with ``np.ufunc.reduceat`` (or ``np.bincount``
    when the rows are not sorted by batch) where ``update_state`` uses
    ``np.add.reduce``; float sums therefore agree to rounding (exactly for
    integer-valued data), and the running states, a scan from the metric's
    current state, repeat the loop's additions in the same order.

    Examples
    --------
    >>> import polars as pl
    >>> import interactive_metrics as im
    >>> log = pl.DataFrame({"step": [1, 1, 2, 3, 3], "loss": [4.0, 2.0, 3.0, 1.0, 5.0]})
    >>> m = im.Mean().replay(log, values="loss", batch="step")
    >>> m.history.select("step", "batch_result", "result").rows()
    [(1, 3.0, 3.0), (2, 3.0, 3.0), (3, 3.0, 3.0)]
    """
    from interactive_metrics.distributed import is_dask_frame, replay_dask

    if is_dask_frame(data):  # partial states on the workers, merged by Dask
        return replay_dask(
            metric,
            data,
            batch=batch,
            sample_weight=sample_weight,
            every=every,
            reset=reset,
            **columns,
        )
    inputs = input_roles(metric, columns)
    engine = metric.engine
    lazy, frame, schema, roles, needed = open_log(
        data, inputs, batch=batch, sample_weight=sample_weight, every=every, reset=reset
    )
    partials, epochs = _Partials(), Epochs(reset)
    work = metric  # a metric whose shape the first batch tells computes with a shaped copy
    for chunk in source_chunks(lazy, frame, needed):
        check_nulls(chunk, roles, set())
        epochs.add(chunk, batch)
        starts, codes, ids = batch_codes(chunk[batch])
        bound = chunk_batch(engine, chunk, inputs, sample_weight)
        if not work.shape_known and bound.n:
            work = metric.reshaped(bound)
            engine = work.engine
        kept, keep = engine.drop_nan(bound)
        terms, n = engine.terms(kept), kept.n
        if keep is not None:  # rows dropped: batches are counted by code (even emptied ones)
            if starts is not None:
                codes = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(keep))))
                starts = None
            codes = codes[keep]
        partials.add(ids, _batch_states(engine, terms, n, starts, codes, len(ids)))
    ids, states = partials.merged(engine)
    labels = batch_labels(ids, schema[batch])
    runs = epochs.bounds(ids, batch)
    if work is not metric:  # everything is read: the metric takes the shape now
        metric.take_shape(work)
    with metric.lock:  # checked before the first reset: nothing changes on error
        prepare_epochs(metric, states, labels, runs)()
    return metric


def prepare_epochs(
    metric: Metric, states: State, labels: pl.Series, runs: list[tuple[int, int]] | None
) -> Callable[[], None]:
    """Check ``k`` updates of ``metric`` given by their states; return the write, as a call.

    ``runs`` (from :meth:`Epochs.bounds`) splits the ``k`` batches into epochs: the
    write resets the metric before each (the first too, as a training loop resets
    its metrics at the start of every epoch); None writes them as one run, with no
    reset.
    Everything that can fail happens here; hold ``metric.lock`` until the write
    (as :meth:`Metric.prepare_updates <interactive_metrics.Metric.prepare_updates>`).

    Examples
    --------
    >>> import numpy as np
    >>> import interactive_metrics as im
    >>> m = im.Sum()
    >>> with m.lock:
    ...     prepare_epochs(m, {"total": np.array([1.0, 2.0, 4.0])}, pl.Series([1, 2, 3]),
    ...                    [(0, 2), (2, 3)])()
    >>> m.history.select("event", "log_batch", "result").rows()[:3]
    [('reset', None, 0.0), ('update', 1, 1.0), ('update', 2, 3.0)]
    >>> m.history.select("event", "log_batch", "result").rows()[3:]
    [('reset', None, 0.0), ('update', 3, 4.0)]
    """
    if runs is None:
        return metric.prepare_updates(states, labels)
    if not runs:
        return _nothing
    first = runs[0]
    metric.prepare_updates(_slice_states(states, *first), labels[first[0] : first[1]])  # checks

    def write() -> None:
        for start, stop in runs:
            metric.reset_state()
            metric.update_from_states(_slice_states(states, start, stop), labels[start:stop])

    return write


def _nothing() -> None:
    pass


# -- Streams.replay ------------------------------------------------------------------------------


class StreamPartials:
    """Partial states per (batch id, stream), one block per chunk."""

    def __init__(self) -> None:
        self.keys: list[Any] = []  # replay-wide stream index -> key
        self.index: dict[Any, int] = {}
        self.batch_ids: list[Any] = []
        self.streams: list[np.ndarray] = []
        self.first_rows: list[np.ndarray] = []
        self.weights: list[np.ndarray] = []
        self.states: list[State] = []

    def collect(self, engine: Engine, all_batches: Any) -> Segments:
        """The (batch, stream) segments of every chunk, their batches ranked in ``all_batches``."""
        from interactive_metrics.streams import Segments

        if not self.batch_ids:
            empty = np.zeros(0, dtype=np.intp)
            weight = np.zeros(0, dtype=engine.dtype)
            return Segments(self.keys, empty, empty, empty, weight, engine.empty_states(0))
        return Segments(
            keys=self.keys,
            batch=_rank_in(_concat(self.batch_ids), all_batches),
            stream=np.concatenate(self.streams),
            first_row=np.concatenate(self.first_rows),
            weight=np.concatenate(self.weights),
            states={name: np.concatenate([s[name] for s in self.states]) for name in engine.names},
        )

    def stream_index(self, keys: list[Any]) -> np.ndarray:
        out = np.empty(len(keys), dtype=np.intp)
        for i, key in enumerate(keys):
            code = self.index.get(key)
            if code is None:
                code = self.index[key] = len(self.keys)
                self.keys.append(key)
            out[i] = code
        return out


def replay_streams(
    streams: Streams,
    data: Source,
    *,
    batch: str,
    stream: str | Sequence[str],
    sample_weight: str | None = None,
    every: str | None = None,
    reset: str | None = None,
    **columns: str,
) -> Streams:
    """Update ``streams`` once per batch of a logged run, each row in its stream's state.

    Parameters are those of :func:`replay_metric` (``every`` and ``reset`` too), plus
    ``stream``: the column of stream keys (nulls need the Streams' ``null_stream``),
    or a list of columns for composite keys (``stream=["sensor", "site"]``: each
    stream a tuple of parts).

    The per-stream history equals that of ``streams.update_state`` called once
    per batch in batch order (to rounding for float sums; exactly for integer
    data), and streams are numbered in the order they first appear in that
    loop.

    Examples
    --------
    >>> import polars as pl
    >>> import interactive_metrics as im
    >>> log = pl.DataFrame({
    ...     "step": [1, 1, 1, 2, 2],
    ...     "sensor": ["a", "b", "a", "b", "b"],
    ...     "label": [1, 0, 1, 1, 0],
    ...     "score": [0.9, 0.2, 0.3, 0.8, 0.6],
    ... })
    >>> s = im.Streams(im.BinaryAccuracy())
    >>> s = s.replay(log, y_true="label", y_pred="score", batch="step", stream="sensor")
    >>> s.history.select("step", "stream", "batch_result", "result").rows()
    [(1, 'a', 0.5, 0.5), (1, 'b', 1.0, 1.0), (2, 'b', 0.5, 0.6666666666666666)]
    >>> s.merged().history.select("step", "result").rows()
    [(1, 0.6666666666666666), (2, 0.6)]
    """
    from interactive_metrics.distributed import is_dask_frame, replay_dask

    if is_dask_frame(data):  # partial states on the workers, merged by Dask
        return replay_dask(
            streams,
            data,
            batch=batch,
            stream=stream,
            sample_weight=sample_weight,
            every=every,
            reset=reset,
            **columns,
        )
    engine = streams.engine
    inputs = input_roles(streams.metric, columns)
    lazy, frame, schema, roles, needed = open_log(
        data,
        inputs,
        batch=batch,
        sample_weight=sample_weight,
        every=every,
        reset=reset,
        stream=stream,
    )
    null_ok = set(stream_roles(stream)) if streams.null_stream is not None else set()
    dtype = engine.dtype
    batches, parts, epochs = _Partials(), StreamPartials(), Epochs(reset)
    work = streams.merged()  # a metric whose shape the first batch tells: computed shaped
    offset = 0
    for chunk in source_chunks(lazy, frame, needed):
        check_nulls(chunk, roles, null_ok)
        epochs.add(chunk, batch)
        height = chunk.height
        starts, codes, ids = batch_codes(chunk[batch])
        if starts is not None:
            codes = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, height)))
        local, keys = chunk_keys(chunk, stream, streams.null_stream)
        bound = chunk_batch(engine, chunk, inputs, sample_weight)
        if not work.shape_known and bound.n:
            work = work.reshaped(bound)
            engine = work.engine
        kept, keep = engine.drop_nan(bound)
        terms, n, weight = engine.terms(kept), kept.n, kept.weight
        rows = np.arange(offset, offset + height)
        if keep is not None:
            codes, local, rows = codes[keep], local[keep], rows[keep]
        batches.add(ids, engine.segment_states(terms, codes, len(ids)))
        pairs = codes * len(keys) + local
        distinct, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
        per_sample = sample_weights(weight, n)
        weights = (
            np.bincount(inverse, weights=per_sample, minlength=len(distinct))
            if per_sample is not None
            else np.bincount(inverse, minlength=len(distinct))
        )
        parts.batch_ids.append(_take(ids, distinct // max(len(keys), 1)))
        parts.streams.append(parts.stream_index(keys)[distinct % max(len(keys), 1)])
        parts.first_rows.append(rows[first])
        parts.weights.append(weights.astype(dtype))
        parts.states.append(engine.segment_states(terms, inverse, len(distinct)))
        offset += height
    all_batches, batch_states = batches.merged(engine)
    segments = parts.collect(engine, all_batches)
    streams.take_shape(work)  # everything is read: the Streams takes the shape now
    if not isinstance(stream, str):
        segments = segments._replace(key_names=tuple(stream))
    labels = batch_labels(all_batches, schema[batch])
    runs = epochs.bounds(all_batches, batch)
    with streams.lock:  # checked before the first reset: nothing changes on error
        prepare_stream_epochs(streams, batch_states, segments, labels, runs)()
    return streams


def prepare_stream_epochs(
    streams: Streams,
    batch_states: State,
    segments: Segments,
    labels: pl.Series | None,
    runs: list[tuple[int, int]] | None,
) -> Callable[[], None]:
    """Check ``k`` updates of ``streams`` (as a replay computes them); return the write.

    :func:`prepare_epochs` for a :class:`~interactive_metrics.Streams`: with ``runs``,
    the write resets the streams before each epoch, and the merged metric's labels
    are checked first; without, the write is one
    :meth:`~interactive_metrics.Streams.update_from_segments`. Everything is checked
    here (:meth:`~interactive_metrics.Streams.prepare_from_segments`), so that writes
    over several Streams are all or nothing. Hold ``streams.lock`` until the write.
    """
    if runs is None:
        return streams.prepare_from_segments(batch_states, segments, labels=labels)
    if not runs:
        return _nothing
    for start, stop in runs:  # every epoch's segments and labels checked; nothing written
        streams.prepare_from_segments(
            _slice_states(batch_states, start, stop),
            epoch_segments(segments, start, stop),
            labels=None if labels is None else labels[start:stop],
        )

    def write() -> None:
        for start, stop in runs:
            streams.reset_state()
            streams.update_from_segments(
                _slice_states(batch_states, start, stop),
                epoch_segments(segments, start, stop),
                labels=None if labels is None else labels[start:stop],
            )

    return write


def epoch_segments(segments: Segments, start: int, stop: int) -> Segments:
    """The segments of batches ``start`` to ``stop`` (excluded), their batches counted from 0."""
    part = (segments.batch >= start) & (segments.batch < stop)
    return segments._replace(
        batch=segments.batch[part] - start,
        stream=segments.stream[part],
        first_row=segments.first_row[part],
        weight=segments.weight[part],
        states=_slice_states_mask(segments.states, part),
    )


def _slice_states_mask(states: State, mask: np.ndarray) -> State:
    return {name: x[mask] for name, x in states.items()}


def _take(ids: Any, index: np.ndarray) -> Any:
    return ids.gather(index) if isinstance(ids, pl.Series) else ids[index]


def _rank_in(ids: Any, distinct: Any) -> np.ndarray:
    """Positions of ``ids`` in the sorted distinct ids ``distinct``."""
    if isinstance(distinct, pl.Series):
        return distinct.search_sorted(ids).to_numpy().astype(np.intp, copy=False)
    return np.searchsorted(distinct, ids).astype(np.intp, copy=False)
