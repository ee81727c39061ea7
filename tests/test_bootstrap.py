"""The streaming Poisson bootstrap: weights, exact merges, replay, save/load, statistics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import interactive_metrics as im
from interactive_metrics.bootstrap import poisson_weights, stream_intervals


def _same_state(a: im.Metric, b: im.Metric) -> None:
    sa, sb = a.state, b.state
    assert sa.keys() == sb.keys()
    for name in sa:
        np.testing.assert_array_equal(sa[name], sb[name], err_msg=name)


def test_weights_are_poisson_1_and_independent_of_the_split() -> None:
    w = poisson_weights(np.arange(100_000), 50, seed=7)
    counts = np.bincount(w.ravel(), minlength=8)[:8] / w.size
    pmf = np.array([math.exp(-1) / math.factorial(k) for k in range(8)])
    assert bool((np.abs(counts - pmf) <= 4 * np.sqrt(pmf / w.size) + 1e-6).all())
    # replicates and neighbouring rows are uncorrelated
    flat = w.astype(float)
    assert abs(np.corrcoef(flat[:, 0], flat[:, 1])[0, 1]) < 0.02
    assert abs(np.corrcoef(flat[:-1, 3], flat[1:, 3])[0, 1]) < 0.02
    # a row's weights do not depend on the rows drawn with it, nor on the block
    np.testing.assert_array_equal(poisson_weights(np.array([5, 99_999]), 50, 7), w[[5, 99_999]])
    assert not np.array_equal(poisson_weights(np.arange(10), 50, 8), w[:10])


def test_result_is_the_plain_result() -> None:
    x = np.random.default_rng(0).normal(size=1000)
    b, m = im.Bootstrap(im.Mean(), replicates=20), im.Mean()
    for part in np.array_split(x, 7):
        b.update_state(part)
        m.update_state(part)
    assert b.result() == m.result()
    assert b.state["total"] == m.state["total"]


def test_batch_split_does_not_change_the_replicates() -> None:
    y_true = np.random.default_rng(1).integers(0, 2, 500)
    y_pred = np.random.default_rng(2).random(500)
    one, many = im.Bootstrap(im.BinaryAccuracy(), 30), im.Bootstrap(im.BinaryAccuracy(), 30)
    one.update_state(y_true, y_pred)
    for part in np.array_split(np.arange(500), 9):
        many.update_state(y_true[part], y_pred[part])
    # integer counts: sums are exact whatever the grouping
    _same_state(one, many)


def test_blocks_inside_a_large_batch_do_not_change_the_state() -> None:
    x = np.round(np.random.default_rng(3).normal(size=30_000) * 8)  # integers: exact sums
    one = im.Bootstrap(im.Mean(), replicates=64)  # blocks of 8192 samples
    one.update_state(x)
    parts = im.Bootstrap(im.Mean(), replicates=64)
    for part in np.array_split(x, 5):
        parts.update_state(part)
    _same_state(one, parts)


@pytest.mark.parametrize("integers", [True, False])
def test_merge_equals_one_bootstrap_bit_for_bit(integers: bool) -> None:
    """Same weights, same sums: bit for bit when the additions are the same ones.

    With float values ``B`` is one batch (``A + B`` against ``(A) + B``); with integer
    values (exact sums) ``B`` may be several batches, whose grouping then does not matter.
    """
    rng = np.random.default_rng(4)
    a_batches = [rng.normal(size=n) for n in (13, 200, 7)]
    b_batches = [rng.normal(size=n) for n in ((50, 1) if integers else (51,))]
    if integers:
        a_batches = [np.round(x * 10) for x in a_batches]
        b_batches = [np.round(x * 10) for x in b_batches]
    everything = im.Bootstrap(im.Mean(variance=True), replicates=40, seed=3)
    a = im.Bootstrap(im.Mean(variance=True), replicates=40, seed=3)
    b = im.Bootstrap(im.Mean(variance=True), replicates=40, seed=3, offset=220)
    for x in a_batches:
        a.update_state(x)
        everything.update_state(x)
    for x in b_batches:
        b.update_state(x)
        everything.update_state(x)
    a.merge_state(b)
    _same_state(a, everything)
    assert a.next_row == everything.next_row == 271


def test_overlapping_rows_are_refused_and_change_nothing() -> None:
    a, b = im.Bootstrap(im.Mean(), 10), im.Bootstrap(im.Mean(), 10)
    a.update_state([1.0, 2.0])
    b.update_state([3.0])
    before = a.state
    with pytest.raises(ValueError, match="lie within the rows"):
        a.merge_state(b)
    with pytest.raises(ValueError, match="lie within the rows"):
        a.update_state([5.0], row=[1])
    _same_state_dict(a.state, before)
    assert a.step == 1
    a.update_state([5.0], row=[10])  # a gap is fine
    assert a.next_row == 11
    with pytest.raises(ValueError, match="configurations differ"):
        a.merge_state(im.Bootstrap(im.Mean(), 11, offset=100))


def _same_state_dict(a: dict, b: dict) -> None:
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_replay_equals_the_loop_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    n = 300
    log = pl.DataFrame(
        {
            "batch": rng.integers(0, 12, n),
            "y": rng.integers(0, 2, n).astype(float),
            "p": rng.random(n),
            "w": rng.random(n),
        }
    )
    replayed = im.Bootstrap(im.BinaryCrossentropy(), 25).replay(
        log, y_true="y", y_pred="p", sample_weight="w", batch="batch"
    )
    loop = im.Bootstrap(im.BinaryCrossentropy(), 25)
    for key in sorted(set(log["batch"].to_list())):
        part = log.filter(pl.col("batch") == key)
        loop.update_state(part["y"].to_numpy(), part["p"].to_numpy(), sample_weight=part["w"])
    _same_state(replayed, loop)
    assert replayed.history.drop("log_batch").equals(loop.history)
    assert replayed.history["log_batch"].to_list() == sorted(set(log["batch"].to_list()))


def test_save_load_round_trip(tmp_path: Path) -> None:
    b = im.Bootstrap(im.Precision(thresholds=[0.3, 0.6]), replicates=15, seed=9, offset=4)
    b.update_state([1, 0, 1, 1], [0.9, 0.4, 0.2, 0.7])
    b.update_state([0, 1], [0.8, 0.5])
    path = b.save(tmp_path / "b.zip")
    again = im.load(path)
    assert isinstance(again, im.Bootstrap) and again.get_config() == b.get_config()
    _same_state(again, b)
    assert again.history.equals(b.history)
    again.update_state([1], [0.9])
    b.update_state([1], [0.9])
    _same_state(again, b)


def test_history_has_an_interval_per_step() -> None:
    b = im.Bootstrap(im.Mean(), replicates=99)
    b.update_state(np.arange(10.0))
    b.update_state(np.arange(10.0, 100.0))
    history = b.interval_history()
    assert history.equals(b.history)  # the history's own ci columns: 95%, percentile
    for step in (1, 2):
        results = b.replicate_results(b.state_at(step))
        low, high = np.quantile(results, [0.025, 0.975])
        row = history.filter(pl.col("step") == step)
        assert (row["ci_low"].item(), row["ci_high"].item()) == (low, high)
        assert b.result_at(step) == history["result"][step - 1]
    assert history["result"].to_list() == [4.5, 49.5]
    assert b.interval_history(0.5)["ci_low"][1] > history["ci_low"][1]
    with pytest.raises(ValueError, match="`level` must be"):
        b.interval_history(2)


def test_streams_of_a_bootstrap() -> None:
    rng = np.random.default_rng(6)
    keys = rng.choice(["a", "b"], 400)
    y = (rng.random(400) < np.where(keys == "a", 0.9, 0.6)).astype(float)
    s = im.Streams(im.Bootstrap(im.BinaryAccuracy(), replicates=60))
    s.update_state(np.ones(400), y[:], stream=keys)
    table = stream_intervals(s)
    assert table["stream"].to_list() == ["a", "b"]
    for key in ("a", "b"):
        alone = s[key]
        low, high = alone.interval()
        row = table.filter(pl.col("stream") == key)
        assert (row["ci_low"].item(), row["ci_high"].item()) == (low, high)
    # the merged Streams is one bootstrap of all the data
    one = im.Bootstrap(im.BinaryAccuracy(), replicates=60)
    one.update_state(np.ones(400), y)
    _same_state(s.merged(), one)


@pytest.mark.parametrize(
    ("n", "p", "runs", "band"),
    [
        (20, 0.5, 2000, (0.93, 0.97)),
        (2000, 0.5, 400, (0.93, 0.97)),
        # the known shortfall near the bound (see test_exact_coverage_at_n_20): the
        # percentile interval of 20 samples covers about 92% at p=0.8, 87% at p=0.9
        (20, 0.8, 2000, (0.90, 0.94)),
        (20, 0.9, 2000, (0.84, 0.90)),
    ],
)
def test_coverage_of_the_bootstrap(n: int, p: float, runs: int, band: tuple[float, float]) -> None:
    """Percentile intervals of a Bernoulli accuracy with ``p`` known, simulated runs.

    At p=0.5 (n=20 and 2000) 93-97% cover p. At n=20 near the bound the percentile
    bootstrap falls short: the discreteness of 20 samples (when all 20 are right, 12%
    of runs at p=0.9, every replicate is 1 and the interval is the point 1.0), not a
    fault of the draws; docs/intervals.md says to use Wilson there. Each run is one
    stream of a ``Streams(Bootstrap)``.
    """
    rng = np.random.default_rng(11 + n)
    per_update = max(1, 20_000 // n)
    s = im.Streams(im.Bootstrap(im.BinaryAccuracy(), replicates=200, seed=n))
    for start in range(0, runs, per_update):
        k = min(per_update, runs - start)
        y = (rng.random(k * n) < p).astype(float)
        s.update_state(np.ones(k * n), y, stream=np.repeat(np.arange(start, start + k), n))
    table = stream_intervals(s)
    assert table.height == runs
    covered = ((table["ci_low"] <= p) & (table["ci_high"] >= p)).sum()
    assert band[0] <= covered / runs <= band[1], (n, p, covered / runs)


def test_exact_coverage_at_n_20() -> None:
    """Exact over the data: sum over x ~ Binomial(20, p) of P(x) * [interval of x covers p].

    The data with x right is x ones then 20 - x zeros; the bootstrap's coverage is
    averaged over 10 seeds of 200 replicates. Wilson covers 95-96% at these p; the
    percentile interval covers 94% at p=0.5 but 92% at 0.8 and 87% at 0.9; BCa does
    not rescue p=0.9 (the numbers of docs/intervals.md, bench/interval_coverage.py).
    """
    stats = pytest.importorskip("scipy.stats")
    n = 20
    x = np.arange(n + 1)
    bounds: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"percentile": [], "bca": []}
    for seed in range(10):
        lows: dict[str, list[float]] = {"percentile": [], "bca": []}
        highs: dict[str, list[float]] = {"percentile": [], "bca": []}
        for right in x:
            b = im.Bootstrap(im.BinaryAccuracy(), replicates=200, seed=seed, history=False)
            b.update_state(np.ones(n), np.r_[np.ones(right), np.zeros(n - right)])
            for method in lows:
                low, high = b.interval(method=method)
                lows[method].append(low)
                highs[method].append(high)
        for method in bounds:
            bounds[method].append((np.array(lows[method]), np.array(highs[method])))
    wilson_low, wilson_high = im.intervals.wilson(x, np.full(n + 1, n))

    def coverage(low: np.ndarray, high: np.ndarray, p: float) -> float:
        return float(stats.binom.pmf(x, n, p)[(low <= p) & (p <= high)].sum())

    def bootstrap(method: str, p: float) -> float:
        return float(np.mean([coverage(low, high, p) for low, high in bounds[method]]))

    for p in (0.5, 0.8, 0.9):
        assert 0.95 <= coverage(wilson_low, wilson_high, p) <= 0.96
    assert 0.93 <= bootstrap("percentile", 0.5) <= 0.97
    assert 0.90 <= bootstrap("percentile", 0.8) < 0.93
    assert 0.85 <= bootstrap("percentile", 0.9) < 0.89
    assert 0.93 <= bootstrap("bca", 0.8) <= 0.97
    assert bootstrap("bca", 0.9) < 0.89


def _bca_oracle(results: np.ndarray, estimate: float, level: float) -> tuple[float, float]:
    """BCa written from Efron's formulas with scipy's normal distribution and skewness."""
    stats = pytest.importorskip("scipy.stats")
    z0 = stats.norm.ppf(np.mean(results < estimate) + 0.5 * np.mean(results == estimate))
    a = stats.skew(results, bias=True) / 6
    z = stats.norm.ppf([(1 - level) / 2, (1 + level) / 2])
    alphas = stats.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
    low, high = np.quantile(results, alphas)
    return float(low), float(high)


@pytest.mark.parametrize("level", [0.8, 0.95])
def test_bca_matches_an_independent_oracle(level: float) -> None:
    x = np.random.default_rng(21).exponential(size=60)  # skewed: z0 and a both matter
    b = im.Bootstrap(im.Mean(), replicates=500, seed=2)
    b.update_state(x[:25])
    b.update_state(x[25:])
    want = _bca_oracle(b.replicate_results(), b.result(), level)
    np.testing.assert_allclose(b.interval(level, method="bca"), want, rtol=1e-12)
    assert b.interval(level, method="bca") != b.interval(level)
    # elementwise for a result per class
    recall = im.Bootstrap(im.Recall(num_classes=3), replicates=300)
    rng = np.random.default_rng(22)
    truth = rng.integers(0, 3, 200)
    recall.update_state(truth, np.where(rng.random(200) < 0.7, truth, rng.integers(0, 3, 200)))
    low, high = recall.interval(level, method="bca")
    replicates, estimate = recall.replicate_results(), recall.result()
    for c in range(3):
        np.testing.assert_allclose(
            (low[c], high[c]), _bca_oracle(replicates[:, c], estimate[c], level), rtol=1e-12
        )


def test_bca_acceleration_of_a_mean_is_the_jackknife_acceleration() -> None:
    """The skewness of the replicates / 6 estimates Efron's jackknife acceleration."""
    stats = pytest.importorskip("scipy.stats")
    x = np.random.default_rng(23).exponential(size=50)
    b = im.Bootstrap(im.Mean(), replicates=4000)
    b.update_state(x)
    ours = stats.skew(b.replicate_results()) / 6
    leave_one_out = (x.sum() - x) / (len(x) - 1)
    u = leave_one_out.mean() - leave_one_out
    jackknife = (u**3).sum() / (6 * ((u**2).sum()) ** 1.5)
    # the skewness of 4000 replicates has a standard error of about sqrt(6/4000): a of 0.0065
    assert jackknife > 0.02 and abs(ours - jackknife) < 0.02


