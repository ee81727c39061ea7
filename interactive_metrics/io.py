"""Save and load metrics and Streams without pickle: JSON says what they are, Parquet the rest.

A saved metric is two files, kept either in a directory or in one ``.zip`` file:

``metric.json``
    the format name and schema version, the metric's class *name* (looked up on load
    in an allow-list of this package's metric classes, never imported), its
    configuration, its state (bit-exact, NaN and infinities included), its step and
    a SHA-256 checksum of all that plus a digest of the history file;
``history.parquet``
    ``metric.history`` as written by polars: any Parquet reader opens it.

A saved :class:`~interactive_metrics.Streams` has the same ``metric.json`` (kind
``"streams"``: the merged metric as above, ``null_stream``, the step and the number of
streams) and up to three Parquet files: ``streams.parquet`` (one row per stream: the
key, in its polars dtype, the weight, the event count, the running state and what
``history_every`` holds back), ``history.parquet`` (``streams.history`` plus each row's
``stream_step``, its step among its stream's events) and ``merged_history.parquet``
(``streams.merged().history``).

Loading parses JSON and Parquet and nothing else: no pickle, no ``eval``, no import
of a name found in the file, so a loaded file can never run code. A file that was
corrupted, truncated, edited or written by a newer version raises
:class:`SavedFileError`, which says what is wrong; nothing is returned half-loaded.

Functions in a configuration (``MeanMetricWrapper(fn)``) are saved as a *name*:
functions this package defines are found by that name; any other function must be
passed by name to both :func:`save` and :func:`load` as ``custom_objects``, and so
must metric classes defined outside the package.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from interactive_metrics.metric import RESET, Metric
from interactive_metrics.streams import Streams

Files = dict[str, bytes]

__all__ = ["SCHEMA_VERSION", "SavedFileError", "load", "save"]

SCHEMA_VERSION = 2
"""The newest version of the saved layout this package reads.

