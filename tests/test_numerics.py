"""Numerically honest summation: running sums against ``math.fsum``, and ``summation="kahan"``.

The reference everywhere is :func:`math.fsum` (exactly rounded sum of the same numbers
the metric saw), converted to the metric's dtype; errors are counted in units in the
last place (ulps) of that dtype at the exact sum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import interactive_metrics as im
from interactive_metrics.core import compensated_add

MILLION = 1_000_000


def ulps_off(value: float, exact: float, dtype: str) -> float:
    """How many ulps of ``dtype`` (at ``exact``) ``value`` is away from ``exact``."""
    ulp = float(np.spacing(np.abs(np.array(exact, dtype=dtype))))
    return abs(float(value) - exact) / ulp


def million_values(dtype: str) -> np.ndarray:
    # One value per update, like a per-batch loss: positive, of similar size.
    return np.random.default_rng(7).random(MILLION).astype(dtype)


# -- the kernel ------------------------------------------------------------------------------


def test_compensated_add_recovers_what_plain_addition_loses() -> None:
    # 1e16 + 1 rounds back to 1e16 in float64; the compensation keeps the 1.
    high, low, plain = np.float64(0), np.float64(0), np.float64(0)
    for value in (1e16, 1.0, -1e16):
        high, low = compensated_add(high, low, np.float64(value))
        plain += np.float64(value)
    assert plain == 0.0
    assert high == 1.0


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, width=64),
        min_size=1,
        max_size=200,
    )
)
def test_compensated_add_is_within_one_ulp_of_fsum(values: list[float]) -> None:
    high, low = np.float64(0), np.float64(0)
    for value in values:
        high, low = compensated_add(high, low, np.float64(value))
    exact = math.fsum(values)
    # Error-free steps: the pair (high, low) holds the sum to ~2 ulps of |low|, so high
    # is the correctly rounded sum or a neighbour of it.
    assert abs(high - exact) <= np.spacing(abs(exact)) or high == exact


def test_compensated_add_on_arrays_and_non_finite_values() -> None:
    high = np.zeros(3)
    low = np.zeros(3)
    for row in ([1e16, np.inf, 1.0], [1.0, 1.0, np.nan], [-1e16, -np.inf, 1.0]):
        with np.errstate(invalid="ignore"):  # inf - inf warns, as plain addition does
            high, low = compensated_add(high, low, np.array(row))
    # Column 0 is exact; inf + finite is inf; inf - inf and NaN are NaN, as plain addition.
    assert high[0] == 1.0
    assert np.isnan(high[1]) and np.isnan(high[2])
    assert np.array_equal(low, [0.0, 0.0, 0.0])

    high, low = np.float32(0), np.float32(0)
    high, low = compensated_add(high, low, np.float32(np.inf))
    high, low = compensated_add(high, low, np.float32(1))
    assert high == np.inf and low == 0 and type(high) is np.float32


# -- plain summation is sequential summation in the metric's dtype --------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_plain_running_sum_is_the_sequential_sum_in_the_dtype(dtype: str) -> None:
    # This justifies computing the plain million-update error with np.cumsum below:
    # the metric adds one batch total at a time in its own dtype, exactly like cumsum.
    values = million_values(dtype)[:20_000]
    m = im.Sum(dtype=dtype)
    for value in values:
        m.update_state(value)
    running = m.history["running_total"].to_numpy()
    assert np.array_equal(running, np.cumsum(values, dtype=dtype))


@pytest.mark.parametrize(("dtype", "plain_drift_at_least"), [("float32", 50), ("float64", 50)])
def test_a_million_updates_plain_drifts_and_kahan_does_not(
    dtype: str, plain_drift_at_least: float
) -> None:
    values = million_values(dtype)
    exact = math.fsum(values.astype(np.float64))  # the float32 values are exact in float64

    plain_total = np.cumsum(values, dtype=dtype)[-1]  # == Sum(dtype) updated per value
    assert ulps_off(plain_total, exact, dtype) >= plain_drift_at_least

    m = im.Sum(dtype=dtype, summation="kahan", history=False)
    for value in values:
        m.update_state(value)
    assert ulps_off(m.result(), exact, dtype) <= 1.0
    assert m.dtype == dtype and type(m._state["total"]) is np.dtype(dtype).type


# -- kahan through the whole protocol: history, state_at, merge, reset, every ---------------


def fsum_running(values: np.ndarray, dtype: str) -> np.ndarray:
    return np.array([math.fsum(values[: i + 1]) for i in range(len(values))]).astype(dtype)


def test_kahan_history_and_state_at_hold_the_compensated_sums() -> None:
    values = np.array([1e16, 1.0, 1.0, -1e16, 0.5])
    m = im.Sum(summation="kahan")
    for value in values:
        m.update_state([value])
    expected = fsum_running(values, "float64")  # [1e16, 1e16+2 rounded, ..., 2.5]
    assert np.array_equal(m.history["running_total"].to_numpy(), expected)
    assert m.result() == 2.5
    assert [m.state_at(k)["total"] for k in range(1, 6)] == expected.tolist()
    assert m.result_at(4) == 2.0


def test_kahan_merge_is_exact_and_accepts_plain_metrics() -> None:
    a, b = im.Mean(summation="kahan"), im.Mean(summation="kahan")
    c = im.Mean()  # plain: its state merges all the same
    for value in (1e16, 1.0, 1.0):
        a.update_state([value])
    for value in (-1e16, 3.0):
        b.update_state([value])
    c.update_state([2.0])
    target = im.Mean(summation="kahan")
    target.merge_state([a, b, c])
    assert target.state == {"total": 7.0, "count": 6.0}
    assert target.history["batch_total"].to_list() == [7.0]


def test_kahan_reset_forgets_the_compensation() -> None:
    m = im.Sum(summation="kahan")
    m.update_state([1e16])
    m.update_state([1.0])  # lives in the compensation
    m.reset_state()
    m.update_state([3.0])
    assert m.result() == 3.0
    assert m.state_at(3) == {"total": 0.0}
    assert m.state_at(4) == {"total": 3.0}


def test_kahan_with_history_every_and_min_max_fields() -> None:
    values = np.random.default_rng(3).normal(size=999) * 1e8
    m = im.Sum(summation="kahan", history_every=10)
    low = im.Min(summation="kahan")  # no sum field: nothing to compensate
    for value in values:
        m.update_state([value])
        low.update_state([value])
    assert m.result() == np.float64(math.fsum(values))
    assert m.history.height == 99
    assert low.result() == values.min()


def test_kahan_on_a_shaped_sum_field() -> None:
    class Histogram(im.Metric):
        fields = (im.StateField("counts", shape=(2,)),)

        def terms(self, values: np.ndarray, sample_weight: np.ndarray | None = None) -> Any:
            return {"counts": np.stack([values, -values], axis=1)}

        def compute(self, state: Mapping[str, Any]) -> Any:
            return state["counts"]

    m = Histogram(summation="kahan")
    for value in (1e16, 1.0, 1.0, -1e16):
        m.update_state([value])
    assert np.array_equal(m.result(), [2.0, -2.0])


def test_summation_option_is_validated_and_configured() -> None:
    with pytest.raises(ValueError, match=r"`summation` must be one of \('plain', 'kahan'\)"):
        im.Mean(summation="fsum")  # type: ignore[arg-type]
    config = im.Mean(summation="kahan").get_config()
    assert config["summation"] == "kahan"
    assert im.Mean.from_config(config).summation == "kahan"
    assert im.Mean().summation == "plain"


def test_kahan_with_inf_and_nan_values_matches_plain() -> None:
    for values in ([1.0, np.inf, 2.0], [np.inf, -np.inf], [1.0, np.nan, 1.0]):
        plain, kahan = im.Sum(), im.Sum(summation="kahan")
        for value in values:
            with np.errstate(invalid="ignore"):
                plain.update_state([value])
                kahan.update_state([value])
        assert np.array_equal(
            plain.history["running_total"].to_numpy(),
            kahan.history["running_total"].to_numpy(),
            equal_nan=True,
        )
