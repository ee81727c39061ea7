"""Hostile arguments to lookups and readers: a clear TypeError/ValueError, nothing else.

Found by feeding arrays, Series, huge ints and unhashable objects to every reader of a
metric, a Streams and a collection (session 6).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import interactive_metrics as im


def _streams() -> im.Streams:
    s = im.Streams(im.Mean())
    s.update_state([1.0, 2.0, 3.0, 4.0], stream=["a", "b", "a", "b"])
    return s


def test_unknown_keys_are_key_errors_and_value_errors() -> None:
    s = _streams()
    collection = im.MetricCollection([im.Mean(), im.Sum()])
    for lookup in (lambda: s["zz"], lambda: collection["nope"]):
        with pytest.raises(im.UnknownKeyError) as info:
            lookup()
        assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
        assert not str(info.value).startswith("'")  # the message, not KeyError's repr
    with pytest.raises(ValueError, match="no stream 'zz'; known streams are"):
        s["zz"]
    assert "zz" not in s and "a" in s


@pytest.mark.parametrize("step", [np.array([1, 2]), np.array([]), pl.Series([1, 2]), [1], "1"])
def test_state_at_and_result_at_refuse_what_is_not_a_step(step: object) -> None:
    m = im.Mean()
    m.update_state([1.0, 2.0])
    collection = im.MetricCollection([im.Mean(), im.Max()])
    for read in (m.state_at, m.result_at, collection.state_at, collection.result_at):
        with pytest.raises(TypeError, match="`step` must be an integer"):
            read(step)


def test_a_window_longer_than_the_history_is_the_whole_history() -> None:
    m = im.Mean()
    for batch in ([1.0, 1.0], [0.0, 1.0]):
        m.update_state(batch)
    whole = m.rolling(2).rows()
    assert m.rolling(2**70).rows() == whole == [(1, 1.0), (2, 0.75)]
    s = _streams()
    assert s.rolling(2**70).equals(s.rolling(1))  # one batch so far: any window is it


@pytest.mark.parametrize("kind", [["history"], np.array(["history"]), pl.Series(["x"]), None, 3])
def test_plot_refuses_a_kind_that_is_not_a_name(kind: object) -> None:
    m = im.Mean()
    m.update_state([1.0])
    with pytest.raises(ValueError, match="`kind` must be one of"):
        m.plot(kind)


@pytest.mark.parametrize(
    "make",
    [
        lambda n: im.ExpectedCalibrationError(num_bins=n),
        lambda n: im.ConfusionMatrix(num_classes=n),
        lambda n: im.Mean(history_every=n),
    ],
)
def test_integer_arguments_beyond_any_real_size_are_refused(make: object) -> None:
    with pytest.raises(ValueError, match="at most 2\\*\\*62, got 1180591620717411303424"):
        make(2**70)  # type: ignore[operator]


@pytest.mark.parametrize("weight", [np.inf, [1.0, np.inf], [-np.inf, 1.0]])
def test_an_infinite_weight_is_refused_and_changes_nothing(weight: object) -> None:
    """An infinite weight made every later result NaN (inf * 0), with a RuntimeWarning."""
    members = {"precision": im.Precision(), "loss": im.Mean(), "accuracy": im.BinaryAccuracy()}
    collection = im.MetricCollection(members)
    collection.update_state(y_true=[0, 1], y_pred=[0.2, 0.9], values=[1.0, 2.0])
    before = {name: m.state for name, m in collection.items()}
    with pytest.raises(ValueError, match="must be >= 0 and not NaN or infinite, got 1 bad"):
        collection.update_state(
            y_true=[0, 1], y_pred=[0.2, 0.9], values=[1.0, 2.0], sample_weight=weight
        )
    assert {name: m.state for name, m in collection.items()} == before
    for metric in members.values():
        assert metric.step == 1
    with pytest.raises(ValueError, match="or infinite"):
        im.Sum().update_state(np.ones(300_000), sample_weight=np.r_[np.ones(299_999), np.inf])


@pytest.mark.parametrize(
    ("make", "inputs"),
    [
        (lambda: im.Sum(), ([4.0, 1.0],)),
        (lambda: im.ConfusionMatrix(2), ([0, 1], [0, 1])),
        (lambda: im.Mean(), ([4.0, 1.0],)),
    ],
)
def test_frames_and_results_handed_out_do_not_change_with_later_updates(
    make: object, inputs: tuple
) -> None:
    """A breakdown's result column was a view of the stream state (Sum: 4.0 became 14.0)."""
    s = im.Streams(make())  # type: ignore[operator]
    collection = im.MetricCollection({"m": make()}).streams()  # type: ignore[operator]
    m = make()  # type: ignore[operator]
    s.update_state(*inputs, stream=["a", "a"])
    collection.update_state(*inputs, stream=["a", "a"])
    m.update_state(*inputs)
    handed = [s.breakdown(), collection.breakdown(), s.by_stream, s.rolling(1), m.history]
    copies = [frame.rows() for frame in handed]  # Python values: clone() would share memory
    values = [s.result(), s["a"].result(), m.result(), m.state]
    kept = [copy_of(v) for v in values]
    for _ in range(2):
        s.update_state(*inputs, stream=["a", "a"])
        collection.update_state(*inputs, stream=["a", "a"])
        m.update_state(*inputs)
    for frame, copy in zip(handed, copies, strict=True):
        assert frame.rows() == copy
    for value, copy in zip(values, kept, strict=True):
        np.testing.assert_equal(value, copy)


