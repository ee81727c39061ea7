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

A saved :class:`~interactive_metrics.MetricCollection` (kind ``"collection"``) has a
``metric.json`` that holds each member as above, under its name, and one
``history.parquet``: ``collection.history``, the members' columns side by side
(``loss/result``), from which each member's history is read back.

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

import errno
import hashlib
import inspect
import io
import json
import math
import os
import re
import stat
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from interactive_metrics.collection import SEPARATOR, MetricCollection
from interactive_metrics.metric import (
    RESET,
    Metric,
    Snapshot,
    StateTooLarge,
    allocation_bytes,
    state_limit,
)
from interactive_metrics.streams import Streams

Files = dict[str, bytes]

__all__ = ["MAX_LOAD_BYTES", "SCHEMA_VERSION", "SavedFileError", "load", "save"]

SCHEMA_VERSION = 3
"""The newest version of the saved layout this package reads.

A file records the lowest version that holds it: 1 for a metric, 2 for a
:class:`~interactive_metrics.Streams` (added in version 2), 3 for a
:class:`~interactive_metrics.MetricCollection` (added in version 3).
"""

FORMAT_NAME = "interactive_metrics"
METADATA_FILE = "metric.json"
HISTORY_FILE = "history.parquet"
STREAMS_FILE = "streams.parquet"
MERGED_HISTORY_FILE = "merged_history.parquet"
_MEMBERS = (METADATA_FILE, HISTORY_FILE, STREAMS_FILE, MERGED_HISTORY_FILE)
_KIND_VERSIONS = {"metric": 1, "streams": 2, "collection": 3}
_MAX_METADATA_BYTES = 64 * 2**20
_MAX_NESTING = 64  # lists and objects in metric.json: a configuration nests a few deep
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_MAX_STEP = 2**62  # a step far beyond any run, with room to count on without wrapping

MAX_LOAD_BYTES = 2 * 2**30
"""The most memory (2 GiB) :func:`load` lets a file ask for, unless ``max_bytes`` says more.

What a file asks for is read from it before anything is allocated: the state its
configuration declares (a ``ConfusionMatrix(num_classes=n)`` holds ``n * n`` numbers),
and the rows, columns and uncompressed sizes the footers of its Parquet files declare.
"""


class SavedFileError(ValueError):
    """A saved metric that cannot be loaded: corrupt, truncated, edited, or from a newer version.

    Every failure of :func:`load` is this error (or, when nothing exists at the path, a
    subclass that is also a :class:`FileNotFoundError`); an unexpected error inside
    ``load`` is chained to it as ``__cause__``.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> issubclass(im.io.SavedFileError, ValueError)
    True
    """


class _NotFound(SavedFileError, FileNotFoundError):
    """Nothing exists at the path given to :func:`load`."""


# -- public API ------------------------------------------------------------------------------


def save(
    metric: Metric | Streams | MetricCollection,
    path: str | os.PathLike[str],
    *,
    custom_objects: Mapping[str, Any] | None = None,
) -> Path:
    """Save a metric's (or a Streams') configuration, state and full history to ``path``.

    Parameters
    ----------
    metric : Metric, Streams or MetricCollection
        Any metric of this package, or of a class passed in ``custom_objects``; or
        a :class:`~interactive_metrics.Streams` of such a metric; or a
        :class:`~interactive_metrics.MetricCollection` of such metrics.
    path : str or path-like
        A path ending in ``.zip`` writes one file; any other path writes a
        directory holding ``metric.json`` and the Parquet files. An earlier save
        at ``path`` is replaced, so that at every instant (even if the process is
        killed) either the earlier or the new save loads from ``path``; anything
        else at ``path`` is never replaced. A symbolic link is followed: the save
        it points to is replaced.
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
    ValueError
        When something other than an earlier save is at ``path`` (a directory with
        other files, a Parquet dataset, a file that is not a saved ``.zip``); when
        what was written does not load back (the metric changed while it was being
        saved), in which case an earlier save at ``path`` is kept; and in a process
        made by ``fork()`` after polars' threads started in its parent (use the
        ``"spawn"`` or ``"forkserver"`` start method).
    OSError
        When the file system refuses (no permission, no space); an earlier save at
        ``path`` is then kept.

    Notes
    -----
    Before it reports success, ``save`` reads back what it wrote with every check
    of :func:`load`.

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
    _refuse_in_forked_child("save")
    names = _names_by_object(custom_objects)
    if isinstance(metric, MetricCollection):
        payload, files = _collection_to_files(metric, names)
    elif not isinstance(metric, (Metric, Streams)):
        raise TypeError(
            "`metric` must be an interactive_metrics Metric, Streams or MetricCollection, "
            f"got {metric!r}"
        )
    else:
        with metric.lock:  # state, step and history as of one event, whatever threads do
            if isinstance(metric, Streams):
                payload, files = _streams_to_files(metric, names)
            else:
                payload, files = _metric_to_files(metric, names)
    payload["checksum"] = _checksum(payload)
    metadata = json.dumps(payload, indent=1, allow_nan=False).encode()
    objects = dict(custom_objects or {})

    def verify(written: Path) -> None:
        _load_from(written, objects, math.inf, written)

    return _write(Path(path), {METADATA_FILE: metadata, **files}, verify)


def load(
    path: str | os.PathLike[str],
    *,
    custom_objects: Mapping[str, Any] | None = None,
    max_bytes: float = MAX_LOAD_BYTES,
) -> Metric | Streams | MetricCollection:
    """Load a metric, Streams or MetricCollection written by :func:`save`, history included.

    Parameters
    ----------
    path : str or path-like
        A directory or ``.zip`` file written by :func:`save`.
    custom_objects : mapping of str to class or function, optional
        The same names given to :func:`save` for classes and functions that are not
        part of this package.
    max_bytes : int or float, default MAX_LOAD_BYTES (2 GiB)
        The most memory the file may ask for: the state its configuration declares
        and the decoded size of its Parquet files, both read from the file before
        anything is allocated. Raise it (``math.inf`` for no limit) to load a larger
        save you trust; peak memory while loading is a small multiple of this.

    Returns
    -------
    Metric, Streams or MetricCollection
        What was saved: same class, configuration, state (bit for bit), step and
        history (for a Streams: the same streams, keys, per-stream states and both
        histories; for a collection: every member so); later updates and merges
        continue exactly as on the original.

    Raises
    ------
    SavedFileError
        For every failure, saying what is wrong: the file is not a saved metric, is
        corrupt, truncated or edited, asks for more memory than ``max_bytes``, is not
        a regular file (a FIFO, a device, a link inside a saved directory), was
        written by a newer version of this package, or names a class or function
        that is neither part of this package nor in ``custom_objects``. When nothing
        exists at ``path`` the error is also a :class:`FileNotFoundError`.
    TypeError, ValueError
        For a ``max_bytes`` that is not a positive number; ``ValueError`` in a process
        made by ``fork()`` after polars' threads started in its parent.

    Notes
    -----
    A save that was interrupted (the process killed while it replaced an earlier
    save) is finished first: whichever complete save it left is moved back to
    ``path``, and what it left beside ``path`` is deleted.

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
    _refuse_in_forked_child("load")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, float)):
        raise TypeError(f"`max_bytes` must be a number of bytes, got {max_bytes!r}")
    if not max_bytes > 0:
        raise ValueError(f"`max_bytes` must be > 0, got {max_bytes!r}; math.inf sets no limit")
    objects = dict(custom_objects or {})
    path = Path(path)
    try:
        return _load_from(_settle(_real(path), reading=True), objects, max_bytes, path)
    except SavedFileError:
        raise
    except RecursionError as error:
        raise _corrupt(path, "it nests too deeply to be read") from error
    except MemoryError as error:
        raise _too_large(path, "it needs more memory than there is", max_bytes) from error
    except Exception as error:  # whatever else a damaged file provokes: one error type
        raise _corrupt(path, f"reading it failed ({type(error).__name__}: {error})") from error


