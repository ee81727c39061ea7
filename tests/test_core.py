"""The numpy core: coercion, Keras weight rules, reduce_sum, segment reductions."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interactive_metrics.core import (
    REDUCTIONS,
    Product,
    as_array,
    as_sample_weight,
    reduce_sum,
    weighted_samples,
)
from interactive_metrics.core.coerce import check_sample_weight, to_numeric
from interactive_metrics.history import FLUSH_ROWS, HistoryBuffer

F64 = np.dtype("float64")

# -- reduce_sum: tf.math.reduce_sum rules ------------------------------------------------


def test_reduce_sum_documented_shapes():
    x = [[1, 1, 1], [1, 1, 1]]
    assert reduce_sum(x) == 6
    np.testing.assert_array_equal(reduce_sum(x, axis=0), [2, 2, 2])
    np.testing.assert_array_equal(reduce_sum(x, axis=1), [3, 3])
    kept = reduce_sum(x, axis=1, keepdims=True)
    assert kept.shape == (2, 1)
    np.testing.assert_array_equal(kept, [[3], [3]])
    assert reduce_sum(x, axis=-1).shape == (2,)
    assert reduce_sum(x, axis=(0, 1)) == 6


@pytest.mark.parametrize("axis", [2, -3, (0, 5)])
def test_reduce_sum_axis_out_of_range(axis):
    with pytest.raises(ValueError, match=r"`axis` must be in \[-2, 2\).*got"):
        reduce_sum([[1, 1, 1], [1, 1, 1]], axis=axis)


def test_reduce_sum_keeps_dtype_where_numpy_upcasts():
    small = np.array([100, 100], dtype=np.int8)
    assert np.sum(small).dtype == np.int64  # numpy upcasts ...
    out = reduce_sum(small)
    assert out.dtype == np.int8  # ... TensorFlow's rule keeps the dtype (and wraps)
    assert int(out) == 200 - 256
    assert reduce_sum(np.ones(3, dtype=np.float32)).dtype == np.float32


def test_reduce_sum_rejects_booleans():
    with pytest.raises(TypeError, match="`x` must hold integers or floats, got dtype bool"):
        reduce_sum([True, False])


# -- weighted_samples: Keras 3 rank rules, against explicit loops ------------------------

VALUES = np.arange(15, dtype=float).reshape(5, 3) ** 1.5


def _mean_oracle(values, weights):
    """Σ total / Σ count written as loops, straight from the Keras 3 rules in DESIGN.md."""
    total = count = 0.0
    for i in range(values.shape[0]):
        row = [float(v) for v in values[i]]
        if weights is None:
            total += sum(row) / len(row)
            count += 1
        elif np.ndim(weights) == 1:
            total += weights[i] * sum(row) / len(row)
            count += weights[i]
        elif np.shape(weights)[1] == 1:
            total += sum(v * weights[i][0] for v in row) / len(row)
            count += weights[i][0]
        else:
            total += sum(v * w for v, w in zip(row, weights[i], strict=True)) / len(row)
            count += sum(weights[i]) / len(row)
    return total, count


@pytest.mark.parametrize(
    "weights",
    [
        None,
        [1.0, 2.0, 0.0, 1.0, 3.0],
        [[1.0], [2.0], [0.0], [1.0], [3.0]],
        np.arange(15.0).reshape(5, 3),
    ],
    ids=["unweighted", "rank1", "rank2-column", "rank2-full"],
)
def test_weighted_samples_matches_keras_rules(weights):
    w = None if weights is None else np.asarray(weights, dtype=float)
    weighted, weight = weighted_samples(VALUES, w, reduce="mean")
    total, count = _mean_oracle(VALUES, None if weights is None else np.asarray(weights).tolist())
    assert weighted.shape == (5,)
    assert weighted.sum() == pytest.approx(total, rel=1e-12)
    got_count = 5 if weight is None else weight.sum()
    assert got_count == pytest.approx(count, rel=1e-12)


def test_weighted_samples_hand_checked_numbers():
    v = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    weighted, weight = weighted_samples(v, np.array([1.0, 3.0]))
    np.testing.assert_array_equal(weighted, [2.0, 15.0])  # 1*mean(1,2,3), 3*mean(4,5,6)
    np.testing.assert_array_equal(weight, [1.0, 3.0])
    summed, _ = weighted_samples(v, np.array([1.0, 0.0]), reduce="sum")
    np.testing.assert_array_equal(summed, [6.0, 0.0])


def test_weighted_samples_scalar_weight_applies_to_every_sample():
    weighted, weight = weighted_samples(np.array([1.0, 2.0, 3.0]), np.array(2.0))
    np.testing.assert_array_equal(weighted, [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(weight, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("shape", [(3,), (5, 2), (4, 3)])
def test_weighted_samples_unbroadcastable_names_both_shapes(shape):
    with pytest.raises(ValueError, match=r"`sample_weight` of shape \(\d.*cannot broadcast.*\(5"):
        weighted_samples(VALUES, np.ones(shape))


# -- as_array: one place that coerces -----------------------------------------------------


class OnlyArray:
    def __init__(self, data):
        self.data = np.asarray(data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)


class OnlyDLPack:
    """Like a tensor of a framework numpy does not know: only the DLPack protocol."""

    def __init__(self, data):
        self.data = np.asarray(data, dtype=np.float32)

    def __dlpack__(self, **kwargs):
        return self.data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()


@pytest.mark.parametrize(
    "source",
    [
        [1, 2, 3],
        (1, 2, 3),
        np.array([1, 2, 3], dtype=np.int16),
        np.array([True, True, False]) * 1 + np.array([0, 1, 3]),
        pl.Series([1, 2, 3]),
        pd.Series([1.0, 2.0, 3.0]),
        OnlyArray([1, 2, 3]),
        OnlyDLPack([1, 2, 3]),
    ],
    ids=["list", "tuple", "int16", "computed", "polars", "pandas", "__array__", "__dlpack__"],
)
def test_as_array_accepts_array_likes(source):
    out = as_array(source, "values", F64)
    assert out.dtype == F64
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0])


def test_as_array_scalar_is_one_sample_and_bool_is_numeric():
    np.testing.assert_array_equal(as_array(4, "values", F64), [4.0])
    np.testing.assert_array_equal(as_array([True, False], "values", F64), [1.0, 0.0])


@pytest.mark.parametrize(
    ("bad", "error", "pattern"),
    [
        (None, TypeError, r"`values` must be array-like, got None"),
        ("1,2,3", TypeError, r"`values` must be array-like of numbers, got the string '1,2,3'"),
        (["a", "b"], TypeError, r"`values` must hold numbers or booleans, got an array of strings"),
        ([object(), 1], TypeError, r"`values` must hold numbers.*Python objects"),
        ([1 + 2j], TypeError, r"`values` must hold numbers.*complex"),
        ([[1, 2], [3]], ValueError, r"`values` must be a rectangular array, got a ragged"),
        (pl.Series(["a", None]), TypeError, r"`values` must hold numbers.*polars Series of dtype"),
        (pd.Series(["a", None]), TypeError, r"`values` must hold numbers.*pandas Series of dtype"),
    ],
)
def test_as_array_rejects_with_a_clear_message(bad, error, pattern):
    with pytest.raises(error, match=pattern):
        as_array(bad, "values", F64)


@pytest.mark.parametrize(
    "bad",
    [[1.0, -0.5], [1.0, np.nan], [np.nan, -1.0, 2.0], [3.0, -np.inf], [[1.0, 2.0], [0.0, -1e-300]]],
)
def test_sample_weight_must_be_non_negative_and_not_nan(bad):
    with pytest.raises(
        ValueError, match=r"`sample_weight` must be >= 0 and not NaN.*use 0 to mask"
    ):
        as_sample_weight(bad, F64)


@given(
    st.lists(
        st.floats(allow_nan=True, allow_infinity=True, width=32) | st.sampled_from([0.0, -0.0]),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["float16", "float32", "float64"]),
)
def test_weight_check_agrees_with_elementwise_comparison(weights, dtype):
    with np.errstate(over="ignore"):
        w = np.asarray(weights, dtype=dtype)
    valid = bool(((w >= 0) & np.isfinite(w)).all())  # False for NaN, inf and negatives
    if valid:
        check_sample_weight(w)
        check_sample_weight(w.reshape(1, -1, 1))
    else:
        with pytest.raises(ValueError, match="must be >= 0 and not NaN or infinite"):
            check_sample_weight(w)


# -- reductions: batch, segments, scans ---------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 7, 32, 128, 129, 5000])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batch_sum_of_any_length_is_within_rounding_of_the_exact_sum(n, dtype):
    import math

    terms = np.random.default_rng(n).normal(size=n).astype(dtype)
    total = REDUCTIONS["sum"].over_batch(terms, n, np.dtype(dtype))
    assert type(total) is np.dtype(dtype).type
    exact = math.fsum(terms.astype(float).tolist())
    eps = np.finfo(dtype).eps
    assert abs(float(total) - exact) <= 4 * eps * float(np.abs(terms).sum()) + 1e-300


def test_product_terms_sum_like_the_product_array():
    rng = np.random.default_rng(3)
    for n in (0, 1, 7, 32, 1000):
        v, w = rng.normal(size=n), rng.random(n)
        product = Product(v, w)
        np.testing.assert_array_equal(np.asarray(product), v * w)
        assert product.shape == (n,) and product.dtype == F64
        total = REDUCTIONS["sum"].over_batch(product, n, F64)
        assert type(total) is np.float64
        assert total == pytest.approx(float(np.sum(v * w)), rel=1e-12, abs=1e-12)
        ids = rng.integers(0, 3, size=n)
        np.testing.assert_allclose(
            REDUCTIONS["sum"].over_segments(product, ids, 3, F64),
            np.bincount(ids, weights=v * w, minlength=3),
        )
    half = Product(np.array([1.5, 2.0], dtype=np.float16), np.array([2.0, 0.5], dtype=np.float16))
    assert REDUCTIONS["sum"].over_batch(half, 2, np.dtype("float16")) == np.float16(4.0)


@pytest.mark.parametrize("reduce", ["sum", "min", "max"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_batch_reducer_gives_over_batch_results_bit_for_bit(reduce, dtype):
    # the per-dtype function the Metric base uses on every update takes shortcuts
    # for float64 sums: each must give exactly what over_batch gives
    rng = np.random.default_rng(5)
    kind = np.dtype(dtype)
    reduction = REDUCTIONS[reduce]
    fast = reduction.batch_reducer(kind)
    for n in (0, 1, 32, 128, 129, 3000):
        v, w = rng.normal(size=n).astype(kind), rng.random(n).astype(kind)
        for term in (v, Product(v, w), v.reshape(-1, 1), np.float64(2.5), v[::-1]):
            expected = reduction.over_batch(term, n, kind)
            got = fast(term, n)
            assert type(got) is type(expected)
            np.testing.assert_array_equal(got, expected)
        if reduce != "sum" and n:  # a product's minimum is the minimum of the products
            assert fast(Product(v, w), n) == reduction.ufunc.reduce(v * w)


def test_weighted_samples_factored_only_for_one_weight_per_sample():
    v, w = np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.0, 2.0])
    weighted, weight = weighted_samples(v, w, reduce="sum", factored=True)
    assert type(weighted) is Product and weight is w
    np.testing.assert_array_equal(np.asarray(weighted), [0.5, 0.0, 6.0])
    plain, _ = weighted_samples(v, w, reduce="sum")
    assert type(plain) is np.ndarray
    rank2, _ = weighted_samples(np.ones((3, 2)), np.ones((3, 2)), factored=True)
    assert type(rank2) is np.ndarray  # per-value weights: reduced per sample, not factored


def test_metric_terms_reach_streams_and_replay_as_arrays():
    import interactive_metrics as im

    m = im.Mean()
    v, w = np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 0.5])
    batch = m.engine.bind(v, sample_weight=w)
    terms, n = m.engine.terms(batch), batch.n
    assert all(type(t) is not Product for t in terms.values()) and n == 3
    np.testing.assert_array_equal(terms["total"], v * w)


@pytest.mark.parametrize("last", [None, 1, 5, 300, 1000])
def test_history_buffer_shows_queued_rows_to_every_reader(last):
    # Rows are queued and copied into the numpy buffers in blocks; any read sees all of them,
    # across buffer growth and across the trimming of `last`.
    width = 3
    buffer = HistoryBuffer([("a", ()), ("b", (2,))], F64, last=last)
    expected = []
    for step in range(1, 3 * FLUSH_ROWS + 7):
        row = (float(step), step / 2, -float(step)) if step % 3 else np.array([step, 0.5, 1.0])
        buffer.append(step, step % 3, row)
        expected.append([step, step % 3, *np.asarray(row, dtype=float)])
        if step in (63, 64, 65, FLUSH_ROWS, FLUSH_ROWS + 1, 2 * FLUSH_ROWS + 3):
            kept = np.array(expected[-last:] if last else expected)
            np.testing.assert_array_equal(buffer.steps, kept[:, 0])
            frame = buffer.frame()
            assert frame.height == len(kept)
            np.testing.assert_array_equal(frame["a"].to_numpy(), kept[:, 2])
            np.testing.assert_array_equal(np.stack(frame["b"].to_numpy()), kept[:, 3:])
            np.testing.assert_array_equal(buffer.column("a"), kept[:, 2])
            i = buffer.row_index(int(kept[-1, 0]))
            assert i is not None and buffer.value(i, "b", (2,)).tolist() == list(kept[-1, 3:])
            assert buffer.event(i) == ("update", "merge", "reset")[int(kept[-1, 1])]
    assert buffer.width == width
    if last is not None:
        assert len(buffer._steps) <= max(64, 4 * last)  # trimmed, not grown without end


@pytest.mark.parametrize("name", ["sum", "min", "max"])
def test_segment_reduce_matches_a_loop(name):
    rng = np.random.default_rng(0)
    terms = rng.normal(size=200)
    ids = rng.integers(0, 7, size=200)
    out = REDUCTIONS[name].over_segments(terms, ids, 9, F64)
    python = {"sum": sum, "min": min, "max": max}[name]
    identity = REDUCTIONS[name].identity
    for segment in range(9):
        members = [float(t) for t, i in zip(terms, ids, strict=True) if i == segment]
        expected = python(members) if members else identity
        assert out[segment] == pytest.approx(expected, rel=1e-12)


def test_segment_reduce_of_shared_scalar_and_of_array_terms():
    ids = np.array([0, 2, 2, 0, 2])
    np.testing.assert_array_equal(REDUCTIONS["sum"].over_segments(1.0, ids, 3, F64), [2, 0, 3])
    np.testing.assert_array_equal(
        REDUCTIONS["max"].over_segments(5.0, ids, 3, F64), [5, -np.inf, 5]
    )
    matrices = np.arange(20.0).reshape(5, 2, 2)
    out = REDUCTIONS["sum"].over_segments(matrices, ids, 3, F64)
    np.testing.assert_array_equal(out[0], matrices[0] + matrices[3])
    np.testing.assert_array_equal(out[2], matrices[1] + matrices[2] + matrices[4])


def test_batch_reduce_of_empty_batch_is_identity():
    empty = np.zeros(0)
    assert REDUCTIONS["sum"].over_batch(empty, 0, F64) == 0.0
    assert REDUCTIONS["min"].over_batch(empty, 0, F64) == np.inf
    assert REDUCTIONS["max"].over_batch(1.0, 0, F64) == -np.inf


def test_scans_are_running_reductions():
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    np.testing.assert_array_equal(REDUCTIONS["sum"].scan(x), np.cumsum(x))
    np.testing.assert_array_equal(REDUCTIONS["min"].scan(x), [3, 1, 1, 1, 1])
    np.testing.assert_array_equal(REDUCTIONS["max"].scan(x), [3, 3, 4, 4, 5])


def test_import_loads_no_renderer():
    code = (
        "import sys, interactive_metrics as im; im.Mean().update_state([1.0]); "
        "print(sorted(m for m in ('altair', 'ipywidgets', 'vl_convert', 'anywidget') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- to_numeric: the one conversion, against numpy's own reading -------------------------

_LEAVES = st.one_of(
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.text(max_size=2),
    st.binary(max_size=2),
    st.complex_numbers(allow_nan=False, max_magnitude=1e6),
)


@given(st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=3), max_leaves=8))
def test_to_numeric_accepts_exactly_what_numpy_reads_as_numbers(x):
    try:
        reference = np.asarray(x)
    except ValueError:  # ragged
        reference = None
    numeric = reference is not None and reference.dtype.kind in "biuf"
    try:
        out = to_numeric(x, "values")
    except (TypeError, ValueError) as error:
        assert "`values`" in str(error)
        assert not numeric, f"refused {x!r}, which numpy reads as {reference.dtype}"
        return
    assert numeric and type(out) is np.ndarray
    assert out.dtype == reference.dtype
    np.testing.assert_array_equal(out, reference)


def test_to_numeric_pandas_and_polars_missing_values_are_nan():
    cases = {
        "Int64": pd.array([1, None], dtype="Int64"),
        "Float64": pd.Series([1.5, None], dtype="Float64"),
        "boolean": pd.array([True, None], dtype="boolean"),
        "float NaN": pd.Series([1.5, np.nan]),
        "categorical": pd.Categorical([1.5, None]),
        "polars int": pl.Series([1, None]),
        "polars bool": pl.Series([True, None]),
        "polars all null": pl.Series([None, None]),
    }
    for label, data in cases.items():
        out = to_numeric(data, "values")
        assert type(out) is np.ndarray and out.dtype == np.float64, label
        assert np.isnan(out[1]) and (label == "polars all null" or out[0] in (1.0, 1.5)), label
    # without missing values, the dtype is kept (labels stay integers)
    assert to_numeric(pd.array([1, 2], dtype="Int64"), "y_true").dtype == np.int64
    assert to_numeric(pl.Series([1, 2], dtype=pl.Int32), "y_true").dtype == np.int32
    from decimal import Decimal

    decimals = pl.Series([Decimal("1.5"), None], dtype=pl.Decimal(10, 2))
    np.testing.assert_array_equal(to_numeric(decimals, "values"), [1.5, np.nan])


def test_as_array_refuses_samples_without_values_but_not_an_empty_batch():
    with pytest.raises(ValueError, match=r"`values` must hold at least one value per sample"):
        as_array(np.zeros((3, 0)), "values", F64)
    assert as_array(np.zeros((0, 3)), "values", F64).shape == (0, 3)
    assert as_array([], "values", F64).shape == (0,)


def test_casts_beyond_a_narrow_dtype_are_infinite_without_a_warning():
    out = as_array([1e10, -1e10], "values", np.dtype("float16"))  # filterwarnings=error
    np.testing.assert_array_equal(out, [np.inf, -np.inf])
    weight = as_sample_weight([1e300], np.dtype("float32"), check=False)
    assert weight[0] == np.inf
    with pytest.raises(ValueError, match="not NaN or infinite, got 1 bad weight"):
        as_sample_weight([1e300], np.dtype("float32"))  # an infinite weight is refused


@settings(max_examples=60, deadline=None)
@given(
    last=st.one_of(st.none(), st.integers(1, 12)),
    ops=st.lists(
        st.tuples(st.sampled_from(["scalar", "array", "many", "read"]), st.integers(1, 40)),
        max_size=40,
    ),
)
def test_the_frame_built_piece_by_piece_equals_one_built_afresh(last, ops):
    """``frame()`` extends its cached frame; it must always equal a frame built from nothing."""
    buffer = HistoryBuffer([("a", ()), ("b", (2,))], F64, ["b"], last=last)
    step = 0
    for op, n in ops:
        if op == "read":
            incremental = buffer.frame()
            buffer._frame = None  # noqa: SLF001 - the test compares with a fresh build
            assert incremental.equals(buffer.frame())
            continue
        count = n if op == "many" else 1
        for _ in range(count):
            step += 1
            if op == "array":
                buffer.append(step, step % 3, np.array([step, 0.5, -1.0]))
            else:
                buffer.append(step, step % 3, (float(step), 1.0, 2.0))
    final = buffer.frame()
    buffer._frame = None  # noqa: SLF001
    assert final.equals(buffer.frame())
