"""One metric, many streams: per-stream states updated in one group-by, and what the average hides.

A :class:`Streams` wraps any metric. Each update carries a stream key per sample
(a sensor, a customer, a data source) or one key for the whole batch; the
metric's per-sample terms are reduced per key in one vectorised pass, so every
stream has its own exact state, while the merged (micro) state is exactly that of
one metric updated with the same batches.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import functools
import os
import threading
import weakref
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Concatenate, Literal, NamedTuple, ParamSpec, TypeVar

import numpy as np
import polars as pl

from interactive_metrics.core.reduce import divide_no_nan
from interactive_metrics.core.segments import (
    MISSING,
    codes_in,
    factorize,
    factorize_parts,
    first_appearances,
    is_key_sequence,
    key_parts,
    key_scalar,
    key_series,
    sample_weights,
)
from interactive_metrics.engine import Engine, State
from interactive_metrics.errors import UnknownKeyError
from interactive_metrics.history import HistoryBuffer
from interactive_metrics.metric import MERGE, RESET, UPDATE, Metric

__all__ = ["Segments", "Streams", "check_keys", "key_kind"]

_LUT_LIMIT = 1 << 22  # integer keys below this are looked up in a table, without sorting


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(
    method: Callable[Concatenate[Streams, _P], _R],
) -> Callable[Concatenate[Streams, _P], _R]:
    """Run ``method`` holding the Streams' lock: threads may share one Streams."""

    @functools.wraps(method)
    def locked(self: Streams, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


def _all_locked(group: Iterable[Streams]) -> contextlib.ExitStack:
    """Hold the locks of every Streams in ``group``, taken in one global order (no deadlock)."""
    stack = contextlib.ExitStack()
    for streams in sorted({id(s): s for s in group}.values(), key=id):
        stack.enter_context(streams.lock)
    return stack


_BREAKDOWN_COLUMNS = frozenset({"stream", "weight", "share", "result", "contribution"})
"""The columns of :meth:`Streams.breakdown` that are not state fields."""


def _fresh(metric: Metric) -> Metric:
    """A new metric with ``metric``'s configuration and a fresh state."""
    return type(metric).from_config(metric.get_config())


class Segments(NamedTuple):
    """The states of the (batch, stream) segments of ``k`` batches: what a replay hands a Streams.

    Segments may repeat a (batch, stream) pair (a batch split over chunks of a
    log): :meth:`Streams.update_from_segments` merges them.

    Attributes
    ----------
    keys : list
        The stream keys the segments name.
    batch : numpy.ndarray
        Each segment's batch, in ``[0, k)``.
    stream : numpy.ndarray
        Each segment's stream, as a position in ``keys``.
    first_row : numpy.ndarray
        The log row of each segment's first sample: new streams are numbered in
        the order the update loop would meet them.
    weight : numpy.ndarray
        Each segment's total sample weight.
    states : dict
        Each field's segment states, arrays of shape ``(segments, *field.shape)``.
    key_names : tuple of str, optional
        The names of the parts of composite keys (then ``keys`` are tuples).
    """

    keys: list[Any]
    batch: np.ndarray
    stream: np.ndarray
    first_row: np.ndarray
    weight: np.ndarray
    states: State
    key_names: tuple[str, ...] | None = None


class _ForgetWhenChanged:
    """Listens to the copy :meth:`Streams.merged` hands out; once it changes, stop handing it out.

    The changed copy belongs to whoever changed it; the next call makes a new one.
    """

    def __init__(self, streams: Streams) -> None:
        self.streams = weakref.ref(streams)

    def __call__(self, metric: Metric, event: int) -> None:
        streams = self.streams()
        if streams is not None and streams._merged is metric:
            streams._merged = None

    def __deepcopy__(self, memo: dict[int, Any]) -> _ForgetWhenChanged:
        return self  # a copy of the copy is not handed out either: forgetting it is harmless


class Streams:
    """Per-stream states of one metric, updated together in one vectorised group-by.

    Parameters
    ----------
    metric : Metric
        The metric every stream computes; only its configuration is used (its
        state is not copied). ``Streams(im.Mean())`` gives each stream a mean.
    null_stream : hashable, optional
        The stream that missing keys are counted in: None, float NaN, pandas
        ``NA`` / ``NaN`` / ``NaT``, numpy ``NaT`` and polars nulls, in
        ``update_state``, ``replay`` and a Dask replay alike (``s[None]`` and
        ``s[float("nan")]`` are that stream). Without it, a missing key is an
        error (a missing key usually means a broken log).

    Notes
    -----
    Micro and macro. :meth:`result` is the *micro* (merged) result: the metric of
    all samples pooled, exactly what one metric updated with the same batches
    returns. :meth:`macro_result` is the unweighted mean of the per-stream
    results: every stream counts once, however many samples it has. They differ
    whenever streams differ in size and in result, and a large healthy stream can
    hide a small failing one in the micro result.

    History. :attr:`history` has one row per (event, stream the event touched);
    ``s[key].history`` is that stream's rows, numbered as the stream's own events.
    Every event is recorded per stream; the metric's ``history_every`` and
    ``history_last`` apply to the merged history (``s.merged().history``).
    Per-stream sums are plain float sums (``summation="kahan"`` compensates the
    merged state only).

    Examples
    --------
    One stream collapses; the merged mean barely moves, the macro mean shows it.

    >>> import interactive_metrics as im
    >>> s = im.Streams(im.Mean())
    >>> s.update_state([1.0] * 98 + [0.0, 0.0], stream=["big"] * 98 + ["small"] * 2)
    >>> s.result(), s.macro_result()
    (0.98, 0.5)
    >>> s.breakdown()
    shape: (2, 7)
    ┌────────┬────────┬───────┬───────┬───────┬────────┬──────────────┐
    │ stream ┆ weight ┆ share ┆ total ┆ count ┆ result ┆ contribution │
    │ ---    ┆ ---    ┆ ---   ┆ ---   ┆ ---   ┆ ---    ┆ ---          │
    │ str    ┆ f64    ┆ f64   ┆ f64   ┆ f64   ┆ f64    ┆ f64          │
    ╞════════╪════════╪═══════╪═══════╪═══════╪════════╪══════════════╡
    │ big    ┆ 98.0   ┆ 0.98  ┆ 98.0  ┆ 98.0  ┆ 1.0    ┆ 0.98         │
    │ small  ┆ 2.0    ┆ 0.02  ┆ 0.0   ┆ 2.0   ┆ 0.0    ┆ 0.0          │
    └────────┴────────┴───────┴───────┴───────┴────────┴──────────────┘

    A stream is a standalone metric, and the merge of all streams is one too:

    >>> s["small"]
    Mean(name='mean', result=0.0, total=0.0, count=2.0, step=1)
    >>> s.merged().result() == s.result()
    True
    """

    def __init__(self, metric: Metric, *, null_stream: Hashable | None = None) -> None:
        if not isinstance(metric, Metric):
            if type(metric).__name__ == "MetricCollection":
                raise TypeError(
                    "`metric` must be an interactive_metrics Metric, got a MetricCollection; "
                    "for the streams of every member at once use collection.streams()"
                )
            raise TypeError(
                f"`metric` must be an interactive_metrics Metric, got {type(metric).__name__}; "
                "pass e.g. im.Mean()"
            )
        if null_stream is not None:
            checked = key_scalar(null_stream, "null_stream")
            if checked is MISSING:
                raise ValueError(
                    f"`null_stream` must be a key that names the stream of missing keys, got "
                    f"the missing key {null_stream!r}; pass e.g. null_stream='unknown'"
                )
            null_stream = checked
        self._lock = threading.RLock()
        self.metric = metric
        self.null_stream = null_stream
        self._overall = _fresh(metric)
        self._engine = engine = self._overall.engine
        self._dtype = engine.dtype
        self._plan = engine.reductions
        self._fields = engine.fields
        self._rows = engine.row_compute
        self._keys: list[Any] = []
        self._key_names: tuple[str, ...] | None = None  # the parts of composite keys
        self._index: dict[Any, int] = {}
        self._lut: np.ndarray | None = np.full(0, -1, dtype=np.intp)
        self._enum: pl.Enum | None = None
        self._category_luts: dict[pl.DataType, np.ndarray] = {}
        self._capacity = 0
        self._state: dict[str, np.ndarray] = {}
        self._weight = np.zeros(0, dtype=self._dtype)
        self._events_seen = np.zeros(0, dtype=np.int64)
        # The long history obeys the metric's history options (see `history`):
        # history_every > 1 holds back each stream's batches in `_pending` until a
        # recorded update; history_last keeps each stream's last rows.
        recording = self._overall.records_history
        self._history_last = self._overall.history_last if recording else None
        self._pending: State | None = {} if recording and metric.history_every > 1 else None
        self._pending_touched = np.zeros(0, dtype=bool)
        self._grow(16)
        self._step = 0
        self._long: HistoryBuffer | None = self._new_long() if recording else None
        self._long_codes = np.zeros(64 if recording else 0, dtype=np.intp)
        self._long_own = np.zeros(0, dtype=np.int64)  # each row's step in its stream's events
        self._long_untrimmed = 0  # rows added since the windows were last trimmed
        self._frame: pl.DataFrame | None = None
        self._merged: Metric | None = None
        self._listeners: list[Callable[[Streams, int], None]] = []

    # -- storage ---------------------------------------------------------------------------

    def _grow(self, needed: int) -> None:
        capacity = max(self._capacity, 16)
        while capacity < needed:
            capacity *= 2
        if capacity == self._capacity:
            return
        k = self._capacity  # rows past the old capacity hold nothing yet
        for f in self._fields:
            new = f.reduction.empty((capacity, *f.shape), self._dtype)
            if k:
                new[:k] = self._state[f.name]
            self._state[f.name] = new
        weight = np.zeros(capacity, dtype=self._dtype)
        weight[:k] = self._weight[:k]
        self._weight = weight
        seen = np.zeros(capacity, dtype=np.int64)
        seen[:k] = self._events_seen[:k]
        self._events_seen = seen
        if self._pending is not None:
            for f in self._fields:
                held = f.reduction.empty((capacity, *f.shape), self._dtype)
                if k:
                    held[:k] = self._pending[f.name]
                self._pending[f.name] = held
            touched = np.zeros(capacity, dtype=bool)
            touched[:k] = self._pending_touched[:k]
            self._pending_touched = touched
        self._capacity = capacity

    def _new_long(self) -> HistoryBuffer:
        """An empty per-stream history: the metric's columns, batch columns null on resets."""
        return self._engine.new_history()

    def _register(self, keys: list[Any]) -> np.ndarray:
        """Global codes of ``keys`` (distinct), adding the unknown ones in the given order.

        New keys must be of the kind the known ones are (:func:`key_kind`): a
        ``ValueError`` before any is added otherwise.
        """
        index = self._index
        new = [key for key in keys if key not in index]
        if new:
            self._check_kinds(new)
        codes = np.empty(len(keys), dtype=np.intp)
        for i, key in enumerate(keys):
            code = index.get(key)
            if code is None:
                code = index[key] = len(self._keys)
                self._keys.append(key)
                self._note_in_lut(key, code)
            codes[i] = code
        self._grow(len(self._keys))
        return codes

    def _check_kinds(self, new: list[Any]) -> None:
        """Refuse keys of another kind than the known ones: one polars column holds them.

        The ``null_stream`` key (or key part) is the one exception: it may be of any kind
        (a label such as ``"unknown"`` beside integer keys).
        """
        label = self.null_stream

        def kind_of(key: Any) -> Any:  # None where the key (part) is the null stream
            if label is not None and key == label:
                return None
            if isinstance(key, tuple):
                return tuple(kind_of(part) for part in key)
            return key_kind(key)

        def fill(kind: Any, other: Any) -> Any:  # parts kind leaves open, taken from other
            if isinstance(kind, tuple) and isinstance(other, tuple) and len(kind) == len(other):
                return tuple(fill(a, b) for a, b in zip(kind, other, strict=True))
            return other if kind is None else kind

        def agrees(kind: Any, other: Any) -> bool:
            if kind is None or other is None:
                return True
            if isinstance(kind, tuple) and isinstance(other, tuple) and len(kind) == len(other):
                return all(agrees(a, b) for a, b in zip(kind, other, strict=True))
            return bool(kind == other)

        kind, example = None, None
        for key in [*self._keys[:64], *new]:  # known keys agree with each other already
            mine = kind_of(key)
            if not agrees(kind, mine):
                raise ValueError(
                    f"`stream` keys must all be of one kind, as one polars column holds "
                    f"them: the keys are {kind} (e.g. {example!r}), got {key!r} "
                    f"({key_kind(key)}); convert the keys to one type (e.g. with str()) "
                    "before updating"
                )
            if mine is not None and example is None:
                example = key
            kind = fill(kind, mine)

    def _note_in_lut(self, key: Any, code: int) -> None:
        lut = self._lut
        if lut is None:
            return
        if not isinstance(key, (int, np.integer)) or not 0 <= key < _LUT_LIMIT:
            self._lut = None  # keys that are not small integers: look them up by hash
            return
        if key >= len(lut):
            bigger = np.full(max(2 * len(lut), int(key) + 1, 64), -1, dtype=np.intp)
            bigger[: len(lut)] = lut
            self._lut = lut = bigger
        lut[key] = code

    # -- keys to segments --------------------------------------------------------------------

    def _key_array(self, stream: Any, n: int) -> Any:
        """The keys of a batch, checked against this Streams' keys: see :func:`check_keys`."""
        if not self._keys and self._key_names is None:  # no key seen yet: any shape
            return check_keys(stream, n, self.null_stream, False)
        return check_keys(stream, n, self.null_stream, self._key_names)

    def take_shape(self, shaped: Metric) -> None:
        """Fix the shape of a metric whose shape was not known (see ``Metric.take_shape``).

        A Streams of such a metric has seen no data; it takes ``shaped``'s
        configuration (``update_state`` and ``replay`` call this with their first batch).
        Nothing happens when the shape is known.
        """
        if self._overall.shape_known:
            return
        overall = self._overall
        fresh = Streams(shaped, null_stream=self.null_stream)
        keep = {k: self.__dict__[k] for k in ("_lock", "_listeners", "_step", "_key_names")}
        self.__dict__.update(fresh.__dict__)
        self.__dict__.update(keep)
        overall.take_shape(shaped)  # the merged metric keeps its history (resets so far)
        self._overall = overall
        self.metric = _fresh(shaped)

    @property
    def key_names(self) -> tuple[str, ...]:
        """The names of the key columns: ``("stream",)``, or the parts of composite keys.

        Examples
        --------
        >>> import polars as pl
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Mean())
        >>> s.update_state([1.0, 0.0], stream=pl.DataFrame({"sensor": ["a", "b"], "site": [1, 1]}))
        >>> s.key_names, s.streams
        (('sensor', 'site'), [('a', 1), ('b', 1)])
        """
        return ("stream",) if self._key_names is None else self._key_names

    def _lookup(self, key: Any) -> int | None:
        """The code of the stream ``key`` names (a missing key names ``null_stream``)."""
        try:
            key = key_scalar(key, "key")
        except (TypeError, ValueError):
            return None
        if type(key) is tuple:  # a composite key: a missing part names null_stream's part
            if any(part is MISSING for part in key) and self.null_stream is None:
                return None
            key = tuple(self.null_stream if part is MISSING else part for part in key)
            return self._index.get(key)
        if key is MISSING:
            if self.null_stream is None:
                return None
            key = self.null_stream
        return self._index.get(key)

    def _registry(self) -> tuple[int, np.ndarray | None, pl.Enum | None, dict[Any, np.ndarray]]:
        """What :meth:`_forget_keys_after` needs to undo the keys registered from now on.

        References only (no copies): registering changes the lookup tables in place or
        replaces them, and undoing clears the codes it added.
        """
        return len(self._keys), self._lut, self._enum, dict(self._category_luts)

    def _forget_keys_after(self, saved: tuple[Any, ...]) -> None:
        """Undo the keys registered since :meth:`_registry` (a failed call adds none)."""
        known, lut, enum, luts = saved
        if len(self._keys) == known:
            return
        for key in self._keys[known:]:
            del self._index[key]
        del self._keys[known:]
        for table in (lut, *luts.values()):
            if table is not None:
                table[table >= known] = -1
        self._lut, self._enum, self._category_luts = lut, enum, luts

    def _segments(self, keys: Any, n: int) -> tuple[np.ndarray, int, np.ndarray]:
        """Register new keys; return (segment id per sample, number of segments, their codes)."""
        if isinstance(keys, np.ndarray) and n and self._lut is not None:
            lowest, highest = int(keys.min()), int(keys.max())
            if lowest >= 0 and highest < _LUT_LIMIT:
                lut = self._lut
                codes = lut[keys] if highest < len(lut) else np.full(n, -1, dtype=np.intp)
                if highest >= len(lut) or codes.min() < 0:
                    new = keys[codes < 0] if highest < len(lut) else keys
                    self._register(first_appearances(new).tolist())
                    codes = self._lut[keys] if self._lut is not None else None
                if codes is not None:
                    return self._global_segments(codes, n)
        if (
            isinstance(keys, pl.Series)
            and isinstance(keys.dtype, pl.Categorical)
            and n
            and keys.null_count() == 0
        ):
            by_category = self._categorical_codes(keys)
            if by_category is not None:
                return self._global_segments(by_category, n)
        if isinstance(keys, pl.Series) and _is_text(keys.dtype) and 0 < len(self._keys) <= n:
            known = self._known_enum()
            if known is not None:  # known keys: their codes by a cast; the new ones factorized
                physical = codes_in(keys, known)
                unknown = physical.null_count()
                if unknown < n:
                    filled = physical.fill_null(0) if unknown else physical
                    codes = filled.to_numpy().astype(np.intp)
                    if unknown:
                        rows = np.flatnonzero(physical.is_null().to_numpy())
                        ids, uniques = factorize(keys.gather(rows), "stream", self.null_stream)
                        codes[rows] = self._register(uniques)[ids]
                    return self._global_segments(codes, n)
        if isinstance(keys, pl.DataFrame):  # composite keys: one code per combination
            ids, composite = factorize_parts(keys.get_columns(), "stream", self.null_stream)
            return ids, len(composite), self._register(composite)
        ids, uniques = factorize(keys, "stream", self.null_stream)
        return ids, len(uniques), self._register(uniques)

    def _categorical_codes(self, keys: pl.Series) -> np.ndarray | None:
        """Stream codes of Categorical keys from their physical ids (a table lookup, no hashing).

        Physical ids belong to the dtype's categories, so one table is kept per dtype.
        """
        physical = keys.to_physical().to_numpy()
        highest = int(physical.max())
        if highest >= _LUT_LIMIT:
            return None
        lut = self._category_luts.get(keys.dtype)
        if lut is None or highest >= len(lut):
            bigger = np.full(max(highest + 1, 64), -1, dtype=np.intp)
            if lut is not None:
                bigger[: len(lut)] = lut
            lut = self._category_luts[keys.dtype] = bigger
        codes = lut[physical]
        if codes.min() < 0:  # new categories: name them in order of first appearance
            new_rows = np.flatnonzero(codes < 0)
            distinct, first = np.unique(physical[new_rows], return_index=True)
            order = np.argsort(first, kind="stable")
            names = keys.gather(new_rows[first[order]]).cast(pl.String).to_list()
            lut[distinct[order]] = self._register(names)
            codes = lut[physical]
        return codes

    def _global_segments(self, codes: np.ndarray, n: int) -> tuple[np.ndarray, int, np.ndarray]:
        """Segments from global codes: all streams when few, else only the batch's own."""
        known = len(self._keys)
        if known <= max(4 * n, 1024):
            return codes, known, np.arange(known)
        local, inverse = np.unique(codes, return_inverse=True)
        return inverse.astype(np.intp, copy=False), len(local), local

    def _known_enum(self) -> pl.Enum | None:
        """The known keys as a polars Enum (codes = stream codes), when they are all strings."""
        if self._enum is None or len(self._enum.categories) != len(self._keys):
            keys = self._keys
            self._enum = pl.Enum(keys) if all(isinstance(k, str) for k in keys) else None
            if self._enum is None:
                return None
        return self._enum

    # -- the protocol ------------------------------------------------------------------------

    @_locked
    def update_state(
        self, *inputs: Any, stream: Any, sample_weight: Any = None, **named: Any
    ) -> None:
        """Add one batch whose samples belong to streams.

        Parameters
        ----------
        *inputs : array-like
            The metric's inputs, as for its ``update_state``.
        stream : hashable or sequence of hashable
            One key per sample (a list, numpy array or Series of strings, integers,
            ...), or one key for the whole batch.
        sample_weight : array-like, optional
            As for the metric.

        Raises
        ------
        TypeError, ValueError
            For bad inputs or weights (as the metric raises them), keys of the wrong
            length or kind (see :class:`Streams`), and missing keys (None, NaN, NA,
            NaT, null) without ``null_stream``. Nothing changes on error.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Sum())
        >>> s.update_state([1, 2, 3], stream=["a", "b", "a"])
        >>> s.update_state([10], stream="c")
        >>> s.streams, s.result()
        (['a', 'b', 'c'], 16.0)
        """
        engine = self._engine
        checked = engine.bind_arguments(inputs, named, sample_weight)
        if not self._overall.shape_known:  # the first batch fixes the state's shape
            before, overall_before = dict(self.__dict__), dict(self._overall.__dict__)
            try:
                self.take_shape(self._overall.reshaped(checked))
                self.update_state(*inputs, stream=stream, sample_weight=sample_weight, **named)
            except BaseException:  # a refused first batch leaves it unshaped, as it was
                self.__dict__.clear()
                self.__dict__.update(before)
                self._overall.__dict__.clear()
                self._overall.__dict__.update(overall_before)
                raise
            return
        keys = self._key_array(stream, checked.n)
        per_row = isinstance(keys, (np.ndarray, pl.Series, pl.DataFrame))
        checked, keep = engine.drop_nan(checked)
        if keep is not None and per_row:  # nan_strategy="ignore" dropped samples: their keys too
            keys = keys.filter(pl.Series(keep)) if isinstance(keys, pl.Series) else keys[keep]
        overall = engine.batch_state(checked)  # validates weights and terms
        weight, n = checked.weight, checked.n
        saved = self._registry()
        try:  # new keys are registered here: a failure before the update forgets them
            if per_row:
                terms = engine.terms(checked)
                ids, num, segment_codes = self._segments(keys, n)
                row_counts = np.bincount(ids, minlength=num)
                batch = engine.segment_states(terms, ids, num, row_counts)
                per_sample = sample_weights(weight, n)
                if per_sample is None:
                    batch_weight = row_counts.astype(self._dtype)
                else:
                    batch_weight = np.bincount(ids, weights=per_sample, minlength=num)
                touched = np.flatnonzero(row_counts)
                codes = segment_codes[touched]
                if len(codes) > 1 and not bool((np.diff(codes) > 0).all()):
                    order = np.argsort(codes, kind="stable")
                    touched, codes = touched[order], codes[order]
                batch = {name: x[touched] for name, x in batch.items()}
                batch_weight = batch_weight[touched].astype(self._dtype, copy=False)
            else:
                codes = self._register([keys]) if n else np.zeros(0, dtype=np.intp)
                per_sample = sample_weights(weight, n)
                total_weight = n if per_sample is None else per_sample.sum()
                batch = {name: np.asarray(x)[None][: len(codes)] for name, x in overall.items()}
                batch_weight = np.full(len(codes), total_weight, dtype=self._dtype)
        except BaseException:
            self._forget_keys_after(saved)
            raise
        if isinstance(keys, pl.DataFrame) and self._key_names is None:
            self._key_names = tuple(keys.columns)
        self._update(codes, batch, batch_weight, overall)
        self._finish(UPDATE)

    def _update(
        self, codes: np.ndarray, batch: State, batch_weight: np.ndarray, overall: State
    ) -> None:
        """One update event: the merged metric first, then the streams ``codes``.

        The merged metric decides whether the event is recorded (``history_every``).
        """
        self._overall.update_from_state(overall, validate=False)  # the engine's own
        recorded = self._overall.updates_held_back == 0
        self._add(codes, batch, batch_weight, UPDATE, recorded)

    def _add(
        self,
        codes: np.ndarray,
        batch: State,
        batch_weight: np.ndarray,
        event: int,
        recorded: bool = True,
    ) -> None:
        """Merge per-stream batch states into the streams ``codes`` (distinct, sorted).

        Records a history row per stream changed, unless ``history_every`` holds this
        update back (``recorded`` False): then the batches wait in ``_pending``, and the
        next recorded update writes a row for every stream changed since its last row.
        """
        running = {}
        for name, reduction in self._plan:
            state = self._state[name]
            if event == RESET:
                state[codes] = batch[name]
            else:
                state[codes] = reduction.combine(state[codes], batch[name])
            running[name] = state[codes]
        if event == RESET:
            self._weight[codes] = 0
        else:
            self._weight[codes] += batch_weight
        self._events_seen[codes] += 1
        if self._long is None:
            return
        held = self._pending
        if held is not None:
            if event == UPDATE:
                for name, reduction in self._plan:
                    held[name][codes] = reduction.combine(held[name][codes], batch[name])
                self._pending_touched[codes] = True
                if not recorded:
                    return
                codes = np.flatnonzero(self._pending_touched[: len(self._keys)])
                batch = {name: held[name][codes] for name, _ in self._plan}
                running = {name: self._state[name][codes] for name, _ in self._plan}
            self._drop_pending()
        if len(codes):
            self._record(codes, batch, running, event)

    def _drop_pending(self) -> None:
        """Forget the held-back batches (written, or dropped as the metric drops its own).

        The metric records a merge or reset alone and forgets its held-back updates.
        """
        if self._pending is not None:
            for f in self._fields:
                self._pending[f.name][: len(self._keys)] = f.reduction.identity
            self._pending_touched[:] = False

    def _record(
        self,
        codes: np.ndarray,
        batch: State,
        running: State,
        event: int,
        steps: np.ndarray | None = None,
        own_steps: np.ndarray | None = None,
        results: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Append one long-history row per stream in ``codes`` (at ``steps``, or the next step).

        ``own_steps`` numbers each row among its stream's events (by default the
        stream's events so far); ``results`` are the rows' batch results and results,
        when already computed. With ``history_last``, each stream's oldest rows are
        dropped in bulk once the history holds twice the rows the windows keep.
        """
        k = len(codes)
        if results is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                results = (self._rows(batch), self._rows(running))
        batch_result, result = results
        blocks = [
            *(batch[f.name].reshape(k, -1) for f in self._fields),
            batch_result.reshape(k, -1),
            *(running[f.name].reshape(k, -1) for f in self._fields),
            result.reshape(k, -1),
        ]
        assert self._long is not None
        start = len(self._long)
        self._long.extend(
            np.full(k, self._step + 1, dtype=np.int64) if steps is None else steps,
            np.full(k, event, dtype=np.int8),
            np.concatenate(blocks, axis=1),
        )
        own = self._own_steps(start)
        self._long_codes = _put(self._long_codes, start, codes)
        self._long_own = _put(
            own, start, self._events_seen[codes] if own_steps is None else own_steps
        )
        self._long_untrimmed += k
        last = self._history_last
        if last is not None and len(self._long) > 2 * last * max(len(self._keys), 1):
            self._trim()

    def _own_steps(self, rows: int) -> np.ndarray:
        """Each of the first ``rows`` long rows' step among its stream's events.

        Rows restored without them (by :func:`interactive_metrics.load`) are numbered
        back from each stream's event count, which is exact when every event was
        recorded (``history_every=1``).
        """
        own = self._long_own
        if len(own) >= rows:
            return own
        codes = self._long_codes[:rows]
        later = _rows_after_in_group(codes)
        return self._events_seen[codes] - later

    def _trim(self) -> None:
        """``history_last``: drop the rows older than each stream's last ``history_last``."""
        if self._long is None or self._history_last is None or not self._long_untrimmed:
            return
        self._long_untrimmed = 0
        n = len(self._long)
        codes = self._long_codes[:n]
        keep = _rows_after_in_group(codes) < self._history_last
        if keep.all():
            return
        rows = np.flatnonzero(keep)
        own = self._own_steps(n)[rows]
        trimmed = self._new_long()
        trimmed.extend(*self._long.take(rows))
        self._long, self._long_codes, self._long_own = trimmed, codes[rows], own

    def _finish(self, event: int, steps: int = 1) -> None:
        """After ``steps`` events: count them, drop what they made stale, tell the listeners."""
        self._step += steps
        self._frame = None
        self._merged = None
        for listener in tuple(self._listeners):
            listener(self, event)

    @property
    def lock(self) -> threading.RLock:
        """The lock every public method of this Streams holds (see :attr:`Metric.lock`)."""
        return self._lock

    @property
    def engine(self) -> Engine:
        """The engine of the metric every stream computes: :mod:`interactive_metrics.engine`."""
        return self._engine

    @_locked
    def update_from_segments(
        self, batch_states: State, segments: Segments, labels: pl.Series | np.ndarray | None = None
    ) -> None:
        """Add ``k`` batches given by their states and those of their (batch, stream) segments.

        What a replay computes from a log: ``batch_states`` (arrays of shape
        ``(k, ...)``) are the merged states of the ``k`` batches, in order;
        ``segments`` the states of the streams within them (see :class:`Segments`).
        The per-stream history equals ``update_state`` called once per batch;
        ``labels`` (the log's batch ids) name the merged history's rows.

        Raises
        ------
        ValueError
            When ``batch_states`` or ``segments`` do not fit this Streams' metric
            (fields, shapes, lengths, batch or stream positions out of range), or
            the labels cannot sit beside those of earlier replays. Everything is
            checked and computed before anything is written: on error no stream's
            state or history changes, and new streams are forgotten again.

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Sum())
        >>> from interactive_metrics.streams import Segments
        >>> segments = Segments(
        ...     keys=["a", "b"], batch=np.array([0, 0, 1]), stream=np.array([0, 1, 1]),
        ...     first_row=np.array([0, 1, 2]), weight=np.array([1.0, 1.0, 1.0]),
        ...     states={"total": np.array([1.0, 2.0, 5.0])})
        >>> s.update_from_segments({"total": np.array([3.0, 5.0])}, segments)
        >>> s.history.select("step", "stream", "running_total").rows()
        [(1, 'a', 1.0), (1, 'b', 2.0), (2, 'b', 7.0)]
        """
        self.prepare_from_segments(batch_states, segments, labels)()

    @_locked
    def prepare_from_segments(
        self, batch_states: State, segments: Segments, labels: pl.Series | np.ndarray | None = None
    ) -> Callable[[], None]:
        """Check and compute :meth:`update_from_segments`; return its write, as a call.

        Everything that can fail happens here, and nothing changes: the new streams'
        codes are worked out and forgotten again, and the write registers them anew.
        The returned call only stores arrays that are ready. Hold :attr:`lock` from
        this call until the write, so that no other event comes between: then several
        Streams (the members of a collection's streams) are prepared first and
        written after, all or nothing. A prepared write that is never called changes
        nothing.

        Raises
        ------
        ValueError
            As :meth:`update_from_segments` raises them.

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> from interactive_metrics.streams import Segments
        >>> s = im.Streams(im.Sum())
        >>> segments = Segments(
        ...     keys=["a"], batch=np.array([0]), stream=np.array([0]),
        ...     first_row=np.array([0]), weight=np.array([2.0]),
        ...     states={"total": np.array([3.0])})
        >>> with s.lock:
        ...     write = s.prepare_from_segments({"total": np.array([3.0])}, segments)
        ...     print(s.streams, s.step)
        ...     write()
        [] 0
        >>> s.streams, s.step, s.result()
        (['a'], 1, 3.0)
        """
        engine = self._engine
        names = segments.key_names
        simple_before = self._key_names is None
        if (
            segments.keys
            and self._keys
            and ((names is None) != simple_before or len(names or ()) != len(self._key_names or ()))
        ):
            raise ValueError(
                f"`stream` must be keys of the shape this Streams has ({list(self.key_names)}), "
                f"got {'one key column' if names is None else list(names)}"
            )
        states, weights, batch_rank, stream_of, first_row = _checked_segments(
            engine, batch_states, segments
        )
        dtype = self._dtype
        # segments (batch, stream) split over chunks merge here, in chunk order
        num_streams = len(segments.keys)
        pair = batch_rank * max(num_streams, 1) + stream_of
        distinct, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
        if len(distinct) != len(pair):
            states = engine.merge_segments(states, inverse, len(distinct))
            weights = np.bincount(inverse, weights=weights, minlength=len(distinct)).astype(dtype)
            sizes = np.bincount(inverse, minlength=len(distinct))
            group_starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
            by_pair = np.argsort(inverse, kind="stable")
            first_row = np.minimum.reduceat(first_row[by_pair], group_starts)
            batch_rank, stream_of = batch_rank[first], stream_of[first]
        else:
            order = np.argsort(pair, kind="stable")
            states = {name: x[order] for name, x in states.items()}
            weights, first_row = weights[order], first_row[order]
            batch_rank, stream_of = batch_rank[order], stream_of[order]
        # streams are numbered in the order the update loop would meet them
        meet = np.lexsort((first_row, batch_rank))
        seen = np.unique(stream_of[meet], return_index=True)[1]
        order_of_streams = stream_of[meet][np.sort(seen)]
        # everything that can fail comes first: the merged metric's write (which checks the
        # labels), the new streams' codes (forgotten again after), the scan and the rows
        # (the streams' storage may grow for them: rows that hold nothing yet)
        keys = [segments.keys[i] for i in order_of_streams.tolist()]
        saved = self._registry()
        try:
            new_codes = self._register(keys)
            code_of = np.empty(max(num_streams, 1), dtype=np.intp)
            code_of[order_of_streams] = new_codes
            codes = code_of[stream_of] if len(stream_of) else stream_of
            if self._pending is not None:  # history_every > 1: rows at the merged steps
                store = self._one_by_one(codes, batch_rank, states, weights, batch_states, labels)
            else:
                store = self._scanned(codes, batch_rank, states, weights, batch_states, labels)
        finally:
            self._forget_keys_after(saved)

        def write() -> None:
            with self._lock:
                # the same codes again: the lock kept every other event out since
                self._register(keys)
                if names is not None and self._key_names is None:
                    self._key_names = names
                store()

        return write

    def _scanned(
        self,
        codes: np.ndarray,
        batch_rank: np.ndarray,
        states: State,
        weights: np.ndarray,
        batch_states: State,
        labels: pl.Series | np.ndarray | None,
    ) -> Callable[[], None]:
        """The running states of every stream as a scan per stream; the write, as a call."""
        engine, dtype = self._engine, self._dtype
        names = engine.names
        k_batches = len(next(iter(batch_states.values())))
        # running states: a scan per stream over its batches, from its current state
        by_stream = np.lexsort((batch_rank, codes))
        group_codes, group_starts, group_sizes = np.unique(
            codes[by_stream], return_index=True, return_counts=True
        )
        padded_starts = group_starts + np.arange(len(group_starts))
        total = len(codes) + len(group_codes)
        body = np.ones(total, dtype=bool)
        body[padded_starts] = False
        padded: State = {}
        for f in self._fields:
            block = np.empty((total, *f.shape), dtype=dtype)
            block[padded_starts] = self._state[f.name][group_codes]
            block[body] = states[f.name][by_stream]
            padded[f.name] = block
        scanned = engine.scan(padded, group_starts=padded_starts)
        running_sorted = {name: x[body] for name, x in scanned.items()}
        back = np.empty_like(by_stream)
        back[by_stream] = np.arange(len(by_stream))
        running = {name: x[back] for name, x in running_sorted.items()}
        last = group_starts + group_sizes - 1
        final = {name: running_sorted[name][last] for name in names}
        # each row's step among its stream's events: the events before, plus its rank
        rank = np.arange(len(by_stream)) - np.repeat(group_starts, group_sizes)
        own = np.empty(len(by_stream), dtype=np.int64)
        own[by_stream] = self._events_seen[codes[by_stream]] + rank + 1
        rows = np.lexsort((codes, batch_rank))
        record = None
        if self._long is not None and len(codes):
            batch_rows = {name: states[name][rows] for name in names}
            running_rows = {name: running[name][rows] for name in names}
            results = (engine.results(batch_rows), engine.results(running_rows))
            record = (batch_rows, running_rows, results)
        write_overall = self._overall.prepare_updates(batch_states, labels)

        def write() -> None:
            for name in names:
                self._state[name][group_codes] = final[name]
            np.add.at(self._weight, codes, weights)
            self._events_seen[group_codes] += group_sizes
            if record is not None:
                batch_rows, running_rows, results = record
                self._record(
                    codes[rows],
                    batch_rows,
                    running_rows,
                    UPDATE,
                    steps=self._step + 1 + batch_rank[rows],
                    own_steps=own[rows],
                    results=results,
                )
            write_overall()
            self._finish(UPDATE, steps=k_batches)

        return write

    def _one_by_one(
        self,
        codes: np.ndarray,
        batch_rank: np.ndarray,
        states: State,
        weights: np.ndarray,
        batch_states: State,
        labels: pl.Series | np.ndarray | None,
    ) -> Callable[[], None]:
        """The batches applied one update at a time (``history_every > 1`` holds rows back)."""
        k_batches = len(next(iter(batch_states.values())))
        order = np.lexsort((codes, batch_rank))  # by batch, then stream
        bounds = np.searchsorted(batch_rank[order], np.arange(k_batches + 1))
        parts = [order[bounds[b] : bounds[b + 1]] for b in range(k_batches)]

        # sliced here, not in the write: the write only stores arrays that are ready
        batches = [({name: x[part] for name, x in states.items()}, part) for part in parts]

        def add_streams(b: int) -> None:
            batch, part = batches[b]
            recorded = self._overall.updates_held_back == 0
            self._add(codes[part], batch, weights[part], UPDATE, recorded)
            self._step += 1

        write_overall = self._overall.prepare_updates(batch_states, labels, after_each=add_streams)

        def write() -> None:
            write_overall()
            self._finish(UPDATE, steps=0)

        return write

    def add_listener(self, listener: Callable[[Streams, int], None]) -> None:
        """Call ``listener(streams, event)`` after every event (update, replay, merge, reset).

        Widgets use it to follow the streams; ``event`` is 0 (update), 1 (merge)
        or 2 (reset). A failed event calls nobody.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Sum())
        >>> seen = []
        >>> s.add_listener(lambda streams, event: seen.append((streams.step, event)))
        >>> s.update_state([1, 2], stream=["a", "b"])
        >>> s.reset_state()
        >>> seen
        [(1, 0), (2, 2)]
        """
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Streams, int], None]) -> None:
        """Stop calling ``listener`` (added with :meth:`add_listener`); unknown ones are ignored."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    @_locked
    def reset_state(self) -> None:
        """Return every stream (and the merged state) to the metric's fresh state; recorded.

        The streams stay known (with weight 0), so their histories continue.
        """
        k = len(self._keys)
        codes = np.arange(k)
        identity = {f.name: f.reduction.empty((k, *f.shape), self._dtype) for f in self._fields}
        self._add(codes, identity, np.zeros(k, dtype=self._dtype), RESET)
        self._overall.reset_state()
        self._finish(RESET)

    def merge_state(self, others: Streams | Iterable[Streams]) -> None:
        """Merge other :class:`Streams` of the same metric in, stream by stream; recorded.

        Streams with the same key merge; new keys are added in the order the
        others saw them. The merged state merges the others' merged states.

        Raises
        ------
        ValueError
            For something that is not a Streams (a plain metric, a number, ...) or a
            list holding one, or a Streams of another metric class or configuration.
            Nothing changes on error.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> a, b = im.Streams(im.Mean()), im.Streams(im.Mean())
        >>> a.update_state([1.0, 3.0], stream="x")
        >>> b.update_state([5.0, 7.0], stream=["x", "y"])
        >>> a.merge_state(b)
        >>> a.breakdown().select("stream", "result").rows()
        [('x', 3.0), ('y', 7.0)]
        """
        group: list[Any]
        if isinstance(others, Streams):
            group = [others]
        elif isinstance(others, (list, tuple)):
            group = list(others)
        elif isinstance(others, Iterable) and not isinstance(others, (Metric, str, bytes, dict)):
            group = list(others)  # a generator, a set, ... of Streams
        else:
            group = [others]  # not a Streams: refused below
        for other in group:
            if not isinstance(other, Streams):
                hint = (
                    "a plain metric merges with `s.merged()`, or update a Streams with it"
                    if isinstance(other, Metric)
                    else "pass a Streams or a list of them"
                )
                raise ValueError(
                    f"cannot merge a {type(other).__name__} into a Streams: `others` must be "
                    f"a Streams (or a list of Streams) of the same metric, got "
                    f"{type(other).__name__}; {hint}"
                )
            _check_mergeable(self._overall, other._overall)
        names = {s._key_names for s in [self, *group] if s._keys}
        if len(names) > 1:
            shown = ", ".join("simple keys" if n is None else f"key parts {list(n)}" for n in names)
            raise ValueError(
                f"cannot merge Streams whose keys differ in shape ({shown}); merge Streams "
                "keyed by the same columns"
            )
        try:  # keys of one kind in the merged Streams, checked before any change
            self._check_kinds([key for other in group for key in other._keys[:64]])
        except ValueError as error:
            raise ValueError(
                f"cannot merge Streams whose keys are of different kinds: {error}"
            ) from None
        with _all_locked([self, *group]):  # each state as of one event, the others' included
            self._merge(group)

    def _merge(self, group: list[Streams]) -> None:
        for other in group:
            if other._keys and self._key_names is None:
                self._key_names = other._key_names
            k = len(other._keys)
            codes = self._register(list(other._keys))
            if not k:
                continue
            order = np.argsort(codes, kind="stable")
            batch = {name: other._state[name][:k][order] for name, _ in self._plan}
            self._add(codes[order], batch, other._weight[:k][order], MERGE)
        self._overall.merge_state([o._overall for o in group])
        self._drop_pending()  # also when nothing was merged: the merged history wrote a row
        self._finish(MERGE)

    # -- reading -----------------------------------------------------------------------------

    @property
    def streams(self) -> list[Any]:
        """The stream keys, in order of first appearance."""
        return list(self._keys)

    @property
    def step(self) -> int:
        """How many events (updates, merges, resets) this Streams has seen."""
        return self._step

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return self._lookup(key) is not None

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._keys))

    def result(self) -> Any:
        """The merged (micro) result: the metric of all samples pooled.

        It equals ``merged().result()`` and the result of one metric updated with
        the same batches, exactly (they are the same additions).
        """
        return self._overall.result()

    def _results(self) -> np.ndarray:
        """Each stream's result, in memory of its own.

        A result may be a state field itself (``Sum``'s total): a view would change under
        the frames built from it.
        """
        k = len(self._keys)
        with np.errstate(divide="ignore", invalid="ignore"):
            results = self._rows({name: x[:k] for name, x in self._state.items()})
        return np.array(results, copy=True)

    @_locked
    def rolling(self, window: int) -> pl.DataFrame:
        """Each stream's result over its last ``window`` recorded batches (as ``Metric.rolling``).

        What shows a stream that degrades: its running result moves slowly after a
        long good start, its rolling result drops at once.

        Returns
        -------
        polars.DataFrame
            ``step``, the key columns and ``result``: a row per recorded batch of a stream.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Mean())
        >>> for values in ([1.0, 1.0], [1.0, 0.0], [0.0, 0.0]):
        ...     s.update_state(values, stream=["a", "b"])
        >>> s.rolling(1).filter(stream="b").rows()
        [(1, 'b', 1.0), (2, 'b', 0.0), (3, 'b', 0.0)]
        """
        keys = list(self.key_names)
        frame = (  # each stream's rows together, in step order
            self.history.filter(pl.col("event") != "reset")
            .with_row_index("row")
            .sort([*keys, "row"], maintain_order=True)
        )
        n = frame.height
        starts = np.zeros(0, dtype=np.intp)
        if n:
            changed = np.zeros(n - 1, dtype=bool)
            for key in keys:
                column = frame[key]
                changed |= column[1:].ne_missing(column[:-1]).to_numpy()
            starts = np.flatnonzero(np.concatenate([[True], changed]))
        batches = {
            f.name: frame[f"batch_{f.name}"].to_numpy().reshape(n, *f.shape) for f in self._fields
        }
        results = self._engine.results(self._engine.rolling(batches, window, group_starts=starts))
        out = frame.select("row", "step", *keys).with_columns(pl.Series("result", results))
        return out.sort("row").drop("row")  # the history's order

    # -- MetricFrame's view: overall, by stream, and how far apart the streams are ------------

    @property
    def overall(self) -> Any:
        """The merged result, as fairlearn's ``MetricFrame.overall``: the same as :meth:`result`."""
        return self.result()

    @property
    @_locked
    def by_stream(self) -> pl.DataFrame:
        """Each stream's result, as fairlearn's ``MetricFrame.by_group``: key columns, ``result``.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Mean())
        >>> s.update_state([1.0, 0.0, 1.0], stream=["a", "b", "a"])
        >>> s.by_stream.rows()
        [('a', 1.0), ('b', 0.0)]
        """
        return pl.DataFrame([*self._key_columns(), pl.Series("result", self._results())])

    def _groups(self, control: str | Sequence[str] | None) -> tuple[list[np.ndarray], pl.DataFrame]:
        """The active streams (positive weight) of each control level, and the levels.

        Without ``control`` there is one level (an empty frame of one row).
        """
        k = len(self._keys)
        active = self._weight[:k] > 0
        if control is None:
            return [np.flatnonzero(active)], pl.DataFrame([pl.Series("level", [0])]).drop("level")
        names = [control] if isinstance(control, str) else list(control)
        if (
            not names
            or any(n not in self.key_names for n in names)
            or len(names) >= len(self.key_names)
        ):
            raise ValueError(
                f"`control` must name some (not all) of the key parts {list(self.key_names)}, "
                f"got {control!r}; key the Streams by several columns (e.g. a DataFrame of "
                "keys) to compare streams within the levels of some of them"
            )
        keys = pl.DataFrame(self._key_columns()).select(names).with_row_index("code")
        levels = keys.group_by(names, maintain_order=True).agg(pl.col("code"))
        members = [np.asarray(codes, dtype=np.intp) for codes in levels["code"].to_list()]
        return [m[active[m]] for m in members], levels.drop("code")

    def _spread(
        self, control: str | Sequence[str] | None, name: str, per_level: Callable[..., Any]
    ) -> Any:
        """``per_level(results of a level's active streams, the level's overall)`` per level."""
        results = self._results()
        groups, levels = self._groups(control)
        values = []
        for codes in groups:
            merged = self._engine.merge_segments(
                {f.name: self._state[f.name][codes] for f in self._fields},
                np.zeros(len(codes), dtype=np.intp),
                1,
            )
            overall = self._engine.results(merged)[0]
            with np.errstate(divide="ignore", invalid="ignore"):
                value = per_level(results[codes], overall) if len(codes) else np.nan
            values.append(np.array(value) if np.ndim(value) else float(value))
        if control is None:
            return values[0]
        return levels.with_columns(pl.Series(name, values))

    @_locked
    def group_min(self, control: str | Sequence[str] | None = None) -> Any:
        """The smallest stream result, as fairlearn's ``MetricFrame.group_min``.

        Parameters
        ----------
        control : str or list of str, optional
            Key parts (of composite keys) within whose levels streams are compared,
            as fairlearn's control features: a DataFrame of the levels and their value.

        Notes
        -----
        Only streams with a positive weight count (as for :meth:`macro_result`);
        with none, NaN. Vector results are compared element by element.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Mean())
        >>> s.update_state([1.0, 0.0, 1.0, 0.5], stream=["a", "b", "a", "c"])
        >>> s.group_min(), s.group_max()
        (0.0, 1.0)
        """
        return self._spread(control, "group_min", lambda r, _: r.min(axis=0))

    @_locked
    def group_max(self, control: str | Sequence[str] | None = None) -> Any:
        """The largest stream result, as fairlearn's ``MetricFrame.group_max`` (see group_min)."""
        return self._spread(control, "group_max", lambda r, _: r.max(axis=0))

    @_locked
    def difference(
        self,
        method: Literal["between_groups", "to_overall"] = "between_groups",
        control: str | Sequence[str] | None = None,
    ) -> Any:
        """How far apart the stream results are, as fairlearn's ``MetricFrame.difference``.

        ``"between_groups"``: the largest result minus the smallest.
        ``"to_overall"``: the largest distance of a stream's result from the merged
        result (within each control level: from the merge of that level's streams).
        See :meth:`group_min` for ``control``.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Mean())
        >>> s.update_state([1.0, 1.0, 1.0, 0.0], stream=["a", "a", "a", "b"])
        >>> s.difference(), s.difference("to_overall")
        (1.0, 0.75)
        """
        how = _check_method(method)
        if how == "between_groups":
            return self._spread(control, "difference", lambda r, _: r.max(axis=0) - r.min(axis=0))
        return self._spread(control, "difference", lambda r, o: np.abs(r - o).max(axis=0))

    @_locked
    def ratio(
        self,
        method: Literal["between_groups", "to_overall"] = "between_groups",
        control: str | Sequence[str] | None = None,
    ) -> Any:
        """The smallest ratio of stream results, as fairlearn's ``MetricFrame.ratio``.

        ``"between_groups"``: the smallest result over the largest.
        ``"to_overall"``: the smallest of each stream's result over the merged result,
        each ratio taken below 1 (``min(r, 1 / r)``). A zero in a denominator gives
        NaN or infinity, as in fairlearn. See :meth:`group_min` for ``control``.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Mean())
        >>> s.update_state([1.0, 1.0, 1.0, 0.5], stream=["a", "a", "a", "b"])
        >>> s.ratio(), round(s.ratio("to_overall"), 4)
        (0.5, 0.5714)
        """
        how = _check_method(method)
        if how == "between_groups":
            return self._spread(control, "ratio", lambda r, _: r.min(axis=0) / r.max(axis=0))

        def to_overall(results: np.ndarray, overall: Any) -> Any:
            ratios = results / overall
            return np.where(ratios > 1, 1 / ratios, ratios).min(axis=0)

        return self._spread(control, "ratio", to_overall)

    @_locked
    def macro_result(self) -> Any:
        """The macro result: the unweighted mean of the results of the streams.

        Notes
        -----
        Only streams with a positive weight count (a stream whose samples were all
        masked, or that was reset, has no result to average). With none, this is
        the fresh metric's result.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Mean())
        >>> s.update_state([1, 1, 1, 0], stream=["a", "a", "a", "b"])
        >>> s.result(), s.macro_result()
        (0.75, 0.5)
        """
        k = len(self._keys)
        active = self._weight[:k] > 0
        if not active.any():
            return _fresh(self.metric).result()
        mean = self._results()[active].mean(axis=0)
        return mean.copy() if np.ndim(mean) else float(mean)

    @_locked
    def merged(self) -> Metric:
        """A standalone metric whose state is the merge of every stream.

        Its history has one row per event of this Streams (same steps, under the
        metric's history options), and its result equals :meth:`result`.

        Notes
        -----
        The metric is a copy, made once per event: calls between two events of this
        Streams return the same object, so charts and widgets may call this often.
        Changing the copy (``update_state``, ``merge_state``, ``reset_state``,
        ``replay``) never changes this Streams; it makes the copy yours, and the next
        call returns a new one.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Sum())
        >>> s.update_state([1, 2], stream=["a", "b"])
        >>> overall = s.merged()
        >>> overall is s.merged()
        True
        >>> overall.update_state([100])  # yours now: the Streams is unchanged
        >>> overall.result(), s.result(), s.merged().result()
        (103.0, 3.0, 3.0)
        """
        merged = self._merged
        if merged is None:
            overall = self._overall
            merged = copy.deepcopy(overall)  # the merged metric has no listeners to copy
            merged.add_listener(_ForgetWhenChanged(self))
            self._merged = merged
        return merged

    @_locked
    def __getitem__(self, key: Hashable) -> Metric:
        """That stream as a standalone metric, with its own history.

        The history holds the stream's rows of :attr:`history`, numbered as the
        stream's own events (``step`` 1, 2, ...), so the metric is exactly the one
        you get by updating a fresh metric with only that stream's samples of
        each batch (with ``history_last=N`` too: the stream's last N rows). With
        ``history_every=N`` its rows are those written at the recorded updates of
        the Streams (see :attr:`history`), not every N-th event of the stream.
        """
        code = self._lookup(key)
        if code is None:
            shown = self._keys[:10]
            key_scalar(key, "key")  # a key of a kind no stream has: a TypeError saying so
            if self.null_stream is None and key_scalar(key, "key") is MISSING:
                raise UnknownKeyError(
                    f"no stream for the missing key {key!r}: this Streams has no "
                    "`null_stream`, so missing keys were refused, never counted"
                )
            raise UnknownKeyError(
                f"no stream {key!r}; known streams are {shown}"
                + (" ..." if len(self._keys) > 10 else "")
            )
        metric = _fresh(self.metric)
        state = self._engine.row({f.name: self._state[f.name] for f in self._fields}, code)
        history_rows = None
        if metric.records_history and self._long is not None:
            self._trim()
            n = len(self._long)
            rows = np.flatnonzero(self._long_codes[:n] == code)
            _, events, values = self._long.take(rows)
            history_rows = (self._own_steps(n)[rows], events, values)
        fresh = metric.snapshot()  # the fresh compensation (summation="kahan"), if any
        step = int(self._events_seen[code])
        metric.restore(fresh._replace(step=step, state=state), history_rows)
        return metric

    @property
    @_locked
    def history(self) -> pl.DataFrame:
        """One row per (recorded event, stream the event changed), as a polars DataFrame.

        Columns: ``step`` (events of this Streams), ``event``, ``stream``, then the
        metric's history columns: ``batch_<field>``..., ``batch_result``,
        ``running_<field>``..., ``result`` (all per stream). An update adds a row for
        every stream it touched; a reset or merge, for every stream it changed.

        Notes
        -----
        The metric's history options apply here too:

        - ``history=False``: no rows.
        - ``history_every=N``: rows are written at every N-th update of this Streams
          (and at every merge and reset): the steps of ``merged().history``. A row
          of a stream then holds in its batch columns everything the stream got
          since its previous row; a stream untouched since then gets no row.
        - ``history_last=N``: each stream keeps its last N rows (``s[key].history``
          is at most N rows, as for a metric with that option), so this table holds
          at most N rows per stream. Older rows are dropped in bulk: at most about
          twice that many are ever held in memory.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Sum(history_last=2))
        >>> for value in [1, 2, 3]:
        ...     s.update_state([value, 10 * value], stream=["a", "b"])
        >>> s.update_state([4], stream="a")  # b keeps steps 2 and 3, a steps 3 and 4
        >>> s.history.select("step", "stream", "batch_total", "running_total").rows()
        [(2, 'b', 20.0, 30.0), (3, 'a', 3.0, 6.0), (3, 'b', 30.0, 60.0), (4, 'a', 4.0, 10.0)]
        """
        if self._frame is not None:
            return self._frame
        self._trim()
        buffer = self._long
        keys = self._key_columns()
        if buffer is None:
            frame = self._engine.new_history().frame()
            codes = np.zeros(0, dtype=np.intp)
        else:
            frame = buffer.frame().clone()  # insert_column changes a frame: not the buffer's cache
            codes = self._long_codes[: len(buffer)]
        for i, column in enumerate(keys):
            frame = frame.insert_column(2 + i, column.gather(codes))
        self._frame = frame
        return frame

    def _key_columns(self) -> list[pl.Series]:
        """The stream keys as columns: one ``stream`` column, or one per part of composite keys."""
        if self._key_names is None:
            return [_key_column("stream", self._keys)]
        parts = list(zip(*self._keys, strict=True)) if self._keys else [()] * len(self._key_names)
        return [_key_column(n, list(p)) for n, p in zip(self._key_names, parts, strict=True)]

    @_locked
    def breakdown(self) -> pl.DataFrame:
        """One row per stream: its weight and share, state, result and contribution.

        Columns, in order: ``stream``; ``weight`` (the total sample weight the
        stream has seen: its number of samples when unweighted); ``share``
        (``weight`` over the total weight; null when no weight has been seen); one
        column per state field, named as the field (``state_<field>`` for a field
        named like one of the other columns, e.g. ``weight``); ``result``;
        ``contribution``.

        Notes
        -----
        ``contribution`` is the stream's part of the merged result:

        - mean-like metrics (the merged result is the ``c``-weighted mean of the
          stream results for a state field ``c``, as ``count`` for ``Mean`` and the
          accuracies): ``c``'s share times the result (the weight share when ``c``
          is the total weight). Contributions add up to the merged result.
        - additive metrics (``Sum``, ``Count``, true-positive counts: the merged
          result is the sum of the stream results): the result itself.
        - anything else (``Min``, ``Max``, precision, F1, vector results): null,
          since no part of the merged result belongs to one stream.

        Examples
        --------
        Simpson's paradox: treatment A does better than B on small and on large
        kidney stones, yet worse overall, because A got most of the hard (large)
        cases. The merged result answers "which did better on these patients", the
        breakdown "which does better on a given kind of stone".

        >>> import interactive_metrics as im
        >>> a, b = im.Streams(im.Mean()), im.Streams(im.Mean())
        >>> a.update_state([1] * 81 + [0] * 6 + [1] * 192 + [0] * 71,
        ...                stream=["small"] * 87 + ["large"] * 263)
        >>> b.update_state([1] * 234 + [0] * 36 + [1] * 55 + [0] * 25,
        ...                stream=["small"] * 270 + ["large"] * 80)
        >>> [round(r, 3) for r in a.breakdown()["result"]], round(a.result(), 3)
        ([0.931, 0.73], 0.78)
        >>> [round(r, 3) for r in b.breakdown()["result"]], round(b.result(), 3)
        ([0.867, 0.688], 0.826)
        """
        k = len(self._keys)
        weight = self._weight[:k]
        total_weight = weight.sum()
        results = self._results()
        columns: dict[str, Any] = {column.name: column for column in self._key_columns()}
        columns |= {
            "weight": pl.Series("weight", weight.copy()),
            "share": pl.Series("share", divide_no_nan(weight, np.full_like(weight, total_weight))),
        }
        if total_weight == 0:
            columns["share"] = pl.Series("share", [None] * k, dtype=pl.Float64)
        for f in self._fields:
            taken = f.name in _BREAKDOWN_COLUMNS or f.name in self.key_names
            name = f"state_{f.name}" if taken else f.name
            columns[name] = pl.Series(name, self._state[f.name][:k].copy())
        columns["result"] = pl.Series("result", results)
        states = {f.name: self._state[f.name][:k] for f in self._fields}
        for name, values in self.metric.derived_columns(states).items():  # a bootstrap's interval
            columns[name] = pl.Series(name, np.asarray(values, dtype=np.float64))
        columns["contribution"] = self._contributions(results)
        return pl.DataFrame(columns)

    def _contributions(self, results: np.ndarray) -> pl.Series:
        k = len(self._keys)
        how = self._contribution_kind()
        if how is None:
            return pl.Series("contribution", [None] * k, dtype=pl.Float64)
        if how == "additive":
            return pl.Series("contribution", results.astype(np.float64))
        part = self._state[how][:k]
        total = part.sum()
        if total == 0:  # nothing seen (or all reset): no part of anything
            return pl.Series("contribution", [None] * k, dtype=pl.Float64)
        return pl.Series("contribution", (part / total * results).astype(np.float64))

    def _contribution_kind(self) -> str | None:
        if not hasattr(self, "_contribution"):
            self._contribution = self._rows.contribution_field()
        return self._contribution

    @_locked
    def replay(
        self,
        data: Any,
        *,
        batch: str,
        stream: str | Sequence[str],
        sample_weight: str | None = None,
        every: str | None = None,
        reset: str | None = None,
        **columns: str,
    ) -> Streams:
        """Replay a logged run into per-stream histories, as one update per batch.

        ``stream`` is the column of keys, or a list of columns (composite keys);
        ``every`` buckets a datetime ``batch`` column, ``reset`` names a column of
        epochs. See :func:`interactive_metrics.replay.replay_streams`.
        """
        from interactive_metrics.replay import replay_streams

        return replay_streams(
            self,
            data,
            batch=batch,
            stream=stream,
            sample_weight=sample_weight,
            every=every,
            reset=reset,
            **columns,
        )

    def plot(self, kind: Literal["breakdown", "history"] = "breakdown", **options: Any) -> Any:
        """An altair chart of the streams (needs the ``charts`` extra).

        Parameters
        ----------
        kind : {"breakdown", "history"}
            :func:`~interactive_metrics.charts.stream_breakdown` (each stream's
            result against the merged and macro results, and its share) or
            :func:`~interactive_metrics.charts.stream_history` (a line per stream).
        **options
            Passed to the chart function (e.g. ``higher_is_better=True``).

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Mean())
        >>> s.update_state([1, 1, 0], stream=["a", "a", "b"])
        >>> type(s.plot()).__name__, type(s.plot("history")).__name__
        ('HConcatChart', 'Chart')
        """
        from interactive_metrics import charts

        return charts.plot(self, kind, charts.STREAM_KINDS, **options)

    def widget(self, kind: Literal["explorer", "live"] = "explorer", **options: Any) -> Any:
        """An ipywidgets view of the streams (needs the ``widgets`` extra).

        Parameters
        ----------
        kind : {"explorer", "live"}
            ``"explorer"`` picks streams and compares their rows and histories with
            the merged result; ``"live"`` follows ``update_state`` as it happens.
        **options
            Passed to :class:`~interactive_metrics.widgets.StreamExplorer` or
            :class:`~interactive_metrics.widgets.LiveView`.
        """
        from interactive_metrics import widgets

        return widgets.streams_widget(self, kind, **options)

    def _repr_html_(self) -> str:
        """The card a notebook shows for the streams (see ``widgets.card.streams_card``)."""
        from interactive_metrics.widgets.card import streams_card

        return streams_card(self)

    def __repr__(self) -> str:
        shown = ", ".join(repr(k) for k in self._keys[:5]) + (", ..." if len(self) > 5 else "")
        return (
            f"Streams({type(self.metric).__name__}, streams=[{shown}], "
            f"result={self._overall.result()!r}, step={self._step})"
        )

    # --- save/load support (used by io.py) ---
    # What interactive_metrics.io writes and rebuilds, as plain values, arrays and frames.
    # The file format, its checks and its errors live in io.py; this section only reads
    # and fills the internals above (keep it in step with them).

    def save(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Save the metric's configuration, every stream's state and both histories.

        Load it back with ``interactive_metrics.load(path)``: JSON and Parquet only,
        no pickle. See :func:`interactive_metrics.io.save` for ``path`` and
        ``custom_objects``.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> import interactive_metrics as im
        >>> s = im.Streams(im.Mean())
        >>> s.update_state([1.0, 0.0, 1.0], stream=["a", "b", "a"])
        >>> path = s.save(pathlib.Path(tempfile.mkdtemp()) / "streams.zip")
        >>> loaded = im.load(path)
        >>> loaded.streams, loaded.result(), loaded["a"].result()
        (['a', 'b'], 0.6666666666666666, 1.0)
        """
        from interactive_metrics.io import save

        return save(self, path, **options)

    @_locked
    def snapshot(self) -> dict[str, Any]:
        """Everything a saved Streams holds, as copies: what ``save`` writes.

        ``history`` is :attr:`history` with a last column ``stream_step``: each row's
        step among its stream's events (the steps of ``s[key].history``), which
        ``history_every`` and ``history_last`` make impossible to work out again.
        ``pending`` is ``(touched, batches)``: what ``history_every`` holds back per
        stream, or None.
        """
        k = len(self._keys)
        history = None
        if self._long is not None:
            frame = self.history  # each stream's window trimmed first
            n = len(self._long)
            own = pl.Series("stream_step", self._own_steps(n)[:n], dtype=pl.Int64)
            history = frame.with_columns(own)
        pending = None
        if self._pending is not None:
            held = {f.name: self._pending[f.name][:k].copy() for f in self._fields}
            pending = (self._pending_touched[:k].copy(), held)
        return {
            "metric": self._overall,  # the merged metric: configuration, state, history
            "null_stream": self.null_stream,
            "step": self._step,
            "keys": list(self._keys),
            "key_names": self._key_names,  # None for simple keys
            "weight": self._weight[:k].copy(),
            "events": self._events_seen[:k].copy(),
            "state": {f.name: self._state[f.name][:k].copy() for f in self._fields},
            "pending": pending,
            "history": history,
        }

    @classmethod
    def from_snapshot(
        cls,
        metric: Metric,
        *,
        null_stream: Hashable | None,
        step: int,
        keys: list[Any],
        weight: np.ndarray,
        events: np.ndarray,
        state: dict[str, np.ndarray],
        pending: tuple[np.ndarray, dict[str, np.ndarray]] | None,
        history: tuple[np.ndarray, ...] | None,
        key_names: tuple[str, ...] | None = None,
    ) -> Streams:
        """A Streams from checked parts; ``metric`` (the merged metric) is used, not copied.

        ``history`` is the per-stream history as ``(steps, events, rows, codes,
        stream_steps)``: the :class:`HistoryBuffer` numbers of the rows of
        :attr:`history`, each row's stream as an index into ``keys`` and its step
        among that stream's events. ``pending`` is as :meth:`snapshot` gives it.
        """
        streams = cls(_fresh(metric), null_stream=null_stream)
        if key_names is not None:
            names = tuple(key_names)
            if any(type(key) is not tuple or len(key) != len(names) for key in keys):
                raise ValueError(f"composite keys must be tuples of {len(names)} parts")
            streams._key_names = names
        if (history is None) != (streams._long is None):
            raise ValueError("a per-stream history is saved exactly when the metric records one")
        if (pending is None) != (streams._pending is None):
            raise ValueError("held-back batches are saved exactly when history_every > 1")
        streams._overall = metric
        streams._register(keys)
        k = len(keys)
        for f in streams._fields:
            streams._state[f.name][:k] = state[f.name]
        streams._weight[:k] = weight
        streams._events_seen[:k] = events
        streams._step = step
        if pending is not None and streams._pending is not None:
            touched, held = pending
            streams._pending_touched[:k] = touched
            for f in streams._fields:
                streams._pending[f.name][:k] = held[f.name]
        if history is not None and streams._long is not None:
            steps, event_codes, rows, codes, own = history
            streams._long.extend(steps, event_codes, rows)
            streams._long_codes = np.array(codes, dtype=np.intp)
            streams._long_own = np.array(own, dtype=np.int64)
        return streams

    # --- end of save/load support ---


def _checked_segments(
    engine: Engine, batch_states: Any, segments: Segments
) -> tuple[State, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``segments`` checked against ``engine`` and the ``k`` batches of ``batch_states``.

    Returns the segment states (each of shape ``(m, *field.shape)``, in the engine's
    dtype), weights, batch positions (in ``[0, k)``), stream positions (in
    ``[0, len(keys))``) and first rows of the ``m`` segments. ``batch_states`` is
    only checked for its fields and its number of batches here; the merged metric's
    ``prepare_updates`` checks the rest, also before anything is written.
    """
    names = list(engine.names)
    if not isinstance(batch_states, Mapping) or set(batch_states) != set(names):
        got = sorted(batch_states) if isinstance(batch_states, Mapping) else type(batch_states)
        raise ValueError(
            f"`batch_states` must map each state field {names} to its values, got {got!r}; "
            "compute them with `metric.engine`"
        )
    leading = np.shape(batch_states[names[0]])
    if not leading:
        raise ValueError(
            f"`batch_states[{names[0]!r}]` must have a leading axis of batches, got shape (); "
            "stack the k batch states into arrays of shape (k, ...)"
        )
    k = leading[0]
    if not isinstance(segments.states, Mapping) or set(segments.states) != set(names):
        states = segments.states
        got = sorted(states) if isinstance(states, Mapping) else type(states)
        raise ValueError(
            f"`segments.states` must map each state field {names} to the segments' states, "
            f"got {got!r}; compute them with `metric.engine.segment_states`"
        )
    batch = np.asarray(segments.batch)
    m = len(batch) if batch.ndim == 1 else 0  # the number of segments
    positions = []
    for attribute in ("batch", "stream", "first_row"):
        value = np.asarray(getattr(segments, attribute))
        if value.shape != (m,) or (m and value.dtype.kind not in "iu"):
            raise ValueError(
                f"`segments.{attribute}` must be a 1-d array of integers, one per segment "
                f"(as many as `segments.batch` holds), got shape {value.shape} and dtype "
                f"{value.dtype}"
            )
        positions.append(value.astype(np.intp, copy=False))
    batch_rank, stream_of, first_row = positions
    for attribute, value, limit in (
        ("batch", batch_rank, k),
        ("stream", stream_of, len(segments.keys)),
    ):
        if m and (value.min() < 0 or value.max() >= limit):
            raise ValueError(
                f"`segments.{attribute}` must hold positions in [0, {limit}), got values "
                f"from {value.min()} to {value.max()}; number segments by their "
                + ("batch in `batch_states`" if attribute == "batch" else "key in `segments.keys`")
            )
    out: State = {}
    arrays = {"weight": segments.weight, **{f"states[{n!r}]": segments.states[n] for n in names}}
    shapes = {"weight": (m,), **{f"states[{f.name!r}]": (m, *f.shape) for f in engine.fields}}
    for label, raw in arrays.items():
        try:
            value = np.asarray(raw, dtype=engine.dtype)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"`segments.{label}` must hold numbers, got {np.asarray(raw).dtype} ({error})"
            ) from None
        if value.shape != shapes[label]:
            raise ValueError(
                f"`segments.{label}` must have shape {shapes[label]} (one row per segment), "
                f"got {value.shape}"
            )
        out[label] = value
    states = {n: out[f"states[{n!r}]"] for n in names}
    return states, out["weight"], batch_rank, stream_of, first_row


