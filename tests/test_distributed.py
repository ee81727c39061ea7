"""Replay on a Dask cluster of processes equals the single-machine replay.

The reference is `replay` on one machine (itself tested against a loop of
`update_state`) and, for the final numbers, numpy computed here from the rows.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import polars.testing
import pytest

import interactive_metrics as im
from interactive_metrics.distributed import (
    apply_partials,
    is_dask_frame,
    merge_rules,
    partial_states,
    replay_dask,
)

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def _log(n_batches: int = 25, batch_size: int = 120, seed: int = 5) -> pl.DataFrame:
    """A shuffled multi-stream log: batches spread over every partition."""
    rng = np.random.default_rng(seed)
    log = im.data.anomaly_log(n_batches=n_batches, batch_size=batch_size, seed=seed)
    n = log.height
    return log.with_columns(
        pl.col("stream").cast(pl.String),
        # dyadic values and integer weights: every float sum below is exact in any order
        value=pl.Series(rng.integers(-64, 64, n) / 8.0),
        weight=pl.Series(rng.integers(0, 4, n).astype(np.float64)),
        label=pl.Series(rng.integers(0, 3, n)),
        guess=pl.Series(rng.integers(0, 3, n)),
    ).sample(fraction=1.0, shuffle=True, seed=seed)


def _dask(log: pl.DataFrame, partitions: int = 4):
    return dd.from_pandas(log.to_pandas(), npartitions=partitions)


def test_metric_replay_on_a_cluster_equals_one_machine(client) -> None:
    log = _log()
    frame = _dask(log)
    assert is_dask_frame(frame) and frame.npartitions == 4
    for make, columns in [
        (im.Mean, {"values": "value"}),
        (im.Min, {"values": "value"}),
        (im.Max, {"values": "value"}),
        (im.Precision, {"y_true": "y_true", "y_pred": "score"}),
        (lambda: im.ConfusionMatrix(num_classes=3), {"y_true": "label", "y_pred": "guess"}),
    ]:
        here = make().replay(log, batch="batch", sample_weight="weight", **columns)
        there = replay_dask(make(), frame, batch="batch", sample_weight="weight", **columns)
        polars.testing.assert_frame_equal(there.history, here.history)  # exact: dyadic data
        assert there.history.height == 25


def test_final_result_matches_numpy(client) -> None:
    log = _log()
    mean = replay_dask(
        im.Mean(), _dask(log, 3), values="value", batch="batch", sample_weight="weight"
    )
    values, weights = log["value"].to_numpy(), log["weight"].to_numpy()
    assert mean.result() == np.sum(values * weights) / np.sum(weights)
    per_batch = (
        log.group_by("batch")
        .agg((pl.col("value") * pl.col("weight")).sum() / pl.col("weight").sum())
        .sort("batch")
    )
    np.testing.assert_allclose(mean.history["batch_result"], per_batch[:, 1], rtol=0, atol=0)


def test_streams_replay_on_a_cluster_equals_one_machine(client) -> None:
    log = _log()
    here = im.Streams(im.BinaryAccuracy()).replay(
        log, y_true="y_true", y_pred="score", batch="batch", stream="stream", sample_weight="weight"
    )
    there = replay_dask(
        im.Streams(im.BinaryAccuracy()),
        _dask(log, 5),
        y_true="y_true",
        y_pred="score",
        batch="batch",
        stream="stream",
        sample_weight="weight",
    )
    assert there.streams == here.streams  # numbered in the order a loop meets them
    polars.testing.assert_frame_equal(there.history, here.history)
    polars.testing.assert_frame_equal(there.breakdown(), here.breakdown())
    polars.testing.assert_frame_equal(there.merged().history, here.merged().history)
    assert there.result() == here.result() and there.macro_result() == here.macro_result()


def test_float_data_agrees_to_rounding(client) -> None:
    log = im.data.anomaly_log(n_batches=40, batch_size=150, seed=9).with_columns(
        pl.col("stream").cast(pl.String), pl.col("score").cast(pl.Float64) * np.pi
    )
    here = im.Streams(im.Mean()).replay(log, values="score", batch="batch", stream="stream")
    there = replay_dask(
        im.Streams(im.Mean()), _dask(log, 6), values="score", batch="batch", stream="stream"
    )
    polars.testing.assert_frame_equal(there.history, here.history, check_exact=False, rel_tol=1e-12)


def test_string_batch_ids_and_a_batch_spanning_partitions(client) -> None:
    log = pl.DataFrame(
        {
            "run": ["b", "a", "c", "a", "b", "a", "c", "c"],
            "loss": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        }
    )
    there = replay_dask(im.Sum(), _dask(log, 3), values="loss", batch="run")
    here = im.Sum().replay(log, values="loss", batch="run")
    polars.testing.assert_frame_equal(there.history, here.history)
    assert there.history["batch_total"].to_list() == [12.0, 6.0, 18.0]  # a, b, c


def test_bad_rows_fail_on_a_worker_and_change_nothing(client) -> None:
    log = _log().with_columns(
        weight=pl.when(pl.col("batch") == 7).then(-1.0).otherwise(pl.col("weight"))
    )
    metric = im.Mean()
    metric.update_state([1.0, 2.0])
    before = metric.history.clone()
    with pytest.raises(ValueError, match=r"`sample_weight` must be >= 0"):
        replay_dask(metric, _dask(log), values="value", batch="batch", sample_weight="weight")
    assert metric.history.equals(before) and metric.result() == 1.5


def test_missing_columns_and_wrong_targets_are_clear_errors(client) -> None:
    frame = _dask(_log())
    with pytest.raises(ValueError, match=r"column 'loss' \(for `values`\) is not in the data"):
        replay_dask(im.Mean(), frame, values="loss", batch="batch")
    with pytest.raises(TypeError, match=r"`stream` is for Streams"):
        replay_dask(im.Mean(), frame, values="value", batch="batch", stream="stream")
    with pytest.raises(TypeError, match=r"needs `stream`"):
        replay_dask(im.Streams(im.Mean()), frame, values="value", batch="batch")
    with pytest.raises(TypeError, match=r"`data` must be a dask DataFrame, got DataFrame"):
        replay_dask(
            im.Mean(), pd.DataFrame({"batch": [1], "value": [1.0]}), values="value", batch="batch"
        )


def test_replay_accepts_a_dask_frame(client) -> None:
    log = _log()
    frame = _dask(log)
    here = im.Mean().replay(log, values="value", batch="batch")
    assert im.Mean().replay(frame, values="value", batch="batch").history.equals(here.history)
    streams = im.Streams(im.Mean()).replay(frame, values="value", batch="batch", stream="stream")
    assert streams.result() == here.result()


def test_any_engine_partial_states_then_merge_then_apply() -> None:
    """The Spark / Ray recipe, with polars as the engine: partitions, group-by, driver."""
    log = _log(n_batches=12, batch_size=80, seed=8)
    target = im.Streams(im.Precision())
    columns = {"y_true": "y_true", "y_pred": "score"}
    partitions = [log[i : i + 250] for i in range(0, log.height, 250)]
    partials = pl.concat(
        [
            pl.from_pandas(
                partial_states(rows, target, batch="batch", stream="stream", partition=i, **columns)
            )
            for i, rows in enumerate(partitions)
        ]
    )
    rules = merge_rules(target)
    assert rules == {
        "first_row": "min",
        "weight": "sum",
        "true_positives": "sum",
        "false_positives": "sum",
    }
    merged = partials.group_by(["batch", "stream"]).agg(
        getattr(pl.col(column), how)() for column, how in rules.items()
    )
    assert merged.height < partials.height  # batches did span partitions
    apply_partials(target, merged)
    here = im.Streams(im.Precision()).replay(log, batch="batch", stream="stream", **columns)
    polars.testing.assert_frame_equal(target.history, here.history)
    polars.testing.assert_frame_equal(target.breakdown(), here.breakdown())
    with pytest.raises(ValueError, match=r"missing \['weight'\]"):
        apply_partials(im.Streams(im.Precision()), merged.drop("weight"))


def test_missing_stream_keys_on_a_cluster_follow_null_stream(client) -> None:
    # NaN and None keys (pandas' missing-value markers) are one stream, as on one machine
    log = pd.DataFrame(
        {
            "step": [1, 1, 2, 2, 3, 3],
            "sensor": [1.0, np.nan, None, 1.0, np.nan, 2.0],
            "loss": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0],
        }
    )
    frame = dd.from_pandas(log, npartitions=3)
    on_cluster = im.Streams(im.Sum(), null_stream="unknown").replay(
        frame, values="loss", batch="step", stream="sensor"
    )
    at_home = im.Streams(im.Sum(), null_stream="unknown").replay(
        pl.from_pandas(log), values="loss", batch="step", stream="sensor"
    )
    assert on_cluster.streams == at_home.streams == [1.0, "unknown", 2.0]
    assert on_cluster["unknown"].result() == 22.0 == on_cluster[np.nan].result()
    polars.testing.assert_frame_equal(on_cluster.breakdown(), at_home.breakdown())
    with pytest.raises(ValueError, match="missing key"):
        im.Streams(im.Sum()).replay(frame, values="loss", batch="step", stream="sensor")


def test_a_cluster_replay_whose_ids_cannot_sit_beside_earlier_ones_changes_nothing(client):
    first = pd.DataFrame({"step": [1, 2], "sensor": ["a", "b"], "loss": [1.0, 2.0]})
    later = pd.DataFrame(
        {"step": pd.to_timedelta([1, 2], unit="s"), "sensor": ["a", "c"], "loss": [4.0, 8.0]}
    )
    for target in (im.Mean(), im.Streams(im.Mean())):
        kw = {"stream": "sensor"} if isinstance(target, im.Streams) else {}
        target.replay(dd.from_pandas(first, npartitions=2), values="loss", batch="step", **kw)
        history, step = target.history, target.step
        with pytest.raises(ValueError, match=r"`batch` ids of dtype Duration.* beside the Int64"):
            target.replay(dd.from_pandas(later, npartitions=2), values="loss", batch="step", **kw)
        assert target.history.equals(history) and target.step == step
        if isinstance(target, im.Streams):
            assert target.streams == ["a", "b"] and target.merged().step == step
    # on its own, the same log keeps its durations (workers ship their physical integers)
    fresh = im.Mean().replay(dd.from_pandas(later, npartitions=2), values="loss", batch="step")
    assert fresh.history["log_batch"].to_list() == [
        dt.timedelta(seconds=1),
        dt.timedelta(seconds=2),
    ]


# -- composite keys --------------------------------------------------------------------------


def test_composite_keys_on_a_cluster_equal_one_machine(client) -> None:
    log = _log().with_columns(
        site=pl.Series(np.random.default_rng(3).integers(0, 3, _log().height))
    )
    columns = {"y_true": "y_true", "y_pred": "score", "sample_weight": "weight"}
    here = im.Streams(im.BinaryAccuracy()).replay(
        log, batch="batch", stream=["stream", "site"], **columns
    )
    there = replay_dask(
        im.Streams(im.BinaryAccuracy()),
        _dask(log, 5),
        batch="batch",
        stream=["stream", "site"],
        **columns,
    )
    assert len(there.streams) > len(set(log["stream"]))  # the parts do split the streams
    assert there.streams == here.streams  # tuples, numbered in the order a loop meets them
    assert all(type(key[0]) is str and type(key[1]) is int for key in there.streams)
    assert there.key_names == here.key_names == ("stream", "site")
    polars.testing.assert_frame_equal(there.history, here.history)
    polars.testing.assert_frame_equal(there.breakdown(), here.breakdown())
    polars.testing.assert_frame_equal(there.merged().history, here.merged().history)
    assert there.result() == here.result() and there.macro_result() == here.macro_result()
    # the numbers themselves, from the rows: one stream's pooled accuracy
    key = there.streams[0]
    rows = log.filter((pl.col("stream") == key[0]) & (pl.col("site") == key[1]))
    hits = ((rows["score"] >= 0.5).cast(pl.Int64) == rows["y_true"]).cast(pl.Float64)
    expected = float((hits * rows["weight"]).sum() / rows["weight"].sum())
    assert there[key].result() == pytest.approx(expected, rel=1e-12)


def test_composite_keys_through_replay_with_missing_parts(client) -> None:
    log = pd.DataFrame(
        {
            "step": [1, 1, 2, 2, 3, 3, 3],
            "sensor": ["a", "b", None, "a", "b", "a", None],
            "site": [1.0, 1.0, 2.0, np.nan, 1.0, 2.0, 2.0],
            "loss": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
        }
    )
    frame = dd.from_pandas(log, npartitions=3)
    on_cluster = im.Streams(im.Sum(), null_stream="unknown").replay(
        frame, values="loss", batch="step", stream=["sensor", "site"]
    )
    at_home = im.Streams(im.Sum(), null_stream="unknown").replay(
        pl.from_pandas(log), values="loss", batch="step", stream=["sensor", "site"]
    )
    assert on_cluster.streams == at_home.streams
    assert on_cluster[("unknown", 2.0)].result() == 68.0  # rows 3 and 7
    polars.testing.assert_frame_equal(on_cluster.history, at_home.history)
    polars.testing.assert_frame_equal(on_cluster.breakdown(), at_home.breakdown())
    # whichever partition a worker reduces first reports its part: sensor (null) or site (NaN)
    missing = r"'(sensor|site)' \(for `stream\[[01]\]`\) has \d+ (null|missing key)"
    with pytest.raises(ValueError, match=missing):
        im.Streams(im.Sum()).replay(frame, values="loss", batch="step", stream=["sensor", "site"])
    with pytest.raises(TypeError, match=r"`stream` must be a column name or a list"):
        im.Streams(im.Sum()).replay(frame, values="loss", batch="step", stream=[])
    with pytest.raises(TypeError, match=r"`reset` must be a column name"):
        im.Streams(im.Sum()).replay(
            frame, values="loss", batch="step", stream=["sensor", "site"], reset=["step"]
        )


def test_composite_keys_with_any_engine() -> None:
    log = _log(n_batches=8, batch_size=60, seed=4).with_columns(site=pl.Series(np.arange(480) % 2))
    target = im.Streams(im.Mean())
    partials = pd.concat(
        [
            partial_states(
                log[i : i + 200],
                target,
                values="value",
                batch="batch",
                stream=["stream", "site"],
                partition=i // 200,
            )
            for i in range(0, log.height, 200)
        ]
    )
    assert all(isinstance(k, tuple) for k in partials["stream"].dropna())
    apply_partials(target, partials, stream=["stream", "site"])
    here = im.Streams(im.Mean()).replay(
        log, values="value", batch="batch", stream=["stream", "site"]
    )
    polars.testing.assert_frame_equal(target.breakdown(), here.breakdown())
    polars.testing.assert_frame_equal(target.history, here.history)


# -- collections -----------------------------------------------------------------------------


def _members() -> dict[str, im.Metric]:
    return {
        "loss": im.Mean(),
        "low": im.Min(),
        "accuracy": im.BinaryAccuracy(),
        "precision": im.Precision(),
        "recall": im.Recall(),
        "confusion": im.ConfusionMatrix(num_classes=3),
    }


def _own_inputs(name: str) -> dict[str, str]:
    if name in ("loss", "low"):
        return {"values": "value"}
    if name == "confusion":
        return {"y_true": "label", "y_pred": "guess"}
    return {"y_true": "y_true", "y_pred": "score"}


def test_collection_replay_on_a_cluster_equals_each_member_and_one_machine(client) -> None:
    log = _log().with_columns(  # a 0/1 label and score for the binary members
        y_true=pl.col("label").clip(0, 1), score=pl.col("guess") / 2
    )
    columns = {"values": "value", "y_true": "y_true", "y_pred": "score"}
    frame = _dask(log, 5)
    members = {k: v for k, v in _members().items() if k != "confusion"}
    there = im.MetricCollection(members).replay(
        frame, batch="batch", sample_weight="weight", **columns
    )
    here = im.MetricCollection({k: type(v)() for k, v in members.items()}).replay(
        log, batch="batch", sample_weight="weight", **columns
    )
    polars.testing.assert_frame_equal(there.history, here.history)  # exact: dyadic data
    assert there.history.height == 25 and there.step == 25
    for name, member in there.items():
        alone = replay_dask(
            type(member)(), frame, batch="batch", sample_weight="weight", **_own_inputs(name)
        )
        polars.testing.assert_frame_equal(member.history, alone.history)
        polars.testing.assert_frame_equal(member.history, here[name].history)
    # the numbers from the rows
    values, weights = log["value"].to_numpy(), log["weight"].to_numpy()
    assert there["loss"].result() == np.sum(values * weights) / np.sum(weights)
    assert there["low"].result() == values[weights > 0].min()
    hits = (log["score"].to_numpy() > 0.5) == (log["y_true"].to_numpy() == 1)
    assert there["accuracy"].result() == pytest.approx(np.sum(hits * weights) / np.sum(weights))


def test_direct_collection_dask_replay_with_array_states(client) -> None:
    log = _log()
    frame = _dask(log, 3)
    columns = {"values": "value", "y_true": "label", "y_pred": "guess"}
    metrics = im.MetricCollection({"loss": im.Mean(), "confusion": im.ConfusionMatrix(3)})
    replay_dask(metrics, frame, batch="batch", **columns)
    alone = replay_dask(im.ConfusionMatrix(3), frame, batch="batch", y_true="label", y_pred="guess")
    polars.testing.assert_frame_equal(metrics["confusion"].history, alone.history)
    expected = np.zeros((3, 3))
    np.add.at(expected, (log["label"].to_numpy(), log["guess"].to_numpy()), 1.0)
    np.testing.assert_array_equal(metrics["confusion"].result(), expected)
    assert merge_rules(metrics)["confusion/confusion_matrix[8]"] == "sum"


def test_a_failed_collection_dask_replay_changes_no_member(client) -> None:
    first = pd.DataFrame({"step": [1, 2], "loss": [1.0, 2.0], "label": [1, 0], "score": [0.9, 0.1]})
    later = first.assign(step=pd.to_timedelta([1, 2], unit="s"))
    columns = {"values": "loss", "y_true": "label", "y_pred": "score"}
    precision, loss = im.Precision(), im.Mean()
    precision.update_state([1, 0], [0.8, 0.4])  # no log ids: Duration ids would suit it
    loss.replay(first.head(1), values="loss", batch="step")  # Int64 ids: it refuses Duration
    metrics = im.MetricCollection({"precision": precision, "loss": loss})
    before = [m.history.clone() for m in metrics.values()]
    with pytest.raises(ValueError, match=r"`batch` ids of dtype Duration.* beside the Int64"):
        metrics.replay(dd.from_pandas(later, npartitions=2), batch="step", **columns)
    # precision was prepared before loss refused: neither was written
    assert all(m.history.equals(b) for m, b in zip(metrics.values(), before, strict=True))
    assert metrics.step == 1 and precision.result() == 1.0
    bad = first.assign(weight=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"`sample_weight` must be >= 0"):
        metrics.replay(
            dd.from_pandas(bad, npartitions=2), batch="step", sample_weight="weight", **columns
        )
    assert all(m.history.equals(b) for m, b in zip(metrics.values(), before, strict=True))
    with pytest.raises(TypeError, match=r"MetricCollection.replay\(\) takes one column name"):
        metrics.replay(dd.from_pandas(first, npartitions=1), batch="step", values="loss")
    with pytest.raises(TypeError, match=r"MetricCollection.replay\(\) takes one column name"):
        replay_dask(metrics, dd.from_pandas(first, npartitions=1), batch="step", values="loss")
    with pytest.raises(TypeError, match=r"`stream` is for Streams"):
        replay_dask(
            metrics, dd.from_pandas(first, npartitions=1), batch="step", stream="loss", **columns
        )
