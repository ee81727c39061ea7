"""Regression metrics: Keras documentation numbers, scikit-learn after every update, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk
from test_classification import assert_fails_cleanly, check_stream, stream

import interactive_metrics as im

weighted = pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])

KERAS_Y_TRUE, KERAS_Y_PRED = [[0, 1], [0, 0]], [[1, 1], [0, 0]]


@pytest.mark.parametrize(
    ("metric", "plain", "weighted_result"),
    [
        (im.MeanAbsoluteError(), 0.25, 0.5),
        (im.MeanSquaredError(), 0.25, 0.5),
        (im.RootMeanSquaredError(), 0.5, 0.5**0.5),
        (im.MeanAbsolutePercentageError(), 250000000.0, 500000000.0),
        (im.MeanSquaredLogarithmicError(), 0.12011322, 0.24022643),
        (im.LogCoshError(), 0.10844523, 0.21689045),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, im.Metric) else None,
)
def test_keras_documentation_numbers(metric, plain, weighted_result):
    # Keras computes in float32; these are its documented outputs, to that precision.
    metric.update_state(KERAS_Y_TRUE, KERAS_Y_PRED)
    assert metric.result() == pytest.approx(plain, rel=1e-6)
    metric.reset_state()
    metric.update_state(KERAS_Y_TRUE, KERAS_Y_PRED, sample_weight=[1, 0])
    assert metric.result() == pytest.approx(weighted_result, rel=1e-6)


def test_log_cosh_by_hand_and_without_overflow():
    m = im.LogCoshError()
    m.update_state([0.0, 0.0], [1.0, -2.0])
    assert m.result() == pytest.approx((np.log(np.cosh(1.0)) + np.log(np.cosh(2.0))) / 2)
    m.reset_state()
    m.update_state([0.0], [1e4])  # cosh(1e4) overflows; log cosh(x) = |x| - log 2 there
    assert m.result() == pytest.approx(1e4 - np.log(2.0), rel=1e-15)


def test_rmse_is_the_root_of_the_pooled_mean_not_a_mean_of_roots():
    m = im.RootMeanSquaredError()
    m.update_state([0.0], [3.0])  # batch RMSE 3
    m.update_state([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])  # batch RMSE 1
    assert m.result() == pytest.approx(np.sqrt((9 + 3) / 4))  # sqrt(3), not (3 + 1) / 2
    assert m.history["batch_result"].to_list() == [3.0, 1.0]


# -- scikit-learn after every update of a multi-batch stream --------------------------------


def normal_batch(rng, n):
    return rng.normal(size=n), rng.normal(size=n)


def positive_batch(rng, n):  # away from 0, where Keras' floor of 1e-7 never applies
    return rng.uniform(0.5, 5.0, size=(n, 3)), rng.uniform(0.0, 5.0, size=(n, 3))


@weighted
@pytest.mark.parametrize("make_batch", [normal_batch, positive_batch], ids=["1d", "2d"])
@pytest.mark.parametrize(
    ("metric", "reference"),
    [
        (im.MeanAbsoluteError, sk.mean_absolute_error),
        (im.MeanSquaredError, sk.mean_squared_error),
        (im.RootMeanSquaredError, lambda *a, **k: np.sqrt(sk.mean_squared_error(*a, **k))),
        (im.SumAbsoluteError, None),
        (im.SumSquaredError, None),
    ],
    ids=lambda x: x.__name__ if isinstance(x, type) else None,
)
def test_error_metrics_against_sklearn(weighted, make_batch, metric, reference):
    batches = stream(10, make_batch, weighted)
    if reference is None:  # the sums: sklearn's mean times the total weight of the samples
        mean = sk.mean_absolute_error if metric is im.SumAbsoluteError else sk.mean_squared_error

        def reference(t, p, sample_weight=None):
            total = t.shape[0] if sample_weight is None else np.sum(sample_weight)
            values = 1 if t.ndim == 1 else t.shape[1]
            return mean(t, p, sample_weight=sample_weight) * total * values

    check_stream(metric(), batches, lambda t, p, w: reference(t, p, sample_weight=w))


@weighted
def test_rmse_against_sklearn_root_mean_squared_error(weighted):
    batches = stream(11, normal_batch, weighted)
    check_stream(
        im.RootMeanSquaredError(),
        batches,
        lambda t, p, w: sk.root_mean_squared_error(t, p, sample_weight=w),
    )


@weighted
def test_percentage_and_log_errors_against_sklearn(weighted):
    batches = stream(12, positive_batch, weighted)
    check_stream(
        im.MeanAbsolutePercentageError(),
        batches,
        lambda t, p, w: 100 * sk.mean_absolute_percentage_error(t, p, sample_weight=w),
    )
    check_stream(
        im.MeanSquaredLogarithmicError(),
        batches,
        lambda t, p, w: sk.mean_squared_log_error(t, p, sample_weight=w),
    )


@weighted
def test_log_cosh_against_a_numpy_oracle(weighted):
    batches = stream(13, positive_batch, weighted)
    check_stream(
        im.LogCoshError(),
        batches,
        lambda t, p, w: np.average(np.log(np.cosh(p - t)).mean(axis=1), weights=w),
    )


def test_rank_two_weights_follow_keras_rules():
    y_true, y_pred = np.zeros((2, 3)), np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    per_value = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    m = im.MeanAbsoluteError()
    m.update_state(y_true, y_pred, sample_weight=per_value)
    # by hand: per sample mean of w*|e| = [1, 2], mean of w = [2/3, 1/3] -> 3 / 1
    assert m.state == pytest.approx({"absolute_error_sum": 3.0, "count": 1.0})
    s = im.SumAbsoluteError()
    s.update_state(y_true, y_pred, sample_weight=per_value)
    assert s.result() == 1 + 2 + 6


# -- bad input: a clear error, and nothing lost ----------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [im.MeanAbsoluteError(), im.RootMeanSquaredError(), im.SumAbsoluteError(), im.LogCoshError()],
    ids=lambda m: type(m).__name__,
)
def test_bad_input_is_rejected_and_changes_nothing(metric):
    metric.update_state([1.0, 2.0], [1.5, 2.5])
    assert_fails_cleanly(
        metric,
        ValueError,
        r"`y_true` of shape \(2, 2\) and `y_pred` of shape \(2, 3\) must have the same shape",
        np.ones((2, 2)),
        np.ones((2, 3)),
    )
    assert_fails_cleanly(metric, TypeError, r"`y_pred` must hold numbers", [1.0], ["x"])
    assert_fails_cleanly(
        metric, ValueError, r"`y_true` must be a rectangular", [[1], [2, 3]], [1, 2]
    )
    assert_fails_cleanly(
        metric, ValueError, r"`sample_weight` must be >= 0 and not NaN", [1.0], [2.0], sample_weight=[np.nan]
    )  # fmt: skip