def key_kind(key: Any) -> Any:
    """The kind of a stream key: what one polars column of such keys holds.

    A Streams keeps keys of one kind (per part, for composite keys), so that its
    breakdown has one typed key column and a save gives every key back as it was:
    ``"str"``, ``"int"``, ``"float"``, ``"bool"``, ``"datetime"`` (with its time zone),
    ``"date"``, ``"duration"``, ``"time"``, or the type's name; a tuple of kinds for
    composite keys.

    Examples
    --------
    >>> key_kind("pump_a"), key_kind(np.int64(3)), key_kind(("a", 1))
    ('str', 'int', ('str', 'int'))
    """
    if isinstance(key, tuple):
        return tuple(key_kind(part) for part in key)
    if isinstance(key, (bool, np.bool_)):
        return "bool"
    if isinstance(key, (int, np.integer)):
        return "int"
    if isinstance(key, (float, np.floating)):
        return "float"
    if isinstance(key, str):
        return "str"
    if isinstance(key, datetime.datetime):
        return "datetime" if key.tzinfo is None else f"datetime[{key.tzinfo}]"
    if isinstance(key, datetime.date):
        return "date"
    if isinstance(key, datetime.timedelta):
        return "duration"
    if isinstance(key, datetime.time):
        return "time"
    return type(key).__name__


