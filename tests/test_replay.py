"""Replay: a logged run turned into a history equals calling update_state once per batch."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score

import interactive_metrics as im
from interactive_metrics import replay as replay_module


def _loop(metric, df, batch, weight=None, stream=None, **columns):
    """The reference: update_state once per batch, batches in sorted order."""
    for key in sorted(df[batch].unique().to_list()):
        part = df.filter(pl.col(batch) == key)
        inputs = {name: part[column].to_numpy() for name, column in columns.items()}
        w = None if weight is None else part[weight].to_numpy()
        if stream is None:
            metric.update_state(**inputs, sample_weight=w)
        else:
            metric.update_state(**inputs, sample_weight=w, stream=part[stream])
    return metric


def _log(rng, n, batches=20, streams=("a", "b", "c"), integer=False):
    values = rng.integers(-20, 20, size=n).astype(float) if integer else rng.normal(size=n)
    weights = rng.integers(0, 4, size=n) / 2 if integer else rng.uniform(0, 2, size=n)
    return pl.DataFrame(
        {
            "step": rng.choice(np.arange(0, 3 * batches, 3), size=n),  # gaps, unsorted
            "loss": values,
            "w": weights,
            "sensor": rng.choice(list(streams), size=n),
            "label": rng.integers(0, 2, size=n),
            "score": rng.uniform(size=n),
        }
    )


def _same(a: pl.DataFrame, b: pl.DataFrame, exact: bool) -> None:
    # a replayed history also names each row's batch (tested on its own below); a loop does not
    a, b = a.drop("log_batch", strict=False), b.drop("log_batch", strict=False)
    assert a.columns == b.columns and a.height == b.height
    for column in a.columns:
        if exact or a[column].dtype in (pl.Int64, pl.String) or column == "event":
            assert a[column].equals(b[column]), column
        else:
            # sums added in another order: rounding relative to the inputs (|loss| <= 1 over
            # at most a few hundred samples), so a result near 0 gets an absolute tolerance
            np.testing.assert_allclose(
                a[column].to_numpy(), b[column].to_numpy(), rtol=1e-12, atol=1e-13
            )


# -- replay equals the update loop -------------------------------------------------------------

METRICS = {
    "mean": (im.Mean, {"values": "loss"}),
    "sum": (im.Sum, {"values": "loss"}),
    "count": (im.Count, {"values": "loss"}),
    "min": (im.Min, {"values": "loss"}),
    "max": (im.Max, {"values": "loss"}),
    "absolute_error": (
        lambda: im.MeanMetricWrapper(lambda t, p: np.abs(t - p), name="abs"),
        {"y_true": "label", "y_pred": "score"},
    ),
    "binary_accuracy": (im.BinaryAccuracy, {"y_true": "label", "y_pred": "score"}),
}


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 200),
    metric=st.sampled_from(sorted(METRICS)),
    weighted=st.booleans(),
    integer=st.booleans(),
)
def test_replay_equals_update_loop(seed, n, metric, weighted, integer):
    make, columns = METRICS[metric]
    df = _log(np.random.default_rng(seed), n, integer=integer)
    weight = "w" if weighted else None
    replayed = make().replay(df, batch="step", sample_weight=weight, **columns)
    looped = _loop(make(), df, "step", weight, **columns)
    # integer data: every sum is exact, so the histories are identical to the bit
    _same(replayed.history, looped.history, exact=integer and metric != "absolute_error")
    assert replayed.step == looped.step == df["step"].n_unique()


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 200),
    metric=st.sampled_from(["mean", "sum", "max", "binary_accuracy"]),
    weighted=st.booleans(),
    integer=st.booleans(),
)
def test_streams_replay_equals_update_loop(seed, n, metric, weighted, integer):
    make, columns = METRICS[metric]
    df = _log(np.random.default_rng(seed), n, streams=("x", "y", "z", "w"), integer=integer)
    weight = "w" if weighted else None
    replayed = im.Streams(make()).replay(
        df, batch="step", stream="sensor", sample_weight=weight, **columns
    )
    looped = _loop(im.Streams(make()), df, "step", weight, stream="sensor", **columns)
    assert replayed.streams == looped.streams  # first met in batch order, then row order
    _same(replayed.history, looped.history, exact=True)  # same bincounts, same order
    _same(replayed.merged().history, looped.merged().history, exact=integer)
    _same(replayed.breakdown(), looped.breakdown(), exact=True)
    assert replayed.step == looped.step


@pytest.mark.parametrize(
    "options",
    [{"history_every": 3}, {"history_last": 2}, {"history": False}, {"summation": "kahan"}],
    ids=["every", "last", "off", "kahan"],
)
def test_streams_replay_with_history_options_equals_update_loop(options):
    df = _log(np.random.default_rng(11), 300, batches=10, streams=("x", "y", "z"), integer=True)
    replayed = im.Streams(im.Mean(**options))
    replayed.update_state([1.0, 2.0], stream=["x", "q"])  # replay continues what is there
    looped = im.Streams(im.Mean(**options))
    looped.update_state([1.0, 2.0], stream=["x", "q"])
    replayed.replay(df, batch="step", stream="sensor", sample_weight="w", values="loss")
    _loop(looped, df, "step", "w", stream="sensor", values="loss")
    _same(replayed.history, looped.history, exact=True)
    _same(replayed.merged().history, looped.merged().history, exact=True)
    for key in looped.streams:
        _same(replayed[key].history, looped[key].history, exact=True)
    assert replayed.step == looped.step == 11


@pytest.mark.parametrize("options", [{}, {"history_every": 2}, {"history_last": 2}])
def test_history_names_each_replayed_batch(options):
    days = [dt.date(2024, 6, d) for d in (3, 1, 3, 2, 5)]
    df = pl.DataFrame({"day": days, "loss": [1.0, 2.0, 3.0, 4.0, 5.0], "sensor": list("abaab")})
    m = im.Mean(**options)
    m.update_state([0.0])  # rows of update_state name no batch
    m.replay(df, values="loss", batch="day")
    m.replay(df.with_columns(pl.col("day") + dt.timedelta(days=10)), values="loss", batch="day")
    ids = sorted(set(days)) + sorted({d + dt.timedelta(days=10) for d in days})
    by_step = dict(zip(range(2, 2 + len(ids)), ids, strict=True))  # step 1 is the update
    h = m.history
    assert h.columns[:4] == ["step", "event", "log_batch", "batch_total"]  # not a batch_ field
    for kind in ("history", "batch_sums", "sum_vs_mean"):  # charts read the history as before
        assert m.plot(kind).to_dict()
    assert h["log_batch"].to_list() == [by_step.get(step) for step in h["step"]]
    assert h["log_batch"].dtype == pl.Date
    s = im.Streams(im.Mean(**options)).replay(df, values="loss", batch="day", stream="sensor")
    merged = s.merged().history
    assert merged["log_batch"].to_list() == [sorted(set(days))[step - 1] for step in merged["step"]]


def test_replay_continues_from_the_current_state():
    df = pl.DataFrame({"step": [1, 1, 2], "loss": [1.0, 2.0, 6.0]})
    m = im.Mean()
    m.update_state([10.0])
    m.replay(df, values="loss", batch="step")
    assert m.history.select("step", "batch_total", "running_total", "result").rows() == [
        (1, 10.0, 10.0, 10.0),
        (2, 3.0, 13.0, 13.0 / 3),
        (3, 6.0, 19.0, 19.0 / 4),
    ]
    assert m.state == {"total": 19.0, "count": 4.0} and m.step == 3
    assert m.result_at(2) == 13.0 / 3


def test_hand_checked_weighted_replay():
    df = pl.DataFrame(
        {"step": [3, 1, 3, 1, 2], "loss": [1.0, 3.0, 5.0, 7.0, 9.0], "w": [1, 1, 0, 0, 2]}
    )
    m = im.Sum().replay(df, values="loss", batch="step", sample_weight="w")
    # batch 1: 3*1 + 7*0 = 3; batch 2: 9*2 = 18; batch 3: 1*1 + 5*0 = 1
    assert m.history["batch_total"].to_list() == [3.0, 18.0, 1.0]
    assert m.history["running_total"].to_list() == [3.0, 21.0, 22.0]


@pytest.mark.parametrize("history_option", [{"history_every": 3}, {"summation": "kahan"}])
def test_step_by_step_options_match_the_loop(history_option):
    df = _log(np.random.default_rng(3), 300)
    replayed = im.Mean(**history_option).replay(df, values="loss", batch="step")
    looped = _loop(im.Mean(**history_option), df, "step", values="loss")
    _same(replayed.history, looped.history, exact=False)
    assert replayed.result() == pytest.approx(looped.result(), rel=1e-14)


def test_history_last_keeps_the_last_rows():
    df = _log(np.random.default_rng(4), 300)
    m = im.Mean(history_last=5).replay(df, values="loss", batch="step")
    assert m.history["step"].to_list() == list(range(16, 21))


# -- sources and chunks ------------------------------------------------------------------------


def test_every_source_gives_the_same_history(tmp_path):
    df = _log(np.random.default_rng(5), 500)
    df.write_parquet(tmp_path / "log.parquet")
    df.write_csv(tmp_path / "log.csv")
    reference = im.Mean().replay(df, values="loss", batch="step", sample_weight="w").history
    for source in (
        df.lazy(),
        df.to_pandas(),
        tmp_path / "log.parquet",
        str(tmp_path / "log.csv"),
    ):
        got = im.Mean().replay(source, values="loss", batch="step", sample_weight="w").history
        _same(got, reference, exact=False)


@pytest.mark.parametrize("lazy", [False, True])
def test_chunks_merge_partial_states_exactly(monkeypatch, lazy):
    df = _log(np.random.default_rng(6), 1000, integer=True).sort("step")
    one = im.Streams(im.Mean()).replay(
        df, values="loss", batch="step", stream="sensor", sample_weight="w"
    )
    monkeypatch.setattr(replay_module, "CHUNK_ROWS", 37)  # batches span chunks
    source = df.lazy() if lazy else df
    many = im.Streams(im.Mean()).replay(
        source, values="loss", batch="step", stream="sensor", sample_weight="w"
    )
    _same(many.history, one.history, exact=True)
    _same(many.merged().history, one.merged().history, exact=True)
    m = im.Mean().replay(source, values="loss", batch="step", sample_weight="w")
    _same(m.history, one.merged().history, exact=True)


def test_batch_ids_of_other_types():
    values = [1.0, 2.0, 3.0, 4.0]
    by_name = pl.DataFrame({"epoch": ["b", "a", "b", "c"], "loss": values})
    m = im.Sum().replay(by_name, values="loss", batch="epoch")
    assert m.history["batch_total"].to_list() == [2.0, 4.0, 4.0]  # a, b, c
    day = dt.date(2024, 1, 1)
    by_day = pl.DataFrame({"day": [day + dt.timedelta(d) for d in (2, 0, 2, 1)], "loss": values})
    m = im.Sum().replay(by_day, values="loss", batch="day")
    assert m.history["batch_total"].to_list() == [2.0, 4.0, 4.0]


def test_array_columns_are_multidimensional_inputs():
    df = pl.DataFrame(
        {"step": [1, 1, 2], "v": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [0.0, 0.0, 3.0]]},
        schema={"step": pl.Int64, "v": pl.Array(pl.Float64, 3)},
    )
    m = im.Mean().replay(df, values="v", batch="step")
    looped = im.Mean()
    looped.update_state([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    looped.update_state([[0.0, 0.0, 3.0]])
    assert m.history.drop("log_batch").equals(looped.history)


def test_streams_order_is_the_loops_order_not_the_tables():
    df = pl.DataFrame({"step": [2, 2, 1], "sensor": ["z", "y", "a"], "loss": [1.0, 2.0, 3.0]})
    s = im.Streams(im.Sum()).replay(df, values="loss", batch="step", stream="sensor")
    assert s.streams == ["a", "z", "y"]
    assert s.history.select("step", "stream").rows() == [(1, "a"), (2, "z"), (2, "y")]


def test_streams_replay_classification_against_sklearn():
    rng = np.random.default_rng(7)
    df = _log(rng, 2000, batches=40, streams=("s1", "s2", "s3"))
    s = im.Streams(im.BinaryAccuracy()).replay(
        df, y_true="label", y_pred="score", batch="step", stream="sensor", sample_weight="w"
    )
    labels = (df["score"].to_numpy() > 0.5).astype(int)
    for key, result in s.breakdown().select("stream", "result").rows():
        mask = (df["sensor"] == key).to_numpy()
        expected = accuracy_score(
            df["label"].to_numpy()[mask], labels[mask], sample_weight=df["w"].to_numpy()[mask]
        )
        assert result == pytest.approx(expected)


def test_streams_replay_after_updates_continues_each_stream():
    s = im.Streams(im.Sum())
    s.update_state([100.0], stream="b")
    df = pl.DataFrame({"step": [1, 1, 2], "sensor": ["a", "b", "b"], "loss": [1.0, 2.0, 3.0]})
    s.replay(df, values="loss", batch="step", stream="sensor")
    assert s.streams == ["b", "a"]
    assert s.history.select("step", "stream", "running_total").rows() == [
        (1, "b", 100.0),
        (2, "b", 102.0),
        (2, "a", 1.0),
        (3, "b", 105.0),
    ]
    assert s["b"].history["running_total"].to_list() == [100.0, 102.0, 105.0]
    assert s.merged().history["running_total"].to_list() == [100.0, 103.0, 106.0]


def test_nan_ignore_keeps_emptied_batches_as_steps():
    df = pl.DataFrame({"step": [1, 2, 2, 3], "sensor": ["a", "a", "b", "b"]}).with_columns(
        loss=pl.Series([1.0, np.nan, np.nan, 5.0])
    )
    m = im.Mean(nan_strategy="ignore").replay(df, values="loss", batch="step")
    assert m.history["batch_count"].to_list() == [1.0, 0.0, 1.0]
    assert m.result() == 3.0
    s = im.Streams(im.Mean(nan_strategy="ignore"))
    s.replay(df, values="loss", batch="step", stream="sensor")
    assert s.step == 3 and s.history["step"].to_list() == [1, 3]


def test_nan_error_names_the_input_and_changes_nothing():
    df = pl.DataFrame({"step": [1, 2], "sensor": ["a", "b"], "loss": [1.0, np.nan]})
    for target, keys in (
        (im.Mean(nan_strategy="error"), {}),
        (im.Streams(im.Mean(nan_strategy="error")), {"stream": "sensor"}),
    ):
        with pytest.raises(ValueError, match=r"`values` contains 1 sample\(s\) with NaN"):
            target.replay(df, values="loss", batch="step", **keys)
        assert target.step == 0 and target.history.height == 0


def test_empty_log_changes_nothing_but_is_valid():
    df = pl.DataFrame({"step": [], "loss": []}, schema={"step": pl.Int64, "loss": pl.Float64})
    m = im.Mean().replay(df, values="loss", batch="step")
    assert m.step == 0 and m.history.height == 0


def test_null_stream_label_in_replay():
    df = pl.DataFrame({"step": [1, 1, 2], "sensor": ["a", None, None], "loss": [1.0, 2.0, 3.0]})
    s = im.Streams(im.Sum(), null_stream="unknown")
    s.replay(df, values="loss", batch="step", stream="sensor")
    assert s.breakdown().select("stream", "total").rows() == [("a", 1.0), ("unknown", 5.0)]


# -- bad input --------------------------------------------------------------------------------


def _bad_frames():
    good = pl.DataFrame({"step": [1, 2], "loss": [1.0, 2.0], "sensor": ["a", "b"], "w": [1, 1]})
    return {
        "missing": (good, {"values": "los"}, ValueError, r"column 'los' \(for `values`\) is not"),
        "text": (
            good.with_columns(pl.col("loss").cast(pl.String)),
            {"values": "loss"},
            TypeError,
            r"column 'loss' \(for `values`\) must hold numbers, got dtype String",
        ),
        "null batch": (
            good.with_columns(step=pl.Series([1, None])),
            {"values": "loss"},
            ValueError,
            r"column 'step' \(for `batch`\) has 1 null",
        ),
        "null weight": (
            good.with_columns(w=pl.Series([1, None])),
            {"values": "loss", "sample_weight": "w"},
            ValueError,
            r"column 'w' \(for `sample_weight`\) has 1 null",
        ),
        "negative weight": (
            good.with_columns(w=pl.Series([1, -1])),
            {"values": "loss", "sample_weight": "w"},
            ValueError,
            r"`sample_weight` must be >= 0",
        ),
        "unknown keyword": (
            good,
            {"values": "loss", "y_pred": "loss"},
            TypeError,
            r"Mean.replay\(\) takes one column name per input \(values=\"...\"\), got unknown",
        ),
        "no input": (good, {}, TypeError, r"got no column for \['values'\]"),
        "nan batch": (
            good.with_columns(step=pl.Series([1.0, float("nan")])),
            {"values": "loss"},
            ValueError,
            r"column 'step' \(for `batch`\) has NaN batch ids",
        ),
    }


@pytest.mark.parametrize("case", list(_bad_frames()))
def test_bad_logs_raise_and_change_nothing(case):
    df, kwargs, error, match = _bad_frames()[case]
    m = im.Mean()
    m.update_state([5.0])
    before = (m.history, m.state, m.step)
    with pytest.raises(error, match=match):
        m.replay(df, batch="step", **kwargs)
    assert m.history.equals(before[0]) and (m.state, m.step) == before[1:]


def test_a_bad_row_in_a_late_chunk_changes_nothing(monkeypatch):
    monkeypatch.setattr(replay_module, "CHUNK_ROWS", 10)
    df = pl.DataFrame({"step": np.arange(100) // 7, "loss": np.arange(100.0)})
    df = df.with_columns(loss=pl.when(pl.col("loss") == 95).then(None).otherwise(pl.col("loss")))
    s = im.Streams(im.Mean(nan_strategy="error"))  # a missing value is NaN: refused here
    s.update_state([1.0], stream="a")
    before = (s.history, s.merged().history, s.breakdown(), s.step)
    with pytest.raises(ValueError, match=r"`values` contains 1 sample\(s\) with NaN"):
        s.replay(df.with_columns(sensor=pl.lit("b")), values="loss", batch="step", stream="sensor")
    after = (s.history, s.merged().history, s.breakdown(), s.step)
    assert all(x.equals(y) for x, y in zip(before[:3], after[:3], strict=True))
    assert before[3] == after[3] and s.streams == ["a"]


def test_null_stream_keys_need_a_label():
    df = pl.DataFrame({"step": [1, 1], "sensor": ["a", None], "loss": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"column 'sensor' \(for `stream`\) has 1 null"):
        im.Streams(im.Sum()).replay(df, values="loss", batch="step", stream="sensor")


def test_bad_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="`data` must be an existing file"):
        im.Mean().replay(tmp_path / "nope.parquet", values="loss", batch="step")
    (tmp_path / "log.json").write_text("{}")
    with pytest.raises(ValueError, match=r"`data` must be a .csv or .parquet file"):
        im.Mean().replay(tmp_path / "log.json", values="loss", batch="step")
    with pytest.raises(TypeError, match="`data` must be a polars DataFrame or LazyFrame"):
        im.Mean().replay({"loss": [1.0]}, values="loss", batch="step")


def test_pandas_source_with_nan_is_a_missing_value():
    df = pd.DataFrame({"step": [1, 2], "loss": [1.0, None]})
    # pandas' missing float is NaN, a polars null once read: NaN again, as update_state reads it
    assert np.isnan(im.Mean().replay(df, values="loss", batch="step").result())
    assert im.Mean(nan_strategy="ignore").replay(df, values="loss", batch="step").result() == 1.0
    with pytest.raises(ValueError, match=r"`values` contains 1 sample\(s\) with NaN"):
        im.Mean(nan_strategy="error").replay(df, values="loss", batch="step")