def test_bca_agrees_with_scipy_bootstrap() -> None:
    stats = pytest.importorskip("scipy.stats")
    x = np.random.default_rng(24).lognormal(size=120)
    b = im.Bootstrap(im.Mean(), replicates=4000, seed=5)
    b.update_state(x)
    theirs = stats.bootstrap(
        (x,), np.mean, n_resamples=4000, method="BCa", random_state=np.random.default_rng(0)
    ).confidence_interval
    ours = b.interval(method="bca")
    width = theirs.high - theirs.low
    # Poisson against multinomial resampling, 4000 replicates each: endpoints within 8%
    assert abs(ours[0] - theirs.low) < 0.08 * width
    assert abs(ours[1] - theirs.high) < 0.08 * width
    # both move the percentile interval up for right-skewed data
    percentile = b.interval()
    assert ours[0] > percentile[0] and ours[1] > percentile[1]


def test_bca_in_the_history_and_per_stream() -> None:
    x = np.random.default_rng(25).exponential(size=300)
    b = im.Bootstrap(im.Mean(), replicates=99)
    b.update_state(x[:30])
    b.update_state(x[30:])
    history = b.interval_history(0.9, method="bca")
    assert history.drop("ci_low", "ci_high").equals(b.history.drop("ci_low", "ci_high"))
    for step in (1, 2):
        want = _bca_oracle(b.replicate_results(b.state_at(step)), b.result_at(step), 0.9)
        row = history.filter(pl.col("step") == step)
        np.testing.assert_allclose((row["ci_low"].item(), row["ci_high"].item()), want, rtol=1e-12)
    assert im.intervals.interval_history(b, 0.9, "bca").equals(history)
    s = im.Streams(im.Bootstrap(im.Mean(), replicates=80))
    s.update_state(x, stream=np.arange(300) % 3)
    table = stream_intervals(s, method="bca")
    assert table.equals(im.intervals.breakdown_intervals(s, method="bca"))
    for key in range(3):
        row = table.filter(pl.col("stream") == key)
        assert (row["ci_low"].item(), row["ci_high"].item()) == s[key].interval(method="bca")