A file records the lowest version that holds it: 1 for a metric, 2 for a
:class:`~interactive_metrics.Streams` (added in version 2).
"""

FORMAT_NAME = "interactive_metrics"
METADATA_FILE = "metric.json"
HISTORY_FILE = "history.parquet"
STREAMS_FILE = "streams.parquet"
MERGED_HISTORY_FILE = "merged_history.parquet"
_MEMBERS = (METADATA_FILE, HISTORY_FILE, STREAMS_FILE, MERGED_HISTORY_FILE)
_KIND_VERSIONS = {"metric": 1, "streams": 2}
_MAX_METADATA_BYTES = 64 * 2**20


class SavedFileError(ValueError):
    """A saved metric that cannot be loaded: corrupt, truncated, edited, or from a newer version.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> issubclass(im.io.SavedFileError, ValueError)
    True
    """


# -- public API ------------------------------------------------------------------------------


def save(
    metric: Metric | Streams,
    path: str | os.PathLike[str],
    *,
    custom_objects: Mapping[str, Any] | None = None,
) -> Path:
    """Save a metric's (or a Streams') configuration, state and full history to ``path``.

    Parameters
    ----------
    metric : Metric or Streams
        Any metric of this package, or of a class passed in ``custom_objects``; or
        a :class:`~interactive_metrics.Streams` of such a metric.
    path : str or path-like
        A path ending in ``.zip`` writes one file; any other path writes a
        directory holding ``metric.json`` and the Parquet files. An earlier save
        at ``path`` is replaced (atomically for ``.zip``).
    custom_objects : mapping of str to class or function, optional
        Names for metric classes and functions that are not part of this package
        (``{"absolute_error": absolute_error}``); pass the same mapping to :func:`load`.

    Returns
    -------
    pathlib.Path
        Where the metric was written.

    Raises
    ------
    TypeError
        For a class or function this package does not define and ``custom_objects``
        does not name, for configuration values JSON cannot hold, and for stream
        keys (or a ``null_stream``) that would not come back as they are.

    Notes
    -----
    Stream keys are stored in a Parquet column of their polars dtype (``String``,
    ``Int64``, ``Date``, ...) and must come back equal and of the same Python type:
    keys of mixed types, or of a type polars holds only as objects, are refused.
    A numpy scalar key (``np.int64(3)``) comes back as the equal Python value
    (``3``), and an aware ``datetime`` with polars' ``zoneinfo`` time zone (the
    same instant): both find the same stream.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import interactive_metrics as im
    >>> m = im.Mean()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> path = m.save(folder / "loss.zip")
    >>> loaded = im.load(path)
    >>> loaded.result(), loaded.state_at(1), loaded.history.height
    (2.0, {'total': 4.0, 'count': 2.0}, 1)
    """
    names = _names_by_object(custom_objects)
    if isinstance(metric, Streams):
        payload, files = _streams_to_files(metric, names)
    elif isinstance(metric, Metric):
        payload, files = _metric_to_files(metric, names)
    else:
        raise TypeError(
            f"`metric` must be an interactive_metrics Metric or Streams, got {metric!r}"
        )
    payload["checksum"] = _checksum(payload)
    metadata = json.dumps(payload, indent=1, allow_nan=False).encode()
    return _write(Path(path), {METADATA_FILE: metadata, **files})


def load(
    path: str | os.PathLike[str], *, custom_objects: Mapping[str, Any] | None = None
) -> Metric | Streams:
    """Load a metric or Streams written by :func:`save` (or ``.save``), history included.

    Parameters
    ----------
    path : str or path-like
        A directory or ``.zip`` file written by :func:`save`.
    custom_objects : mapping of str to class or function, optional
        The same names given to :func:`save` for classes and functions that are not
        part of this package.

    Returns
    -------
    Metric or Streams
        What was saved: same class, configuration, state (bit for bit), step and
        history (for a Streams: the same streams, keys, per-stream states and both
        histories); later updates and merges continue exactly as on the original.

    Raises
    ------
    FileNotFoundError
        When nothing exists at ``path``.
    SavedFileError
        When the file is not a saved metric, is corrupt, truncated or edited, was
        written by a newer version of this package, or names a class or function
        that is neither part of this package nor in ``custom_objects``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import interactive_metrics as im
    >>> m = im.Sum()
    >>> m.update_state([1, 3, 5, 7])
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "total"
    >>> _ = m.save(folder)
    >>> sorted(p.name for p in folder.iterdir())
    ['history.parquet', 'metric.json']
    >>> restored = im.load(folder)
    >>> restored.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> restored.history["running_total"].to_list()
    [16.0, 20.0]
    """
    path = Path(path)
    metadata, present, read = _read(path)
    payload = _parse_metadata(metadata, path)
    kind = _get(payload, "kind", str, "")
    needed = _KIND_VERSIONS.get(kind)
    if needed is None:
        raise _corrupt(path, f"it holds a {kind!r}; this version loads {sorted(_KIND_VERSIONS)}")
    if payload["schema_version"] < needed:
        raise _corrupt(path, f"a {kind!r} needs schema version {needed} or later")
    objects = dict(custom_objects or {})
    if kind == "metric":
        history = _get(payload, "history", (dict, type(None)), "")
        listed = {} if history is None else {HISTORY_FILE: history}
        frames = _read_members(listed, present, read, path)
        data = _get(payload, "metric", dict, "")
        return _metric_from_dict(data, frames.get(HISTORY_FILE), objects, path)
    listed = _get(payload, "files", dict, "")
    unknown = sorted(set(listed) - {STREAMS_FILE, HISTORY_FILE, MERGED_HISTORY_FILE})
    if unknown or STREAMS_FILE not in listed:
        raise _corrupt(path, f"`files` lists {sorted(listed)}, which must include {STREAMS_FILE}")
    frames = _read_members(listed, present, read, path)
    return _streams_from_dict(_get(payload, "streams", dict, ""), frames, objects, path)


def _metric_to_files(metric: Metric, names: Mapping[int, str]) -> tuple[dict[str, Any], Files]:
    files: Files = {}
    history = None
    if metric._history is not None:
        frame = metric.history
        files[HISTORY_FILE] = _parquet_bytes(frame)
        history = {"file": HISTORY_FILE, **_describe(frame, files[HISTORY_FILE])}
    payload = {
        "format": FORMAT_NAME,
        "schema_version": _KIND_VERSIONS["metric"],
        "kind": "metric",
        "metric": _metric_to_dict(metric, names),
        "history": history,
    }
    return payload, files


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=False)
    return buffer.getvalue()


def _describe(frame: pl.DataFrame, data: bytes) -> dict[str, Any]:
    return {"rows": frame.height, "sha256": hashlib.sha256(data).hexdigest()}


def _read_members(
    listed: Mapping[str, Any],
    present: set[str],
    read: Callable[[str], bytes | None],
    path: Path,
) -> dict[str, pl.DataFrame]:
    """The Parquet files ``metric.json`` lists, each checked against its digest and row count."""
    extra = sorted(present - set(listed) - {METADATA_FILE})
    if extra:
        raise _corrupt(path, f"it holds {extra}, which {METADATA_FILE} does not list")
    frames = {}
    for name, entry in listed.items():
        if not isinstance(entry, dict):
            raise _corrupt(path, f"the entry for {name} must be an object, got {entry!r}")
        data = read(name)
        if data is None:
            raise _corrupt(path, f"{name} is missing")
        if hashlib.sha256(data).hexdigest() != _get(entry, "sha256", str, name):
            raise _corrupt(
                path,
                f"{name} does not match the digest recorded in {METADATA_FILE}: "
                "it is corrupt, truncated or was replaced",
            )
        frame = _read_parquet(data, name, path)
        rows = _get(entry, "rows", int, name)
        if frame.height != rows:
            raise _corrupt(path, f"{name} holds {frame.height} rows, expected {rows}")
        frames[name] = frame
    return frames


# -- what a metric is, as JSON ---------------------------------------------------------------


def _metric_to_dict(metric: Metric, names: Mapping[int, str]) -> dict[str, Any]:
    cls = type(metric)
    class_name = names.get(id(cls))
    if class_name is None:
        if _package_classes().get(cls.__name__) is not cls:
            raise TypeError(
                f"cannot save a {cls.__name__}: the class is defined outside "
                f"interactive_metrics (in {cls.__module__!r}), and a saved file names its "
                "class rather than holding code; pass "
                f"`custom_objects={{{cls.__name__!r}: {cls.__name__}}}` to both `save` and `load`"
            )
        class_name = cls.__name__
    dtype = metric._dtype
    config = {
        key: _encode_config(value, f"config[{key!r}]", names, cls.__name__)
        for key, value in metric.get_config().items()
    }
    compensation = getattr(metric, "_compensation", None)
    return {
        "class": class_name,
        "config": config,
        "step": metric._step,
        "state": _encode_state(metric._state, dtype),
        "compensation": None if compensation is None else _encode_state(compensation, dtype),
        "pending": None
        if metric._pending is None
        else {
            "updates": metric._updates_unrecorded,
            "batch": _encode_state(metric._pending, dtype),
        },
    }


def _metric_from_dict(
    data: Mapping[str, Any], frame: pl.DataFrame | None, objects: Mapping[str, Any], path: Path
) -> Metric:
    class_name = _get(data, "class", str, "metric")
    cls = objects.get(class_name)
    if cls is None:
        cls = _package_classes().get(class_name)
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise SavedFileError(
            f"cannot load {str(path)!r}: it holds a metric of class {class_name!r}, which is "
            "not a metric class of interactive_metrics; if you defined it, pass "
            f"`custom_objects={{{class_name!r}: {class_name}}}` to `load`"
        )
    config_data = _get(data, "config", dict, "metric")
    config = {
        key: _decode_config(value, f"config[{key!r}]", objects, path)
        for key, value in config_data.items()
    }
    try:
        with np.errstate(all="ignore"):
            metric = cls.from_config(config)
    except (TypeError, ValueError) as error:
        raise _corrupt(path, f"its configuration does not build a {class_name} ({error})") from None
    step = _get(data, "step", int, "metric")
    if step < 0:
        raise _corrupt(path, f"`step` must be >= 0, got {step!r}")
    state = _decode_state(_get(data, "state", dict, "metric"), metric, "state", path)
    compensation = data.get("compensation")
    if (compensation is None) != (getattr(metric, "_compensation", None) is None):
        raise _corrupt(path, "the compensation of its sums does not match its `summation`")
    if compensation is not None:
        if not isinstance(compensation, dict):
            raise _corrupt(path, f"`compensation` must be an object, got {compensation!r}")
        low = _decode_state(compensation, metric, "compensation", path, subset=True)
    pending = _get(data, "pending", (dict, type(None)), "metric")
    pending_batch = None
    updates = 0
    if pending is not None:
        updates = _get(pending, "updates", int, "pending")
        if not 1 <= updates < metric.history_every:
            raise _corrupt(path, f"`pending.updates` must be in [1, {metric.history_every})")
        pending_batch = _decode_state(
            _get(pending, "batch", dict, "pending"), metric, "pending", path
        )
    if (frame is None) != (metric._history is None):
        recorded = "records" if metric._history is not None else "does not record"
        raise _corrupt(
            path,
            f"its metric {recorded} a history, so a history file must be there exactly then",
        )
    # Everything is decoded and checked: only now is the new metric filled in.
    if frame is not None:
        metric._history = _restore_history(metric, frame, step, path)
    metric._state = state
    metric._step = step
    metric._pending = pending_batch
    metric._updates_unrecorded = updates
    if compensation is not None:
        metric._compensation = low
    return metric


def _restore_history(metric: Metric, frame: pl.DataFrame, step: int, path: Path) -> Any:
    buffer = metric._new_history()
    labels = None
    if frame.columns[2:3] == ["log_batch"]:  # a replayed history names each row's batch
        labels = frame.select("step", "log_batch").drop_nulls("log_batch")
        frame = frame.drop("log_batch")
    buffer.extend(*_history_arrays(metric, frame, step, path, HISTORY_FILE, strictly=True))
    if labels is not None:
        buffer.label_steps(labels["step"].to_numpy(), labels["log_batch"])
    return buffer


def _history_arrays(
    metric: Metric, frame: pl.DataFrame, step: int, path: Path, name: str, *, strictly: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A saved history as the ``(steps, events, rows)`` a :class:`HistoryBuffer` stores.

    ``frame`` must have the columns of ``metric.history`` exactly, steps within
    ``[1, step]`` that increase (``strictly``, one row per event) or never decrease
    (a Streams' history: one row per event and stream), and nulls only in the batch
    columns of resets.
    """
    expected = metric._new_history().frame().schema
    if frame.schema != expected:
        got = ", ".join(f"{k}: {v}" for k, v in frame.schema.items())
        want = ", ".join(f"{k}: {v}" for k, v in expected.items())
        raise _corrupt(path, f"{name} has columns ({got}), expected ({want})")
    buffer = metric._new_history()
    n = frame.height
    rows = np.empty((n, buffer.width), dtype=metric._dtype)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int8), rows
    steps = frame["step"].to_numpy()
    events = frame["event"].to_physical().to_numpy().astype(np.int8)
    nulls = {column: frame[column].is_null().to_numpy() for column in frame.columns}
    if nulls["step"].any() or nulls["event"].any():
        raise _corrupt(path, f"{name} has null steps or events")
    gaps = np.diff(steps)
    if steps[0] < 1 or steps[-1] > step or (gaps <= 0 if strictly else gaps < 0).any():
        how = "increase" if strictly else "never decrease"
        raise _corrupt(path, f"the steps in {name} must {how} within [1, {step}]")
    is_reset = events == RESET
    with np.errstate(all="ignore"):
        identity = metric._identity()
        empty_batch = {**{f"batch_{k}": v for k, v in identity.items()}}
        empty_batch["batch_result"] = metric.compute(identity)
    for column, _shape in buffer.columns:
        width = buffer.slices[column].stop - buffer.slices[column].start
        may_be_null = column in buffer.null_on_reset
        if not np.array_equal(
            nulls[column], is_reset if may_be_null else np.zeros(n, bool)
        ) or _null_count(frame[column].drop_nulls()):
            raise _corrupt(path, f"column {column!r} of {name} has nulls where it cannot")
        block = rows[:, buffer.slices[column]]
        values = frame[column]
        if may_be_null and is_reset.any():
            block[is_reset] = np.ravel(empty_batch[column])
            block[~is_reset] = values.filter(~pl.Series(is_reset)).to_numpy().reshape(-1, width)
        else:
            block[:] = values.to_numpy().reshape(n, width)
    return steps, events, rows


