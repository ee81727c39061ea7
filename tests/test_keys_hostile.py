"""Hostile stream keys and batch ids: one rule for missing keys, clear errors, nothing changed.

Issue 12, items 2, 5 and 11 (keys and merge): every missing-key marker (None, NaN,
pandas NA / NaN / NaT, numpy NaT, polars null) is counted in ``null_stream`` or
refused, in ``update_state``, ``replay`` and lookups alike; keys of a kind that
cannot name a stream are a ``TypeError`` naming what was got; a failed call leaves
the state, both histories and the stream registry as they were; a replay whose batch
ids cannot sit beside earlier ones is refused before it writes anything.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from helpers import (
    StreamsSnapshot,
    assert_streams_equal,
    assert_streams_unchanged,
    owned,
    streams_snapshot,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import interactive_metrics as im

MISSING_MARKERS = [
    None,
    float("nan"),
    np.float64("nan"),
    np.float32("nan"),
    pd.NA,
    pd.NaT,
    np.datetime64("NaT"),
    np.timedelta64("NaT"),
]


# -- missing keys: one rule -------------------------------------------------------------------


@pytest.mark.parametrize("marker", MISSING_MARKERS, ids=repr)
def test_a_missing_scalar_key_is_the_null_stream_every_time(marker: Any) -> None:
    s = im.Streams(im.Sum(), null_stream="unknown")
    for value in [1.0, 2.0, 4.0]:  # the issue: three updates gave streams [nan, nan, nan]
        s.update_state([value], stream=marker)
    assert s.streams == ["unknown"]
    assert s[marker].result() == 7.0 == s["unknown"].result()
    assert marker in s and None in s and float("nan") in s


def _containers(marker: Any) -> list[Any]:
    """Per-sample keys with one missing marker, as each container a user may pass."""
    out: list[Any] = [["a", marker, "a"], ("a", marker, "a"), pd.Series(["a", marker, "a"])]
    if isinstance(marker, float) or marker is None:
        out += [np.array([1.0, np.nan, 1.0]), pd.Series([1.0, marker, 1.0])]
        out += [pl.Series([1.0, float("nan"), 1.0]), pl.Series([1, None, 1])]
        out += [pd.Series([1, None, 1], dtype="Int64")]
    if marker is pd.NaT or isinstance(marker, np.datetime64):
        stamp = np.datetime64("2024-01-01")
        out += [np.array([stamp, np.datetime64("NaT"), stamp], dtype="datetime64[us]")]
        out += [pd.Series([pd.Timestamp("2024-01-01"), marker, pd.Timestamp("2024-01-01")])]
    return out


@pytest.mark.parametrize("marker", MISSING_MARKERS, ids=repr)
def test_missing_keys_in_a_batch_are_one_stream_under_null_stream(marker: Any) -> None:
    for keys in _containers(marker):
        s = im.Streams(im.Sum(), null_stream="unknown")
        for _ in range(3):
            s.update_state([1.0, 10.0, 100.0], stream=keys)
        assert len(s) == 2, (keys, s.streams)  # one real stream, one for the missing keys
        assert s.streams[1] == "unknown"
        assert s["unknown"].result() == 30.0 and s[marker].result() == 30.0
        assert s[s.streams[0]].result() == 303.0
        assert s.breakdown()["weight"].to_list() == [6.0, 3.0]


@pytest.mark.parametrize("marker", MISSING_MARKERS, ids=repr)
def test_missing_keys_without_null_stream_are_refused_and_change_nothing(marker: Any) -> None:
    s = im.Streams(im.Mean())
    s.update_state([1.0, 2.0], stream=["a", "b"])
    before = streams_snapshot(s)
    with pytest.raises(ValueError, match=r"`stream` must be a key .*missing key"):
        s.update_state([3.0], stream=marker)
    for keys in _containers(marker):
        with pytest.raises(ValueError, match=r"`stream` must not contain missing keys"):
            s.update_state([3.0, 4.0, 5.0], stream=keys)
    assert_streams_unchanged(before, s)
    with pytest.raises(KeyError, match="no `null_stream`"):
        s[marker]
    assert marker not in s


def test_the_null_stream_may_be_a_key_of_the_batch_too() -> None:
    s = im.Streams(im.Sum(), null_stream="a")
    s.update_state([1.0, 2.0, 4.0, 8.0], stream=[None, "b", "a", float("nan")])
    assert s.streams == ["a", "b"]
    assert s.breakdown()["total"].to_list() == [13.0, 2.0]


def test_a_missing_null_stream_is_refused() -> None:
    with pytest.raises(ValueError, match=r"`null_stream` must be a key .*got the missing key nan"):
        im.Streams(im.Mean(), null_stream=float("nan"))
    with pytest.raises(TypeError, match=r"`null_stream` must be a key"):
        im.Streams(im.Mean(), null_stream=[1])


def test_integer_keys_keep_their_type_beside_the_null_stream() -> None:
    # The null stream used to turn every other key of the batch into text: 3 became '3'.
    s = im.Streams(im.Sum(), null_stream="missing")
    s.update_state([1.0, 2.0], stream=pl.Series([None, 3]))
    s.update_state([4.0], stream=3)
    assert s.streams == ["missing", 3]
    assert s[3].result() == 6.0


def test_replay_counts_nan_and_null_keys_in_the_null_stream() -> None:
    log = pl.DataFrame(
        {
            "step": [1, 1, 2, 2, 3],
            "sensor": [1.0, float("nan"), None, 1.0, float("nan")],
            "loss": [1.0, 2.0, 4.0, 8.0, 16.0],
        }
    )
    s = im.Streams(im.Sum(), null_stream="unknown").replay(
        log, values="loss", batch="step", stream="sensor"
    )
    loop = im.Streams(im.Sum(), null_stream="unknown")
    for step in [1, 2, 3]:
        rows = log.filter(pl.col("step") == step)
        loop.update_state(rows["loss"].to_numpy(), stream=rows["sensor"])
    assert s.streams == [1.0, "unknown"] == loop.streams
    assert s.breakdown().equals(loop.breakdown())
    assert s.history.equals(loop.history)
    with pytest.raises(ValueError, match=r"'sensor' \(for `stream`\) has 3 missing key"):
        im.Streams(im.Sum()).replay(log, values="loss", batch="step", stream="sensor")
    nan_only = log.with_columns(pl.col("sensor").fill_null(1.0))
    with pytest.raises(ValueError, match=r"'sensor' \(for `stream`\) has 2 missing key"):
        im.Streams(im.Sum()).replay(nan_only, values="loss", batch="step", stream="sensor")


def test_a_streams_with_missing_keys_saves_and_loads(tmp_path: Path) -> None:
    s = im.Streams(im.Mean(), null_stream="unknown")
    s.update_state([1.0, 2.0, 3.0], stream=pd.Series(["a", np.nan, None]))
    loaded = im.load(s.save(tmp_path / "s.zip"))
    assert isinstance(loaded, im.Streams)
    assert loaded.streams == ["a", "unknown"]
    assert loaded.breakdown().equals(s.breakdown())
    loaded.update_state([7.0], stream=float("nan"))
    assert loaded["unknown"].result() == 4.0


# -- keys that cannot name a stream -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Sensor:
    name: str


class Opaque:
    """A hashable object polars can hold only as an Object."""


def _generator() -> Any:
    return (k for k in "ab")


BAD_KEYS: list[tuple[Any, type[Exception], str]] = [
    ([[1], [2]], TypeError, r"one key column per call.*composite keys as a DataFrame"),
    ([[1], [1, 2]], TypeError, r"composite keys"),  # ragged
    ([("a", 1), ("b",)], TypeError, r"composite keys of one length, got tuples of lengths"),
    ([{"a": 1}, {"b": 2}], TypeError, r"composite keys"),
    (pl.DataFrame({"a": [1, 2, 3]}), ValueError, r"one key per sample \(2\), got 3"),
    (pl.DataFrame({"a": [[1], [2]]}), TypeError, r"composite keys as a DataFrame"),
    (pl.Series([[1], [2]]), TypeError, r"composite keys"),
    ([Opaque(), Opaque()], TypeError, r"`stream` keys must be strings, .*got Opaque"),
    ([Sensor("n"), Sensor("s")], TypeError, r"composite keys|got Sensor"),
    (Sensor("n"), TypeError, r"`stream` must be a key or one key per sample, got Sensor"),
    (Opaque(), TypeError, r"got Opaque"),
    ([2**200, 1], TypeError, r"integers must fit in 128 bits"),
    (2**200, TypeError, r"integers must fit in 128 bits"),
    ([1, "a"], TypeError, r"one type per call, got int, str"),
    ([1.5, b"x"], TypeError, r"one type per call, got bytes, float"),
    (_generator(), TypeError, r"got generator; pass one key per sample as a list"),
    (range(2), TypeError, r"got range"),
    ({"a", "b"}, TypeError, r"got set"),
    (frozenset({1}), TypeError, r"got frozenset"),
    ({"a": 1}, TypeError, r"got dict"),
    ([1j, 2j], TypeError, r"got complex"),
    (np.array([1j, 2j]), TypeError, r"complex"),
    (np.array([object(), 1], dtype=object), TypeError, r"`stream` keys must be"),
    ([decimal.Decimal(1), decimal.Decimal(2)], TypeError, r"dtype Decimal"),
    (np.array([[1], [2]]), ValueError, r"one key per sample \(shape \(2,\)\)"),
    (["a"], ValueError, r"one key per sample \(2\), got 1"),
    (np.array(["a", "b", "c"]), ValueError, r"got 3 key"),
]


@pytest.mark.parametrize(("keys", "error", "match"), BAD_KEYS, ids=lambda x: type(x).__name__)
def test_bad_keys_are_refused_clearly_and_change_nothing(
    keys: Any, error: type[Exception], match: str
) -> None:
    s = im.Streams(im.Mean(), null_stream="unknown")
    s.update_state([1.0, 2.0], stream=[5, 7])
    before = streams_snapshot(s)
    with pytest.raises(error, match=match):
        s.update_state([3.0, 4.0], stream=keys)
    assert_streams_unchanged(before, s)


def test_keys_polars_holds_work_and_save(tmp_path: Path) -> None:
    cases = [
        [2**64, 1, 2**64],  # beyond 64 bits: an Int128 column (it used to raise a polars error)
        np.array([2**64 - 1, 0, 2**64 - 1], dtype=np.uint64),
        [b"x", b"y", b"x"],
        [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 1)],
        np.array(["2024-01-01", "2024-01-02", "2024-01-01"], dtype="datetime64[s]"),
        [dt.timedelta(1), dt.timedelta(2), dt.timedelta(1)],
        pd.Series(["a", "b", "a"], dtype="category"),
        np.array([True, False, True]),
        np.array(["a", "b", "a"]),
    ]
    for keys in cases:
        s = im.Streams(im.Sum())
        s.update_state([1.0, 2.0, 4.0], stream=keys)
        assert len(s) == 2 and s.breakdown()["total"].to_list() == [5.0, 2.0], keys
        first = s.streams[0]
        s.update_state([8.0], stream=first)  # the scalar path finds the same stream
        assert s[first].result() == 13.0
        loaded = im.load(s.save(tmp_path / "s.zip"))
        assert isinstance(loaded, im.Streams)
        assert loaded.streams == s.streams and loaded.breakdown().equals(s.breakdown())
        (tmp_path / "s.zip").unlink()


def test_numpy_scalar_keys_are_python_values() -> None:
    s = im.Streams(im.Sum())
    s.update_state([1.0], stream=np.float32(0.5))
    s.update_state([2.0], stream=np.array([0.5], dtype=np.float32))
    s.update_state([4.0], stream=np.float64(3))
    s.update_state([8.0], stream=np.array(3.0))  # a 0-d array is one key
    assert s.streams == [0.5, 3.0]
    assert [type(k) for k in s.streams] == [float, float]
    assert s.breakdown()["total"].to_list() == [3.0, 12.0]
    i = im.Streams(im.Sum())
    i.update_state([4.0], stream=np.int64(3))
    i.update_state([8.0], stream=np.array([3], dtype=np.uint8))
    assert i.streams == [3] and type(i.streams[0]) is int


@pytest.mark.parametrize(
    ("known", "failing", "later", "streams"),
    [
        (np.array([4, 9]), np.array([4, 11]), np.array([11, 4, 11]), [4, 9, 11]),  # a table
        (["a", "b"], ["a", "z"], ["z", "a", "z"], ["a", "b", "z"]),  # an enum of strings
    ],
)
def test_a_failed_update_forgets_the_keys_it_registered(
    known: Any, failing: Any, later: Any, streams: list
) -> None:
    # Keys registered before the failure (new integers in the lookup table, new strings
    # in the enum) must not be left behind: the twin that never saw the failure and the
    # victim must go on identically.
    victim, twin = im.Streams(im.Mean()), im.Streams(im.Mean())
    for s in (victim, twin):
        s.update_state([1.0, 2.0], stream=known)
    before = streams_snapshot(victim)
    with pytest.raises(ValueError, match="sample_weight"):
        victim.update_state([1.0, 2.0], stream=failing, sample_weight=[1.0, -1.0])
    with pytest.raises(ValueError, match="sample_weight"):
        victim.update_state([1.0, 2.0], stream=failing, sample_weight=[-1.0, 1.0])
    assert_streams_unchanged(before, victim)
    for s in (victim, twin):
        s.update_state([5.0, 6.0, 7.0], stream=later)
    assert victim.streams == twin.streams == streams
    assert victim.breakdown().equals(twin.breakdown())
    assert victim.history.equals(twin.history)


def test_keys_of_another_kind_are_refused_and_change_nothing() -> None:
    """A Streams keeps keys of one kind: what one typed column shows and a save keeps."""
    s = im.Streams(im.Mean(), null_stream="unknown")
    s.update_state([1.0, 2.0], stream=np.array([4, 9]))
    before = streams_snapshot(s)
    for other in (["a", "b"], [1.5, 2.5], "x", pl.Series([dt.date(2024, 1, 1)] * 2)):
        with pytest.raises(
            ValueError, match=r"`stream` keys must all be of one kind.*keys are int"
        ):
            s.update_state([1.0, 2.0], stream=other)
        assert_streams_unchanged(before, s)
    s.update_state([1.0, 2.0], stream=[None, 4])  # the null stream's label may differ
    assert s.streams == [4, 9, "unknown"]
    strings = im.Streams(im.Mean())
    strings.update_state([1.0], stream="a")
    with pytest.raises(
        ValueError,
        match=r"cannot merge Streams whose keys are of different kinds: .*keys are str \(e.g. 'a'\), got 4 \(int\)",
    ):
        strings.merge_state(s)
    assert strings.streams == ["a"]


GOOD_KEYS_OF_A_KIND = [  # a Streams keeps keys of one kind (the null stream's aside)
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=3, max_size=3)
    | st.sampled_from(["a", None]),
    st.lists(st.integers(0, 5), min_size=3, max_size=3).map(np.array) | st.sampled_from([7, None]),
    st.lists(st.sampled_from([1.5, 2.5, float("nan")]), min_size=3, max_size=3)
    | st.sampled_from([1.5, float("nan")]),
]
HOSTILE_KEYS = st.sampled_from([keys for keys, _, _ in BAD_KEYS if not hasattr(keys, "send")])


@settings(max_examples=40, deadline=None)
@given(
    steps=st.sampled_from(GOOD_KEYS_OF_A_KIND).flatmap(
        lambda good: st.lists(
            st.tuples(st.booleans(), good, HOSTILE_KEYS, st.booleans()), min_size=1, max_size=5
        )
    )
)
def test_failed_updates_leave_everything_as_a_twin_that_never_saw_them(steps: list) -> None:
    victim = im.Streams(im.Mean(), null_stream="unknown")
    twin = im.Streams(im.Mean(), null_stream="unknown")
    values = np.array([1.0, 2.0, 4.0])
    for hostile_first, good, hostile, bad_weight in steps:
        if hostile_first:  # every BAD_KEYS entry is wrong for a batch of two samples
            before = streams_snapshot(victim)
            with pytest.raises((TypeError, ValueError)):
                victim.update_state(values[:2], stream=hostile)
            assert_streams_unchanged(before, victim)
        if bad_weight:  # good keys, bad weights: the keys must not stay registered
            before = streams_snapshot(victim)
            with pytest.raises(ValueError, match="sample_weight"):
                victim.update_state(values, stream=good, sample_weight=[1.0, -1.0, 1.0])
            assert_streams_unchanged(before, victim)
        victim.update_state(values, stream=good)
        twin.update_state(values, stream=good)
    assert victim.streams == twin.streams
    assert victim.breakdown().equals(twin.breakdown())
    assert victim.history.equals(twin.history)
    assert victim.step == twin.step


# -- merge_state --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "other", [im.Mean(), [im.Mean()], 3, None, "abc", {"a": 1}], ids=lambda x: type(x).__name__
)
def test_merging_something_that_is_not_a_streams_is_a_value_error(other: Any) -> None:
    s = im.Streams(im.Mean())
    s.update_state([1.0, 2.0], stream=["a", "b"])
    before = streams_snapshot(s)
    with pytest.raises(ValueError, match=r"`others` must be a Streams .*, got "):
        s.merge_state(other)
    assert_streams_unchanged(before, s)


def test_merging_a_generator_of_streams_works() -> None:
    a, b, c = (im.Streams(im.Sum()) for _ in range(3))
    b.update_state([1.0], stream="x")
    c.update_state([2.0], stream="y")
    a.merge_state(s for s in (b, c))
    assert a.streams == ["x", "y"] and a.result() == 3.0


# -- replay: batch ids beside earlier ones ------------------------------------------------------


def _log(ids: Any) -> pl.DataFrame:
    series = ids if isinstance(ids, pl.Series) else pl.Series("b", ids)
    n = len(series)
    return pl.DataFrame({"b": series.alias("b"), "v": [2.0] * n, "s": (["a", "z"] * n)[:n]})


def _target(kind: str) -> Any:
    return im.Streams(im.Mean()) if kind == "streams" else im.Mean()


def _replay(target: Any, ids: Any) -> Any:
    log = _log(ids)
    if isinstance(target, im.Streams):
        return target.replay(log, values="v", batch="b", stream="s")
    return target.replay(log, values="v", batch="b")


def _state(target: Any) -> Any:
    if isinstance(target, im.Streams):
        return streams_snapshot(target)
    return owned(target.history), target.step, target.result()


def _assert_same(after: Any, before: Any) -> None:
    if isinstance(before, StreamsSnapshot):
        assert_streams_equal(after, before)
        return
    assert after[0].equals(before[0])
    assert after[1:] == before[1:]


REFUSED_TOGETHER = [
    ([1, 2], [dt.timedelta(seconds=1)], "Duration", "Int64"),  # was stored as 1000000
    ([1, 2], [dt.date(2020, 1, 1)], "Date", "Int64"),  # was stored as 18262
    (["a"], [dt.timedelta(seconds=1)], "Duration", "String"),
    ([1], ["a"], "String", "Int64"),
    ([dt.date(2020, 1, 1)], [3], "Int64", "Date"),
    ([True], [1], "Int64", "Boolean"),
    (
        pl.Series([dt.datetime(2020, 1, 1)]).dt.replace_time_zone("UTC"),
        [dt.datetime(2020, 1, 2)],
        r"Datetime\(time_unit='us', time_zone=None\)",
        "UTC",
    ),
    (
        pl.Series([dt.datetime(2020, 1, 1)], dtype=pl.Datetime("ms")),
        pl.Series([dt.datetime(2020, 1, 2, 0, 0, 0, 7)], dtype=pl.Datetime("us")),
        r"Datetime\(time_unit='us'",
        r"Datetime\(time_unit='ms'",
    ),
]


@pytest.mark.parametrize("kind", ["metric", "streams"])
@pytest.mark.parametrize(("first", "second", "new", "old"), REFUSED_TOGETHER)
def test_batch_ids_that_cannot_sit_beside_earlier_ones_change_nothing(
    kind: str, first: Any, second: Any, new: str, old: str, tmp_path: Path
) -> None:
    target = _replay(_target(kind), first)
    before = _state(target)
    with pytest.raises(ValueError, match=rf"`batch` ids of dtype {new}.* beside the .*{old}"):
        _replay(target, second)
    after = _state(target)
    _assert_same(after, before)
    loaded = im.load(target.save(tmp_path / "t.zip"))  # the per-stream and merged steps agree
    assert loaded.step == target.step
    assert _replay(target, first).step == 2 * len(pl.Series(first).unique())  # same kind: fine


@pytest.mark.parametrize("kind", ["metric", "streams"])
@pytest.mark.parametrize(
    "ids",
    [
        [decimal.Decimal("1")],
        [[1, 2]],
        [{"a": 1}],
        pl.Series([2**100], dtype=pl.Int128),
        pl.Series([b"x"]),
    ],
    ids=["decimal", "list", "struct", "int128", "binary"],
)
def test_unsupported_batch_ids_are_refused_up_front(kind: str, ids: Any, tmp_path: Path) -> None:
    target = _replay(_target(kind), [1])
    before = _state(target)
    with pytest.raises(TypeError, match=r"column 'b' \(for `batch`\) must hold integers, floats"):
        _replay(target, ids)
    after = _state(target)
    _assert_same(after, before)
    assert im.load(target.save(tmp_path / "t.zip")).step == 1
    with pytest.raises(TypeError, match=r"for `batch`"):
        _replay(_target(kind), ids)  # not even as the first replay


@pytest.mark.parametrize("kind", ["metric", "streams"])
@pytest.mark.parametrize(
    ("first", "second", "labels", "dtype"),
    [
        ([1], [2.5], [1.0, 2.5], pl.Float64),  # numbers widen
        (pl.Series([1], dtype=pl.Int64), pl.Series([2], dtype=pl.Int8), [1, 2], pl.Int64),
        (pl.Series([1], dtype=pl.Int64), pl.Series([2], dtype=pl.UInt64), [1, 2], pl.Int64),
        (["a"], pl.Series(["b"], dtype=pl.Categorical), ["a", "b"], pl.String),
        (
            pl.Series([dt.datetime(2020, 1, 1)], dtype=pl.Datetime("us")),
            pl.Series([dt.datetime(2020, 1, 2)], dtype=pl.Datetime("ms")),
            [dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 2)],
            pl.Datetime("us"),
        ),
    ],
)
def test_batch_ids_of_one_kind_combine(
    kind: str, first: Any, second: Any, labels: list, dtype: Any, tmp_path: Path
) -> None:
    target = _replay(_replay(_target(kind), first), second)
    metric = target.merged() if isinstance(target, im.Streams) else target
    assert metric.history["log_batch"].to_list() == labels
    assert metric.history["log_batch"].dtype == dtype
    loaded = im.load(target.save(tmp_path / "t.zip"))
    loaded_metric = loaded.merged() if isinstance(loaded, im.Streams) else loaded
    assert loaded_metric.history.equals(metric.history)


ID_STRATEGIES = {
    "int": st.lists(st.integers(-5, 5), min_size=1, max_size=4),
    "float": st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=4),
    "str": st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=4),
    "date": st.lists(st.dates(dt.date(2020, 1, 1), dt.date(2020, 12, 31)), min_size=1, max_size=4),
    "duration": st.lists(
        st.timedeltas(dt.timedelta(0), dt.timedelta(days=3)), min_size=1, max_size=4
    ),
    "bool": st.lists(st.booleans(), min_size=1, max_size=4),
}
FAMILY = {"int": "number", "float": "number"}


@settings(max_examples=60, deadline=None)
@given(
    kinds=st.tuples(st.sampled_from(sorted(ID_STRATEGIES)), st.sampled_from(sorted(ID_STRATEGIES))),
    data=st.data(),
    streams=st.booleans(),
)
def test_a_second_replay_is_all_or_nothing(
    kinds: tuple[str, str], data: Any, streams: bool
) -> None:
    first = data.draw(ID_STRATEGIES[kinds[0]])
    second = data.draw(ID_STRATEGIES[kinds[1]])
    target = _replay(_target("streams" if streams else "metric"), first)
    metric = target.merged() if streams else target
    before = _state(target)
    combinable = FAMILY.get(kinds[0], kinds[0]) == FAMILY.get(kinds[1], kinds[1])
    if not combinable:
        with pytest.raises(ValueError, match=r"`batch` ids of dtype .* cannot be stored beside"):
            _replay(target, second)
        after = _state(target)
        _assert_same(after, before)
        return
    _replay(target, second)
    metric = target.merged() if streams else target
    labels = metric.history["log_batch"].to_list()
    expected = sorted(set(first)) + sorted(set(second))
    assert labels == expected  # the ids themselves, never their physical integers
    assert target.step == len(expected) == metric.step
