"""Generic tests for every metric class `interactive_metrics` exports, driven by a registry.

A metric exported without an example here fails `test_every_exported_metric_has_a_case`,
so a new metric is tested (repr, config, reset, merge, masking, bad input, history)
the day it is added: add a `Case` below with a batch generator for its inputs.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import interactive_metrics as im

Batch = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Case:
    """How to build one configuration of a metric and random batches for it."""

    id: str
    make: Callable[..., im.Metric]
    batch: Callable[[np.random.Generator, int], Batch]

    @property
    def cls(self) -> type:
        return type(self.make())


def absolute_error(y_true, y_pred):
    return np.abs(y_true - y_pred)


def values(rng: np.random.Generator, n: int) -> Batch:
    return (rng.normal(size=n),)


def rows(rng: np.random.Generator, n: int) -> Batch:
    return (rng.normal(size=(n, 3)),)


def pairs(rng: np.random.Generator, n: int) -> Batch:
    return rng.normal(size=n), rng.normal(size=n)


def positive_pairs(rng: np.random.Generator, n: int) -> Batch:
    return rng.uniform(0.5, 3, size=(n, 2)), rng.uniform(0, 3, size=(n, 2))


def labels(rng: np.random.Generator, n: int) -> Batch:
    return rng.integers(0, 3, size=(n, 1)).astype(float), rng.integers(0, 3, size=(n, 1))


def binary(rng: np.random.Generator, n: int) -> Batch:
    return rng.integers(0, 2, size=n), rng.random(n)


def binary_rows(rng: np.random.Generator, n: int) -> Batch:
    return rng.integers(0, 2, size=(n, 4)), rng.random((n, 4))


def one_hot(rng: np.random.Generator, n: int) -> Batch:
    return np.eye(4)[rng.integers(0, 4, size=n)], rng.random((n, 4))


def sparse(rng: np.random.Generator, n: int) -> Batch:
    return rng.integers(0, 4, size=n), rng.random((n, 4))


def sorted_ids(rng: np.random.Generator, n: int) -> Batch:
    return rng.integers(0, 4, size=n), np.argsort(-rng.random((n, 4)), axis=1)


def steps(rng: np.random.Generator, n: int) -> Batch:
    return rng.integers(0, 4, size=(n, 1)), rng.random((n, 2, 4))


def class_pairs(rng: np.random.Generator, n: int) -> Batch:
    return rng.integers(0, 3, size=n), rng.integers(0, 3, size=n)


CASES = [
    Case("Sum", im.Sum, values),
    Case("Sum-rows", im.Sum, rows),
    Case("Mean", im.Mean, values),
    Case("Mean-rows", im.Mean, rows),
    Case("Count", im.Count, values),
    Case("Min", im.Min, rows),
    Case("Max", im.Max, values),
    Case("MeanMetricWrapper", lambda **kw: im.MeanMetricWrapper(absolute_error, **kw), pairs),
    Case("SumMetricWrapper", lambda **kw: im.SumMetricWrapper(absolute_error, **kw), pairs),
    Case("Accuracy", im.Accuracy, labels),
    Case("BinaryAccuracy", lambda **kw: im.BinaryAccuracy(threshold=0.3, **kw), binary),
    Case("BinaryAccuracy-rows", im.BinaryAccuracy, binary_rows),
    Case("SumBinaryAccuracy", im.SumBinaryAccuracy, binary_rows),
    Case("CategoricalAccuracy", im.CategoricalAccuracy, one_hot),
    Case("SparseCategoricalAccuracy", im.SparseCategoricalAccuracy, sparse),
    Case("TopKCategoricalAccuracy", lambda **kw: im.TopKCategoricalAccuracy(k=2, **kw), one_hot),
    Case(
        "SparseTopKCategoricalAccuracy",
        lambda **kw: im.SparseTopKCategoricalAccuracy(k=2, **kw),
        sparse,
    ),
    Case(
        "SparseTopKCategoricalAccuracy-sorted_ids",
        lambda **kw: im.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True, **kw),
        sorted_ids,
    ),
    Case("SparseCategoricalAccuracy-steps", im.SparseCategoricalAccuracy, steps),
    Case("TruePositives", im.TruePositives, binary),
    Case("FalsePositives-thresholds", lambda **kw: im.FalsePositives([0.2, 0.7], **kw), binary),
    Case("TrueNegatives-rows", lambda **kw: im.TrueNegatives([0.4, 0.6], **kw), binary_rows),
    Case("FalseNegatives", lambda **kw: im.FalseNegatives(0.8, **kw), binary),
    Case("Precision", im.Precision, binary),
    Case("Precision-thresholds", lambda **kw: im.Precision([0.1, 0.5, 0.9], **kw), binary),
    Case("Precision-top_k", lambda **kw: im.Precision(top_k=2, **kw), binary_rows),
    Case("Precision-class_id", lambda **kw: im.Precision(class_id=1, **kw), binary_rows),
    Case("Recall", im.Recall, binary),
    Case("Recall-top_k-class_id", lambda **kw: im.Recall(0.3, 2, 3, **kw), binary_rows),
    Case("FBetaScore", lambda **kw: im.FBetaScore(4, beta=2.0, threshold=0.4, **kw), binary_rows),
    Case("FBetaScore-micro", lambda **kw: im.FBetaScore(4, "micro", **kw), binary_rows),
    Case("F1Score-macro", lambda **kw: im.F1Score(4, "macro", 0.5, **kw), binary_rows),
    Case("F1Score-weighted", lambda **kw: im.F1Score(4, "weighted", **kw), one_hot),
    Case("ConfusionMatrix", lambda **kw: im.ConfusionMatrix(3, **kw), class_pairs),
    Case(
        "Precision-labels-macro",
        lambda **kw: im.Precision(num_classes=4, average="macro", **kw),
        sparse,
    ),
    Case("Recall-labels", lambda **kw: im.Recall(num_classes=3, **kw), class_pairs),
    Case(
        "FBetaScore-labels-weighted", lambda **kw: im.FBetaScore(4, "weighted", 0.5, **kw), sparse
    ),
    Case("F1Score-labels-micro", lambda **kw: im.F1Score(3, "micro", **kw), class_pairs),
    Case("Specificity", im.Specificity, binary),
    Case(
        "Specificity-labels",
        lambda **kw: im.Specificity(num_classes=4, average="weighted", **kw),
        sparse,
    ),
    Case("MatthewsCorrelation", im.MatthewsCorrelation, binary),
    Case("MatthewsCorrelation-classes", lambda **kw: im.MatthewsCorrelation(4, **kw), sparse),
    Case(
        "CohenKappa-quadratic",
        lambda **kw: im.CohenKappa(3, weights="quadratic", **kw),
        class_pairs,
    ),
    Case(
        "BalancedAccuracy-adjusted",
        lambda **kw: im.BalancedAccuracy(4, adjusted=True, **kw),
        sparse,
    ),
    Case("AveragePrecision", im.AveragePrecision, binary),
    Case(
        "AveragePrecision-rows", lambda **kw: im.AveragePrecision(20, class_id=1, **kw), binary_rows
    ),
    Case("ExpectedCalibrationError", im.ExpectedCalibrationError, binary),
    Case(
        "ExpectedCalibrationError-top_label",
        lambda **kw: im.ExpectedCalibrationError(10, "max", **kw),
        sparse,
    ),
    Case("LogLoss", im.LogLoss, binary),
    Case("MeanAbsoluteError", im.MeanAbsoluteError, pairs),
    Case("MeanSquaredError", im.MeanSquaredError, positive_pairs),
    Case("RootMeanSquaredError", im.RootMeanSquaredError, pairs),
    Case("MeanAbsolutePercentageError", im.MeanAbsolutePercentageError, positive_pairs),
    Case("MeanSquaredLogarithmicError", im.MeanSquaredLogarithmicError, positive_pairs),
    Case("LogCoshError", im.LogCoshError, pairs),
    Case("SumAbsoluteError", im.SumAbsoluteError, positive_pairs),
    Case("SumSquaredError", im.SumSquaredError, pairs),
    Case("BinaryCrossentropy", im.BinaryCrossentropy, binary_rows),
    Case("CategoricalCrossentropy", im.CategoricalCrossentropy, one_hot),
    Case("SparseCategoricalCrossentropy", im.SparseCategoricalCrossentropy, sparse),
    Case(
        "SparseCategoricalCrossentropy-ignore",
        lambda **kw: im.SparseCategoricalCrossentropy(ignore_class=0, **kw),
        sparse,
    ),
    Case("KLDivergence", im.KLDivergence, one_hot),
    Case("Poisson", im.Poisson, positive_pairs),
    Case("Hinge", im.Hinge, binary_rows),
    Case("SquaredHinge", im.SquaredHinge, pairs),
    Case("CategoricalHinge", im.CategoricalHinge, one_hot),
    Case("CosineSimilarity", im.CosineSimilarity, one_hot),
    Case("PearsonCorrelation", im.PearsonCorrelation, pairs),
    Case("PearsonCorrelation-rows", im.PearsonCorrelation, positive_pairs),
    Case("ConcordanceCorrelation", im.ConcordanceCorrelation, pairs),
    Case("R2Score", im.R2Score, pairs),
    Case("AUC", im.AUC, binary),
    Case("AUC-PR-rows", lambda **kw: im.AUC(20, "PR", **kw), binary_rows),
    Case(
        "AUC-multi_label",
        lambda **kw: im.AUC(10, multi_label=True, num_labels=4, label_weights=[1, 2, 0, 1], **kw),
        binary_rows,
    ),
    Case("PrecisionAtRecall", lambda **kw: im.PrecisionAtRecall(0.5, **kw), binary),
    Case("RecallAtPrecision", lambda **kw: im.RecallAtPrecision(0.5, 30, 2, **kw), binary_rows),
    Case("SensitivityAtSpecificity", lambda **kw: im.SensitivityAtSpecificity(0.5, **kw), binary),
    Case(
        "SpecificityAtSensitivity", lambda **kw: im.SpecificityAtSensitivity(0.5, 1, **kw), binary
    ),
    Case("IoU", lambda **kw: im.IoU(3, [0, 2], **kw), class_pairs),
    Case("MeanIoU", lambda **kw: im.MeanIoU(3, ignore_class=2, **kw), class_pairs),
    Case("MeanIoU-rows", lambda **kw: im.MeanIoU(3, **kw), labels),
    Case("BinaryIoU", im.BinaryIoU, binary),
    Case("OneHotIoU", lambda **kw: im.OneHotIoU(4, [1, 2], **kw), one_hot),
    Case("OneHotMeanIoU", lambda **kw: im.OneHotMeanIoU(4, **kw), one_hot),
    Case("R2Score-outputs", lambda **kw: im.R2Score(None, num_outputs=2, **kw), positive_pairs),
]
by_case = pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])


def exported_metric_classes() -> set[type]:
    found = set()
    for module in (im, im.metrics):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, im.Metric) and obj is not im.Metric:
                found.add(obj)
    return found


def weights(rng: np.random.Generator, n: int) -> np.ndarray:
    w = rng.uniform(0.1, 2.0, size=n)
    w[rng.random(n) < 0.25] = 0.0  # some samples masked out
    return w


def assert_states_close(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-9, atol=1e-9, err_msg=name)


def run(case: Case, metric: im.Metric, rng: np.random.Generator, sizes: list[int]) -> list[Batch]:
    """Update `metric` with weighted random batches of these sizes; return them."""
    batches = []
    for n in sizes:
        batch = case.batch(rng, n)
        w = weights(rng, n)
        metric.update_state(*batch, sample_weight=w)
        batches.append((*batch, w))
    return batches


def build(case: Case, **kwargs: Any) -> im.Metric:
    return case.make(**kwargs)


# -- discovery ----------------------------------------------------------------------------


# Wrappers whose contract differs from a plain metric's, tested on their own:
EXEMPT = {
    # merges need disjoint row ranges (the weights of a row must never repeat) and the
    # state is float64: tests/test_bootstrap.py checks merge, replay, save/load, streams
    im.Bootstrap: "tests/test_bootstrap.py",
}


def test_every_exported_metric_has_a_case():
    covered = {case.cls for case in CASES} | set(EXEMPT)
    missing = sorted(c.__name__ for c in exported_metric_classes() - covered)
    assert not missing, f"add a Case to tests/test_registry.py for {missing}"


def test_discovery_finds_the_families():
    names = {c.__name__ for c in exported_metric_classes()}
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


def bad_updates(case: Case, rng: np.random.Generator) -> list[tuple[type, str, Batch, Any]]:
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
