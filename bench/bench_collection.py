"""MetricCollection benchmarks (issue 15): four metrics updated, and replayed, together.

Run alone with ``python bench/bench_collection.py``; ``./dev bench`` runs every benchmark.
The collection is ``Mean`` of a loss, ``BinaryAccuracy``, ``Precision`` and ``Recall``;
each baseline, measured in the same run, is the same four metrics used one by one:

- an update of 32 samples: at most the time of the four ``update_state`` calls;
- an update of 1,000,000 samples: at most 0.8x of the four calls (the labels and
  scores are coerced once for the three members that read them);
- a replay of a 1,000,000-row log (1,000 batches): at most 0.6x of four replays.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import paired, row  # noqa: E402

import interactive_metrics as im  # noqa: E402

ROWS, BATCHES = 1_000_000, 1_000


def four() -> dict[str, im.Metric]:
    return {
        "loss": im.Mean(),
        "accuracy": im.BinaryAccuracy(),
        "precision": im.Precision(),
        "recall": im.Recall(),
    }


def update_row(rng: np.random.Generator, n: int, target: float, number: int) -> dict:
    """One ``update_state`` of the collection against the four metrics' own updates."""
    loss, labels, scores = rng.random(n), rng.integers(0, 2, n), rng.random(n)
    collection = im.MetricCollection(four())
    mean, *others = four().values()

    def together() -> None:
        collection.update_state(values=loss, y_true=labels, y_pred=scores)

    def one_by_one() -> None:
        mean.update_state(loss)
        for m in others:
            m.update_state(labels, scores)

    ours, base = paired(together, one_by_one, number=number)
    return row(f"collection of 4, update of {n:,} samples vs 4 updates", ours, base, target)


def run() -> list[dict]:
    rng = np.random.default_rng(0)
    rows = [update_row(rng, 32, 1.0, 2000), update_row(rng, ROWS, 0.8, 3)]
    log = pl.DataFrame(
        {
            "batch": np.repeat(np.arange(BATCHES), ROWS // BATCHES),
            "loss": rng.random(ROWS),
            "label": rng.integers(0, 2, ROWS),
            "score": rng.random(ROWS),
        }
    )
    columns = {"values": "loss", "y_true": "label", "y_pred": "score"}

    def replay_together() -> None:
        im.MetricCollection(four()).replay(log, batch="batch", **columns)

    def replay_one_by_one() -> None:
        for name, m in four().items():
            own = {"values": "loss"} if name == "loss" else {"y_true": "label", "y_pred": "score"}
            m.replay(log, batch="batch", **own)

    ours, base = paired(replay_together, replay_one_by_one, rounds=5)
    rows.append(row("collection of 4, replay of 1e6 rows vs 4 replays", ours, base, 0.6))
    return rows


if __name__ == "__main__":
    from run import print_rows

    print_rows("collection", run())
