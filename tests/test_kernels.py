"""The compiled one-pass weighted sum (core.kernels) and the metric path that uses it."""

from __future__ import annotations

import math
import multiprocessing
import threading

import numba
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import interactive_metrics as im
from interactive_metrics.core import kernels
from interactive_metrics.core.weights import weighted_samples
from interactive_metrics.metric import Metric, StateField

BLOCK, THREADS_MIN = kernels.BLOCK, kernels.THREADS_MIN
# lengths on both sides of one block, of several blocks, and of the several-threads threshold
LENGTHS = [0, 1, 7, 64, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 3, THREADS_MIN + 5]


def small_integers(n: int, low: int, high: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(low, high, size=n).astype(np.float64)


@pytest.mark.parametrize("n", LENGTHS)
def test_integer_valued_sums_are_exact(n):
    # every partial sum of these is an integer below 2**53: any order of adding gives
    # the exact result, so the kernel must equal Python's integer arithmetic
    v, w = small_integers(n, -1000, 1000, n), small_integers(n, 0, 1000, n + 1)
    total, weight_total, negative = kernels.weighted_sums(v, w)
    assert total == sum(int(a) * int(b) for a, b in zip(v, w, strict=True))
    assert weight_total == sum(int(b) for b in w)
    assert negative == 0


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 3 * BLOCK).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, n, elements=st.floats(-1e6, 1e6, allow_nan=False)),
            arrays(np.float64, n, elements=st.floats(0, 1e6, allow_nan=False)),
        )
    )
)
def test_sums_are_within_rounding_of_the_exact_sums(arrays_):
    v, w = arrays_
    total, weight_total, negative = kernels.weighted_sums(v, w)
    eps = np.finfo(np.float64).eps
    # each block adds at most BLOCK numbers in a few running sums, then blocks pairwise
    bound = (BLOCK + 64) * eps
    exact = math.fsum((v * w).tolist())
    assert abs(total - exact) <= bound * math.fsum(np.abs(v * w).tolist()) + 1e-300
    assert abs(weight_total - math.fsum(w.tolist())) <= bound * math.fsum(w.tolist()) + 1e-300
    assert negative == 0


