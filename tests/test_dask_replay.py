"""Dask replays of the streams of a collection, with epochs and time buckets, and with nulls.

References: the single-machine replay of the same log (itself tested against loops of
`update_state`), and, for epochs and missing values, loops of `update_state` written
here. The data are dyadic (multiples of 1/4), so every float sum is exact in any order
and the comparisons are bit for bit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import polars.testing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import interactive_metrics as im
from interactive_metrics.distributed import apply_partials, merge_rules, partial_states

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

COLUMNS = {"values": "loss", "y_true": "label", "y_pred": "score"}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def _log(n: int = 240, seed: int = 1) -> pl.DataFrame:
    """Shuffled rows: batches 0..11 spread over every partition, three epochs, two sites."""
    rng = np.random.default_rng(seed)
    step = rng.integers(0, 12, n)
    return pl.DataFrame(
        {
            "step": step,
            "sensor": rng.choice(["a", "b", "c"], n),
            "site": rng.integers(0, 2, n),
            "loss": rng.integers(-8, 8, n) / 4.0,
            "label": rng.integers(0, 2, n),
            "score": rng.integers(0, 5, n) / 4.0,
            "w": rng.integers(0, 3, n).astype(np.float64),
            "epoch": [f"e{s // 4}" for s in step],  # constant within a batch
            "t": [dt.datetime(2024, 1, 1) + dt.timedelta(minutes=17 * int(s)) for s in step],
        }
    )


def _dask(log: pl.DataFrame, partitions: int = 3) -> Any:
    return dd.from_pandas(log.to_pandas(), npartitions=partitions)


def _collection(**options: Any) -> im.MetricCollection:
    return im.MetricCollection(
        {
            "loss": im.Mean(**options),
            "low": im.Min(**options),
            "accuracy": im.BinaryAccuracy(**options),
            "precision": im.Precision(**options),
        }
    )


def _assert_same(there: Any, here: Any) -> None:
    polars.testing.assert_frame_equal(there.history, here.history)
    polars.testing.assert_frame_equal(there.breakdown(), here.breakdown())
    assert there.streams == here.streams and there.step == here.step
    np.testing.assert_equal(there.result(), here.result())  # NaN equals NaN here


def _state(target: Any) -> tuple[Any, ...]:
    """Everything a failed replay must leave as it was."""
    if isinstance(target, im.Metric):
        return target.history.clone(), dict(target.state), target.step
    if isinstance(target, im.MetricCollection):
        return target.history.clone(), target.result(), target.step
    return target.history.clone(), target.breakdown().clone(), list(target.streams), target.step


def _unchanged(before: tuple[Any, ...], target: Any) -> bool:
    after = _state(target)
    same = [
        a.equals(b) if isinstance(a, pl.DataFrame) else a == b
        for a, b in zip(before, after, strict=True)
    ]
    if isinstance(target, im.Metric):
        same[1] = all(np.array_equal(before[1][k], after[1][k]) for k in before[1])
    return all(same)


# -- 1. the streams of a collection on a cluster ----------------------------------------------


@pytest.mark.parametrize("stream", ["sensor", ["sensor", "site"]])
def test_collection_streams_on_a_cluster_equal_one_machine(client, stream) -> None:
    log = _log()
    there = _collection().streams().replay(_dask(log, 4), batch="step", stream=stream, **COLUMNS)
    here = _collection().streams().replay(log, batch="step", stream=stream, **COLUMNS)
    _assert_same(there, here)
    assert there.history.height == here.history.height > 12
    assert (
        there.key_names == here.key_names == (("stream",) if stream == "sensor" else tuple(stream))
    )
    for name, member in there.members.items():  # each member equals its own Streams replay
        alone = im.Streams(type(member.metric)()).replay(
            log, batch="step", stream=stream, **_inputs(name)
        )
        polars.testing.assert_frame_equal(member.history, alone.history)
    # a number from the rows: stream "a"'s pooled mean loss
    rows = log.filter(pl.col("sensor") == "a")
    if stream == "sensor":
        assert there.members["loss"]["a"].result() == rows["loss"].sum() / rows.height


def _inputs(name: str) -> dict[str, str]:
    return {"values": "loss"} if name in ("loss", "low") else {"y_true": "label", "y_pred": "score"}


def test_collection_streams_with_members_that_drop_different_samples(client) -> None:
    # NaN losses, dropped by the NaN-ignoring members only: the members see other streams
    log = _log(seed=3).with_columns(
        loss=pl.when(pl.col("sensor") == "c").then(float("nan")).otherwise(pl.col("loss"))
    )
    members = {"loss": im.Mean(nan_strategy="ignore"), "total": im.Sum(), "n": im.Count()}
    there = (
        im.MetricCollection(members)
        .streams()
        .replay(_dask(log, 4), batch="step", stream=["sensor", "site"], values="loss")
    )
    here = (
        im.MetricCollection({k: type(v)(**v.get_config()) for k, v in members.items()})
        .streams()
        .replay(log, batch="step", stream=["sensor", "site"], values="loss")
    )
    _assert_same(there, here)
    assert len(there.members["loss"].streams) < len(there.members["total"].streams)
    assert np.isnan(there.result()["total"]) and not np.isnan(there.result()["loss"])


def test_collection_streams_through_the_any_engine_steps() -> None:
    log = _log(n=120)
    target = _collection().streams()
    parts = [
        partial_states(
            log[i : i + 50], target, batch="step", stream="sensor", partition=i // 50, **COLUMNS
        )
        for i in range(0, log.height, 50)
    ]
    rules = merge_rules(target)
    assert rules["loss/rows"] == "sum" and rules["precision/first_row"] == "min"
    apply_partials(target, pd.concat(parts))
    here = _collection().streams().replay(log, batch="step", stream="sensor", **COLUMNS)
    _assert_same(target, here)


def test_a_failed_collection_streams_replay_on_a_cluster_changes_nothing(client) -> None:
    s = _collection().streams()
    s.replay(_log(n=40).filter(pl.col("step") < 3), batch="step", stream="sensor", **COLUMNS)
    before = _state(s)
    # a negative weight in one partition only: refused on a worker
    bad = _log().with_columns(w=pl.when(pl.col("step") == 7).then(-1.0).otherwise(pl.col("w")))
    with pytest.raises(ValueError, match=r"`sample_weight` must be >= 0"):
        s.replay(_dask(bad, 4), batch="step", stream="sensor", sample_weight="w", **COLUMNS)
    assert _unchanged(before, s)
    # batch ids that cannot sit beside the earlier Int64 ones: refused on the driver
    later = _log(n=30).with_columns(step=pl.col("step").cast(pl.Int64) * pl.duration(seconds=1))
    with pytest.raises(ValueError, match=r"`batch` ids of dtype Duration.* beside the Int64"):
        s.replay(_dask(later), batch="step", stream="sensor", **COLUMNS)
    assert _unchanged(before, s)
    with pytest.raises(ValueError, match=r"`stream` must be keys of the shape"):
        s.replay(_dask(_log()), batch="step", stream=["sensor", "site"], **COLUMNS)
    with pytest.raises(TypeError, match=r"CollectionStreams.replay\(\) takes one column name"):
        s.replay(_dask(_log()), batch="step", stream="sensor", values="loss")
    with pytest.raises(TypeError, match=r"needs `stream`"):
        im.distributed.replay_dask(s, _dask(_log()), batch="step", **COLUMNS)
    assert _unchanged(before, s)


# -- 2. epochs and time buckets ---------------------------------------------------------------


def _targets() -> list[tuple[str, Any, dict[str, Any]]]:
    return [
        ("metric", lambda: im.Mean(), {"values": "loss", "sample_weight": "w"}),
        (
            "streams",
            lambda: im.Streams(im.Precision()),
            {"y_true": "label", "y_pred": "score", "stream": ["sensor", "site"]},
        ),
        ("collection", _collection, {**COLUMNS, "sample_weight": "w"}),
        ("collection streams", lambda: _collection().streams(), {**COLUMNS, "stream": "sensor"}),
    ]


@pytest.mark.parametrize(
    "time",
    [
        {"reset": "epoch"},
        {"every": "1h", "batch": "t"},
        {"reset": "period", "every": "1h", "batch": "t"},
    ],
)
@pytest.mark.parametrize("kind", [k for k, _, _ in _targets()])
def test_epochs_and_time_buckets_on_a_cluster_equal_one_machine(client, kind, time) -> None:
    _, make, columns = next(t for t in _targets() if t[0] == kind)
    log = _log().with_columns(period=pl.col("t").dt.truncate("2h"))  # epochs of datetimes
    options = {"batch": "step", **columns, **time}
    there = make().replay(_dask(log, 4), **options)
    here = make().replay(log, **options)
    polars.testing.assert_frame_equal(there.history, here.history)
    if "reset" in time:
        assert "reset" in there.history["event"].to_list()
    if kind in ("streams", "collection streams"):
        _assert_same(there, here)
    if kind.startswith("collection"):  # each member equals its own replay, alone
        members = there.members if kind == "collection streams" else dict(there.items())
        for name, member in members.items():
            own = {k: v for k, v in options.items() if k not in COLUMNS or k in _inputs(name)}
            metric = member.metric if kind == "collection streams" else member
            fresh = type(metric)()
            alone = (im.Streams(fresh) if kind == "collection streams" else fresh).replay(
                log, **own
            )
            polars.testing.assert_frame_equal(member.history, alone.history)


def test_epochs_equal_a_loop_that_resets(client) -> None:
    log = _log(n=120, seed=7)
    on_cluster = im.Mean().replay(_dask(log), values="loss", batch="step", reset="epoch")
    loop = im.Mean()
    epoch = None
    for step in range(12):
        part = log.filter(pl.col("step") == step)
        if part["epoch"][0] != epoch:
            loop.reset_state()
            epoch = part["epoch"][0]
        loop.update_state(part["loss"].to_numpy())
    assert on_cluster.history.drop("log_batch").equals(loop.history)
    assert on_cluster.result() == log.filter(pl.col("epoch") == "e2")["loss"].mean()


def test_time_buckets_name_each_bucket_by_its_start(client) -> None:
    log = _log(n=60)
    m = im.Sum().replay(_dask(log), values="loss", batch="t", every="1h")
    hours = sorted({t.replace(minute=0) for t in log["t"].to_list()})
    assert m.history["log_batch"].to_list() == hours
    sums = log.group_by(pl.col("t").dt.truncate("1h")).agg(pl.col("loss").sum()).sort("t")
    assert m.history["batch_total"].to_list() == sums["loss"].to_list()


@pytest.mark.parametrize("kind", [k for k, _, _ in _targets()])
def test_a_batch_split_over_epochs_on_a_cluster_changes_nothing(client, kind) -> None:
    _, make, columns = next(t for t in _targets() if t[0] == kind)
    target = make()
    target.replay(_log(n=30), batch="step", **columns)
    before = _state(target)
    # batch 5's rows lie in two epochs, in different partitions
    bad = _log().with_columns(
        epoch=pl.when((pl.col("step") == 5) & (pl.int_range(pl.len()) % 2 == 0))
        .then(pl.lit("e9"))
        .otherwise(pl.col("epoch"))
    )
    with pytest.raises(
        ValueError, match=r"'epoch' \(for `reset`\) must be constant within a batch"
    ):
        target.replay(_dask(bad, 4), batch="step", reset="epoch", **columns)
    assert _unchanged(before, target)
    with pytest.raises(TypeError, match=r"`every` buckets a column of dates or datetimes"):
        target.replay(_dask(_log()), batch="step", every="1h", **columns)
    with pytest.raises(ValueError, match=r"`every` must be a polars duration"):
        target.replay(_dask(_log()), batch="t", every="soon", **columns)
    with pytest.raises(ValueError, match=r"column 'nope' \(for `reset`\) is not in the data"):
        target.replay(_dask(_log()), batch="step", reset="nope", **columns)
    nulls = _log().with_columns(
        epoch=pl.when(pl.col("step") == 2).then(None).otherwise(pl.col("epoch"))
    )
    with pytest.raises(ValueError, match=r"column 'epoch' \(for `reset`\) has \d+ null"):
        target.replay(_dask(nulls), batch="step", reset="epoch", **columns)
    assert _unchanged(before, target)


# -- 3. missing values are NaN, as update_state reads them -----------------------------------


def _with_nulls(log: pl.DataFrame, seed: int = 2) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    missing = pl.Series(rng.random(log.height) < 0.1)
    return log.with_columns(
        loss=pl.when(missing).then(None).otherwise(pl.col("loss")),
        score=pl.when(pl.Series(rng.random(log.height) < 0.1))
        .then(None)
        .otherwise(pl.col("score")),
    )


def _loop(make: Any, log: pl.DataFrame, stream: str | None = None, **columns: str) -> Any:
    """update_state once per batch, fed the log's own polars columns (nulls and all)."""
    target = make()
    for step in sorted(set(log["step"].to_list())):
        part = log.filter(pl.col("step") == step)
        inputs = {name: part[column] for name, column in columns.items()}
        if stream is not None:
            inputs["stream"] = part[stream]
        target.update_state(**inputs)
    return target


