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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from interactive_metrics.core.reduce import OneHot
from interactive_metrics.core.segments import (
    RowCompute,
    check_key_dtype,
    factorize,
    reduce_segments,
    sample_weights,
    scan_segments,
)
from interactive_metrics.history import HistoryBuffer
from interactive_metrics.metric import UPDATE, Metric, State

if TYPE_CHECKING:
    from interactive_metrics.streams import Streams

__all__ = ["BATCH_ID_KINDS", "Source", "check_batch_dtype", "replay_metric", "replay_streams"]

Source = Any  # pl.DataFrame | pl.LazyFrame | pandas.DataFrame | str | os.PathLike[str]
"""What can be replayed: a polars DataFrame or LazyFrame, a pandas DataFrame, or a
path to a CSV or Parquet file."""

CHUNK_ROWS = 1 << 21
"""Rows reduced at a time: bounds the memory of a replay, whatever the table's size."""


# -- reading -------------------------------------------------------------------------------------


def _as_lazy(data: Source) -> tuple[pl.LazyFrame, pl.DataFrame | None]:
    """The data as a LazyFrame, and as a DataFrame when it is already in memory."""
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


def _chunks(lazy: pl.LazyFrame, frame: pl.DataFrame | None, columns: list[str]) -> Any:
    """Yield the needed columns in chunks of at most about :data:`CHUNK_ROWS` rows."""
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


def _check_columns(
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
        if role == "stream":
            check_key_dtype(dtype, "stream", f"column {column!r} (for `stream`)")
        if role in numeric and not _numeric(dtype):
            raise TypeError(
                f"column {column!r} (for `{role}`) must hold numbers, got dtype {dtype}; cast "
                f"it first, e.g. pl.col({column!r}).cast(pl.Float64)"
            )


def _check_nulls(chunk: pl.DataFrame, roles: Mapping[str, str | None], allowed: set[str]) -> None:
    for role, column in roles.items():
        if column is None or role in allowed:
            continue
        nulls = chunk[column].null_count()
        if role == "stream" and chunk[column].dtype in (pl.Float32, pl.Float64):
            nulls += int(chunk[column].is_nan().sum())  # NaN keys are missing keys too
            if nulls:
                raise ValueError(
                    f"column {column!r} (for `stream`) has {nulls} missing key(s) (null or "
                    "NaN); drop those rows, or name a stream for them, e.g. "
                    "Streams(metric, null_stream='unknown')"
                )
        if nulls:
            raise ValueError(
                f"column {column!r} (for `{role}`) has {nulls} null(s); fill or drop them "
                f"first, e.g. with pl.col({column!r}).fill_null(...) or .drop_nulls({column!r})"
            )


def _input_roles(metric: Metric, columns: Mapping[str, str]) -> dict[str, str]:
    names = metric.input_names
    unknown = [k for k in columns if k not in names]
    missing = [n for n in names if n not in columns]
    if unknown or missing:
        example = ", ".join(f'{n}="..."' for n in names)
        problem = f"unknown keyword(s) {unknown}" if unknown else f"no column for {missing}"
        raise TypeError(
            f"{type(metric).__name__}.replay() takes one column name per input "
            f"({example}), got {problem}"
        )
    return {name: columns[name] for name in names}


# -- batch ids -----------------------------------------------------------------------------------


def _batch_codes(ids: pl.Series) -> tuple[np.ndarray | None, np.ndarray, Any]:
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


def _sorted_codes(ids: Any) -> tuple[np.ndarray, Any]:
    if isinstance(ids, pl.Series):
        ordered = ids.unique().sort()
        codes = (ids.rank("dense").cast(pl.Int64) - 1).to_numpy().astype(np.intp, copy=False)
        return codes, ordered
    distinct, inverse = np.unique(ids, return_inverse=True)
    return inverse.astype(np.intp, copy=False), distinct


def _reduce_sorted(metric: Metric, terms: State, starts: np.ndarray, n: int) -> State:
    """Reduce terms of rows sorted by batch: ``ufunc.reduceat`` at the batch starts.

    :class:`~interactive_metrics.core.OneHot` terms are summed by batch with one
    bincount instead, without their dense ``(n, ...)`` array.
    """
    dtype = metric._dtype
    if n == 0:
        return {f.name: np.zeros((0, *f.shape), dtype=dtype) for f in metric._fields}
    out: State = {}
    counts = None
    for name, reduction in metric._plan:
        term = terms[name]
        if type(term) is OneHot:  # one bincount per field, never the dense (n, ...) terms
            codes = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n)))
            out[name] = reduction.over_segments(term, codes, len(starts), dtype)
        elif np.ndim(term):  # per sample: an array, or weighted values kept as two factors
            term = np.asarray(term)
            out[name] = reduction.ufunc.reduceat(term, starts, axis=0).astype(dtype, copy=False)
        else:
            if counts is None:
                counts = np.diff(np.append(starts, n))
            value = counts * term if reduction.name == "sum" else np.full(len(starts), term)
            out[name] = np.asarray(value, dtype=dtype)
    return out