def check_keys(
    stream: Any,
    n: int,
    null_stream: Hashable | None = None,
    key_names: tuple[str, ...] | None | Literal[False] = False,
) -> Any:
    """The stream keys of a batch of ``n`` samples, checked: what a Streams keys samples by.

    Returns one key for the whole batch (a missing one is ``null_stream``), a numpy
    integer array or a polars Series of per-sample keys (missing keys as nulls), or a
    polars DataFrame of composite keys (a column per part). ``key_names`` is the key
    shape seen so far: the parts of composite keys, None for simple keys, False when
    no key has been seen yet; keys of another shape are a ``ValueError``, as are
    missing keys without ``null_stream``.

    Examples
    --------
    >>> check_keys(["b", "a"], 2).to_list(), check_keys("pump", 3)
    (['b', 'a'], 'pump')
    >>> check_keys(pl.DataFrame({"s": ["a"], "t": [1]}), 1, key_names=None)
    Traceback (most recent call last):
    ...
    ValueError: `stream` must be one key column, as before (the streams have simple keys), ...
    """
    parts = key_parts(stream, "stream")
    if parts is not None:
        columns, names = parts
        if len(columns[0]) != n:
            raise ValueError(
                f"`stream` must have one key per sample ({n}), got {len(columns[0])} key(s) "
                "in each key column"
            )
        if key_names is None:
            raise ValueError(
                "`stream` must be one key column, as before (the streams have simple keys), "
                f"got composite keys of {len(columns)} parts {names}"
            )
        if key_names is not False and len(names) != len(key_names):
            raise ValueError(
                f"`stream` must have {len(key_names)} key parts {list(key_names)}, as "
                f"before, got {len(names)}: {names}"
            )
        missing = sum(part.null_count() for part in columns)
        if missing and null_stream is None:
            raise ValueError(
                f"`stream` must not contain missing keys (None, NaN, NA, NaT or null), got "
                f"{missing} missing key part(s); drop those rows, or name a stream for "
                "them, e.g. null_stream='unknown'"
            )
        return pl.DataFrame(columns)  # the part names are kept once an update is committed
    if key_names:
        raise ValueError(
            f"`stream` must be composite keys of the parts {list(key_names)}, as before, "
            "got one key column; pass a DataFrame, a list of columns or tuples"
        )
    if not is_key_sequence(stream):
        key = key_scalar(stream, "stream")
        if key is MISSING:
            if null_stream is None:
                raise ValueError(
                    f"`stream` must be a key or one key per sample, got {stream!r} (a missing "
                    "key); pass a key, or name a stream for missing keys with "
                    "null_stream='unknown'"
                )
            return null_stream
        return key
    keys = stream
    if isinstance(keys, np.ndarray) and keys.ndim != 1:
        raise ValueError(
            f"`stream` must be one key per sample (shape ({n},)), got shape {keys.shape}"
        )
    if not (isinstance(keys, np.ndarray) and keys.dtype.kind in "iu"):
        keys = key_series(keys, "stream")
        wide = keys.dtype in (pl.Int128, pl.UInt128)  # numpy has no 128-bit integers
        if keys.dtype.is_integer() and not wide and keys.null_count() == 0:
            keys = keys.to_numpy()
    if len(keys) != n:
        raise ValueError(
            f"`stream` must have one key per sample ({n}), got {len(keys)} key(s); pass a "
            "key for every row, or a single key for the whole batch"
        )
    if isinstance(keys, pl.Series) and keys.null_count() and null_stream is None:
        raise ValueError(
            f"`stream` must not contain missing keys (None, NaN, NA, NaT or null), got "
            f"{keys.null_count()} missing; drop those rows, or name a stream for them, "
            "e.g. null_stream='unknown'"
        )
    return keys