# -- what a Streams is: the merged metric as JSON, the streams and histories as Parquet -------


def _streams_to_files(streams: Streams, names: Mapping[int, str]) -> tuple[dict[str, Any], Files]:
    parts = streams._saved_parts()
    metric: Metric = parts["metric"]
    columns = [
        _key_column(parts["keys"]),
        pl.Series("weight", parts["weight"]),
        pl.Series("events", parts["events"], dtype=pl.Int64),
        *(pl.Series(f"running_{name}", value) for name, value in parts["state"].items()),
    ]
    if parts["pending"] is not None:  # history_every > 1: each stream's held-back batches
        touched, held = parts["pending"]
        columns.append(pl.Series("pending", touched, dtype=pl.Boolean))
        columns += [pl.Series(f"pending_{name}", value) for name, value in held.items()]
    table = pl.DataFrame(columns)
    frames = {STREAMS_FILE: table}
    if parts["history"] is not None:
        frames[HISTORY_FILE] = parts["history"]
    if metric._history is not None:
        frames[MERGED_HISTORY_FILE] = metric.history
    body = {
        "metric": _metric_to_dict(metric, names),
        "null_stream": _encode_null_stream(parts["null_stream"]),
        "step": parts["step"],
        "count": table.height,
    }
    files = {name: _parquet_bytes(frame) for name, frame in frames.items()}
    payload = {
        "format": FORMAT_NAME,
        "schema_version": _KIND_VERSIONS["streams"],
        "kind": "streams",
        "streams": body,
        "files": {name: _describe(frames[name], data) for name, data in files.items()},
    }
    return payload, files


