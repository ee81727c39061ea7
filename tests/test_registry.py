"""Generic tests for every metric class `interactive_metrics` exports, driven by the registry.

The cases live in `tests/metric_cases.py`, the one registry every test reads. A metric
exported without a case there fails `test_every_exported_metric_has_a_case`, so a new
metric is tested (repr, config, reset, merge, masking, bad input, history) the day it
is added. The generic tests run on `GENERIC_CASES`: each class's main case (minus the
documented `GENERIC_EXEMPT`, Bootstrap) and the further configurations in `VARIANTS`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metric_cases import CASES, GENERIC_CASES, GENERIC_EXEMPT, Case, exported_metric_classes
from polars.testing import assert_frame_equal

import interactive_metrics as im

Inputs = tuple[np.ndarray, ...]

by_case = pytest.mark.parametrize("case", list(GENERIC_CASES.values()), ids=list(GENERIC_CASES))


def weights(rng: np.random.Generator, n: int) -> np.ndarray:
    w = rng.uniform(0.1, 2.0, size=n)
    w[rng.random(n) < 0.25] = 0.0  # some samples masked out
    return w


def assert_states_close(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-9, atol=1e-9, err_msg=name)


def run(case: Case, metric: im.Metric, rng: np.random.Generator, sizes: list[int]) -> list[Inputs]:
    """Update `metric` with weighted random batches of these sizes; return them."""
    batches = []
    for n in sizes:
        batch = case.batch(rng, n)
        w = weights(rng, n)
        metric.update_state(*batch, sample_weight=w)
        batches.append((*batch, w))
    return batches


def build(case: Case, **kwargs: Any) -> im.Metric:
    return case.build(**kwargs)


# -- discovery ----------------------------------------------------------------------------


def test_every_exported_metric_has_a_case():
    exported = exported_metric_classes()
    missing = sorted(set(exported) - set(CASES))
    assert not missing, f"add a Case to CASES in tests/metric_cases.py for {missing}"
    assert all(CASES[name].cls is cls for name, cls in exported.items())
    generic = {case.cls for case in GENERIC_CASES.values()}
    exempt = {exported[name] for name in GENERIC_EXEMPT}
    assert set(exported.values()) - generic == exempt  # only the documented exemptions


def test_every_exemption_names_a_case_and_where_it_is_tested():
    assert set(GENERIC_EXEMPT) <= set(CASES)
    for name, where in GENERIC_EXEMPT.items():
        assert where.startswith("tests/") and where.endswith(".py"), name
        assert not any(case.cls is CASES[name].cls for case in GENERIC_CASES.values())


def test_discovery_finds_the_families():
    names = set(exported_metric_classes())
    assert {"Mean", "Accuracy", "Precision", "ConfusionMatrix", "LogCoshError"} <= names


# -- per metric ---------------------------------------------------------------------------


@by_case
def test_repr_shows_name_result_state_and_step(case):
    m = build(case)
    run(case, m, np.random.default_rng(0), [5, 3])
    text = repr(m)
    assert text.startswith(f"{type(m).__name__}(name={m.name!r}, result=")
    for field in m.state:
        assert f"{field}=" in text
    assert text.endswith("step=2)")


@by_case
def test_config_round_trip_rebuilds_an_equal_metric(case):
    m = build(case, name="custom", dtype="float32", history_last=10)
    config = m.get_config()
    rebuilt = type(m).from_config(config)
    assert rebuilt.get_config() == config
    assert (rebuilt.name, rebuilt.dtype, rebuilt.history_last) == ("custom", "float32", 10)
    json.dumps({k: v for k, v in config.items() if k != "fn"})  # save/load needs plain values
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    run(case, m, rng_a, [6, 4])
    run(case, rebuilt, rng_b, [6, 4])
    assert_states_close(rebuilt.state, m.state)
    # and the copy merges into the original: same configuration
    m.merge_state(rebuilt)


@by_case
def test_reset_equals_fresh(case):
    m, fresh = build(case), build(case)
    run(case, m, np.random.default_rng(2), [7, 2])
    m.reset_state()
    assert_states_close(m.state, fresh.state)
    np.testing.assert_array_equal(m.result(), fresh.result())
    assert m.history["event"].to_list() == ["update", "update", "reset"]


@by_case
@settings(max_examples=12, deadline=None)
@given(
    sizes_a=st.lists(st.integers(0, 9), min_size=1, max_size=3),
    sizes_b=st.lists(st.integers(0, 9), min_size=0, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_merge_equals_one_update_on_the_union(case, sizes_a, sizes_b, seed):
    rng = np.random.default_rng(seed)
    a, b, union = build(case), build(case), build(case)
    batches = run(case, a, rng, sizes_a) + run(case, b, rng, sizes_b)
    columns = [np.concatenate(parts) for parts in zip(*batches, strict=True)]
    *inputs, w = columns
    union.update_state(*inputs, sample_weight=w)
    a.merge_state([b])
    assert_states_close(a.state, union.state)
    np.testing.assert_allclose(a.result(), union.result(), rtol=1e-9, atol=1e-9)


@by_case
def test_weight_zero_masks_samples_out(case):
    rng = np.random.default_rng(3)
    kept, masked = case.batch(rng, 6), case.batch(rng, 4)
    w = rng.uniform(0.5, 2.0, size=6)
    with_masked, without = build(case), build(case)
    with_masked.update_state(
        *(np.concatenate(p) for p in zip(kept, masked, strict=True)),
        sample_weight=np.concatenate([w, np.zeros(4)]),
    )
    without.update_state(*kept, sample_weight=w)
    assert_states_close(with_masked.state, without.state)


def bad_updates(case: Case, rng: np.random.Generator) -> list[tuple[type, str, Inputs, Any]]:
    good = case.batch(rng, 4)
    strings = np.array(["a", "b", "c", "d"])
    return [
        (TypeError, "must hold numbers", (strings, *good[1:]), None),
        (ValueError, "cannot broadcast", good, np.ones(5)),
        (ValueError, "must be >= 0", good, np.array([1.0, -1.0, 1.0, 1.0])),
    ]


@by_case
def test_a_failed_update_changes_nothing(case):
    rng = np.random.default_rng(4)
    m = build(case)
    run(case, m, rng, [5, 3])
    state, history, step = m.state, m.history, m.step
    for error, match, batch, w in bad_updates(case, rng):
        with pytest.raises(error, match=match):
            m.update_state(*batch, sample_weight=w)
        assert_states_close(m.state, state)
        assert_frame_equal(m.history, history)
        assert m.step == step


@by_case
def test_history_rows_and_columns_are_named_for_what_they_hold(case):
    rng = np.random.default_rng(5)
    m, other = build(case), build(case)
    run(case, m, rng, [4, 0, 6])
    run(case, other, rng, [3])
    m.merge_state([other])
    state_after_merge = m.state
    m.reset_state()
    fields = [f.name for f in m._fields]
    h = m.history
    assert h.height == 5 and h["step"].to_list() == [1, 2, 3, 4, 5]
    assert h["event"].to_list() == ["update", "update", "update", "merge", "reset"]
    assert h.columns == [
        "step",
        "event",
        *(f"batch_{f}" for f in fields),
        "batch_result",
        *(f"running_{f}" for f in fields),
        "result",
    ]
    for f in fields:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", f), f"field {f!r} is not a plain name"
    merge_row = h.row(3, named=True)
    for f in fields:
        np.testing.assert_allclose(merge_row[f"running_{f}"], state_after_merge[f])
    assert m.state_at(4).keys() == state_after_merge.keys()
    assert_states_close(m.state_at(4), state_after_merge)


@by_case
def test_float32_dtype_is_kept_in_state_and_history(case):
    m = build(case, dtype="float32")
    run(case, m, np.random.default_rng(6), [5])
    assert m.dtype == "float32"
    float_columns = [c for c in m.history.columns if c not in ("step", "event")]
    for column in float_columns:
        dtype = m.history.schema[column]
        while hasattr(dtype, "inner"):
            dtype = dtype.inner
        assert str(dtype) == "Float32", column


@by_case
def test_history_results_are_the_results_seen_after_each_event(case):
    # Scalar metrics record states and compute `batch_result`/`result` later, for a block
    # of rows at once; they must be exactly what `result()` said at the time, and what
    # `compute` gives for each batch state alone.
    rng = np.random.default_rng(11)
    m, other = build(case), build(case)
    run(case, other, rng, [5])
    seen = []
    for step, n in enumerate([3, 0, 7, 1, 300, 2]):
        if step == 3:
            m.merge_state([other])
        else:
            run(case, m, rng, [n])
        seen.append(np.asarray(m.result(), dtype=float))
    h = m.history
    for i, want in enumerate(seen):
        got = np.asarray(h["result"][i], dtype=float)
        np.testing.assert_array_equal(got, want, err_msg=f"row {i}")
        assert np.array_equal(np.asarray(m.result_at(i + 1), dtype=float), want, equal_nan=True)
    batch_fields = {f.name: h[f"batch_{f.name}"].to_numpy() for f in m._fields}
    for i in range(h.height):
        state = {k: np.asarray(v[i]) for k, v in batch_fields.items()}
        own = np.asarray(m.compute(state), dtype=float)
        np.testing.assert_array_equal(np.asarray(h["batch_result"][i], dtype=float), own)
