"""`Streams.update_from_segments` is two-phase: everything is checked before anything is written.

A replay, Dask and the streams of a collection hand a Streams the states of ``k``
batches and of their (batch, stream) segments. A bad input found part-way (one
segment's state, a batch position out of range, ...) must leave every stream's state,
the per-stream history, the merged metric and the known keys exactly as they were,
and a good call afterwards must equal ``update_state`` once per batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from helpers import assert_streams_equal, streams_snapshot

import interactive_metrics as im
from interactive_metrics.streams import Segments

# Two batches: batch 0 has a = [1, 2], b = [3]; batch 1 has b = [4], c = [5, 6].
BATCHES = [([1.0, 2.0, 3.0], ["a", "a", "b"]), ([4.0, 5.0, 6.0], ["b", "c", "c"])]
BATCH_STATES = {"total": np.array([6.0, 15.0]), "count": np.array([3.0, 3.0])}


def good_segments(**change: Any) -> Segments:
    """The (batch, stream) segments of BATCHES for a Mean, by hand; ``change`` replaces fields."""
    fields: dict[str, Any] = {
        "keys": ["a", "b", "c"],
        "batch": np.array([0, 0, 1, 1]),
        "stream": np.array([0, 1, 1, 2]),
        "first_row": np.array([0, 2, 3, 4]),
        "weight": np.array([2.0, 1.0, 1.0, 2.0]),
        "states": {"total": np.array([3.0, 3.0, 4.0, 11.0]), "count": np.array([2.0, 1, 1, 2])},
    }
    return Segments(**{**fields, **change})


def bad_state(**states: Any) -> Segments:
    return good_segments(states={**good_segments().states, **states})


# One bad input each, found after the first segments are fine.
BAD: list[tuple[str, dict[str, Any], Segments, str]] = [
    (
        "a string in the last segment's state",
        BATCH_STATES,
        bad_state(total=np.array([3.0, 3.0, 4.0, "x"], dtype=object)),
        r"`segments.states\['total'\]` must hold numbers, got object",
    ),
    (
        "one segment state too few",
        BATCH_STATES,
        bad_state(count=np.array([2.0, 1.0, 1.0])),
        r"`segments.states\['count'\]` must have shape \(4,\) \(one row per segment\), got \(3,\)",
    ),
    (
        "a state with an extra axis",
        BATCH_STATES,
        bad_state(total=np.ones((4, 2))),
        r"`segments.states\['total'\]` must have shape \(4,\)",
    ),
    (
        "a field missing",
        BATCH_STATES,
        good_segments(states={"total": np.array([3.0, 3.0, 4.0, 11.0])}),
        r"`segments.states` must map each state field \['total', 'count'\]",
    ),
    (
        "the last segment in a batch that is not there",
        BATCH_STATES,
        good_segments(batch=np.array([0, 0, 1, 2])),
        r"`segments.batch` must hold positions in \[0, 2\), got values from 0 to 2",
    ),
    (
        "a negative batch",
        BATCH_STATES,
        good_segments(batch=np.array([0, 0, -1, 1])),
        r"`segments.batch` must hold positions in \[0, 2\)",
    ),
    (
        "the last segment of a stream that is not there",
        BATCH_STATES,
        good_segments(stream=np.array([0, 1, 1, 3])),
        r"`segments.stream` must hold positions in \[0, 3\), got values from 0 to 3",
    ),
    (
        "a weight too many",
        BATCH_STATES,
        good_segments(weight=np.ones(5)),
        r"`segments.weight` must have shape \(4,\)",
    ),
    (
        "float batch positions",
        BATCH_STATES,
        good_segments(batch=np.array([0.0, 0.0, 1.0, 1.0])),
        r"`segments.batch` must be a 1-d array of integers, one per segment",
    ),
    (
        "first rows of another length",
        BATCH_STATES,
        good_segments(first_row=np.array([0, 2, 3])),
        r"`segments.first_row` must be a 1-d array of integers",
    ),
    (
        "batch states of one batch too few",
        {"total": np.array([6.0]), "count": np.array([3.0])},
        good_segments(),
        r"`segments.batch` must hold positions in \[0, 1\), got values from 0 to 1",
    ),
    (
        "batch states of the wrong shape",
        {"total": np.array([6.0, 15.0]), "count": np.array([[3.0], [3.0]])},
        good_segments(),
        r"`batch_states\['count'\]` must have shape \(2,\), got \(2, 1\)",
    ),
    (
        "batch states without a field",
        {"total": np.array([6.0, 15.0])},
        good_segments(),
        r"`batch_states` must map each state field \['total', 'count'\]",
    ),
]

OPTIONS = {
    "scanned": {},  # one scan per stream
    "history_every=2": {"history_every": 2},  # one update at a time, rows held back
    "history_last=1": {"history_last": 1},
    "no history": {"history": False},
    "kahan": {"summation": "kahan"},
}


def started(options: dict[str, Any]) -> im.Streams:
    """A Streams that knows stream "a" (and holds back a row with ``history_every=2``)."""
    s = im.Streams(im.Mean(**options))
    s.update_state([10.0, 20.0], stream=["a", "a"])
    s.update_state([7.0], stream="a")
    return s


@pytest.mark.parametrize("options", list(OPTIONS.values()), ids=list(OPTIONS))
@pytest.mark.parametrize(
    ("batch_states", "segments", "match"),
    [bad[1:] for bad in BAD],
    ids=[bad[0] for bad in BAD],
)
def test_a_failure_part_way_changes_nothing(options, batch_states, segments, match):
    s = started(options)
    before = streams_snapshot(s)
    with pytest.raises(ValueError, match=match):
        s.update_from_segments(batch_states, segments)
    assert_streams_equal(streams_snapshot(s), before)
    assert s.streams == ["a"]  # the new streams b and c are forgotten again
    # and nothing half-written waits to surface: a good call equals update_state per batch
    s.update_from_segments(BATCH_STATES, good_segments())
    reference = started(options)
    for values, keys in BATCHES:
        reference.update_state(values, stream=keys)
    assert_streams_equal(streams_snapshot(s), streams_snapshot(reference))


@pytest.mark.parametrize("options", list(OPTIONS.values()), ids=list(OPTIONS))
def test_good_segments_equal_update_state_per_batch(options):
    s, reference = started(options), started(options)
    s.update_from_segments(BATCH_STATES, good_segments())
    for values, keys in BATCHES:
        reference.update_state(values, stream=keys)
    assert_streams_equal(streams_snapshot(s), streams_snapshot(reference))
    # by hand: a = 10, 20, 7, 1, 2; b = 3, 4; c = 5, 6
    assert s.by_stream.rows() == [("a", 8.0), ("b", 3.5), ("c", 5.5)]


def test_a_prepared_write_changes_nothing_until_called():
    s = started({})
    before = streams_snapshot(s)
    with s.lock:
        write = s.prepare_from_segments(BATCH_STATES, good_segments())
        assert_streams_equal(streams_snapshot(s), before)  # b and c not registered yet
        write()
    assert s.streams == ["a", "b", "c"] and s.step == 4


def test_a_prepared_write_never_called_leaves_the_streams_usable():
    s, reference = started({}), started({})
    with s.lock:
        s.prepare_from_segments(BATCH_STATES, good_segments())  # dropped
    s.update_state([1.0], stream="z")
    reference.update_state([1.0], stream="z")
    assert_streams_equal(streams_snapshot(s), streams_snapshot(reference))


def test_bad_labels_change_nothing():
    s = im.Streams(im.Mean())
    s.update_from_segments(BATCH_STATES, good_segments(), labels=pl.Series([1, 2]))
    before = streams_snapshot(s)
    with pytest.raises(ValueError, match=r"`batch` ids of dtype String cannot be stored beside"):
        s.update_from_segments(BATCH_STATES, good_segments(), labels=pl.Series(["x", "y"]))
    assert_streams_equal(streams_snapshot(s), before)


def test_a_collection_replay_failing_for_one_member_changes_no_member():
    # the Sum keeps no history, so only the Mean refuses the string batch ids: before the
    # members were prepared together, the Sum's streams took the second replay alone
    s = im.MetricCollection([im.Sum(history=False), im.Mean()]).streams()
    first = pl.DataFrame({"b": [1, 1, 2], "k": ["a", "b", "a"], "v": [1.0, 2.0, 3.0]})
    s.replay(first, batch="b", stream="k", values="v")
    before = s.breakdown().rows()
    second = pl.DataFrame({"b": ["x", "y"], "k": ["a", "c"], "v": [10.0, 20.0]})
    with pytest.raises(ValueError, match=r"`batch` ids of dtype String cannot be stored beside"):
        s.replay(second, batch="b", stream="k", values="v")
    assert s.breakdown().rows() == before
    assert before == [
        ("a", 2.0, pytest.approx(2 / 3), 4.0, 2.0),
        ("b", 1.0, pytest.approx(1 / 3), 2.0, 2.0),
    ]