def test_bca_of_replicates_that_do_not_vary() -> None:
    b = im.Bootstrap(im.BinaryAccuracy(), replicates=50)
    b.update_state([1] * 30, [1] * 30)  # (3 samples: 5% of replicates would be empty, 0)
    assert b.interval(method="bca") == (1.0, 1.0) == b.interval()
    empty = im.Bootstrap(im.Mean(variance=True), replicates=10)
    assert empty.interval(method="bca") == (0.0, 0.0)  # the empty Mean is 0, as result()


def test_agrees_with_fairlearn_within_monte_carlo_error() -> None:
    metrics = pytest.importorskip("fairlearn.metrics")
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(12)
    n = 2000
    y = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.8, y, 1 - y)
    frame = metrics.MetricFrame(
        metrics=sklearn_metrics.accuracy_score,
        y_true=y,
        y_pred=pred,
        sensitive_features=np.zeros(n),
        n_boot=500,
        ci_quantiles=[0.025, 0.975],
        random_state=0,
    )
    b = im.Bootstrap(im.BinaryAccuracy(), replicates=500)
    b.update_state(y, pred)
    low, high = b.interval()
    theirs = [float(v) for v in frame.overall_ci]
    # the 2.5% quantile of 500 replicates has a Monte-Carlo sd of about 0.002 here
    assert abs(low - theirs[0]) < 0.01 and abs(high - theirs[1]) < 0.01
    assert b.result() == frame.overall


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"replicates": 1}, "`replicates` must be an integer >= 2"),
        ({"replicates": 2.5}, "`replicates` must be an integer >= 2"),
        ({"replicates": True}, "`replicates` must be an integer >= 2"),
        ({"offset": -1}, "`offset` must be an integer >= 0"),
        ({"seed": -3}, "`seed` must be an integer >= 0"),
        ({"dtype": "float32"}, "`dtype` of a Bootstrap must be float64"),
        ({"summation": "kahan"}, "`summation` of a Bootstrap must be 'plain'"),
    ],
)
def test_hostile_configuration(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        im.Bootstrap(im.Mean(), **kwargs)


def test_hostile_inputs_change_nothing() -> None:
    with pytest.raises(TypeError, match="`metric` must be an interactive_metrics Metric"):
        im.Bootstrap("mean")  # type: ignore[arg-type]
    b = im.Bootstrap(im.Mean(), replicates=5)
    b.update_state([1.0, 2.0])
    before = b.state
    with pytest.raises(ValueError, match="`sample_weight` must be >= 0"):
        b.update_state([1.0], sample_weight=[-1.0])
    with pytest.raises(ValueError, match="`row` must hold one integer row number per sample"):
        b.update_state([1.0, 2.0], row=[7])
    with pytest.raises(ValueError, match=r"`level` must be a number strictly between 0 and 1"):
        b.interval(1.0)
    with pytest.raises(ValueError, match="`method` of a Bootstrap interval must be one of"):
        b.interval(method="wilson")
    with pytest.raises(ValueError, match="`method` of a Bootstrap interval must be one of"):
        b.interval_history(method="BCa")
    _same_state_dict(b.state, before)
    assert b.step == 1


def test_interval_history_survives_save_and_load(tmp_path: Path) -> None:
    """``history`` gains ``ci_low``/``ci_high``, derived on read: saves leave them out."""
    collection = im.MetricCollection(
        {"acc": im.Bootstrap(im.BinaryAccuracy(), replicates=40), "n": im.BinaryAccuracy()}
    )
    collection.update_state([1, 1, 0, 1], [1, 0, 0, 1])
    collection.update_state([1, 0], [1, 1])
    b = collection["acc"]
    assert b.history.columns[-3:] == ["result", "ci_low", "ci_high"]
    again = im.load(b.save(tmp_path / "b.zip"))
    assert isinstance(again, im.Bootstrap)
    assert again.history.equals(b.history)
    loaded = im.load(collection.save(tmp_path / "c.zip"))
    assert loaded.history.equals(collection.history)
    assert "acc/ci_low" in loaded.history.columns
    for method in ("percentile", "bca"):
        assert again.interval_history(0.9, method).equals(b.interval_history(0.9, method))


def test_bootstrap_of_a_collection_pairs_the_members() -> None:
    rng = np.random.default_rng(31)
    loss, truth = rng.exponential(size=300), rng.integers(0, 2, 300)
    guess = np.where(rng.random(300) < 0.8, truth, 1 - truth)
    plain = im.MetricCollection({"loss": im.Mean(), "accuracy": im.BinaryAccuracy()})
    metrics = im.Bootstrap.collection(plain, replicates=60, seed=4)
    for part in np.array_split(np.arange(300), 3):
        metrics.update_state(values=loss[part], y_true=truth[part], y_pred=guess[part])
    # each member is the bootstrap of that metric alone, same seed, same rows: bit for bit
    alone_loss = im.Bootstrap(im.Mean(), replicates=60, seed=4)
    alone_accuracy = im.Bootstrap(im.BinaryAccuracy(), replicates=60, seed=4)
    for part in np.array_split(np.arange(300), 3):
        alone_loss.update_state(loss[part])
        alone_accuracy.update_state(truth[part], guess[part])
    _same_state(metrics["loss"], alone_loss)
    _same_state(metrics["accuracy"], alone_accuracy)
    assert metrics.interval(0.9) == {
        "loss": alone_loss.interval(0.9),
        "accuracy": alone_accuracy.interval(0.9),
    }
    assert metrics.interval(method="bca")["loss"] == alone_loss.interval(method="bca")
    # paired: every member's replicate j counts the same samples (sum of weights)
    np.testing.assert_array_equal(
        metrics["loss"].state["replicate_count"], metrics["accuracy"].state["replicate_count"]
    )
    assert plain.step == 0  # the original collection is untouched
    with pytest.raises(TypeError, match="`metrics` must be a MetricCollection"):
        im.Bootstrap.collection(im.Mean())  # type: ignore[arg-type]


def test_the_breakdown_gains_each_streams_interval() -> None:
    rng = np.random.default_rng(41)
    keys = rng.choice(["a", "b", "c"], 300)
    y = (rng.random(300) < 0.7).astype(float)
    s = im.Streams(im.Bootstrap(im.BinaryAccuracy(), replicates=80, seed=5))
    for part in np.array_split(np.arange(300), 4):
        s.update_state(np.ones(part.size), y[part], stream=keys[part])
    frame = s.breakdown()
    assert frame.columns[-3:] == ["ci_low", "ci_high", "contribution"]
    for key in ("a", "b", "c"):
        row = frame.filter(pl.col("stream") == key)
        assert (row["ci_low"].item(), row["ci_high"].item()) == s[key].interval()
    table = stream_intervals(s)  # the same interval at the default level and method
    assert table["ci_low"].equals(frame["ci_low"]) and table["ci_high"].equals(frame["ci_high"])
    both = im.MetricCollection(
        {"acc": im.Bootstrap(im.BinaryAccuracy(), replicates=80, seed=5), "n": im.Count()}
    )
    assert "ci_low" not in im.Streams(im.BinaryAccuracy()).breakdown().columns
    wide = both.streams()
    wide.update_state(y_true=np.ones(300), y_pred=y, values=y, stream=keys)
    assert {"acc/ci_low", "acc/ci_high"} <= set(wide.breakdown().columns)