def _load_from(
    path: Path, objects: Mapping[str, Any], max_bytes: float, shown: Path
) -> Metric | Streams | MetricCollection:
    """What :func:`load` does once ``path`` is settled; errors name ``shown``."""
    try:
        metadata, present, read = _read(path, max_bytes)
    except SavedFileError as error:
        if path == shown:
            raise
        raise type(error)(str(error).replace(repr(str(path)), repr(str(shown)), 1)) from None
    path = shown
    budget = _Budget(max_bytes, path)
    payload = _parse_metadata(metadata, path)
    kind = _get(payload, "kind", str, "")
    needed = _KIND_VERSIONS.get(kind)
    if needed is None:
        raise _corrupt(path, f"it holds a {kind!r}; this version loads {sorted(_KIND_VERSIONS)}")
    if payload["schema_version"] < needed:
        raise _corrupt(path, f"a {kind!r} needs schema version {needed} or later")
    if kind == "metric":
        history = _get(payload, "history", (dict, type(None)), "")
        listed = {} if history is None else {HISTORY_FILE: history}
        files = _read_members(listed, present, read, path)
        data = _get(payload, "metric", dict, "")
        return _metric_from_dict(data, files.get(HISTORY_FILE), objects, path, budget)
    if kind == "collection":
        history = _get(payload, "history", (dict, type(None)), "")
        listed = {} if history is None else {HISTORY_FILE: history}
        files = _read_members(listed, present, read, path)
        data = _get(payload, "collection", dict, "")
        return _collection_from_dict(data, files.get(HISTORY_FILE), objects, path, budget)
    listed = _get(payload, "files", dict, "")
    unknown = sorted(set(listed) - {STREAMS_FILE, HISTORY_FILE, MERGED_HISTORY_FILE})
    if unknown or STREAMS_FILE not in listed:
        raise _corrupt(path, f"`files` lists {sorted(listed)}, which must include {STREAMS_FILE}")
    files = _read_members(listed, present, read, path)
    return _streams_from_dict(_get(payload, "streams", dict, ""), files, objects, path, budget)


def _metric_to_files(metric: Metric, names: Mapping[int, str]) -> tuple[dict[str, Any], Files]:
    files: Files = {}
    history = None
    if metric.records_history:
        frame = metric.history.drop(metric.derived_history_columns)
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


class _Member:
    """A Parquet file of a save: its bytes (checked against their digest) and its row count."""

    def __init__(self, name: str, data: bytes, rows: int) -> None:
        self.name = name
        self.data = data
        self.rows = rows

    def frame(self, path: Path, budget: _Budget, row_bytes: int) -> pl.DataFrame:
        return _read_frame(self.data, self.name, path, budget, self.rows, row_bytes)


def _read_members(
    listed: Mapping[str, Any],
    present: set[str],
    read: Callable[[str], bytes | None],
    path: Path,
) -> dict[str, _Member]:
    """The Parquet files ``metric.json`` lists, each checked against its digest (not yet read)."""
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
        rows = _get(entry, "rows", int, name)
        if rows < 0:
            raise _corrupt(path, f"the row count of {name} must be >= 0, got {rows!r}")
        frames[name] = _Member(name, data, rows)
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
    dtype = metric.engine.dtype
    config = {
        key: _encode_config(value, f"config[{key!r}]", names, cls.__name__)
        for key, value in metric.get_config().items()
    }
    snap = metric.snapshot()
    compensation = snap.compensation
    return {
        "class": class_name,
        "config": config,
        "step": snap.step,
        "state": _encode_state(snap.state, dtype),
        "compensation": None if compensation is None else _encode_state(compensation, dtype),
        "pending": None
        if snap.pending is None
        else {
            "updates": snap.pending_updates,
            "batch": _encode_state(snap.pending, dtype),
        },
    }


