"""Reduction metrics against hand-checked numbers and numpy oracles."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import interactive_metrics as im


def test_sum_documented_numbers():
    m = im.Sum()
    m.update_state([1, 3, 5, 7])
    assert m.result() == 16.0
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result() == 20.0
    fresh = im.Sum()
    fresh.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert fresh.result() == 4.0


def test_mean_weight_zero_masks_and_divide_no_nan():
    m = im.Mean()
    assert m.result() == 0.0  # no weight seen yet: 0, not NaN (Keras' divide_no_nan)
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result() == 2.0
    m.update_state([100.0], sample_weight=[0.0])
    assert m.result() == 2.0


RANK2 = np.array(
    [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [0.0, 0.0, 3.0], [2.0, 2.0, 2.0]]
)


def test_mean_rank2_unweighted_counts_samples():
    m = im.Mean()
    m.update_state(RANK2)
    # row means 2, 5, 8, 1, 2 -> total 18 over 5 samples
    assert m.state == {"total": 18.0, "count": 5.0}
    assert m.result() == 3.6


def test_mean_rank2_with_rank1_weights():
    m = im.Mean()
    m.update_state(RANK2, sample_weight=[1, 2, 0, 1, 1])
    # Σ wᵢ·meanⱼ(vᵢⱼ) = 2 + 10 + 0 + 1 + 2 = 15 ; Σ w = 5
    assert m.state == {"total": 15.0, "count": 5.0}
    assert m.result() == 3.0


def test_mean_rank2_with_column_weights():
    m = im.Mean()
    m.update_state(RANK2, sample_weight=[[1], [2], [0], [1], [1]])
    # Σᵢ meanⱼ(vᵢⱼ·wᵢ) / Σᵢ wᵢ : the same numbers as one weight per row
    assert m.state == {"total": 15.0, "count": 5.0}


def test_mean_rank2_with_rank2_weights():
    weights = np.array([[1, 1, 1], [0, 0, 3], [0, 0, 0], [3, 0, 0], [1, 2, 3]], dtype=float)
    m = im.Mean()
    m.update_state(RANK2, sample_weight=weights)
    # totals: mean(1,2,3)=2, mean(0,0,18)=6, 0, mean(0,0,0)=0, mean(2,4,6)=4 -> 12
    # counts: mean(1,1,1)=1, mean(0,0,3)=1, 0, mean(3,0,0)=1, mean(1,2,3)=2 -> 5
    assert m.state == {"total": 12.0, "count": 5.0}
    assert m.result() == 2.4


def test_sum_rank2_sums_trailing_axes():
    m = im.Sum()
    m.update_state(RANK2, sample_weight=[1, 0, 0, 0, 2])
    assert m.result() == 6.0 + 12.0


def test_count_min_max_against_numpy():
    rng = np.random.default_rng(1)
    count, low, high = im.Count(), im.Min(), im.Max()
    seen, seen_weights = [], []
    for _ in range(5):
        v = rng.normal(size=7)
        w = rng.integers(0, 3, size=7).astype(float)
        for metric in (count, low, high):
            metric.update_state(v, sample_weight=w)
        seen.append(v)
        seen_weights.append(w)
        values, weights = np.concatenate(seen), np.concatenate(seen_weights)
        assert count.result() == pytest.approx(weights.sum())
        assert low.result() == values[weights > 0].min()
        assert high.result() == values[weights > 0].max()


def test_min_max_identities_and_reset():
    low, high = im.Min(), im.Max()
    assert (low.result(), high.result()) == (np.inf, -np.inf)
    low.update_state([3.0, -2.0])
    low.reset_state()
    assert low.result() == np.inf  # reset restores the identity, not zero
    assert low.state == {"min": np.inf}


def test_wrappers_mean_and_sum_of_a_per_sample_function():
    def squared_error(y_true, y_pred):
        return (y_true - y_pred) ** 2

    mean = im.MeanMetricWrapper(squared_error)
    total = im.SumMetricWrapper(squared_error, name="sum_squared_error")
    y_true, y_pred, w = np.array([1.0, 2, 3, 4]), np.array([2.0, 2, 5, 0]), np.array([1.0, 1, 1, 0])
    for metric in (mean, total):
        metric.update_state(y_true, y_pred, sample_weight=w)
    assert mean.result() == pytest.approx((1 + 0 + 4) / 3)
    assert total.result() == 5.0
    assert (mean.name, total.name) == ("squared_error", "sum_squared_error")


def test_wrapper_passes_keyword_arguments_and_keeps_them_in_config():
    def within(y_true, y_pred, tolerance):
        return np.abs(y_true - y_pred) <= tolerance

    m = im.MeanMetricWrapper(within, tolerance=0.5)
    m.update_state([1.0, 2.0], [1.2, 3.0])
    assert m.result() == 0.5
    assert m.get_config()["tolerance"] == 0.5
    assert type(m).from_config(m.get_config()).fn_kwargs == {"tolerance": 0.5}


def test_wrapper_mismatched_shapes_and_batch_reducing_fn():
    m = im.MeanMetricWrapper(lambda a, b: np.abs(a - b), name="abs")
    with pytest.raises(
        ValueError, match=r"`y_true` of shape \(3, 2\) and `y_pred` of shape \(3, 3\)"
    ):
        m.update_state(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"`y_pred` must have as many samples as `y_true` \(3\)"):
        m.update_state([1, 2, 3], [1, 2])
    bad = im.MeanMetricWrapper(lambda a, b: np.mean(a - b), name="batch_mean")
    with pytest.raises(ValueError, match="`fn` must return one value per sample"):
        bad.update_state([1, 2, 3], [1, 2, 3])
    assert m.step == 0 and bad.step == 0


@pytest.mark.parametrize("cls", [im.Sum, im.Mean, im.Min, im.Max])
def test_nan_strategies(cls):
    values, weights = [1.0, np.nan, 3.0], [1.0, 5.0, 2.0]
    propagate = cls()
    propagate.update_state(values, sample_weight=weights)
    assert np.isnan(propagate.result()) or cls in (
        im.Min,
        im.Max,
    )  # min/max: np.minimum spreads NaN
    ignore = cls(nan_strategy="ignore")
    ignore.update_state(values, sample_weight=weights)
    clean = cls()
    clean.update_state([1.0, 3.0], sample_weight=[1.0, 2.0])  # the sample AND its weight dropped
    assert ignore.state == clean.state
    error = cls(nan_strategy="error")
    with pytest.raises(ValueError, match=r"`values` contains 1 sample\(s\) with NaN"):
        error.update_state(values)
    assert error.step == 0


def test_min_max_propagate_nan():
    m = im.Min()
    m.update_state([1.0, np.nan])
    assert np.isnan(m.result())


def test_float32_accumulates_in_float32():
    m = im.Sum(dtype="float32")
    for _ in range(3):
        m.update_state(np.full(10, 0.7))
    seven_tenths = np.float32(0.7)
    batch = np.full(10, seven_tenths).sum()  # numpy's float32 sum of one batch
    assert batch.dtype == np.float32
    expected = np.float32(np.float32(batch + batch) + batch)
    assert m.state["total"] == float(expected)
    assert m.state["total"] != 21.0  # float32 rounding shows: 20.999998
    assert m.history.schema["running_total"] == pl.Float32
    assert m.dtype == "float32"


def test_dtype_must_be_floating():
    with pytest.raises(ValueError, match=r"`dtype` must be one of .*got 'int32'"):
        im.Mean(dtype="int32")
