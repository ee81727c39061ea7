"""Chart benchmarks (issue 5): a 1,000,000-step history charts in <= 5x the 1,000-step time, < 1 MB.

And the report (issue 13): ``interactive-metrics report`` on the bundled sample log
(100,000 rows) takes at most the time of ``import altair`` in the same environment
plus 1.5 s, both timed as fresh processes in the same run (best of a few). The vega
bundle the report inlines is built once (about 2 s) and then read from the cache; a
run with an empty cache is shown on its own row.

Run alone with ``python bench/bench_charts.py``; ``./dev bench`` runs every benchmark.
The histories are real: a ``Mean`` replayed from a log with one batch per step (and
one reset in the middle of the long one). "Build" is the chart function plus
``to_dict()`` (what a notebook does before it draws), with the history table already
built (``metric.history`` is cached after its first read; that first read is shown
on its own row, since it is the history store's cost, not the charts').
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import interactive_metrics as im  # noqa: E402
from interactive_metrics import charts  # noqa: E402

SMALL, LARGE = 1_000, 1_000_000
MB = 1_000_000


def best(fn, number: int = 1, repeat: int = 5) -> float:
    """Seconds per call: the best of ``repeat`` timings of ``number`` calls."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def log(steps: int, seed: int, streams: int = 0) -> pl.DataFrame:
    """A training log: ``steps`` batches of 1 to 4 losses (and a stream id per row)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, steps) if not streams else np.full(steps, streams)
    n = int(sizes.sum())
    columns = {"batch": np.repeat(np.arange(steps), sizes), "loss": rng.gamma(2.0, 0.5, n)}
    if streams:
        columns["sensor"] = np.tile(np.arange(streams), steps)
    return pl.DataFrame(columns)


def mean_history(steps: int) -> im.Mean:
    """A Mean with ``steps`` history rows: updates, one reset halfway, more updates."""
    metric = im.Mean(name="loss").replay(log(steps // 2, seed=1), values="loss", batch="batch")
    metric.reset_state()
    return metric.replay(log(steps - steps // 2 - 1, seed=2), values="loss", batch="batch")


def streams_history(rows: int, streams: int = 10) -> im.Streams:
    """Streams whose long history has ``rows`` rows (``streams`` per step)."""
    s = im.Streams(im.Mean(name="loss"))
    return s.replay(log(rows // streams, 3, streams), values="loss", batch="batch", stream="sensor")


def row(
    name: str, seconds: float | None, baseline: float | None, ratio: float, target: str, ok: bool
) -> dict:
    return {
        "name": name,
        "seconds": seconds,
        "baseline_seconds": baseline,
        "ratio": ratio,
        "target": target,
        "ok": ok,
    }


def scaling_rows(name: str, chart, small, large) -> list[dict]:
    chart(small).to_dict()  # warm altair's schema caches
    baseline = best(lambda: chart(small).to_dict())
    seconds = best(lambda: chart(large).to_dict(), repeat=3)
    ratio = seconds / baseline
    size = len(json.dumps(chart(large).to_dict()))
    return [
        row(f"{name}: {LARGE:,} vs {SMALL:,} rows", seconds, baseline, ratio, "<= 5x", ratio <= 5),
        row(f"{name}: spec of {LARGE:,} rows, {size / 1e3:,.0f} kB", None, None, size / MB,
            "< 1 MB", size < MB),
    ]  # fmt: skip


ROOT = Path(__file__).resolve().parent.parent


def process_seconds(code: list[str], env: dict[str, str] | None = None, repeat: int = 3) -> float:
    """Wall seconds of a fresh Python process running ``code``: the best of ``repeat``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, *code], check=True, capture_output=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return min(times)


def report_rows() -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as scratch:
        out = str(Path(scratch) / "report.html")
        command = ["-m", "interactive_metrics.cli", "report", "-o", out]
        cold_env = {**env, "INTERACTIVE_METRICS_CACHE": str(Path(scratch) / "cache")}
        cold = process_seconds(command, cold_env, repeat=1)  # builds the vega bundle
        warm_env = cold_env  # the same cache, now filled
        altair = process_seconds(["-c", "import altair"], env)
        warm = process_seconds(command, warm_env)
    extra = warm - altair
    return [
        row("report of the sample log vs `import altair` (+1.5 s allowed)", warm, altair,
            warm / altair, "+<= 1.5 s", extra <= 1.5),
        row("report of the sample log, empty cache (builds the vega bundle)", cold, altair,
            cold / altair, "info", True),
    ]  # fmt: skip


def run() -> list[dict]:
    if "--report" in sys.argv:
        return report_rows()
    small, large = mean_history(SMALL), mean_history(LARGE)
    start = time.perf_counter()
    large.history  # noqa: B018 - the first read builds the polars table
    cold = time.perf_counter() - start
    assert small.history.height == SMALL and large.history.height == LARGE
    rows = [
        row(f"metric.history first read, {LARGE:,} rows (not charts)", cold, None,
            float("nan"), "info", True),
    ]  # fmt: skip
    for kind, chart in charts.METRIC_KINDS.items():
        rows += scaling_rows(f"charts.{kind}", chart, small, large)
    few, many = streams_history(SMALL), streams_history(LARGE)
    assert few.history.height == SMALL and many.history.height == LARGE
    many.history  # noqa: B018
    many.merged().history  # noqa: B018
    rows += scaling_rows("charts.stream_history (10 streams)", charts.stream_history, few, many)
    return rows + report_rows()


def main() -> None:
    rows = run()
    print(f"{'benchmark':62s} {'ours':>10s} {'baseline':>10s} {'ratio':>7s}  target")
    for r in rows:
        ours = "" if r["seconds"] is None else f"{r['seconds'] * 1e3:.1f} ms"
        base = "" if r["baseline_seconds"] is None else f"{r['baseline_seconds'] * 1e3:.1f} ms"
        print(
            f"{r['name']:62s} {ours:>10s} {base:>10s} {r['ratio']:7.2f}  {r['target']:8s} "
            f"{'ok' if r['ok'] else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
