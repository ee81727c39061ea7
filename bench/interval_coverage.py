"""Exact coverage of 95% intervals of a Bernoulli accuracy: the table in docs/intervals.md.

Run with ``python bench/interval_coverage.py`` (a few seconds). Not a benchmark: it
prints a markdown table that ``docs/intervals.md`` quotes.

How it is computed. For ``n`` samples with accuracy ``p``, the number right ``x`` is
Binomial(n, p); the coverage of an interval method is ``sum over x of P(x) * [its
interval for x contains p]``: no simulation of ``x``. For the bootstrap, the data
with ``x`` right is ``x`` ones then ``n - x`` zeros (rows ``0 .. n-1``); its replicate
accuracies are ``cumsum(w)[x - 1] / sum(w)`` with ``w`` the package's own
:func:`~interactive_metrics.bootstrap.poisson_weights` (checked below against
``im.Bootstrap(im.BinaryAccuracy())`` itself). The bootstrap's coverage is averaged
over ``SEEDS`` seeds of ``REPLICATES`` replicates (the default, 200), so the table
does not depend on one seed's draws.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import interactive_metrics as im  # noqa: E402
from interactive_metrics.bootstrap import (  # noqa: E402
    bca_interval,
    percentile_interval,
    poisson_weights,
)
from interactive_metrics.intervals import wilson  # noqa: E402

LEVEL = 0.95
REPLICATES = 200
SEEDS = range(10)
SIZES = (20, 2000)
ACCURACIES = (0.5, 0.8, 0.9)


def binomial_pmf(n: int, p: float) -> np.ndarray:
    """``P(x)`` for ``x = 0..n``, Binomial(n, p), through logarithms (no overflow)."""
    x = np.arange(n + 1)
    log_choose = np.array(
        [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) for k in x]
    )
    return np.exp(log_choose + x * math.log(p) + (n - x) * math.log1p(-p))


def replicate_accuracies(n: int, seed: int) -> np.ndarray:
    """``(REPLICATES, n + 1)``: column ``x``, the replicate accuracies of ``x`` right."""
    w = poisson_weights(np.arange(n), REPLICATES, seed).astype(np.float64)
    right = np.vstack([np.zeros((1, REPLICATES)), np.cumsum(w, axis=0)])  # (n + 1, R)
    total = w.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, right / total, 0.0).T


def check_against_the_package(n: int, seed: int, results: np.ndarray) -> None:
    for x in (0, n // 3, n):
        b = im.Bootstrap(im.BinaryAccuracy(), replicates=REPLICATES, seed=seed, history=False)
        b.update_state(np.ones(n), np.r_[np.ones(x), np.zeros(n - x)])
        assert np.array_equal(b.replicate_results(), results[:, x]), (n, seed, x)


def coverage_table() -> list[tuple[int, float, float, float, float]]:
    rows = []
    for n in SIZES:
        x = np.arange(n + 1)
        wilson_low, wilson_high = wilson(x, np.full(n + 1, n), LEVEL)
        bounds = {"percentile": [], "bca": []}
        for seed in SEEDS:
            results = replicate_accuracies(n, seed)
            check_against_the_package(n, seed, results)
            bounds["percentile"].append(percentile_interval(results, LEVEL))
            bounds["bca"].append(bca_interval(results, x / n, LEVEL))
        for p in ACCURACIES:
            pmf = binomial_pmf(n, p)

            def covers(
                low: np.ndarray, high: np.ndarray, pmf: np.ndarray = pmf, p: float = p
            ) -> float:
                return float(pmf[(low <= p) & (p <= high)].sum())

            row = [covers(wilson_low, wilson_high)]
            for method in ("percentile", "bca"):
                row.append(float(np.mean([covers(low, high) for low, high in bounds[method]])))
            rows.append((n, p, *row))
    return rows


def markdown(rows: list[tuple[int, float, float, float, float]]) -> str:
    lines = [
        "| n | p | Wilson | bootstrap percentile | bootstrap BCa |",
        "|---|---|---|---|---|",
    ]
    for n, p, *values in rows:
        lines.append(f"| {n} | {p} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(coverage_table()))
