"""Streams: per-stream states from one group-by, checked against numpy / sklearn per group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from helpers import assert_streams_unchanged, streams_snapshot
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score

import interactive_metrics as im
from interactive_metrics.core.segments import PARALLEL_ROWS

# -- hand-checked numbers ---------------------------------------------------------------------


def test_mean_per_stream_by_hand():
    s = im.Streams(im.Mean())
    s.update_state([1, 3, 5, 7], stream=["a", "b", "a", "b"], sample_weight=[1, 1, 0, 1])
    s.update_state([2.0], stream="c")
    frame = s.breakdown()
    assert frame.columns == [
        "stream",
        "weight",
        "share",
        "total",
        "count",
        "result",
        "contribution",
    ]
    reset = im.Streams(im.Mean())
    reset.update_state([1.0], stream="a")
    reset.reset_state()
    assert reset.breakdown()["contribution"].to_list() == [None]  # no weight: no part
    assert frame.rows() == [
        # a: 1*1 + 5*0 = 1 over weight 1; b: 3 + 7 = 10 over 2; c: 2 over 1; total weight 4
        ("a", 1.0, 0.25, 1.0, 1.0, 1.0, 0.25),
        ("b", 2.0, 0.5, 10.0, 2.0, 5.0, 2.5),
        ("c", 1.0, 0.25, 2.0, 1.0, 2.0, 0.5),
    ]
    assert s.result() == 13.0 / 4  # (1 + 10 + 2) / 4
    assert s.macro_result() == pytest.approx((1.0 + 5.0 + 2.0) / 3)
    assert sum(frame["contribution"]) == pytest.approx(s.result())
    assert s.streams == ["a", "b", "c"] and len(s) == 3 and "b" in s and "z" not in s


def test_history_long_format():
    s = im.Streams(im.Sum())
    s.update_state([1, 2, 3], stream=["b", "a", "b"])
    s.update_state([10], stream="a")
    h = s.history
    assert h.columns == [
        "step",
        "event",
        "stream",
        "batch_total",
        "batch_result",
        "running_total",
        "result",
    ]
    # one row per stream touched, in order of first appearance of the stream
    assert h.select("step", "stream", "batch_total", "running_total").rows() == [
        (1, "b", 4.0, 4.0),
        (1, "a", 2.0, 2.0),
        (2, "a", 10.0, 12.0),
    ]
    assert s.step == 2
    merged = s.merged().history
    assert merged["step"].to_list() == [1, 2]
    assert merged["running_total"].to_list() == [6.0, 16.0]


def test_stream_is_a_standalone_metric():
    s = im.Streams(im.Mean())
    s.update_state([1.0, 2.0, 3.0], stream=["a", "b", "a"])
    s.update_state([5.0], stream="b")
    s.update_state([7.0, 9.0], stream=["a", "a"], sample_weight=[1, 3])
    alone = im.Mean()  # the same samples of "a", batch by batch
    alone.update_state([1.0, 3.0])
    alone.update_state([7.0, 9.0], sample_weight=[1, 3])
    a = s["a"]
    assert isinstance(a, im.Mean)
    assert a.state == alone.state and a.result() == alone.result()
    assert a.step == 2
    assert a.history.equals(alone.history)
    assert a.state_at(1) == {"total": 4.0, "count": 2.0}
    with pytest.raises(KeyError, match="no stream 'zz'; known streams are"):
        s["zz"]


def test_integer_keys_first_seen_order_and_large_keys():
    s = im.Streams(im.Sum())
    s.update_state([1, 2, 3, 4], stream=np.array([50, 7, 50, 3]))
    s.update_state([1, 1], stream=np.array([-5, 10**12]))  # outside the lookup table
    s.update_state([1], stream=7)
    assert s.streams == [50, 7, 3, -5, 10**12]
    assert s.breakdown()["total"].to_list() == [4.0, 3.0, 4.0, 1.0, 1.0]


def test_many_streams_small_batches():
    # more known streams than samples per batch: reduced over the batch's own streams only
    rng = np.random.default_rng(0)
    keys = rng.permutation(5000)
    values = rng.normal(size=5000)
    s = im.Streams(im.Sum())
    s.update_state(values, stream=keys)
    s.update_state([1.0, 2.0], stream=np.array([keys[10], keys[10]]))
    expected = values.copy()
    expected[10] += 3.0
    assert np.array_equal(s.breakdown()["total"].to_numpy(), expected)
    assert s.history.filter(pl.col("step") == 2).height == 1


@pytest.mark.parametrize(
    "keys",
    [
        ["x", "y", "x", "z"],
        np.array(["x", "y", "x", "z"]),
        pl.Series(["x", "y", "x", "z"]),
        pl.Series(["x", "y", "x", "z"], dtype=pl.Categorical),
        pd.Series(["x", "y", "x", "z"]),
        pd.Series(["x", "y", "x", "z"], dtype="category"),
        ("x", "y", "x", "z"),
    ],
    ids=["list", "numpy", "polars", "polars-cat", "pandas", "pandas-cat", "tuple"],
)
def test_key_containers(keys):
    s = im.Streams(im.Sum())
    s.update_state([1, 2, 3, 4], stream=keys)
    assert s.breakdown().select("stream", "total").rows() == [
        ("x", 4.0),
        ("y", 2.0),
        ("z", 4.0),
    ]


@pytest.mark.parametrize("n", [60, PARALLEL_ROWS + 7], ids=["small", "parallel"])
def test_string_keys_known_and_new_in_one_batch(n):
    # later batches mix known keys (coded by a cast) with new ones (factorized and added)
    rng = np.random.default_rng(3)
    pool = np.array([f"k{i:02d}" for i in range(40)], dtype=object)
    s = im.Streams(im.Sum(), null_stream="missing")
    frames = []
    for known in (10, 25, 40):
        keys = pool[rng.integers(0, known, size=n)]
        keys[rng.random(n) < 0.05] = None
        values = rng.integers(-9, 10, size=n).astype(float)
        s.update_state(values, stream=pl.Series(keys.tolist(), dtype=pl.String))
        frames.append(pl.DataFrame({"stream": keys.tolist(), "total": values}))
    everything = pl.concat(frames).with_columns(pl.col("stream").fill_null("missing"))
    expected = everything.group_by("stream", maintain_order=True).agg(pl.col("total").sum())
    assert s.breakdown().select("stream", "total").equals(expected)
    last = frames[-1].with_columns(pl.col("stream").fill_null("missing"))
    per_batch = last.group_by("stream").agg(pl.col("total").sum().alias("batch_total"))
    rows = s.history.filter(pl.col("step") == 3).select("stream", "batch_total")
    assert rows.sort("stream").equals(per_batch.sort("stream"))


# -- invariants ------------------------------------------------------------------------------

batches = st.lists(
    st.lists(
        st.tuples(
            st.integers(-50, 50),  # value: integers, so every sum is exact
            st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]),  # weight
            st.sampled_from(["a", "b", "c", "d"]),  # stream
        ),
        max_size=12,
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(
    batches=batches,
    weighted=st.booleans(),
    metric=st.sampled_from(["mean", "sum", "max"]),
    last=st.sampled_from([None, 1, 2]),
)
def test_merged_equals_one_metric_and_streams_equal_their_rows(batches, weighted, metric, last):
    kind = {"mean": im.Mean, "sum": im.Sum, "max": im.Max}[metric]

    def make():
        return kind(history_last=last)  # history_last: each stream keeps its last rows

    s, one = im.Streams(make()), make()
    alone: dict[str, im.Metric] = {}
    for rows in batches:
        values = np.array([r[0] for r in rows], dtype=float)
        weights = np.array([r[1] for r in rows]) if weighted else None
        keys = [r[2] for r in rows]
        s.update_state(values, stream=keys, sample_weight=weights)
        one.update_state(values, sample_weight=weights)
        for key in dict.fromkeys(keys):
            mask = np.array(keys) == key
            m = alone.setdefault(key, make())
            m.update_state(values[mask], sample_weight=None if weights is None else weights[mask])
    # exactly: the merged state is one metric updated with the same batches
    assert s.result() == s.merged().result() == one.result()
    assert s.merged().history.equals(one.history)
    assert s.streams == list(alone)
    for key, m in alone.items():
        assert s[key].state == m.state
        assert s[key].history.equals(m.history)
    if metric != "max":  # integer sums are exact in any order: the streams add up
        for name, value in one.state.items():
            assert s.breakdown()[name].sum() == value
        if s.merged().state.get("count", 1.0) > 0:
            contributions = s.breakdown()["contribution"].sum()
            assert contributions == pytest.approx(s.result(), abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_float_streams_match_numpy_per_group(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n = data.draw(st.integers(1, 300))
    keys = rng.integers(0, 6, size=n)
    values, weights = rng.normal(size=n), rng.uniform(0, 2, size=n)
    s = im.Streams(im.Mean())
    s.update_state(values[: n // 2], stream=keys[: n // 2], sample_weight=weights[: n // 2])
    s.update_state(values[n // 2 :], stream=keys[n // 2 :], sample_weight=weights[n // 2 :])
    frame = s.breakdown()
    for key, result, weight in frame.select("stream", "result", "weight").rows():
        mask = keys == key
        assert result == pytest.approx(np.average(values[mask], weights=weights[mask]))
        assert weight == pytest.approx(weights[mask].sum())
    assert s.result() == pytest.approx(np.average(values, weights=weights))
    assert s.macro_result() == pytest.approx(frame["result"].mean())


def test_merge_state_equals_updating_one():
    a, b, both = (im.Streams(im.Mean()) for _ in range(3))
    a.update_state([1, 2, 3], stream=["x", "y", "x"])
    b.update_state([4, 5], stream=["z", "x"], sample_weight=[2, 1])
    both.update_state([1, 2, 3], stream=["x", "y", "x"])
    both.update_state([4, 5], stream=["z", "x"], sample_weight=[2, 1])
    a.merge_state([b])
    assert a.result() == both.result()
    assert a.breakdown().equals(both.breakdown())
    merge_rows = a.history.filter(pl.col("event") == "merge")
    assert merge_rows.select("step", "stream", "batch_total", "running_total").rows() == [
        (2, "x", 5.0, 9.0),
        (2, "z", 8.0, 8.0),
    ]
    with pytest.raises(ValueError, match="cannot merge Streams of Sum into Streams of Mean"):
        a.merge_state(im.Streams(im.Sum()))
    with pytest.raises(ValueError, match="configurations differ"):
        a.merge_state(im.Streams(im.Mean(dtype="float32")))
    with pytest.raises(ValueError, match="cannot merge a Mean into a Streams"):
        a.merge_state([im.Mean()])  # type: ignore[list-item]


def test_reset_keeps_streams_and_records_one_row_each():
    s = im.Streams(im.Min())
    s.update_state([3, 1, 2], stream=["a", "b", "a"])
    s.reset_state()
    assert s.streams == ["a", "b"]
    assert s.breakdown()["min"].to_list() == [np.inf, np.inf]
    assert s.breakdown()["share"].null_count() == 2
    assert s.breakdown()["contribution"].null_count() == 2  # min: never one
    resets = s.history.filter(pl.col("event") == "reset")
    assert resets["stream"].to_list() == ["a", "b"]
    assert resets["batch_min"].null_count() == 2
    assert s.result() == np.inf and s.macro_result() == np.inf
    s.update_state([5], stream="b")
    assert s["b"].result() == 5.0 and s["b"].step == 3  # update, reset, update


# -- history options and merged() -------------------------------------------------------------


def test_history_last_bounds_every_streams_rows():
    # 1,000 streams updated 40 times: each keeps its last 3 rows, the store at most twice that
    last, k = 3, 1000
    rng = np.random.default_rng(5)
    s = im.Streams(im.Sum(history_last=last))
    alone = {key: im.Sum(history_last=last) for key in (0, 7, 999, 10**6)}
    held = []
    for i in range(40):
        values = rng.integers(-9, 10, size=k).astype(float)
        s.update_state(values, stream=np.arange(k))
        for key in (0, 7, 999):
            alone[key].update_state(values[key : key + 1])
        if i in (0, 20):  # a stream seen twice keeps both rows: the window is per stream
            s.update_state([float(i)], stream=10**6)
            alone[10**6].update_state([float(i)])
        held.append(len(s._long))  # rows in memory (the buffer behind `history`)
    assert max(held) <= 2 * last * len(s)
    assert s.history.height == last * k + 2
    assert s.history.group_by("stream").len()["len"].max() == last
    for key, m in alone.items():
        assert s[key].history.equals(m.history)  # steps are the stream's own events
        assert s[key].state == m.state
    assert s.merged().history["step"].to_list() == [40, 41, 42]


def test_history_every_writes_rows_at_the_merged_steps():
    # one row per stream changed since its last row, at every 3rd update of the Streams
    rng = np.random.default_rng(6)
    s = im.Streams(im.Sum(history_every=3))
    log = []
    for step in range(1, 12):
        keys = rng.choice(["a", "b", "c"], size=int(rng.integers(1, 4)))
        values = rng.integers(-9, 10, size=len(keys)).astype(float)
        s.update_state(values, stream=keys.tolist())
        log += [(step, str(key), value) for key, value in zip(keys, values, strict=True)]
    recorded = s.merged().history["step"].to_list()
    assert recorded == [3, 6, 9]
    frame = pl.DataFrame(log, schema=["step", "stream", "value"], orient="row")
    expected = []
    for start, end in zip([0, 3, 6], recorded, strict=True):
        window = frame.filter((pl.col("step") > start) & (pl.col("step") <= end))
        for key in window["stream"].unique(maintain_order=True).sort().to_list():
            batch = window.filter(pl.col("stream") == key)["value"].sum()
            running = frame.filter((pl.col("step") <= end) & (pl.col("stream") == key))
            expected.append((end, key, batch, running["value"].sum()))
    got = s.history.select("step", "stream", "batch_total", "running_total")
    assert sorted(got.rows()) == expected
    assert s.breakdown()["total"].sum() == frame["value"].sum()  # the state is never held back
    a_steps = frame.filter(pl.col("stream") == "a")["step"].unique(maintain_order=True)
    a_rows = s.history.filter(pl.col("stream") == "a")["step"]
    own = [a_steps.search_sorted(step, side="right") for step in a_rows]
    assert own == s["a"].history["step"].to_list()  # numbered by a's own updates
    s.merge_state(im.Streams(im.Sum(history_every=3)))  # nothing merged in: no stream changed
    s.reset_state()  # resets are always written, for every stream
    assert s.history.filter(pl.col("event") == "reset").height == 3


def test_history_false_keeps_no_rows():
    s = im.Streams(im.Mean(history=False))
    for _ in range(5):
        s.update_state(np.arange(100.0), stream=np.arange(100) % 7)
    assert s.history.height == 0 and s[3].history.height == 0 and s[3].step == 5
    assert s.merged().history.height == 0 and s.step == 5


def test_merged_is_cached_and_changing_it_leaves_the_streams_alone():
    s = im.Streams(im.Mean())
    s.update_state([1.0, 2.0, 4.0], stream=["a", "b", "a"])
    before = (s.result(), s.history, s.breakdown(), s.step)
    first = s.merged()
    assert first is s.merged()  # one copy per event, not one per call
    history = first.history.clone()
    other = im.Mean()
    other.update_state([100.0])
    log = pl.DataFrame({"batch": [1, 1], "loss": [7.0, 9.0]})
    for change in (
        lambda m: m.update_state([50.0]),
        lambda m: m.merge_state(other),
        lambda m: m.replay(log, values="loss", batch="batch"),
        lambda m: m.reset_state(),
    ):
        mine = s.merged()
        change(mine)
        fresh = s.merged()
        assert fresh is not mine
        assert fresh.result() == before[0] == 7.0 / 3
        assert fresh.history.equals(history) and fresh.step == 1
        assert (s.result(), s.step) == (before[0], before[3])
        assert s.history.equals(before[1]) and s.breakdown().equals(before[2])
    s.update_state([10.0], stream="b")  # an event of the Streams: a new copy
    assert s.merged() is not fresh and fresh.step == 1 and s.merged().step == 2


# -- what the average hides ------------------------------------------------------------------


def test_simpsons_paradox_micro_and_per_stream_disagree():
    # kidney stones (Charig et al. 1986): A is better on small and on large stones,
    # B is better overall, because A was given most of the large (hard) ones
    a, b = im.Streams(im.Mean()), im.Streams(im.Mean())
    a.update_state([1] * 81 + [0] * 6, stream="small")
    a.update_state([1] * 192 + [0] * 71, stream="large")
    b.update_state([1] * 234 + [0] * 36, stream="small")
    b.update_state([1] * 55 + [0] * 25, stream="large")
    ra, rb = (dict(x.breakdown().select("stream", "result").rows()) for x in (a, b))
    assert ra["small"] > rb["small"] and ra["large"] > rb["large"]
    assert a.result() < b.result()
    assert a.result() == pytest.approx(273 / 350) and b.result() == pytest.approx(289 / 350)
    assert a.macro_result() > b.macro_result()  # every stream counted once: A wins again


def test_one_failing_stream_barely_moves_the_merged_mean():
    rng = np.random.default_rng(1)
    s = im.Streams(im.BinaryAccuracy())
    for sensor in range(9):
        y = rng.integers(0, 2, size=1000)
        s.update_state(y, y.astype(float), stream=f"sensor-{sensor}")  # all right
    y = rng.integers(0, 2, size=50)
    s.update_state(y, 1.0 - y, stream="sensor-9")  # all wrong
    frame = s.breakdown()
    worst = frame.sort("result").row(0, named=True)
    assert worst["stream"] == "sensor-9" and worst["result"] == 0.0
    assert s.result() == pytest.approx(9000 / 9050)  # 0.9945: looks healthy
    assert s.macro_result() == pytest.approx(0.9)  # one stream in ten is dead
    assert frame["contribution"].sum() == pytest.approx(s.result())


def test_classification_per_stream_against_sklearn():
    rng = np.random.default_rng(2)
    n = 400
    y_true = rng.integers(0, 2, size=n)
    y_pred = rng.uniform(size=n)
    weights = rng.uniform(0, 1, size=n)
    keys = rng.choice(["north", "south", "east"], size=n)
    s = im.Streams(im.BinaryAccuracy())
    for part in np.array_split(np.arange(n), 4):
        s.update_state(y_true[part], y_pred[part], stream=keys[part], sample_weight=weights[part])
    labels = (y_pred > 0.5).astype(int)
    for key, result in s.breakdown().select("stream", "result").rows():
        mask = keys == key
        expected = accuracy_score(y_true[mask], labels[mask], sample_weight=weights[mask])
        assert result == pytest.approx(expected)
    assert s.result() == pytest.approx(accuracy_score(y_true, labels, sample_weight=weights))


def test_contribution_by_kind_of_metric():
    keys = ["a", "b", "a"]
    total = im.Streams(im.Sum())
    total.update_state([1, 2, 4], stream=keys)
    assert total.breakdown()["contribution"].to_list() == [5.0, 2.0]  # additive: the results
    for kind in (im.Min, im.Max):
        s = im.Streams(kind())
        s.update_state([1, 2, 4], stream=keys)
        assert s.breakdown()["contribution"].null_count() == 2  # no part of a maximum
    precision = im.Streams(im.Precision())
    precision.update_state([1, 0, 1], [1, 1, 1], stream=keys)
    assert precision.breakdown()["contribution"].null_count() == 2


def test_confusion_matrix_streams_hold_array_fields():
    s = im.Streams(im.ConfusionMatrix(num_classes=2))
    s.update_state([0, 1, 1, 0], [0, 1, 0, 0], stream=["a", "b", "a", "b"])
    frame = s.breakdown()
    assert frame["confusion_matrix"].to_list() == [
        [[1.0, 0.0], [1.0, 0.0]],
        [[1.0, 0.0], [0.0, 1.0]],
    ]
    assert np.array_equal(s.result(), [[2.0, 0.0], [1.0, 1.0]])
    assert frame["contribution"].null_count() == 2


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (([1, 2], ["a", None]), ValueError, r"`stream` must not contain missing keys .*1 missing"),
        (([1, 2], None), ValueError, r"`stream` must be a key or one key per sample, got None"),
        (([1, 2], ["a"]), ValueError, r"`stream` must have one key per sample \(2\), got 1"),
        (([1, 2], np.array([[1], [2]])), ValueError, r"`stream` must be one key per sample"),
        (([1, 2], ["a", 1]), TypeError, r"`stream` must hold keys of one type"),
        (([1, 2], {"a": 1}), TypeError, r"`stream` must be a key or one key per sample, got dict"),
        ((["x", "y"], "a"), TypeError, r"`values` must hold numbers"),
        (([1, 2], "new", [1, -1]), ValueError, r"`sample_weight` must be >= 0"),
    ],
)
def test_bad_input_changes_nothing(args, error, match):
    s = im.Streams(im.Mean())
    s.update_state([1.0, 2.0], stream=["a", "b"])
    before = streams_snapshot(s)
    values, keys, *weights = args
    with pytest.raises(error, match=match):
        s.update_state(values, stream=keys, sample_weight=weights[0] if weights else None)
    assert_streams_unchanged(before, s)


def test_null_keys_with_a_label():
    s = im.Streams(im.Sum(), null_stream="unknown")
    s.update_state([1, 2, 3], stream=["a", None, None])
    s.update_state([4], stream=None)
    with pytest.raises(ValueError, match=r"keys are str \(e.g. 'a'\), got 7 \(int\)"):
        s.update_state([5, 6], stream=pl.Series([None, 7], dtype=pl.Int64))  # one kind of key
    s.update_state([5, 6], stream=pl.Series([None, "7"]))
    assert s.breakdown().select("stream", "total").rows() == [
        ("a", 1.0),
        ("unknown", 14.0),  # 2 + 3 + 4 + 5
        ("7", 6.0),
    ]


def test_nan_ignore_drops_samples_with_their_keys():
    s = im.Streams(im.Mean(nan_strategy="ignore"))
    s.update_state([1.0, np.nan, 3.0, 5.0], stream=["a", "b", "a", "b"], sample_weight=[1, 9, 1, 1])
    assert s.breakdown().select("stream", "weight", "result").rows() == [
        ("a", 2.0, 2.0),
        ("b", 1.0, 5.0),
    ]
    assert s.result() == 3.0


def test_nan_error_raises_and_changes_nothing():
    s = im.Streams(im.Mean(nan_strategy="error"))
    s.update_state([1.0, 2.0], stream=pl.Series(["a", "b"]))
    before = streams_snapshot(s)
    with pytest.raises(ValueError, match=r"`values` contains 1 sample\(s\) with NaN"):
        s.update_state([1.0, np.nan, 3.0], stream=["a", "c", "a"])
    assert_streams_unchanged(before, s)
    assert "c" not in s


def test_not_a_metric():
    with pytest.raises(TypeError, match="`metric` must be an interactive_metrics Metric"):
        im.Streams("mean")  # type: ignore[arg-type]


def test_without_history_and_empty_batches():
    s = im.Streams(im.Mean(history=False))
    s.update_state([], stream=[])
    s.update_state([], stream="a")
    s.update_state([2.0], stream="a")
    assert s.streams == ["a"] and s.step == 3 and s.result() == 2.0
    assert s.history.height == 0 and "stream" in s.history.columns
    assert s["a"].result() == 2.0


def test_listeners_are_called_after_each_event():
    s = im.Streams(im.Sum())
    seen: list[tuple[int, int]] = []
    s._listeners.append(lambda streams, event: seen.append((streams.step, event)))
    s.update_state([1], stream="a")
    s.reset_state()
    assert seen == [(1, 0), (2, 2)]


def test_categorical_keys_across_updates():
    s = im.Streams(im.Sum(), null_stream="none")
    s.update_state([1, 2], stream=pl.Series(["b", "a"], dtype=pl.Categorical))
    s.update_state([3, 4, 5], stream=pl.Series(["c", "a", "b"], dtype=pl.Categorical))
    s.update_state([6], stream=pl.Series(["c"]))  # the same keys as strings
    s.update_state([7, 8], stream=pl.Series(["d", None], dtype=pl.Categorical))
    assert s.breakdown().select("stream", "total").rows() == [
        ("b", 6.0),
        ("a", 6.0),
        ("c", 9.0),
        ("d", 7.0),
        ("none", 8.0),
    ]


def test_history_survives_an_event_that_adds_no_rows():
    s = im.Streams(im.Mean())
    s.update_state([1.0], stream="a")
    before = s.history
    s.update_state([], stream=[])  # an event, but no stream touched: no new rows
    assert s.step == 2
    assert s.history.equals(before)
    assert s.history.columns.count("stream") == 1


def test_breakdown_keeps_a_state_field_named_like_a_breakdown_column():
    # A field called `weight` must not replace the stream's sample weight in the table.
    class WeightedHits(im.Metric):
        fields = [im.StateField("weight"), im.StateField("result")]

        def terms(self, values, sample_weight=None):
            weighted, _ = im.core.weighted_samples(values, sample_weight, reduce="sum")
            return {"weight": 2 * weighted, "result": weighted}

        def compute(self, state):
            return state["result"]

    s = im.Streams(WeightedHits())
    s.update_state([1.0, 3.0, 5.0], stream=["a", "a", "b"])
    table = s.breakdown()
    assert table.columns == [
        "stream",
        "weight",
        "share",
        "state_weight",
        "state_result",
        "result",
        "contribution",
    ]
    assert table["weight"].to_list() == [2.0, 1.0]  # samples per stream, not the field
    assert table["state_weight"].to_list() == [8.0, 10.0]
    assert table["result"].to_list() == [4.0, 5.0]


@given(
    st.lists(st.integers(-5, 40), max_size=60)
    | st.lists(st.integers(-(2**62), 2**62), max_size=20),
    st.sampled_from(["int64", "int8", "uint16", "bool"]),
)
def test_integer_keys_are_numbered_in_order_of_first_appearance(keys, dtype):
    from interactive_metrics.core.segments import factorize

    info = np.iinfo(dtype) if dtype != "bool" else None
    if info is not None:
        keys = [k for k in keys if info.min <= k <= info.max]
    array = np.array(keys, dtype=dtype)
    codes, uniques = factorize(array)
    expected = list(dict.fromkeys(array.tolist()))  # first appearance, as Python values
    assert uniques == expected
    assert [type(u) for u in uniques] == [type(e) for e in expected]
    assert codes.tolist() == [expected.index(k) for k in array.tolist()]
