"""Sparse per-sample terms (``OneHot``) and the confusion matrix that uses them.

The references are independent of the code under test: ``np.add.at`` or a Python
loop over the samples, and the dense ``(n, *field)`` terms reduced the way every
dense term is. Sums of integer weights are exact in every order, so those
comparisons are bit for bit; other weights agree to rounding.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import polars as pl
import pytest

import interactive_metrics as im
from interactive_metrics.core import REDUCTIONS, OneHot
from interactive_metrics.core.segments import reduce_segments
from interactive_metrics.engine import CHUNK

F64 = np.dtype("float64")
SUM = REDUCTIONS["sum"]


def loop_confusion(y_true, y_pred, weight, k, dtype=F64) -> np.ndarray:
    """The confusion matrix, one sample at a time in Python floats, rounded once to ``dtype``."""
    out = np.zeros((k, k))
    for i, (t, p) in enumerate(zip(y_true, y_pred, strict=True)):
        out[int(t), int(p)] += 1.0 if weight is None else float(weight[i])
    return out.astype(dtype)


def random_one_hot(rng, n, shape, weighted, dtype=F64) -> tuple[OneHot, np.ndarray, np.ndarray]:
    size = int(np.prod(shape))
    index = rng.integers(0, size, n)
    weight = None
    if weighted:
        weight = rng.integers(0, 4, n).astype(dtype)  # zeros included: they mask
    return OneHot(index, shape, weight, dtype), index, weight


# -- OneHot itself ----------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(5,), (3, 3), (2, 3, 4)])
def test_one_hot_sums_equal_add_at(weighted, shape):
    rng = np.random.default_rng(0)
    terms, index, weight = random_one_hot(rng, 500, shape, weighted)
    expected = np.zeros(int(np.prod(shape)))
    np.add.at(expected, index, 1.0 if weight is None else weight)
    assert terms.shape == (500, *shape) and terms.ndim == 1 + len(shape) and len(terms) == 500
    np.testing.assert_array_equal(terms.sum(), expected.reshape(shape))
    # the dense terms: one entry per sample, the rest zeros
    dense = np.asarray(terms)
    assert dense.shape == (500, *shape) and dense.dtype == F64
    np.testing.assert_array_equal(dense.reshape(500, -1).sum(axis=0), expected)
    assert ((dense != 0).reshape(500, -1).sum(axis=1) <= 1).all()


@pytest.mark.parametrize("weighted", [False, True])
def test_one_hot_segment_sums_equal_add_at(weighted):
    rng = np.random.default_rng(1)
    terms, index, weight = random_one_hot(rng, 400, (3, 4), weighted)
    segments = rng.integers(0, 7, 400)
    segments[segments == 5] = 4  # segment 5 is empty: it stays all zeros
    expected = np.zeros((7, 12))
    np.add.at(expected, (segments, index), 1.0 if weight is None else weight)
    got = terms.segment_sums(segments, 7)
    np.testing.assert_array_equal(got, expected.reshape(7, 3, 4))
    np.testing.assert_array_equal(got[5], 0.0)


def test_one_hot_of_no_samples_sums_to_zeros():
    terms = OneHot(np.zeros(0, dtype=np.intp), (2, 2), np.zeros(0), F64)
    np.testing.assert_array_equal(terms.sum(), np.zeros((2, 2)))
    np.testing.assert_array_equal(terms.segment_sums(np.zeros(0, dtype=np.intp), 3), 0.0)
    assert np.asarray(terms).shape == (0, 2, 2)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_one_hot_sums_in_float64_and_rounds_once(dtype):
    # 5,000 ones in float16 stop at 2048 when added one by one; here they count exactly
    # and are rounded once, to the float16 nearest 5000.
    terms = OneHot(np.zeros(5000, dtype=np.intp), (2,), None, dtype)
    total = terms.sum()
    assert total.dtype == np.dtype(dtype)
    assert total[0] == np.array(5000.0).astype(dtype) and total[1] == 0
    weights = np.full(3, 0.1, dtype=dtype)
    weighted = OneHot(np.array([1, 1, 1]), (2,), weights, dtype).sum()
    assert weighted[1] == np.dtype(dtype).type(3 * float(np.dtype(dtype).type(0.1)))


def test_one_hot_refuses_positions_outside_the_field():
    with pytest.raises(ValueError, match=r"`index` must hold positions in \[0, 4\).*got 4"):
        OneHot(np.array([0, 4]), (2, 2)).sum()
    with pytest.raises(ValueError, match=r"`index` must hold positions in \[0, 4\).*got -1"):
        OneHot(np.array([0, -1]), (2, 2)).sum()
    with pytest.raises(ValueError, match=r"got 4"):  # would spill into segment 1
        OneHot(np.array([0, 4]), (2, 2)).segment_sums(np.array([0, 0]), 2)
    with pytest.raises(ValueError, match=r"`index` must be 1-D .* got shapes \(2,\) and \(3,\)"):
        OneHot(np.array([0, 1]), (2, 2), np.ones(3))


# -- the reductions: OneHot against the dense terms ---------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_reduction_of_one_hot_equals_the_dense_terms(dtype):
    rng = np.random.default_rng(2)
    dtype = np.dtype(dtype)
    terms, _, _ = random_one_hot(rng, 300, (4, 4), True, dtype)
    dense = np.asarray(terms)
    assert dense.dtype == dtype
    got = SUM.over_batch(terms, 300, dtype)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, SUM.over_batch(dense, 300, dtype))  # integer weights
    segments = rng.integers(0, 5, 300)
    got = SUM.over_segments(terms, segments, 5, dtype)
    assert got.dtype == dtype and got.shape == (5, 4, 4)
    np.testing.assert_array_equal(got, SUM.over_segments(dense, segments, 5, dtype))


def test_min_and_max_of_one_hot_use_the_dense_terms():
    # never produced by a metric of this package, but correct if a custom metric does
    rng = np.random.default_rng(3)
    terms, _, _ = random_one_hot(rng, 50, (3,), True)
    dense, segments = np.asarray(terms), rng.integers(0, 4, 50)
    for name in ("min", "max"):
        r = REDUCTIONS[name]
        np.testing.assert_array_equal(r.over_batch(terms, 50, F64), r.over_batch(dense, 50, F64))
        np.testing.assert_array_equal(
            r.over_segments(terms, segments, 4, F64), r.over_segments(dense, segments, 4, F64)
        )


def test_reduce_segments_keeps_one_hot_sparse():
    terms = OneHot(np.array([0, 3, 3]), (2, 2), np.array([1.0, 0.5, 2.0]))
    out = reduce_segments([("m", SUM)], {"m": terms}, np.array([1, 0, 1]), 2, F64, np.array([1, 2]))
    np.testing.assert_array_equal(out["m"], [[[0, 0], [0, 0.5]], [[1, 0], [0, 2]]])


# -- ConfusionMatrix -------------------------------------------------------------------------


def test_confusion_matrix_terms_are_sparse_and_equal_the_dense_one_hot():
    m = im.ConfusionMatrix(3)
    y_true, y_pred, w = np.array([0, 2, 1, 2]), np.array([1, 2, 1, 0]), np.array([1, 0, 2, 3.5])
    batch = m.engine.bind(y_true, y_pred, sample_weight=w)
    terms, n = m.engine.terms(batch), batch.n
    term = terms["confusion_matrix"]
    assert type(term) is OneHot and n == 4
    dense = np.zeros((4, 3, 3))
    dense[np.arange(4), y_true, y_pred] = w
    np.testing.assert_array_equal(np.asarray(term), dense)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize("weighted", [False, True])
def test_confusion_matrix_equals_a_loop_over_samples(dtype, weighted):
    rng = np.random.default_rng(4)
    k = 5
    m = im.ConfusionMatrix(k, dtype=dtype)
    running = np.zeros((k, k))
    for n in (0, 1, 7, 300):
        y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
        w = rng.integers(0, 3, n) * 0.5 if weighted else None
        m.update_state(y_true, y_pred, sample_weight=w)
        batch = loop_confusion(y_true, y_pred, w, k)
        running = running + batch.astype(dtype)
        np.testing.assert_array_equal(m.history["batch_confusion_matrix"][-1].to_list(), batch)
        np.testing.assert_array_equal(m.result(), running.astype(dtype))


def test_confusion_matrix_inputs_of_every_kind_count_the_same():
    y_true, y_pred, w = [0, 2, 1, 2, 2], [1, 2, 1, 0, 2], [1.0, 0.0, 2.0, 0.25, 1.0]
    expected = loop_confusion(y_true, y_pred, w, 3)
    scores = np.eye(3)[y_pred] * 0.8 + 0.1
    for t, p in [
        (y_true, y_pred),  # lists
        (np.array(y_true), np.array(y_pred)),  # int64, kept as integers
        (np.array(y_true, np.uint8), np.array(y_pred, np.int32)),
        (np.array(y_true, float), np.array(y_pred, np.float32)),
        (np.array(y_true)[:, None], np.array(y_pred)[:, None]),  # (n, 1)
        (pl.Series(y_true), pl.Series(y_pred)),
        (np.array(y_true), scores),  # (n, k) scores: the highest one is predicted
        (np.array(y_true), (scores * 10).astype(int)),
    ]:
        m = im.ConfusionMatrix(3)
        m.update_state(t, p, sample_weight=w)
        np.testing.assert_array_equal(m.result(), expected)
    # Keras rank rules for the weights: (n, 1) is squeezed, a scalar weights every sample
    m = im.ConfusionMatrix(3)
    m.update_state(y_true, y_pred, sample_weight=np.array(w)[:, None])
    np.testing.assert_array_equal(m.result(), expected)
    m = im.ConfusionMatrix(3)
    m.update_state(y_true, y_pred, sample_weight=2.0)
    np.testing.assert_array_equal(m.result(), 2 * loop_confusion(y_true, y_pred, None, 3))


@pytest.mark.parametrize(
    ("y_true", "y_pred", "pattern"),
    [
        ([0, 3], [0, 1], r"`y_true` must hold class labels in \[0, 3\).*got 3\.0"),
        ([0, -1], [0, 1], r"`y_true` .*got -1\.0"),
        ([0, 1.5], [0, 1], r"`y_true` .*got 1\.5"),
        ([0, np.nan], [0, 1], r"`y_true` .*got nan"),
        ([0, 1], [0, 7], r"`y_pred` must hold class labels in \[0, 3\).*got 7\.0"),
        (np.array([0, 1], np.uint64), np.array([0, 2**63], np.uint64), r"`y_pred` .*got 9\.2"),
        (np.array([0, 1]), np.array([0, -5]), r"`y_pred` .*got -5\.0"),
    ],
)
def test_confusion_matrix_bad_labels_fail_cleanly(y_true, y_pred, pattern):
    m = im.ConfusionMatrix(3)
    m.update_state([0, 1], [1, 1])
    before, history = m.result(), m.history
    with pytest.raises(ValueError, match=pattern):
        m.update_state(y_true, y_pred)
    np.testing.assert_array_equal(m.result(), before)
    assert m.history.equals(history)


def test_confusion_matrix_nan_strategies():
    y_true, y_pred = np.array([0.0, 1.0, np.nan, 2.0]), np.array([0.0, 2.0, 1.0, np.nan])
    ignore = im.ConfusionMatrix(3, nan_strategy="ignore")
    ignore.update_state(y_true, y_pred, sample_weight=[1, 2, 3, 4])
    np.testing.assert_array_equal(ignore.result(), loop_confusion([0, 1], [0, 2], [1, 2], 3))
    with pytest.raises(ValueError, match="nan_strategy='error'"):
        im.ConfusionMatrix(3, nan_strategy="error").update_state(y_true, y_pred)
    # NaN scores under "propagate": argmax picks the first NaN, as the dense terms did
    scores = np.array([[0.1, np.nan, 0.9], [0.2, 0.7, 0.1]])
    m = im.ConfusionMatrix(3)
    m.update_state([0, 2], scores)
    np.testing.assert_array_equal(m.result(), loop_confusion([0, 2], [1, 1], None, 3))


def test_confusion_matrix_large_batch_is_counted_in_chunks_exactly():
    rng = np.random.default_rng(5)
    n = CHUNK + 1000
    y_true, y_pred = rng.integers(0, 4, n), rng.integers(0, 4, n)
    w = rng.integers(0, 3, n).astype(float)
    m = im.ConfusionMatrix(4)
    m.update_state(y_true, y_pred, sample_weight=w)
    expected = np.zeros((4, 4))
    np.add.at(expected, (y_true, y_pred), w)
    np.testing.assert_array_equal(m.result(), expected)


def test_confusion_matrix_of_many_classes_never_holds_dense_terms():
    k, n = 100, 20_000  # dense terms: 20,000 x 100 x 100 float64 = 1.6 GB
    rng = np.random.default_rng(6)
    y_true, y_pred, w = rng.integers(0, k, n), rng.integers(0, k, n), rng.random(n)
    m = im.ConfusionMatrix(k)
    m.update_state(y_true[:10], y_pred[:10])  # warm up: history buffers, imports
    tracemalloc.start()
    try:
        m.update_state(y_true, y_pred, sample_weight=w)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, peak
    expected = loop_confusion(y_true[:10], y_pred[:10], None, k)
    np.add.at(expected, (y_true, y_pred), w)
    np.testing.assert_allclose(m.result(), expected, rtol=1e-12)


# -- every consumer of terms: streams, replay, Dask --------------------------------------------


def test_streams_of_a_confusion_matrix_equal_one_metric_per_stream():
    rng = np.random.default_rng(7)
    s = im.Streams(im.ConfusionMatrix(3))
    per_stream = {key: np.zeros((3, 3)) for key in "abc"}
    for n in (5, 40, 1):
        y_true, y_pred = rng.integers(0, 3, n), rng.integers(0, 3, n)
        w = rng.integers(0, 3, n).astype(float)
        keys = rng.choice(list("abc"), n)
        s.update_state(y_true, y_pred, sample_weight=w, stream=keys)
        for key in "abc":
            mine = keys == key
            per_stream[key] += loop_confusion(y_true[mine], y_pred[mine], w[mine], 3)
    for key in s.streams:
        np.testing.assert_array_equal(s[key].result(), per_stream[key])
    np.testing.assert_array_equal(s.result(), sum(per_stream.values()))


@pytest.mark.parametrize("shuffled", [False, True])
@pytest.mark.parametrize("nan_strategy", ["propagate", "ignore"])
def test_replay_of_a_confusion_matrix_equals_the_update_loop(shuffled, nan_strategy):
    rng = np.random.default_rng(8)
    n = 600
    log = pl.DataFrame(
        {
            "batch": np.sort(rng.integers(0, 12, n)),
            "label": rng.integers(0, 4, n).astype(float),
            "guess": rng.integers(0, 4, n),
            "w": rng.integers(0, 3, n).astype(float),
            "sensor": rng.choice(["x", "y"], n),
        }
    )
    if nan_strategy == "ignore":
        log = log.with_columns(
            label=pl.when(pl.int_range(n) % 17 == 0).then(np.nan).otherwise(pl.col("label"))
        )
    if shuffled:
        log = log.sample(fraction=1.0, shuffle=True, seed=1)
    columns = {"y_true": "label", "y_pred": "guess", "sample_weight": "w", "batch": "batch"}
    replayed = im.ConfusionMatrix(4, nan_strategy=nan_strategy).replay(log, **columns)
    loop = im.ConfusionMatrix(4, nan_strategy=nan_strategy)
    for _, part in log.sort("batch", maintain_order=True).group_by("batch", maintain_order=True):
        loop.update_state(part["label"], part["guess"], sample_weight=part["w"])
    assert replayed.history.drop("log_batch").equals(loop.history)  # integer weights: exact
    streams = im.Streams(im.ConfusionMatrix(4, nan_strategy=nan_strategy))
    streams.replay(log, stream="sensor", **columns)
    np.testing.assert_array_equal(streams.result(), loop.result())
    parts = [streams[key].result() for key in streams.streams]
    np.testing.assert_array_equal(sum(parts), loop.result())


def test_partial_states_of_a_confusion_matrix_equal_add_at():
    # what a Dask worker computes per partition (the Dask cluster test is in test_distributed)
    from interactive_metrics.distributed import partial_states

    pytest.importorskip("pandas")
    rows = pl.DataFrame(
        {"batch": [2, 1, 2, 1, 2], "t": [0, 1, 2, 2, 0], "p": [0, 2, 2, 1, 0], "w": [1, 2, 0, 1, 3]}
    )
    parts = partial_states(
        rows, im.ConfusionMatrix(3), batch="batch", sample_weight="w", y_true="t", y_pred="p"
    )
    cells = parts.drop(columns=["batch", "stream", "first_row", "weight"]).to_numpy()
    expected = np.zeros((2, 9))
    batch, t, p, w = (rows[c].to_numpy() for c in ("batch", "t", "p", "w"))
    np.add.at(expected, (batch - 1, 3 * t + p), w)
    np.testing.assert_array_equal(cells, expected)