def _check_method(method: Any) -> str:
    if method not in ("between_groups", "to_overall"):
        raise ValueError(
            f"`method` must be 'between_groups' or 'to_overall', got {method!r} (fairlearn's "
            "names: between the streams, or of each stream to the merged result)"
        )
    return str(method)


def _key_column(name: str, keys: list[Any]) -> pl.Series:
    """Keys as a Series (as text when polars cannot hold them in one column); String when empty."""
    if not keys:
        return pl.Series(name, [], dtype=pl.String)
    try:
        return pl.Series(name, keys)
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        return pl.Series(name, [str(k) for k in keys])


def _check_mergeable(mine: Metric, other: Metric) -> None:
    if type(other) is not type(mine):
        raise ValueError(
            f"cannot merge Streams of {type(other).__name__} into Streams of "
            f"{type(mine).__name__}; merge Streams of the same metric class"
        )
    ours, theirs = mine.merge_key(), other.merge_key()
    if ours != theirs:
        diff = {k: (ours.get(k), theirs.get(k)) for k in ours if ours.get(k) != theirs.get(k)}
        raise ValueError(
            f"cannot merge Streams whose metrics' configurations differ in {diff} "
            "(this, other); create both with the same arguments"
        )


def _put(buffer: np.ndarray, start: int, values: np.ndarray) -> np.ndarray:
    """``buffer[start : start + len(values)] = values``, doubling ``buffer`` when too short."""
    end = start + len(values)
    if len(buffer) < end:
        bigger = np.zeros(max(2 * len(buffer), end, 64), dtype=buffer.dtype)
        bigger[:start] = buffer[:start]
        buffer = bigger
    buffer[start:end] = values
    return buffer


def _rows_after_in_group(codes: np.ndarray) -> np.ndarray:
    """For each position, how many later positions hold the same code.

    >>> _rows_after_in_group(np.array([3, 1, 3, 3, 1]))
    array([2, 1, 1, 0, 0])
    """
    n = len(codes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(codes, kind="stable")  # each code's positions, in order
    ordered = codes[order]
    ends = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))
    group_end = np.repeat(ends, np.diff(np.append(-1, ends)))
    after = np.empty(n, dtype=np.int64)
    after[order] = group_end - np.arange(n)
    return after


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, pl.Categorical)
