"""Hostile inputs: every metric and ``Streams`` gives the numpy-oracle answer or a clear error.

Each *kind* below turns one valid argument (an input or ``sample_weight``) into what a
hostile or careless user might pass: ndarray subclasses, object / bytes / datetime /
complex arrays, 0-d arrays, Python ints beyond 64 bits, generators, ragged lists,
pandas NA, polars nulls, categoricals, negative strides, read-only arrays, samples
with no values, DataFrames, objects whose ``__array__`` raises. A kind says what must
happen: the oracle of ``metric_cases`` on the plain numpy array it stands for, or a
``TypeError``/``ValueError`` naming the argument. After an error, state, step and history
are bit-identical, and the next good update still gives the oracle.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metric_cases import CASES, CUSTOM_OBJECTS, Batch, Case, exported_metric_classes

import interactive_metrics as im
from interactive_metrics.metrics import __all__ as METRIC_NAMES

HOSTILE = settings(max_examples=300, deadline=None, derandomize=True)


# -- kinds of hostile argument -----------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """What is passed, and what must happen."""

    obj: Any
    expected: np.ndarray | None = None  # the plain array it stands for, when accepted
    error: type[Exception] | None = None  # refused with this (or, with `expected`, may be)
    drop_first: bool = False  # a missing value in sample 0: nan_strategy="ignore" drops it
    needs: str | None = None  # a word the error message must contain besides the argument


def _matrix(a: np.ndarray) -> Any:
    with warnings.catch_warnings():  # np.matrix warns that it is not recommended: we know
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(a) if a.ndim == 2 else np.matrix(a).T  # 1-d: a column, (n, 1)


def _negative_strides(a: np.ndarray) -> np.ndarray:
    flipped = a[(slice(None, None, -1),) * a.ndim].copy()
    out = flipped[(slice(None, None, -1),) * a.ndim]
    assert all(s < 0 for s in out.strides if s) or not a.size
    return out


def _read_only(a: np.ndarray) -> np.ndarray:
    out = a.copy()
    out.flags.writeable = False
    return out


def _with_missing_first(a: np.ndarray) -> list[Any]:
    values: list[Any] = a.tolist()
    values[0] = None
    return values


class OnlyArray:
    """An array-like known to numpy only through ``__array__``."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)


class RaisingArray:
    """``__array__`` raises, as torch does for a tensor that requires grad."""

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise RuntimeError("Can't call numpy() on Tensor that requires grad")


Kind = Callable[[np.ndarray, bool], "Hostile | None"]  # (plain argument, is_weight) -> Hostile


def _one_d(make: Kind) -> Kind:
    return lambda a, w: make(a, w) if a.ndim == 1 else None


def _zero_d(a: np.ndarray, weight: bool) -> Hostile | None:
    if a.ndim != 1:
        return None
    if weight:  # a scalar weight applies to every sample
        return Hostile(np.array(a[0]), expected=np.full(a.shape, a[0]))
    return Hostile(np.array(a[0]), expected=a) if a.shape == (1,) else None


def _numpy_scalar(a: np.ndarray, weight: bool) -> Hostile | None:
    if a.ndim != 1:
        return None
    if weight:
        return Hostile(np.float32(a[0]), expected=np.full(a.shape, np.float32(a[0])))
    return Hostile(np.float64(a[0]), expected=a) if a.shape == (1,) else None


def _big_uint(a: np.ndarray, weight: bool) -> Hostile | None:
    # Python ints in [2**63, 2**64): numpy reads them as uint64, floats represent them.
    # Not for rows of scores or one-hot labels: in float64 those ints tie (2**63 + 1 is
    # 2**63), so the float oracle's argmax is not the exact argmax the metric takes
    if a.ndim == 2 and not weight:
        return None
    ints = (2**63 + np.rint(np.abs(a)).astype(np.int64).astype(object)).tolist()
    return Hostile(ints, expected=np.asarray(ints, dtype=np.float64), error=ValueError)


