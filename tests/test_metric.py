"""The Metric base: history, events, the past, merge, config, bad input, and properties."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import interactive_metrics as im

# -- history ------------------------------------------------------------------------------


def test_history_columns_and_rows_for_every_event():
    a, b = im.Mean(), im.Mean()
    b.update_state([10.0, 20.0])
    a.update_state([1, 3], sample_weight=[1, 3])
    a.update_state([5.0])
    a.merge_state([b])
    a.reset_state()
    h = a.history
    assert h.columns == [
        "step",
        "event",
        "batch_total",
        "batch_count",
        "batch_result",
        "running_total",
        "running_count",
        "result",
    ]
    assert h["step"].to_list() == [1, 2, 3, 4]
    assert h["event"].to_list() == ["update", "update", "merge", "reset"]
    assert h["batch_total"].to_list() == [10.0, 5.0, 30.0, None]  # a reset has no batch
    assert h["batch_count"].to_list() == [4.0, 1.0, 2.0, None]
    assert h["batch_result"].to_list() == [2.5, 5.0, 15.0, None]
    assert h["running_total"].to_list() == [10.0, 15.0, 45.0, 0.0]
    assert h["running_count"].to_list() == [4.0, 5.0, 7.0, 0.0]
    assert h["result"].to_list() == [2.5, 3.0, 45 / 7, 0.0]


def test_issue_example_state_at_and_result_at():
    m = im.Sum()
    m.update_state([1, 3, 5, 7])
    assert m.result() == 16.0
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result() == 20.0
    assert isinstance(m.history, pl.DataFrame) and m.history.height == 2
    assert m.state_at(0) == {"total": 0.0} and m.result_at(0) == 0.0
    assert m.state_at(1) == {"total": 16.0} and m.result_at(1) == 16.0
    assert m.state_at(2) == {"total": 20.0}


def test_state_at_rejects_unknown_steps():
    m = im.Mean()
    m.update_state([1.0])
    with pytest.raises(ValueError, match=r"`step` must be in \[0, 1\].*got 5"):
        m.state_at(5)
    with pytest.raises(TypeError, match="`step` must be an integer, got 1.5"):
        m.state_at(1.5)
    off = im.Mean(history=False)
    off.update_state([1.0])
    assert off.history.height == 0
    with pytest.raises(ValueError, match="history=False"):
        off.result_at(1)


def test_empty_batch_is_a_recorded_no_op():
    m = im.Mean()
    m.update_state([2.0, 4.0])
    m.update_state([])
    assert m.result() == 3.0
    assert m.history["batch_count"].to_list() == [2.0, 0.0]
    assert m.history["batch_result"].to_list() == [3.0, 0.0]
    assert m.step == 2


def test_history_every_accumulates_the_batch_columns():
    m = im.Sum(history_every=3)
    for value in range(1, 8):
        m.update_state([float(value)])
    h = m.history
    assert h["step"].to_list() == [3, 6]
    assert h["batch_total"].to_list() == [1 + 2 + 3, 4 + 5 + 6]  # everything since the last row
    assert h["running_total"].to_list() == [6.0, 21.0]
    assert m.result() == 28.0
    m.reset_state()  # resets and merges are always recorded
    assert m.history["step"].to_list() == [3, 6, 8]
    with pytest.raises(ValueError, match="history_every=3"):
        m.state_at(4)


def test_history_last_keeps_a_window():
    m = im.Sum(history_last=5)
    for value in range(1, 101):
        m.update_state([float(value)])
    h = m.history
    assert h["step"].to_list() == [96, 97, 98, 99, 100]
    assert h["running_total"].to_list() == [sum(range(1, s + 1)) for s in range(96, 101)]
    assert m.result_at(97) == sum(range(1, 98))
    with pytest.raises(ValueError, match="history_last=5"):
        m.state_at(10)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"history_every": 0}, "`history_every` must be an integer >= 1, got 0"),
        ({"history_last": -1}, "`history_last` must be None or an integer >= 1, got -1"),
        ({"nan_strategy": "drop"}, "`nan_strategy` must be one of .*got 'drop'"),
    ],
)
def test_constructor_options_are_validated(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        im.Mean(**kwargs)


def test_history_stores_no_python_object_per_row():
    m = im.Mean()
    v = np.ones(4)
    for _ in range(10_000):
        m.update_state(v)
    buffer = m._history
    # 6 numbers + step (int64) + event (int8) per row, in numpy buffers
    assert buffer.nbytes == 10_000 * (6 * 8 + 8 + 1)
    assert buffer._values.dtype == np.float64 and buffer._values.shape[1] == 6


# -- merge, reset, call, config, repr -----------------------------------------------------


def test_merge_is_pooled_not_mean_of_means():
    small, large = im.Mean(), im.Mean()
    small.update_state([0.0])
    large.update_state([1.0] * 9)
    small.merge_state(large)
    assert small.result() == 0.9  # pooled: 9 / 10, while the mean of the two means is 0.5


def test_merge_rejects_other_types_configs_and_shapes():
    m = im.Mean()
    with pytest.raises(ValueError, match="cannot merge a Sum into a Mean"):
        m.merge_state([im.Sum()])
    with pytest.raises(
        ValueError, match=r"configurations differ in \{'dtype': \('float64', 'float32'\)\}"
    ):
        m.merge_state([im.Mean(dtype="float32")])
    other = im.Mean()
    other._state = {"total": np.zeros(2), "count": np.zeros(2)}
    with pytest.raises(ValueError, match=r"field 'total' has shape \(2,\), expected \(\)"):
        m.merge_state([other])
    assert m.step == 0 and m.history.height == 0
    m.merge_state([im.Mean(name="other", history=False)])  # names and history options may differ
    assert m.history["event"].to_list() == ["merge"]


def test_call_updates_and_returns_the_running_result():
    m = im.Mean()
    assert m([1.0, 3.0]) == 2.0
    assert m([8.0]) == 4.0
    assert m.history["batch_result"].to_list() == [2.0, 8.0]


def test_inputs_by_keyword_and_wrong_arity():
    m = im.Mean()
    m.update_state(values=[1.0, 2.0], sample_weight=[1.0, 1.0])
    assert m.result() == 1.5
    with pytest.raises(
        TypeError, match=r"Mean.update_state\(\) takes \(values, sample_weight=None\)"
    ):
        m.update_state([1.0], [2.0])
    with pytest.raises(TypeError, match=r"takes \(values, sample_weight=None\), got 0 positional"):
        m.update_state(value=[1.0])


def test_config_round_trip_and_default_name():
    m = im.Mean(name="loss", dtype="float32", nan_strategy="ignore", history_every=2)
    config = m.get_config()
    assert config == {
        "name": "loss",
        "dtype": "float32",
        "nan_strategy": "ignore",
        "history": True,
        "history_every": 2,
        "history_last": None,
        "summation": "plain",
        "variance": False,
    }
    assert im.Mean.from_config(config).get_config() == config
    assert im.MeanMetricWrapper(np.abs).name == "absolute"
    assert im.Max().name == "max"


def test_repr_shows_the_current_value():
    m = im.Mean()
    m.update_state([1.0, 2.0])
    assert repr(m) == "Mean(name='mean', result=1.5, total=3.0, count=2.0, step=1)"


# -- bad input changes nothing ------------------------------------------------------------

BAD_INPUTS = [
    (
        (["a", "b"],),
        {},
        TypeError,
        r"`values` must hold numbers or booleans, got an array of strings",
    ),
    (([object()],), {}, TypeError, r"`values` must hold numbers"),
    (([[1, 2], [3]],), {}, ValueError, r"`values` must be a rectangular array"),
    ((None,), {}, TypeError, r"`values` must be array-like, got None"),
    (
        ([1.0, 2.0],),
        {"sample_weight": [1.0, 2.0, 3.0]},
        ValueError,
        r"`sample_weight` of shape \(3,\)",
    ),
    (([1.0, 2.0],), {"sample_weight": [1.0, -1.0]}, ValueError, r"`sample_weight` must be >= 0"),
    (
        ([1.0, 2.0],),
        {"sample_weight": [np.nan, 1.0]},
        ValueError,
        r"`sample_weight` must be >= 0 and not NaN",
    ),
    (([1.0, 2.0],), {"sample_weight": ["x", "y"]}, TypeError, r"`sample_weight` must hold numbers"),
]


@pytest.mark.parametrize(("args", "kwargs", "error", "pattern"), BAD_INPUTS)
@pytest.mark.parametrize("cls", [im.Sum, im.Mean, im.Count, im.Min, im.Max])
def test_a_failed_update_changes_nothing(cls, args, kwargs, error, pattern):
    m = cls()
    m.update_state([1.0, 2.0, 4.0], sample_weight=[1.0, 0.5, 2.0])
    state, history, step = m.state, m.history.clone(), m.step
    with pytest.raises(error, match=pattern):
        m.update_state(*args, **kwargs)
    assert m.state == state
    assert m.step == step
    assert_frame_equal(m.history, history)
    m.update_state([3.0])  # and the metric still works
    assert m.step == step + 1


def test_mismatched_y_true_y_pred_changes_nothing():
    m = im.MeanMetricWrapper(lambda a, b: a == b, name="equal")
    m.update_state([1, 2], [1, 3])
    before = m.history.clone()
    with pytest.raises(ValueError, match=r"`y_pred` must have as many samples as `y_true` \(3\)"):
        m.update_state([1, 2, 3], [1, 2])
    assert_frame_equal(m.history, before)
    assert m.result() == 0.5


# -- properties (hypothesis) --------------------------------------------------------------

# Integer-valued floats keep every sum exact, so "equal" means bit-for-bit equal.
batch = st.lists(st.integers(-1000, 1000).map(float), min_size=0, max_size=8)
weighted_batch = batch.flatmap(
    lambda v: st.tuples(
        st.just(v), st.lists(st.integers(0, 3).map(float), min_size=len(v), max_size=len(v))
    )
)
batches = st.lists(weighted_batch, min_size=0, max_size=6)
METRICS = [im.Sum, im.Mean, im.Count, im.Min, im.Max]


def _fed(cls, data):
    m = cls()
    for values, weights in data:
        m.update_state(values, sample_weight=weights)
    return m


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(METRICS), batches, batches)
def test_merge_equals_one_metric_updated_with_both(cls, first, second):
    a, b = _fed(cls, first), _fed(cls, second)
    a.merge_state([b])
    assert a.state == _fed(cls, first + second).state


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(METRICS), batches)
def test_reset_equals_fresh(cls, data):
    m = _fed(cls, data)
    m.reset_state()
    assert m.state == cls().state
    assert m.result() == cls().result()


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(METRICS), batches.filter(bool))
def test_last_history_row_is_the_current_state(cls, data):
    m = _fed(cls, data)
    last = m.history.row(-1, named=True)
    for name, value in m.state.items():
        assert last[f"running_{name}"] == value
    assert last["result"] == m.result() or (math.isnan(last["result"]) and math.isnan(m.result()))


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(METRICS), batches)
def test_state_at_k_equals_a_metric_fed_the_first_k_batches(cls, data):
    m = _fed(cls, data)
    for k in range(len(data) + 1):
        assert m.state_at(k) == _fed(cls, data[:k]).state
        assert m.result_at(k) == _fed(cls, data[:k]).result()


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(METRICS),
    batches,
    st.sampled_from(
        [
            ((["x"],), {}),
            (([1.0, 2.0],), {"sample_weight": [1.0, 1.0, 1.0]}),
            (([1.0],), {"sample_weight": [-2.0]}),
            (([[1.0], [1.0, 2.0]],), {}),
        ]
    ),
)
def test_a_failed_update_changes_nothing_property(cls, data, bad):
    m = _fed(cls, data)
    state, history = m.state, m.history.clone()
    args, kwargs = bad
    with pytest.raises((TypeError, ValueError)):
        m.update_state(*args, **kwargs)
    assert m.state == state
    assert_frame_equal(m.history, history)


def test_a_compute_that_fails_on_some_state_fails_updates_cleanly():
    # Results of scalar metrics are computed in blocks of history rows; a compute that
    # raises still fails an update (or a read of the history) without losing rows.
    class Picky(im.Metric):
        fields = [im.StateField("total")]

        def terms(self, values, sample_weight=None):
            return {"total": values}

        def compute(self, state):
            if np.any(np.asarray(state["total"]) > 1000):
                raise ArithmeticError("too big")
            return state["total"]

    m = Picky()
    for _ in range(300):
        m.update_state([1.0])
    assert m.history.height == 300 and m.result_at(300) == 300.0
    m.update_state([1000.0])  # queued: its results are not computed yet
    with pytest.raises(ArithmeticError, match="too big"):
        m.history  # noqa: B018
    assert len(m._history._queue) == 1  # the row waits; nothing was half-stored
    assert m.step == 301 and m.state == {"total": 1300.0}
