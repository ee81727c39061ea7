"""Soak: 1,000,000 updates per history option, with time, bytes per stored number and peak RSS.

Run alone with ``python bench/bench_soak.py``; ``./dev bench`` runs every benchmark.
Each configuration runs in a fresh process (``--worker``), so its RSS is its own; the
baseline of every row is the same loop with ``history=False``, measured in the same run.
``tests/test_soak.py`` runs the same worker and asserts the memory bounds.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

UPDATES = 1_000_000
CONFIGS: dict[str, dict[str, Any]] = {
    "history on (every row)": {},
    "history_last=1000": {"history_last": 1000},
    "history_every=1000": {"history_every": 1000},
    "history=False": {"history": False},
}
PAGE = os.sysconf("SC_PAGE_SIZE")


def current_rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark (VmHWM) of this process (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def peak_rss() -> int:
    """VmHWM: the most memory this process has held since start or since the last reset."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def worker(options: dict[str, Any], updates: int) -> dict[str, Any]:
    """``updates`` calls of ``Mean(**options).update_state`` on a one-sample batch."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import numpy as np

    import interactive_metrics as im

    metric = im.Mean(**options)
    batch = np.array([0.25])
    metric.update_state(batch)  # warm every code path before measuring
    gc.collect()
    exact_peak = reset_peak_rss()  # forget the import's transient peak
    base = current_rss()
    peak = base
    start = time.perf_counter()
    for i in range(updates - 1):
        metric.update_state(batch)
        if not i & 0x3FFF:  # sample the RSS every 16,384 updates
            peak = max(peak, current_rss())
    seconds = time.perf_counter() - start
    peak = max(peak, current_rss(), peak_rss() if exact_peak else 0)
    history = metric._history
    rows = 0 if history is None else len(history.steps)
    numbers_per_row = 0 if history is None else history.width + 2  # + step and event
    stored = rows * numbers_per_row
    allocated = (
        0
        if history is None
        else history._values.nbytes + history._steps.nbytes + history._events.nbytes
    )
    return {
        "seconds": seconds,
        "updates": updates,
        "step": metric.step,
        "result": metric.result(),
        "rows": rows,
        "stored_numbers": stored,
        "bytes_per_stored_number": history.nbytes / stored if stored else 0.0,
        "allocated_bytes": allocated,
        "rss_growth_bytes": current_rss() - base,
        "peak_rss_growth_bytes": peak - base,
    }


def run_worker(options: dict[str, Any], updates: int = UPDATES) -> dict[str, Any]:
    """Run :func:`worker` in a fresh Python process and return what it measured."""
    done = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(options), str(updates)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


def run() -> list[dict]:
    measured = {label: run_worker(options) for label, options in CONFIGS.items()}
    baseline = measured["history=False"]["seconds"]
    rows = []
    for label, m in measured.items():
        mb = m["peak_rss_growth_bytes"] / 2**20
        bounded = label != "history on (every row)"
        memory_ok = (mb < 8) if bounded else m["bytes_per_stored_number"] <= 8
        ratio = m["seconds"] / baseline
        rows.append(
            {
                "name": (
                    f"1M Mean updates, {label}: {m['rows']} rows, "
                    f"{m['bytes_per_stored_number']:.2f} B/number, peak RSS +{mb:.1f} MB"
                ),
                "seconds": m["seconds"],
                "baseline_seconds": baseline,
                "ratio": ratio,
                "target": "<= 1.5x",
                "ok": ratio <= 1.5 and memory_ok,
                **m,
            }
        )
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        print(json.dumps(worker(json.loads(sys.argv[2]), int(sys.argv[3]))))
    else:
        for row in run():
            print(
                f"{row['name']:90s} {row['seconds']:7.2f} s  {row['ratio']:5.2f}x  "
                f"{'ok' if row['ok'] else 'MISSED'}"
            )