def _ragged(a: np.ndarray, weight: bool) -> Hostile:
    rows = a.tolist()
    extra = rows[0][:-1] if a.ndim == 2 else [1.0, 2.0]
    return Hostile([*rows, extra], error=ValueError, needs="rectangular")


KINDS: dict[str, Kind] = {
    # accepted: the oracle of the plain array each stands for
    "list": lambda a, w: Hostile(a.tolist(), expected=a),
    "negative strides": lambda a, w: Hostile(_negative_strides(a), expected=a),
    "read-only": lambda a, w: Hostile(_read_only(a), expected=a),
    "matrix": lambda a, w: Hostile(_matrix(a), expected=a),
    "0-d array": _zero_d,
    "numpy scalar": _numpy_scalar,
    "bool": lambda a, w: Hostile(a > 0.5, expected=(a > 0.5).astype(float)),
    "int64": lambda a, w: Hostile(np.rint(a).astype(np.int64), expected=np.rint(a)),
    "float32": lambda a, w: Hostile(a.astype(np.float32), expected=a.astype(np.float32) * 1.0),
    "ints in [2**63, 2**64)": _big_uint,
    "__array__": lambda a, w: Hostile(OnlyArray(a), expected=a),
    "pandas Series": _one_d(lambda a, w: Hostile(pd.Series(a), expected=a)),
    "pandas Float64 (no NA)": _one_d(lambda a, w: Hostile(pd.array(a, "Float64"), expected=a)),
    "pandas categorical": _one_d(lambda a, w: Hostile(pd.Categorical(a), expected=a)),
    "pandas category Series": _one_d(
        lambda a, w: Hostile(pd.Series(a, dtype="category"), expected=a)
    ),
    "polars Series": _one_d(lambda a, w: Hostile(pl.Series(a), expected=a)),
    # a missing value is NaN: dropped with nan_strategy="ignore"; a NaN weight is refused
    "pandas NaN": _one_d(
        lambda a, w: Hostile(pd.Series(np.where(np.arange(a.size) == 0, np.nan, a)), a, None, True)
    ),
    "pandas NA (Float64)": _one_d(
        lambda a, w: Hostile(pd.array(_with_missing_first(a), "Float64"), a, None, True)
    ),
    "pandas NA (Int64)": _one_d(
        lambda a, w: Hostile(
            pd.array(_with_missing_first(np.rint(a).astype(np.int64)), "Int64"),
            np.rint(a),
            None,
            True,
        )
    ),
    "polars null": _one_d(
        lambda a, w: Hostile(pl.Series(_with_missing_first(a), dtype=pl.Float64), a, None, True)
    ),
    "polars null (Int64)": _one_d(
        lambda a, w: Hostile(
            pl.Series(_with_missing_first(np.rint(a).astype(np.int64)), dtype=pl.Int64),
            np.rint(a),
            None,
            True,
        )
    ),
    # refused with a TypeError
    "object array": lambda a, w: Hostile(a.astype(object), error=TypeError, needs="objects"),
    "strings": lambda a, w: Hostile(a.astype(str), error=TypeError, needs="strings"),
    "bytes array": lambda a, w: Hostile(a.astype("S"), error=TypeError, needs="bytes"),
    "bytes": lambda a, w: Hostile(b"0.5", error=TypeError, needs="text"),
    "str": lambda a, w: Hostile("1, 2", error=TypeError, needs="text"),
    "datetime64": lambda a, w: Hostile(
        np.rint(a).astype(np.int64).astype("datetime64[s]"), error=TypeError, needs="datetimes"
    ),
    "timedelta64": lambda a, w: Hostile(
        np.rint(a).astype(np.int64).astype("timedelta64[s]"), error=TypeError, needs="timedelta"
    ),
    "complex": lambda a, w: Hostile(a + 0j, error=TypeError, needs="complex"),
    "masked (nothing masked)": lambda a, w: Hostile(
        np.ma.masked_array(a), error=TypeError, needs="filled"
    ),
    "masked": lambda a, w: Hostile(
        np.ma.masked_array(a, mask=np.arange(a.size).reshape(a.shape) == 0),
        error=TypeError,
        needs="compressed",
    ),
    "ints above 2**64": lambda a, w: Hostile(
        [2**64 + i for i in range(a.shape[0])], error=TypeError, needs="64 bits"
    ),
    "generator": lambda a, w: Hostile((x for x in a.tolist()), error=TypeError, needs="list(x)"),
    "iterator": lambda a, w: Hostile(iter(a.tolist()), error=TypeError, needs="list(x)"),
    "dict": lambda a, w: Hostile(dict(enumerate(a.tolist())), error=TypeError, needs="order"),
    "set": _one_d(lambda a, w: Hostile(set(a.tolist()), error=TypeError, needs="order")),
    "None (as an input)": lambda a, w: None if w else Hostile(None, error=TypeError),
    "pandas DataFrame": lambda a, w: Hostile(pd.DataFrame(a), error=TypeError, needs="column"),
    "polars DataFrame": lambda a, w: Hostile(
        pl.DataFrame(a.reshape(a.shape[0], int(np.prod(a.shape[1:])))),
        error=TypeError,
        needs="column",
    ),
    "pandas object with NA": _one_d(
        lambda a, w: Hostile(
            pd.Series([pd.NA, *a.tolist()[1:]], dtype=object), error=TypeError, needs="to_numeric"
        )
    ),
    "pandas categorical of strings": _one_d(
        lambda a, w: Hostile(pd.Categorical(a.astype(str)), error=TypeError, needs="codes")
    ),
    "polars categorical": _one_d(
        lambda a, w: Hostile(
            pl.Series(a.astype(str)).cast(pl.Categorical), error=TypeError, needs="Categorical"
        )
    ),
    "__array__ raises": lambda a, w: Hostile(RaisingArray(), error=TypeError, needs="detach()"),
    # refused with a ValueError
    "ragged list": _ragged,
    "samples with no values": lambda a, w: Hostile(
        np.zeros((a.shape[0], 0)), error=ValueError, needs="shape"
    ),
}
ONE_SAMPLE = {"0-d array", "numpy scalar"}  # inputs of one sample only
MISSING = {name for name, kind in KINDS.items() if "NA" in name or "NaN" in name or "null" in name}