def _key_column(keys: list[Any]) -> pl.Series:
    """The stream keys as the Parquet column they are saved in, or a TypeError.

    The column must read back as keys equal to these, of the same Python type
    (numpy scalars come back as their Python value), in the same polars dtype.
    """
    remedy = (
        "a saved Streams keeps its keys in one Parquet column; use keys of one type "
        "(strings, integers, dates, ...), e.g. convert them with str() before updating"
    )
    try:
        column = pl.Series("stream", keys)
        back = pl.read_parquet(io.BytesIO(_parquet_bytes(column.to_frame())))["stream"]
        again = back.to_list()
        same_dtype = pl.Series("stream", again).dtype == column.dtype == back.dtype
    except Exception as error:
        types = ", ".join(sorted({type(key).__name__ for key in keys}))
        why = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TypeError(
            f"cannot save a Streams whose keys polars cannot store in one column (keys of "
            f"type {types}: {why}); {remedy}"
        ) from None
    for key, loaded in zip(keys, again, strict=True):
        if not _same_key(key, loaded):
            raise TypeError(
                f"cannot save a Streams with the key {key!r} (type {type(key).__name__}): in a "
                f"{column.dtype} column it would come back as {loaded!r} (type "
                f"{type(loaded).__name__}); {remedy}"
            )
    if not same_dtype:
        raise TypeError(
            f"cannot save a Streams whose keys are {column.dtype}: they would come back as "
            f"{pl.Series('stream', again).dtype}; {remedy}"
        )
    return column


