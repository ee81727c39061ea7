"""MetricCollection benchmarks (issue 15): four metrics updated, and replayed, together.

Run alone with ``python bench/bench_collection.py``; ``./dev bench`` runs every benchmark.
The collection is ``Mean`` of a loss, ``BinaryAccuracy``, ``Precision`` and ``Recall``;
each baseline, measured in the same run, is the same four metrics used one by one:

- an update of 32 samples: at most the time of the four ``update_state`` calls;
- an update of 1,000,000 samples: at most 0.8x of the four calls (the labels and
  scores are coerced once for the three members that read them);
- a replay of a 1,000,000-row log (1,000 batches): at most 0.6x of four replays;
- ``collection.streams()``, an update of 1,000,000 rows over 1,000 stream keys: at most
  the time of the four single-metric ``Streams`` updated one by one (the keys are coded
  once for all members);
- the same with two key columns (100 sensors x 10 sites): at most 1.5x of one pre-joined
  key column of the same 1,000 streams.
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


KEYS = 1_000


def streams_rows(rng: np.random.Generator, rounds: int = 5) -> list[dict]:
    """``collection.streams()`` against four Streams, and two key columns against one."""
    loss, labels, scores = rng.random(ROWS), rng.integers(0, 2, ROWS), rng.random(ROWS)
    sensor = rng.integers(0, 100, ROWS)
    site = rng.integers(0, 10, ROWS)
    joined = pl.Series([f"s{a}-{b}" for a, b in zip(sensor.tolist(), site.tolist(), strict=True)])
    parts = pl.DataFrame({"sensor": pl.Series([f"s{a}" for a in sensor.tolist()]), "site": site})
    named = {"values": loss, "y_true": labels, "y_pred": scores}
    together = im.MetricCollection(four()).streams()
    mean, *others = (im.Streams(m) for m in four().values())
    by_parts = im.MetricCollection(four()).streams()
    for target in (together, by_parts):  # the keys are known: the steady state of a loop
        target.update_state(**named, stream=joined if target is together else parts)
    mean.update_state(loss, stream=joined)
    for s in others:
        s.update_state(labels, scores, stream=joined)

    def collection_streams() -> None:
        together.update_state(**named, stream=joined)

    def one_by_one() -> None:
        mean.update_state(loss, stream=joined)
        for s in others:
            s.update_state(labels, scores, stream=joined)

    def two_columns() -> None:
        by_parts.update_state(**named, stream=parts)

    ours, base = paired(collection_streams, one_by_one, rounds=rounds)
    first = row("streams of a collection of 4, 1e6 rows x 1e3 keys vs 4 Streams", ours, base, 1.0)
    ours, base = paired(two_columns, collection_streams, rounds=rounds)
    second = row("streams of a collection, two key columns vs one joined key", ours, base, 1.5)
    return [first, second]


def run() -> list[dict]:
    rng = np.random.default_rng(0)
    rows = [update_row(rng, 32, 1.0, 2000), update_row(rng, ROWS, 0.8, 3)]
    rows += streams_rows(rng)
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