# -- helpers -----------------------------------------------------------------------------


def input_names(metric: im.Metric) -> list[str]:
    return list(metric.input_names)


def good_batch(case: Case, rng: np.random.Generator, n: int) -> Batch:
    inputs = case.batch(rng, n)
    weights = rng.random(n) * 3
    weights[rng.random(n) < 0.2] = 0.0
    return inputs, weights


def snapshot(metric: im.Metric) -> tuple[dict[str, Any], int, pl.DataFrame]:
    return {k: np.array(v, copy=True) for k, v in metric.state.items()}, metric.step, metric.history


def assert_unchanged(metric: im.Metric, before: tuple[dict[str, Any], int, pl.DataFrame]) -> None:
    state, step, history = before
    now = metric.state
    assert list(now) == list(state)
    for name, value in now.items():
        array = np.asarray(value)
        assert type(value) in (float, np.ndarray), f"{name} became a {type(value).__name__}"
        assert array.dtype == state[name].dtype and array.shape == state[name].shape
        assert array.tobytes() == state[name].tobytes(), f"{name} changed"
    assert metric.step == step
    assert metric.history.equals(history)


# Results computed from sums of squares (Σy² - (Σy)²/n) cancel: on a stream of one or
# two samples their rounding is relative to the sums, not to the (tiny) difference.
_CANCELLING = frozenset({"R2Score", "PearsonCorrelation", "ConcordanceCorrelation"})


def _rtol(case: Case) -> float:
    return 1e-6 if getattr(case.make, "__name__", "") in _CANCELLING else 1e-9


def assert_oracle(metric: im.Metric, case: Case, batches: list[Batch]) -> None:
    for value in metric.state.values():  # plain floats and plain arrays, never a subclass
        assert type(value) is float or type(value) is np.ndarray
    history = metric.history  # readable, and its last row is the state
    assert history.height == len(batches)
    expected = case.oracle(batches) if batches else case.oracle([good_batch(case, RNG0, 0)])
    got = metric.result()
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(expected, float), rtol=1e-9)


