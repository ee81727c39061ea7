"""Regenerate the chart gallery: ``python docs/gallery/make_gallery.py`` (PNG and SVG, no browser).

Every chart in ``docs/charts.md`` comes from :func:`gallery`; ``tests/test_charts.py``
checks that each one has its PNG and SVG here.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
import interactive_metrics as im  # noqa: E402


def teaching_mean() -> im.Mean:
    """Batches of different sizes: the pooled mean and the mean of batch means part ways."""
    m = im.Mean(name="loss")
    m.update_state([0.9, 1.1, 1.0, 0.8, 1.2, 1.0, 0.9, 1.1])  # a big batch near 1
    m.update_state([3.0])  # one sample at 3
    m.update_state([1.0, 1.2, 0.8, 1.0], sample_weight=[1, 1, 0, 1])  # a masked sample
    m.update_state([2.5, 2.7])
    m.update_state([1.1, 0.9, 1.0, 1.0, 1.0, 1.1])
    return m


def counting_sum() -> im.Sum:
    """A Sum with a masked batch, a reset, and a merge from another worker."""
    m = im.Sum(name="errors")
    for batch in ([1, 0, 2], [3, 1], [0, 0, 1, 1], [2, 2, 2]):
        m.update_state(batch)
    m.update_state([5, 5], sample_weight=[0, 0])  # masked out: adds nothing
    m.reset_state()
    m.update_state([1, 2])
    worker = im.Sum()
    worker.update_state([4, 4])
    m.merge_state([worker])
    m.update_state([1])
    return m


def long_mean(steps: int = 1_000_000) -> im.Mean:
    """A replayed run of a million batches with one reset and an outlier batch."""
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 5, steps)
    loss = rng.gamma(2.0, 0.5, int(sizes.sum())) / (1 + np.repeat(np.arange(steps), sizes) / 2e5)
    loss[int(sizes[:333_333].sum())] = 40.0
    log = pl.DataFrame({"batch": np.repeat(np.arange(steps), sizes), "loss": loss})
    half = steps // 2
    m = im.Mean(name="loss").replay(
        log.filter(pl.col("batch") < half), values="loss", batch="batch"
    )
    m.reset_state()
    return m.replay(log.filter(pl.col("batch") >= half), values="loss", batch="batch")


def sensor_precision() -> im.Streams:
    """The bundled anomaly-detector log: pump_b starts raising false alarms half-way."""
    log = im.data.sample_log()
    streams = im.Streams(im.Precision(name="precision"))
    return streams.replay(log, y_true="y_true", y_pred="score", batch="batch", stream="stream")


def noisy_accuracy(steps: int = 300) -> im.BinaryAccuracy:
    """A classifier right about 98.6% of the time, 300 batches of 1 to 80 samples."""
    rng = np.random.default_rng(5)
    metric = im.BinaryAccuracy(name="binary_accuracy")
    for _ in range(steps):
        truth = rng.integers(0, 2, int(rng.integers(1, 80)))
        metric.update_state(truth, np.where(rng.random(len(truth)) < 0.986, truth, 1 - truth))
    return metric


def scored_streams() -> tuple[im.AUC, im.Streams]:
    """The bundled log's detector scores: one AUC of every stream pooled, and one per stream."""
    log = im.data.sample_log()
    pooled = im.AUC(name="auc").replay(log, y_true="y_true", y_pred="score", batch="batch")
    streams = im.Streams(im.PrecisionAtRecall(0.8, name="precision_at_recall"))
    streams = streams.replay(log, y_true="y_true", y_pred="score", batch="batch", stream="stream")
    return pooled, streams


def dark(build: Any, *args: Any, **options: Any) -> Any:
    """The chart as ``im.charts.use_theme("dark")`` draws it.

    Built under the dark theme (its encoded colours), with the dark config set on the
    chart itself (the PNG is rendered later, under the light theme).
    """
    im.charts.use_theme("dark")
    try:
        chart = build(*args, **options)
    finally:
        im.charts.use_theme("light")
    return chart.configure(**im.charts.style.theme_config(dark=True)["config"])


def gallery() -> dict[str, Any]:
    """Every chart of the gallery, by file name (without extension)."""
    mean, total, precision = teaching_mean(), counting_sum(), sensor_precision()
    long, accuracy = long_mean(), noisy_accuracy()
    auc, at_recall = scored_streams()
    return {
        "batch_sums": im.charts.batch_sums(total),
        "sum_vs_mean": im.charts.sum_vs_mean(mean),
        "history": im.charts.history(mean, ["batch_result", "result"]),
        "stream_breakdown": im.charts.stream_breakdown(precision, higher_is_better=True),
        "stream_history": im.charts.stream_history(precision),
        "batch_sums_300": im.charts.batch_sums(accuracy, "correct", width=400),
        "history_smoothed": im.charts.history(accuracy, "batch_result", smoothing=0.9),
        "sum_vs_mean_accuracy": im.charts.sum_vs_mean(accuracy),
        "batch_sums_1M": im.charts.batch_sums(long),
        "sum_vs_mean_1M": im.charts.sum_vs_mean(long),
        "stream_breakdown_dark": dark(im.charts.stream_breakdown, precision),
        "history_dark": dark(im.charts.history, precision.merged(), ["result", "batch_result"]),
        "batch_sums_dark": dark(im.charts.batch_sums, total),
        "roc": im.charts.roc_curve(auc),
        "roc_streams": im.charts.roc_curve(at_recall),
        "pr_streams": im.charts.pr_curve(at_recall),
        "roc_dark": dark(im.charts.roc_curve, auc),
        "history_interval": im.charts.history(precision.merged(), interval=0.95),
        "stream_breakdown_interval": im.charts.stream_breakdown(
            precision, higher_is_better=True, interval=0.95
        ),
    }


def main() -> None:
    """Write every chart of :func:`gallery` as PNG and SVG next to this script."""
    start = time.perf_counter()
    for name, chart in gallery().items():
        im.charts.to_png(chart, HERE / f"{name}.png", scale=1.5)
        im.charts.to_svg(chart, HERE / f"{name}.svg")
        print(f"wrote {name}.png and {name}.svg")
    print(f"gallery done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
