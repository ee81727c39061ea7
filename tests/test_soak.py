"""Soak: a million updates with history on, and memory bounded as the history options promise.

Each run happens in a fresh Python process (the worker of ``bench/bench_soak.py``) so the
resident memory it reports is its own. Timings are in the benchmark, not here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

MB = 2**20


def soak_module() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "bench" / "bench_soak.py"
    spec = importlib.util.spec_from_file_location("bench_soak", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOAK = soak_module()


def test_a_million_updates_with_every_row_recorded() -> None:
    m = SOAK.run_worker({}, 1_000_000)
    assert m["step"] == 1_000_000 and m["rows"] == 1_000_000
    assert m["result"] == 0.25
    # Mean stores 6 float64 per row plus its step (int64) and event (int8): 57 bytes
    # for 8 numbers.
    assert m["stored_numbers"] == 8_000_000
    assert m["bytes_per_stored_number"] <= 8
    stored_bytes = m["bytes_per_stored_number"] * m["stored_numbers"]
    assert m["allocated_bytes"] <= 2 * stored_bytes  # geometric growth: at most doubled
    # What the process really holds: the buffers, not a Python object per row.
    assert m["rss_growth_bytes"] <= m["allocated_bytes"] + 8 * MB
    assert m["peak_rss_growth_bytes"] <= 1.5 * m["allocated_bytes"] + 8 * MB


@pytest.mark.parametrize(
    ("options", "rows"),
    [
        ({"history_last": 1000}, 1000),
        ({"history_every": 1000}, 300),
        ({"history": False}, 0),
    ],
)
def test_bounded_history_options_keep_memory_flat(options: dict[str, object], rows: int) -> None:
    # 300,000 updates: every row kept would be ~17 MB; the bounded options stay near zero.
    m = SOAK.run_worker(options, 300_000)
    assert m["step"] == 300_000 and m["rows"] == rows
    assert m["peak_rss_growth_bytes"] < 4 * MB
    if options.get("history_last"):
        # The window is trimmed in bulk: at most twice `history_last` rows are ever held.
        assert m["allocated_bytes"] <= 2 * 1024 * (6 * 8 + 9)
