"""Sample data: a logged run of a multi-stream anomaly detector, bundled and generated.

:func:`sample_log` loads the small log shipped with the package (made by
``scripts/make_sample_data.py`` from :func:`anomaly_log` with its defaults);
:func:`anomaly_log` generates a log of any size, deterministically, from a seed.

In that run a detector flags anomalies on several sensors (streams). One small
stream, ``pump_b``, starts raising false alarms part-way through: its precision
collapses while the precision of all streams pooled together barely moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import numpy as np
import polars as pl

__all__ = ["SAMPLE_LOG_FILE", "anomaly_log", "sample_log"]

SAMPLE_LOG_FILE = "anomaly_log.parquet"
"""The bundled file's name inside ``interactive_metrics/data``."""

STREAMS = ("boiler", "compressor", "conveyor", "pump_a", "pump_b", "turbine")
# share of the rows each stream sends: pump_b is a small stream, easy to overlook
STREAM_SHARES = (0.22, 0.2, 0.18, 0.2, 0.05, 0.15)


def anomaly_log(
    n_batches: int = 200,
    batch_size: int = 500,
    *,
    streams: Sequence[str] = STREAMS,
    shares: Sequence[float] = STREAM_SHARES,
    degrading: str | None = "pump_b",
    degrade_from: float = 0.5,
    seed: int = 0,
) -> pl.DataFrame:
    """Generate the log of an anomaly detector watching several streams.

    Each row is one sample: the ``batch`` it was scored in, its ``stream``,
    whether it really was an anomaly (``y_true``, about 5% are) and the detector's
    ``score`` in [0, 1] (flag it when ``score >= 0.5``). The detector is good on
    every stream (precision about 0.9) until batch ``degrade_from * n_batches``,
    from which the ``degrading`` stream's false-alarm rate climbs steadily.

    Parameters
    ----------
    n_batches, batch_size : int
        The log has ``n_batches * batch_size`` rows.
    streams, shares : sequence
        Stream names and the share of rows each sends (normalised to sum to 1).
    degrading : str or None
        The stream whose precision collapses; ``None`` for a healthy run.
    degrade_from : float
        Where in the run (0 to 1) the degradation starts.
    seed : int
        The same seed gives the same log.

    Returns
    -------
    polars.DataFrame
        Columns ``batch`` (Int32), ``stream`` (Categorical), ``y_true`` (Int8) and
        ``score`` (Float32), in batch order.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> log = im.data.anomaly_log(n_batches=4, batch_size=100)
    >>> log.shape, log.columns
    ((400, 4), ['batch', 'stream', 'y_true', 'score'])
    >>> log.equals(im.data.anomaly_log(n_batches=4, batch_size=100))
    True
    """
    if degrading is not None and degrading not in streams:
        raise ValueError(
            f"`degrading` must be one of the `streams` {tuple(streams)} or None, got {degrading!r}"
        )
    if len(shares) != len(streams):
        raise ValueError(
            f"`shares` must have one entry per stream ({len(streams)}), got {len(shares)}"
        )
    rng = np.random.default_rng(seed)
    n = n_batches * batch_size
    p = np.asarray(shares, dtype=np.float64)
    stream_code = rng.choice(len(streams), size=n, p=p / p.sum()).astype(np.int32)
    batch = np.repeat(np.arange(n_batches, dtype=np.int32), batch_size)
    y_true = rng.random(n) < 0.05
    # false-alarm probability of a normal sample: 0.5% everywhere, then rising on one stream
    false_alarm = np.full(n, 0.005)
    if degrading is not None:
        progress = (batch / max(n_batches - 1, 1) - degrade_from) / max(1 - degrade_from, 1e-9)
        ramp = np.clip(progress, 0.0, 1.0)
        on_stream = stream_code == list(streams).index(degrading)
        false_alarm = np.where(on_stream, 0.005 + 0.115 * ramp, false_alarm)
    flagged = np.where(y_true, rng.random(n) < 0.85, rng.random(n) < false_alarm)
    # scores: flagged samples above 0.5, the others below; rounded so the file stays small
    score = np.where(flagged, rng.uniform(0.5, 1.0, n), rng.beta(1.5, 6.0, n) * 0.5)
    return pl.DataFrame(
        {
            "batch": batch,
            "stream": pl.Series(np.asarray(streams)[stream_code]).cast(pl.Categorical),
            "y_true": y_true.astype(np.int8),
            "score": np.round(score, 3).astype(np.float32),
        }
    )


def sample_log() -> pl.DataFrame:
    """The bundled anomaly-detector log: 100,000 rows, 200 batches, 6 streams.

    Made by ``scripts/make_sample_data.py`` with :func:`anomaly_log`'s defaults;
    the ``pump_b`` stream degrades in the second half of the run.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> log = im.data.sample_log()
    >>> log.height, log["batch"].n_unique(), sorted(log["stream"].unique().to_list())
    (100000, 200, ['boiler', 'compressor', 'conveyor', 'pump_a', 'pump_b', 'turbine'])
    """
    with resources.as_file(resources.files(__name__) / SAMPLE_LOG_FILE) as path:
        return pl.read_parquet(path)