RNG0 = np.random.default_rng(0)


def plain_batch(
    inputs: tuple[np.ndarray, ...], weights: np.ndarray, target: int, hostile: Hostile
) -> Batch:
    """The batch the hostile argument stands for (with sample 0 dropped for missing values)."""
    assert hostile.expected is not None
    parts = list(inputs)
    if target < len(parts):
        parts[target] = hostile.expected
    else:
        weights = hostile.expected
    if hostile.drop_first:
        parts = [p[1:] for p in parts]
        weights = weights[1:]
    return tuple(parts), weights


def attempt(
    metric: Any, inputs: tuple[np.ndarray, ...], weights: np.ndarray, target: int, hostile: Hostile
) -> Exception | None:
    """Update with the hostile argument in position ``target``; return the error, if any."""
    args: list[Any] = list(inputs)
    weight: Any = weights
    if target < len(args):
        args[target] = hostile.obj
    else:
        weight = hostile.obj
    keys = {} if isinstance(metric, im.Metric) else {"stream": ["a", "b"] * len(weights)}
    if keys:
        keys["stream"] = keys["stream"][: len(weights)]
    try:
        metric.update_state(*args, sample_weight=weight, **keys)
    except (TypeError, ValueError) as error:
        return error
    return None


def check_error(error: Exception, hostile: Hostile, argument: str) -> None:
    assert hostile.error is not None, f"refused an input it must accept: {error}"
    assert isinstance(error, hostile.error), f"{type(error).__name__}: {error}"
    assert f"`{argument}`" in str(error) or (
        argument == "sample_weight" and "`sample_weight`" in str(error)
    ), str(error)
    if hostile.needs and hostile.expected is None:
        assert hostile.needs in str(error), str(error)


# -- every metric, every kind, every argument --------------------------------------------