def _same_key(key: Any, loaded: Any) -> bool:
    if isinstance(key, np.generic):
        key = key.item()
    try:
        return type(loaded) is type(key) and bool(loaded == key) and hash(loaded) == hash(key)
    except Exception:
        return False


def _encode_null_stream(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise TypeError(
        f"cannot save a Streams whose `null_stream` is {value!r} (type {type(value).__name__}); "
        "a saved `null_stream` must be a string, an integer, a finite float, a bool or None"
    )


def _streams_from_dict(
    data: Mapping[str, Any],
    frames: Mapping[str, pl.DataFrame],
    objects: Mapping[str, Any],
    path: Path,
) -> Streams:
    if (MERGED_HISTORY_FILE in frames) != (HISTORY_FILE in frames):
        raise _corrupt(path, f"it holds one of {HISTORY_FILE} and {MERGED_HISTORY_FILE} only")
    metric_data = _get(data, "metric", dict, "streams")
    metric = _metric_from_dict(metric_data, frames.get(MERGED_HISTORY_FILE), objects, path)
    step = _get(data, "step", int, "streams")
    if step != metric._step:
        raise _corrupt(path, f"`streams.step` is {step!r}, its merged metric's {metric._step}")
    if "null_stream" not in data:
        raise _corrupt(path, "`streams.null_stream` is missing")
    null_stream = data["null_stream"]
    if not (null_stream is None or isinstance(null_stream, (str, int, float))):
        raise _corrupt(path, f"`streams.null_stream` must be a key or null, got {null_stream!r}")
    count = _get(data, "count", int, "streams")
    table = frames[STREAMS_FILE]
    if table.height != count:
        raise _corrupt(path, f"{STREAMS_FILE} holds {table.height} streams, expected {count}")
    keys, weight, events, state, pending = _decode_streams_table(table, metric, step, path)
    history = None
    if HISTORY_FILE in frames:
        history = _decode_stream_history(frames[HISTORY_FILE], metric, keys, events, step, path)
    # Everything is decoded and checked: only now is the Streams built.
    try:
        return Streams._from_saved_parts(
            metric,
            null_stream=null_stream,
            step=step,
            keys=keys,
            weight=weight,
            events=events,
            state=state,
            pending=pending,
            history=history,
        )
    except (TypeError, ValueError) as error:
        raise _corrupt(path, f"its parts do not make a Streams ({error})") from None


def _decode_streams_table(table: pl.DataFrame, metric: Metric, step: int, path: Path) -> Any:
    """``(keys, weight, events, state, pending)`` from ``streams.parquet``, checked."""
    value_dtype = pl.DataFrame([pl.Series("x", np.zeros(0, metric._dtype))]).schema["x"]
    shaped = {
        f.name: pl.Array(value_dtype, f.shape) if f.shape else value_dtype for f in metric._fields
    }
    expected: dict[str, Any] = {"weight": value_dtype, "events": pl.Int64}
    expected.update({f"running_{name}": dtype for name, dtype in shaped.items()})
    held = "pending" in table.columns
    if held:
        expected["pending"] = pl.Boolean
        expected.update({f"pending_{name}": dtype for name, dtype in shaped.items()})
    got = dict(table.schema)
    key_dtype = got.pop("stream", None)
    if key_dtype is None or table.columns[0] != "stream" or got != expected:
        shown = ", ".join(f"{k}: {v}" for k, v in table.schema.items())
        want = ", ".join(f"{k}: {v}" for k, v in {"stream": "<keys>", **expected}.items())
        raise _corrupt(path, f"{STREAMS_FILE} has columns ({shown}), expected ({want})")
    if any(_null_count(table[name]) for name in table.columns):
        raise _corrupt(path, f"{STREAMS_FILE} has nulls")
    keys = _decode_keys(table["stream"], path)
    k = len(keys)
    weight = table["weight"].to_numpy().astype(metric._dtype, copy=False)
    events = table["events"].to_numpy()
    if k and (events.min() < 0 or events.max() > step):
        raise _corrupt(path, f"the event counts in {STREAMS_FILE} must be within [0, {step}]")

    def numbers(prefix: str) -> dict[str, np.ndarray]:
        return {
            f.name: table[f"{prefix}{f.name}"]
            .to_numpy()
            .astype(metric._dtype, copy=False)
            .reshape(k, *f.shape)
            for f in metric._fields
        }

    pending = (table["pending"].to_numpy(), numbers("pending_")) if held else None
    return keys, weight, events, numbers("running_"), pending


def _null_count(column: pl.Series) -> int:
    """Nulls in a column, counting those inside ``Array`` values (numpy would read them as NaN)."""
    while isinstance(column.dtype, pl.Array):
        column = column.explode()
    return column.null_count()


def _decode_keys(column: pl.Series, path: Path) -> list[Any]:
    """The saved stream keys: distinct, hashable, and of the dtype they were saved in."""
    keys = column.to_list()
    if not keys:
        return keys
    try:
        distinct = len(set(keys)) == len(keys) and all(key == key for key in keys)
        dtype = pl.Series("stream", keys).dtype
    except Exception:
        raise _corrupt(path, f"the keys in {STREAMS_FILE} ({column.dtype}) are not keys") from None
    if not distinct:
        raise _corrupt(path, f"the keys in {STREAMS_FILE} repeat (or are NaN)")
    if dtype != column.dtype:
        raise _corrupt(path, f"the keys in {STREAMS_FILE} ({column.dtype}) read back as {dtype}")
    return keys


def _decode_stream_history(
    frame: pl.DataFrame,
    metric: Metric,
    keys: list[Any],
    events_seen: np.ndarray,
    step: int,
    path: Path,
) -> tuple[np.ndarray, ...]:
    """The per-stream history as ``(steps, events, rows, codes, stream_steps)``.

    ``codes`` index ``keys``; ``stream_steps`` (the last column) number each row
    among its stream's events.
    """
    key_series = pl.Series("stream", keys)
    schema = frame.schema
    if (
        frame.columns[2:3] != ["stream"]
        or schema["stream"] != key_series.dtype
        or frame.columns[-1] != "stream_step"
        or schema["stream_step"] != pl.Int64
    ):
        shown = ", ".join(f"{k}: {v}" for k, v in schema.items())
        raise _corrupt(
            path,
            f"{HISTORY_FILE} has columns ({shown}), expected a third column 'stream' of "
            f"the keys' dtype {key_series.dtype} and a last column 'stream_step: Int64'",
        )
    steps, events, rows = _history_arrays(
        metric, frame.drop("stream", "stream_step"), step, path, HISTORY_FILE, strictly=False
    )
    if frame.height == 0:
        return steps, events, rows, np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64)
    lookup = pl.DataFrame([key_series, pl.Series("code", np.arange(len(keys), dtype=np.int64))])
    codes = frame.select("stream").join(lookup, on="stream", how="left", maintain_order="left")
    if codes.height != frame.height or codes["code"].null_count():
        raise _corrupt(path, f"{HISTORY_FILE} names streams that {STREAMS_FILE} does not hold")
    code = codes["code"].to_numpy().astype(np.intp)
    own = frame["stream_step"]
    if own.null_count():
        raise _corrupt(path, f"`stream_step` in {HISTORY_FILE} has nulls")
    own_steps = own.to_numpy()
    if not ((own_steps >= 1) & (own_steps <= events_seen[code])).all():
        raise _corrupt(
            path, f"`stream_step` in {HISTORY_FILE} must be within [1, its stream's events]"
        )
    by_stream = np.lexsort((np.arange(len(code)), code))  # each stream's rows, in order
    same = code[by_stream][1:] == code[by_stream][:-1]
    for numbers in (steps, own_steps):
        if (np.diff(numbers[by_stream])[same] <= 0).any():
            raise _corrupt(
                path, f"the rows of a stream in {HISTORY_FILE} must have increasing steps"
            )
    return steps, events, rows, code, own_steps