# -- the per-chunk pass --------------------------------------------------------------------------


def _chunk_arrays(
    metric: Metric, chunk: pl.DataFrame, inputs: Mapping[str, str], weight: str | None
) -> tuple[list[np.ndarray], np.ndarray | None, int]:
    arrays = tuple(chunk[column].to_numpy() for column in inputs.values())
    weights = None if weight is None else chunk[weight].to_numpy()
    return metric._batch_inputs(arrays, {}, weights)


class _Partials:
    """Partial states per batch id, one block per chunk; merged exactly at the end."""

    def __init__(self) -> None:
        self.ids: list[Any] = []
        self.states: list[State] = []

    def add(self, ids: Any, states: State) -> None:
        self.ids.append(ids)
        self.states.append(states)

    def merged(self, metric: Metric) -> tuple[Any, State]:
        """Sorted distinct batch ids, and each batch's state (in that order)."""
        names = [name for name, _ in metric._plan]
        if len(self.ids) == 1:
            return self.ids[0], self.states[0]
        ids = _concat(self.ids)
        states = {name: np.concatenate([s[name] for s in self.states]) for name in names}
        codes, distinct = _sorted_codes(ids)
        if len(distinct) == len(codes) and bool((np.diff(codes) > 0).all()):
            return distinct, states  # no batch spans two chunks
        return distinct, {
            name: reduction.over_segments(states[name], codes, len(distinct), metric._dtype)
            for name, reduction in metric._plan
        }


def _batch_states(
    metric: Metric, terms: State, n: int, starts: np.ndarray | None, codes: np.ndarray, num: int
) -> State:
    if starts is not None:
        return _reduce_sorted(metric, terms, starts, n)
    return reduce_segments(metric._plan, terms, codes, num, metric._dtype)


# -- writing the history -------------------------------------------------------------------------


def apply_batches(metric: Metric, batches: State, batch_ids: Any = None) -> None:
    """Append ``k`` batch states (arrays of shape ``(k, ...)``) as ``k`` updates, in order.

    The running states are one cumulative scan that starts from the current
    state: the same additions, in the same order, as ``k`` calls of the update
    loop, so they agree to the last bit. Options that need a step-by-step update
    (``summation="kahan"``, ``history_every > 1``) merge the states one by one.
    ``batch_ids`` (the log's ids of the ``k`` batches) name the recorded rows in a
    ``log_batch`` history column.

    Everything is computed and checked first (:func:`prepare_batches`); the metric
    is changed only once nothing can fail.
    """
    prepare_batches(metric, batches, batch_ids)()