def _metric_from_dict(
    data: Mapping[str, Any],
    history: _Member | pl.DataFrame | None,
    objects: Mapping[str, Any],
    path: Path,
    budget: _Budget,
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
    try:  # Metric.__init__ checks the declared shapes against the budget before allocating
        with state_limit(budget.left), np.errstate(all="ignore"):
            metric = cls.from_config(config)
    except StateTooLarge as error:
        shapes = ", ".join(f"{name} {shape}" for name, shape in error.shapes.items())
        declares = f"its configuration declares a {class_name} of {error.numbers} numbers"
        budget.take(error.nbytes, declares + (f" ({shapes})" if shapes else ""))
        raise  # pragma: no cover - take() raised: the error's nbytes are over budget.left
    except (TypeError, ValueError) as error:
        raise _corrupt(path, f"its configuration does not build a {class_name} ({error})") from None
    numbers = sum(int(np.size(value)) for value in metric.state.values())
    budget.take(
        allocation_bytes(numbers, np.dtype(metric.dtype).itemsize, config.get("history", True)),
        f"its configuration declares a {class_name} of {numbers} numbers",
    )
    step = _get(data, "step", int, "metric")
    if not 0 <= step <= _MAX_STEP:
        raise _corrupt(path, f"`step` must be within [0, 2**62], got {step!r}")
    state = _decode_state(_get(data, "state", dict, "metric"), metric, "state", path)
    compensation = data.get("compensation")
    if (compensation is None) != (metric.summation != "kahan"):
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
    if (history is None) != (not metric.records_history):
        recorded = "records" if metric.records_history else "does not record"
        raise _corrupt(
            path,
            f"its metric {recorded} a history, so a history file must be there exactly then",
        )
    frame: pl.DataFrame | None
    if isinstance(history, _Member):
        frame = history.frame(path, budget, _history_row_bytes(metric))
    else:  # None, or a member's part of a collection's history (read, budget taken)
        frame = history
    # Everything is decoded and checked: only now is the new metric filled in.
    rows, labels = (None, None) if frame is None else _history_rows(metric, frame, step, path)
    snap = Snapshot(step, state, low if compensation is not None else None, pending_batch, updates)
    metric.restore(snap, rows, labels)
    return metric


def _history_row_bytes(metric: Metric, extra: int = 0) -> int:
    """The bytes one history row of ``metric`` takes decoded: its numbers, step and event."""
    return metric.engine.new_history().width * metric.engine.dtype.itemsize + 9 + extra


def _history_rows(
    metric: Metric, frame: pl.DataFrame, step: int, path: Path
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], pl.DataFrame | None]:
    """A saved history as ``(steps, events, rows)`` arrays, and its ``log_batch`` labels."""
    labels = None
    if frame.columns[2:3] == ["log_batch"]:  # a replayed history names each row's batch
        labels = frame.select("step", "log_batch").drop_nulls("log_batch")
        frame = frame.drop("log_batch")
    return _history_arrays(metric, frame, step, path, HISTORY_FILE, strictly=True), labels


