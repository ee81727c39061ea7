"""Streams of a MetricCollection: every member equals that metric's own Streams, exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from helpers import StreamsSnapshot, assert_streams_unchanged, streams_snapshot
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import interactive_metrics as im


def four(**options: Any) -> dict[str, im.Metric]:
    return {
        "loss": im.Mean(**options),
        "accuracy": im.BinaryAccuracy(**options),
        "precision": im.Precision(**options),
        "recall": im.Recall(**options),
        "worst": im.Max(**options),  # a max reduction beside the sums
    }


INPUTS = {"loss": ("values",), "worst": ("values",)}


def alone(name: str, metric: im.Metric, batch: dict[str, Any]) -> tuple[tuple[Any, ...], dict]:
    """The arguments of ``metric.update_state`` for one batch given by name."""
    names = INPUTS.get(name, ("y_true", "y_pred"))
    return tuple(batch[n] for n in names), {"sample_weight": batch.get("sample_weight")}


def assert_same_as_alone(s: Any, singles: dict[str, im.Streams]) -> None:
    wide = s.breakdown()
    for name, single in singles.items():
        mine = s.members[name]
        assert_frame_equal(mine.breakdown(), single.breakdown(), check_exact=True)
        assert_frame_equal(mine.history, single.history, check_exact=True)
        assert_frame_equal(mine.merged().history, single.merged().history, check_exact=True)
        assert mine.streams == single.streams
        assert mine.step == single.step
        results = dict(zip(single.streams, single.breakdown()["result"].to_list(), strict=True))
        keyed = wide.select(*s.key_names, f"{name}/result").rows()
        for *key, value in keyed:
            k = key[0] if len(key) == 1 else tuple(key)
            if k not in results:  # a stream this member never saw
                assert value is None
                continue
            assert value == results[k] or (np.isnan(value) and np.isnan(results[k]))


@st.composite
def batches(draw: Any, composite: bool) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, 12))
        floats = st.floats(0, 1, allow_nan=False, width=32)
        batch: dict[str, Any] = {
            "values": np.array(draw(st.lists(floats, min_size=n, max_size=n))),
            "y_true": np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))),
            "y_pred": np.array(draw(st.lists(floats, min_size=n, max_size=n))),
        }
        if draw(st.booleans()):
            weights = st.floats(0, 3, allow_nan=False, width=32)
            batch["sample_weight"] = np.array(draw(st.lists(weights, min_size=n, max_size=n)))
        sensors = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=n, max_size=n))
        if draw(st.booleans()) and not composite:
            batch["stream"] = draw(st.sampled_from(["a", "e"]))  # one key for the batch
        elif composite:
            sites = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
            batch["stream"] = pl.DataFrame(
                {"sensor": sensors, "site": sites}, schema={"sensor": pl.String, "site": pl.Int64}
            )
        else:
            batch["stream"] = sensors
        out.append(batch)
    return out


def run_both(data: list[dict[str, Any]], **options: Any) -> tuple[Any, dict[str, im.Streams]]:
    s = im.MetricCollection(four(**options)).streams()
    singles = {name: im.Streams(m) for name, m in four(**options).items()}
    for batch in data:
        named = {k: batch[k] for k in ("values", "y_true", "y_pred")}
        s.update_state(**named, stream=batch["stream"], sample_weight=batch.get("sample_weight"))
        for name, single in singles.items():
            args, kwargs = alone(name, single.metric, batch)
            single.update_state(*args, stream=batch["stream"], **kwargs)
    return s, singles


@settings(max_examples=60, deadline=None)
@given(batches(composite=False))
def test_every_member_equals_its_own_streams(data: list[dict[str, Any]]) -> None:
    s, singles = run_both(data)
    assert_same_as_alone(s, singles)
    assert s.result() == {name: single.result() for name, single in singles.items()}
    assert s.macro_result() == {name: single.macro_result() for name, single in singles.items()}


@settings(max_examples=40, deadline=None)
@given(batches(composite=True))
def test_composite_keys_equal_each_metrics_own_streams(data: list[dict[str, Any]]) -> None:
    s, singles = run_both(data)
    assert_same_as_alone(s, singles)
    if len(s):
        assert s.key_names == ("sensor", "site")
        assert s.breakdown().columns[:2] == ["sensor", "site"]


@settings(max_examples=25, deadline=None)
@given(batches(composite=False))
def test_history_every_and_last_equal_each_metrics_own_streams(data: list[dict]) -> None:
    s, singles = run_both(data, history_every=2)
    assert_same_as_alone(s, singles)
    s, singles = run_both(data, history_last=2)
    assert_same_as_alone(s, singles)


def test_nan_dropping_member_sees_only_its_kept_keys() -> None:
    data = [
        {
            "values": np.array([np.nan, 1.0, 2.0, np.nan]),
            "y_true": np.array([1, 0, 1, 1]),
            "y_pred": np.array([0.9, 0.1, 0.8, 0.4]),
            "stream": ["z", "a", "b", "z"],
        },
        {
            "values": np.array([3.0, np.nan]),
            "y_true": np.array([1, 0]),
            "y_pred": np.array([0.2, 0.7]),
            "stream": ["b", "z"],
        },
    ]
    s, singles = run_both(data, nan_strategy="ignore")
    assert_same_as_alone(s, singles)
    assert s.members["loss"].streams == ["a", "b"]  # "z" only ever had NaN losses
    assert s.members["accuracy"].streams == ["z", "a", "b"]
    wide = s.breakdown()
    assert wide.filter(pl.col("stream") == "z")["loss/result"].to_list() == [None]
    assert "loss/weight" in wide.columns  # the members saw different weights
    with pytest.raises(KeyError, match="unknown to the member"):
        s["z"]


def test_numbers_by_hand() -> None:
    s = im.MetricCollection({"loss": im.Mean(), "precision": im.Precision()}).streams()
    s.update_state(
        values=[1.0, 3.0, 5.0, 7.0],
        y_true=[1, 0, 1, 1],
        y_pred=[0.9, 0.8, 0.7, 0.1],
        sample_weight=[1, 1, 0, 0],
        stream=["a", "a", "b", "b"],
    )
    frame = s.breakdown()
    assert frame.columns == ["stream", "weight", "share", "loss/result", "precision/result"]
    assert frame.rows() == [("a", 2.0, 1.0, 2.0, 0.5), ("b", 0.0, 0.0, 0.0, 0.0)]
    assert s.result() == {"loss": 2.0, "precision": 0.5}
    assert s.macro_result() == {"loss": 2.0, "precision": 0.5}  # b has no weight: not counted
    assert s["a"].result() == {"loss": 2.0, "precision": 0.5}
    assert s.overall == s.result()
    assert s.by_stream.columns == ["stream", "loss/result", "precision/result"]


def test_frame_methods_per_member_equal_each_metrics_own() -> None:
    rng = np.random.default_rng(3)
    n = 200
    keys = pl.DataFrame({"sensor": rng.choice(["a", "b", "c"], n), "site": rng.integers(1, 3, n)})
    named = {"values": rng.random(n), "y_true": rng.integers(0, 2, n), "y_pred": rng.random(n)}
    s = im.MetricCollection(four()).streams()
    s.update_state(**named, stream=keys)
    for name, m in four().items():
        single = im.Streams(m)
        args, _ = alone(name, m, named)
        single.update_state(*args, stream=keys)
        assert s.group_min()[name] == single.group_min()
        assert s.group_max()[name] == single.group_max()
        assert s.difference("to_overall")[name] == single.difference("to_overall")
        assert s.ratio()[name] == single.ratio()
        assert_frame_equal(
            s.group_min(control="site")[name], single.group_min(control="site"), check_exact=True
        )
        assert_frame_equal(
            s.difference(control=["sensor"])[name],
            single.difference(control=["sensor"]),
            check_exact=True,
        )
        key = ("b", 2)
        assert s[key][name].state == single[key].state
        assert_frame_equal(s[key][name].history, single[key].history, check_exact=True)


def test_one_update_keys_the_batch_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from interactive_metrics import collection_streams

    calls = []
    real = collection_streams.factorize

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(collection_streams, "factorize", counting)
    s = im.MetricCollection(four()).streams()
    n = 50
    s.update_state(values=np.ones(n), y_true=np.ones(n), y_pred=np.ones(n), stream=np.arange(n) % 7)
    assert calls == [n]  # one coding of the keys for five members
    assert all(len(member) == 7 for member in s.members.values())


def snapshot(s: Any) -> list[StreamsSnapshot]:
    return [streams_snapshot(m) for m in s.members.values()]


def assert_unchanged(before: list[StreamsSnapshot], s: Any) -> None:
    for snap, m in zip(before, s.members.values(), strict=True):
        assert_streams_unchanged(snap, m)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"sample_weight": [1.0, -1.0, 1.0]}, ValueError, "sample_weight"),
        ({"stream": ["a", "new"]}, ValueError, "one key per sample"),
        ({"stream": ["a", None, "new"]}, ValueError, "missing keys"),
        ({"stream": [("a", 1), ("b", 1), ("new", 2)]}, ValueError, "one key column, as before"),
        ({"stream": [["a"], ["b"], ["c"]]}, TypeError, "stream"),
        ({"y_true": [1, 0]}, ValueError, "as many samples"),
        ({"values": None}, TypeError, "missing input"),
    ],
)
def test_a_failed_update_changes_no_member(change: dict, error: type, match: str) -> None:
    s = im.MetricCollection(four()).streams()
    s.update_state(values=[0.5, 0.2], y_true=[1, 0], y_pred=[0.7, 0.3], stream=["a", "b"])
    before = snapshot(s)
    batch: dict[str, Any] = {
        "values": [1.0, 2.0, 3.0],
        "y_true": [1, 1, 0],
        "y_pred": [0.2, 0.9, 0.4],
        "stream": ["a", "new", "new"],
    }
    batch.update(change)
    if batch["values"] is None:
        del batch["values"]
    with pytest.raises(error, match=match):
        s.update_state(**batch)
    assert_unchanged(before, s)
    s.update_state(values=[1.0], y_true=[1], y_pred=[0.9], stream="new")  # still usable
    assert s.members["loss"].streams == ["a", "b", "new"]


def test_composite_then_simple_keys_is_refused() -> None:
    s = im.MetricCollection([im.Sum(), im.Max()]).streams()
    s.update_state([1.0, 2.0], stream=[("a", 1), ("b", 2)])
    before = snapshot(s)
    with pytest.raises(ValueError, match="composite keys of the parts"):
        s.update_state([3.0], stream=["a"])
    with pytest.raises(ValueError, match="2 key parts"):
        s.update_state([3.0], stream=[("a", 1, 0)])
    assert_unchanged(before, s)
    assert s[("b", 2)].result() == {"sum": 2.0, "max": 2.0}


def log_frame(rows: int = 3000, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "batch": rng.integers(0, 40, rows),
            "sensor": rng.choice(["a", "b", "c", "d", "e"], rows),
            "site": rng.integers(0, 3, rows),
            "loss": rng.random(rows),
            "label": rng.integers(0, 2, rows),
            "score": rng.random(rows),
            "w": rng.random(rows) * 2,
        }
    )


@pytest.mark.parametrize("stream", ["sensor", ["sensor", "site"]])
@pytest.mark.parametrize("weight", [None, "w"])
def test_replay_equals_each_metrics_own_streams_replay(
    stream: Any, weight: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interactive_metrics import replay

    monkeypatch.setattr(replay, "CHUNK_ROWS", 700)  # several chunks; batches span them
    log = log_frame()
    s = im.MetricCollection(four()).streams()
    s.replay(
        log,
        batch="batch",
        stream=stream,
        sample_weight=weight,
        values="loss",
        y_true="label",
        y_pred="score",
    )
    singles = {}
    for name, m in four().items():
        own = {"values": "loss"} if name in INPUTS else {"y_true": "label", "y_pred": "score"}
        singles[name] = im.Streams(m).replay(
            log, batch="batch", stream=stream, sample_weight=weight, **own
        )
    assert_same_as_alone(s, singles)


def test_replay_reads_the_log_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from interactive_metrics import collection_streams

    reads = []
    real = collection_streams.source_chunks

    def counting(*args: Any) -> Any:
        reads.append(1)
        yield from real(*args)

    monkeypatch.setattr(collection_streams, "source_chunks", counting)
    s = im.MetricCollection(four()).streams()
    s.replay(
        log_frame(), batch="batch", stream="sensor", values="loss", y_true="label", y_pred="score"
    )
    assert reads == [1]
    assert s.members["recall"].merged().history.height == 40


def test_a_failed_replay_changes_no_member() -> None:
    s = im.MetricCollection(four()).streams()
    s.update_state(values=[0.5], y_true=[1], y_pred=[0.7], stream="a")
    before = snapshot(s)
    log = log_frame(50).with_columns(
        pl.when(pl.int_range(pl.len()) == 40).then(None).otherwise(pl.col("score")).alias("score")
    )
    columns = {"values": "loss", "y_true": "label", "y_pred": "score"}
    with pytest.raises(ValueError, match="got values from nan"):  # a null score is NaN
        s.replay(log, batch="batch", stream="sensor", **columns)
    with pytest.raises(ValueError, match="not in the data"):
        s.replay(log, batch="batch", stream="nope", **columns)
    with pytest.raises(TypeError, match="one column name per input"):
        s.replay(log, batch="batch", stream="sensor", values="loss")
    with pytest.raises(ValueError, match="shape"):
        s.replay(log_frame(50), batch="batch", stream=["sensor", "site"], **columns)
    assert_unchanged(before, s)


def test_merge_and_reset_equal_each_metrics_own() -> None:
    rng = np.random.default_rng(5)

    def batch(n: int) -> dict[str, Any]:
        return {
            "values": rng.random(n),
            "y_true": rng.integers(0, 2, n),
            "y_pred": rng.random(n),
            "stream": rng.choice(["a", "b", "c"], n),
        }

    first, second = batch(30), batch(20)
    a, b = run_both([first])[0], run_both([second])[0]
    a.merge_state(b)
    a.update_state(values=[0.5], y_true=[1], y_pred=[0.6], stream="d")
    a.reset_state()
    for name, m in four().items():
        x, y = im.Streams(m), im.Streams(type(m).from_config(m.get_config()))
        args, _ = alone(name, m, first)
        x.update_state(*args, stream=first["stream"])
        args, _ = alone(name, m, second)
        y.update_state(*args, stream=second["stream"])
        x.merge_state(y)
        args, _ = alone(name, m, {"values": [0.5], "y_true": [1], "y_pred": [0.6]})
        x.update_state(*args, stream="d")
        x.reset_state()
        assert_frame_equal(a.members[name].history, x.history, check_exact=True)
        assert_frame_equal(a.members[name].breakdown(), x.breakdown(), check_exact=True)
    with pytest.raises(ValueError, match="same collection"):
        a.merge_state(im.MetricCollection([im.Mean()]).streams())
    with pytest.raises(TypeError, match="CollectionStreams"):
        a.merge_state(im.Streams(im.Mean()))


def test_merge_checks_every_member_first() -> None:
    a = im.MetricCollection({"p": im.Precision(), "r": im.Recall()}).streams()
    b = im.MetricCollection({"p": im.Precision(), "r": im.Recall(thresholds=0.9)}).streams()
    a.update_state([1, 0], [0.8, 0.3], stream="x")
    b.update_state([1, 1], [0.8, 0.95], stream="y")
    before = snapshot(a)
    with pytest.raises(ValueError, match="cannot merge member 'r'"):
        a.merge_state(b)
    assert_unchanged(before, a)


def test_wide_history_and_merged_collection() -> None:
    s = im.MetricCollection({"total": im.Sum(), "n": im.Count()}).streams()
    s.update_state([1.0, 2.0, 4.0], stream=["a", "b", "a"])
    s.update_state([8.0], stream="b")
    history = s.history
    assert history.columns[:3] == ["step", "event", "stream"]
    assert history.select("step", "stream", "total/result", "n/result").rows() == [
        (1, "a", 5.0, 2.0),
        (1, "b", 2.0, 1.0),
        (2, "b", 10.0, 2.0),
    ]
    merged = s.merged()
    assert merged.result() == {"total": 15.0, "n": 4.0}
    assert merged.history.select("step", "total/result", "n/result").rows() == [
        (1, 7.0, 3.0),
        (2, 15.0, 4.0),
    ]
    assert repr(s) == "CollectionStreams(total=Sum, n=Count, streams=['a', 'b'], step=2)"


def test_streams_of_a_collection_points_to_collection_streams() -> None:
    metrics = im.MetricCollection([im.Mean()])
    with pytest.raises(TypeError, match=r"collection\.streams\(\)"):
        im.Streams(metrics)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a MetricCollection"):
        from interactive_metrics.collection_streams import CollectionStreams

        CollectionStreams(im.Mean())  # type: ignore[arg-type]


def test_the_collection_itself_is_not_changed() -> None:
    metrics = im.MetricCollection([im.Mean(), im.Max()])
    s = metrics.streams(null_stream="unknown")
    s.update_state([1.0, 2.0], stream=["a", None])
    assert metrics.step == 0 and metrics.result() == {"mean": 0.0, "max": float("-inf")}
    assert s.streams == ["a", "unknown"]
    assert s["unknown"].result() == {"mean": 2.0, "max": 2.0}