def run_every_kind(case: Case, nan_strategy: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    metric = case.build(nan_strategy=nan_strategy)
    names = [*input_names(metric), "sample_weight"]
    batches: list[Batch] = []
    for target, argument in enumerate(names):
        for kind_name, kind in KINDS.items():
            if kind_name in MISSING and nan_strategy == "propagate" and argument != "sample_weight":
                continue  # a NaN input with "propagate" makes every later result NaN
            n = 1 if kind_name in ONE_SAMPLE else 4
            inputs, weights = good_batch(case, rng, n)
            hostile = kind(
                inputs[target] if target < len(inputs) else weights, target == len(inputs)
            )
            if hostile is None:
                continue
            if hostile.drop_first and argument == "sample_weight":
                hostile = Hostile(hostile.obj, error=ValueError, needs="NaN")  # a NaN weight
            before = snapshot(metric)
            error = attempt(metric, inputs, weights, target, hostile)
            where = f"{kind_name} as `{argument}`"
            if error is None:
                assert hostile.expected is not None, f"{where}: accepted, must be refused"
                batches.append(plain_batch(inputs, weights, target, hostile))
            else:
                try:
                    check_error(error, hostile, argument)
                except AssertionError as failure:
                    raise AssertionError(f"{where}: {failure}") from error
                assert_unchanged(metric, before)
            batches.append(good_batch(case, rng, 3))  # a later good update still works
            metric.update_state(*batches[-1][0], sample_weight=batches[-1][1])
            try:
                assert_oracle(metric, case, batches)
            except AssertionError as failure:
                raise AssertionError(f"after {where}: {failure}") from None
    return metric


@pytest.mark.parametrize("nan_strategy", ["propagate", "ignore"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_metric_survives_every_hostile_kind(name: str, nan_strategy: str, tmp_path) -> None:
    metric = run_every_kind(CASES[name], nan_strategy, seed=len(name))
    # the state it ends in is plain: it saves, loads and equals itself
    path = metric.save(tmp_path / "m", custom_objects=CUSTOM_OBJECTS)
    loaded = im.load(path, custom_objects=CUSTOM_OBJECTS)
    assert loaded.history.equals(metric.history)
    np.testing.assert_array_equal(np.asarray(loaded.result()), np.asarray(metric.result()))


def test_the_suite_covers_every_exported_metric() -> None:
    assert set(exported_metric_classes()) == set(CASES)
    assert {n for n in METRIC_NAMES if n in exported_metric_classes()} <= set(CASES)


@HOSTILE
@given(
    name=st.sampled_from(sorted(CASES)),
    kind_name=st.sampled_from(sorted(KINDS)),
    target=st.integers(0, 2),
    n=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    weighted=st.booleans(),
)
def test_hostile_property_fresh_metric(
    name: str, kind_name: str, target: int, n: int, seed: int, weighted: bool
) -> None:
    case = CASES[name]
    rng = np.random.default_rng(seed)
    nan_strategy = "ignore" if kind_name in MISSING else "propagate"
    metric = case.build(nan_strategy=nan_strategy)
    first = good_batch(case, rng, 2)
    metric.update_state(*first[0], sample_weight=first[1])
    batches = [first]
    inputs, weights = good_batch(case, rng, 1 if kind_name in ONE_SAMPLE else n)
    arity = len(inputs)
    target = target % (arity + 1) if weighted else target % arity
    hostile = KINDS[kind_name](inputs[target] if target < arity else weights, target == arity)
    if hostile is None:
        return  # not a kind this argument can take (e.g. 0-d of a 2-d input)
    if hostile.drop_first and target == arity:
        hostile = Hostile(hostile.obj, error=ValueError)
    if not weighted:
        weights = np.ones(inputs[0].shape[0])
    before = snapshot(metric)
    args: list[Any] = list(inputs)
    if target < arity:
        args[target] = hostile.obj
    try:
        metric.update_state(
            *args, sample_weight=hostile.obj if target == arity else (weights if weighted else None)
        )
    except (TypeError, ValueError) as error:
        check_error(error, hostile, [*input_names(metric), "sample_weight"][target])
        assert_unchanged(metric, before)
    else:
        assert hostile.expected is not None, f"{kind_name}: accepted, must be refused"
        batches.append(plain_batch(inputs, weights, target, hostile))
    assert_oracle(metric, case, batches)
    last = good_batch(case, rng, 3)
    metric.update_state(*last[0], sample_weight=last[1])
    assert_oracle(metric, case, [*batches, last])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", sorted(CASES))
def test_an_empty_batch_is_an_update_that_adds_nothing(name: str, weighted: bool) -> None:
    case = CASES[name]
    rng = np.random.default_rng(7)
    metric = case.build()
    first = good_batch(case, rng, 3)
    metric.update_state(*first[0], sample_weight=first[1])
    inputs, weights = good_batch(case, rng, 0)  # zero-length first dimension, e.g. (0, 3)
    metric.update_state(*inputs, sample_weight=weights if weighted else None)
    assert metric.step == 2
    assert_oracle(metric, case, [first, (inputs, weights)])
    s = im.Streams(case.build())
    s.update_state(*first[0], sample_weight=first[1], stream=["a", "b", "a"])
    s.update_state(*inputs, sample_weight=weights if weighted else None, stream=[])
    assert s.step == 2
    streams_oracle(s, case, [(first, ["a", "b", "a"]), ((inputs, weights), [])])


# -- Streams: the same inputs and weights, per stream --------------------------------------


def streams_snapshot(s: im.Streams) -> tuple[Any, ...]:
    return s.history, s.breakdown(), s.step, list(s.streams), s.merged().state


def assert_streams_unchanged(s: im.Streams, before: tuple[Any, ...]) -> None:
    history, breakdown, step, streams, merged = before
    assert s.history.equals(history) and s.breakdown().equals(breakdown)
    assert s.step == step and s.streams == streams
    now = s.merged().state
    assert all(np.asarray(now[k]).tobytes() == np.asarray(merged[k]).tobytes() for k in merged)


def streams_oracle(s: im.Streams, case: Case, rows: list[tuple[Batch, list[str]]]) -> None:
    """The merged result and each stream's result, against the oracle of its own rows."""
    everything = [batch for batch, _ in rows]
    np.testing.assert_allclose(
        np.asarray(s.result(), float), np.asarray(case.oracle(everything), float), rtol=_rtol(case)
    )
    for stream in s.streams:
        own = []
        for (inputs, weights), keys in rows:
            mask = np.asarray(keys) == stream
            own.append((tuple(x[mask] for x in inputs), weights[mask]))
        np.testing.assert_allclose(
            np.asarray(s[stream].result(), float),
            np.asarray(case.oracle(own), float),
            rtol=_rtol(case),
        )


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    name=st.sampled_from(sorted(CASES)),
    kind_name=st.sampled_from(sorted(KINDS)),
    target=st.integers(0, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_hostile_property_streams(name: str, kind_name: str, target: int, seed: int) -> None:
    case = CASES[name]
    rng = np.random.default_rng(seed)
    s = im.Streams(case.build(nan_strategy="ignore" if kind_name in MISSING else "propagate"))
    first = good_batch(case, rng, 4)
    keys = ["a", "b", "a", "b"]
    s.update_state(*first[0], sample_weight=first[1], stream=keys)
    rows = [(first, keys)]
    n = 1 if kind_name in ONE_SAMPLE else 4
    inputs, weights = good_batch(case, rng, n)
    arity = len(inputs)
    target %= arity + 1
    hostile = KINDS[kind_name](inputs[target] if target < arity else weights, target == arity)
    if hostile is None:
        return
    if hostile.drop_first and target == arity:
        hostile = Hostile(hostile.obj, error=ValueError)
    before = streams_snapshot(s)
    error = attempt(s, inputs, weights, target, hostile)
    if error is None:
        assert hostile.expected is not None, f"{kind_name}: accepted, must be refused"
        batch = plain_batch(inputs, weights, target, hostile)
        batch_keys = (["a", "b"] * n)[:n]
        rows.append((batch, batch_keys[1:] if hostile.drop_first else batch_keys))
    else:
        check_error(error, hostile, [*input_names(s.merged()), "sample_weight"][target])
        assert_streams_unchanged(s, before)
    streams_oracle(s, case, rows)
    last = good_batch(case, rng, 3)
    s.update_state(*last[0], sample_weight=last[1], stream=["b", "c", "a"])
    streams_oracle(s, case, [*rows, (last, ["b", "c", "a"])])


# -- the faults of issue 12, one by one --------------------------------------------------


def test_masked_weights_and_values_are_refused_and_change_nothing(tmp_path) -> None:
    count, total = im.Count(), im.Sum()
    masked_weights = np.ma.masked_array([1.0, 1.0, 1.0, 1.0], mask=[0, 1, 0, 1])
    with pytest.raises(TypeError, match=r"`sample_weight` must be a plain array.*\.filled\("):
        count.update_state([1, 2, 3, 4], sample_weight=masked_weights)
    with pytest.raises(TypeError, match=r"`values` must be a plain array.*\.compressed\(\)"):
        total.update_state(np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0]))
    with pytest.raises(TypeError, match=r"`values` must be a plain array"):  # the fused path
        total.update_state(np.ma.masked_array([1.0, 2.0]), sample_weight=np.ones(2))
    assert count.state == {"count": 0.0} and total.state == {"total": 0.0}
    # the remedies the message names give the answers a user meant
    total.update_state(np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0]).compressed())
    count.update_state([1, 2, 3, 4], sample_weight=masked_weights.filled(0))
    assert total.result() == 4.0 and count.result() == 2.0
    for _ in range(300):  # past the rows a history queues before it writes them
        total.update_state(np.array([1.0]))
    assert total.history.height == 301 and total.result() == 304.0
    assert im.load(total.save(tmp_path / "t")).result() == 304.0