def prepare_batches(metric: Metric, batches: State, batch_ids: Any = None) -> Callable[[], None]:
    """Check and compute what :func:`apply_batches` writes; return the write, as a call.

    Raises (before anything changes) when the batch ids cannot be stored beside the
    ids of earlier replays in the metric's history. The returned call only stores
    arrays that are ready.
    """
    plan = metric._plan
    k = len(next(iter(batches.values()))) if batches else 0
    if k == 0:
        return _nothing
    history = metric._history
    ids = None if history is None or batch_ids is None else _stored_ids(history, batch_ids)
    first = metric._step + 1
    if metric._compensation is not None or metric._pending_allowed:
        merged = [{name: _scalar(metric, batches[name][i]) for name, _ in plan} for i in range(k)]

        def one_by_one() -> None:
            for batch in merged:
                metric._apply(batch, UPDATE)
            _label(history, first, ids)

        return one_by_one
    running = {}
    for name, reduction in plan:
        start = np.asarray(metric._state[name])[None]
        running[name] = reduction.scan(np.concatenate([start, batches[name]]))[1:]
    rows_block = None
    if history is not None:
        rows = RowCompute.for_metric(metric)
        with np.errstate(divide="ignore", invalid="ignore"):
            batch_result, result = rows(batches), rows(running)
        blocks = [
            *(batches[name].reshape(k, -1) for name, _ in plan),
            batch_result.reshape(k, -1),
            *(running[name].reshape(k, -1) for name, _ in plan),
            result.reshape(k, -1),
        ]
        rows_block = np.concatenate(blocks, axis=1)
    steps = np.arange(first, first + k, dtype=np.int64)
    state = {name: _scalar(metric, running[name][-1]) for name, _ in plan}

    def scanned() -> None:
        if history is not None and rows_block is not None:
            history.extend(steps, np.zeros(k, dtype=np.int8), rows_block)
        metric._state = state
        metric._step += k
        _label(history, first, ids)
        for listener in tuple(getattr(metric, "_listeners", ())):
            listener(metric, UPDATE)

    return scanned


def _nothing() -> None:
    return None


def _batch_ids(ids: Any, dtype: pl.DataType) -> pl.Series:
    """The sorted distinct batch ids as the log holds them (dates stay dates, text is String)."""
    series = ids if isinstance(ids, pl.Series) else pl.Series("log_batch", ids)
    if isinstance(series.dtype, (pl.Categorical, pl.Enum)):
        return series.cast(pl.String)
    return series.cast(dtype) if dtype.is_temporal() and series.dtype != dtype else series


BATCH_ID_KINDS = "integers, floats, booleans, strings, dates, datetimes, durations or times"
"""What a replay's batch ids may be (one kind per history: see :func:`_stored_ids`)."""


def _id_family(dtype: pl.DataType) -> Any:
    """Which batch ids may share a ``log_batch`` column: None for ids that are refused."""
    if dtype in (pl.Int128, pl.UInt128):
        return None
    if dtype.is_integer() or dtype.is_float():
        return "number"
    if dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return "text"
    if isinstance(dtype, pl.Datetime):
        return ("datetime", dtype.time_zone)
    if isinstance(dtype, pl.Duration):
        return "duration"
    if dtype in (pl.Boolean, pl.Date, pl.Time):
        return str(dtype)
    return None


def check_batch_dtype(dtype: pl.DataType, column: str) -> None:
    """Refuse batch ids that cannot be sorted, stored and saved: decimals, lists, objects...

    Examples
    --------
    >>> check_batch_dtype(pl.Date(), "day")
    >>> check_batch_dtype(pl.List(pl.Int64), "step")
    Traceback (most recent call last):
    ...
    TypeError: column 'step' (for `batch`) must hold integers, floats, booleans, strings, ...
    """
    if _id_family(dtype) is None:
        raise TypeError(
            f"column {column!r} (for `batch`) must hold {BATCH_ID_KINDS}, got dtype {dtype}; "
            f"cast it first, e.g. pl.col({column!r}).cast(pl.Int64) or .cast(pl.String)"
        )


def _stored_ids(history: HistoryBuffer, batch_ids: Any) -> pl.Series:
    """The batch ids as they will be stored beside the labels of earlier replays.

    Ids of the same dtype, or that cast to it without loss, are stored as that
    dtype; numbers of another type widen the column (integers then floats: floats).
    Anything else (numbers then text, text then durations, dates then integers,
    datetimes of two time zones...) is a ``ValueError`` naming both dtypes.
    """
    ids = batch_ids if isinstance(batch_ids, pl.Series) else pl.Series("log_batch", batch_ids)
    new, old = ids.dtype, history.label_dtype
    family = _id_family(new)
    if family is None:  # ids that reach here from an engine (apply_partials) unchecked
        raise TypeError(f"`batch` ids must be {BATCH_ID_KINDS}, got dtype {new}; cast them first")
    if old is None or new == old:
        return ids
    if family == _id_family(old):
        try:
            cast = ids.cast(old, strict=True)
            if cast.cast(new).equals(ids):
                return cast
        except (pl.exceptions.PolarsError, TypeError, ValueError):
            pass
        if family == "number":
            empty = [pl.DataFrame({"x": pl.Series([], dtype=d)}) for d in (old, new)]
            wider = pl.concat(empty, how="vertical_relaxed").schema["x"]
            if _id_family(wider) == "number":
                return ids
    raise ValueError(
        f"`batch` ids of dtype {new} cannot be stored beside the {old} ids of earlier "
        f"replays in this history (its `log_batch` column); cast the batch column to {old} "
        "first, or replay into a fresh metric"
    )


