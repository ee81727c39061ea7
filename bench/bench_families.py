"""Metric families (issue 3): per-update cost of the metrics users track most.

``update_state`` on a batch of 32 samples with history on, against the bare numpy
computation of the same batch state (what a hand-written loop would do), measured in
the same run. Plus a confusion matrix of 100,000 samples (10 and 100 classes) against
one ``np.bincount``, with the update's peak memory.

Run alone with ``python bench/bench_families.py``; ``./dev bench`` runs every benchmark.
"""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import paired, row  # noqa: E402

import interactive_metrics as im  # noqa: E402


def small_updates() -> list[dict]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 32).astype(np.float64)
    p = rng.random(32)
    w = rng.random(32)
    state = {"a": 0.0, "b": 0.0}

    def bare_binary_accuracy() -> None:
        state["a"] += float(np.sum((p > 0.5) == y))
        state["b"] += 32.0

    def bare_precision() -> None:
        predicted, actual = p > 0.5, y == 1
        state["a"] += float(np.sum(predicted & actual))
        state["b"] += float(np.sum(predicted & ~actual))

    def bare_absolute_error() -> None:
        state["a"] += float(np.sum(np.abs(y - p)))
        state["b"] += 32.0

    def bare_weighted_absolute_error() -> None:
        state["a"] += float(np.dot(np.abs(y - p), w))
        state["b"] += float(np.sum(w))

    number = 10_000
    cases = [
        ("BinaryAccuracy", im.BinaryAccuracy(), None, bare_binary_accuracy),
        ("Precision", im.Precision(), None, bare_precision),
        ("MeanAbsoluteError", im.MeanAbsoluteError(), None, bare_absolute_error),
        ("MeanAbsoluteError, weighted", im.MeanAbsoluteError(), w, bare_weighted_absolute_error),
    ]
    rows = []
    for label, metric, weight, bare in cases:
        ours, baseline = paired(
            lambda m=metric, sw=weight: m.update_state(y, p, sample_weight=sw), bare, number
        )
        rows.append(row(f"{label}.update_state(32) vs bare numpy", ours, baseline, 3))
    return rows


