"""Several metrics, many streams: the per-stream breakdown of a :class:`MetricCollection`.

:meth:`MetricCollection.streams() <interactive_metrics.MetricCollection.streams>` gives a
:class:`CollectionStreams`: one :class:`~interactive_metrics.Streams` per member, fed
together. An update binds the batch once per group of members that read it alike
(as the collection does) and codes the stream keys ONCE: every member then reduces
its own terms by those shared codes and hands its states to its Streams
(:meth:`Streams.update_from_segments <interactive_metrics.Streams.update_from_segments>`).
A replay reads the log once, in chunks, for every member.

Each member's numbers equal that metric's own :class:`~interactive_metrics.Streams`
updated alone, exactly: the same terms, reduced by the same segments, merged in the
same order.

Examples
--------
>>> import interactive_metrics as im
>>> metrics = im.MetricCollection({"loss": im.Mean(), "accuracy": im.BinaryAccuracy()})
>>> s = metrics.streams()
>>> s.update_state(values=[0.2, 0.4, 0.9], y_true=[1, 0, 1], y_pred=[0.8, 0.1, 0.3],
...                stream=["a", "a", "b"])
>>> s.breakdown().select("stream", "weight", "loss/result", "accuracy/result").rows()
[('a', 2.0, 0.30000000000000004, 1.0), ('b', 1.0, 0.9, 0.0)]
>>> s.result(), s.macro_result()
({'loss': 0.5, 'accuracy': 0.6666666666666666}, {'loss': 0.6000000000000001, 'accuracy': 0.5})
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from interactive_metrics.core.segments import (
    factorize,
    factorize_parts,
    sample_weights,
)
from interactive_metrics.engine import Batch, Engine, State
from interactive_metrics.errors import UnknownKeyError
from interactive_metrics.replay import (
    Epochs,
    batch_codes,
    batch_labels,
    check_nulls,
    chunk_keys,
    input_arrays,
    input_roles,
    open_log,
    prepare_stream_epochs,
    sorted_codes,
    source_chunks,
    stream_roles,
)
from interactive_metrics.streams import Segments, Streams, check_keys

if TYPE_CHECKING:
    from interactive_metrics.collection import MetricCollection

__all__ = ["BatchKeys", "CollectionStreams", "code_keys"]

SEPARATOR = "/"  # as MetricCollection.history: ``loss/result``


class BatchKeys:
    """The stream keys of one batch, coded once for every member.

    Attributes
    ----------
    codes : numpy.ndarray or None
        Each sample's stream, as a position in ``keys`` (numbered in order of first
        appearance); None when one key names the whole batch.
    keys : list
        The distinct keys (tuples for composite keys).
    key_names : tuple of str or None
        The parts of composite keys; None for simple keys.
    """

    __slots__ = ("codes", "key_names", "keys")

    def __init__(
        self, codes: np.ndarray | None, keys: list[Any], key_names: tuple[str, ...] | None
    ) -> None:
        self.codes = codes
        self.keys = keys
        self.key_names = key_names


def code_keys(
    stream: Any,
    n: int,
    null_stream: Hashable | None = None,
    key_names: tuple[str, ...] | None | Literal[False] = False,
) -> BatchKeys:
    """Validate and code the keys of a batch of ``n`` samples, as :class:`Streams` does.

    Parameters
    ----------
    stream : hashable, sequence, DataFrame, struct Series or list of columns
        One key for the batch, one key per sample, or composite keys (see
        :class:`~interactive_metrics.Streams`).
    n : int
        The number of samples.
    null_stream : hashable, optional
        The stream missing keys are counted in; without it they are an error.
    key_names : tuple of str, None or False
        The key shape seen so far: the parts of composite keys, None for simple
        keys, False when no key has been seen yet.

    Examples
    --------
    >>> keys = code_keys(["b", "a", "b"], 3)
    >>> keys.codes, keys.keys
    (array([0, 1, 0]), ['b', 'a'])
    >>> code_keys([("a", 1), ("a", 2)], 2).keys
    [('a', 1), ('a', 2)]
    """
    keys = check_keys(stream, n, null_stream, key_names)
    if isinstance(keys, pl.DataFrame):
        codes, composite = factorize_parts(keys.get_columns(), "stream", null_stream)
        return BatchKeys(codes, composite, tuple(keys.columns))
    if not isinstance(keys, (np.ndarray, pl.Series)):
        return BatchKeys(None, [keys], None)
    codes, uniques = factorize(keys, "stream", null_stream)
    return BatchKeys(codes, uniques, None)


class CollectionStreams:
    """Per-stream states of every member of a collection, from one keying of each batch.

    Made by :meth:`MetricCollection.streams() <interactive_metrics.MetricCollection.streams>`.

    Parameters
    ----------
    collection : MetricCollection
        The members; only their configurations are used (their states are not
        copied), as :class:`~interactive_metrics.Streams` does with a metric.
    null_stream : hashable, optional
        The stream missing keys are counted in (see :class:`~interactive_metrics.Streams`).

    Notes
    -----
    Every member has its own :class:`~interactive_metrics.Streams`
    (:attr:`members`); each equals that metric's Streams updated alone with the
    same batches. Results are dicts of member name to value.

    A member whose ``nan_strategy`` drops samples does not see their keys: it
    may then know fewer streams than the others; :meth:`breakdown` leaves its cells
    of those streams null.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> metrics = im.MetricCollection([im.Precision(), im.Recall()])
    >>> s = metrics.streams()
    >>> s.update_state([1, 0, 1, 1], [0.9, 0.8, 0.2, 0.7], stream=["x", "x", "y", "y"])
    >>> s.group_min()
    {'precision': 0.5, 'recall': 0.5}
    >>> s["y"]
    MetricCollection(precision=Precision(1.0), recall=Recall(0.5), step=1)
    """

    def __init__(
        self, collection: MetricCollection, *, null_stream: Hashable | None = None
    ) -> None:
        from interactive_metrics.collection import MetricCollection

        if not isinstance(collection, MetricCollection):
            raise TypeError(
                f"`collection` must be a MetricCollection, got {type(collection).__name__}; "
                "for one metric use im.Streams(metric)"
            )
        self._names = tuple(collection.keys())
        self._members = {
            name: Streams(m, null_stream=null_stream) for name, m in collection.items()
        }
        self._order = tuple(self._members.values())
        # a collection of fresh copies binds the batches (it is never updated)
        self._binder = MetricCollection(
            {name: type(m).from_config(m.get_config()) for name, m in collection.items()}
        )
        self._engines = tuple(s.engine for s in self._order)
        self.null_stream = self._order[0].null_stream
        self._key_names: tuple[str, ...] | None | Literal[False] = False  # no key seen yet

    # -- the members ------------------------------------------------------------------------

    @property
    def members(self) -> dict[str, Streams]:
        """Each member's :class:`~interactive_metrics.Streams`, by name (read them, do not update).

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.MetricCollection([im.Sum(), im.Max()]).streams()
        >>> s.update_state([1.0, 5.0, 2.0], stream=["a", "b", "a"])
        >>> s.members["max"].breakdown().select("stream", "result").rows()
        [('a', 2.0), ('b', 5.0)]
        """
        return dict(self._members)

    def keys(self) -> list[str]:
        """The members' names, in order."""
        return list(self._names)

    @property
    def streams(self) -> list[Any]:
        """The stream keys, in order of first appearance (over every member)."""
        seen: dict[Any, None] = {}
        for s in self._order:
            seen.update(dict.fromkeys(s.streams))
        return list(seen)

    @property
    def key_names(self) -> tuple[str, ...]:
        """The names of the key columns: ``("stream",)``, or the parts of composite keys."""
        return ("stream",) if not self._key_names else self._key_names

    @property
    def step(self) -> int:
        """How many events (updates, merges, resets) the streams have seen."""
        return self._order[0].step

    def __len__(self) -> int:
        return len(self.streams)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.streams)

    def __contains__(self, key: object) -> bool:
        return any(key in s for s in self._order)

    def _locked(self) -> ExitStack:
        stack = ExitStack()
        for s in sorted(self._order, key=id):  # one global order: no deadlock
            stack.enter_context(s.lock)
        return stack

    # -- update -----------------------------------------------------------------------------

    def update_state(
        self, *inputs: Any, stream: Any, sample_weight: Any = None, **named: Any
    ) -> None:
        """Add one batch whose samples belong to streams, to every member.

        Parameters
        ----------
        *inputs : array-like
            The inputs, positionally when every member reads the same ones (as for
            :meth:`interactive_metrics.MetricCollection.update_state`).
        stream : hashable, sequence, DataFrame, ...
            One key per sample, composite keys, or one key for the whole batch (as
            :meth:`Streams.update_state <interactive_metrics.Streams.update_state>`).
        sample_weight : array-like, optional
            One weight per sample, for every member.
        **named : array-like
            The inputs by name (``values=``, ``y_true=``, ``y_pred=``).

        Raises
        ------
        TypeError, ValueError
            As the collection and :class:`~interactive_metrics.Streams` raise them.
            Every member's states are computed before any member changes: a failed
            update changes no member.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.MetricCollection([im.Sum(), im.Count()]).streams()
        >>> s.update_state([1.0, 2.0, 4.0], stream=["a", "b", "a"])
        >>> s.update_state([8.0], stream="c")
        >>> s.breakdown().select("stream", "sum/result", "count/result").rows()
        [('a', 5.0, 2.0), ('b', 2.0, 1.0), ('c', 8.0, 1.0)]
        """
        batches = self._binder.bind(*inputs, sample_weight=sample_weight, **named)
        with self._locked():
            keys = code_keys(stream, batches[0].n, self.null_stream, self._key_names)
            prepared = [
                _member_segments(engine, batch, keys)
                for engine, batch in zip(self._engines, batches, strict=True)
            ]
            writes = [  # every member checked first: a failure changes no member
                s.prepare_from_segments(batch_states, segments)
                for s, (batch_states, segments) in zip(self._order, prepared, strict=True)
            ]
            for write in writes:
                write()
            if self._key_names is False and (keys.keys or keys.key_names is not None):
                self._key_names = keys.key_names  # composite keys count even with no rows

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
    ) -> CollectionStreams:
        """Replay a logged run into every member's streams, in one pass over the log.

        Parameters
        ----------
        data : polars DataFrame or LazyFrame, pandas DataFrame, Dask DataFrame, or path
            One row per sample; a CSV / Parquet path is read lazily, in chunks; a
            Dask DataFrame is reduced on its workers
            (:func:`~interactive_metrics.distributed.replay_dask`).
        batch : str
            The column of batch ids; batches are replayed in sorted id order.
        stream : str or list of str
            The column of stream keys, or several columns for composite keys.
        sample_weight : str, optional
            The column of sample weights, for every member.
        every : str, optional
            Bucket a ``batch`` column of datetimes into time buckets (``"1h"``,
            ``"1d"``...), as :meth:`Streams.replay <interactive_metrics.Streams.replay>`.
        reset : str, optional
            The column of epochs: every member's streams are reset before each epoch.
        **columns : str
            One column per input the members read (``values="loss", y_true="label"``).

        Returns
        -------
        CollectionStreams
            This object: each member equals its own ``Streams.replay`` of the log.

        Raises
        ------
        TypeError, ValueError
            As :meth:`Streams.replay <interactive_metrics.Streams.replay>`. The whole
            log is read and reduced before any member changes.

        Examples
        --------
        >>> import polars as pl
        >>> import interactive_metrics as im
        >>> log = pl.DataFrame({"step": [1, 1, 2], "sensor": ["a", "b", "a"],
        ...                     "loss": [0.5, 0.3, 0.1], "label": [1, 0, 1],
        ...                     "score": [0.9, 0.7, 0.2]})
        >>> s = im.MetricCollection({"loss": im.Mean(), "recall": im.Recall()}).streams()
        >>> s = s.replay(log, batch="step", stream="sensor", values="loss", y_true="label",
        ...              y_pred="score")
        >>> s.breakdown().select("stream", "loss/result", "recall/result").rows()
        [('a', 0.3, 0.5), ('b', 0.3, 0.0)]
        """
        from interactive_metrics.distributed import is_dask_frame, replay_dask

        names = self._binder.input_names
        input_roles(self._binder, columns, "CollectionStreams")
        if is_dask_frame(data):  # every member's partial states on the workers, one pass
            return replay_dask(
                self,
                data,
                batch=batch,
                stream=stream,
                sample_weight=sample_weight,
                every=every,
                reset=reset,
                **columns,
            )
        lazy, frame, schema, roles, needed = open_log(
            data,
            {n: columns[n] for n in names},
            batch=batch,
            sample_weight=sample_weight,
            every=every,
            reset=reset,
            stream=stream,
        )
        key_roles = stream_roles(stream)
        null_ok = set(key_roles) if self.null_stream is not None else set()
        new_names = None if isinstance(stream, str) else tuple(stream)
        self.check_key_shape(stream)
        partials = [_ReplayParts(e) for e in self._engines]
        epochs = Epochs(reset)
        all_keys: list[Any] = []  # replay-wide stream index -> key
        index: dict[Any, int] = {}
        offset = 0
        for chunk in source_chunks(lazy, frame, needed):
            check_nulls(chunk, roles, null_ok)
            epochs.add(chunk, batch)
            height = chunk.height
            starts, codes, ids = batch_codes(chunk[batch])
            if starts is not None:
                codes = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, height)))
            local, keys = chunk_keys(chunk, stream, self.null_stream)  # once for every member
            global_of = np.empty(len(keys), dtype=np.intp)
            for i, key in enumerate(keys):
                code = index.get(key)
                if code is None:
                    code = index[key] = len(all_keys)
                    all_keys.append(key)
                global_of[i] = code
            arrays = input_arrays(chunk, {n: columns[n] for n in names})
            weights = None if sample_weight is None else chunk[sample_weight].to_numpy()
            bound = self._binder.bind(sample_weight=weights, **arrays)
            for parts, one in zip(partials, bound, strict=True):
                parts.add(one, codes, ids, local, len(keys), global_of, offset)
            offset += height
        labels = None
        all_batches = None
        prepared = {}
        for name, parts in zip(self._names, partials, strict=True):
            all_batches, batch_states, segments = parts.collect(all_keys, new_names)
            labels = batch_labels(all_batches, schema[batch])
            prepared[name] = (batch_states, segments)
        runs = epochs.bounds(all_batches, batch)
        self.update_from_segments(prepared, labels=labels, runs=runs)
        return self

    def check_key_shape(self, stream: str | Sequence[str]) -> None:
        """Raise a ``ValueError`` unless ``stream`` (key columns) suits the keys seen so far.

        One column for simple keys, as many columns as before for composite keys.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.MetricCollection([im.Sum(), im.Max()]).streams()
        >>> s.update_state([1.0], stream="a")
        >>> s.check_key_shape(["sensor", "site"])
        Traceback (most recent call last):
        ...
        ValueError: `stream` must be keys of the shape these streams have (['stream']), ...
        """
        new_names = None if isinstance(stream, str) else tuple(stream)
        if self._key_names is not False and self._key_names != new_names:
            if (self._key_names is None) != (new_names is None) or len(
                self._key_names or ()
            ) != len(new_names or ()):
                raise ValueError(
                    f"`stream` must be keys of the shape these streams have "
                    f"({list(self.key_names)}), got {stream!r}"
                )

    def update_from_segments(
        self,
        parts: Mapping[str, tuple[State, Segments]],
        labels: pl.Series | None = None,
        runs: list[tuple[int, int]] | None = None,
    ) -> None:
        """Add ``k`` batches to every member, given each member's batch and segment states.

        What a replay computes (on one machine or on Dask's workers): for each member
        name, the arguments of :meth:`Streams.update_from_segments
        <interactive_metrics.Streams.update_from_segments>`. ``runs`` (positions of
        the ``k`` batches, one pair per epoch) resets every member before each epoch.

        Raises
        ------
        ValueError
            For other member names, keys of another shape, or labels that cannot sit
            beside earlier ones; checked before any member changes.

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> from interactive_metrics.streams import Segments
        >>> s = im.MetricCollection([im.Sum(), im.Max()]).streams()
        >>> zero = np.zeros(1, dtype=np.intp)  # one batch, one stream ("a"), its first row 0
        >>> def part(states):
        ...     return states, Segments(["a"], zero, zero, zero, np.ones(1), states)
        >>> total, largest = {"total": np.array([2.0])}, {"max": np.array([2.0])}
        >>> s.update_from_segments({"sum": part(total), "max": part(largest)})
        >>> s.breakdown().select("stream", "sum/result", "max/result").rows()
        [('a', 2.0, 2.0)]
        """
        if list(parts) != list(self._names):
            raise ValueError(
                f"`parts` must hold every member, {list(self._names)}, got {list(parts)}"
            )
        for name, engine in zip(self._names, self._engines, strict=True):
            batch_states, segments = parts[name]
            for states in (batch_states, segments.states):
                if set(states) != set(engine.names):
                    raise ValueError(
                        f"member {name!r} needs the states {list(engine.names)}, got "
                        f"{list(states)}; pass what its engine computes"
                    )
        names = next(iter(parts.values()))[1].key_names
        if self._key_names is not False:
            self.check_key_shape("stream" if names is None else list(names))
        with self._locked():  # every member checked and prepared, then every member written
            writes = [
                prepare_stream_epochs(s, *parts[name], labels, runs)
                for name, s in self._members.items()
            ]
            for write in writes:
                write()
            if self._key_names is False and (
                names is not None or any(seg.keys for _, seg in parts.values())
            ):
                self._key_names = names  # composite keys count even with no rows

    # -- events over every member -----------------------------------------------------------

    def reset_state(self) -> None:
        """Reset every member's streams (one reset event each; the streams stay known).

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.MetricCollection([im.Sum(), im.Max()]).streams()
        >>> s.update_state([1.0, 2.0], stream="a")
        >>> s.reset_state()
        >>> s.result(), s.step
        ({'sum': 0.0, 'max': -inf}, 2)
        """
        with self._locked():
            for s in self._order:
                s.reset_state()

    def merge_state(self, others: CollectionStreams | Iterable[CollectionStreams]) -> None:
        """Merge other streams of the same collection in, member by member and stream by stream.

        Raises
        ------
        TypeError, ValueError
            For something that is not a CollectionStreams, other members, or members
            that differ in class, configuration or key shape; checked for every member
            before any merges.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> a = im.MetricCollection([im.Mean(), im.Max()]).streams()
        >>> b = im.MetricCollection([im.Mean(), im.Max()]).streams()
        >>> a.update_state([1.0, 3.0], stream="x"); b.update_state([5.0, 7.0], stream=["x", "y"])
        >>> a.merge_state(b)
        >>> a.breakdown().select("stream", "mean/result", "max/result").rows()
        [('x', 3.0, 5.0), ('y', 7.0, 7.0)]
        """
        group: list[Any]
        if isinstance(others, (CollectionStreams, Streams)):  # a Streams is refused below
            group = [others]
        elif isinstance(others, Iterable) and not isinstance(others, (str, bytes, Mapping)):
            group = list(others)
        else:
            group = [others]
        for other in group:
            if not isinstance(other, CollectionStreams):
                raise TypeError(
                    f"`others` must be CollectionStreams (from collection.streams()), got "
                    f"{type(other).__name__}"
                )
            if other.keys() != list(self._names):
                raise ValueError(
                    f"cannot merge streams of the members {other.keys()} into streams of "
                    f"{list(self._names)}; merge streams of the same collection"
                )
            for name, mine in self._members.items():
                theirs = other._members[name]
                a, b = mine.metric, theirs.metric
                if type(a) is not type(b) or a.merge_key() != b.merge_key():
                    raise ValueError(
                        f"cannot merge member {name!r}: a {type(b).__name__} with "
                        f"{b.merge_key()} into a {type(a).__name__} with {a.merge_key()}; "
                        "create both from the same metrics"
                    )
            shapes = {s._key_names for s in (self, other) if s._key_names is not False}
            if len(shapes) > 1:
                raise ValueError(
                    "cannot merge streams whose keys differ in shape; merge streams keyed by "
                    "the same columns"
                )
        with self._locked():
            for name, s in self._members.items():
                s.merge_state([other._members[name] for other in group])
            for other in group:
                if self._key_names is False:
                    self._key_names = other._key_names

    # -- reading ----------------------------------------------------------------------------

    def _each(self, read: Callable[[Streams], Any]) -> dict[str, Any]:
        with self._locked():
            return {name: read(s) for name, s in self._members.items()}

    def result(self) -> dict[str, Any]:
        """Each member's merged (micro) result: the metric of all samples pooled."""
        return self._each(lambda s: s.result())

    def macro_result(self) -> dict[str, Any]:
        """Each member's macro result: the unweighted mean of its stream results."""
        return self._each(lambda s: s.macro_result())

    @property
    def overall(self) -> dict[str, Any]:
        """Each member's merged result, as fairlearn's ``MetricFrame.overall``."""
        return self.result()

    @property
    def by_stream(self) -> pl.DataFrame:
        """Each stream's result per member, as fairlearn's ``MetricFrame.by_group``.

        Key columns, then ``name/result`` per member.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.MetricCollection([im.Sum(), im.Max()]).streams()
        >>> s.update_state([1.0, 5.0, 2.0], stream=["a", "b", "a"])
        >>> s.by_stream.rows()
        [('a', 3.0, 2.0), ('b', 5.0, 5.0)]
        """
        return (
            self.breakdown()
            .drop("weight", "share", strict=False)
            .select(*self.key_names, *(f"{n}{SEPARATOR}result" for n in self._names))
        )

    def group_min(self, control: str | Sequence[str] | None = None) -> dict[str, Any]:
        """Each member's smallest stream result (see :meth:`Streams.group_min`)."""
        return self._each(lambda s: s.group_min(control))

    def group_max(self, control: str | Sequence[str] | None = None) -> dict[str, Any]:
        """Each member's largest stream result (see :meth:`Streams.group_max`)."""
        return self._each(lambda s: s.group_max(control))

    def difference(
        self,
        method: Literal["between_groups", "to_overall"] = "between_groups",
        control: str | Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Each member's spread of stream results (see :meth:`Streams.difference`)."""
        return self._each(lambda s: s.difference(method, control))

    def ratio(
        self,
        method: Literal["between_groups", "to_overall"] = "between_groups",
        control: str | Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Each member's smallest ratio of stream results (see :meth:`Streams.ratio`)."""
        return self._each(lambda s: s.ratio(method, control))

    def breakdown(self) -> pl.DataFrame:
        """One row per stream: key columns, ``weight``, ``share``, then ``name/result`` per member.

        When the members saw different weights for a stream (a member's
        ``nan_strategy`` dropped samples), ``weight`` and ``share`` come per member
        instead, as ``name/weight`` and ``name/share``.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> metrics = im.MetricCollection({"loss": im.Mean(), "hits": im.Sum()})
        >>> s = metrics.streams()
        >>> s.update_state([1.0, 0.0, 1.0, 1.0], stream=["a", "a", "b", "b"])
        >>> s.breakdown()
        shape: (2, 5)
        ┌────────┬────────┬───────┬─────────────┬─────────────┐
        │ stream ┆ weight ┆ share ┆ loss/result ┆ hits/result │
        │ ---    ┆ ---    ┆ ---   ┆ ---         ┆ ---         │
        │ str    ┆ f64    ┆ f64   ┆ f64         ┆ f64         │
        ╞════════╪════════╪═══════╪═════════════╪═════════════╡
        │ a      ┆ 2.0    ┆ 0.5   ┆ 0.5         ┆ 1.0         │
        │ b      ┆ 2.0    ┆ 0.5   ┆ 1.0         ┆ 2.0         │
        └────────┴────────┴───────┴─────────────┴─────────────┘
        """
        frames = self._each(lambda s: s.breakdown())
        keys = list(self.key_names)
        first = next(iter(frames.values()))
        aligned = all(f.select(keys).equals(first.select(keys)) for f in frames.values())
        shared = aligned and all(
            f.select("weight").equals(first.select("weight")) for f in frames.values()
        )
        picked = []
        for name, frame in frames.items():
            own = ["result"] if shared else ["weight", "share", "result"]
            own += [
                c for c in self._members[name].metric.derived_history_columns if c in frame.columns
            ]
            picked.append(
                frame.select(*keys, *(pl.col(c).alias(f"{name}{SEPARATOR}{c}") for c in own))
            )
        if aligned:
            lead = first.select(*keys, "weight", "share") if shared else first.select(keys)
            return pl.concat([lead, *(p.drop(keys) for p in picked)], how="horizontal")
        wide = picked[0]
        for part in picked[1:]:
            wide = wide.join(part, on=keys, how="full", coalesce=True, nulls_equal=True)
        return wide

    @property
    def history(self) -> pl.DataFrame:
        """One row per (recorded event, stream): ``step``, ``event``, keys, then ``name/column``.

        Each member's columns of :attr:`Streams.history
        <interactive_metrics.Streams.history>`, prefixed by its name and a slash.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.MetricCollection([im.Sum(), im.Max()]).streams()
        >>> s.update_state([1.0, 5.0], stream=["a", "b"]); s.update_state([2.0], stream="a")
        >>> s.history.select("step", "stream", "sum/result", "max/result").rows()
        [(1, 'a', 1.0, 1.0), (1, 'b', 5.0, 5.0), (2, 'a', 3.0, 2.0)]
        """
        frames = self._each(lambda s: s.history)
        lead = ["step", "event", *self.key_names]
        first = next(iter(frames.values()))
        renamed = [
            frame.select(
                *lead,
                *(pl.col(c).alias(f"{name}{SEPARATOR}{c}") for c in frame.columns if c not in lead),
            )
            for name, frame in frames.items()
        ]
        if all(f.select(lead).equals(first.select(lead)) for f in frames.values()):
            return pl.concat([renamed[0], *(r.drop(lead) for r in renamed[1:])], how="horizontal")
        wide = renamed[0]
        for part in renamed[1:]:
            wide = wide.join(part, on=lead, how="full", coalesce=True, nulls_equal=True)
        return wide.sort("step", maintain_order=True)

    def merged(self) -> MetricCollection:
        """A collection of standalone metrics, each the merge of that member's streams.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> s = im.MetricCollection([im.Sum(), im.Max()]).streams()
        >>> s.update_state([1.0, 5.0], stream=["a", "b"])
        >>> s.merged().result()
        {'sum': 6.0, 'max': 5.0}
        """
        from interactive_metrics.collection import MetricCollection

        return MetricCollection(self._each(lambda s: s.merged()))

    def __getitem__(self, key: Hashable) -> MetricCollection:
        """That stream as a :class:`MetricCollection` of standalone metrics, one per member."""
        from interactive_metrics.collection import MetricCollection

        with self._locked():
            lacking = [name for name, s in self._members.items() if key not in s]
            if len(lacking) == len(self._names):
                shown = self.streams[:10]
                raise UnknownKeyError(f"no stream {key!r}; known streams are {shown}")
            if lacking:
                raise UnknownKeyError(
                    f"the stream {key!r} is unknown to the member(s) {lacking} (their "
                    "nan_strategy dropped all its samples); read it per member with "
                    "s.members[name][key]"
                )
            return MetricCollection({name: s[key] for name, s in self._members.items()})

    def __repr__(self) -> str:
        shown = ", ".join(repr(k) for k in self.streams[:5]) + (", ..." if len(self) > 5 else "")
        members = ", ".join(f"{n}={type(s.metric).__name__}" for n, s in self._members.items())
        return f"CollectionStreams({members}, streams=[{shown}], step={self.step})"


def _member_segments(engine: Engine, batch: Batch, keys: BatchKeys) -> tuple[State, Segments]:
    """One member's batch state and (stream) segment states of one batch, by the shared codes.

    What :meth:`Streams.update_state` computes, with the keys coded once for all members.
    """
    checked, keep = engine.drop_nan(batch)
    overall = engine.batch_state(checked)  # validates weights and terms
    batch_states = {name: np.asarray(x)[None] for name, x in overall.items()}
    n, dtype = checked.n, engine.dtype
    if keys.codes is None:  # one key for the whole batch: its state is the batch's
        if not n:
            empty = np.zeros(0, dtype=np.intp)
            return batch_states, Segments(
                [], empty, empty, empty, np.zeros(0, dtype=dtype), engine.empty_states(0)
            )
        per_sample = sample_weights(checked.weight, n)
        total = n if per_sample is None else per_sample.sum()
        one = np.zeros(1, dtype=np.intp)
        segments = Segments(
            keys.keys, one, one, one, np.full(1, total, dtype=dtype), batch_states, keys.key_names
        )
        return batch_states, segments
    ids = keys.codes if keep is None else keys.codes[keep]
    num = len(keys.keys)
    terms = engine.terms(checked)
    row_counts = np.bincount(ids, minlength=num)
    states = engine.segment_states(terms, ids, num, row_counts)
    per_sample = sample_weights(checked.weight, n)
    if per_sample is None:
        weight = row_counts.astype(dtype)
    else:
        weight = np.bincount(ids, weights=per_sample, minlength=num).astype(dtype, copy=False)
    if keep is None:
        touched = np.arange(num)  # every key of the batch has rows; codes in order of appearance
        first_row = touched
    else:
        touched = np.flatnonzero(row_counts)
        first = np.full(num, n, dtype=np.intp)
        np.minimum.at(first, ids, np.arange(n))
        first_row = first[touched]
    segments = Segments(
        keys=[keys.keys[i] for i in touched.tolist()],
        batch=np.zeros(len(touched), dtype=np.intp),
        stream=np.arange(len(touched)),
        first_row=first_row,
        weight=weight[touched],
        states={name: x[touched] for name, x in states.items()},
        key_names=keys.key_names,
    )
    return batch_states, segments


class _ReplayParts:
    """One member's partial states of a replay: per batch id, and per (batch id, stream)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.batch_ids: list[Any] = []
        self.batch_states: list[State] = []
        self.pair_batches: list[Any] = []
        self.streams: list[np.ndarray] = []
        self.first_rows: list[np.ndarray] = []
        self.weights: list[np.ndarray] = []
        self.states: list[State] = []

    def add(
        self,
        batch: Batch,
        codes: np.ndarray,
        ids: Any,
        local: np.ndarray,
        num_keys: int,
        global_of: np.ndarray,
        offset: int,
    ) -> None:
        """Reduce one chunk (as ``replay_streams`` does for one metric)."""
        engine = self.engine
        kept, keep = engine.drop_nan(batch)
        terms, n, weight = engine.terms(kept), kept.n, kept.weight
        rows = np.arange(offset, offset + batch.n)
        if keep is not None:
            codes, local, rows = codes[keep], local[keep], rows[keep]
        self.batch_ids.append(ids)
        self.batch_states.append(engine.segment_states(terms, codes, len(ids)))
        width = max(num_keys, 1)
        pairs = codes * width + local
        distinct, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
        per_sample = sample_weights(weight, n)
        weights = (
            np.bincount(inverse, weights=per_sample, minlength=len(distinct))
            if per_sample is not None
            else np.bincount(inverse, minlength=len(distinct))
        )
        self.pair_batches.append(_take(ids, distinct // width))
        self.streams.append(global_of[distinct % width])
        self.first_rows.append(rows[first])
        self.weights.append(weights.astype(engine.dtype))
        self.states.append(engine.segment_states(terms, inverse, len(distinct)))

    def collect(
        self, keys: list[Any], key_names: tuple[str, ...] | None
    ) -> tuple[Any, State, Segments]:
        """Sorted distinct batch ids, each batch's state, and the (batch, stream) segments."""
        engine = self.engine
        names = engine.names
        if len(self.batch_ids) == 1:
            all_batches, batch_states = self.batch_ids[0], self.batch_states[0]
        else:
            every = _concat(self.batch_ids)
            stacked = {name: np.concatenate([s[name] for s in self.batch_states]) for name in names}
            codes, all_batches = sorted_codes(every)
            spans = len(all_batches) != len(codes) or not bool((np.diff(codes) > 0).all())
            batch_states = (
                engine.merge_segments(stacked, codes, len(all_batches)) if spans else stacked
            )
        segments = Segments(
            keys=keys,
            batch=_rank_in(_concat(self.pair_batches), all_batches),
            stream=np.concatenate(self.streams),
            first_row=np.concatenate(self.first_rows),
            weight=np.concatenate(self.weights),
            states={name: np.concatenate([s[name] for s in self.states]) for name in names},
            key_names=key_names,
        )
        return all_batches, batch_states, segments


def _take(ids: Any, index: np.ndarray) -> Any:
    return ids.gather(index) if isinstance(ids, pl.Series) else ids[index]


def _concat(parts: list[Any]) -> Any:
    return pl.concat(parts) if isinstance(parts[0], pl.Series) else np.concatenate(parts)


def _rank_in(ids: Any, distinct: Any) -> np.ndarray:
    if isinstance(distinct, pl.Series):
        return distinct.search_sorted(ids).to_numpy().astype(np.intp, copy=False)
    return np.searchsorted(distinct, ids).astype(np.intp, copy=False)