def _label(history: HistoryBuffer | None, first: int, batch_ids: Any) -> None:
    """Name the rows written for steps ``first, first + 1, ...`` by the log's batch ids."""
    if history is None or batch_ids is None or not len(batch_ids):
        return
    ids = batch_ids if isinstance(batch_ids, pl.Series) else pl.Series(batch_ids)
    steps = np.arange(first, first + len(ids), dtype=np.int64)
    recorded = np.isin(steps, history.steps)  # history_every / history_last skip some
    if not recorded.all():
        steps, ids = steps[recorded], ids.filter(pl.Series(recorded))
    history.label_steps(steps, ids)


def _scalar(metric: Metric, value: np.ndarray) -> Any:
    return metric._dtype.type(value) if value.ndim == 0 else value.copy()


# -- Metric.replay -------------------------------------------------------------------------------


def replay_metric(
    metric: Metric,
    data: Source,
    *,
    batch: str,
    sample_weight: str | None = None,
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
        return replay_dask(metric, data, batch=batch, sample_weight=sample_weight, **columns)
    inputs = _input_roles(metric, columns)
    lazy, frame = _as_lazy(data)
    roles: dict[str, str | None] = {**inputs, "sample_weight": sample_weight, "batch": batch}
    schema = lazy.collect_schema()
    _check_columns(schema, roles, {*inputs, "sample_weight"})
    needed = list(dict.fromkeys(c for c in roles.values() if c is not None))
    partials = _Partials()
    for chunk in _chunks(lazy, frame, needed):
        _check_nulls(chunk, roles, set())
        starts, codes, ids = _batch_codes(chunk[batch])
        values, weight, n = _chunk_arrays(metric, chunk, inputs, sample_weight)
        values, weight, n, keep = metric._handle_nan(values, weight, n)
        terms, n = metric._terms_of(values, weight, n)
        if keep is not None:  # rows dropped: batches are counted by code (even emptied ones)
            if starts is not None:
                codes = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(keep))))
                starts = None
            codes = codes[keep]
        partials.add(ids, _batch_states(metric, terms, n, starts, codes, len(ids)))
    ids, states = partials.merged(metric)
    with metric.lock:  # the scan starts from the state as it is, with no update in between
        apply_batches(metric, states, _batch_ids(ids, schema[batch]))
    return metric


# -- Streams.replay ------------------------------------------------------------------------------