def _peak_bytes(fn: Callable[[], Any]) -> int:
    """The most memory ``fn`` holds at once (numpy's allocations are traced too)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _megabytes(size: float) -> str:
    return f"{size / 1e6:,.1f} MB" if size < 1e9 else f"{size / 1e9:,.1f} GB"


def confusion_matrix() -> list[dict]:
    """One update of 100,000 samples into 10 and 100 classes vs one ``np.bincount``.

    The per-sample terms are sparse (``core.OneHot``): the update is one bincount of
    the flat positions, and its peak memory is a few arrays of ``n`` numbers, where
    the dense ``(n, k, k)`` terms it replaced needed ``8 · n · k²`` bytes (8 GB for
    100 classes). The name of each row shows the measured peak.
    """
    rows = []
    for k in (10, 100):
        rng = np.random.default_rng(1)
        n = 100_000
        y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
        codes = y_true * k + y_pred

        def bare(codes: np.ndarray = codes, k: int = k) -> None:
            np.bincount(codes, minlength=k * k).reshape(k, k)

        metric = im.ConfusionMatrix(k)

        def ours(metric: im.ConfusionMatrix = metric, t: Any = y_true, p: Any = y_pred) -> None:
            metric.update_state(t, p)

        ours()  # warm up: history buffers
        peak = _peak_bytes(ours)
        seconds, baseline = paired(ours, bare, 5)
        dense = 8 * n * k * k
        name = f"ConfusionMatrix({k}), {n:,}: peak {_megabytes(peak)}, dense {_megabytes(dense)}"
        rows.append({**row(name, seconds, baseline, 3), "peak_bytes": peak, "dense_bytes": dense})
    return rows


def catalogue_updates(number: int = 5_000) -> list[dict]:
    """32-sample updates of the Keras-catalogue families vs the bare numpy batch terms."""
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 32).astype(np.float64)
    p = rng.random(32)
    w = rng.random(32)
    x = rng.normal(size=32)
    state = {"a": 0.0, "b": 0.0, "c": np.zeros(201), "d": np.zeros(201)}
    eps = 1e-7

    def bare_crossentropy() -> None:
        q = np.clip(p, eps, 1 - eps)
        state["a"] += float(np.dot(-(y * np.log(q) + (1 - y) * np.log(1 - q)), w))
        state["b"] += float(np.sum(w))

    def bare_hinge() -> None:
        state["a"] += float(np.sum(np.maximum(1 - np.where(y == 0, -1.0, y) * x, 0)))
        state["b"] += 32.0

    def bare_pearson() -> None:
        state["a"] += float(np.sum(y)) + float(np.sum(p)) + float(np.dot(y, y))
        state["b"] += float(np.dot(p, p)) + float(np.dot(y, p)) + 32.0

    thresholds = np.array(im.AUC().threshold_values)

    def bare_auc() -> None:
        bucket = np.searchsorted(thresholds, p)
        state["c"] += np.bincount(bucket, y, minlength=201)
        state["d"] += np.bincount(bucket, 1 - y, minlength=201)

    cases = [
        ("BinaryCrossentropy, weighted", im.BinaryCrossentropy(), w, bare_crossentropy, p),
        ("Hinge", im.Hinge(), None, bare_hinge, x),
        ("PearsonCorrelation", im.PearsonCorrelation(), None, bare_pearson, p),
        ("AUC(200)", im.AUC(), None, bare_auc, p),
    ]
    rows = []
    for label, metric, weight, bare, pred in cases:
        ours, baseline = paired(
            lambda m=metric, sw=weight, q=pred: m.update_state(y, q, sample_weight=sw),
            bare,
            number,
        )
        rows.append(row(f"{label}.update_state(32) vs bare numpy", ours, baseline, 3))
    return rows


def class_label_updates(number: int = 5_000) -> list[dict]:
    """32-sample updates of the class-label, ranking and calibration families vs bare numpy.

    Each baseline computes the same batch state the metric records (per-class counts,
    a confusion matrix, per-bucket or per-bin sums) with the fewest numpy calls:
    bincounts of the labels, a ``searchsorted`` for buckets and bins.
    """
    rng = np.random.default_rng(4)
    k = 4
    labels, predicted = rng.integers(0, k, 32), rng.integers(0, k, 32)
    y = rng.integers(0, 2, 32).astype(np.float64)
    p = rng.random(32)
    state = {"k": np.zeros((3, k)), "m": np.zeros(k * k), "b": np.zeros((2, 201)), "e": 0.0}
    state["c"] = np.zeros((3, 15))
    thresholds = np.array(im.AveragePrecision().threshold_values)
    edges = np.linspace(0.0, 1.0, 16)[1:-1]

    def bare_class_counts() -> None:
        right = labels == predicted
        state["k"][0] += np.bincount(labels, right, minlength=k)
        state["k"][1] += np.bincount(predicted, ~right, minlength=k)
        state["k"][2] += np.bincount(labels, ~right, minlength=k)

    def bare_confusion() -> None:
        state["m"] += np.bincount(labels * k + predicted, minlength=k * k)

    def bare_buckets() -> None:
        bucket = np.searchsorted(thresholds, p)
        state["b"][0] += np.bincount(bucket, y, minlength=201)
        state["b"][1] += np.bincount(bucket, 1 - y, minlength=201)

    def bare_bins() -> None:
        bins = np.searchsorted(edges, p)
        state["c"][0] += np.bincount(bins, minlength=15)
        state["c"][1] += np.bincount(bins, p, minlength=15)
        state["c"][2] += np.bincount(bins, y, minlength=15)

    def bare_specificity() -> None:
        predicted_positive, actual = p > 0.5, y == 1
        state["e"] += float(np.sum(~predicted_positive & ~actual))
        state["e"] += float(np.sum(predicted_positive & ~actual))

    cases = [
        ("Precision(num_classes=4, macro)", im.Precision(num_classes=k, average="macro"),
         (labels, predicted), bare_class_counts),
        ("F1Score(4, macro), labels", im.F1Score(k, "macro"), (labels, predicted),
         bare_class_counts),
        ("MatthewsCorrelation(4)", im.MatthewsCorrelation(k), (labels, predicted),
         bare_confusion),
        ("CohenKappa(4)", im.CohenKappa(k), (labels, predicted), bare_confusion),
        ("BalancedAccuracy(4)", im.BalancedAccuracy(k), (labels, predicted), bare_confusion),
        ("Specificity", im.Specificity(), (y, p), bare_specificity),
        ("AveragePrecision(200)", im.AveragePrecision(), (y, p), bare_buckets),
        ("ExpectedCalibrationError(15)", im.ExpectedCalibrationError(), (y, p), bare_bins),
    ]  # fmt: skip
    rows = []
    for label, metric, inputs, bare in cases:
        ours, baseline = paired(lambda m=metric, x=inputs: m.update_state(*x), bare, number)
        rows.append(row(f"{label}.update_state(32) vs bare numpy", ours, baseline, 3))
    return rows


def auc_large() -> list[dict]:
    """``AUC(num_thresholds=200)`` on 1,000,000 samples vs searchsorted + bincount + cumsum."""
    rng = np.random.default_rng(3)
    n = 1_000_000
    y, p = rng.integers(0, 2, n).astype(np.float64), rng.random(n)
    thresholds = np.array(im.AUC().threshold_values)

    def bare() -> None:
        bucket = np.searchsorted(thresholds, p)
        positives = np.bincount(bucket, y, minlength=201)
        negatives = np.bincount(bucket, 1 - y, minlength=201)
        np.cumsum(positives[::-1]), np.cumsum(negatives[::-1])

    metric = im.AUC()

    def ours() -> None:
        metric.update_state(y, p)
        metric.result()

    ours()
    peak = _peak_bytes(ours)
    seconds, baseline = paired(ours, bare, 3)
    name = f"AUC(200), {n:,} samples: peak {_megabytes(peak)}"
    return [{**row(name, seconds, baseline, 3), "peak_bytes": peak}]


def large_label_updates() -> list[dict]:
    """1,000,000 integer labels: ``Precision`` and ``BinaryAccuracy`` vs numpy's counts.

    The labels stay integers and the hits booleans (no float copy per chunk of the
    batch); the baseline counts the same hits with ``np.count_nonzero``.
    """
    rng = np.random.default_rng(5)
    n = 1_000_000
    y, p = rng.integers(0, 2, n), rng.random(n)

    def bare_precision() -> None:
        actual, predicted = y == 1, p > 0.5
        np.count_nonzero(actual & predicted), np.count_nonzero(predicted & ~actual)

    def bare_accuracy() -> None:
        np.count_nonzero((y == 1) == (p > 0.5))

    rows = []
    for label, metric, bare in (
        ("Precision", im.Precision(), bare_precision),
        ("BinaryAccuracy", im.BinaryAccuracy(), bare_accuracy),
    ):
        ours, baseline = paired(lambda m=metric: m.update_state(y, p), bare, 3)
        rows.append(row(f"{label}, {n:,} integer labels vs numpy counts", ours, baseline, 2))
    return rows


def run() -> list[dict]:
    return (
        small_updates()
        + confusion_matrix()
        + catalogue_updates()
        + class_label_updates()
        + auc_large()
        + large_label_updates()
    )


if __name__ == "__main__":
    print(f"{'benchmark':58s} {'ours':>11s} {'baseline':>11s} {'ratio':>8s}  target      ok")
    for r in run():
        print(
            f"{r['name'][:58]:58s} {r['seconds']:11.3e} {r['baseline_seconds']:11.3e} "
            f"{r['ratio']:8.2f}  {r['target']:11s} {'yes' if r['ok'] else 'NO'}"
        )