@pytest.mark.parametrize("strategy", ["propagate", "ignore"])
def test_nulls_in_value_columns_equal_the_update_loop(client, strategy) -> None:
    log = _with_nulls(_log())
    assert log["loss"].null_count() and log["score"].null_count()
    loop = _loop(lambda: im.Mean(nan_strategy=strategy), log, values="loss")
    for data in (log, log.to_pandas(), _dask(log)):  # pandas: NaN; Dask: NaN on the workers
        replayed = im.Mean(nan_strategy=strategy).replay(data, values="loss", batch="step")
        assert replayed.history.drop("log_batch").equals(loop.history)
    loop = _loop(lambda: im.Streams(im.Mean(nan_strategy=strategy)), log, "sensor", values="loss")
    for data in (log, _dask(log)):
        replayed = im.Streams(im.Mean(nan_strategy=strategy)).replay(
            data, values="loss", batch="step", stream="sensor"
        )
        polars.testing.assert_frame_equal(replayed.breakdown(), loop.breakdown())
        assert replayed.merged().history.drop("log_batch").equals(loop.merged().history)
    if strategy == "ignore":  # the numbers: the mean of the values that are there
        assert replayed.result() == log["loss"].drop_nulls().mean()


def test_nulls_in_a_collection_and_its_streams_equal_the_update_loop(client) -> None:
    log = _with_nulls(_log(), seed=4).with_columns(label=pl.col("label").cast(pl.Boolean))
    log = log.with_columns(label=pl.when(pl.col("step") == 3).then(None).otherwise(pl.col("label")))

    def make() -> im.MetricCollection:
        return _collection(nan_strategy="ignore")

    loop = _loop(make, log, **COLUMNS)
    rows = log.to_pandas().astype({"label": "boolean"})  # pandas' nullable booleans
    frame = dd.from_pandas(rows, npartitions=3)
    for data in (log, rows, frame):
        replayed = make().replay(data, batch="step", **COLUMNS)
        for name, member in replayed.items():
            assert member.history.drop("log_batch").equals(loop[name].history), name
    loop_streams = _loop(lambda: make().streams(), log, "sensor", **COLUMNS)
    for data in (log, frame):
        replayed_streams = make().streams().replay(data, batch="step", stream="sensor", **COLUMNS)
        polars.testing.assert_frame_equal(replayed_streams.breakdown(), loop_streams.breakdown())