def test_a_matrix_is_a_plain_2d_array() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        square, row = np.matrix([[1.0, 2.0], [3.0, 4.0]]), np.matrix([1.0, 2.0])
    mean = im.Mean()
    mean.update_state(square)  # two samples, each averaged: 1.5 and 3.5
    assert mean.state == {"total": 5.0, "count": 2.0} and type(mean.state["total"]) is float
    with pytest.raises(ValueError, match=r"`sample_weight` of shape \(1, 2\) cannot broadcast"):
        im.Sum().update_state([1.0, 2.0], sample_weight=row)  # it was an IndexError
    s = im.Sum()
    s.update_state([1.0, 2.0], sample_weight=row.T)  # a column: one weight per sample
    assert s.result() == 5.0


@pytest.mark.parametrize(
    "frame",
    [pd.DataFrame({"loss": [1.0, 2.0]}), pl.DataFrame({"loss": [1.0, 2.0]}), pl.LazyFrame()],
    ids=["pandas", "polars", "lazy"],
)
def test_a_dataframe_is_refused_with_the_column_remedy(frame: Any) -> None:
    with pytest.raises(TypeError, match=r"`values` must be one column.*df\['column'\]"):
        im.Mean().update_state(frame)
    with pytest.raises(TypeError, match=r"`sample_weight` must be one column"):
        im.Mean().update_state([1.0, 2.0], sample_weight=frame)