# -- numbers, bit for bit --------------------------------------------------------------------


def _encode_number(value: Any, dtype: np.dtype[Any]) -> float | str:
    number = dtype.type(value)
    if np.isfinite(number):
        return float(number)
    if np.isinf(number):
        return "inf" if number > 0 else "-inf"
    bits = int(np.asarray(number).view(f"u{dtype.itemsize}"))
    return f"nan:0x{bits:0{2 * dtype.itemsize}x}"


def _decode_number(value: Any, dtype: np.dtype[Any], where: str, path: Path) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = dtype.type(value)
        if math.isfinite(value) and float(number) == value:
            return number
    elif value in ("inf", "-inf"):
        return dtype.type(value)
    elif isinstance(value, str) and value.startswith("nan:0x"):
        try:
            bits = np.array(int(value[6:], 16), dtype=f"u{dtype.itemsize}")
        except (ValueError, OverflowError):
            bits = None
        if bits is not None:
            number = bits.view(dtype)[()]
            if np.isnan(number):
                return number
    raise _corrupt(path, f"{where} must be a {dtype.name} number, got {value!r}")


def _encode_state(state: Mapping[str, Any], dtype: np.dtype[Any]) -> dict[str, Any]:
    out = {}
    for name, value in state.items():
        array = np.asarray(value, dtype=dtype)
        flat = [_encode_number(x, dtype) for x in array.ravel()]
        out[name] = flat[0] if array.ndim == 0 else {"shape": list(array.shape), "values": flat}
    return out


