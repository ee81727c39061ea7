"""Replay on Dask against Dask's own group-by, and the report command's replay.

Run alone: ``python bench/bench_distributed.py``. Baselines are measured in the same run:

- ``replay_dask`` of ``Streams(Mean())`` against the floor of the same job written as a
  plain Dask group-by (``groupby([batch, stream]).agg(sum, count)`` over the same
  partitions): what Dask itself costs for "partial sums per key, merged". Dask's
  threaded scheduler, so the figure is about our work per partition, not process start-up.
- ``replay_dask`` against the single-machine ``replay`` of the same rows.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dask  # noqa: E402
import dask.dataframe as dd  # noqa: E402
import polars as pl  # noqa: E402
from _common import row  # noqa: E402

import interactive_metrics as im  # noqa: E402
from interactive_metrics.distributed import replay_dask  # noqa: E402

ROWS_BATCHES = (2_000_000, 2_000)
PARTITIONS = 8


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run() -> list[dict]:
    rows, batches = ROWS_BATCHES
    log = im.data.anomaly_log(n_batches=batches, batch_size=rows // batches, seed=1)
    log = log.with_columns(pl.col("stream").cast(pl.String), pl.col("score").cast(pl.Float64))
    frame = dd.from_pandas(log.to_pandas(), npartitions=PARTITIONS).persist(scheduler="threads")

    def ours() -> None:
        replay_dask(im.Streams(im.Mean()), frame, values="score", batch="batch", stream="stream")

    def dask_floor() -> None:
        frame.groupby(["batch", "stream"]).score.agg(["sum", "count"]).compute()

    def single_machine() -> None:
        im.Streams(im.Mean()).replay(log, values="score", batch="batch", stream="stream")

    with dask.config.set(scheduler="threads"):
        ours()  # warm-up
        ours_s, floor_s = best(ours), best(dask_floor)
    single_s = best(single_machine)
    return [
        row(
            f"dask replay Streams {rows // 10**6}M rows vs dask groupby-agg",
            ours_s,
            floor_s,
            3.0,
        ),
        row(
            f"dask replay Streams {rows // 10**6}M rows vs 1-machine replay",
            ours_s,
            single_s,
            4.0,
        ),
    ]


if __name__ == "__main__":
    from run import print_rows  # type: ignore[import-not-found]

    print_rows("distributed", run())
