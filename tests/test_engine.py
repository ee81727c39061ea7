"""The engine on its own: segment states, scans and the stateless chain against the tracker."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metric_cases import CASES

import interactive_metrics as im

# Metrics whose fields are sums, minima, maxima, vectors and matrices (and OneHot terms).
NAMES = [
    "Sum",
    "Mean",
    "Min",
    "Max",
    "BinaryAccuracy",
    "MeanSquaredError",
    "Precision",
    "ConfusionMatrix",
    "AUC",
    "PearsonCorrelation",
]


Batches = list[tuple[tuple[np.ndarray, ...], np.ndarray]]


def _batches(name: str, seed: int, sizes: list[int]) -> Batches:
    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        inputs = CASES[name].batch(rng, n)
        weight = rng.integers(0, 3, size=n).astype(float)
        out.append((inputs, weight))
    return out


def _equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return set(a) == set(b) and all(
        np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=True) for k in a
    )


@pytest.mark.parametrize("name", NAMES)
@given(seed=st.integers(0, 2**16), sizes=st.lists(st.integers(1, 40), min_size=1, max_size=5))
@settings(max_examples=15, deadline=None)
def test_the_stateless_chain_equals_the_stateful_metric_bit_for_bit(
    name: str, seed: int, sizes: list[int]
) -> None:
    metric = CASES[name].build()
    state = metric.stateless_reset_state()
    for inputs, weight in _batches(name, seed, sizes):
        state = metric.stateless_update_state(state, *inputs, sample_weight=weight)
    assert metric.step == 0  # the stateless view changed nothing
    for inputs, weight in _batches(name, seed, sizes):
        metric.update_state(*inputs, sample_weight=weight)
    assert _equal(state, metric.state)
    np.testing.assert_array_equal(metric.stateless_result(state), metric.result())


@pytest.mark.parametrize("name", NAMES)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 60), segments=st.integers(1, 6))
@settings(max_examples=15, deadline=None)
def test_segment_states_merged_equal_the_batch_state(
    name: str, seed: int, n: int, segments: int
) -> None:
    engine = CASES[name].build().engine
    ((inputs, weight),) = _batches(name, seed, [n])
    batch = engine.bind(*inputs, sample_weight=weight)
    ids = np.random.default_rng(seed + 1).integers(0, segments, size=n)
    per_segment = engine.segment_states(engine.terms(batch), ids, segments)
    merged = engine.identity()
    for i in range(segments):
        merged = engine.combine(merged, engine.row(per_segment, i))
    whole = engine.batch_state(batch)
    for key in whole:  # sums may be added in another order: equal to rounding
        np.testing.assert_allclose(merged[key], whole[key], rtol=1e-12, atol=1e-12)
    # sorted runs (reduceat) give the same states as the group-by
    order = np.argsort(ids, kind="stable")
    in_order = engine.bind(*(x[order] for x in inputs), sample_weight=weight[order])
    starts = np.flatnonzero(np.r_[True, np.diff(ids[order]) != 0])
    runs = engine.sorted_segment_states(engine.terms(in_order), starts, n)
    present = np.unique(ids)
    for key in whole:
        np.testing.assert_allclose(runs[key], per_segment[key][present], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
@given(seed=st.integers(0, 2**16), sizes=st.lists(st.integers(1, 30), min_size=1, max_size=6))
@settings(max_examples=15, deadline=None)
def test_the_scan_of_batch_states_is_the_trackers_history(
    name: str, seed: int, sizes: list[int]
) -> None:
    metric = CASES[name].build()
    engine = metric.engine
    batches = _batches(name, seed, sizes)
    states = [engine.batch_state(engine.bind(*i, sample_weight=w)) for i, w in batches]
    stacked = {k: np.stack([np.asarray(s[k]) for s in states]) for k in engine.names}
    running = engine.scan(stacked)
    for inputs, weight in batches:
        metric.update_state(*inputs, sample_weight=weight)
    history = metric.history
    for f in engine.fields:
        column = np.array(history[f"running_{f.name}"].to_list()).reshape(running[f.name].shape)
        np.testing.assert_array_equal(column, running[f.name])
    results = engine.results(running)
    np.testing.assert_array_equal(
        np.array(history["result"].to_list()).reshape(results.shape), results
    )
    # and update_from_states (what replay and Dask call) writes that same history
    other = CASES[name].build()
    other.update_from_states(stacked)
    assert other.history.equals(history)


def test_update_from_states_refuses_states_of_another_shape_and_changes_nothing() -> None:
    m = im.Mean()
    m.update_state([1.0, 2.0])
    before = (m.state, m.history)
    with pytest.raises(ValueError, match=r"`batch_states` must map each state field"):
        m.update_from_states({"total": np.array([1.0])})
    with pytest.raises(ValueError, match=r"`batch_states\['count'\]` must have shape \(2,\)"):
        m.update_from_states({"total": np.zeros(2), "count": np.zeros(3)})
    assert m.state == before[0] and m.history.equals(before[1])


def test_restore_round_trips_a_snapshot_and_refuses_a_wrong_one() -> None:
    a = im.Sum(summation="kahan", history_every=2)
    for v in ([1.0], [2.0], [3.0]):
        a.update_state(v)
    b = im.Sum(summation="kahan", history_every=2)
    snap = a.snapshot()
    b.restore(snap)
    assert (b.state, b.step, b.updates_held_back) == (a.state, 3, 1)
    with pytest.raises(ValueError, match="compensation"):
        im.Sum().restore(snap)
    with pytest.raises(ValueError, match="step"):
        im.Sum().restore(snap._replace(compensation=None, step=-1))
