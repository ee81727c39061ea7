"""Beyond one machine: replay a Dask DataFrame by merging partial states computed on workers.

A metric's state merges exactly (sums add, minima take the minimum), so a logged run
split over many machines needs no special algorithm: each partition is reduced to
*partial states per batch id* (and per (batch id, stream) for :class:`Streams`), Dask
merges the partials of the same key with its own group-by aggregation, and the driver
receives one small table — one row per batch, or per (batch, stream) — that it scans,
in batch order, into the history. Dask does all the scheduling; this module only says
what a partition reduces to and how partials merge.

What is exact: the states and results (the merged partial states of a batch are its
state), the per-stream breakdown, and the ordering of the history, which follows the
sorted batch ids, exactly as the single-machine replay. What stays on the driver: the
cumulative scan over batches (a history is ordered, and its size is the number of
batches, not rows) and the numbering of streams by first appearance. Float sums are
added in a different order on a cluster than on one machine, so they agree to rounding
(exactly for integer-valued data).

Dask moves tasks and their results between processes with its own serialisation;
the partial states it ships are plain pandas tables of numbers and keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from interactive_metrics.core.segments import factorize, reduce_segments, sample_weights
from interactive_metrics.metric import Metric, State
from interactive_metrics.replay import (
    _apply_streams,
    _batch_codes,
    _check_columns,
    _check_nulls,
    _chunk_arrays,
    _drop_nan,
    _input_roles,
    _StreamPartials,
    apply_batches,
)

if TYPE_CHECKING:
    import pandas as pd

    from interactive_metrics.streams import Streams

__all__ = ["is_dask_frame", "partial_states", "replay_dask"]

INSTALL_HINT = 'pip install "interactive-metrics[distributed]"'
ROW_BITS = 40
"""A row's global order is ``partition << ROW_BITS | row``: partitions of up to 2**40 rows."""


def is_dask_frame(data: Any) -> bool:
    """Whether ``data`` is a Dask DataFrame (checked without importing dask).

    Examples
    --------
    >>> import polars as pl
    >>> is_dask_frame(pl.DataFrame({"a": [1]}))
    False
    """
    kind = type(data)
    return kind.__module__.split(".")[0] in ("dask", "dask_expr") and kind.__name__ == "DataFrame"


@dataclass(frozen=True)
class _Plan:
    """What every partition needs to know: shipped to the workers once per task."""

    metric: Metric  # a fresh copy, history off: only its terms and fields are used
    inputs: dict[str, str]
    batch: str
    stream: str | None
    sample_weight: str | None
    null_stream: Any

    @property
    def roles(self) -> dict[str, str | None]:
        return {
            **self.inputs,
            "sample_weight": self.sample_weight,
            "batch": self.batch,
            "stream": self.stream,
        }

    @property
    def columns(self) -> list[str]:
        """The partial-state columns, one per element of each state field."""
        return [column for f in self.metric._fields for column in _field_columns(f.name, f.shape)]


def _field_columns(name: str, shape: tuple[int, ...]) -> list[str]:
    if shape == ():
        return [name]
    return [f"{name}[{i}]" for i in range(int(np.prod(shape)))]