def test_nan_strategy_error_refuses_nulls_and_changes_nothing(client) -> None:
    log = _with_nulls(_log())
    keyed = {"stream": "sensor"}
    for target, extra in [
        (im.Mean(nan_strategy="error"), {}),
        (im.Streams(im.Mean(nan_strategy="error")), keyed),
        (im.MetricCollection({"loss": im.Mean(nan_strategy="error")}), {}),
        (im.MetricCollection({"loss": im.Mean(nan_strategy="error")}).streams(), keyed),
    ]:
        target.replay(_log(n=20), values="loss", batch="step", **extra)
        before = _state(target)
        for data in (log, _dask(log)):
            with pytest.raises(ValueError, match=r"`values` contains \d+ sample\(s\) with NaN"):
                target.replay(data, values="loss", batch="step", **extra)
            assert _unchanged(before, target)


def test_null_batch_ids_and_weights_stay_refused(client) -> None:
    log = _log(n=40)
    no_batch = log.with_columns(
        step=pl.when(pl.col("step") == 1).then(None).otherwise(pl.col("step"))
    )
    no_weight = log.with_columns(w=pl.when(pl.col("step") == 1).then(None).otherwise(pl.col("w")))
    m = im.Mean(nan_strategy="ignore")
    m.update_state([1.0])
    before = _state(m)
    for data in (no_batch, _dask(no_batch)):
        with pytest.raises(ValueError, match=r"column 'step' \(for `batch`\) has \d+ null"):
            m.replay(data, values="loss", batch="step")
    for data in (no_weight, _dask(no_weight)):
        with pytest.raises(ValueError, match=r"column 'w' \(for `sample_weight`\) has \d+ null"):
            m.replay(data, values="loss", batch="step", sample_weight="w")
    assert _unchanged(before, m)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.integers(-8, 8).map(lambda x: x / 4)), min_size=1, max_size=30
    ),
    data=st.data(),
    strategy=st.sampled_from(["propagate", "ignore"]),
)
def test_replay_with_nulls_equals_the_loop_for_any_log(values, data, strategy) -> None:
    steps = data.draw(st.lists(st.integers(0, 4), min_size=len(values), max_size=len(values)))
    log = pl.DataFrame(
        {"step": steps, "loss": values}, schema={"step": pl.Int64, "loss": pl.Float64}
    )
    for make in (lambda: im.Mean(nan_strategy=strategy), lambda: im.Max(nan_strategy=strategy)):
        replayed = make().replay(log, values="loss", batch="step")
        loop = _loop(make, log, values="loss")
        assert replayed.history.drop("log_batch").equals(loop.history)


def test_streams_of_a_collection_check_every_member_before_writing_any(client) -> None:
    s = im.MetricCollection({"total": im.Sum(), "loss": im.Mean()}).streams()
    # only the second member holds Int64 ids (written behind the collection's back)
    s.members["loss"].replay(_log(n=10), values="loss", batch="step", stream="sensor")
    before = [(m.history.clone(), m.breakdown().clone()) for m in s.members.values()]
    later = _log(n=30).with_columns(step=pl.col("step").cast(pl.Int64) * pl.duration(seconds=1))
    for data in (later, _dask(later)):
        with pytest.raises(ValueError, match=r"`batch` ids of dtype Duration.* beside the Int64"):
            s.replay(data, batch="step", stream="sensor", values="loss")
        for (history, breakdown), member in zip(before, s.members.values(), strict=True):
            assert member.history.equals(history) and member.breakdown().equals(breakdown)