MISSING_MARKERS = {
    "numpy NaN": lambda: np.array([1.0, np.nan, 3.0]),
    "pandas NaN": lambda: pd.Series([1.0, np.nan, 3.0]),
    "pandas NA (Float64)": lambda: pd.array([1.0, None, 3.0], dtype="Float64"),
    "pandas NA (Int64 Series)": lambda: pd.Series([1, None, 3], dtype="Int64"),
    "polars NaN": lambda: pl.Series([1.0, float("nan"), 3.0]),
    "polars null": lambda: pl.Series([1.0, None, 3.0]),
}


@pytest.mark.parametrize("marker", list(MISSING_MARKERS))
@pytest.mark.parametrize("nan_strategy", ["propagate", "ignore", "error"])
def test_every_missing_marker_is_nan_under_every_nan_strategy(
    marker: str, nan_strategy: str
) -> None:
    data = MISSING_MARKERS[marker]()
    m = im.Mean(nan_strategy=nan_strategy)
    if nan_strategy == "error":
        with pytest.raises(ValueError, match=r"`values` contains 1 sample\(s\) with NaN"):
            m.update_state(data)
        assert m.step == 0
    elif nan_strategy == "ignore":
        m.update_state(data)
        assert m.state == {"total": 4.0, "count": 2.0}  # the missing sample is dropped
    else:
        m.update_state(data)
        assert np.isnan(m.state["total"]) and m.state["count"] == 3.0


def test_missing_labels_and_weights() -> None:
    acc = im.Accuracy(nan_strategy="ignore")
    acc.update_state(pd.array([1, None, 2], dtype="Int64"), [1, 0, 0])
    assert acc.state == {"correct": 1.0, "count": 2.0}
    with pytest.raises(ValueError, match=r"`sample_weight` must be >= 0 and not NaN.*nan"):
        im.Sum().update_state([1.0, 2.0], sample_weight=pl.Series([1.0, None]))
    with pytest.raises(ValueError, match=r"`sample_weight` must be >= 0 and not NaN"):
        im.Sum().update_state([1.0, 2.0], sample_weight=pd.array([1, pd.NA], dtype="Int64"))


def test_torch_tensors_with_grad() -> None:
    torch = pytest.importorskip("torch")
    values = torch.tensor([1.0, 2.0, 4.0], requires_grad=True)
    weights = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64)
    m = im.Mean()
    m.update_state(values * 2, sample_weight=weights)  # a result of autograd, with grad
    assert m.state == {"total": 18.0, "count": 3.0}
    acc = im.BinaryAccuracy()
    acc.update_state(torch.tensor([1, 0]), torch.tensor([0.9, 0.7], requires_grad=True))
    assert acc.result() == 0.5
    with pytest.raises(TypeError, match=r"`values` must hold numbers.*complex"):
        m.update_state(torch.tensor([1 + 2j]))
    assert m.step == 1


