"""Beyond one machine: replay a Dask DataFrame by merging partial states computed on workers.

A metric's state merges exactly (sums add, minima take the minimum), so a logged run
split over many machines needs no special algorithm: each partition is reduced to
*partial states per batch id* (and per (batch id, stream) for :class:`Streams`, a
stream being a tuple of parts for composite keys; for a collection, every member's
states side by side in one table, from one pass over the partition), Dask
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

The three steps are public, so any engine can run them (Spark, Ray, a job queue):
:func:`partial_states` on each partition, a group-by with :func:`merge_rules`, then
:func:`apply_partials` on the driver. :func:`replay_dask` wires them to Dask, and
``metric.replay(dask_frame, ...)`` calls it.

Dask moves tasks and their results between processes with its own serialisation;
the partial states it ships are plain pandas tables of numbers and keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from interactive_metrics.core.memo import shared_checks
from interactive_metrics.core.segments import sample_weights
from interactive_metrics.engine import Batch, Engine, State
from interactive_metrics.metric import Metric
from interactive_metrics.replay import (
    Epochs,
    StreamPartials,
    batch_codes,
    batch_labels,
    bucketed,
    check_columns,
    check_nulls,
    chunk_batch,
    chunk_keys,
    epoch_roles,
    input_arrays,
    input_roles,
    prepare_epochs,
    prepare_stream_epochs,
    stream_roles,
)

if TYPE_CHECKING:
    import pandas as pd

    from interactive_metrics.streams import Segments

__all__ = ["apply_partials", "is_dask_frame", "merge_rules", "partial_states", "replay_dask"]

INSTALL_HINT = 'pip install "interactive-metrics[distributed]"'
KEYS = ["batch", "stream"]
"""The columns partial states merge by (a null ``stream``: the whole batch's state)."""
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

    members: tuple[tuple[str, Metric], ...]  # (column prefix, fresh copy with history off)
    names: tuple[str, ...] | None  # a collection's member names: its inputs bound once for all
    inputs: dict[str, str]
    batch: str
    stream: str | tuple[str, ...] | None  # a tuple of columns: composite keys
    sample_weight: str | None
    null_stream: Any
    per_member: bool = False  # streams of a collection: each member's own stream columns
    every: str | None = None  # time buckets of a datetime batch column
    reset: str | None = None  # the column of epochs
    flag_nan: bool = False  # ship where states are NaN: pandas' group-by sums skip NaN

    @property
    def state_columns(self) -> list[str]:
        """The columns of state-field elements, every member's."""
        return [c for prefix, metric in self.members for c in _state_columns(prefix, metric)]

    @property
    def roles(self) -> dict[str, str | None]:
        return {
            **self.inputs,
            "sample_weight": self.sample_weight,
            "batch": self.batch,
            **(stream_roles(self.stream) if self.stream is not None else {}),
            **epoch_roles(self.reset),
        }

    @property
    def metric(self) -> Metric:
        """The (first) member: a plain metric's or a Streams' own."""
        return self.members[0][1]

    @property
    def key_roles(self) -> set[str]:
        """The roles of the stream key columns (``stream``, or ``stream[i]`` per part)."""
        return set(stream_roles(self.stream)) if self.stream is not None else set()


def _field_columns(name: str, shape: tuple[int, ...]) -> list[str]:
    if shape == ():
        return [name]
    return [f"{name}[{i}]" for i in range(int(np.prod(shape)))]


def _state_columns(prefix: str, metric: Metric) -> list[str]:
    return [c for f in metric.engine.fields for c in _field_columns(prefix + f.name, f.shape)]


def _members(target: Any) -> tuple[tuple[str, Metric], ...]:
    """Each metric whose states the partials carry, with its columns' prefix.

    A plain metric or a Streams: one, unprefixed (``total``); a collection or the
    streams of a collection: every member, prefixed by its name (``loss/total``).
    """
    from interactive_metrics.collection import MetricCollection
    from interactive_metrics.collection_streams import CollectionStreams
    from interactive_metrics.streams import Streams

    if isinstance(target, MetricCollection):
        return tuple((f"{name}/", m) for name, m in target.items())
    if isinstance(target, CollectionStreams):
        return tuple((f"{name}/", s.metric) for name, s in target.members.items())
    return (("", target.metric if isinstance(target, Streams) else target),)


def _as_columns(prefix: str, engine: Engine, states: State, k: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for f in engine.fields:
        block = np.asarray(states[f.name]).reshape(k, max(int(np.prod(f.shape)), 1))
        for j, column in enumerate(_field_columns(prefix + f.name, f.shape)):
            out[column] = block[:, j]
    return out


def _from_columns(engine: Engine, frame: pd.DataFrame, prefix: str = "") -> State:
    k = len(frame)
    return {
        f.name: frame[_field_columns(prefix + f.name, f.shape)]
        .to_numpy(dtype=engine.dtype)
        .reshape(k, *f.shape)
        for f in engine.fields
    }


def _empty_partition(data: Any) -> pd.DataFrame:
    """An empty pandas frame with the columns and dtypes of a Dask DataFrame's partitions."""
    import pandas as pd

    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in data.dtypes.items()})


