"""Numerics: what ``summation="kahan"`` costs per update, and the error of a million-update sum.

Run alone with ``python bench/bench_numerics.py``; ``./dev bench`` runs every benchmark.
Timing rows compare the compensated path with the default (plain) path in the same run.
The error rows run 1,000,000 real updates per configuration and count how many units in
the last place (ulps) the running sum is away from ``math.fsum`` of the same numbers.
"""

from __future__ import annotations

import math
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import interactive_metrics as im  # noqa: E402

UPDATES = 1_000_000


def per_update(metric: im.Metric, batch: np.ndarray, number: int = 20_000) -> float:
    return min(timeit.repeat(lambda: metric.update_state(batch), number=number, repeat=5)) / number


def timing_rows() -> list[dict]:
    rows = []
    batch = np.random.default_rng(0).random(32)
    for cls in (im.Sum, im.Mean):
        for history in (True, False):
            plain = per_update(cls(history=history), batch)
            kahan = per_update(cls(history=history, summation="kahan"), batch)
            ratio = kahan / plain
            rows.append(
                {
                    "name": f"{cls.__name__} update (32 samples, history={history}): kahan / plain",
                    "seconds": kahan,
                    "baseline_seconds": plain,
                    "ratio": ratio,
                    "target": "<= 1.5x",
                    "ok": ratio <= 1.5,
                }
            )
    return rows


def error_rows() -> list[dict]:
    rows = []
    for dtype in ("float32", "float64"):
        values = np.random.default_rng(7).random(UPDATES).astype(dtype)
        exact = math.fsum(values.astype(np.float64))
        ulp = float(np.spacing(np.array(exact, dtype=dtype)))
        errors = {}
        for summation in ("plain", "kahan"):
            metric = im.Sum(dtype=dtype, summation=summation, history=False)
            for value in values:
                metric.update_state(value)
            errors[summation] = abs(metric.result() - exact) / ulp
        rows.append(
            {
                "name": (
                    f"1M-update {dtype} running sum vs math.fsum: plain {errors['plain']:.1f} "
                    f"ulps, kahan {errors['kahan']:.2f} ulps"
                ),
                "seconds": None,
                "baseline_seconds": None,
                "ratio": None,
                "target": "kahan <= 1 ulp",
                "ok": errors["kahan"] <= 1.0,
                "plain_ulps": errors["plain"],
                "kahan_ulps": errors["kahan"],
            }
        )
    return rows


def run() -> list[dict]:
    return timing_rows() + error_rows()


if __name__ == "__main__":
    for row in run():
        timing = (
            f"{row['seconds'] * 1e6:7.2f} us vs {row['baseline_seconds'] * 1e6:7.2f} us "
            f"{row['ratio']:5.2f}x"
            if row["seconds"] is not None
            else " " * 31
        )
        print(f"{row['name']:75s} {timing}  {'ok' if row['ok'] else 'MISSED'}")
