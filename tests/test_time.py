"""Time in replay and history: epochs (reset=), time buckets (every=), rolling windows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import interactive_metrics as im


def _log(seed: int, n: int = 300) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    step = np.sort(rng.integers(0, 30, n))
    return pl.DataFrame(
        {
            "step": step,
            "epoch": step // 10,
            "stream": rng.choice(["a", "b", "c"], n),
            "y": rng.integers(0, 2, n).astype(float),
            "p": rng.random(n),
            "t": [dt.datetime(2024, 1, 1) + dt.timedelta(minutes=int(m)) for m in step * 25],
        }
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_epochs_in_replay_are_the_loop_that_resets_every_epoch(seed: int) -> None:
    log = _log(seed)
    replayed = im.BinaryAccuracy().replay(log, y_true="y", y_pred="p", batch="step", reset="epoch")
    looped = im.BinaryAccuracy()
    for _, epoch in log.group_by("epoch", maintain_order=True):
        looped.reset_state()
        for _, batch in epoch.group_by("step", maintain_order=True):
            looped.update_state(batch["y"], batch["p"])
    assert replayed.history.drop("log_batch").equals(looped.history)
    assert replayed.history["event"].to_list().count("reset") == log["epoch"].n_unique()
    streams = im.Streams(im.BinaryAccuracy()).replay(
        log, y_true="y", y_pred="p", batch="step", stream="stream", reset="epoch"
    )
    loop = im.Streams(im.BinaryAccuracy())
    for _, epoch in log.group_by("epoch", maintain_order=True):
        loop.reset_state()
        for _, batch in epoch.group_by("step", maintain_order=True):
            loop.update_state(batch["y"], batch["p"], stream=batch["stream"])
    assert streams.history.equals(loop.history)
    assert streams.merged().history.drop("log_batch").equals(loop.merged().history)


def test_an_epoch_must_hold_whole_batches_and_a_refused_replay_changes_nothing() -> None:
    log = pl.DataFrame({"step": [1, 1, 2], "epoch": [0, 1, 1], "v": [1.0, 2.0, 3.0]})
    m = im.Mean()
    m.update_state([5.0])
    before = m.history
    with pytest.raises(ValueError, match=r"`reset`\) must be constant within a batch"):
        m.replay(log, values="v", batch="step", reset="epoch")
    assert m.history.equals(before) and m.step == 1
    with pytest.raises(ValueError, match="not in the data"):
        m.replay(log, values="v", batch="step", reset="nope")


def test_time_buckets_are_polars_truncated_datetimes() -> None:
    log = _log(2)
    bucketed = im.Mean().replay(log, values="p", batch="t", every="1h")
    hours = log.with_columns(pl.col("t").dt.truncate("1h"))
    expected = hours.group_by("t", maintain_order=True).agg(pl.col("p").mean()).sort("t")
    assert bucketed.history["log_batch"].to_list() == expected["t"].to_list()
    np.testing.assert_allclose(bucketed.history["batch_result"], expected["p"], rtol=1e-12)
    with pytest.raises(TypeError, match="buckets a column of dates or datetimes"):
        im.Mean().replay(log, values="p", batch="step", every="1h")
    with pytest.raises(ValueError, match="`every` must be a polars duration"):
        im.Mean().replay(log, values="p", batch="t", every="soon")


@given(
    window=st.integers(1, 8),
    batches=st.lists(st.lists(st.floats(-5, 5), min_size=1, max_size=6), min_size=1, max_size=15),
)
@settings(max_examples=40, deadline=None)
def test_rolling_results_equal_a_fresh_metric_on_the_window(
    window: int, batches: list[list[float]]
) -> None:
    for make in (im.Mean, im.Max, im.Min):
        m = make()
        for values in batches:
            m.update_state(values)
        rolled = m.rolling(window)["result"].to_list()
        for i in range(len(batches)):
            fresh = make()
            for values in batches[max(0, i - window + 1) : i + 1]:
                fresh.update_state(values)
            assert rolled[i] == pytest.approx(fresh.result(), rel=1e-9, abs=1e-9)


def test_streams_rolling_is_each_streams_own_rolling_result() -> None:
    log = _log(4)
    s = im.Streams(im.BinaryAccuracy()).replay(
        log, y_true="y", y_pred="p", batch="step", stream="stream"
    )
    rolled = s.rolling(3)
    for key in s.streams:
        own = s[key].rolling(3)
        mine = rolled.filter(pl.col("stream") == key)
        np.testing.assert_allclose(mine["result"], own["result"], rtol=1e-12)
    with pytest.raises(ValueError, match="`window` must be a whole number"):
        s.rolling(0)
