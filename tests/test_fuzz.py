"""Fuzzing every exported metric: the right answer (numpy oracle) or a clear error, nothing lost.

For each generated example, a metric gets a few batches. A *valid* batch (numbers,
weights that broadcast) must succeed and match the oracle of ``metric_cases``; an
*invalid* one (bad weights, strings, objects, ragged, mismatched lengths) must raise
``TypeError``/``ValueError`` naming the argument in backticks; a *doubtful* one (NaN or
inf inputs) may do either. After any error the state, step and history are exactly as
they were.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metric_cases import CASES, Batch, exported_metric_classes

import interactive_metrics as im

FUZZ = settings(max_examples=1500, deadline=None, derandomize=True)
VALUE_FAMILIES = {
    "Sum",
    "Mean",
    "Count",
    "Min",
    "Max",
    "MeanMetricWrapper",
    "SumMetricWrapper",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "RootMeanSquaredError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "LogCoshError",
    "SumAbsoluteError",
    "SumSquaredError",
}
TOLERANCE = {"float16": 1e-2, "float32": 1e-5, "float64": 1e-9}
INPUT_DTYPES = ["float16", "float32", "float64", "int8", "int32", "int64", "bool"]


def test_every_exported_metric_has_a_case() -> None:
    assert set(exported_metric_classes()) == set(CASES)


def snapshot(metric: im.Metric) -> tuple[Any, ...]:
    history = metric.history
    return (
        {k: np.asarray(v).tobytes() for k, v in metric._state.items()},
        metric.step,
        history.height,
        [history[c].to_numpy().tobytes() for c in history.columns if c != "event"],
        history["event"].to_list(),
    )


def assert_clear_error(error: Exception, names: tuple[str, ...]) -> None:
    message = str(error)
    assert isinstance(error, (TypeError, ValueError)), repr(error)
    named = re.findall(r"`([a-z_]+)`", message)
    assert set(named) & {*names, "sample_weight"}, f"no argument named in: {message}"


def weights_for(kind: str, n: int, rng: np.random.Generator) -> tuple[Any, np.ndarray | None]:
    """The ``sample_weight`` to pass, and the per-sample weights the oracle uses (None: invalid)."""
    w = rng.random(n) * (rng.random(n) > 0.25)
    if n == 0 and kind in ("negative", "nan"):
        return np.zeros(0), np.zeros(0)  # no weight at all: nothing negative, nothing NaN
    return {
        "none": (None, np.ones(n)),
        "scalar": (0.5, np.full(n, 0.5)),
        "per_sample": (w, w),
        "column": (w[:, None], w),
        "list": (w.tolist(), w),
        "one_too_many": (rng.random(n + 2), None),
        "two_rows": (rng.random((2, n + 2)), None),
        "too_wide": (rng.random((n, 7)), None),
        "negative": (-1.0 - rng.random(n), None),
        "nan": (np.full(n, np.nan), None),
    }[kind]


BAD_INPUTS = {
    "none": None,
    "string": "1, 2, 3",
    "ragged": [[1.0, 2.0], [3.0]],
    "objects": np.array([object(), object()], dtype=object),
    "complex": np.array([1 + 2j, 3j]),
    "text_array": np.array(["a", "b"]),
}


@st.composite
def batch_plans(draw: st.DrawFn) -> list[dict[str, Any]]:
    plans = []
    for _ in range(draw(st.integers(1, 3))):
        plans.append(
            {
                "n": draw(st.integers(0, 6)),
                "weights": draw(
                    st.sampled_from(
                        ["none", "scalar", "per_sample", "per_sample", "column", "list"]
                        + ["one_too_many", "two_rows", "too_wide", "negative", "nan"]
                    )
                ),
                "input_dtype": draw(st.sampled_from(INPUT_DTYPES)),
                "poison": draw(st.sampled_from([None, None, None, "nan", "inf", "bad", "length"])),
                "bad": draw(st.sampled_from(sorted(BAD_INPUTS))),
                "scale": draw(st.sampled_from([1.0, 1.0, 1e-300, 1e150])),
            }
        )
    return plans


def run_plan(name: str, dtype: str, plans: list[dict[str, Any]], seed: int) -> None:
    case = CASES[name]
    rng = np.random.default_rng(seed)
    metric = case.build(dtype=dtype)
    seen: list[Batch] = []
    names = metric.input_names
    for plan in plans:
        n = plan["n"]
        inputs = list(case.batch(rng, n))
        if name in VALUE_FAMILIES and dtype == "float64":
            inputs[0] = inputs[0] * plan["scale"]
            if len(inputs) > 1:
                inputs[1] = inputs[1] * plan["scale"]
        if plan["input_dtype"] != "float64" and plan["scale"] == 1.0:
            inputs = [x.astype(plan["input_dtype"]) for x in inputs]
        sample_weight, per_sample = weights_for(plan["weights"], n, rng)
        valid = per_sample is not None
        doubtful = False
        if plan["poison"] in ("nan", "inf") and n:
            # Known difference, reported: tf.math.in_top_k says "not in the top k" for a row
            # with a non-finite score, our top-k metrics count it in; so poison the labels.
            target = 0 if "TopK" in name else -1
            poisoned = inputs[target].astype(np.float64)
            poisoned.flat[int(rng.integers(poisoned.size))] = (
                np.nan if plan["poison"] == "nan" else -np.inf
            )
            inputs[target] = poisoned
            doubtful = True
        elif plan["poison"] == "bad":
            inputs[int(rng.integers(len(inputs)))] = BAD_INPUTS[plan["bad"]]
            valid = False
        elif plan["poison"] == "length" and len(inputs) > 1:
            inputs[1] = np.concatenate([inputs[1], inputs[1][:1] if n else inputs[1]])[: n + 1]
            if len(inputs[1]) == n + 1:
                valid = False
        if plan["input_dtype"] == "bool" or plan["input_dtype"].startswith("int"):
            doubtful = doubtful or name not in VALUE_FAMILIES  # labels may leave their range

        before = snapshot(metric)
        try:
            with np.errstate(all="ignore"):
                metric.update_state(*inputs, sample_weight=sample_weight)
        except (TypeError, ValueError) as error:
            assert not valid or doubtful, f"a valid batch was refused: {error}"
            assert_clear_error(error, names)
            assert snapshot(metric) == before
            continue
        assert valid, f"an invalid batch was accepted: {plan}"
        assert per_sample is not None
        seen.append((tuple(np.asarray(x, dtype=np.float64) for x in inputs), per_sample))
        with np.errstate(all="ignore"):
            expected = case.oracle(seen)
        tol = TOLERANCE[dtype]
        result = metric.result()
        assert np.allclose(result, expected, rtol=tol, atol=tol * 1000, equal_nan=True), (
            name,
            result,
            expected,
            plan,
        )
        last = metric.history["result"].to_list()[-1]
        assert np.allclose(last, result, equal_nan=True, rtol=0, atol=0)
        assert metric.history.height == metric.step


@FUZZ
@given(
    name=st.sampled_from(sorted(CASES)),
    plans=batch_plans(),
    seed=st.integers(0, 2**16),
)
def test_fuzz_float64(name: str, plans: list[dict[str, Any]], seed: int) -> None:
    run_plan(name, "float64", plans, seed)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(
    name=st.sampled_from(sorted(CASES)),
    dtype=st.sampled_from(["float16", "float32"]),
    plans=batch_plans(),
    seed=st.integers(0, 2**16),
)
def test_fuzz_low_precision(name: str, dtype: str, plans: list[dict[str, Any]], seed: int) -> None:
    run_plan(name, dtype, plans, seed)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_metric_refuses_each_bad_input_and_keeps_its_state(name: str) -> None:
    case = CASES[name]
    rng = np.random.default_rng(0)
    metric = case.build()
    metric.update_state(*case.batch(rng, 4), sample_weight=rng.random(4))
    before = snapshot(metric)
    good = case.batch(rng, 2)
    for bad in BAD_INPUTS.values():
        for position in range(len(good)):
            inputs = list(good)
            inputs[position] = bad
            with pytest.raises((TypeError, ValueError)) as caught:
                metric.update_state(*inputs)
            assert_clear_error(caught.value, metric.input_names)
            assert snapshot(metric) == before


# -- rank-2 values and every weight shape: Keras 3 rules (DESIGN.md §3) -----------------------


def keras_oracle(name: str, values: np.ndarray, weight: np.ndarray | None) -> float:
    """Written from the rules in DESIGN.md, per weight rank (values of shape (n, k))."""
    reduce = np.sum if name == "Sum" else np.mean
    n = values.shape[0]
    if weight is None:
        totals, counts = reduce(values, axis=1), np.ones(n)
    elif weight.ndim == 0 or weight.ndim == 1:
        w = np.broadcast_to(weight, (n,))
        totals, counts = w * reduce(values, axis=1), w
    else:  # (n, 1) or (n, k): products and weights reduced over axis 1
        w = np.broadcast_to(weight, values.shape)
        totals, counts = reduce(values * w, axis=1), reduce(w, axis=1)
    total, count = float(np.sum(totals)), float(np.sum(counts))
    if name == "Sum":
        return total
    if name == "Count":
        return count
    return total / count if count else 0.0


@settings(max_examples=500, deadline=None, derandomize=True)
@given(
    name=st.sampled_from(["Sum", "Mean", "Count"]),
    n=st.integers(1, 5),
    k=st.integers(2, 4),
    shape=st.sampled_from(["none", "scalar", "n", "n1", "nk", "k", "n_plus", "nk_plus", "1k"]),
    seed=st.integers(0, 2**16),
)
def test_rank2_values_with_every_weight_shape(
    name: str, n: int, k: int, shape: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, k))
    shapes = {
        "none": None,
        "scalar": (),
        "n": (n,),
        "n1": (n, 1),
        "nk": (n, k),
        "k": (k,),
        "n_plus": (n + 1,),
        "nk_plus": (n, k + 1),
        "1k": (1, k),
    }
    weight = None if shapes[shape] is None else rng.random(shapes[shape])
    metric = getattr(im, name)()
    # (1, k) broadcasts along the samples, as numpy and Keras broadcast; (k,) only when k == n.
    broadcastable = shape in ("none", "scalar", "n", "n1", "nk", "1k") or (shape == "k" and k == n)
    if not broadcastable:
        with pytest.raises(ValueError, match=r"`sample_weight` of shape .* cannot broadcast"):
            metric.update_state(values, sample_weight=weight)
        assert metric.step == 0 and metric.history.height == 0
        return
    metric.update_state(values, sample_weight=weight)
    assert np.isclose(metric.result(), keras_oracle(name, values, weight), rtol=1e-12, atol=1e-12)