@pytest.mark.parametrize("n", [5, BLOCK + 9, THREADS_MIN + 9])
def test_negative_weights_are_counted_and_nan_weights_make_the_weight_sum_nan(n):
    rng = np.random.default_rng(n)
    v, w = rng.random(n), rng.random(n)
    w[[0, n // 2, n - 1]] = [-0.0, -2.0, -1e-300]  # -0.0 is not negative
    total, weight_total, negative = kernels.weighted_sums(v, w)
    assert negative == 2 == int((w < 0).sum())
    w[n // 3] = np.nan
    assert math.isnan(kernels.weighted_sums(v, w)[1])
    w[:] = np.abs(w)
    w[n // 3] = 1.0
    assert kernels.weighted_sums(v, w)[2] == 0


def test_several_threads_give_the_bits_of_one():
    rng = np.random.default_rng(3)
    n = THREADS_MIN * 2 + 17
    v, w = rng.normal(size=n), rng.random(n)
    one = np.empty((2, -(-n // BLOCK)))
    negative = kernels._blocks(v, w, one)
    total, weight_total = np.add.reduce(one, axis=1).tolist()
    assert kernels.weighted_sums(v, w) == (total, weight_total, negative)


def _child_sums(connection, v, w):
    connection.send(kernels.weighted_sums(v, w))


def test_a_forked_child_gets_threads_of_its_own():
    # the parent's helper threads do not run in a child made by fork(): waiting for
    # them would hang, so the child makes its own
    rng = np.random.default_rng(4)
    v, w = rng.normal(size=THREADS_MIN + 1), rng.random(THREADS_MIN + 1)
    in_parent = kernels.weighted_sums(v, w)  # the helper threads are running now
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child_sums, args=(send, v, w))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert receive.recv() == in_parent


def test_threads_may_sum_at_the_same_time():
    # the kernel releases the GIL: four threads at once must each get the same sums
    rng = np.random.default_rng(5)
    v, w = rng.normal(size=THREADS_MIN + 3), rng.random(THREADS_MIN + 3)
    expected = kernels.weighted_sums(v, w)
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(kernels.weighted_sums(v, w))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [expected] * 20


# -- the metric path: Sum and Mean declare terms_wrap_inputs ---------------------------


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


@pytest.mark.parametrize("n", [8, THREADS_MIN + 1])
@pytest.mark.parametrize("bad", [-1.0, np.nan])
def test_a_bad_weight_in_the_fused_pass_changes_nothing(n, bad):
    rng = np.random.default_rng(6)
    m = im.Mean()
    m.update_state(rng.random(4), sample_weight=rng.random(4))
    state, history = m.state, m.history
    w = rng.random(n)
    w[n - 2] = bad
    with pytest.raises(ValueError, match=r"`sample_weight` must be >= 0 and not NaN, got 1 bad"):
        m.update_state(rng.random(n), sample_weight=w)
    assert m.state == state and m.step == 1
    assert m.history.equals(history)
    w[n - 2] = -0.0  # a zero weight, signed or not, is fine
    m.update_state(np.ones(n), sample_weight=w)
    assert m.step == 2


def test_nan_strategy_ignore_drops_samples_and_their_weights_in_the_fused_pass():
    n = BLOCK * 3
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
    # the weights are checked before NaN samples are dropped: metric (fused or not),
    # streams and replay alike
    values, weight = np.array([np.nan, 1.0, 2.0]), np.array([-1.0, 1.0, 1.0])
    fused = im.Mean(nan_strategy=strategy)
    unfused = im.MeanMetricWrapper(lambda y_true, y_pred: y_pred, nan_strategy=strategy)
    with pytest.raises(ValueError, match="`sample_weight` must be >= 0"):
        fused.update_state(values, sample_weight=weight)
    with pytest.raises(ValueError, match="`sample_weight` must be >= 0"):
        unfused.update_state(np.zeros(3), values, sample_weight=weight)
    assert fused.step == unfused.step == 0
    streams = im.Streams(im.Mean(nan_strategy=strategy))
    with pytest.raises(ValueError, match="`sample_weight` must be >= 0"):
        streams.update_state(values, stream=["a", "b", "a"], sample_weight=weight)
    assert streams.streams == []
    log = pl.DataFrame({"batch": [0, 0, 1], "values": values, "weight": weight})
    with pytest.raises(ValueError, match="`sample_weight` must be >= 0"):
        im.Mean(nan_strategy=strategy).replay(
            log, values="values", batch="batch", sample_weight="weight"
        )


def test_fused_and_unfused_paths_agree():
    # MeanMetricWrapper computes its values and sums them with numpy: same numbers, other path
    rng = np.random.default_rng(8)
    fused, unfused = im.Mean(), im.MeanMetricWrapper(lambda y_true, y_pred: y_pred)
    for n in (3, 100, BLOCK * 2 + 1, THREADS_MIN + 7):
        v, w = rng.normal(size=n), rng.random(n)
        fused.update_state(v, sample_weight=w)
        unfused.update_state(np.zeros(n), v, sample_weight=w)
        assert fused.result() == pytest.approx(unfused.result(), rel=1e-12)
        assert fused.state["count"] == pytest.approx(unfused.state["count"], rel=1e-13)


class WeightFirst(Metric):
    """A weighted mean that declares its count first and also keeps the largest value."""

    fields = (StateField("count"), StateField("total"), StateField("largest", reduce="max"))
    terms_wrap_inputs = True

    def terms(self, values, sample_weight=None):
        weighted, weight = weighted_samples(values, sample_weight, reduce="mean", factored=True)
        return {"count": 1.0 if weight is None else weight, "total": weighted, "largest": values}

    def compute(self, state):
        return state["total"] / state["count"] if state["count"] else 0.0


@pytest.mark.parametrize("n", [6, BLOCK * 2 + 5])
def test_any_order_of_fields_and_terms_that_are_not_fused(n):
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
    # the compiled pass is float64 only: float32 sums round as numpy's do
    v, w = np.full(10, 0.1, dtype=np.float32), np.ones(10, dtype=np.float32)
    m = im.Sum(dtype="float32")
    m.update_state(v, sample_weight=w)
    assert m.state["total"] == float(np.add.reduce(v * w))


@pytest.mark.parametrize("n", [40, THREADS_MIN + 11])
def test_read_only_and_strided_inputs(n):
    # polars hands out read-only arrays, and a column of a 2-D array is strided:
    # numba compiles the pass for each layout. Read-only arrays give the same bits;
    # strided ones are added in another vectorised order (a few ulps apart at most)
    rng = np.random.default_rng(10)
    table = rng.random((n, 2))
    values, weight = table[:, 0], table[:, 1]  # strided views
    frozen = np.ascontiguousarray(values)
    frozen.flags.writeable = False
    expected = kernels.weighted_sums(np.ascontiguousarray(values), np.ascontiguousarray(weight))
    assert kernels.weighted_sums(frozen, np.ascontiguousarray(weight)) == expected
    strided = kernels.weighted_sums(values, weight)
    np.testing.assert_allclose(strided, expected, rtol=1e-14)
    m = im.Mean()
    m.update_state(pl.Series(values), sample_weight=pl.Series(weight))
    assert m.result() == pytest.approx(expected[0] / expected[1], rel=1e-15)


@pytest.mark.parametrize("n", [1000, 100_000, THREADS_MIN + 1000])
def test_within_one_ulp_of_the_exact_sum_on_positive_data(n):
    # the blocks' sums are added pairwise: np.dot is up to ~20 ulps off at millions
    # of samples, the compiled pass (and numpy's pairwise sum) within one
    rng = np.random.default_rng(n)
    for _ in range(3):
        v, w = rng.random(n), rng.random(n)
        total, weight_total, _ = kernels.weighted_sums(v, w)
        for got, exact in ((total, math.fsum((v * w).tolist())), (weight_total, math.fsum(w))):
            assert abs(got - exact) <= float(np.spacing(exact))


def test_kernels_compile_where_numba_cannot_cache():
    # code from exec() has no file beside which numba could keep its cache: numba
    # refuses cache=True for it, as for a read-only install without a home directory
    namespace: dict = {}
    exec("def twice(x):\n    return 2.0 * x\n", namespace)
    with pytest.raises(RuntimeError, match="cannot cache"):
        numba.njit(cache=True)(namespace["twice"])
    assert kernels._compile(namespace["twice"])(1.5) == 3.0
