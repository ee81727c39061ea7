"""Run every benchmark in bench/ and print one table of ratios.

Usage: ``./dev bench`` (or ``python bench/run.py [name ...]``). Each ``bench_*.py``
module exposes ``run() -> list[dict]`` with rows ``name``, ``seconds``,
``baseline_seconds``, ``ratio``, ``target`` and ``ok``; baselines are measured in
the same run, so the ratios mean the same on any machine.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def print_rows(title: str, rows: list[dict]) -> None:
    print(f"\n## {title}")
    print(f"{'benchmark':58s} {'ours':>11s} {'baseline':>11s} {'ratio':>8s}  target      ok")
    for row in rows:
        ours = row.get("seconds")
        base = row.get("baseline_seconds")
        ratio = row.get("ratio")
        print(
            f"{row['name'][:58]:58s} "
            f"{'' if ours is None else f'{ours:.3e}':>11s} "
            f"{'' if base is None else f'{base:.3e}':>11s} "
            f"{'' if ratio is None else f'{ratio:8.2f}':>8s}  "
            f"{str(row.get('target', '')):11s} {'yes' if row.get('ok') else 'NO'}"
        )


def main(argv: list[str]) -> int:
    wanted = set(argv)
    paths = sorted(HERE.glob("bench_*.py"))
    failures = 0
    for path in paths:
        topic = path.stem.removeprefix("bench_")
        if wanted and topic not in wanted:
            continue
        start = time.perf_counter()
        rows = load(path).run()
        print_rows(f"{topic} ({time.perf_counter() - start:.1f} s)", rows)
        failures += sum(not row.get("ok") for row in rows)
    print(f"\n{failures} target(s) missed" if failures else "\nall targets met")
    return 0  # a missed target is a finding to report, not a crash


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    raise SystemExit(main(sys.argv[1:]))