def _history_arrays(
    metric: Metric, frame: pl.DataFrame, step: int, path: Path, name: str, *, strictly: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A saved history as the ``(steps, events, rows)`` a :class:`HistoryBuffer` stores.

    ``frame`` must have the columns of ``metric.history`` exactly, steps within
    ``[1, step]`` that increase (``strictly``, one row per event) or never decrease
    (a Streams' history: one row per event and stream), and nulls only in the batch
    columns of resets.
    """
    expected = metric.engine.new_history().frame().schema
    if frame.schema != expected:
        got = ", ".join(f"{k}: {v}" for k, v in frame.schema.items())
        want = ", ".join(f"{k}: {v}" for k, v in expected.items())
        raise _corrupt(path, f"{name} has columns ({got}), expected ({want})")
    buffer = metric.engine.new_history()
    n = frame.height
    rows = np.empty((n, buffer.width), dtype=metric.engine.dtype)
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
        identity = metric.engine.identity()
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


# -- what a MetricCollection is: each member as JSON, the wide history as Parquet ------------


def _collection_to_files(
    collection: MetricCollection, names: Mapping[int, str]
) -> tuple[dict[str, Any], Files]:
    with ExitStack() as stack:  # every member as of one event
        for metric in sorted(collection.values(), key=id):
            stack.enter_context(metric.lock)
        members = [
            {"name": name, "metric": _metric_to_dict(metric, names)}
            for name, metric in collection.items()
        ]
        derived = [
            f"{name}{SEPARATOR}{column}"
            for name, metric in collection.items()
            for column in metric.derived_history_columns
        ]
        frame = collection.history.drop(derived, strict=False)
    files: Files = {}
    history = None
    if any(metric.records_history for metric in collection.values()):
        files[HISTORY_FILE] = _parquet_bytes(frame)
        history = {"file": HISTORY_FILE, **_describe(frame, files[HISTORY_FILE])}
    payload = {
        "format": FORMAT_NAME,
        "schema_version": _KIND_VERSIONS["collection"],
        "kind": "collection",
        "collection": {"members": members},
        "history": history,
    }
    return payload, files


def _member_history(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """A member's own history, cut out of a collection's wide history (rows it recorded)."""
    prefix = name + SEPARATOR
    own = [c for c in frame.columns if c.startswith(prefix)]
    labels = ["log_batch"] if "log_batch" in frame.columns else []
    if prefix + "log_batch" in own:
        own.remove(prefix + "log_batch")
        labels = [prefix + "log_batch"]
    part = frame.filter(pl.col(prefix + "result").is_not_null()) if own else frame.clear()
    return part.select(
        "step",
        "event",
        *(pl.col(c).alias("log_batch") for c in labels),
        *(pl.col(c).alias(c[len(prefix) :]) for c in own),
    )


def _collection_from_dict(
    data: Mapping[str, Any],
    history: _Member | None,
    objects: Mapping[str, Any],
    path: Path,
    budget: _Budget,
) -> MetricCollection:
    members = _get(data, "members", list, "collection")
    if not members:
        raise _corrupt(path, "`collection.members` is empty")
    entries = []
    for i, entry in enumerate(members):
        if not isinstance(entry, dict):
            raise _corrupt(path, f"`collection.members[{i}]` must be an object, got {entry!r}")
        name = _get(entry, "name", str, f"collection.members[{i}]")
        entries.append((name, _get(entry, "metric", dict, f"collection.members[{i}]")))
    names = [name for name, _ in entries]
    if len(set(names)) != len(names) or any(not n or SEPARATOR in n for n in names):
        raise _corrupt(path, f"`collection.members` has bad or repeated names {names}")
    frame = None
    if history is not None:
        row_bytes = 9 + 8 * len(entries)  # step, event, and at least a number per member
        frame = history.frame(path, budget, row_bytes)
        known = {"step", "event", "log_batch"}
        stray = [
            c for c in frame.columns if c not in known and c.split(SEPARATOR, 1)[0] not in names
        ]
        if frame.columns[:2] != ["step", "event"] or stray:
            raise _corrupt(path, f"{HISTORY_FILE} has columns it cannot hold: {stray[:8]}")
    built: dict[str, Metric] = {}
    for name, entry in entries:
        part = None
        if frame is not None and any(c.startswith(name + SEPARATOR) for c in frame.columns):
            part = _member_history(frame, name)
        built[name] = _metric_from_dict(entry, part, objects, path, budget)
    try:
        return MetricCollection(built)
    except (TypeError, ValueError) as error:
        raise _corrupt(path, f"its members do not make a MetricCollection ({error})") from None


# -- what a Streams is: the merged metric as JSON, the streams and histories as Parquet -------


def _streams_to_files(streams: Streams, names: Mapping[int, str]) -> tuple[dict[str, Any], Files]:
    parts = streams.snapshot()
    metric: Metric = parts["metric"]
    key_names = parts["key_names"]
    columns = [
        _key_column(parts["keys"], key_names),
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
        frames[HISTORY_FILE] = _one_key_column(parts["history"], key_names)
    if metric.records_history:
        frames[MERGED_HISTORY_FILE] = metric.history.drop(metric.derived_history_columns)
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


def _one_key_column(history: pl.DataFrame, key_names: tuple[str, ...] | None) -> pl.DataFrame:
    """A per-stream history with the parts of composite keys folded into one struct ``stream``."""
    if key_names is None:
        return history
    folded = history.with_columns(pl.struct(list(key_names)).alias("stream")).drop(key_names)
    return folded.select("step", "event", "stream", *folded.columns[2:-1])


def _key_column(keys: list[Any], key_names: tuple[str, ...] | None = None) -> pl.Series:
    """The stream keys as the Parquet column they are saved in, or a TypeError.

    The column must read back as keys equal to these, of the same Python type
    (numpy scalars come back as their Python value), in the same polars dtype.
    Composite keys are a struct column, a field per part, each part checked so.
    """
    if key_names is not None:
        parts = list(zip(*keys, strict=True)) if keys else [()] * len(key_names)
        named = zip(key_names, parts, strict=True)
        fields = [_key_column(list(part)).alias(name) for name, part in named]
        return pl.DataFrame(fields).to_struct("stream")
    remedy = (
        "a saved Streams keeps its keys in one Parquet column; use keys of one type "
        "(strings, integers, dates, ...), e.g. convert them with str() before updating"
    )
    if not keys:  # as the history's (empty) key column: String
        return pl.Series("stream", [], dtype=pl.String)
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
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, int) and _INT64_MIN <= value <= _INT64_MAX:
        return value
    raise TypeError(
        f"cannot save a Streams whose `null_stream` is {value!r} (type {type(value).__name__}); "
        "a saved `null_stream` must be a string, an integer within int64, a finite float, "
        "a bool or None"
    )


def _streams_from_dict(
    data: Mapping[str, Any],
    files: Mapping[str, _Member],
    objects: Mapping[str, Any],
    path: Path,
    budget: _Budget,
) -> Streams:
    if (MERGED_HISTORY_FILE in files) != (HISTORY_FILE in files):
        raise _corrupt(path, f"it holds one of {HISTORY_FILE} and {MERGED_HISTORY_FILE} only")
    metric_data = _get(data, "metric", dict, "streams")
    metric = _metric_from_dict(metric_data, files.get(MERGED_HISTORY_FILE), objects, path, budget)
    step = _get(data, "step", int, "streams")
    if step != metric.step:
        raise _corrupt(path, f"`streams.step` is {step!r}, its merged metric's {metric.step}")
    if "null_stream" not in data:
        raise _corrupt(path, "`streams.null_stream` is missing")
    null_stream = data["null_stream"]
    if not (null_stream is None or isinstance(null_stream, (str, int, float))):
        raise _corrupt(path, f"`streams.null_stream` must be a key or null, got {null_stream!r}")
    count = _get(data, "count", int, "streams")
    member = files[STREAMS_FILE]
    if member.rows != count:
        raise _corrupt(path, f"{STREAMS_FILE} holds {member.rows} streams, expected {count}")
    numbers = sum(math.prod(f.shape) for f in metric.engine.fields)
    table = member.frame(path, budget, (2 * numbers + 2) * metric.engine.dtype.itemsize + 24)
    keys, key_names, weight, events, state, pending = _decode_streams_table(
        table, metric, step, path
    )
    history = None
    if HISTORY_FILE in files:
        frame = files[HISTORY_FILE].frame(path, budget, _history_row_bytes(metric, 32))
        history = _decode_stream_history(frame, metric, table["stream"], events, step, path)
    # Everything is decoded and checked: only now is the Streams built.
    try:
        return Streams.from_snapshot(
            metric,
            null_stream=null_stream,
            step=step,
            keys=keys,
            weight=weight,
            events=events,
            state=state,
            pending=pending,
            history=history,
            key_names=key_names,
        )
    except (TypeError, ValueError) as error:
        raise _corrupt(path, f"its parts do not make a Streams ({error})") from None


def _decode_streams_table(table: pl.DataFrame, metric: Metric, step: int, path: Path) -> Any:
    """``(keys, weight, events, state, pending)`` from ``streams.parquet``, checked."""
    engine = metric.engine
    value_dtype = pl.DataFrame([pl.Series("x", np.zeros(0, engine.dtype))]).schema["x"]
    shaped = {
        f.name: pl.Array(value_dtype, f.shape) if f.shape else value_dtype for f in engine.fields
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
    keys, key_names = _decode_keys(table["stream"], path)
    k = len(keys)
    weight = table["weight"].to_numpy().astype(engine.dtype, copy=False)
    events = table["events"].to_numpy()
    if k and (events.min() < 0 or events.max() > step):
        raise _corrupt(path, f"the event counts in {STREAMS_FILE} must be within [0, {step}]")

    def numbers(prefix: str) -> dict[str, np.ndarray]:
        return {
            f.name: table[f"{prefix}{f.name}"]
            .to_numpy()
            .astype(engine.dtype, copy=False)
            .reshape(k, *f.shape)
            for f in engine.fields
        }

    pending = (table["pending"].to_numpy(), numbers("pending_")) if held else None
    return keys, key_names, weight, events, numbers("running_"), pending


def _null_count(column: pl.Series) -> int:
    """Nulls in a column, counting those inside ``Array`` values (numpy would read them as NaN)."""
    while isinstance(column.dtype, pl.Array):
        column = column.explode()
    return column.null_count()


def _decode_keys(column: pl.Series, path: Path) -> tuple[list[Any], tuple[str, ...] | None]:
    """The saved stream keys (distinct, hashable, of the dtype they were saved in), part names.

    Composite keys are saved as a struct column: they come back as tuples, with the
    names of the parts (None for simple keys).
    """
    if isinstance(column.dtype, pl.Struct):
        frame = column.struct.unnest()
        if not frame.width:
            raise _corrupt(path, f"the composite keys in {STREAMS_FILE} have no parts")
        parts = [_decoded_part(frame[name], path) for name in frame.columns]
        keys = list(zip(*parts, strict=True))
        if len(set(keys)) != len(keys):
            raise _corrupt(path, f"the keys in {STREAMS_FILE} repeat (or are NaN)")
        return keys, tuple(frame.columns)
    return _decoded_part(column, path, distinct=True), None


def _decoded_part(column: pl.Series, path: Path, distinct: bool = False) -> list[Any]:
    """One column of saved keys, checked: hashable, of the dtype it was saved in."""
    keys = column.to_list()
    if not keys:
        return keys
    try:
        unique = len(set(keys)) == len(keys) or not distinct
        unique = unique and all(key == key for key in keys)
        dtype = pl.Series("stream", keys).dtype
    except Exception:
        raise _corrupt(path, f"the keys in {STREAMS_FILE} ({column.dtype}) are not keys") from None
    if not unique:
        raise _corrupt(path, f"the keys in {STREAMS_FILE} repeat (or are NaN)")
    if dtype != column.dtype:
        raise _corrupt(path, f"the keys in {STREAMS_FILE} ({column.dtype}) read back as {dtype}")
    return keys


def _decode_stream_history(
    frame: pl.DataFrame,
    metric: Metric,
    key_series: pl.Series,
    events_seen: np.ndarray,
    step: int,
    path: Path,
) -> tuple[np.ndarray, ...]:
    """The per-stream history as ``(steps, events, rows, codes, stream_steps)``.

    ``codes`` index ``keys``; ``stream_steps`` (the last column) number each row
    among its stream's events.
    """
    keys = key_series
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
        with np.errstate(all="ignore"):  # a number beyond float16: inf, refused below
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
    dtype = metric.engine.dtype
    shapes = {f.name: f.shape for f in metric.engine.fields}
    if subset:  # the compensation of summation="kahan": one per sum field
        sums = [f.name for f in metric.engine.fields if f.reduce == "sum"]
        shapes = {name: shapes[name] for name in sums if metric.summation == "kahan"}
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
#
# A directory save is replaced by this protocol (``H`` is ``<pid>-<16 hex digits>``, one per
# save; every step is followed by an fsync of what it changed):
#
# 1. write the new save into ``.NAME.H.tmp`` beside ``NAME`` and read it back (:func:`load`'s
#    checks); a ``.tmp`` is never more than a draft;
# 2. rename it to ``.NAME.H.new``: a ``.new`` is always a complete, checked save;
# 3. if ``NAME`` exists, rename it to ``.NAME.H.old``;
# 4. rename ``.NAME.H.new`` to ``NAME``;
# 5. delete ``.NAME.H.old``.
#
# Between 3 and 4 nothing is at ``NAME``. Before reading or writing ``NAME``, ``load`` and
# ``save`` first settle what an earlier, interrupted save left (:func:`_settle`): if nothing
# is at ``NAME``, the newest ``.new`` is renamed into place (or, without one, the newest
# ``.old``); then, once ``NAME`` holds a save, the leftovers of saves whose process has
# ended are deleted. So at every instant a complete save loads from ``NAME``: the old one
# until step 4, the new one from then on. A ``.zip`` is written to ``.NAME.H.tmp``, read
# back, then renamed over ``NAME`` in one step.

_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?:(?P<pid>\d+)-)?[0-9a-f]{16}\.(?P<kind>tmp|new|old)")
_IN_FLIGHT: set[str] = set()  # the leftover names of saves running in this process
_EARLIER_SAVE_BYTES = 64 * 2**20  # the most of a metric.json read to see whether it is ours


def _checksum(payload: Mapping[str, Any]) -> str:
    body = {k: v for k, v in payload.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _reached(step: str) -> None:
    """Mark a step of a save (a no-op: tests end a process here to check crash safety)."""


def _real(path: Path) -> Path:
    """``path`` with its symbolic links resolved: a save replaces what a link points to."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


def _write(path: Path, members: Files, verify: Callable[[Path], object]) -> Path:
    """Write ``members`` at ``path`` (a ``.zip`` or a directory), check them, then swap them in."""
    real = _real(path)
    tag = f"{os.getpid()}-{os.urandom(8).hex()}"
    temporary = real.with_name(f".{real.name}.{tag}.tmp")
    _IN_FLIGHT.add(temporary.name)
    try:
        if path.suffix.lower() == ".zip":
            _write_zip(real, temporary, members, verify)
        else:
            _write_directory(real, temporary, tag, members, verify)
    finally:
        _IN_FLIGHT.discard(temporary.name)
    return path


def _write_zip(
    path: Path, temporary: Path, members: Files, verify: Callable[[Path], object]
) -> None:
    import zipfile

    _settle(path)
    if os.path.lexists(path):
        _refuse_unless_earlier_save(path, zipped=True)
    try:
        with open(temporary, "xb") as file:
            with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
                for name, data in members.items():
                    archive.writestr(name, data)
            file.flush()
            os.fsync(file.fileno())
        _reached("written")
        _verified(verify, temporary, path)
        _reached("verified")
        os.replace(temporary, path)
        _fsync_directory(path.parent)
        _reached("replaced")
    finally:
        if os.path.lexists(temporary):
            temporary.unlink()


def _write_directory(
    path: Path, temporary: Path, tag: str, members: Files, verify: Callable[[Path], object]
) -> None:
    new = path.with_name(f".{path.name}.{tag}.new")
    old = path.with_name(f".{path.name}.{tag}.old")
    _IN_FLIGHT.update((new.name, old.name))
    try:
        _settle(path)
        replacing = os.path.lexists(path)
        if replacing:
            _refuse_unless_earlier_save(path, zipped=False)
        temporary.mkdir(parents=True)
        try:
            for i, (name, data) in enumerate(members.items()):
                with open(temporary / name, "xb") as file:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
                if i == 0:
                    _reached("writing")
            _fsync_directory(temporary)
            _reached("written")
            _verified(verify, temporary, path)
            _reached("verified")
            temporary.rename(new)
        finally:
            if os.path.lexists(temporary):
                _remove_tree(temporary)
        _fsync_directory(path.parent)
        _reached("ready")
        if replacing:
            path.rename(old)
            _reached("old hidden")
        new.rename(path)
        _fsync_directory(path.parent)
        _reached("replaced")
        if replacing:
            _remove_tree(old, step="removing old")
        _reached("done")
    finally:
        _IN_FLIGHT.difference_update((new.name, old.name))


def _verified(verify: Callable[[Path], object], written: Path, path: Path) -> None:
    """Read back what a save wrote, with every check of :func:`load`, before it counts."""
    try:
        verify(written)
    except SavedFileError as error:
        raise ValueError(
            f"cannot save to {str(path)!r}: what was written does not load back ({error}); "
            "was the metric changed while it was being saved (by another thread)? Nothing "
            "was replaced; save it again once nothing updates it"
        ) from error


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # a platform that cannot open a directory (Windows): nothing to sync
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_tree(directory: Path, step: str | None = None) -> None:
    """Delete a directory a save wrote (regular files only: never follows a link)."""
    with os.scandir(directory) as listing:
        entries = list(listing)
    for i, entry in enumerate(entries):
        if entry.is_dir(follow_symlinks=False):
            _remove_tree(Path(entry.path))
        else:
            os.unlink(entry.path)
        if i == 0 and step is not None:
            _reached(step)
    os.rmdir(directory)


def _settle(path: Path, *, reading: bool = False) -> Path:
    """Finish what an interrupted save left beside ``path``; return where the save now is.

    If nothing is at ``path`` and an interrupted save left a complete ``.new`` (or only an
    ``.old``), it is renamed to ``path``; then the leftovers of saves whose process has
    ended are deleted. Leftovers of a save still running in another process are not
    touched: ``reading`` then returns the one to read instead of moving it.
    """
    try:
        with os.scandir(path.parent) as listing:
            entries = list(listing)
    except OSError:
        return path
    leftovers = []
    for entry in entries:
        match = _LEFTOVER.fullmatch(entry.name)
        if match and match["name"] == path.name:
            pid = match["pid"]
            running = entry.name in _IN_FLIGHT or (
                pid is not None and int(pid) != os.getpid() and _running(int(pid))
            )
            leftovers.append((entry, match["kind"], running))
    if not leftovers:
        return path
    if not os.path.lexists(path):
        candidates = [
            (kind == "new", entry.stat(follow_symlinks=False).st_ctime_ns, entry, running)
            for entry, kind, running in leftovers
            if kind in ("new", "old")
            and entry.is_dir(follow_symlinks=False)
            and os.path.isfile(os.path.join(entry.path, METADATA_FILE))
        ]
        if candidates:
            *_, entry, running = max(candidates, key=lambda c: c[:2])
            if running:
                return Path(entry.path) if reading else path
            os.rename(entry.path, path)
            _fsync_directory(path.parent)
    for entry, _kind, running in leftovers:
        if not running and os.path.lexists(entry.path):
            try:
                if entry.is_dir(follow_symlinks=False):
                    _remove_tree(Path(entry.path))
                else:
                    os.unlink(entry.path)
            except OSError:  # another process cleaned it first, or it is not ours to delete
                pass
    return path


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, or a platform without signals: assume it runs
        return True
    return True


def _refuse_unless_earlier_save(path: Path, *, zipped: bool) -> None:
    """Raise ValueError unless ``path`` holds a save of this package (and nothing else).

    A directory counts only when it holds nothing but regular files with the names a
    save writes, among them a ``metric.json`` of this format; a ``.zip`` only when it is
    a zip archive of such files. Anything else is someone's data and is never replaced.
    """
    what = _what_is_there(path, zipped)
    if what is not None:
        raise ValueError(
            f"`path` {str(path)!r} exists and is not an earlier save of interactive_metrics "
            f"({what}), and `save` never replaces data it did not write; pass another "
            "`path`, or remove what is there first"
        )


def _what_is_there(path: Path, zipped: bool) -> str | None:
    """Why ``path`` is not an earlier save, or None when it is one."""
    import zipfile

    info = os.stat(path, follow_symlinks=False)
    if zipped:
        if not stat.S_ISREG(info.st_mode):
            return f"it is {_kind_of(info.st_mode)}, not a .zip file"
        try:
            with open(path, "rb") as file, zipfile.ZipFile(file) as archive:
                names = archive.namelist()
                if METADATA_FILE not in names or not set(names) <= set(_MEMBERS):
                    return f"a zip archive of {sorted(names)[:8]}"
                member = archive.getinfo(METADATA_FILE)
                if member.file_size > _EARLIER_SAVE_BYTES:
                    return f"its {METADATA_FILE} is too large to be ours"
                data = archive.read(METADATA_FILE)
        except (OSError, zipfile.BadZipFile, ValueError, EOFError):
            return "a file that is not a zip archive"
        return None if _is_our_metadata(data) else f"its {METADATA_FILE} is not of this format"
    if not stat.S_ISDIR(info.st_mode):
        return f"it is {_kind_of(info.st_mode)}, not a directory"
    with os.scandir(path) as listing:
        entries = sorted(listing, key=lambda e: e.name)
    if not entries:
        return None  # an empty directory: replacing it loses nothing
    foreign = []
    for entry in entries:
        mode = entry.stat(follow_symlinks=False).st_mode
        if entry.name not in _MEMBERS:
            foreign.append(entry.name + ("/" if stat.S_ISDIR(mode) else ""))
        elif not stat.S_ISREG(mode):
            foreign.append(f"{entry.name} ({_kind_of(mode)})")
    if foreign:
        return f"it holds {', '.join(foreign[:8])}{', ...' if len(foreign) > 8 else ''}"
    if not os.path.exists(path / METADATA_FILE):
        return f"it holds no {METADATA_FILE}"
    try:
        data = _read_regular(path / METADATA_FILE, _EARLIER_SAVE_BYTES)
    except (OSError, ValueError):
        return f"its {METADATA_FILE} cannot be read"
    return None if _is_our_metadata(data) else f"its {METADATA_FILE} is not of this format"


def _is_our_metadata(data: bytes) -> bool:
    try:
        payload = _json_loads(data)
    except (ValueError, RecursionError):
        return False
    version = payload.get("schema_version") if isinstance(payload, dict) else None
    return (
        isinstance(payload, dict)
        and payload.get("format") == FORMAT_NAME
        and isinstance(version, int)
        and not isinstance(version, bool)
        and version >= 1
    )


def _kind_of(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_OPEN_FLAGS |= getattr(os, "O_BINARY", 0)


def _open_regular(name: str | Path, *, dir_fd: int | None = None, follow: bool = False) -> int:
    """A file descriptor of a *regular* file, or ValueError (a FIFO, device or link)."""
    flags = _OPEN_FLAGS | (0 if follow else _NOFOLLOW)
    if not follow:  # a platform without O_NOFOLLOW: refuse links before opening
        if stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise ValueError(f"{os.fspath(name)} is a symbolic link, not a regular file")
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ValueError(f"{os.fspath(name)} is a symbolic link, not a regular file") from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ValueError(f"{os.fspath(name)} is {_kind_of(mode)}, not a regular file")
    return fd


def _read_fd(fd: int, limit: float, name: str) -> bytes:
    """All of an open regular file, refusing one larger than ``limit`` bytes; closes ``fd``."""
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise _TooLarge(name, size)
        chunks, total = [], 0
        while total <= size:  # a file that grows while it is read is cut at size + 1
            chunk = os.read(fd, min(size + 1 - total, 2**24) or 1)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) != size:
        raise ValueError(f"{name} changed size while it was read")
    return data


def _read_regular(path: Path, limit: float) -> bytes:
    return _read_fd(_open_regular(path), limit, path.name)


class _TooLarge(ValueError):
    def __init__(self, name: str, size: int) -> None:
        super().__init__(f"{name} holds {size} bytes")
        self.name = name
        self.size = size


def _read(path: Path, max_bytes: float) -> tuple[bytes, set[str], Callable[[str], bytes | None]]:
    """``metric.json``, the names of the saved files present, and a reader of each.

    Only regular files are read (a FIFO, a device or a link inside a saved directory is
    refused before it is opened for reading), each at most ``max_bytes`` long.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _NotFound(f"`path` {str(path)!r} does not exist") from None
    except OSError as error:
        raise _corrupt(path, f"it cannot be read ({error.strerror})") from None
    metadata_limit = min(_MAX_METADATA_BYTES, max_bytes)
    try:
        if stat.S_ISDIR(info.st_mode):
            return _read_directory(path, metadata_limit, max_bytes)
        if not stat.S_ISREG(info.st_mode):
            raise _corrupt(path, f"it is {_kind_of(info.st_mode)}, not a saved file or directory")
        return _read_zip(path, metadata_limit, max_bytes)
    except _TooLarge as error:
        raise _too_large(path, f"{error.name} holds {error.size} bytes", max_bytes) from None
    except OSError as error:
        raise _corrupt(path, f"it cannot be read ({error})") from None


def _read_directory(
    path: Path, metadata_limit: float, max_bytes: float
) -> tuple[bytes, set[str], Callable[[str], bytes | None]]:
    directory = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        present = set()
        for name in _MEMBERS:
            try:
                mode = os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(mode):
                raise _corrupt(path, f"its {name} is {_kind_of(mode)}, not a regular file")
            present.add(name)
        if METADATA_FILE not in present:
            raise _corrupt(path, f"the directory holds no {METADATA_FILE}")
        members = {}
        for name in sorted(present):
            try:
                fd = _open_regular(name, dir_fd=directory)
            except ValueError as error:
                raise _corrupt(path, str(error)) from None
            limit = metadata_limit if name == METADATA_FILE else max_bytes
            members[name] = _read_fd(fd, limit, name)
    finally:
        os.close(directory)
    return members.pop(METADATA_FILE), set(members), members.get


def _read_zip(
    path: Path, metadata_limit: float, max_bytes: float
) -> tuple[bytes, set[str], Callable[[str], bytes | None]]:
    import zipfile

    try:
        fd = _open_regular(path, follow=True)
    except ValueError as error:
        raise _corrupt(path, str(error)) from None
    with os.fdopen(fd, "rb") as file:
        size = os.fstat(fd).st_size
        try:
            with zipfile.ZipFile(file) as archive:
                infos = {info.filename: info for info in archive.infolist()}
                if METADATA_FILE not in infos or not set(infos) <= set(_MEMBERS):
                    raise _corrupt(path, f"it holds {sorted(infos)}, expected {list(_MEMBERS)}")
                members = {}
                for name, info in infos.items():
                    if (
                        info.compress_type != zipfile.ZIP_STORED
                        or info.file_size > size
                        or info.compress_size != info.file_size
                    ):
                        raise _corrupt(path, f"{name} is not stored as this package stores it")
                    limit = metadata_limit if name == METADATA_FILE else max_bytes
                    if info.file_size > limit:
                        raise _TooLarge(name, info.file_size)
                    with archive.open(info) as member:
                        data = member.read(info.file_size + 1)
                    if len(data) != info.file_size:
                        raise _corrupt(path, f"{name} is not as long as the archive says")
                    members[name] = data
        except (SavedFileError, _TooLarge):
            raise
        except Exception as error:  # zipfile raises many types on damaged archives
            why = f"it is not a readable zip archive ({type(error).__name__}: {error})"
            raise _corrupt(path, why) from None
    return members.pop(METADATA_FILE), set(members), members.get


class _BadNumber(ValueError):
    pass


def _json_loads(data: bytes) -> Any:
    """JSON as ``save`` writes it: integers within int64, finite floats, no NaN constants."""

    def refuse_constant(constant: str) -> Any:
        raise _BadNumber(f"{constant} is not JSON")

    def parse_int(text: str) -> int:
        value = int(text) if len(text) <= 20 else None
        if value is None or not _INT64_MIN <= value <= _INT64_MAX:
            raise _BadNumber(f"the integer {text[:40]} is outside the int64 range")
        return value

    def parse_float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise _BadNumber(f"the number {text[:40]} is beyond the float64 range")
        return value

    return json.loads(
        data.decode("utf-8"),
        parse_constant=refuse_constant,
        parse_int=parse_int,
        parse_float=parse_float,
    )


def _nesting(value: Any, limit: int) -> int:
    """How deep lists and objects nest in ``value`` (stops counting past ``limit``)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > limit:
            break
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (list, dict)))
    return deepest if isinstance(value, (list, dict)) else 0


