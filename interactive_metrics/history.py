"""The history store: one row per event in preallocated numpy buffers that grow geometrically.

Rows are kept in a 2-D buffer of the metric's dtype (doubling its capacity when
full), with the step in an ``int64`` buffer and the event in an ``int8`` one: no
Python object per stored row. Appending one row at a time into numpy costs three
item assignments (about 0.3 µs), so :meth:`HistoryBuffer.append_numbers` first
queues rows in a short Python list and copies them into the buffers in one block
of up to :data:`FLUSH_ROWS` rows, or as soon as anything reads the history. Rows of
array states (:meth:`HistoryBuffer.append_states`) are queued the same way, as the
state arrays themselves, and copied in a column at a time.
:meth:`HistoryBuffer.frame` turns the kept rows into a polars DataFrame on demand
(and caches it until the next event).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import numpy as np
import polars as pl

__all__ = ["BATCH_ID_KINDS", "EVENTS", "HistoryBuffer", "check_batch_dtype"]

EVENTS = ("update", "merge", "reset")
"""Event names, indexed by the event code stored in the history."""

EVENT_DTYPE = pl.Enum(list(EVENTS))
_EVENT_NAMES = pl.Series("event", EVENTS, dtype=EVENT_DTYPE)  # gathered by code: no hashing

_INITIAL_CAPACITY = 64

BATCH_ID_KINDS = "integers, floats, booleans, strings, dates, datetimes, durations or times"
"""What a replay's batch ids may be (one kind per history: see ``storable_labels``)."""


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


FLUSH_ROWS = 256
"""Rows collected before they are copied into the numpy buffers in one block."""


