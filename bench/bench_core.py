"""Foundation benchmarks (issue 2): per-update overhead, big-batch throughput, history memory.

Run alone with ``python bench/bench_core.py``; ``./dev bench`` runs every benchmark.
Every baseline is measured in the same run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import paired, row  # noqa: E402

import interactive_metrics as im  # noqa: E402


def small_updates() -> list[dict]:
    rng = np.random.default_rng(0)
    v, w = rng.random(32), rng.random(32)
    state = {"total": 0.0}

    def bare() -> None:
        state["total"] += float(np.sum(v))

    number = 20_000
    rows = []
    for cls in (im.Sum, im.Mean):
        for weighted in (False, True):
            metric = cls()
            call = (
                (lambda m=metric: m.update_state(v, sample_weight=w))
                if weighted
                else (lambda m=metric: m.update_state(v))
            )
            label = f"{cls.__name__}.update_state(32 values{', weighted' if weighted else ''})"
            seconds, baseline = paired(call, bare, number)
            target = 2.5 if weighted else 2
            rows.append(row(label + " vs total += float(np.sum(v))", seconds, baseline, target))
    return rows


def big_batch() -> list[dict]:
    rng = np.random.default_rng(1)
    v, w = rng.random(10_000_000), rng.random(10_000_000)
    rows = []
    for cls in (im.Sum, im.Mean):
        m = cls()
        seconds, baseline = paired(lambda m=m: m.update_state(v), lambda: np.sum(v), 1, 15, 0.15)
        rows.append(
            row(f"{cls.__name__}: one update of 1e7 values vs np.sum", seconds, baseline, 1.25)
        )

    def validated_floor() -> None:
        # what numpy needs for a weighted sum that refuses negative, NaN and infinite
        # weights: two passes to check them (argmin/argmax point at the smallest/largest
        # or the first NaN), the dot
        if not (w[w.argmin()] >= 0 and w[w.argmax()] < np.inf):
            raise ValueError("negative, NaN or infinite weight")
        np.dot(v, w)

    for cls in (im.Sum, im.Mean):
        m = cls()
        seconds, baseline = paired(
            lambda m=m: m.update_state(v, sample_weight=w), validated_floor, 1, 15, 0.15
        )
        rows.append(
            row(
                f"{cls.__name__}: weighted update of 1e7 vs weight check + np.dot",
                seconds,
                baseline,
                1.5,
            )
        )
    return rows


def first_weighted_update() -> list[dict]:
    """The first weighted update in a fresh process against the first unweighted one."""
    code = (
        "import time, numpy as np, interactive_metrics as im; v = np.random.random(1000); "
        "m = im.{cls}(); t = time.perf_counter(); m.update_state(v{weight}); "
        "print(time.perf_counter() - t)"
    )

    def first(weight: str) -> float:
        runs = [
            subprocess.run(
                [sys.executable, "-c", code.format(cls=cls, weight=weight)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for cls in ("Sum", "Mean")
            for _ in range(3)
        ]
        return min(float(r) for r in runs)

    extra = first(", sample_weight=v") - first("")
    return [
        {
            "name": f"first weighted update in a fresh process: {extra * 1e3:+.1f} ms "
            "over the first unweighted one",
            "seconds": None,
            "baseline_seconds": None,
            "ratio": extra * 1e3,
            "target": "<= 20 ms",
            "ok": extra <= 0.020,
        }
    ]


def history_memory() -> list[dict]:
    m = im.Mean()
    v = np.ones(2)
    start = time.perf_counter()
    for _ in range(1_000_000):
        m.update_state(v)
    seconds = time.perf_counter() - start
    buffer = m._history
    numbers = buffer.length * (buffer.width + 2)  # the values, the step and the event of each row
    per_number = buffer.nbytes / numbers
    return [
        {
            "name": f"Mean history, 1e6 updates: bytes per stored number ({seconds:.1f} s)",
            "seconds": None,
            "baseline_seconds": None,
            "ratio": per_number,
            "target": "<= 8 bytes",
            "ok": per_number <= 8,
        }
    ]


def import_cost() -> list[dict]:
    code = (
        "import sys, time; t = time.perf_counter(); import interactive_metrics; "
        "print(time.perf_counter() - t, any(m in sys.modules for m in ('altair', 'ipywidgets')))"
    )
    bare = (
        "import time; t = time.perf_counter(); import numpy, polars; "
        "print(time.perf_counter() - t, False)"
    )
    ours = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(3)
    ]
    base = [
        subprocess.run(
            [sys.executable, "-c", bare], capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(3)
    ]
    seconds = min(float(o[0]) for o in ours)
    baseline = min(float(b[0]) for b in base)
    loads_renderer = any(o[1] == "True" for o in ours)
    result = row("import interactive_metrics vs import numpy, polars", seconds, baseline, 1.5)
    result["name"] += " (loads altair/ipywidgets: " + ("YES" if loads_renderer else "no") + ")"
    result["ok"] = result["ok"] and not loads_renderer
    return [result]


def run() -> list[dict]:
    return (
        small_updates() + big_batch() + first_weighted_update() + history_memory() + import_cost()
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from run import print_rows

    print_rows("core", run())