def _parse_metadata(data: bytes, path: Path) -> dict[str, Any]:
    try:
        payload = _json_loads(data)
    except _BadNumber as error:
        raise _corrupt(
            path, f"{METADATA_FILE} holds a number `save` never writes ({error})"
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise _corrupt(path, f"{METADATA_FILE} is not valid JSON ({error})") from None
    if _nesting(payload, _MAX_NESTING) > _MAX_NESTING:
        raise _corrupt(
            path, f"{METADATA_FILE} nests lists and objects more than {_MAX_NESTING} deep"
        )
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


# -- what a file asks for: memory, checked before it is allocated ---------------------------


class _Budget:
    """What is left of ``max_bytes`` while a file is loaded."""

    def __init__(self, limit: float, path: Path) -> None:
        self.limit = limit
        self.left = limit
        self.path = path

    def take(self, nbytes: int, what: str) -> None:
        if nbytes > self.left:
            need = f"{what}, which would need about {_size(nbytes)}"
            raise _too_large(self.path, need, self.limit)
        self.left -= nbytes


def _too_large(path: Path, what: str, limit: float) -> SavedFileError:
    return SavedFileError(
        f"cannot load {str(path)!r}: {what}, more than `max_bytes` ({_size(limit)}) allows; "
        "if you trust the file, pass a larger `max_bytes` to `load` (the file may also be "
        "forged or damaged)"
    )


def _size(nbytes: float) -> str:
    if nbytes == math.inf:
        return "no limit"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError  # unreachable


def _parquet_footer(data: bytes) -> tuple[int, int]:
    """``(rows, bytes)`` that a Parquet file's footer declares, read without reading the data.

    ``bytes`` is what its columns take once decoded, estimated from the footer: the
    uncompressed size of every column chunk plus 8 bytes for each value. A footer
    that cannot be parsed, whose row groups do not add up, or that points at other
    files raises ValueError.
    """
    if len(data) < 12 or data[:4] != b"PAR1" or data[-4:] != b"PAR1":
        raise ValueError("it does not begin and end as Parquet does")
    length = int.from_bytes(data[-8:-4], "little")
    if length > len(data) - 12:
        raise ValueError("its footer length is larger than the file")
    meta = _Thrift(memoryview(data)[len(data) - 8 - length : len(data) - 8]).struct(0)
    rows, groups = meta.get(3), meta.get(4)
    if not isinstance(rows, int) or rows < 0 or not isinstance(groups, list):
        raise ValueError("its footer has no row count or row groups")
    group_rows = decoded = 0
    for group in groups:
        chunks = group.get(1) if isinstance(group, dict) else None
        if not isinstance(chunks, list) or not isinstance(group.get(3), int):
            raise ValueError("a row group of its footer is malformed")
        group_rows += group[3]
        for chunk in chunks:
            meta_data = chunk.get(3) if isinstance(chunk, dict) else None
            if not isinstance(meta_data, dict) or 1 in chunk:
                raise ValueError("a column chunk has no metadata or lives in another file")
            values, size = meta_data.get(5), meta_data.get(6)
            if not (isinstance(values, int) and isinstance(size, int) and values >= 0 <= size):
                raise ValueError("a column chunk has no value count or size")
            decoded += size + 8 * values
    if group_rows != rows:
        raise ValueError(f"its row groups hold {group_rows} rows, its footer says {rows}")
    return rows, decoded


class _Thrift:
    """The little of Thrift's compact protocol a Parquet footer needs: structs as dicts."""

    def __init__(self, buffer: memoryview) -> None:
        self.buffer = buffer
        self.at = 0

    def byte(self) -> int:
        if self.at >= len(self.buffer):
            raise ValueError("the footer ends early")
        self.at += 1
        return int(self.buffer[self.at - 1])

    def varint(self) -> int:
        result = shift = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ValueError("a number in the footer is too long")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def skip(self, n: int) -> None:
        if n > len(self.buffer) - self.at:
            raise ValueError("the footer ends early")
        self.at += n

    def value(self, kind: int, depth: int) -> Any:
        if depth > 16:
            raise ValueError("the footer nests too deeply")
        if kind in (1, 2):  # a boolean field: its value is in the type
            return kind == 1
        if kind == 3:
            return self.byte()
        if kind in (4, 5, 6):
            return self.zigzag()
        if kind == 7:
            return self.skip(8)
        if kind == 8:
            return self.skip(self.varint())
        if kind in (9, 10):
            header = self.byte()
            size, element = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            if size > len(self.buffer) - self.at:  # every element takes a byte at least
                raise ValueError("a list in the footer is longer than the footer")
            if element in (1, 2):
                return [self.byte() == 1 for _ in range(size)]
            return [self.value(element, depth + 1) for _ in range(size)]
        if kind == 11:
            size = self.varint()
            if size > len(self.buffer) - self.at:
                raise ValueError("a map in the footer is longer than the footer")
            types = self.byte() if size else 0
            for _ in range(size):
                self.value(types >> 4, depth + 1)
                self.value(types & 0x0F, depth + 1)
            return None
        if kind == 12:
            return self.struct(depth + 1)
        raise ValueError(f"the footer holds an unknown Thrift type {kind}")

    def struct(self, depth: int) -> dict[int, Any]:
        fields: dict[int, Any] = {}
        last = 0
        while True:
            header = self.byte()
            if header == 0:
                return fields
            delta, kind = header >> 4, header & 0x0F
            last = last + delta if delta else self.zigzag()
            fields[last] = self.value(kind, depth)


def _read_frame(
    data: bytes, name: str, path: Path, budget: _Budget, rows: int, row_bytes: int
) -> pl.DataFrame:
    """A Parquet member as a DataFrame, once its footer fits ``rows`` and the budget."""
    try:
        declared_rows, decoded = _parquet_footer(data)
    except ValueError as error:
        raise _corrupt(path, f"{name} is not readable Parquet ({error})") from None
    if declared_rows != rows:
        raise _corrupt(path, f"{name} holds {declared_rows} rows, expected {rows}")
    budget.take(max(decoded, rows * row_bytes), f"{name} ({rows} rows)")
    frame = _read_parquet(data, name, path)
    if frame.height != rows:
        raise _corrupt(path, f"{name} holds {frame.height} rows, expected {rows}")
    return frame


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


# -- fork ------------------------------------------------------------------------------------

_polars_threads_at_fork = False
_forked_with_polars_threads = False


def _before_fork() -> None:
    global _polars_threads_at_fork
    _polars_threads_at_fork = _polars_threads_run()


def _after_fork_in_child() -> None:
    global _forked_with_polars_threads
    _forked_with_polars_threads = _forked_with_polars_threads or _polars_threads_at_fork


def _polars_threads_run() -> bool:
    """Whether polars' thread pool has started in this process (True when unknown)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:  # no /proc: assume it has
        return True
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/comm", "rb") as file:
                name = file.read(64)
        except OSError:
            continue
        if name.startswith(b"polars-") and name[7:8].isdigit():
            return True
    return False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def _refuse_in_forked_child(action: str) -> None:
    if _forked_with_polars_threads:
        raise ValueError(
            f"cannot {action} in a process made by fork() after polars' thread pool started "
            "in its parent: polars would wait for ever for threads that fork() did not copy; "
            "start worker processes with the 'spawn' or 'forkserver' start method "
            "(multiprocessing.get_context('spawn'), or ProcessPoolExecutor(mp_context=...))"
        )
