"""What every benchmark shares: timing that is fair on a busy machine, and the row format.

``bench/run.py`` prints rows of ``name``, ``seconds``, ``baseline_seconds``, ``ratio``,
``target`` and ``ok``. A ratio is only meaningful when both sides ran under the same
conditions, so :func:`paired` alternates the two timings round by round and keeps
the best of each: a burst of load from another process then slows both, not one.
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable
from typing import Any


def best(fn: Callable[[], Any], number: int = 1, repeat: int = 5) -> float:
    """Seconds per call: the best of ``repeat`` timings of ``number`` calls."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def paired(
    ours: Callable[[], Any],
    baseline: Callable[[], Any],
    number: int = 1,
    rounds: int = 7,
    settle: float = 0.0,
) -> tuple[float, float]:
    """Seconds per call of ``ours`` and of ``baseline``, timed alternately, best of ``rounds``.

    ``settle`` seconds of sleep come before each timing, for calls that use all
    cores: a thread pool may keep spinning for a while after its work is done
    (OpenBLAS' workers do), and the next timing would share the cores with it. A
    notebook cell rarely follows a BLAS call that closely.
    """
    mine, theirs = [], []
    for _ in range(rounds):
        time.sleep(settle)
        theirs.append(timeit.timeit(baseline, number=number))
        time.sleep(settle)
        mine.append(timeit.timeit(ours, number=number))
    return min(mine) / number, min(theirs) / number


def row(name: str, seconds: float, baseline: float, target: float) -> dict[str, Any]:
    """One result: ``seconds / baseline`` must be at most ``target``."""
    ratio = seconds / baseline
    return {
        "name": name,
        "seconds": seconds,
        "baseline_seconds": baseline,
        "ratio": ratio,
        "target": f"<= {target:g}x",
        "ok": ratio <= target,
    }
