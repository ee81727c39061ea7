"""Replay benchmarks (issue 4): a 1,000,000-row log in 10,000 batches, and a ~2 GB Parquet file.

Run alone with ``python bench/bench_replay.py`` (``--quick`` or ``IM_BENCH_QUICK=1``
skips the ~2 GB Parquet replay, which writes a temporary file and takes about 30 s);
``./dev bench`` runs every benchmark. Baselines are measured in the same run:

- the numpy floor: ``np.add.reduceat`` per batch + ``np.cumsum`` (what a hand-written
  replay of a weighted mean with full history must at least do);
- our own ``update_state`` called once per batch (10,000 calls);
- the floor of a replay with its history read (issue 14): find the batches, ``reduceat``,
  ``cumsum`` and build the same polars frame.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
import timeit
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import interactive_metrics as im  # noqa: E402

ROWS, BATCHES = 1_000_000, 10_000
EVENTS = pl.Series(["update", "merge", "reset"], dtype=pl.Enum(["update", "merge", "reset"]))


def best(fn, number: int = 1, repeat: int = 5) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def row(name: str, seconds: float, baseline: float, target: str, ok: bool) -> dict:
    return {
        "name": name,
        "seconds": seconds,
        "baseline_seconds": baseline,
        "ratio": seconds / baseline,
        "target": target,
        "ok": ok,
    }


def log(sorted_batches: bool = True) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    step = np.sort(rng.integers(0, BATCHES, size=ROWS))
    if not sorted_batches:
        step = rng.permutation(step)
    return pl.DataFrame({"step": step, "loss": rng.random(ROWS), "w": rng.random(ROWS)})


def numpy_floor(step: np.ndarray, v: np.ndarray, w: np.ndarray | None) -> None:
    """Weighted mean per batch and running, by hand: the least any replay must do."""
    starts = np.flatnonzero(np.concatenate(([True], step[1:] != step[:-1])))
    if w is None:
        total = np.add.reduceat(v, starts)
        count = np.diff(np.append(starts, len(v))).astype(float)
    else:
        total = np.add.reduceat(v * w, starts)
        count = np.add.reduceat(w, starts)
    running_total, running_count = np.cumsum(total), np.cumsum(count)
    np.divide(total, count), np.divide(running_total, running_count)


def bincount_floor(step: np.ndarray, v: np.ndarray, w: np.ndarray | None) -> None:
    """The same for rows in any order: ``np.bincount`` by batch id, then ``np.cumsum``."""
    count = np.bincount(step, weights=w, minlength=BATCHES)
    total = np.bincount(step, weights=v if w is None else v * w, minlength=BATCHES)
    np.divide(total, count), np.divide(np.cumsum(total), np.cumsum(count))


def history_floor(step: np.ndarray, v: np.ndarray) -> pl.DataFrame:
    """Find the batches, reduce and scan them, and build the frame ``history`` returns."""
    starts = np.flatnonzero(np.concatenate(([True], step[1:] != step[:-1])))
    total = np.add.reduceat(v, starts)
    count = np.diff(np.append(starts, len(v))).astype(float)
    running_total, running_count = np.cumsum(total), np.cumsum(count)
    k = len(starts)
    return pl.DataFrame(
        {
            "step": np.arange(1, k + 1),
            "event": EVENTS.gather(np.zeros(k, dtype=np.uint32)),
            "log_batch": step[starts],
            "batch_total": total,
            "batch_count": count,
            "batch_result": total / count,
            "running_total": running_total,
            "running_count": running_count,
            "result": running_total / running_count,
        }
    )


def replay_rows() -> list[dict]:
    rows = []
    df = log()
    step, v = df["step"].to_numpy(), df["loss"].to_numpy()
    floor = best(lambda: history_floor(step, v))
    ours = best(lambda: im.Mean().replay(df, values="loss", batch="step").history)
    rows.append(
        row(
            "Mean.replay(...).history 1e6 rows/1e4 batches vs floor building the same frame",
            ours,
            floor,
            "<= 2.5x",
            ours <= 2.5 * floor,
        )
    )
    for weighted in (True, False):
        df = log()
        step, v = df["step"].to_numpy(), df["loss"].to_numpy()
        w = df["w"].to_numpy() if weighted else None
        weight = "w" if weighted else None
        floor = best(lambda step=step, v=v, w=w: numpy_floor(step, v, w))
        ours = best(
            lambda df=df, weight=weight: im.Mean().replay(
                df, values="loss", batch="step", sample_weight=weight
            )
        )
        label = "weighted" if weighted else "unweighted"
        rows.append(
            row(
                f"Mean.replay 1e6 rows/1e4 batches ({label}) vs reduceat+cumsum",
                ours,
                floor,
                "<= 3x",
                ours <= 3 * floor,
            )
        )
        if weighted:
            starts = np.flatnonzero(np.concatenate(([True], step[1:] != step[:-1])))
            parts = list(zip(np.split(v, starts[1:]), np.split(w, starts[1:]), strict=True))

            def loop(parts=parts) -> None:
                m = im.Mean()
                for values, weights in parts:
                    m.update_state(values, sample_weight=weights)

            looped = best(loop, repeat=2)
            rows.append(
                row(
                    "Mean.replay vs 1e4 update_state calls (ratio = replay/loop)",
                    ours,
                    looped,
                    ">= 5x faster",
                    looped >= 5 * ours,
                )
            )
    df = log(sorted_batches=False)
    step, v, w = (df[c].to_numpy() for c in ("step", "loss", "w"))
    floor = best(lambda: bincount_floor(step, v, w))
    ours = best(lambda: im.Mean().replay(df, values="loss", batch="step", sample_weight="w"))
    rows.append(
        row(
            "Mean.replay, rows not sorted by batch vs bincount+cumsum",
            ours,
            floor,
            "<= 3x (info)",
            True,
        )
    )
    df = df.with_columns(sensor=pl.Series(np.arange(ROWS) % 100))
    ours = best(
        lambda: im.Streams(im.Mean()).replay(
            df, values="loss", batch="step", sample_weight="w", stream="sensor"
        ),
        repeat=2,
    )
    rows.append(
        row(
            "Streams(Mean).replay 1e6 rows, 1e4 batches x 100 streams vs bincount floor",
            ours,
            floor,
            "(info)",
            True,
        )
    )
    return rows


BIG_SCRIPT = textwrap.dedent(
    """
    import resource, sys, time
    sys.path.insert(0, {root!r})
    import interactive_metrics as im
    start = time.perf_counter()
    m = im.Mean().replay({path!r}, values="loss", batch="step", sample_weight="w")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(seconds, peak, m.step, m.result())
    """
)


def big_parquet(target_bytes: int = 2 * 1024**3) -> list[dict]:
    """Replay a generated ~2 GB Parquet file in a fresh process; report its peak RSS."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows_per_group = 4_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "log.parquet")
        rng = np.random.default_rng(0)
        written = 0
        start = time.perf_counter()
        schema = pa.schema([("step", pa.int64()), ("loss", pa.float64()), ("w", pa.float64())])
        with pq.ParquetWriter(path, schema, compression="none") as writer:
            while os.path.getsize(path) < target_bytes:
                step = (written + np.arange(rows_per_group)) // 10_000
                table = pa.table(
                    {
                        "step": step,
                        "loss": rng.random(rows_per_group),
                        "w": rng.random(rows_per_group),
                    },
                    schema=schema,
                )
                writer.write_table(table, row_group_size=1_000_000)
                written += rows_per_group
        size = os.path.getsize(path)
        generated = time.perf_counter() - start
        root = str(Path(__file__).resolve().parent.parent)
        out = subprocess.run(
            [sys.executable, "-c", BIG_SCRIPT.format(root=root, path=path)],
            capture_output=True,
            text=True,
            check=True,
        )
        seconds, peak, steps, _ = out.stdout.split()
    peak_bytes = int(peak)
    print(
        f"big parquet: {size / 1024**3:.2f} GB, {written:,} rows, {int(steps):,} batches; "
        f"generated in {generated:.0f} s, replayed in {float(seconds):.1f} s, "
        f"peak RSS {peak_bytes / 1024**2:.0f} MB"
    )
    return [
        {
            "name": f"Mean.replay of a {size / 1024**3:.1f} GB Parquet: peak RSS (MB) / 1 GB",
            "seconds": float(seconds),
            "baseline_seconds": None,
            "ratio": peak_bytes / 1024**3,
            "target": "< 1 GB RSS",
            "ok": peak_bytes < 1024**3,
        }
    ]


def run() -> list[dict]:
    rows = replay_rows()
    if "--quick" not in sys.argv and not os.environ.get("IM_BENCH_QUICK"):
        rows += big_parquet()  # about 30 s and 2 GB of temporary disk
    return rows


if __name__ == "__main__":
    from run import print_rows  # type: ignore[import-not-found]

    print_rows("replay", run())
