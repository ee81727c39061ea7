"""Several threads updating one metric (or one Streams) lose nothing and record every event once."""

from __future__ import annotations

import copy
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import interactive_metrics as im

THREADS = 4
ROUNDS = 2000


@pytest.fixture(autouse=True)
def switch_often() -> Iterator[None]:
    """Make the interpreter switch threads every microsecond, so races show up."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def run_threads(work: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            work(i)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def serial_reference(
    make: Callable[[], im.Metric], update: Callable[[im.Metric], None]
) -> im.Metric:
    reference = make()
    for _ in range(THREADS * ROUNDS):
        update(reference)
    return reference


CASES = {
    "sum": (lambda: im.Sum(), lambda m: m.update_state([1.0, 2.0])),
    "weighted mean": (
        lambda: im.Mean(),
        lambda m: m.update_state([1.0, 3.0], sample_weight=[1.0, 3.0]),
    ),
    "kahan sum": (lambda: im.Sum(summation="kahan"), lambda m: m.update_state([0.1, 0.2])),
    "every 3": (lambda: im.Mean(history_every=3), lambda m: m.update_state([2.0])),
    "last 100": (lambda: im.Sum(history_last=100), lambda m: m.update_state([1.0])),
    "accuracy": (lambda: im.Accuracy(), lambda m: m.update_state([1, 0], [1, 1])),
    "confusion": (
        lambda: im.ConfusionMatrix(num_classes=3),
        lambda m: m.update_state([0, 1, 2], [0, 2, 2]),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_threads_updating_one_metric_lose_nothing(case: str, tmp_path: Path) -> None:
    make, update = CASES[case]
    shared = make()

    def work(i: int) -> None:
        for r in range(ROUNDS):
            update(shared)
            if r % 400 == 0:  # readers flush queued rows while others append
                shared.history  # noqa: B018

    run_threads(work)
    reference = serial_reference(make, update)
    assert shared.step == THREADS * ROUNDS
    np.testing.assert_array_equal(shared.result(), reference.result())
    for name, value in reference.state.items():
        np.testing.assert_allclose(shared.state[name], value, rtol=1e-12)
    steps = shared.history["step"]
    assert steps.is_sorted() and steps.n_unique() == len(steps)
    assert steps.to_list() == reference.history["step"].to_list()
    loaded = im.load(shared.save(tmp_path / "shared"))
    assert loaded.step == shared.step
    np.testing.assert_array_equal(loaded.result(), shared.result())


def test_merges_and_resets_between_updates_keep_each_event_whole() -> None:
    shared, donor = im.Mean(), im.Mean()
    donor.update_state([1.0, 1.0, 1.0])

    def work(i: int) -> None:
        for r in range(ROUNDS):
            if i == 0 and r % 500 == 0:
                shared.reset_state()
            elif i == 1:
                shared.merge_state([donor])
            else:
                shared.update_state([1.0])

    run_threads(work)
    history = shared.history
    assert shared.step == THREADS * ROUNDS == history.height
    assert history["step"].to_list() == list(range(1, THREADS * ROUNDS + 1))
    # every value seen was 1, so every recorded running mean is 1 (or 0 right after a reset)
    assert set(history["result"].to_list()) <= {0.0, 1.0}
    # the running count is the count of the row before plus this row's batch (a reset restarts it)
    count = history["running_count"].to_numpy()
    batch = history["batch_count"].fill_null(0.0).to_numpy()
    is_reset = (history["event"] == "reset").to_numpy()
    before = np.concatenate([[0.0], count[:-1]])
    np.testing.assert_array_equal(count[~is_reset], (before + batch)[~is_reset])
    assert (count[is_reset] == 0).all()


def test_two_metrics_merging_each_other_do_not_deadlock() -> None:
    a, b = im.Sum(), im.Sum()
    a.update_state([1.0])
    b.update_state([1.0])

    def work(i: int) -> None:
        for _ in range(200):
            (a if i % 2 else b).merge_state([b if i % 2 else a])

    run_threads(work)  # would hang (and time out the suite) on a lock-order deadlock
    assert a.step == b.step == 1 + 2 * 200


def test_a_copy_has_its_own_lock_and_state() -> None:
    m = im.Sum()
    m.update_state([1.0, 2.0])
    clone = copy.deepcopy(m)
    clone.update_state([10.0])
    assert (m.result(), m.step) == (3.0, 1)
    assert (clone.result(), clone.step) == (13.0, 2)
    assert clone.history["running_total"].to_list() == [3.0, 13.0]


def test_threads_updating_one_streams_lose_nothing(tmp_path: Path) -> None:
    shared = im.Streams(im.Mean())

    def work(i: int) -> None:
        for r in range(ROUNDS // 4):
            shared.update_state([1.0, 0.0, float(i)], stream=[f"own{i}", "common", "common"])
            if r % 100 == 0:
                shared.breakdown()
                shared.history  # noqa: B018

    run_threads(work)
    rounds = ROUNDS // 4
    assert shared.step == THREADS * rounds
    breakdown = {row["stream"]: row for row in shared.breakdown().iter_rows(named=True)}
    assert set(breakdown) == {"common"} | {f"own{i}" for i in range(THREADS)}
    for i in range(THREADS):
        assert breakdown[f"own{i}"]["count"] == rounds
        assert breakdown[f"own{i}"]["result"] == 1.0
    assert breakdown["common"]["count"] == 2 * THREADS * rounds
    expected_common = sum(range(THREADS)) * rounds / (2 * THREADS * rounds)
    assert breakdown["common"]["result"] == pytest.approx(expected_common, rel=1e-12)
    merged = shared.merged()
    assert merged.step == shared.step and merged.state["count"] == 3 * THREADS * rounds
    history = shared.history
    assert history.height == 2 * THREADS * rounds  # one row per (event, stream it touched)
    assert history["step"].n_unique() == shared.step
    loaded = im.load(shared.save(tmp_path / "streams.zip"))
    assert loaded.breakdown().equals(shared.breakdown())


def test_streams_merging_each_other_from_two_threads_do_not_deadlock() -> None:
    a, b = im.Streams(im.Sum()), im.Streams(im.Sum())
    a.update_state([1.0], stream="a")
    b.update_state([1.0], stream="b")

    def work(i: int) -> None:
        for _ in range(100):
            (a if i % 2 else b).merge_state(b if i % 2 else a)

    run_threads(work)  # a lock-order deadlock would hang here
    assert a.step == b.step == 1 + 2 * 100
    assert a.streams == ["a", "b"] and b.streams == ["b", "a"]


def test_a_replay_and_updates_from_other_threads_interleave_whole() -> None:
    import polars as pl

    from interactive_metrics.replay import replay_metric

    log = pl.DataFrame({"batch": np.repeat(np.arange(50), 4), "loss": np.ones(200)})
    shared = im.Mean()

    def work(i: int) -> None:
        for _ in range(20):
            if i == 0:
                shared.replay(log, values="loss", batch="batch")
            elif i == 1:
                replay_metric(shared, log, values="loss", batch="batch")
            else:
                shared.update_state([1.0, 1.0])

    run_threads(work)
    assert shared.step == 2 * 20 * 50 + 2 * 20
    assert shared.history["step"].to_list() == list(range(1, shared.step + 1))
    assert shared.state["count"] == 2 * 20 * 200 + 2 * 20 * 2


def test_saves_from_another_thread_always_load(tmp_path: Path) -> None:
    # save serialises state, step and history under the lock: each file is one event's
    shared = im.Mean()
    paths: list[Path] = []

    def work(i: int) -> None:
        for r in range(ROUNDS // 10 if i == 0 else ROUNDS):
            if i == 0:
                paths.append(shared.save(tmp_path / f"save{r}.zip"))
            else:
                shared.update_state([1.0])

    run_threads(work)
    for path in paths:
        loaded = im.load(path)
        assert loaded.history.height == loaded.step
        assert loaded.state["count"] == loaded.step  # every update added one sample