def _id_list(ids: Any) -> list[Any]:
    return ids.to_list() if isinstance(ids, pl.Series) else np.asarray(ids).tolist()


NAN_FLAG = ":nan"
"""The suffix of the columns counting a state column's NaN (Dask's group-by skips NaN)."""
NO_ROW = np.iinfo(np.int64).max
"""The ``first_row`` of a (batch, stream) a member has no sample of (its NaN were dropped)."""


def _epochs_of(column: pl.Series, codes: np.ndarray) -> tuple[pd.Series, pd.Series]:
    """Each batch's lowest and highest epoch, by code (every code has rows).

    Numbers as numbers (dates and booleans as their integers), anything else as
    pandas strings: columns Dask's group-by can take the minimum and maximum of.
    """
    import pandas as pd

    dtype = column.dtype
    if dtype.is_numeric() or dtype.is_temporal() or dtype == pl.Boolean:
        column = column.to_physical().cast(pl.Float64 if dtype.is_float() else pl.Int64)
        kind: Any = None
    else:
        column, kind = column.cast(pl.String), "string"
    ranges = (
        pl.DataFrame({"code": codes, "epoch": column})
        .group_by("code")
        .agg(pl.col("epoch").min().alias("low"), pl.col("epoch").max().alias("high"))
        .sort("code")
    )
    return tuple(
        pd.Series(ranges[c].to_numpy() if kind is None else ranges[c].to_list(), dtype=kind)
        for c in ("low", "high")
    )


def _stream_columns(
    prefix: str,
    engine: Engine,
    reduced: tuple[Batch, np.ndarray | None, State],
    inverse: np.ndarray,
    rows: np.ndarray,
    m: int,
    number: int,
) -> dict[str, np.ndarray]:
    """One member's columns of ``m`` (batch, stream) pairs: rows, weight, first row, states.

    ``inverse`` gives every sample's pair (before the member's ``nan_strategy`` drops
    any); a pair the member keeps no sample of has 0 rows, and stays unknown to it.
    """
    kept, keep, terms = reduced
    own = inverse if keep is None else inverse[keep]
    own_rows = rows if keep is None else rows[keep]
    count = np.bincount(own, minlength=m)
    per_sample = sample_weights(kept.weight, kept.n)
    weight = count if per_sample is None else np.bincount(own, weights=per_sample, minlength=m)
    first = np.full(m, NO_ROW, dtype=np.int64)
    np.minimum.at(first, own, own_rows)
    first[count > 0] += number << ROW_BITS
    return {
        f"{prefix}rows": count.astype(np.int64),
        f"{prefix}first_row": first,
        f"{prefix}weight": weight.astype(engine.dtype),
        **_as_columns(prefix, engine, engine.segment_states(terms, own, m), m),
    }


