"""Helpers several test files share: what a Streams shows, copied, to check that nothing changed.

A frame a Streams hands out may share memory with its state (``breakdown()`` reads
the per-stream arrays without a copy), so a "before" taken as that frame changes
along with the Streams and can hide a change. :func:`streams_snapshot` copies
everything into memory of its own.
"""

from __future__ import annotations

import io
from typing import Any, NamedTuple

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

import interactive_metrics as im


def owned(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy of ``frame`` in memory of its own (an IPC round trip: no buffer is shared)."""
    return pl.read_ipc(io.BytesIO(frame.write_ipc(None).getvalue()))


class StreamsSnapshot(NamedTuple):
    """Everything a Streams shows, as of one moment, in memory of its own."""

    streams: list[Any]
    step: int
    breakdown: pl.DataFrame
    history: pl.DataFrame
    merged_history: pl.DataFrame
    merged_step: int
    states: dict[Any, dict[str, np.ndarray]]


def streams_snapshot(s: im.Streams) -> StreamsSnapshot:
    """What ``s`` shows now: keys, step, breakdown, histories and each stream's state, copied."""
    merged = s.merged()
    return StreamsSnapshot(
        streams=list(s.streams),
        step=s.step,
        breakdown=owned(s.breakdown()),
        history=owned(s.history),
        merged_history=owned(merged.history),
        merged_step=merged.step,
        states={
            key: {name: np.array(value, copy=True) for name, value in s[key].state.items()}
            for key in s.streams
        },
    )


def assert_streams_equal(got: StreamsSnapshot, want: StreamsSnapshot) -> None:
    """The two snapshots agree exactly (NaN equal to NaN)."""
    assert got.streams == want.streams
    assert (got.step, got.merged_step) == (want.step, want.merged_step)
    assert_frame_equal(got.breakdown, want.breakdown, check_exact=True)
    assert_frame_equal(got.history, want.history, check_exact=True)
    assert_frame_equal(got.merged_history, want.merged_history, check_exact=True)
    assert got.states.keys() == want.states.keys()
    for key, state in want.states.items():
        assert got.states[key].keys() == state.keys()
        for name, value in state.items():
            np.testing.assert_array_equal(got.states[key][name], value, err_msg=f"{key}.{name}")


def assert_streams_unchanged(before: StreamsSnapshot, s: im.Streams) -> None:
    """``s`` shows exactly what it showed when ``before`` was taken."""
    assert_streams_equal(streams_snapshot(s), before)