class _StreamPartials:
    """Partial states per (batch id, stream), one block per chunk."""

    def __init__(self) -> None:
        self.keys: list[Any] = []  # replay-wide stream index -> key
        self.index: dict[Any, int] = {}
        self.batch_ids: list[Any] = []
        self.streams: list[np.ndarray] = []
        self.first_rows: list[np.ndarray] = []
        self.weights: list[np.ndarray] = []
        self.states: list[State] = []

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
    stream: str,
    sample_weight: str | None = None,
    **columns: str,
) -> Streams:
    """Update ``streams`` once per batch of a logged run, each row in its stream's state.

    Parameters are those of :func:`replay_metric`, plus ``stream``: the column of
    stream keys (nulls need the Streams' ``null_stream``).

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
            streams, data, batch=batch, stream=stream, sample_weight=sample_weight, **columns
        )
    overall = streams._overall
    inputs = _input_roles(overall, columns)
    lazy, frame = _as_lazy(data)
    roles: dict[str, str | None] = {
        **inputs,
        "sample_weight": sample_weight,
        "batch": batch,
        "stream": stream,
    }
    schema = lazy.collect_schema()
    _check_columns(schema, roles, {*inputs, "sample_weight"})
    needed = list(dict.fromkeys(c for c in roles.values() if c is not None))
    null_ok = {"stream"} if streams.null_stream is not None else set()
    dtype = overall._dtype
    batches, parts = _Partials(), _StreamPartials()
    offset = 0
    for chunk in _chunks(lazy, frame, needed):
        _check_nulls(chunk, roles, null_ok)
        height = chunk.height
        starts, codes, ids = _batch_codes(chunk[batch])
        if starts is not None:
            codes = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, height)))
        local, keys = factorize(chunk[stream], "stream", streams.null_stream)
        values, weight, n = _chunk_arrays(overall, chunk, inputs, sample_weight)
        values, weight, n, keep = overall._handle_nan(values, weight, n)
        terms, n = overall._terms_of(values, weight, n)
        rows = np.arange(offset, offset + height)
        if keep is not None:
            codes, local, rows = codes[keep], local[keep], rows[keep]
        batches.add(ids, reduce_segments(overall._plan, terms, codes, len(ids), dtype))
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
        parts.states.append(reduce_segments(overall._plan, terms, inverse, len(distinct), dtype))
        offset += height
    all_batches, batch_states = batches.merged(overall)
    with streams.lock:  # no update between the scan's start and its end
        _apply_streams(
            streams, parts, all_batches, batch_states, _batch_ids(all_batches, schema[batch])
        )
    return streams


def _apply_streams(
    streams: Streams,
    parts: _StreamPartials,
    all_batches: Any,
    batch_states: State,
    batch_ids: Any = None,
) -> None:
    overall = streams._overall
    plan, dtype = overall._plan, overall._dtype
    names = [name for name, _ in plan]
    k_batches = len(next(iter(batch_states.values())))
    if parts.batch_ids:
        batch_rank = _rank_in(_concat(parts.batch_ids), all_batches)
        stream_of = np.concatenate(parts.streams)
        first_row = np.concatenate(parts.first_rows)
        weights = np.concatenate(parts.weights)
        states = {name: np.concatenate([s[name] for s in parts.states]) for name in names}
    else:
        batch_rank = stream_of = first_row = np.zeros(0, dtype=np.intp)
        weights = np.zeros(0, dtype=dtype)
        states = {f.name: np.zeros((0, *f.shape), dtype=dtype) for f in overall._fields}
    # segments (batch, stream) split over chunks merge here, in chunk order
    num_streams = len(parts.keys)
    pair = batch_rank * max(num_streams, 1) + stream_of
    distinct, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
    if len(distinct) != len(pair):
        states = {
            name: r.over_segments(states[name], inverse, len(distinct), dtype) for name, r in plan
        }
        weights = np.bincount(inverse, weights=weights, minlength=len(distinct)).astype(dtype)
        sizes = np.bincount(inverse, minlength=len(distinct))
        group_starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        by_pair = np.argsort(inverse, kind="stable")
        first_row = np.minimum.reduceat(first_row[by_pair], group_starts)
        batch_rank, stream_of = batch_rank[first], stream_of[first]
    else:
        order = np.argsort(pair, kind="stable")
        states = {name: x[order] for name, x in states.items()}
        weights, first_row = weights[order], first_row[order]
        batch_rank, stream_of = batch_rank[order], stream_of[order]
    # streams are numbered in the order the update loop would meet them
    meet = np.lexsort((first_row, batch_rank))
    seen = np.unique(stream_of[meet], return_index=True)[1]
    order_of_streams = stream_of[meet][np.sort(seen)]
    # everything that can fail comes first: the batch ids beside earlier ones, the
    # new streams' codes (forgotten again on error), the scan and the history rows
    history = overall._history
    checked_ids = None if history is None or batch_ids is None else _stored_ids(history, batch_ids)
    saved = streams._registry()
    try:
        new_codes = streams._register([parts.keys[i] for i in order_of_streams.tolist()])
        code_of = np.empty(max(num_streams, 1), dtype=np.intp)
        code_of[order_of_streams] = new_codes
        codes = code_of[stream_of] if len(stream_of) else stream_of
        if streams._pending is not None:  # history_every > 1: rows at the merged steps
            steps = _one_by_one_steps(codes, batch_rank, k_batches)
            write = None
        else:
            write = _scanned_streams(
                streams, codes, batch_rank, states, weights, batch_states, checked_ids
            )
    except BaseException:
        streams._forget_keys_after(saved)
        raise
    if write is None:
        _apply_one_by_one(streams, codes, steps, states, weights, batch_states, checked_ids)
    else:
        write()
        streams._finish(UPDATE, steps=k_batches)


def _scanned_streams(
    streams: Streams,
    codes: np.ndarray,
    batch_rank: np.ndarray,
    states: State,
    weights: np.ndarray,
    batch_states: State,
    batch_ids: Any,
) -> Callable[[], None]:
    """The running states of every stream as a scan per stream; the write, as a call."""
    overall = streams._overall
    plan, dtype = overall._plan, overall._dtype
    names = [name for name, _ in plan]
    # running states: a scan per stream over its batches, from its current state
    by_stream = np.lexsort((batch_rank, codes))
    group_codes, group_starts, group_sizes = np.unique(
        codes[by_stream], return_index=True, return_counts=True
    )
    padded_starts = group_starts + np.arange(len(group_starts))
    total = len(codes) + len(group_codes)
    body = np.ones(total, dtype=bool)
    body[padded_starts] = False
    padded: State = {}
    for f in overall._fields:
        block = np.empty((total, *f.shape), dtype=dtype)
        block[padded_starts] = streams._state[f.name][group_codes]
        block[body] = states[f.name][by_stream]
        padded[f.name] = block
    scanned = scan_segments(plan, padded, padded_starts)
    running_sorted = {name: x[body] for name, x in scanned.items()}
    back = np.empty_like(by_stream)
    back[by_stream] = np.arange(len(by_stream))
    running = {name: x[back] for name, x in running_sorted.items()}
    last = group_starts + group_sizes - 1
    final = {name: running_sorted[name][last] for name in names}
    # each row's step among its stream's events: the events before, plus its rank
    rank = np.arange(len(by_stream)) - np.repeat(group_starts, group_sizes)
    own = np.empty(len(by_stream), dtype=np.int64)
    own[by_stream] = streams._events_seen[codes[by_stream]] + rank + 1
    rows = np.lexsort((codes, batch_rank))
    record = None
    if streams._long is not None and len(codes):
        batch_rows = {name: states[name][rows] for name in names}
        running_rows = {name: running[name][rows] for name in names}
        with np.errstate(divide="ignore", invalid="ignore"):
            results = (streams._rows(batch_rows), streams._rows(running_rows))
        record = (batch_rows, running_rows, results)
    write_overall = prepare_batches(overall, batch_states, batch_ids)

    def write() -> None:
        for name in names:
            streams._state[name][group_codes] = final[name]
        np.add.at(streams._weight, codes, weights)
        streams._events_seen[group_codes] += group_sizes
        if record is not None:
            batch_rows, running_rows, results = record
            streams._record(
                codes[rows],
                batch_rows,
                running_rows,
                UPDATE,
                steps=streams._step + 1 + batch_rank[rows],
                own_steps=own[rows],
                results=results,
            )
        write_overall()

    return write


def _one_by_one_steps(
    codes: np.ndarray, batch_rank: np.ndarray, k_batches: int
) -> list[np.ndarray]:
    """The rows of each batch, by stream: what :func:`_apply_one_by_one` updates at a time."""
    rows = np.lexsort((codes, batch_rank))  # by batch, then stream
    bounds = np.searchsorted(batch_rank[rows], np.arange(k_batches + 1))
    return [rows[bounds[b] : bounds[b + 1]] for b in range(k_batches)]


def _apply_one_by_one(
    streams: Streams,
    codes: np.ndarray,
    steps: list[np.ndarray],
    states: State,
    weights: np.ndarray,
    batch_states: State,
    batch_ids: Any,
) -> None:
    """Apply the batches one update at a time (``history_every > 1`` holds rows back)."""
    overall = streams._overall
    first = overall._step + 1
    for b, part in enumerate(steps):
        batch = {name: x[part] for name, x in states.items()}
        merged = {name: _scalar(overall, x[b]) for name, x in batch_states.items()}
        streams._update(codes[part], batch, weights[part], merged)
        streams._step += 1
    _label(overall._history, first, batch_ids)
    streams._finish(UPDATE, steps=0)


def _take(ids: Any, index: np.ndarray) -> Any:
    return ids.gather(index) if isinstance(ids, pl.Series) else ids[index]


def _rank_in(ids: Any, distinct: Any) -> np.ndarray:
    """Positions of ``ids`` in the sorted distinct ids ``distinct``."""
    if isinstance(distinct, pl.Series):
        return distinct.search_sorted(ids).to_numpy().astype(np.intp, copy=False)
    return np.searchsorted(distinct, ids).astype(np.intp, copy=False)