def _partial_states(part: Any, plan: _Plan, number: int) -> pd.DataFrame:
    """Reduce one partition (pandas or polars) to partial states; see :func:`partial_states`."""
    import pandas as pd

    engine = plan.metric.engine
    dtype = engine.dtype
    needed = list(dict.fromkeys(c for c in plan.roles.values() if c is not None))
    chunk = part.select(needed) if isinstance(part, pl.DataFrame) else pl.from_pandas(part[needed])
    allowed = plan.key_roles if plan.null_stream is not None else set()
    check_nulls(chunk, plan.roles, allowed)  # value columns: nulls are NaN (input_array)
    if plan.every is not None:  # a row's bucket is its own: truncated where it lies
        chunk = chunk.with_columns(pl.col(plan.batch).dt.truncate(plan.every))
    height = chunk.height
    starts, codes, ids = batch_codes(chunk[plan.batch])
    if starts is not None:
        codes = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, height)))
    if plan.names is None:
        bound = [chunk_batch(engine, chunk, plan.inputs, plan.sample_weight)]
    else:  # every member's batch, its inputs coerced and checked once per group of members
        from interactive_metrics.collection import MetricCollection

        # rebuilt here: a collection holds locks, which Dask cannot hash into a task key
        binder = MetricCollection(dict(zip(plan.names, (m for _, m in plan.members), strict=True)))
        weights = None if plan.sample_weight is None else chunk[plan.sample_weight].to_numpy()
        bound = binder.bind(sample_weight=weights, **input_arrays(chunk, plan.inputs))
    batch_ids = _id_list(ids)
    k = len(batch_ids)
    columns: dict[str, np.ndarray] = {}
    reduced: list[tuple[Batch, np.ndarray | None, State]] = []
    with shared_checks():  # members reading the same arrays check them once
        for (prefix, member), batch in zip(plan.members, bound, strict=True):
            kept, keep = member.engine.drop_nan(batch)
            terms = member.engine.terms(kept)
            own = codes if keep is None else codes[keep]
            states = member.engine.segment_states(terms, own, k)
            columns.update(_as_columns(prefix, member.engine, states, k))
            reduced.append((kept, keep, terms))
    low = high = None
    if plan.reset is not None:
        low, high = _epochs_of(chunk[plan.reset], codes)
    per_member_zeros: dict[str, np.ndarray] = {}
    if plan.per_member:
        for prefix, member in plan.members:
            per_member_zeros[f"{prefix}rows"] = np.zeros(k, dtype=np.int64)
            per_member_zeros[f"{prefix}first_row"] = np.zeros(k, dtype=np.int64)
            per_member_zeros[f"{prefix}weight"] = np.zeros(k, dtype=member.engine.dtype)

    def epochs(batch_of: np.ndarray | None) -> dict[str, Any]:
        if low is None or high is None:
            return {}
        if batch_of is None:
            return {"epoch_low": low, "epoch_high": high}
        return {
            "epoch_low": low.iloc[batch_of].reset_index(drop=True),
            "epoch_high": high.iloc[batch_of].reset_index(drop=True),
        }

    frames = [
        pd.DataFrame(
            {
                "batch": pd.Series(batch_ids, dtype=object),
                "stream": pd.Series([None] * k, dtype=object),
                "first_row": np.zeros(k, dtype=np.int64),
                "weight": np.zeros(k, dtype=dtype),
                **epochs(None),
                **per_member_zeros,
                **columns,
            }
        )
    ]
    if plan.stream is not None:
        local, keys = chunk_keys(chunk, plan.stream, plan.null_stream)  # tuples: composite
        rows = np.arange(height, dtype=np.int64)
        width = max(len(keys), 1)
        pair_columns: dict[str, np.ndarray]
        if plan.per_member:  # every pair of the rows; each member counts its own kept rows
            pairs = codes * width + local
            distinct, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
            m = len(distinct)
            pair_columns = {"first_row": (number << ROW_BITS) + rows[first]}
            pair_columns["weight"] = np.zeros(m, dtype=dtype)
            for (prefix, member), one in zip(plan.members, reduced, strict=True):
                pair_columns.update(
                    _stream_columns(prefix, member.engine, one, inverse, rows, m, number)
                )
        else:  # one member: its kept rows are the Streams' rows
            kept, keep, terms = reduced[0]
            if keep is not None:
                codes, local, rows = codes[keep], local[keep], rows[keep]
            pairs = codes * width + local
            distinct, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
            m = len(distinct)
            per_sample = sample_weights(kept.weight, kept.n)
            stream_weight = np.bincount(inverse, weights=per_sample, minlength=m)
            pair_columns = {
                "first_row": (number << ROW_BITS) + rows[first],
                "weight": stream_weight.astype(dtype),
                **_as_columns("", engine, engine.segment_states(terms, inverse, m), m),
            }
        batch_of = distinct // width
        frames.append(
            pd.DataFrame(
                {
                    "batch": pd.Series([batch_ids[i] for i in batch_of], dtype=object),
                    "stream": pd.Series([keys[i] for i in distinct % width], dtype=object),
                    **epochs(batch_of),
                    **pair_columns,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    if plan.flag_nan:
        flags = {
            f"{c}{NAN_FLAG}": out[c].isna().to_numpy(dtype=np.int64) for c in plan.state_columns
        }
        out = pd.concat([out, pd.DataFrame(flags, index=out.index)], axis=1)
    return out


def _on_partition(
    part: pd.DataFrame, plan: _Plan, partition_info: dict[str, Any] | None = None
) -> pd.DataFrame:
    """What ``map_partitions`` calls: Dask passes the partition's number in ``partition_info``."""
    return _partial_states(part, plan, int((partition_info or {}).get("number", 0)))


def _rules(
    members: tuple[tuple[str, Metric], ...], per_member: bool = False, reset: bool = False
) -> dict[str, str]:
    how = {"first_row": "min", "weight": "sum"}
    if reset:
        how.update(epoch_low="min", epoch_high="max")
    for prefix, metric in members:
        if per_member:
            how.update({f"{prefix}rows": "sum", f"{prefix}first_row": "min"})
            how[f"{prefix}weight"] = "sum"
        for f in metric.engine.fields:
            for column in _field_columns(prefix + f.name, f.shape):
                how[column] = f.reduce
    return how


def _plan_rules(plan: _Plan) -> dict[str, str]:
    rules = _rules(plan.members, plan.per_member, plan.reset is not None)
    if plan.flag_nan:
        rules.update({f"{c}{NAN_FLAG}": "sum" for c in plan.state_columns})
    return rules


def _merged_partials(data: Any, plan: _Plan) -> pd.DataFrame:
    """Partial states per partition (map_partitions), merged per key (a Dask group-by).

    pandas' group-by ``sum``, ``min`` and ``max`` skip NaN where the engine's merge
    keeps it (a NaN state, under ``nan_strategy="propagate"``, stays NaN): the workers
    ship how many NaN each state column holds, and the merged states are NaN again
    where any partial was.
    """
    plan = replace(plan, flag_nan=True)
    meta = _partial_states(_empty_partition(data), plan, 0)
    partials = data.map_partitions(_on_partition, plan, meta=meta, enforce_metadata=False)
    merged = partials.groupby(KEYS, dropna=False, sort=False).agg(_plan_rules(plan))
    return _with_nan(merged.reset_index().compute(), plan.state_columns)


def _with_nan(merged: pd.DataFrame, states: list[str]) -> pd.DataFrame:
    """The merged states NaN again where a partial was NaN (its ``:nan`` count), flags dropped."""
    for column in states:
        merged[column] = merged[column].where(merged[f"{column}{NAN_FLAG}"].to_numpy() == 0)
    return merged.drop(columns=[f"{c}{NAN_FLAG}" for c in states])


def _key_columns(stream: str | Sequence[str] | None) -> str | tuple[str, ...] | None:
    """``stream`` as a plan keeps it: one column, or a tuple of columns (composite keys)."""
    if stream is None or isinstance(stream, str):
        return stream
    stream_roles(stream)  # a TypeError unless a non-empty list of names
    if not all(isinstance(column, str) for column in stream):
        raise TypeError(f"`stream` must be a column name or a list of column names, got {stream!r}")
    return tuple(stream)


def _fresh(metric: Metric) -> Metric:
    """A copy of ``metric``'s configuration with history off: what a worker needs of it."""
    return type(metric).from_config({**metric.get_config(), "history": False})


def _plan_for(
    target: Any,
    batch: str,
    stream: str | Sequence[str] | None,
    sample_weight: str | None,
    columns: dict[str, str],
    every: str | None = None,
    reset: str | None = None,
) -> _Plan:
    from interactive_metrics.collection import MetricCollection
    from interactive_metrics.collection_streams import CollectionStreams
    from interactive_metrics.streams import Streams

    if not isinstance(target, (Metric, Streams, MetricCollection, CollectionStreams)):
        raise TypeError(
            f"`target` must be a Metric, a Streams, a MetricCollection or the streams of a "
            f"collection (collection.streams()), got {type(target).__name__}"
        )
    keyed = isinstance(target, (Streams, CollectionStreams))
    if keyed and stream is None:
        raise TypeError(
            f"replaying into {type(target).__name__} needs `stream`, the column of stream keys"
        )
    if not keyed and stream is not None:
        raise TypeError(
            f"`stream` is for Streams, got stream={stream!r} for a {type(target).__name__}; "
            + (
                "replay into collection.streams()"
                if isinstance(target, MetricCollection)
                else "wrap the metric: im.Streams(metric)"
            )
        )
    epoch_roles(reset)  # a TypeError unless a column name
    if every is not None and (not isinstance(every, str) or not every):
        raise TypeError(f"`every` must be a duration string such as '1h' or '1d', got {every!r}")
    if isinstance(target, (MetricCollection, CollectionStreams)):
        named = (
            dict(target.items())
            if isinstance(target, MetricCollection)
            else {name: s.metric for name, s in target.members.items()}
        )
        owner = "MetricCollection" if isinstance(target, MetricCollection) else "CollectionStreams"
        inputs = input_roles(MetricCollection(named), columns, owner)
        members = tuple((f"{name}/", _fresh(m)) for name, m in named.items())
        null_stream = target.null_stream if isinstance(target, CollectionStreams) else None
        return _Plan(
            members,
            tuple(named),
            inputs,
            batch,
            _key_columns(stream),
            sample_weight,
            null_stream,
            per_member=isinstance(target, CollectionStreams),
            every=every,
            reset=reset,
        )
    metric = target.metric if isinstance(target, Streams) else target
    inputs = input_roles(metric, columns)
    null_stream = target.null_stream if isinstance(target, Streams) else None
    members = (("", _fresh(metric)),)
    return _Plan(
        members,
        None,
        inputs,
        batch,
        _key_columns(stream),
        sample_weight,
        null_stream,
        every=every,
        reset=reset,
    )


def _check_schema(schema: Mapping[str, pl.DataType], plan: _Plan) -> pl.DataType:
    """The checks of the log's columns, before any work: the batch ids' dtype once bucketed."""
    check_columns(schema, plan.roles, {*plan.inputs, "sample_weight"})
    if plan.every is None:
        return schema[plan.batch]
    empty = pl.DataFrame(schema=dict(schema))
    return bucketed(empty.lazy(), None, plan.batch, plan.every)[0].collect_schema()[plan.batch]


def partial_states(
    rows: Any,
    target: Any,
    *,
    batch: str,
    stream: str | Sequence[str] | None = None,
    sample_weight: str | None = None,
    partition: int = 0,
    **columns: str,
) -> pd.DataFrame:
    """Reduce one partition of a log to partial states: what a worker of any engine computes.

    Parameters
    ----------
    rows : polars or pandas DataFrame
        One partition of the log (one row per sample).
    target : Metric, Streams, MetricCollection or CollectionStreams
        What the log will be replayed into; only its configuration is used.
    batch, stream, sample_weight : str
        Column names, as for ``replay``; ``stream`` only for a ``Streams`` target
        or the streams of a collection (a list of columns for composite keys: the
        ``stream`` column of the partials then holds tuples of parts, which group
        as one key).
    partition : int
        The partition's position in the log (0, 1, ...): it orders rows across
        partitions, which numbers streams in the order a loop of updates meets them.
    **columns : str
        One column per input of the metric (``values="loss"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``batch``, ``stream`` (null on the rows holding a whole batch's state),
        ``first_row``, ``weight`` and one column per state-field element (for the
        streams of a collection, each member's own ``name/rows``, ``name/first_row``
        and ``name/weight`` too). Merge the partials of all partitions per
        (``batch``, ``stream``) with :func:`merge_rules`, then :func:`apply_partials`.

    Examples
    --------
    >>> import polars as pl
    >>> import interactive_metrics as im
    >>> rows = pl.DataFrame({"step": [1, 1, 2], "loss": [4.0, 2.0, 3.0]})
    >>> partial_states(rows, im.Mean(), values="loss", batch="step")
       batch stream  first_row  weight  total  count
    0      1   None          0     0.0    6.0    2.0
    1      2   None          0     0.0    3.0    1.0
    """
    plan = _plan_for(target, batch, stream, sample_weight, columns)
    schema = rows.schema if isinstance(rows, pl.DataFrame) else pl.from_pandas(rows.head(0)).schema
    _check_schema(schema, plan)
    return _partial_states(rows, plan, partition)


def merge_rules(target: Any) -> dict[str, str]:
    """How partial-state columns merge: ``{column: "sum" | "min" | "max"}``.

    Group the partials of all partitions by ``["batch", "stream"]`` (keeping null
    streams) and aggregate each column with its rule: that is the exact merge. A
    collection's columns are its members', prefixed by each member's name
    (``loss/total``).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> merge_rules(im.Mean())
    {'first_row': 'min', 'weight': 'sum', 'total': 'sum', 'count': 'sum'}
    """
    from interactive_metrics.collection_streams import CollectionStreams

    return _rules(_members(target), isinstance(target, CollectionStreams))


def apply_partials(
    target: Any,
    partials: Any,
    *,
    stream: Sequence[str] | None = None,
) -> Any:
    """Replay merged partial states into ``target``: the driver's step, in batch-id order.

    Parameters
    ----------
    target : Metric, Streams, MetricCollection or CollectionStreams
        Updated in place (and returned) with one update per batch id.
    partials : pandas or polars DataFrame
        Output of :func:`partial_states`, merged across partitions or not (partials of
        the same key are merged here again; merging twice changes nothing).
    stream : list of str, optional
        For composite keys, the key columns given to :func:`partial_states`: they
        name the parts of the keys (the ``stream`` column holds tuples).

    Examples
    --------
    Two "workers" each reduce their rows; the driver merges and applies:

    >>> import pandas as pd
    >>> import interactive_metrics as im
    >>> log = pl.DataFrame({"step": [1, 1, 2, 2], "loss": [4.0, 2.0, 3.0, 5.0]})
    >>> parts = [partial_states(log[:3], im.Mean(), values="loss", batch="step", partition=0),
    ...          partial_states(log[3:], im.Mean(), values="loss", batch="step", partition=1)]
    >>> m = apply_partials(im.Mean(), pd.concat(parts))
    >>> m.history.select("step", "batch_result", "result").rows()
    [(1, 3.0, 3.0), (2, 4.0, 3.5)]
    """
    frame = partials.to_pandas() if isinstance(partials, pl.DataFrame) else partials
    frame = frame.reset_index(drop=True)  # partitions' partials, concatenated, repeat labels
    rules = merge_rules(target)
    missing = [c for c in [*KEYS, *rules] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"`partials` must have the columns of partial_states(), missing {missing}; "
            "pass the (merged) output of partial_states for this metric"
        )
    states = [c for prefix, m in _members(target) for c in _state_columns(prefix, m)]
    flags = frame[states].isna().astype(np.int64).add_suffix(NAN_FLAG)  # pandas skips NaN
    merged = (
        frame.join(flags)
        .groupby(KEYS, dropna=False, sort=False)
        .agg({**rules, **dict.fromkeys(flags.columns, "sum")})
        .reset_index()
    )
    merged = _with_nan(merged, states)
    key_names = _key_columns(stream)
    return _apply(target, merged, key_names=key_names if isinstance(key_names, tuple) else None)


def _ids(values: list[Any]) -> Any:
    """Batch ids as replay keeps them: a numpy array for numbers, a polars Series otherwise."""
    series = pl.Series("batch", values)
    return series.to_numpy() if series.dtype.is_numeric() else series


def replay_dask(
    target: Any,
    data: Any,
    *,
    batch: str,
    stream: str | Sequence[str] | None = None,
    sample_weight: str | None = None,
    every: str | None = None,
    reset: str | None = None,
    **columns: str,
) -> Any:
    """Replay a Dask DataFrame into a metric, a :class:`Streams` or a collection on a cluster.

    Parameters
    ----------
    target : Metric, Streams, MetricCollection or CollectionStreams
        Updated in place (and returned), with one history row per batch id, as
        ``target.replay`` on one machine. A collection's members (and the streams of a
        collection, ``collection.streams()``) are all reduced in the same pass over
        the partitions.
    data : dask.dataframe.DataFrame
        One row per sample, in any number of partitions; a batch may span partitions.
    batch : str
        The column of batch ids; batches are replayed in sorted id order.
    stream : str or list of str, optional
        The column of stream keys, or a list of columns for composite keys
        (``stream=["sensor", "site"]``: each stream a tuple of parts, as on one
        machine); required for a ``Streams`` target or the streams of a collection,
        not allowed for a plain metric or a collection.
    sample_weight : str, optional
        The column of sample weights.
    every : str, optional
        Bucket a ``batch`` column of datetimes into time buckets (a polars duration:
        ``"1h"``, ``"1d"``...): one update per bucket, named by its start. Each
        worker truncates its own rows.
    reset : str, optional
        The column of epochs: the state is reset before each epoch's first batch (a
        batch's rows share one epoch, wherever they lie).
    **columns : str
        One column per input of the metric (``values="loss"``, or
        ``y_true="label", y_pred="score"``); for a collection, one per input any
        member reads.

    Returns
    -------
    Metric, Streams, MetricCollection or CollectionStreams
        ``target``.

    Raises
    ------
    TypeError, ValueError
        As the single-machine replay: missing columns, non-numeric values, null
        batch ids, weights or epochs, bad weights, NaN under ``nan_strategy="error"``.
        Errors raised on a worker reach the caller unchanged, and nothing changes:
        the target is only touched once every partition is reduced (and a
        collection's members only once every member's updates are ready).

    Notes
    -----
    Each partition is reduced on a worker (``map_partitions``) to partial states per
    batch id and per (batch id, stream); Dask merges them per key (``groupby().agg``
    with each field's own reduction: ``sum``, ``min`` or ``max``). The driver receives
    one row per batch (and per batch and stream), sorts it by batch id and scans it
    into the history. Results equal the single-machine replay; float sums to rounding.
    For a collection, each partition's inputs are bound once for all members (as
    ``MetricCollection.bind``), each member reduces them into its own columns of the
    same partial-states table (``loss/total``), and one group-by merges them all.
    Missing values in value columns (pandas ``NaN``, ``pd.NA``) are NaN, as for
    ``update_state``: each member's ``nan_strategy`` decides. With ``reset``, each
    batch's lowest and highest epoch travel with its partial states (merged with
    ``min`` / ``max``), so a batch split over two epochs is refused.

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
    from interactive_metrics.collection import MetricCollection
    from interactive_metrics.collection_streams import CollectionStreams

    if not is_dask_frame(data):
        raise TypeError(
            f"`data` must be a dask DataFrame, got {type(data).__name__}; for polars, pandas "
            "or a file, call .replay() (install dask with: " + INSTALL_HINT + ")"
        )
    if isinstance(target, (MetricCollection, CollectionStreams)):
        members = [m for _, m in _members(target)]
    else:
        members = [getattr(target, "metric", target)]
    unshaped = [m for m in members if isinstance(m, Metric) and not m.shape_known]
    if unshaped:
        raise TypeError(
            f"a Dask replay needs the shape of every state up front, and "
            f"{type(unshaped[0]).__name__} {unshaped[0].name!r} reads it from its first batch; "
            "configure it (e.g. num_classes=k), or replay a polars frame"
        )
    plan = _plan_for(target, batch, stream, sample_weight, columns, every, reset)
    if isinstance(target, CollectionStreams) and stream is not None:
        target.check_key_shape(stream)  # before any work, as on one machine
    schema = pl.from_pandas(_empty_partition(data)).schema
    batch_dtype = _check_schema(schema, plan)
    key_names = plan.stream if isinstance(plan.stream, tuple) else None
    return _apply(target, _merged_partials(data, plan), batch_dtype, key_names, plan.reset)


def _segments_of(
    engine: Engine,
    per_stream: pd.DataFrame,
    order: Any,
    key_names: tuple[str, ...] | None,
    prefix: str = "",
) -> Segments:
    """One Streams' (batch, stream) segments from merged partial states (prefixed columns)."""
    parts = StreamPartials()
    keys = per_stream["stream"].tolist()
    if keys:
        parts.streams.append(parts.stream_index(keys))
        parts.batch_ids.append(_ids(per_stream["batch"].tolist()))
        parts.first_rows.append(per_stream[f"{prefix}first_row"].to_numpy(dtype=np.int64))
        parts.weights.append(per_stream[f"{prefix}weight"].to_numpy(dtype=engine.dtype))
        parts.states.append(_from_columns(engine, per_stream, prefix))
    segments = parts.collect(engine, order)
    if key_names is not None:  # composite keys: the stream column holds tuples of parts
        segments = segments._replace(key_names=key_names)
    return segments


def _apply(
    target: Any,
    merged: pd.DataFrame,
    batch_dtype: pl.DataType | None = None,
    key_names: tuple[str, ...] | None = None,
    reset: str | None = None,
) -> Any:
    """Sort merged partial states by batch id and scan them into ``target``'s history.

    Workers ship dates and durations as their physical integers; ``batch_dtype`` (the
    log's) names the ids as the log holds them, as the single-machine replay does.
    With ``reset`` (the column of epochs), the batches' epoch ranges split them into
    runs, each written after a reset.
    """
    from interactive_metrics.collection import MetricCollection
    from interactive_metrics.collection_streams import CollectionStreams
    from interactive_metrics.streams import Streams

    is_batch = merged["stream"].isna().to_numpy()
    batches = merged[is_batch]
    ids = _ids(batches["batch"].tolist())
    by_id = (
        np.argsort(ids, kind="stable") if isinstance(ids, np.ndarray) else ids.arg_sort().to_numpy()
    )
    order = ids[by_id] if isinstance(ids, np.ndarray) else ids.gather(by_id)
    labels = order if batch_dtype is None else batch_labels(order, batch_dtype)
    if not isinstance(labels, pl.Series):
        labels = pl.Series("log_batch", labels)
    in_order = batches.iloc[by_id]
    runs = None
    if reset is not None:
        epochs = Epochs(reset)
        epochs.add_ranges(
            ids, batches["epoch_low"].tolist(), batches["epoch_high"].tolist(), "batch"
        )
        runs = epochs.bounds(order, "batch")
    if isinstance(target, MetricCollection):
        members = _members(target)
        states = [_from_columns(m.engine, in_order, prefix) for prefix, m in members]
        with ExitStack() as stack:  # every member prepared, then every member written
            for metric in sorted(target.values(), key=id):  # a fixed order: no deadlock
                stack.enter_context(metric.lock)
            writes = [
                prepare_epochs(m, s, labels, runs)
                for (_, m), s in zip(members, states, strict=True)
            ]
            for write in writes:
                write()
        return target
    per_stream = merged[~is_batch]
    if isinstance(target, CollectionStreams):
        prepared = {}
        for name, s in target.members.items():
            prefix = f"{name}/"
            own = per_stream[per_stream[f"{prefix}rows"].to_numpy() > 0]
            prepared[name] = (
                _from_columns(s.engine, in_order, prefix),
                _segments_of(s.engine, own, order, key_names, prefix),
            )
        target.update_from_segments(prepared, labels=labels, runs=runs)
        return target
    engine = target.engine
    batch_states = _from_columns(engine, in_order)
    if not isinstance(target, Streams):
        with target.lock:
            prepare_epochs(target, batch_states, labels, runs)()
        return target
    segments = _segments_of(engine, per_stream, order, key_names)
    with target.lock:
        prepare_stream_epochs(target, batch_states, segments, labels, runs)()
    return target
