"""The weighted path of Sum and Mean (terms that only wrap their inputs): exact, checked, whole."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

import interactive_metrics as im
from interactive_metrics.core.weights import weighted_samples
from interactive_metrics.metric import Metric, StateField

CHUNK = 1 << 17  # the metric reduces batches of other metrics in chunks of this size
# lengths around the chunk size, which Sum and Mean never chunk
LENGTHS = [0, 1, 7, 64, 4095, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5]


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("cls", [im.Sum, im.Mean])
def test_weighted_sum_and_mean_against_exact_sums(cls, n):
    rng = np.random.default_rng(n)
    v, w = rng.normal(size=n), rng.random(n)
    m = cls()
    m.update_state(v, sample_weight=w)
    total, count = math.fsum((v * w).tolist()), math.fsum(w.tolist())
    expected = total if cls is im.Sum else (total / count if count else 0.0)
    assert m.result() == pytest.approx(expected, rel=1e-12, abs=1e-12)
    if cls is im.Mean:
        assert m.state["count"] == pytest.approx(count, rel=1e-14, abs=0)
    row = m.history.row(-1, named=True)
    assert row["batch_total"] == m.state["total"]


@pytest.mark.parametrize("n", [8, 3 * CHUNK + 1])
@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_a_bad_weight_in_a_weighted_batch_changes_nothing(n, bad):
    rng = np.random.default_rng(6)
    m = im.Mean()
    m.update_state(rng.random(4), sample_weight=rng.random(4))
    state, history = m.state, m.history
    w = rng.random(n)
    w[n - 2] = bad
    with pytest.raises(
        ValueError, match=r"`sample_weight` must be >= 0 and not NaN or infinite, got 1 bad"
    ):
        m.update_state(rng.random(n), sample_weight=w)
    assert m.state == state and m.step == 1
    assert m.history.equals(history)
    w[n - 2] = -0.0  # a zero weight, signed or not, is fine
    m.update_state(np.ones(n), sample_weight=w)
    assert m.step == 2


def test_nan_strategy_ignore_drops_samples_and_their_weights_in_a_whole_batch():
    n = CHUNK * 3
    rng = np.random.default_rng(7)
    v, w = rng.normal(size=n), rng.random(n)
    v[::5] = np.nan
    m = im.Mean(nan_strategy="ignore")
    m.update_state(v, sample_weight=w)
    keep = ~np.isnan(v)
    expected = math.fsum((v[keep] * w[keep]).tolist()) / math.fsum(w[keep].tolist())
    assert m.result() == pytest.approx(expected, rel=1e-12)
    assert m.state["count"] == pytest.approx(math.fsum(w[keep].tolist()), rel=1e-14)


@pytest.mark.parametrize("strategy", ["ignore", "error"])
def test_a_bad_weight_on_a_nan_sample_is_refused_on_every_path(strategy):
    # the weights are checked before NaN samples are dropped: metric (Sum, Mean or a wrapper),
    # streams and replay alike
    values, weight = np.array([np.nan, 1.0, 2.0]), np.array([-1.0, 1.0, 1.0])
    wrapped = im.Mean(nan_strategy=strategy)
    computed = im.MeanMetricWrapper(lambda y_true, y_pred: y_pred, nan_strategy=strategy)
    with pytest.raises(ValueError, match="`sample_weight` must be >= 0"):
        wrapped.update_state(values, sample_weight=weight)
    with pytest.raises(ValueError, match="`sample_weight` must be >= 0"):
        computed.update_state(np.zeros(3), values, sample_weight=weight)
    assert wrapped.step == computed.step == 0
    streams = im.Streams(im.Mean(nan_strategy=strategy))
    with pytest.raises(ValueError, match="`sample_weight` must be >= 0"):
        streams.update_state(values, stream=["a", "b", "a"], sample_weight=weight)
    assert streams.streams == []
    log = pl.DataFrame({"batch": [0, 0, 1], "values": values, "weight": weight})
    with pytest.raises(ValueError, match="`sample_weight` must be >= 0"):
        im.Mean(nan_strategy=strategy).replay(
            log, values="values", batch="batch", sample_weight="weight"
        )


def test_wrapped_terms_and_computed_terms_agree():
    # MeanMetricWrapper computes its values and sums them with numpy: same numbers, other path
    rng = np.random.default_rng(8)
    wrapped, computed = im.Mean(), im.MeanMetricWrapper(lambda y_true, y_pred: y_pred)
    for n in (3, 100, CHUNK * 2 + 1):
        v, w = rng.normal(size=n), rng.random(n)
        wrapped.update_state(v, sample_weight=w)
        computed.update_state(np.zeros(n), v, sample_weight=w)
        assert wrapped.result() == pytest.approx(computed.result(), rel=1e-12)
        assert wrapped.state["count"] == pytest.approx(computed.state["count"], rel=1e-13)


class WeightFirst(Metric):
    """A weighted mean that declares its count first and also keeps the largest value."""

    fields = (StateField("count"), StateField("total"), StateField("largest", reduce="max"))
    terms_wrap_inputs = True  # still accepted (it routed metrics to numba), changes nothing

    def terms(self, values, sample_weight=None):
        weighted, weight = weighted_samples(values, sample_weight, reduce="mean", factored=True)
        return {"count": 1.0 if weight is None else weight, "total": weighted, "largest": values}

    def compute(self, state):
        return state["total"] / state["count"] if state["count"] else 0.0


@pytest.mark.parametrize("n", [6, CHUNK * 2 + 5])
def test_any_order_of_fields_and_terms_that_only_wrap_inputs(n):
    rng = np.random.default_rng(9)
    v, w = rng.normal(size=n), rng.random(n)
    m = WeightFirst()
    m.update_state(v, sample_weight=w)
    assert list(m.state) == ["count", "total", "largest"]
    assert m.state["count"] == pytest.approx(math.fsum(w.tolist()), rel=1e-14)
    assert m.state["total"] == pytest.approx(math.fsum((v * w).tolist()), rel=1e-12, abs=1e-12)
    assert m.state["largest"] == v.max()
    w[0] = -1.0
    with pytest.raises(ValueError, match="`sample_weight` must be >= 0"):
        m.update_state(v, sample_weight=w)
    assert m.step == 1


def test_float32_metrics_keep_numpy_sums():
    # float32 products are summed by numpy (pairwise), in float32
    v, w = np.full(10, 0.1, dtype=np.float32), np.ones(10, dtype=np.float32)
    m = im.Sum(dtype="float32")
    m.update_state(v, sample_weight=w)
    assert m.state["total"] == float(np.add.reduce(v * w))


@pytest.mark.parametrize("n", [40, 3 * CHUNK + 11])
def test_read_only_and_strided_inputs(n):
    # polars hands out read-only arrays, and a column of a 2-D array is strided
    rng = np.random.default_rng(10)
    table = rng.random((n, 2))
    values, weight = table[:, 0], table[:, 1]  # strided views
    exact = math.fsum((values * weight).tolist()) / math.fsum(weight.tolist())
    for v, w in ((values, weight), (pl.Series(values), pl.Series(weight))):
        m = im.Mean()
        m.update_state(v, sample_weight=w)
        assert m.result() == pytest.approx(exact, rel=1e-13)


def test_a_large_weighted_batch_is_the_sum_of_its_chunks():
    # chunks of CHUNK samples, each one dot product, added in order: those bits exactly
    rng = np.random.default_rng(11)
    v, w = rng.random(3 * CHUNK + 7), rng.random(3 * CHUNK + 7)
    m = im.Sum()
    m.update_state(v, sample_weight=w)
    expected = 0.0
    for start in range(0, len(v), CHUNK):
        expected += float(np.dot(v[start : start + CHUNK], w[start : start + CHUNK]))
    assert m.result() == expected