def _decode_state(
    data: Mapping[str, Any], metric: Metric, where: str, path: Path, subset: bool = False
) -> dict[str, Any]:
    dtype = metric._dtype
    shapes = {f.name: f.shape for f in metric._fields}
    if subset:
        shapes = {name: shapes[name] for name in metric._compensation or ()}
    if set(data) != set(shapes):
        raise _corrupt(path, f"`{where}` has fields {sorted(data)}, expected {sorted(shapes)}")
    out = {}
    for name, shape in shapes.items():
        value = data[name]
        label = f"{where}[{name!r}]"
        if shape == ():
            out[name] = _decode_number(value, dtype, label, path)
            continue
        if not (
            isinstance(value, dict)
            and value.get("shape") == list(shape)
            and isinstance(value.get("values"), list)
            and len(value["values"]) == math.prod(shape)
        ):
            raise _corrupt(path, f"{label} must hold an array of shape {shape}")
        numbers = [_decode_number(x, dtype, label, path) for x in value["values"]]
        out[name] = np.array(numbers, dtype=dtype).reshape(shape)
    return out


# -- configuration ---------------------------------------------------------------------------


def _encode_config(value: Any, where: str, names: Mapping[int, str], owner: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else {"$float": str(float(value))}
    if isinstance(value, (list, tuple)):
        items = [_encode_config(v, f"{where}[{i}]", names, owner) for i, v in enumerate(value)]
        return items if isinstance(value, list) else {"$tuple": items}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {
            "$dict": {
                k: _encode_config(v, f"{where}[{k!r}]", names, owner) for k, v in value.items()
            }
        }
    if callable(value) and not isinstance(value, type):
        name = names.get(id(value))
        if name is None:
            label = getattr(value, "__name__", repr(value))
            raise TypeError(
                f"cannot save {where} of {owner}: the function {label!r} (from "
                f"{getattr(value, '__module__', None)!r}) is not part of interactive_metrics, and "
                "a saved file never holds code; save it by name with "
                f"`custom_objects={{{label!r}: {label}}}` and pass the same mapping to `load`"
            )
        return {"$function": name}
    raise TypeError(
        f"cannot save {where} of {owner}: {value!r} (type {type(value).__name__}) cannot be "
        "written as JSON; configure the metric with numbers, strings, lists or None"
    )


def _decode_config(value: Any, where: str, objects: Mapping[str, Any], path: Path) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode_config(v, where, objects, path) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$float" and inner in ("nan", "inf", "-inf"):
            return float(inner)
        if tag == "$tuple" and isinstance(inner, list):
            return tuple(_decode_config(v, where, objects, path) for v in inner)
        if tag == "$dict" and isinstance(inner, dict):
            return {k: _decode_config(v, where, objects, path) for k, v in inner.items()}
        if tag == "$function" and isinstance(inner, str):
            fn = objects.get(inner, _package_functions().get(inner))
            if fn is None or not callable(fn):
                raise SavedFileError(
                    f"cannot load {str(path)!r}: its {where} is the function {inner!r}, which is "
                    "not part of interactive_metrics; pass it by name: "
                    f"`load(path, custom_objects={{{inner!r}: <the function>}})`"
                )
            return fn
    raise _corrupt(path, f"{where} holds {value!r}, which is not a saved configuration value")


# -- the allow-lists -------------------------------------------------------------------------


def _package_classes() -> dict[str, type[Metric]]:
    """Every metric class exported by ``interactive_metrics``: the classes a file may name."""
    import interactive_metrics

    classes = {}
    for name in interactive_metrics.__all__:
        obj = getattr(interactive_metrics, name, None)
        if isinstance(obj, type) and issubclass(obj, Metric) and obj is not Metric:
            classes[name] = obj
    return classes


def _package_functions() -> dict[str, Callable[..., Any]]:
    """Public functions defined in ``interactive_metrics.metrics``, by qualified name."""
    from interactive_metrics import metrics

    functions: dict[str, Callable[..., Any]] = {}
    for name in getattr(metrics, "__all__", ()):
        obj = getattr(metrics, name, None)
        if inspect.isfunction(obj) and obj.__module__.startswith("interactive_metrics."):
            functions[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return functions


def _names_by_object(custom_objects: Mapping[str, Any] | None) -> dict[int, str]:
    names = {id(fn): name for name, fn in _package_functions().items()}
    for name, obj in (custom_objects or {}).items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"`custom_objects` keys must be non-empty strings, got {name!r}")
        if not callable(obj):
            raise TypeError(
                f"`custom_objects[{name!r}]` must be a metric class or a function, got {obj!r}"
            )
        names[id(obj)] = name
    return names


# -- files -----------------------------------------------------------------------------------


def _checksum(payload: Mapping[str, Any]) -> str:
    body = {k: v for k, v in payload.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _write(path: Path, members: Files) -> Path:
    import shutil
    import zipfile

    temporary = path.with_name(f".{path.name}.{os.urandom(8).hex()}.tmp")
    if path.suffix.lower() == ".zip":
        if path.is_dir():
            raise FileExistsError(f"`path` {str(path)!r} is a directory; pass a new .zip path")
        try:
            with zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED) as archive:
                for name, data in members.items():
                    archive.writestr(name, data)
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        return path
    if path.exists() and not (path.is_dir() and {p.name for p in path.iterdir()} <= set(_MEMBERS)):
        raise FileExistsError(
            f"`path` {str(path)!r} exists and is not a saved metric or Streams; pass a new "
            "path (a directory is written) or one ending in .zip"
        )
    temporary.mkdir(parents=True)
    try:
        for name, data in members.items():
            (temporary / name).write_bytes(data)
        if path.exists():
            old = path.with_name(f".{path.name}.{os.urandom(8).hex()}.old")
            path.rename(old)
            temporary.rename(path)
            shutil.rmtree(old)
        else:
            temporary.rename(path)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)
    return path


