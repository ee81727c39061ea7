"""Streams benchmarks (issue 4): one update of 1,000,000 rows over 1,000 stream keys.

Run alone with ``python bench/bench_streams.py``; ``./dev bench`` runs every benchmark.
Baselines, measured in the same run, are the floors of a per-stream mean:

- integer keys: ``np.bincount(keys, weights=values)`` and ``np.bincount(keys)``;
- string keys: polars' group-by on a categorical column (sum and count per key).

The Streams update also records one history row per stream and the merged state.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best, paired, row  # noqa: E402

import interactive_metrics as im  # noqa: E402

ROWS, KEYS = 1_000_000, 1_000


def run() -> list[dict]:
    rng = np.random.default_rng(0)
    values = rng.random(ROWS)
    int_keys = rng.integers(0, KEYS, size=ROWS)
    names = np.array([f"sensor-{i:04d}" for i in range(KEYS)])
    str_keys = pl.Series("stream", names[int_keys])
    rows = []

    def bincount_floor() -> None:
        np.bincount(int_keys, weights=values, minlength=KEYS)
        np.bincount(int_keys, minlength=KEYS)

    s = im.Streams(im.Mean())
    s.update_state(values, stream=int_keys)  # every key known: the steady state of a loop
    ours, floor = paired(lambda: s.update_state(values, stream=int_keys), bincount_floor)
    rows.append(row("Streams(Mean) update, 1e6 rows x 1e3 int keys vs np.bincount", ours, floor, 3))
    first = best(lambda: im.Streams(im.Mean()).update_state(values, stream=int_keys), repeat=3)
    floor = best(bincount_floor)
    rows.append(row("  ... first update (every key new) vs np.bincount (info)", first, floor, 1e9))

    frame = pl.DataFrame({"stream": str_keys.cast(pl.Categorical), "v": values})

    def polars_floor() -> None:
        frame.group_by("stream").agg(pl.col("v").sum(), pl.len())

    s = im.Streams(im.Mean())
    s.update_state(values, stream=str_keys)
    ours, floor = paired(lambda: s.update_state(values, stream=str_keys), polars_floor)
    rows.append(
        row("Streams(Mean) update, 1e6 rows x 1e3 str keys vs polars cat group-by", ours, floor, 3)
    )
    categorical = frame["stream"]
    ours = best(lambda: s.update_state(values, stream=categorical))
    rows.append(
        row("  ... keys as a polars Categorical vs polars cat group-by (info)", ours, floor, 1e9)
    )
    return rows


if __name__ == "__main__":
    from run import print_rows  # type: ignore[import-not-found]

    print_rows("streams", run())
