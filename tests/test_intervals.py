"""Closed-form intervals: checked against hand numbers, scipy, and by simulated coverage."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import interactive_metrics as im
from interactive_metrics.intervals import (
    adjust_p_values,
    beta_quantile,
    clopper_pearson,
    state_interval,
    stream_differences,
    student_t,
    t_quantile,
    wilson,
)

stats = pytest.importorskip("scipy.stats")


def test_hand_checked_numbers() -> None:
    assert np.round(wilson(8, 10), 4).tolist() == [0.4902, 0.9433]
    assert np.round(clopper_pearson(8, 10), 4).tolist() == [0.4439, 0.9748]
    assert wilson(0, 0) == (0.0, 1.0)
    assert clopper_pearson(0, 5)[0] == 0.0 and clopper_pearson(5, 5)[1] == 1.0


@pytest.mark.parametrize("df", [1, 2, 3, 7.5, 19, 1999])
def test_t_and_beta_quantiles_match_scipy(df: float) -> None:
    q = np.array([0.005, 0.025, 0.3, 0.5, 0.9, 0.975])
    np.testing.assert_allclose(t_quantile(q, df), stats.t.ppf(q, df), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        beta_quantile(q, df, 2.5), stats.beta.ppf(q, df, 2.5), rtol=1e-9, atol=1e-12
    )


def test_clopper_pearson_matches_scipy_beta() -> None:
    k, n = np.array([1, 7, 19]), np.array([20, 20, 20])
    low, high = clopper_pearson(k, n)
    np.testing.assert_allclose(low, stats.beta.ppf(0.025, k, n - k + 1), rtol=1e-9)
    np.testing.assert_allclose(high, stats.beta.ppf(0.975, k + 1, n - k), rtol=1e-9)


@pytest.mark.parametrize("n", [20, 2000])
@pytest.mark.parametrize("method", [wilson, clopper_pearson])
def test_proportion_coverage(n: int, method: object) -> None:
    """Of 4000 simulated runs with p known, 93-97% of the 95% intervals cover p."""
    rng = np.random.default_rng(n)
    p = 0.8  # an accuracy; Wilson's coverage at n=20 oscillates with p (0.935 at 0.25, 0.975 at 0.3)
    k = rng.binomial(n, p, size=4000)
    low, high = method(k, np.full(k.shape, n))  # type: ignore[operator]
    coverage = np.mean((low <= p) & (p <= high))
    if method is wilson:
        assert 0.93 <= coverage <= 0.97
    else:  # Clopper-Pearson is conservative by construction: at least 95%
        assert 0.95 <= coverage <= 0.99


def test_exact_coverage_of_wilson_follows_the_literature() -> None:
    """Exact coverage (binomial sum), n=20: Brown, Cai & DasGupta's oscillation around 95%."""
    k = np.arange(21)
    low, high = wilson(k, np.full(21, 20))
    coverage = [
        stats.binom.pmf(k, 20, p)[(low <= p) & (p <= high)].sum() for p in (0.1, 0.25, 0.3, 0.5)
    ]
    np.testing.assert_allclose(coverage, [0.9568, 0.9348, 0.9752, 0.9586], atol=1e-4)


@pytest.mark.parametrize("n", [20, 2000])
def test_t_coverage_of_a_normal_mean(n: int) -> None:
    rng = np.random.default_rng(n + 1)
    x = rng.normal(3.0, 2.0, size=(1000, n))
    low, high = student_t(x.sum(1), np.full(1000, n), (x * x).sum(1))
    assert 0.93 <= np.mean((low <= 3.0) & (3.0 <= high)) <= 0.97


def test_metric_interval_uses_its_declaration() -> None:
    accuracy = im.BinaryAccuracy()
    accuracy.update_state([1] * 10, [1] * 8 + [0] * 2)
    assert accuracy.interval() == wilson(8, 10)
    assert accuracy.interval(method="clopper-pearson") == clopper_pearson(8, 10)
    precision = im.Precision()
    precision.update_state([1, 0, 1, 1], [1, 1, 1, 0])  # tp 2, fp 1
    assert precision.interval(0.9) == wilson(2, 3, 0.9)
    recall = im.Recall(num_classes=3)  # one recall per class: elementwise
    recall.update_state([0, 1, 2, 2], [0, 2, 2, 1])
    low, high = recall.interval()
    expected = wilson(np.array([1.0, 0.0, 1.0]), np.array([1.0, 1.0, 2.0]))
    np.testing.assert_array_equal(low, expected[0])
    mean = im.Mean(variance=True)
    x = np.random.default_rng(0).normal(size=50)
    mean.update_state(x)
    sem = stats.sem(x)
    want = stats.t.interval(0.95, 49, loc=x.mean(), scale=sem)
    np.testing.assert_allclose(mean.interval(), want, rtol=1e-10)