def _read(path: Path) -> tuple[bytes, set[str], Callable[[str], bytes | None]]:
    """``metric.json``, the names of the saved files present, and a reader of each."""
    import zipfile

    if path.is_dir():
        metadata_path = path / METADATA_FILE
        if not metadata_path.is_file():
            raise _corrupt(path, f"the directory holds no {METADATA_FILE}")
        if metadata_path.stat().st_size > _MAX_METADATA_BYTES:
            raise _corrupt(path, f"{METADATA_FILE} is too large to be metadata")
        present = {name for name in _MEMBERS if (path / name).is_file()}
        return (
            metadata_path.read_bytes(),
            present,
            lambda name: (path / name).read_bytes() if name in present else None,
        )
    if not path.exists():
        raise FileNotFoundError(f"`path` {str(path)!r} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            size = path.stat().st_size
            if METADATA_FILE not in infos or not set(infos) <= set(_MEMBERS):
                raise _corrupt(path, f"it holds {sorted(infos)}, expected {list(_MEMBERS)}")
            for info in infos.values():
                if info.compress_type != zipfile.ZIP_STORED or info.file_size > size:
                    raise _corrupt(path, f"{info.filename} is not stored as this package stores it")
            members = {name: archive.read(name) for name in infos}
    except SavedFileError:
        raise
    except Exception as error:  # zipfile raises many types on damaged archives
        why = f"it is not a readable zip archive ({type(error).__name__}: {error})"
        raise _corrupt(path, why) from None
    return members.pop(METADATA_FILE), set(members), members.get


def _parse_metadata(data: bytes, path: Path) -> dict[str, Any]:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    try:
        payload = json.loads(data.decode("utf-8"), parse_constant=refuse)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise _corrupt(path, f"{METADATA_FILE} is not valid JSON ({error})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise _corrupt(
            path, f"{METADATA_FILE} does not describe a saved interactive_metrics object"
        )
    if payload.get("checksum") != _checksum(payload):
        raise _corrupt(
            path,
            f"{METADATA_FILE} does not match its checksum: it was changed after it was saved",
        )
    version = payload.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _corrupt(path, f"`schema_version` must be an integer >= 1, got {version!r}")
    if version > SCHEMA_VERSION:
        raise SavedFileError(
            f"cannot load {str(path)!r}: it was written by a newer interactive_metrics (schema "
            f"version {version}; this version reads up to {SCHEMA_VERSION}); upgrade "
            "interactive_metrics to load it"
        )
    return payload


def _read_parquet(data: bytes, name: str, path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(io.BytesIO(data))
    except Exception as error:
        raise _corrupt(path, f"{name} is not readable Parquet ({error})") from None
    except pl.exceptions.PanicException as error:  # a BaseException raised from Rust
        raise _corrupt(path, f"{name} is not readable Parquet ({error})") from None


def _get(mapping: Mapping[str, Any], key: str, kind: Any, where: str) -> Any:
    value = mapping.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        label = f"{where}.{key}" if where else key
        raise SavedFileError(
            f"cannot load: `{label}` must be {names}, got {value!r}; the file is corrupt "
            "or was not written by `save`"
        )
    return value


def _corrupt(path: Path, why: str) -> SavedFileError:
    return SavedFileError(
        f"cannot load {str(path)!r}: {why}; it is not a complete, unchanged file written by "
        "`save` (save the metric or Streams again)"
    )
