"""The fast paths of small updates give what the general paths give, and refuse what they refuse.

Each fast path (integer labels checked and coded in one ``ravel_multi_index`` pass,
float ranges checked on the floats' bits, integer inputs kept as integers, array
states queued in the history) is compared with an independent reference: the
general path it short-cuts (float labels, a minimum and a maximum), a Python loop,
or the states the metric reports after every update.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import interactive_metrics as im
from interactive_metrics.core.coerce import as_array, as_integers_or_floats
from interactive_metrics.core.reduce import OneHot
from interactive_metrics.history import FLUSH_ROWS, HistoryBuffer
from interactive_metrics.metrics._paired import both_within, within
from interactive_metrics.metrics.confusion import ONE_PASS, class_labels_of, label_codes

LABEL_METRICS = [
    lambda: im.MatthewsCorrelation(4),
    lambda: im.CohenKappa(4),
    lambda: im.BalancedAccuracy(4),
    lambda: im.ConfusionMatrix(4),
    lambda: im.Precision(num_classes=4, average="macro"),
    lambda: im.Recall(num_classes=4),
    lambda: im.F1Score(4, "weighted"),
]


# -- integer labels: one pass --------------------------------------------------------------


@given(
    st.sampled_from(["int8", "int32", "int64", "uint8", "uint64"]),
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=40),
)
def test_label_codes_are_the_flat_positions_or_none(dtype: str, pairs: list) -> None:
    y_true = np.array([t for t, _ in pairs], dtype=dtype)
    y_pred = np.array([p for _, p in pairs], dtype=dtype)
    codes = label_codes(y_true, y_pred, 4)
    if all(t < 4 and p < 4 for t, p in pairs):
        assert codes is not None
        np.testing.assert_array_equal(codes, [t * 4 + p for t, p in pairs])
    else:
        assert codes is None  # the general path reports the label


def test_label_codes_leave_floats_and_other_shapes_to_the_general_path() -> None:
    assert label_codes(np.array([0.0, 1.0]), np.array([0, 1]), 2) is None
    assert label_codes(np.array([[0], [1]]), np.array([0, 1]), 2) is None
    assert label_codes(np.array([-1, 0]), np.array([0, 1]), 2) is None
    assert label_codes(np.array([0, 10**18]), np.array([0, 1]), 2) is None
    assert label_codes(np.array([0]), np.array([0, 1]), 2) is None  # would broadcast
    many = np.zeros(ONE_PASS + 1, dtype=np.int64)
    assert label_codes(many, many, 2) is None  # the vectorised checks are faster there


@pytest.mark.parametrize("make", LABEL_METRICS)
@pytest.mark.parametrize("weighted", [False, True])
def test_integer_labels_give_the_states_of_float_labels_bit_for_bit(make, weighted) -> None:
    rng = np.random.default_rng(11)
    fast, general = make(), make()
    for n in (32, 1, 0, 200, ONE_PASS, ONE_PASS + 1):  # one pass, then the vectorised checks
        y_true, y_pred = rng.integers(0, 4, n), rng.integers(0, 4, n)
        weight = rng.random(n) if weighted else None
        fast.update_state(y_true, y_pred, sample_weight=weight)
        general.update_state(y_true.astype(float), y_pred.astype(float), sample_weight=weight)
        for name, value in fast.state.items():
            np.testing.assert_array_equal(value, general.state[name])
    for a, b in zip(fast.history.iter_rows(), general.history.iter_rows(), strict=True):
        assert a == b


@pytest.mark.parametrize("make", LABEL_METRICS)
@pytest.mark.parametrize(
    ("bad", "shown"), [(-1, r"-1\.0"), (4, r"4\.0"), (10**18, r"1e\+18"), (2**63 - 1, r"9\.2")]
)
def test_an_integer_label_out_of_range_is_refused_and_nothing_changes(make, bad, shown) -> None:
    m = make()
    m.update_state([0, 1, 2], [0, 1, 3])
    before, rows = m.state, m.history.height
    for n in (4, ONE_PASS + 4):
        y_true, fine = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        y_true[n // 2] = bad
        with pytest.raises(ValueError, match=rf"`y_true` must hold (class )?labels.*got {shown}"):
            m.update_state(y_true, fine)
        with pytest.raises(ValueError, match=rf"`y_pred` must hold (class )?labels.*got {shown}"):
            m.update_state(fine, y_true)
    assert m.history.height == rows and m.step == 1
    for name, value in before.items():
        np.testing.assert_array_equal(m.state[name], value)


def test_class_labels_of_checks_integers_in_one_pass() -> None:
    np.testing.assert_array_equal(class_labels_of(np.array([3, 0], np.uint8), "y_true", 4), [3, 0])
    with pytest.raises(ValueError, match=r"class labels in \[0, 4\).*got 4\.0"):
        class_labels_of(np.array([3, 4]), "y_true", 4)
    with pytest.raises(ValueError, match=r"got 0\.5"):
        class_labels_of(np.array([0.5, 1.0]), "y_true", 4)
    with pytest.raises(ValueError, match=r"got nan"):
        class_labels_of(np.array([np.nan, 1.0]), "y_true", 4)


def test_labels_beyond_float16_stay_exact_in_a_float16_precision() -> None:
    # cast to float16, 2049 would become 2048 and count as a right prediction
    m = im.Precision(num_classes=2050, average="micro", dtype="float16")
    m.update_state([2049, 3], [2048, 3])
    assert m.result() == 0.5


# -- one-pass range checks of floats ---------------------------------------------------------


@settings(max_examples=300)
@given(
    hnp.arrays(
        st.sampled_from([np.float16, np.float32, np.float64]),
        st.tuples(st.integers(0, 12)) | st.tuples(st.integers(1, 4), st.integers(1, 3)),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=16)
        | st.sampled_from([0.0, -0.0, 1.0, 3.0, 3.5, 5e-324, -5e-324]),
    ),
    st.sampled_from([1.0, 3, 2049]),
)
def test_within_is_a_minimum_and_a_maximum(values: np.ndarray, high: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NaN comparisons in the reference
        want = bool(values.size == 0 or (np.min(values) >= 0 and np.max(values) <= high))
    assert within(values, high) is want
    assert within(values.astype(values.dtype.newbyteorder()), high) is want  # non-native
    strided = values[::2]  # not contiguous
    assert within(strided, high) is within(strided.copy(), high)


@given(
    hnp.arrays(np.float64, 6, elements=st.floats(-1, 2) | st.sampled_from([-0.0, np.nan])),
    hnp.arrays(np.float64, 6, elements=st.floats(-1, 2) | st.sampled_from([-0.0, np.inf])),
)
def test_both_within_is_within_of_each(first: np.ndarray, second: np.ndarray) -> None:
    assert both_within(first, second, 1.0) is (within(first, 1.0) and within(second, 1.0))
    assert both_within(first[:3], second, 1.0) is (within(first[:3], 1.0) and within(second, 1.0))


def test_out_of_range_labels_and_scores_name_the_one_that_is() -> None:
    for m in (im.AUC(), im.AveragePrecision()):
        with pytest.raises(
            ValueError, match=r"`y_true` must hold labels in \[0, 1\].*0\.0 to 2\.0"
        ):
            m.update_state([0.0, 2.0], [0.5, 0.2])
        with pytest.raises(ValueError, match=r"`y_pred` must hold probabilities.*0\.5 to 1\.5"):
            m.update_state([0.0, 2.0], [0.5, 1.5])  # both bad: y_pred is named first, as before
        assert m.step == 0


def test_calibration_counts_float_labels_as_their_hits() -> None:
    ece, reference = im.ExpectedCalibrationError(), im.ExpectedCalibrationError()
    y_true, y_pred = np.array([1.0, -0.0, 0.0, 1.0]), np.array([0.9, 0.1, 0.5, 0.55])
    ece.update_state(y_true, y_pred)
    reference.update_state(y_true.astype(bool), y_pred)  # booleans: cast to float hits
    for name, value in ece.state.items():
        np.testing.assert_array_equal(value, reference.state[name])
        assert not np.signbit(value).any()


def test_out_of_range_scores_are_refused_with_their_range() -> None:
    for m in (im.AUC(), im.AveragePrecision(), im.ExpectedCalibrationError()):
        with pytest.raises(ValueError, match=r"`y_pred` must hold probabilities.*-0\.5 to 0\.2"):
            m.update_state([0, 1], [-0.5, 0.2])
        m.update_state([0, 1], [-0.0, 1.0])  # -0.0 is in [0, 1]
        assert m.step == 1


# -- integers kept as integers ----------------------------------------------------------------


def test_as_integers_or_floats_keeps_integers_and_casts_the_rest_as_as_array() -> None:
    x = np.array([3, 1], dtype=np.int16)
    assert as_integers_or_floats(x, "y_true", np.dtype("f4")) is x
    assert as_integers_or_floats([1, 2], "y_true", np.dtype("f4")).dtype == np.int64
    for given_ in ([0.5, 1.0], [True, False], np.array([0.5], dtype=np.float64)):
        got = as_integers_or_floats(given_, "y_pred", np.dtype("f4"))
        np.testing.assert_array_equal(got, as_array(given_, "y_pred", np.dtype("f4")))
        assert got.dtype == np.float32


@pytest.mark.parametrize(
    "make",
    [
        lambda: im.Precision(),
        lambda: im.Recall(thresholds=[0.0, 0.5, 1.0]),
        lambda: im.Precision(top_k=1),
        lambda: im.F1Score(3, threshold=0.5),
        lambda: im.F1Score(3),
        lambda: im.FalsePositives(dtype="float16"),
    ],
)
def test_integer_scores_count_as_the_same_floats(make) -> None:
    y_true, y_pred = np.array([[1, 0, 1], [0, 0, 1]]), np.array([[1, 1, 0], [0, 0, 1]])
    ints, floats = make(), make()
    ints.update_state(y_true, y_pred)
    floats.update_state(y_true.astype(float), y_pred.astype(float))
    for name, value in ints.state.items():
        np.testing.assert_array_equal(value, floats.state[name])


def test_casting_integers_to_floats_raises_no_warning_and_float16_overflows_to_inf() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert as_array(np.array([2**63 - 1]), "x", np.dtype("f4"))[0] == np.float32(2**63)
        assert np.isinf(as_array(np.array([70000]), "x", np.dtype("f2"))[0])
        assert np.isinf(as_array(np.array([1e300]), "x", np.dtype("f4"))[0])


# -- sparse terms built and summed without conversions ---------------------------------------


def test_one_hot_normalises_its_arguments_and_sums_small_batches_exactly() -> None:
    terms = OneHot([1, 1, 3], (np.int64(2), np.int64(2)), None, "float64")
    assert terms.field_shape == (2, 2) and all(type(d) is int for d in terms.field_shape)
    assert terms.index.dtype == np.intp and terms.dtype == np.float64
    np.testing.assert_array_equal(terms.sum(), [[0.0, 2.0], [0.0, 1.0]])
    rng = np.random.default_rng(0)
    for n in (0, 1, 128, 129, 1000):  # through the ones of length n, and past them
        index = rng.integers(0, 5, n)
        got = OneHot(index, (5,)).sum()
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, np.bincount(index, minlength=5))
    with pytest.raises(ValueError, match=r"positions in \[0, 4\)"):
        OneHot(np.array([0, 4]), (2, 2)).sum()


# -- array states queued in the history --------------------------------------------------------


@pytest.mark.parametrize("last", [None, 7, 300])
def test_the_history_of_array_states_is_every_state_reported(last) -> None:
    rng = np.random.default_rng(5)
    m = im.ConfusionMatrix(3, history_last=last)
    seen = []
    for i in range(2 * FLUSH_ROWS + 13):
        if i == 100:
            assert m.history.height == min(i, last or i)  # a read half-way: rows written
        if i % 97 == 50:
            m.reset_state()
            seen.append((None, m.state["confusion_matrix"]))
            continue
        y_true, y_pred = rng.integers(0, 3, 5), rng.integers(0, 3, 5)
        m.update_state(y_true, y_pred, sample_weight=rng.random(5))
        running = m.state["confusion_matrix"]
        before = seen[-1][1] if seen else np.zeros((3, 3))
        seen.append((running - before, running))
    history = m.history
    kept = seen if last is None else seen[-last:]
    assert history.height == len(kept)
    assert history["step"].to_list() == list(range(len(seen) - len(kept) + 1, len(seen) + 1))
    for row, (_, running) in zip(history.iter_rows(named=True), kept, strict=True):
        np.testing.assert_array_equal(np.array(row["running_confusion_matrix"]), running)
        np.testing.assert_array_equal(np.array(row["result"]), running)
        if row["event"] == "reset":
            assert row["batch_confusion_matrix"] is None


def test_results_of_queued_rows_are_computed_when_read_not_on_update() -> None:
    calls = []
    buffer = HistoryBuffer([("a", (2,)), ("r", ())], np.dtype("f8"), complete=calls.append)
    where = (buffer.slices["a"],)
    for step in range(1, 2 * FLUSH_ROWS + 2):  # past the queue's length twice
        buffer.append_states(step, 0, where, (np.array([step, -step], dtype=float),))
    assert calls == []
    assert len(buffer) == 2 * FLUSH_ROWS + 1
    assert [len(block) for block in calls] == [2 * FLUSH_ROWS + 1]


def test_rows_of_every_kind_keep_their_order() -> None:
    buffer = HistoryBuffer([("a", (2,)), ("b", ())], np.dtype("f8"))
    where = (buffer.slices["a"], buffer.slices["b"])
    buffer.append_states(1, 0, where, (np.array([1.0, 1.0]), 1.0))
    buffer.append_numbers((2, 0, 2.0, 2.0, 2.0))
    buffer.append_states(3, 0, (buffer.slices["b"],), (3.0,))  # other columns: 0
    buffer.append_parts(4, 0, [(buffer.slices["b"], 4.0)])
    buffer.append_states(5, 0, where, (np.array([5.0, 5.0]), 5.0))
    frame = buffer.frame()
    assert frame["step"].to_list() == [1, 2, 3, 4, 5]
    assert frame["a"].to_list() == [[1.0, 1.0], [2.0, 2.0], [0.0, 0.0], [0.0, 0.0], [5.0, 5.0]]
    assert frame["b"].to_list() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_update_from_state_keeps_no_reference_to_the_callers_arrays() -> None:
    m = im.ConfusionMatrix(2)
    batch = {"confusion_matrix": np.array([[1.0, 0.0], [2.0, 0.0]])}
    m.update_from_state(batch)
    batch["confusion_matrix"][:] = 99.0  # the caller reuses its buffer
    assert m.history["batch_confusion_matrix"].to_list() == [[[1.0, 0.0], [2.0, 0.0]]]
    np.testing.assert_array_equal(m.state["confusion_matrix"], [[1.0, 0.0], [2.0, 0.0]])


def test_a_copied_metric_keeps_its_queued_rows() -> None:
    import copy

    m = im.ConfusionMatrix(2)
    m.update_state([0, 1], [0, 0])
    clone = copy.deepcopy(m)
    m.update_state([1], [1])
    clone.update_state([0], [1])
    assert m.history["running_confusion_matrix"].to_list()[-1] == [[1.0, 0.0], [1.0, 1.0]]
    assert clone.history["running_confusion_matrix"].to_list()[-1] == [[1.0, 1.0], [1.0, 0.0]]
    assert pl.Series(clone.history["step"]).to_list() == [1, 2]


def test_one_hot_from_checked_is_the_one_hot_of_the_same_arguments() -> None:
    rng = np.random.default_rng(3)
    index, weight = rng.integers(0, 6, 50), rng.random(50)
    for w in (None, weight):
        fast = OneHot.from_checked(index, (2, 3), w, np.dtype("float32"))
        slow = OneHot(index, (2, 3), w, "float32")
        assert fast.shape == slow.shape and fast.size == slow.size == 6
        np.testing.assert_array_equal(fast.sum(), slow.sum())
        np.testing.assert_array_equal(np.asarray(fast), np.asarray(slow))
        codes = rng.integers(0, 4, 50)
        np.testing.assert_array_equal(fast.segment_sums(codes, 4), slow.segment_sums(codes, 4))
    with pytest.raises(ValueError, match=r"positions in \[0, 6\)"):  # still refused when summed
        OneHot.from_checked(np.array([0, 6]), (2, 3), None, np.dtype("float64")).sum()