# -- constructor arguments: every metric, every option ------------------------------------


def _float_parameters(cls: type[im.Metric]) -> list[str]:
    signature = inspect.signature(cls.__init__)
    return [p.name for p in signature.parameters.values() if "float" in str(p.annotation)]


def test_every_float_argument_must_be_finite() -> None:
    seen = set()
    for name, case in CASES.items():
        cls = exported_metric_classes()[name]
        for parameter in _float_parameters(cls):
            seen.add(f"{name}.{parameter}")
            for bad in (float("nan"), float("inf"), -float("inf"), np.float32("nan")):
                with pytest.raises(ValueError, match=rf"`{parameter}` must be"):
                    case.make(**{**case.kwargs, parameter: bad})
            for bad in ("0.5", True, 1j, [None]):
                with pytest.raises((TypeError, ValueError), match=rf"`{parameter}` must be"):
                    case.make(**{**case.kwargs, parameter: bad})
    assert {"BinaryAccuracy.threshold", "FBetaScore.beta", "Precision.thresholds"} <= seen


def test_float_arguments_in_range_are_kept_exactly() -> None:
    assert im.BinaryAccuracy(threshold=-2).threshold == -2.0  # logits: any finite number
    assert im.FBetaScore(3, beta=np.float32(0.5), threshold=1).threshold == 1.0
    with pytest.raises(ValueError, match=r"`threshold` must be a number in \(0, 1\], got 0.0"):
        im.FBetaScore(3, threshold=0.0)
    with pytest.raises(ValueError, match=r"`beta` must be a number > 0, got -1.0"):
        im.FBetaScore(3, beta=-1)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_metric_validates_the_base_options(name: str) -> None:
    case = CASES[name]
    bad: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"name": 123}, TypeError, r"`name` must be a non-empty str, got 123 \(int\)"),
        ({"name": ""}, ValueError, r"`name` must be a non-empty str, got ''"),
        ({"dtype": "int64"}, ValueError, r"`dtype` (must be one of \('float16'|of a Bootstrap)"),
        ({"dtype": "junk"}, TypeError, r"`dtype` must be one of .*which is not a dtype"),
        ({"dtype": np.longdouble}, ValueError, r"`dtype` must be one of"),
        ({"history": "yes"}, TypeError, r"`history` must be True or False, got 'yes'"),
        ({"history_every": True}, TypeError, r"`history_every` must be an integer >= 1"),
        ({"history_every": 0}, ValueError, r"`history_every` must be an integer >= 1, got 0"),
        ({"history_last": 2.0}, TypeError, r"`history_last` must be None or an integer"),
        ({"nan_strategy": np.array(["ignore"])}, ValueError, r"`nan_strategy` must be one of"),
        ({"summation": None}, ValueError, r"`summation` must be one of"),
    ]
    for options, error, match in bad:
        with pytest.raises(error, match=match):
            case.build(**options)


def test_good_base_options_are_normalised() -> None:
    m = im.Mean(name=np.str_("loss"), dtype=">f8", history_every=np.int64(2))
    assert m.name == "loss" and m.dtype == "float64" and type(m.history_every) is int
    m.update_state(np.array([1.0, 2.0], dtype=">f8"))  # big-endian input, native state
    m.update_state([3.0])
    assert m.result() == 2.0 and m.history.height == 1
    assert "loss" in m._repr_html_()
    assert im.Sum(dtype=np.float32).dtype == "float32"
    assert im.Sum(nan_strategy=np.str_("ignore")).get_config()["nan_strategy"] == "ignore"


def test_a_state_too_large_for_memory_is_a_value_error() -> None:
    # 10**14 numbers: beyond any address space, so numpy refuses at once on every machine
    with pytest.raises(ValueError, match=r"the state of ConfusionMatrix, 100000000000000 numbers"):
        im.ConfusionMatrix(10**7)