def test_variance_is_opt_in_and_merges() -> None:
    plain = im.Mean()
    assert "total_squares" not in plain.state and "variance" in plain.get_config()
    a, b = im.Mean(variance=True), im.Mean(variance=True)
    a.update_state([1.0, 2.0], sample_weight=[1.0, 3.0])
    b.update_state([3.0])
    a.merge_state(b)
    assert a.state == {"total": 10.0, "count": 5.0, "total_squares": 22.0}
    with pytest.raises(ValueError, match="configurations differ"):
        a.merge_state(im.Mean())
    with pytest.raises(TypeError, match="`variance` must be True or False"):
        im.Mean(variance="yes")  # type: ignore[arg-type]


def test_no_closed_form_says_to_bootstrap() -> None:
    with pytest.raises(ValueError, match=r"variance=True.*im\.Bootstrap"):
        im.Mean().interval()
    with pytest.raises(ValueError, match=r"no closed-form interval.*im\.Bootstrap"):
        im.MeanSquaredError().interval()
    macro = im.Precision(num_classes=3, average="macro")
    macro.update_state([0, 1, 2, 2], [0, 2, 2, 1])
    with pytest.raises(ValueError, match="not one ratio of its counts"):
        macro.interval()
    with pytest.raises(ValueError, match="does not apply"):
        im.BinaryAccuracy().interval(method="t")


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, "0.9", True, float("nan")])
def test_bad_level(level: object) -> None:
    with pytest.raises(ValueError, match=r"`level` must be a number strictly between 0 and 1"):
        im.BinaryAccuracy().interval(level)  # type: ignore[arg-type]


def test_bad_method() -> None:
    with pytest.raises(ValueError, match=r"`method` must be one of"):
        im.BinaryAccuracy().interval(method="wald")


def test_adjusted_p_values_against_hand_numbers() -> None:
    assert adjust_p_values([0.01, 0.04, 0.03]).tolist() == [0.03, 0.06, 0.06]
    assert adjust_p_values([0.5, 0.9], "bonferroni").tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="`correction` must be one of"):
        adjust_p_values([0.1], "fdr")


def test_stream_differences_finds_the_failing_stream() -> None:
    s = im.Streams(im.BinaryAccuracy())
    for key, right, n in (("a", 950, 1000), ("b", 480, 500), ("c", 30, 40), ("d", 3, 4)):
        s.update_state([1] * n, [1] * right + [0] * (n - right), stream=key)
    table = stream_differences(s)
    assert table["differs"].to_list() == [False, False, True, False]
    # the rest of "c" is the exact merge of a, b and d
    assert table.filter(pl.col("stream") == "c")["rest_result"].item() == (950 + 480 + 3) / 1504
    holm = table["p_adjusted"].to_numpy()
    bonferroni = stream_differences(s, correction="bonferroni")["p_adjusted"].to_numpy()
    assert bool((holm <= bonferroni + 1e-12).all())
    low, high = state_interval(im.BinaryAccuracy(), {"correct": 30.0, "count": 40.0})
    row = table.filter(pl.col("stream") == "c")
    assert (row["ci_low"].item(), row["ci_high"].item()) == (low, high)


def test_stream_differences_false_positive_rate_under_the_null() -> None:
    """All streams alike: Holm at 5% flags a stream in about 5% of runs, not more."""
    rng = np.random.default_rng(3)
    flagged = 0
    runs = 150
    for _ in range(runs):
        s = im.Streams(im.BinaryAccuracy())
        y = (rng.random(2000) < 0.8).astype(float)
        s.update_state(np.ones(2000), y, stream=rng.integers(0, 5, 2000))
        flagged += bool(stream_differences(s)["differs"].any())
    assert flagged / runs <= 0.12


def test_collection_interval_is_each_members_interval() -> None:
    metrics = im.MetricCollection(
        {"accuracy": im.BinaryAccuracy(), "loss": im.Mean(variance=True), "recall": im.Recall()}
    )
    x = np.random.default_rng(7).normal(size=40)
    metrics.update_state(
        values=x, y_true=[1] * 30 + [0] * 10, y_pred=[1] * 24 + [0] * 6 + [0] * 8 + [1] * 2
    )
    got = metrics.interval(0.9)
    assert list(got) == ["accuracy", "loss", "recall"]
    assert got["accuracy"] == wilson(32, 40, 0.9)
    assert got["recall"] == wilson(24, 30, 0.9)
    want = stats.t.interval(0.9, 39, loc=x.mean(), scale=stats.sem(x))
    np.testing.assert_allclose(got["loss"], want, rtol=1e-10)
    with pytest.raises(ValueError, match="`level` must be a number strictly between 0 and 1"):
        metrics.interval(1.5)
    mixed = im.MetricCollection({"loss": im.Mean(), "accuracy": im.BinaryAccuracy()})
    with pytest.raises(ValueError, match=r"member 'loss' of the collection.*Bootstrap\.collection"):
        mixed.interval()
