"""The history store: one row per event in preallocated numpy buffers that grow geometrically.

Rows are appended into a 2-D buffer of the metric's dtype (doubling its capacity
when full), with the step in an ``int64`` buffer and the event in an ``int8`` one:
no Python object per row. :meth:`HistoryBuffer.frame` turns the filled part into a
polars DataFrame on demand (and caches it until the next event).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

__all__ = ["EVENTS", "HistoryBuffer"]

EVENTS = ("update", "merge", "reset")
"""Event names, indexed by the event code stored in the history."""

EVENT_DTYPE = pl.Enum(list(EVENTS))

_INITIAL_CAPACITY = 64


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
    ) -> None:
        self.columns = [(name, tuple(shape)) for name, shape in columns]
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
        self.length = 0
        self._values = np.empty((_INITIAL_CAPACITY, self.width), dtype=dtype)
        self._steps = np.empty(_INITIAL_CAPACITY, dtype=np.int64)
        self._events = np.empty(_INITIAL_CAPACITY, dtype=np.int8)
        self._frame: pl.DataFrame | None = None

    def __len__(self) -> int:
        return self.length

    @property
    def nbytes(self) -> int:
        """Bytes held by the filled rows (the buffers' capacity may be up to twice that)."""
        n = self.length
        return n * (self._values.itemsize * self.width + 8 + 1)

    def _grow(self, needed: int) -> None:
        capacity = len(self._steps)
        if needed <= capacity:
            return
        while capacity < needed:
            capacity *= 2
        for attr in ("_values", "_steps", "_events"):
            old = getattr(self, attr)
            new = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
            new[: self.length] = old[: self.length]
            setattr(self, attr, new)

    def _drop_oldest(self, count: int) -> None:
        keep = slice(count, self.length)
        n = self.length - count
        self._values[:n] = self._values[keep]
        self._steps[:n] = self._steps[keep]
        self._events[:n] = self._events[keep]
        self.length = n

    def append(self, step: int, event: int, row: Sequence[float] | np.ndarray) -> None:
        """Append one row: ``step``, the event code and the numbers in column order."""
        i = self.length
        if self.last is not None and i >= 2 * self.last:
            self._drop_oldest(i - self.last)  # amortised O(1): once every `last` rows
            i = self.length
        if i == len(self._steps):
            self._grow(i + 1)
        self._values[i] = row
        self._steps[i] = step
        self._events[i] = event
        self.length = i + 1
        self._frame = None

    def extend(self, steps: np.ndarray, events: np.ndarray, rows: np.ndarray) -> None:
        """Append many rows at once (used by replay): ``rows`` has shape ``(k, width)``."""
        k = len(steps)
        self._grow(self.length + k)
        i = self.length
        self._values[i : i + k] = rows
        self._steps[i : i + k] = steps
        self._events[i : i + k] = events
        self.length = i + k
        if self.last is not None and self.length > self.last:
            self._drop_oldest(self.length - self.last)
        self._frame = None

    def clear(self) -> None:
        """Forget every row."""
        self.length = 0
        self._frame = None

    @property
    def steps(self) -> np.ndarray:
        """The recorded steps (a read-only view, increasing)."""
        view = self._steps[self._start() : self.length]
        view.flags.writeable = False
        return view

    def _start(self) -> int:
        return 0 if self.last is None else max(0, self.length - self.last)

    def row_index(self, step: int) -> int | None:
        """Position of the row recorded at ``step``, or None when there is none."""
        steps = self.steps
        i = int(np.searchsorted(steps, step))
        if i < len(steps) and steps[i] == step:
            return self._start() + i
        return None

    def value(self, row: int, column: str, shape: tuple[int, ...]) -> Any:
        """One stored value: a numpy scalar, or an array of ``shape``."""
        flat = self._values[row, self.slices[column]]
        return flat[0] if shape == () else flat.reshape(shape).copy()

    def column(self, name: str) -> np.ndarray:
        """The kept rows of one column, as a read-only view (shaped columns: one row each)."""
        block = self._values[self._start() : self.length, self.slices[name]]
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
        return EVENTS[self._events[row]]

    def frame(self) -> pl.DataFrame:
        """The kept rows as a polars DataFrame: ``step``, ``event``, then the columns."""
        if self._frame is not None:
            return self._frame
        rows = slice(self._start(), self.length)
        values = self._values[rows]
        events = self._events[rows]
        data: dict[str, Any] = {
            "step": pl.Series("step", self._steps[rows], dtype=pl.Int64),
            "event": pl.Series("event", np.asarray(EVENTS)[events]).cast(EVENT_DTYPE),
        }
        for name, shape in self.columns:
            block = values[:, self.slices[name]]
            if shape == ():
                data[name] = pl.Series(name, np.ascontiguousarray(block[:, 0]))
            else:
                data[name] = pl.Series(name, np.ascontiguousarray(block).reshape(-1, *shape))
        frame = pl.DataFrame(data)
        if self.null_on_reset:
            is_reset = pl.col("event") == "reset"
            frame = frame.with_columns(
                pl.when(is_reset).then(None).otherwise(pl.col(c)).alias(c)
                for c in self.null_on_reset
            )
        self._frame = frame
        return frame
