"""Interval benchmarks (issue 17): the streaming bootstrap and the closed-form intervals.

Run alone with ``python bench/bench_intervals.py``; ``./dev bench`` runs every benchmark.

- ``Bootstrap(Mean(), replicates=200)`` on 1,000,000 samples (one update): at most 2x a
  numpy floor that draws the Poisson(1) weights (``Generator.poisson``) in blocks and
  takes one weighted sum per replicate (a matrix-vector product per block); peak
  traced memory of the update at most 64 MB;
- ``update_state`` followed by ``interval()`` against ``update_state`` alone, for
  updates of 100,000 samples (Wilson for ``BinaryAccuracy``, Student t for
  ``Mean(variance=True)``): at most 1.10x, timed alternately. (On small updates the
  interval's fixed cost, a few microseconds, is more than 10% of the update.)
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import paired, row  # noqa: E402

import interactive_metrics as im  # noqa: E402

N, R = 1_000_000, 200


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def floor(values: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(1)
    out = np.zeros(R)
    block = (1 << 19) // R
    for start in range(0, len(values), block):
        part = values[start : start + block]
        out += rng.poisson(1.0, (R, len(part))) @ part
    return out


def run() -> list[dict]:
    values = np.random.default_rng(0).normal(size=N)
    ours = best(lambda: im.Bootstrap(im.Mean(), replicates=R, history=False).update_state(values))
    base = best(lambda: floor(values))
    rows = [
        {
            "name": "Bootstrap(Mean(), 200): update of 1e6 samples vs numpy floor",
            "seconds": ours,
            "baseline_seconds": base,
            "ratio": ours / base,
            "target": "<= 2.0",
            "ok": ours / base <= 2.0,
        }
    ]
    tracemalloc.start()
    im.Bootstrap(im.Mean(), replicates=R, history=False).update_state(values)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    rows.append(
        {
            "name": f"Bootstrap(Mean(), 200): peak memory of the update, MB ({peak:.1f})",
            "seconds": None,
            "baseline_seconds": None,
            "ratio": peak / 64,
            "target": "<= 1 (64MB)",
            "ok": peak <= 64,
        }
    )
    return rows + closed_form_overhead()


def closed_form_overhead(number: int = 20, rounds: int = 15) -> list[dict]:
    """``update_state`` + ``interval()`` against ``update_state`` alone, 100,000 samples.

    Timed alternately (:func:`_common.paired`, best of ``rounds``), since one update
    takes tens of microseconds and the interval a few.
    """
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 100_000).astype(float)
    p = rng.random(100_000)
    rows = []
    for label, make, args in (
        ("BinaryAccuracy: update + Wilson interval", im.BinaryAccuracy, (y, p)),
        ("Mean(variance=True): update + t interval", lambda: im.Mean(variance=True), (p,)),
    ):
        metric = make()

        def update(metric=metric, args=args) -> None:
            metric.update_state(*args)

        def both(metric=metric, args=args) -> None:
            metric.update_state(*args)
            metric.interval()

        with_interval, plain = paired(both, update, number, rounds)
        rows.append(row(label + " (100,000 samples)", with_interval, plain, 1.10))
    return rows


if __name__ == "__main__":
    for result in run():
        print(result)