class HistoryBuffer:
    """Columnar store of metric snapshots with a fixed row layout.

    Parameters
    ----------
    columns : sequence of (name, shape)
        The numeric columns in row order; a column of shape ``(k,)`` stores ``k``
        numbers and becomes a polars ``Array`` column.
    dtype : numpy.dtype
        The dtype the numbers are stored in (the metric's).
    null_on_reset : sequence of str
        Columns shown as null on ``reset`` rows (the batch columns: a reset has no batch).
    last : int or None
        Keep only the last ``last`` rows (``None`` keeps every row).
    complete : callable, optional
        Called with each block of queued rows of numbers (a ``(k, width)`` array)
        before it is stored, to fill in columns that are cheaper to compute for
        many rows at once (a metric's results). Array rows given to
        :meth:`append` are stored as they are.

    Examples
    --------
    >>> h = HistoryBuffer([("total", ()), ("result", ())], np.dtype("float64"))
    >>> h.append(1, 0, (16.0, 16.0))
    >>> h.append(2, 0, (20.0, 20.0))
    >>> h.frame()
    shape: (2, 4)
    ┌──────┬────────┬───────┬────────┐
    │ step ┆ event  ┆ total ┆ result │
    │ ---  ┆ ---    ┆ ---   ┆ ---    │
    │ i64  ┆ enum   ┆ f64   ┆ f64    │
    ╞══════╪════════╪═══════╪════════╡
    │ 1    ┆ update ┆ 16.0  ┆ 16.0   │
    │ 2    ┆ update ┆ 20.0  ┆ 20.0   │
    └──────┴────────┴───────┴────────┘
    """

    def __init__(
        self,
        columns: Sequence[tuple[str, tuple[int, ...]]],
        dtype: np.dtype[Any],
        null_on_reset: Sequence[str] = (),
        last: int | None = None,
        complete: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        self.columns = [(name, tuple(shape)) for name, shape in columns]
        self.complete = complete
        self.dtype = dtype
        self.null_on_reset = tuple(null_on_reset)
        self.last = last
        self.slices: dict[str, slice] = {}
        start = 0
        for name, shape in self.columns:
            width = int(np.prod(shape, dtype=np.int64))
            self.slices[name] = slice(start, start + width)
            start += width
        self.width = start
        # rows of array states queued before they are copied in: FLUSH_ROWS, or fewer wide
        # ones, so that the arrays the queue holds stay below 2**20 numbers
        self._state_rows_limit = max(1, min(FLUSH_ROWS, (1 << 20) // max(start, 1)))
        self._length = 0  # rows in the numpy buffers; more may wait in the queue
        self._complete_from = 0  # rows from here on wait for `complete` (array rows)
        self._queue: list[tuple[float, ...]] = []  # rows to copy in: (step, event, *numbers)
        # rows to copy in given as (step, event, columns, values): see append_states. At most
        # one of the two queues holds rows, so the rows are stored in the order they came
        self._state_rows: list[tuple[int, int, tuple[slice, ...], tuple[Any, ...]]] = []
        self._values = np.empty((_INITIAL_CAPACITY, self.width), dtype=dtype)
        self._steps = np.empty(_INITIAL_CAPACITY, dtype=np.int64)
        self._events = np.empty(_INITIAL_CAPACITY, dtype=np.int8)
        self._frame: pl.DataFrame | None = None  # the rows _frame_span of the buffers
        self._frame_span = (0, 0)
        self._batch_ids: pl.DataFrame | None = None  # (step, batch_id) of replayed steps

    def __len__(self) -> int:
        return self.length

    @property
    def length(self) -> int:
        """Rows stored (including those dropped from view by ``last``)."""
        self._flush()
        return self._length

    @property
    def nbytes(self) -> int:
        """Bytes held by the filled rows (the buffers' capacity may be up to twice that)."""
        n = self.length
        return n * (self._values.itemsize * self.width + 8 + 1)

    def _flush(self) -> None:
        """Copy the rows queued by :meth:`append_numbers` into the numpy buffers, in one block.

        Rows appended in parts (:meth:`append_parts`) get their other numbers here too.
        """
        if self._state_rows:
            self._flush_state_rows()
        if self._complete_from < self._length and self.complete is not None:
            self.complete(self._values[self._complete_from : self._length])
        self._complete_from = self._length
        queue = self._queue
        if not queue:
            return
        k = len(queue)
        # float64 holds every step below 2**53 and every float16/32/64 value exactly
        flat = np.fromiter(chain.from_iterable(queue), np.float64, k * (self.width + 2))
        flat = flat.reshape(k, self.width + 2)
        block = flat[:, 2:].astype(self.dtype, copy=False)
        if self.complete is not None:
            self.complete(block)  # if this raises, the queue is kept as it was
        self._queue = []
        self._store(flat[:, 0].astype(np.int64), flat[:, 1].astype(np.int8), block)

    def _flush_state_rows(self) -> None:
        """Copy the rows queued by :meth:`append_states` into the buffers, a column at a time.

        Written straight into the buffers (no block of rows in between); ``complete``
        is left for when the rows are read (:meth:`_flush`), as for
        :meth:`append_parts`: updates never pay for it.
        """
        rows = self._state_rows
        k = len(rows)
        if self.last is not None and self._length + k > 2 * self.last:
            # amortised O(1) per row: the kept rows move once every `last` rows
            self._drop_oldest(min(self._length, self._length + k - self.last))
            if k > self.last:
                rows, k = rows[-self.last :], self.last
        self._grow(self._length + k)
        i = self._length
        target = self._values[i : i + k]
        if self.complete is None:
            target[:] = 0  # the columns no value covers
        start = 0
        while start < k:  # runs of rows with the same columns (a metric's rows: one run)
            columns = rows[start][2]
            stop = start + 1
            while stop < k and rows[stop][2] is columns:
                stop += 1
            run = rows[start:stop]
            for j, where in enumerate(columns):
                values = np.array([row[3][j] for row in run])
                target[start:stop, where] = values.reshape(stop - start, -1)
            start = stop
        self._steps[i : i + k] = [row[0] for row in rows]
        self._events[i : i + k] = [row[1] for row in rows]
        self._length = i + k
        self._state_rows = []

    def _grow(self, needed: int) -> None:
        capacity = len(self._steps)
        if needed <= capacity:
            return
        while capacity < needed:
            capacity *= 2
        n = self._length
        for attr in ("_values", "_steps", "_events"):
            old = getattr(self, attr)
            new = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
            new[:n] = old[:n]
            setattr(self, attr, new)

    def _drop_oldest(self, count: int) -> None:
        self._complete_from = max(0, self._complete_from - count)
        first, last = self._frame_span  # the cached frame's rows move up by `count`
        self._frame_span = (first - count, last - count)  # (rows before 0 are sliced off)
        keep = slice(count, self._length)
        n = self._length - count
        self._values[:n] = self._values[keep]
        self._steps[:n] = self._steps[keep]
        self._events[:n] = self._events[keep]
        self._length = n

    def _next_row(self) -> int:
        """Where the next row goes, once ``last`` has trimmed and the buffers have grown."""
        i = self._length
        if self.last is not None and i >= 2 * self.last:
            self._drop_oldest(i - self.last)  # amortised O(1): once every `last` rows
            i = self._length
        if i == len(self._steps):
            self._grow(i + 1)
        return i

    def append(self, step: int, event: int, row: Sequence[float] | np.ndarray) -> None:
        """Append one row: ``step``, the event code and the numbers in column order."""
        if not isinstance(row, np.ndarray):
            self.append_numbers((step, event, *row))
            return
        self._flush()  # earlier rows first, complete: rows are completed in order
        i = self._next_row()
        self._values[i] = row
        self._steps[i] = step
        self._events[i] = event
        self._length = self._complete_from = i + 1

    def append_parts(self, step: int, event: int, parts: Sequence[tuple[slice, Any]]) -> None:
        """Append one row given in parts (``(columns slice, values)``); ``complete`` fills the rest.

        What a metric with array states records per event: its batch and running
        states written straight into the buffer, without building the row first.
        The other columns (its results) are filled in by ``complete`` for every such
        row at once, when the history is read: updates never pay for them, and rows
        dropped by ``last`` before a read never do. Without ``complete`` the columns
        no part covers are 0; with it, the parts and ``complete`` together fill the
        row (it is not cleared first: a wide row of array states is written once).

        Examples
        --------
        >>> h = HistoryBuffer([("a", (2,)), ("b", ())], np.dtype("float64"))
        >>> h.append_parts(1, 0, [(h.slices["a"], np.array([1.0, 2.0]))])
        >>> h.frame()["a"].to_list()
        [[1.0, 2.0]]
        """
        if self._queue or self._state_rows:
            self._flush()
        i = self._next_row()
        row = self._values[i]
        if self.complete is None:
            row[:] = 0
        for columns, value in parts:
            row[columns] = value.ravel() if isinstance(value, np.ndarray) else value
        self._steps[i] = step
        self._events[i] = event
        self._length = i + 1

    def append_states(
        self, step: int, event: int, columns: tuple[slice, ...], values: tuple[Any, ...]
    ) -> None:
        """Append one row given by the values of some columns: ``values[j]`` in ``columns[j]``.

        What a metric with array states records per event (its batch and running
        states; ``complete`` fills in the results). Rows are queued, as
        :meth:`append_numbers` rows are, and copied into the buffers in blocks of
        :data:`FLUSH_ROWS` (fewer for rows wider than 4096 numbers) or as soon as
        anything reads the history: one copy per column for the whole block. The
        values are read then, so they must never be changed in place (a metric's
        states are replaced, not changed). Rows that
        share the very same ``columns`` tuple are copied together. Columns no value
        covers, and ``complete`` does not fill, are 0.

        Examples
        --------
        >>> h = HistoryBuffer([("a", (2,)), ("b", ())], np.dtype("float64"))
        >>> where = (h.slices["a"], h.slices["b"])
        >>> h.append_states(1, 0, where, (np.array([1.0, 2.0]), 3.0))
        >>> h.append_states(2, 0, where, (np.array([4.0, 5.0]), 6.0))
        >>> h.frame()["a"].to_list(), h.frame()["b"].to_list()
        ([[1.0, 2.0], [4.0, 5.0]], [3.0, 6.0])
        """
        if self._queue:
            self._flush()  # before queueing: if it raises, this row is not kept either
        rows = self._state_rows
        if len(rows) >= self._state_rows_limit:
            self._flush_state_rows()
            rows = self._state_rows
        rows.append((step, event, columns, values))

    def append_numbers(self, numbers: tuple[float, ...]) -> None:
        """Append one row given as one tuple: the step, the event code, then the numbers.

        The fast path of :meth:`append` (no tuple to build twice): rows are queued
        and copied into the buffers in blocks of :data:`FLUSH_ROWS`.
        """
        if self._state_rows or len(self._queue) >= FLUSH_ROWS:
            self._flush()  # before queueing: if it raises, this row is not kept either
        self._queue.append(numbers)

    def extend(self, steps: np.ndarray, events: np.ndarray, rows: np.ndarray) -> None:
        """Append many rows at once (used by replay): ``rows`` has shape ``(k, width)``."""
        self._flush()
        self._store(steps, events, rows)

    def _store(self, steps: np.ndarray, events: np.ndarray, rows: np.ndarray) -> None:
        k = len(steps)
        if self.last is not None and self._length + k > 2 * self.last:
            # amortised O(1) per row: the kept rows move once every `last` rows
            self._drop_oldest(min(self._length, self._length + k - self.last))
            if k > self.last:
                steps, events, rows = steps[-self.last :], events[-self.last :], rows[-self.last :]
                k = self.last
        self._grow(self._length + k)
        i = self._length
        self._values[i : i + k] = rows
        self._steps[i : i + k] = steps
        self._events[i : i + k] = events
        self._length = i + k
        self._complete_from = self._length

    def clear(self) -> None:
        """Forget every row."""
        self._queue = []
        self._state_rows = []
        self._length = 0
        self._complete_from = 0
        self._frame = None
        self._batch_ids = None

    def label_steps(self, steps: np.ndarray, batch_ids: pl.Series) -> None:
        """Name the batch of the log each of ``steps`` replayed: a ``log_batch`` column.

        Once a history has labels, :meth:`frame` has a ``log_batch`` column after
        ``event`` (null on rows without one, e.g. those of ``update_state``). Labels
        of rows no longer kept (``last``) are dropped as new ones come.

        Examples
        --------
        >>> h = HistoryBuffer([("total", ())], np.dtype("float64"))
        >>> h.extend(np.array([1, 2]), np.array([0, 0], dtype=np.int8), np.array([[1.0], [3.0]]))
        >>> h.label_steps(np.array([1, 2]), pl.Series(["2024-06-01", "2024-06-02"]))
        >>> h.append(3, 0, (4.0,))
        >>> h.frame()["log_batch"].to_list()
        ['2024-06-01', '2024-06-02', None]
        """
        labels = pl.DataFrame(
            [pl.Series("step", steps, dtype=pl.Int64), batch_ids.alias("log_batch")]
        )
        if self._batch_ids is not None:
            old = self._batch_ids
            if len(self):
                old = old.filter(pl.col("step") >= int(self.steps[0]))
            try:
                labels = pl.concat([old, labels], how="vertical_relaxed")
            except pl.exceptions.PolarsError:  # ids of two kinds (numbers, then text): as text
                text = pl.col("log_batch").cast(pl.String)
                labels = pl.concat([old.with_columns(text), labels.with_columns(text)])
        self._batch_ids = labels
        self._frame = None

    def storable_labels(self, batch_ids: Any) -> pl.Series:
        """The batch ids as they will be stored beside the labels of earlier replays.

        Ids of the same dtype, or that cast to it without loss, are stored as that
        dtype; numbers of another type widen the column (integers then floats: floats).
        Anything else (numbers then text, text then durations, dates then integers,
        datetimes of two time zones...) is a ``ValueError`` naming both dtypes.

        Examples
        --------
        >>> h = HistoryBuffer([("total", ())], np.dtype("float64"))
        >>> h.extend(np.array([1]), np.array([0], dtype=np.int8), np.array([[1.0]]))
        >>> h.label_steps(np.array([1]), pl.Series([7]))
        >>> h.storable_labels(pl.Series(["x"]))
        Traceback (most recent call last):
        ...
        ValueError: `batch` ids of dtype String cannot be stored beside the Int64 ids ...
        """
        ids = batch_ids if isinstance(batch_ids, pl.Series) else pl.Series("log_batch", batch_ids)
        new, old = ids.dtype, self.label_dtype
        family = _id_family(new)
        if family is None:
            raise TypeError(
                f"`batch` ids must be {BATCH_ID_KINDS}, got dtype {new}; cast them first"
            )
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

    def label_from(self, first: int, batch_ids: pl.Series | None) -> None:
        """Label the rows of steps ``first, first + 1, ...`` with ``batch_ids`` (those recorded).

        ``history_every`` and ``last`` may have left some of those steps out; their
        labels are skipped.
        """
        if batch_ids is None or not len(batch_ids):
            return
        steps = np.arange(first, first + len(batch_ids), dtype=np.int64)
        recorded = np.isin(steps, self.steps)
        if not recorded.all():
            steps, batch_ids = steps[recorded], batch_ids.filter(pl.Series(recorded))
        self.label_steps(steps, batch_ids)

    @property
    def label_dtype(self) -> pl.DataType | None:
        """The dtype of the ``log_batch`` labels (see :meth:`label_steps`), None without any."""
        return None if self._batch_ids is None else self._batch_ids.schema["log_batch"]

    @property
    def steps(self) -> np.ndarray:
        """The recorded steps (a read-only view, increasing)."""
        start = self._start()  # flushes the queued rows first
        view = self._steps[start : self._length]
        view.flags.writeable = False
        return view

    def _start(self) -> int:
        """The first kept row, after moving the queued rows into the buffers."""
        self._flush()
        return 0 if self.last is None else max(0, self._length - self.last)

    def row_index(self, step: int) -> int | None:
        """Position of the row recorded at ``step``, or None when there is none."""
        steps = self.steps
        i = int(np.searchsorted(steps, step))
        if i < len(steps) and steps[i] == step:
            return self._start() + i
        return None

    def value(self, row: int, column: str, shape: tuple[int, ...]) -> Any:
        """One stored value: a numpy scalar, or an array of ``shape``."""
        self._flush()
        flat = self._values[row, self.slices[column]]
        return flat[0] if shape == () else flat.reshape(shape).copy()

    def column(self, name: str) -> np.ndarray:
        """The kept rows of one column, as a read-only view (shaped columns: one row each)."""
        start = self._start()
        block = self._values[start : self._length, self.slices[name]]
        view = block[:, 0] if block.shape[1] == 1 else block
        view.flags.writeable = False
        return view

    def take(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the ``(steps, events, values)`` of the kept rows at positions ``rows``."""
        start = self._start()
        index = np.asarray(rows, dtype=np.intp) + start
        return self._steps[index], self._events[index], self._values[index]

    def event(self, row: int) -> str:
        """The event name of a row."""
        self._flush()
        return EVENTS[self._events[row]]

    def frame(self) -> pl.DataFrame:
        """The kept rows as a polars DataFrame: ``step``, ``event``, then the columns.

        Built once and then extended: a read after new rows builds those rows only
        (a live view reading a long history after each update stays cheap).
        """
        start = self._start()  # flushes the queue and completes rows first
        stop = self._length
        cached = self._frame
        if cached is not None and self._frame_span[0] <= start and self._frame_span[1] <= stop:
            first, last = self._frame_span
            if (first, last) == (start, stop):
                return cached
            old = cached.slice(start - first) if start > first else cached
            new_from = max(last, start)  # rows the cached frame does not hold (or no longer)
            frame = pl.concat([old, self._build(new_from, stop)]) if stop > new_from else old
            if frame.n_chunks() > 32:
                frame = frame.rechunk()
        else:
            frame = self._build(start, stop)
        self._frame, self._frame_span = frame, (start, stop)
        return frame

    def _build(self, start: int, stop: int) -> pl.DataFrame:
        """Rows ``start:stop`` of the buffers as a DataFrame (see :meth:`frame`)."""
        rows = slice(start, stop)
        values = self._values[rows]
        events = self._events[rows]
        steps = self._steps[rows]
        data: dict[str, Any] = {
            "step": pl.Series("step", steps, dtype=pl.Int64),
            "event": _EVENT_NAMES.gather(events),
        }
        for name, shape in self.columns:
            block = values[:, self.slices[name]]
            if shape == ():
                data[name] = pl.Series(name, np.ascontiguousarray(block[:, 0]))
            else:
                values_of = np.ascontiguousarray(block).reshape(len(block), *shape)
                data[name] = pl.Series(name, values_of)
        frame = pl.DataFrame(data)
        if self.null_on_reset and bool((events == EVENTS.index("reset")).any()):
            is_reset = pl.col("event") == "reset"
            frame = frame.with_columns(
                pl.when(is_reset).then(None).otherwise(pl.col(c)).alias(c)
                for c in self.null_on_reset
            )
        if self._batch_ids is not None:  # replayed rows name their batch
            labelled = self._batch_ids["step"].to_numpy()
            at = np.searchsorted(labelled, steps).clip(0, max(len(labelled) - 1, 0))
            if len(labelled) and np.array_equal(labelled[at], steps):  # every row: a gather
                frame = frame.insert_column(2, self._batch_ids["log_batch"].gather(at))
            else:
                frame = frame.join(self._batch_ids, on="step", how="left", maintain_order="left")
                frame = frame.select("step", "event", "log_batch", *frame.columns[2:-1])
        return frame