def _as_columns(plan: _Plan, states: State, k: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for f in plan.metric._fields:
        block = np.asarray(states[f.name]).reshape(k, max(int(np.prod(f.shape)), 1))
        for j, column in enumerate(_field_columns(f.name, f.shape)):
            out[column] = block[:, j]
    return out


def _from_columns(plan: _Plan, frame: pd.DataFrame) -> State:
    k = len(frame)
    return {
        f.name: frame[_field_columns(f.name, f.shape)]
        .to_numpy(dtype=plan.metric._dtype)
        .reshape(k, *f.shape)
        for f in plan.metric._fields
    }


def _id_list(ids: Any) -> list[Any]:
    return ids.to_list() if isinstance(ids, pl.Series) else np.asarray(ids).tolist()


def partial_states(
    part: pd.DataFrame, plan: _Plan, partition_info: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Reduce one partition to partial states: one row per batch id, and per (batch, stream).

    Rows with a null ``stream`` hold a batch's partial state over all its samples;
    with ``plan.stream`` set, the other rows hold the partial state of one stream in
    one batch, its weight and the position of its first row (partition, row), which
    numbers streams in the order a loop of updates meets them.
    """
    import pandas as pd

    number = int((partition_info or {}).get("number", 0))
    metric, dtype = plan.metric, plan.metric._dtype
    needed = list(dict.fromkeys(c for c in plan.roles.values() if c is not None))
    chunk = pl.from_pandas(part[needed])
    allowed = {"stream"} if plan.null_stream is not None else set()
    _check_nulls(chunk, plan.roles, allowed)
    height = chunk.height
    starts, codes, ids = _batch_codes(chunk[plan.batch])
    if starts is not None:
        codes = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, height)))
    values, weight, n = _chunk_arrays(metric, chunk, plan.inputs, plan.sample_weight)
    values, weight, keep, n = _drop_nan(metric, values, weight, n)
    terms, n = metric._terms_of(values, weight, n)
    rows = np.arange(height, dtype=np.int64)
    if keep is not None:
        codes, rows = codes[keep], rows[keep]
    batch_ids = _id_list(ids)
    k = len(batch_ids)
    frames = [
        pd.DataFrame(
            {
                "batch": pd.Series(batch_ids, dtype=object),
                "stream": pd.Series([None] * k, dtype=object),
                "first_row": np.zeros(k, dtype=np.int64),
                "weight": np.zeros(k, dtype=dtype),
                **_as_columns(plan, reduce_segments(metric._plan, terms, codes, k, dtype), k),
            }
        )
    ]
    if plan.stream is not None:
        local, keys = factorize(chunk[plan.stream], "stream", plan.null_stream)
        if keep is not None:
            local = local[keep]
        width = max(len(keys), 1)
        pairs = codes * width + local
        distinct, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
        m = len(distinct)
        per_sample = sample_weights(weight, n)
        stream_weight = np.bincount(inverse, weights=per_sample, minlength=m)
        frames.append(
            pd.DataFrame(
                {
                    "batch": pd.Series([batch_ids[i] for i in distinct // width], dtype=object),
                    "stream": pd.Series([keys[i] for i in distinct % width], dtype=object),
                    "first_row": (number << ROW_BITS) + rows[first],
                    "weight": stream_weight.astype(dtype),
                    **_as_columns(plan, reduce_segments(metric._plan, terms, inverse, m, dtype), m),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _merged_partials(data: Any, plan: _Plan) -> pd.DataFrame:
    """Partial states per partition (map_partitions), merged per key (a Dask group-by)."""
    meta = partial_states(data._meta, plan)
    partials = data.map_partitions(partial_states, plan, meta=meta, enforce_metadata=False)
    how = {"first_row": "min", "weight": "sum"}
    for f in plan.metric._fields:
        for column in _field_columns(f.name, f.shape):
            how[column] = f.reduce
    merged = partials.groupby(["batch", "stream"], dropna=False, sort=False).agg(how)
    return merged.reset_index().compute()


def _ids(values: list[Any]) -> Any:
    """Batch ids as replay keeps them: a numpy array for numbers, a polars Series otherwise."""
    series = pl.Series("batch", values)
    return series.to_numpy() if series.dtype.is_numeric() else series


def replay_dask(
    target: Metric | Streams,
    data: Any,
    *,
    batch: str,
    stream: str | None = None,
    sample_weight: str | None = None,
    **columns: str,
) -> Any:
    """Replay a Dask DataFrame into a metric (or a :class:`Streams`) on a Dask cluster.

    Parameters
    ----------
    target : Metric or Streams
        Updated in place (and returned), with one history row per batch id, as
        ``target.replay`` on one machine.
    data : dask.dataframe.DataFrame
        One row per sample, in any number of partitions; a batch may span partitions.
    batch : str
        The column of batch ids; batches are replayed in sorted id order.
    stream : str, optional
        The column of stream keys; required for a ``Streams`` target, not allowed for a
        plain metric.
    sample_weight : str, optional
        The column of sample weights.
    **columns : str
        One column per input of the metric (``values="loss"``, or
        ``y_true="label", y_pred="score"``).

    Returns
    -------
    Metric or Streams
        ``target``.

    Raises
    ------
    TypeError, ValueError
        As the single-machine replay: missing columns, non-numeric values, nulls,
        bad weights. Errors raised on a worker reach the caller unchanged, and
        nothing changes: the target is only touched once every partition is reduced.

    Notes
    -----
    Each partition is reduced on a worker (``map_partitions``) to partial states per
    batch id and per (batch id, stream); Dask merges them per key (``groupby().agg``
    with each field's own reduction: ``sum``, ``min`` or ``max``). The driver receives
    one row per batch (and per batch and stream), sorts it by batch id and scans it
    into the history. Results equal the single-machine replay; float sums to rounding.

    Examples
    --------
    >>> import pandas as pd
    >>> import dask.dataframe as dd
    >>> import interactive_metrics as im
    >>> log = pd.DataFrame({"step": [1, 1, 2, 2, 3], "loss": [4.0, 2.0, 3.0, 1.0, 5.0]})
    >>> parts = dd.from_pandas(log, npartitions=2)
    >>> m = replay_dask(im.Mean(), parts, values="loss", batch="step")
    >>> m.history.select("step", "batch_result", "result").rows()
    [(1, 3.0, 3.0), (2, 2.0, 2.5), (3, 5.0, 3.0)]
    """
    from interactive_metrics.streams import Streams

    if not is_dask_frame(data):
        raise TypeError(
            f"`data` must be a dask DataFrame, got {type(data).__name__}; for polars, pandas "
            "or a file, call .replay() (install dask with: " + INSTALL_HINT + ")"
        )
    is_streams = isinstance(target, Streams)
    if is_streams and stream is None:
        raise TypeError("replaying into Streams needs `stream`, the column of stream keys")
    if not is_streams and stream is not None:
        raise TypeError(
            f"`stream` is for Streams, got stream={stream!r} for a {type(target).__name__}; "
            "wrap the metric: im.Streams(metric)"
        )
    metric = target._overall if isinstance(target, Streams) else target
    inputs = _input_roles(metric, columns)
    worker_metric = type(metric).from_config({**metric.get_config(), "history": False})
    plan = _Plan(
        worker_metric,
        inputs,
        batch,
        stream,
        sample_weight,
        target.null_stream if isinstance(target, Streams) else None,
    )
    schema = pl.from_pandas(data._meta).schema
    _check_columns(schema, plan.roles, {*inputs, "sample_weight"})
    merged = _merged_partials(data, plan)
    is_batch = merged["stream"].isna().to_numpy()
    batches = merged[is_batch]
    ids = _ids(batches["batch"].tolist())
    by_id = np.argsort(ids) if isinstance(ids, np.ndarray) else ids.arg_sort().to_numpy()
    order = ids[by_id] if isinstance(ids, np.ndarray) else ids.gather(by_id)
    batches = batches.iloc[by_id]
    batch_states = _from_columns(plan, batches)
    if not isinstance(target, Streams):
        apply_batches(target, batch_states)
        return target
    per_stream = merged[~is_batch]
    parts = _StreamPartials()
    keys = per_stream["stream"].tolist()
    if keys:
        parts.streams.append(parts.stream_index(keys))
        parts.batch_ids.append(_ids(per_stream["batch"].tolist()))
        parts.first_rows.append(per_stream["first_row"].to_numpy())
        parts.weights.append(per_stream["weight"].to_numpy(dtype=metric._dtype))
        parts.states.append(_from_columns(plan, per_stream))
    _apply_streams(target, parts, order, batch_states)
    return target