def copy_of(value: object) -> object:
    if isinstance(value, dict):
        return {k: np.array(v, copy=True) for k, v in value.items()}
    return np.array(value, copy=True)


@pytest.mark.parametrize("method", [np.array(["t", "t"]), np.array([]), pl.Series(["t"]), ["t"], 3])
def test_interval_methods_that_are_not_names_are_refused(method: object) -> None:
    m = im.Mean(variance=True)
    m.update_state([1.0, 2.0, 3.0])
    b = im.Bootstrap(im.Mean(), replicates=10)
    b.update_state([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="`method` must be one of"):
        m.interval(method=method)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`method` of a Bootstrap interval must be one of"):
        b.interval(method=method)  # type: ignore[arg-type]


def test_bootstrap_sizes_beyond_any_use_are_refused() -> None:
    with pytest.raises(
        ValueError, match="`replicates` must be at most 1,000,000, got 1180591620717411303424"
    ):
        im.Bootstrap(im.Mean(), replicates=2**70)
    with pytest.raises(ValueError, match="`offset` must be at most"):
        im.Bootstrap(im.Mean(), offset=2**63)


def test_a_collection_hands_a_batch_ranked_by_top_k_over_whole() -> None:
    """``Precision(top_k=k)`` on 1-d scores ranks the batch: a collection must not chunk it."""
    from interactive_metrics.engine import CHUNK

    rng = np.random.default_rng(8)
    n = 2 * CHUNK + 5
    y, p = rng.integers(0, 2, n), rng.random(n)
    alone = im.Precision(top_k=1000)
    alone.update_state(y, p)
    together = im.MetricCollection({"p": im.Precision(top_k=1000), "acc": im.BinaryAccuracy()})
    together.update_state(y, p)
    top = np.argsort(-p, kind="stable")[:1000]  # numpy oracle: the batch's 1000 best scores
    assert alone.result() == together["p"].result() == y[top].mean()
    assert together["acc"].result() == ((p > 0.5) == y).mean()


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("bad", [-1.0, -np.inf, np.inf, np.nan, -np.nan, None])
def test_the_one_pass_weight_check_of_large_batches(dtype: str, bad: float | None) -> None:
    """Above 2048 weights the check reads the floats' bits; -0.0 and 0 stay fine."""
    from interactive_metrics.core.coerce import check_sample_weight

    w = np.random.default_rng(1).random(5000).astype(dtype)
    w[[7, 4000]] = -0.0, 0.0
    if bad is None:
        check_sample_weight(w)  # nothing to refuse
        check_sample_weight(w.reshape(50, 100)[:, ::2])  # strided too
        return
    w[4999] = bad
    expected = bool(((w >= 0) & (w < np.inf)).all())  # the elementwise oracle
    assert not expected
    with pytest.raises(ValueError, match="not NaN or infinite, got 1 bad weight"):
        check_sample_weight(w)
