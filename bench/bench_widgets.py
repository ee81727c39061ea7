"""Live-view benchmark (issue 6): a training loop with a live widget attached.

A loop of 10,000 small updates (32 values each, history on) with ``metric.widget()``
attached must be at most 20% slower than the same loop without it. The widget's
messages go through a comm that JSON-encodes them, as a kernel would.

Run alone with ``python bench/bench_widgets.py``; ``./dev bench`` runs every benchmark.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import ipywidgets  # noqa: E402

import interactive_metrics as im  # noqa: E402


class EncodingComm:
    """A comm that serialises what it is sent, as ipykernel's would, then drops it."""

    kernel = "bench"

    def __init__(self, **kwargs: Any) -> None:
        self.comm_id = kwargs.get("comm_id") or uuid.uuid4().hex
        self.bytes_sent = len(json.dumps(kwargs.get("data"), default=str))

    def send(self, data: Any = None, buffers: Any = None, **kwargs: Any) -> None:
        self.bytes_sent += len(json.dumps(data, default=str))

    def on_msg(self, callback: Any) -> None:
        pass

    def on_close(self, callback: Any) -> None:
        pass

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass


def loop(updates: int, with_widget: bool) -> tuple[float, int]:
    """Seconds for ``updates`` calls of update_state, and how many redraws happened."""
    rng = np.random.default_rng(0)
    batches = rng.random((updates, 32))
    metric = im.Mean()
    view = metric.widget() if with_widget else None
    start = time.perf_counter()
    for batch in batches:
        metric.update_state(batch)
    seconds = time.perf_counter() - start
    redraws = 0
    if view is not None:
        redraws = view.throttle.redraws - 1  # minus the first draw, before the loop
        view.close()
    return seconds, redraws


def run() -> list[dict]:
    ipywidgets.comm.create_comm = lambda **kwargs: EncodingComm(**kwargs)
    loop(500, True)  # warm up: imports, offline vega bundle
    rows = []
    for updates in (10_000, 100_000):
        repeats = 5 if updates == 10_000 else 3
        bare, live, redraws = [], [], 0
        for _ in range(repeats):  # interleaved, so both see the same machine load
            bare.append(loop(updates, False)[0])
            seconds, redraws = loop(updates, True)
            live.append(seconds)
        ratio = min(live) / min(bare)
        rows.append(
            {
                "name": f"{updates:,} updates, live view attached ({redraws} redraws) vs none",
                "seconds": min(live),
                "baseline_seconds": min(bare),
                "ratio": ratio,
                "target": "<= 1.2x",
                "ok": ratio <= 1.2,
            }
        )
    m = im.Mean()
    m.update_state(np.ones(4))
    history = m._history
    assert history is not None
    n = 1_000_000
    history.extend(np.arange(2, n + 2), np.zeros(n, dtype=np.int8), np.ones((n, history.width)))
    card = min(_time(m._repr_html_) for _ in range(5))
    bare_repr = min(_time(lambda: repr(m)) for _ in range(5))
    rows.append(
        {
            "name": "HTML card of a 1,000,000-step metric vs its text repr",
            "seconds": card,
            "baseline_seconds": bare_repr,
            "ratio": card / bare_repr,
            "target": "< 0.1 s",
            "ok": card < 0.1,
        }
    )
    return rows


def _time(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    from run import print_rows  # type: ignore[import-not-found]

    print_rows("widgets", run())
