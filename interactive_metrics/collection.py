"""Several metrics updated together from one batch: :class:`MetricCollection`.

What Keras' ``model.compile(metrics=[...])`` and torchmetrics' ``MetricCollection``
do: one call per batch updates every member. A collection is many declarations
sharing one validated batch and one history:

- each input is coerced and validated once per batch, by the engine of one member
  per input signature, and shared by every member with that signature;
- every member's batch state is computed before any member changes, and then all
  of them are committed, so a failed update changes no member;
- ``history`` is one wide polars frame: one ``step`` and ``event`` column, then each
  member's columns prefixed by its name and a slash (``loss/result``).

Each member keeps its own numbers: a member of a collection equals the same metric
updated alone, bit for bit. The collection holds no state of its own beyond its
members, and reads them through their public names only.

Examples
--------
>>> import interactive_metrics as im
>>> metrics = im.MetricCollection({"loss": im.Mean(), "accuracy": im.BinaryAccuracy()})
>>> metrics.update_state(values=[0.3, 0.9], y_true=[1, 0], y_pred=[0.8, 0.6])
>>> metrics.result()
{'loss': 0.6, 'accuracy': 0.5}
>>> metrics.history.select("step", "event", "loss/result", "accuracy/result").rows()
[(1, 'update', 0.6, 0.5)]
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from interactive_metrics.core.coerce import check_name
from interactive_metrics.core.memo import shared_checks
from interactive_metrics.engine import CHUNK, Batch, Engine, State
from interactive_metrics.errors import UnknownKeyError
from interactive_metrics.metric import Metric
from interactive_metrics.replay import (
    Epochs,
    batch_codes,
    batch_labels,
    check_nulls,
    input_arrays,
    input_roles,
    open_log,
    prepare_epochs,
    sorted_codes,
    source_chunks,
)

if TYPE_CHECKING:
    from interactive_metrics.collection_streams import CollectionStreams

__all__ = ["SEPARATOR", "MetricCollection"]

SEPARATOR = "/"
"""Between a member's name and its column in :attr:`MetricCollection.history` (``loss/result``).

A slash, as TensorBoard and most loggers name scalars (``train/loss``): the column
names of a metric use underscores (``batch_total``), so with an underscore a reader
could not tell where ``loss_batch_total`` splits; a dot reads as a struct field in
polars. Member names may not contain it, so every column splits at its first slash.
"""


def _check_member_name(name: Any) -> str:
    name = check_name(name)
    if SEPARATOR in name:
        raise ValueError(
            f"a member name must not contain {SEPARATOR!r} (it separates the member from its "
            f"column in the history), got {name!r}; rename it, e.g. {name.replace('/', '_')!r}"
        )
    return name


def _package_classes() -> dict[str, type[Metric]]:
    from interactive_metrics import metrics

    found = {name: getattr(metrics, name) for name in metrics.__all__}
    return {k: v for k, v in found.items() if isinstance(v, type) and issubclass(v, Metric)}


class _Group:
    """Members that bind their inputs alike (same input names, coercion and dtype)."""

    def __init__(self, names: tuple[str, ...], engine: Engine) -> None:
        self.input_names = names
        self.engine = engine  # the engine that binds for the whole group
        self.members: list[int] = []  # positions in the collection
        self.propagating = False  # some member has nan_strategy="propagate"


class MetricCollection:
    """Several metrics updated together from one batch: one call, one result dict, one history.

    Parameters
    ----------
    metrics : dict of str to Metric, or list of Metric
        The members. A dict names them; a list names each by its ``name`` (two
        members of one name are an error: pass a dict, or ``name=`` each metric).
        Any metric of this package or subclass of :class:`~interactive_metrics.Metric`;
        they must have seen the same number of events (new metrics have).

    Notes
    -----
    Members that read the same inputs (``Mean`` reads ``values``; the accuracies,
    ``Precision`` and ``Recall`` read ``y_true, y_pred``) take them positionally.
    When members read different inputs, pass every input by name:
    ``update_state(values=loss, y_true=labels, y_pred=scores)``; one
    ``sample_weight`` weights every member.

    Each input is coerced and checked once per batch for all members that bind it
    alike (the same input names, coercion and dtype); each member then computes its
    own terms.

    Update members through the collection: a member updated on its own gets ahead
    of the others, and the history then has gaps (nulls) in the other members' columns.

    Examples
    --------
    Keras' ``compile(metrics=[...])``, as an object of its own:

    >>> import interactive_metrics as im
    >>> metrics = im.MetricCollection([im.BinaryAccuracy(), im.Precision(), im.Recall()])
    >>> metrics.update_state([1, 0, 1, 1], [0.9, 0.6, 0.4, 0.8])
    >>> metrics.result()
    {'binary_accuracy': 0.5, 'precision': 0.6666666666666666, 'recall': 0.6666666666666666}
    >>> metrics["precision"].state
    {'true_positives': 2.0, 'false_positives': 1.0}

    A loss beside them reads other inputs, so every input is named:

    >>> metrics = im.MetricCollection({"loss": im.Mean(), "precision": im.Precision()})
    >>> metrics.update_state(values=[0.2, 0.4], y_true=[1, 0], y_pred=[0.7, 0.1])
    >>> metrics.update_state([0.2, 0.4])  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    TypeError: MetricCollection.update_state() got 1 positional input(s), but its members read
    different inputs (loss: values; precision: y_true, y_pred); pass every input by name:
    update_state(values=..., y_true=..., y_pred=...)
    """

    def __init__(self, metrics: Mapping[str, Metric] | Sequence[Metric]) -> None:
        if isinstance(metrics, Mapping):
            pairs = [(_check_member_name(name), m) for name, m in metrics.items()]
        elif isinstance(metrics, (list, tuple)):
            pairs = [(str(getattr(m, "name", "")), m) for m in metrics]
        else:
            raise TypeError(
                f"`metrics` must be a dict of name -> metric or a list of metrics, got "
                f"{type(metrics).__name__}; e.g. MetricCollection([im.Mean(), im.Precision()])"
            )
        for name, m in pairs:
            if not isinstance(m, Metric):
                raise TypeError(
                    f"every member must be an interactive_metrics Metric, got {m!r} for "
                    f"{name!r}; wrap a function with im.MeanMetricWrapper(fn)"
                )
        if not pairs:
            raise ValueError("`metrics` must hold at least one metric, got none")
        if not isinstance(metrics, Mapping):
            names = [name for name, _ in pairs]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(
                    f"`metrics` holds several metrics named {twice}; give each a name of its "
                    "own (name=...) or pass a dict of name -> metric"
                )
            pairs = [(_check_member_name(name), m) for name, m in pairs]
        seen: dict[int, str] = {}
        for name, m in pairs:
            if id(m) in seen:
                raise ValueError(
                    f"`metrics` holds one metric object twice ({seen[id(m)]!r} and {name!r}); "
                    "it would be updated twice per batch: pass a separate metric for each"
                )
            seen[id(m)] = name
        steps = {name: m.step for name, m in pairs}
        if len(set(steps.values())) > 1:
            raise ValueError(
                f"the members must have seen the same number of events, got steps {steps}; "
                "start from fresh metrics (or reset_state() them) so the history lines up"
            )
        self._names = tuple(name for name, _ in pairs)
        self._metrics = tuple(m for _, m in pairs)
        self._members = dict(pairs)
        self._locks = [m.lock for m in sorted(self._metrics, key=id)]  # a fixed order: no deadlock
        signatures = {m.input_names for m in self._metrics}
        self._same_inputs = len(signatures) == 1
        self._input_names = tuple(dict.fromkeys(n for m in self._metrics for n in m.input_names))
        groups: dict[tuple[Any, ...], _Group] = {}
        for i, m in enumerate(self._metrics):
            engine = m.engine
            # one bind for members that bind alike (a Bootstrap's engine adds row numbers)
            key = (m.input_names, m.as_input, engine.dtype, type(engine).bind_arguments)
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group(m.input_names, engine)
            group.members.append(i)
            group.propagating |= engine.nan_strategy == "propagate"
        self._groups = tuple(groups.values())
        self._engines = tuple(m.engine for m in self._metrics)
        self._input_set = frozenset(self._input_names)
        # per group: the binding engine, how to pick its inputs, and (position, engine,
        # propagates) of each member: what batch_states runs, with no lookups per batch
        self._plan = tuple(
            (
                group.engine,
                group.input_names,
                tuple(
                    (
                        i,
                        self._metrics[i].engine,
                        self._metrics[i].engine.nan_strategy == "propagate",
                    )
                    for i in group.members
                ),
                group.propagating,
            )
            for group in self._groups
        )

    # -- the members ------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Metric:
        try:
            return self._members[name]
        except (KeyError, TypeError):
            raise UnknownKeyError(
                f"no member named {name!r}; the members are {list(self._names)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def keys(self) -> list[str]:
        """The members' names, in order."""
        return list(self._names)

    def values(self) -> list[Metric]:
        """The members, in order."""
        return list(self._metrics)

    def items(self) -> list[tuple[str, Metric]]:
        """``(name, metric)`` of each member, in order."""
        return list(zip(self._names, self._metrics, strict=True))

    @property
    def input_names(self) -> tuple[str, ...]:
        """Every input some member reads, in order of first appearance.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> im.MetricCollection([im.Mean(), im.Recall()]).input_names
        ('values', 'y_true', 'y_pred')
        """
        return self._input_names

    @property
    def step(self) -> int:
        """How many events (updates, merges, resets) the members have seen."""
        return max(m.step for m in self._metrics)

    # -- update -----------------------------------------------------------------------------

    def _arguments(self, inputs: tuple[Any, ...], named: Mapping[str, Any]) -> dict[str, Any]:
        """The inputs by name, or raise the TypeError that says how to pass them."""
        if not inputs and named.keys() == self._input_set:  # the common case: all by name
            return named  # type: ignore[return-value]
        if inputs and not self._same_inputs:
            reads = "; ".join(
                f"{name}: {', '.join(m.input_names)}"
                for name, m in zip(self._names, self._metrics, strict=True)
            )
            example = ", ".join(f"{n}=..." for n in self._input_names)
            raise TypeError(
                f"MetricCollection.update_state() got {len(inputs)} positional input(s), but "
                f"its members read different inputs ({reads}); pass every input by name: "
                f"update_state({example})"
            )
        unknown = sorted(set(named) - set(self._input_names))
        if unknown:
            raise TypeError(
                f"MetricCollection.update_state() got unknown input(s) {unknown}; its members "
                f"read {list(self._input_names)} (and sample_weight)"
            )
        if inputs:  # every member reads the same inputs: bind as a member would
            names = self._metrics[0].input_names
            if len(inputs) > len(names):
                raise TypeError(
                    f"MetricCollection.update_state() takes ({', '.join(names)}, "
                    f"sample_weight=None), got {len(inputs)} positional inputs"
                )
            given = dict(zip(names, inputs, strict=False))
            twice = sorted(set(given) & set(named))
            if twice:
                raise TypeError(
                    f"MetricCollection.update_state() got input(s) {twice} both by position "
                    "and by name; pass each once"
                )
            named = {**given, **named}
        missing = [n for n in self._input_names if n not in named]
        if missing:
            needs = [
                name
                for name, m in zip(self._names, self._metrics, strict=True)
                if set(m.input_names) & set(missing)
            ]
            raise TypeError(
                f"MetricCollection.update_state() is missing input(s) {missing}, read by "
                f"{needs}; pass them by name, e.g. update_state("
                + ", ".join(f"{n}=..." for n in self._input_names)
                + ")"
            )
        return dict(named)

    def bind(self, *inputs: Any, sample_weight: Any = None, **named: Any) -> list[Batch]:
        """Every member's batch, coerced and validated once per group of members; no member changes.

        Members that bind their inputs alike share one :class:`~interactive_metrics.engine.Batch`
        (the weights of a group are checked once). Each member's engine
        (``collection[name].engine``) then reduces its own batch: what
        :meth:`batch_states` does, and per stream what
        :meth:`~interactive_metrics.MetricCollection.streams` does.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> metrics = im.MetricCollection({"loss": im.Mean(), "recall": im.Recall()})
        >>> batches = metrics.bind(values=[0.5, 0.1], y_true=[1, 0], y_pred=[0.8, 0.3])
        >>> [b.n for b in batches], batches[1].inputs[0].tolist()  # integer labels stay integers
        ([2, 2], [1, 0])
        """
        arguments = self._arguments(inputs, named)
        batches: list[Batch] = [None] * len(self._metrics)  # type: ignore[list-item]
        for binder, names, members, propagating in self._plan:
            if len(names) == 1:
                batch = binder.bind_arguments((arguments[names[0]],), {}, sample_weight)
            else:
                values = tuple([arguments[n] for n in names])
                batch = binder.bind_arguments(values, {}, sample_weight)
            checked = batch
            if propagating and batch.weight is not None:  # weights checked once for the group
                checked = (
                    binder.drop_nan(batch)[0]
                    if binder.nan_strategy == "propagate"
                    else next(
                        engine.drop_nan(batch)[0] for _, engine, propagates in members if propagates
                    )
                )
            for i, _, propagates in members:
                batches[i] = checked if propagates else batch
        return batches

    def batch_states(self, *inputs: Any, sample_weight: Any = None, **named: Any) -> list[State]:
        """Every member's state of one batch, computed with its engine; no member changes.

        What :meth:`update_state` commits. Each input is bound once per group of
        members that bind it alike, and the weights checked once per group.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> metrics = im.MetricCollection([im.Sum(), im.Count()])
        >>> metrics.batch_states([1.0, 2.0, 4.0])
        [{'total': np.float64(7.0)}, {'count': np.float64(3.0)}]
        >>> metrics.step
        0
        """
        batches = self.bind(*inputs, sample_weight=sample_weight, **named)
        jobs = list(zip(self._engines, batches, strict=True))
        n = batches[0].n if batches else 0
        if n <= CHUNK:
            with shared_checks():  # members reading the same arrays check them once
                return [engine.batch_state(batch) for engine, batch in jobs]
        whole = [engine.whole_batch(batch) for engine, batch in jobs]  # e.g. top_k ranks
        states = [
            engine.batch_state(batch) if one else engine.identity()
            for (engine, batch), one in zip(jobs, whole, strict=True)
        ]
        chunks: dict[int, Batch] = {}
        for start in range(0, n, CHUNK):  # chunk once for all members: they share each chunk
            part = slice(start, start + CHUNK)
            chunks.clear()
            with shared_checks():
                for i, (engine, batch) in enumerate(jobs):
                    if whole[i]:
                        continue
                    chunk = chunks.setdefault(id(batch), batch.chunk(part))
                    states[i] = engine.combine(states[i], engine.batch_state(chunk))
        return states

    def update_state(self, *inputs: Any, sample_weight: Any = None, **named: Any) -> None:
        """Add one batch to every member: all states computed first, then all committed.

        Parameters
        ----------
        *inputs : array-like
            The inputs, positionally when every member reads the same ones.
        sample_weight : array-like, optional
            One weight per sample, for every member.
        **named : array-like
            The inputs by name (``values=``, ``y_true=``, ``y_pred=``): needed when
            members read different inputs.

        Raises
        ------
        TypeError, ValueError
            For inputs the members cannot read, missing inputs, or what a member's
            ``update_state`` refuses. Nothing changes on error: no member is updated.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> metrics = im.MetricCollection([im.Mean(), im.Max()])
        >>> metrics.update_state([1.0, 5.0], sample_weight=[3.0, 1.0])
        >>> metrics.update_state([2.0, 1.0], sample_weight=[-1.0, 1.0])
        Traceback (most recent call last):
        ...
        ValueError: ...
        >>> metrics.result(), metrics.step
        ({'mean': 2.0, 'max': 5.0}, 1)
        """
        states = self.batch_states(*inputs, sample_weight=sample_weight, **named)
        self._commit(states)

    def _commit(self, states: list[State]) -> None:
        locks = self._locks
        for lock in locks:  # no other update comes between the members' commits
            lock.acquire()
        try:
            for metric, state in zip(self._metrics, states, strict=True):
                metric.update_from_state(state, validate=False)  # its engine made it
        finally:
            for lock in locks:
                lock.release()

    def result(self) -> dict[str, Any]:
        """Each member's result: ``{name: result}``."""
        return {name: m.result() for name, m in zip(self._names, self._metrics, strict=True)}

    def interval(self, level: float = 0.95, method: str | None = None) -> dict[str, Any]:
        """Each member's confidence interval: ``{name: (low, high)}``, as :meth:`result`.

        Each member's own ``interval(level, method)``: Wilson for a rate, Student t
        for ``Mean(variance=True)``, the bootstrap's for a
        :class:`~interactive_metrics.Bootstrap` member. A member with none raises a
        ``ValueError`` naming it; :meth:`Bootstrap.collection
        <interactive_metrics.Bootstrap.collection>` bootstraps every member. See
        :func:`interactive_metrics.intervals.collection_interval`.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> metrics = im.MetricCollection({"accuracy": im.BinaryAccuracy(), "recall": im.Recall()})
        >>> metrics.update_state([1] * 8 + [0] * 2, [1] * 6 + [0] * 4)
        >>> {name: [round(x, 4) for x in bounds] for name, bounds in metrics.interval().items()}
        {'accuracy': [0.4902, 0.9433], 'recall': [0.4093, 0.9285]}
        """
        from interactive_metrics.intervals import collection_interval

        return collection_interval(self, level, method)

    @property
    def state(self) -> dict[str, dict[str, Any]]:
        """Each member's state: ``{name: {field: value}}``."""
        return {name: m.state for name, m in zip(self._names, self._metrics, strict=True)}

    # -- events over every member -----------------------------------------------------------

    def reset_state(self) -> None:
        """Reset every member (one reset event each).

        Examples
        --------
        >>> import interactive_metrics as im
        >>> metrics = im.MetricCollection([im.Sum(), im.Count()])
        >>> metrics.update_state([1.0, 2.0])
        >>> metrics.reset_state()
        >>> metrics.result(), metrics.history["event"].to_list()
        ({'sum': 0.0, 'count': 0.0}, ['update', 'reset'])
        """
        with ExitStack() as stack:
            for lock in self._locks:
                stack.enter_context(lock)
            for m in self._metrics:
                m.reset_state()

    def merge_state(self, collections: MetricCollection | Iterable[MetricCollection]) -> None:
        """Merge other collections of the same members into this one, member by member.

        Parameters
        ----------
        collections : MetricCollection or iterable of MetricCollection
            Collections with the same member names, each member of the same class
            and configuration as this one's (names and history options may differ).

        Raises
        ------
        ValueError
            For members that differ; checked for every member before any merges.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> a = im.MetricCollection([im.Mean(), im.Max()])
        >>> b = im.MetricCollection([im.Mean(), im.Max()])
        >>> a.update_state([1.0, 2.0]); b.update_state([6.0])
        >>> a.merge_state(b)
        >>> a.result()
        {'mean': 3.0, 'max': 6.0}
        """
        if isinstance(collections, MetricCollection):
            others = [collections]
        elif isinstance(collections, Iterable) and not isinstance(collections, (str, Mapping)):
            others = list(collections)
        else:
            raise TypeError(
                f"`collections` must be a MetricCollection or an iterable of them, got "
                f"{type(collections).__name__}"
            )
        for other in others:
            if not isinstance(other, MetricCollection):
                raise TypeError(
                    f"`collections` must hold MetricCollection objects, got {type(other).__name__}"
                )
            if set(other.keys()) != set(self._names):
                raise ValueError(
                    f"cannot merge a collection of {other.keys()} into one of "
                    f"{list(self._names)}; merge collections of the same members"
                )
            for name, mine in self._members.items():
                theirs = other[name]
                if type(theirs) is not type(mine) or theirs.merge_key() != mine.merge_key():
                    raise ValueError(
                        f"cannot merge member {name!r}: a {type(theirs).__name__} with "
                        f"{theirs.merge_key()} into a {type(mine).__name__} with "
                        f"{mine.merge_key()}; create both collections with the same metrics"
                    )
        with ExitStack() as stack:
            for lock in self._locks:
                stack.enter_context(lock)
            for name, m in self._members.items():
                m.merge_state([other[name] for other in others])

    # -- the past ---------------------------------------------------------------------------

    @property
    def history(self) -> pl.DataFrame:
        """One row per event: ``step``, ``event``, then each member's columns as ``name/column``.

        A replayed history has one ``log_batch`` column (the log's batch ids) after
        ``event`` when every member has the same labels, else ``name/log_batch`` per
        member. Members created with ``history=False`` have no columns.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> metrics = im.MetricCollection({"total": im.Sum(), "n": im.Count()})
        >>> metrics.update_state([1.0, 2.0])
        >>> metrics.history.columns  # doctest: +NORMALIZE_WHITESPACE
        ['step', 'event', 'total/batch_total', 'total/batch_result', 'total/running_total',
         'total/result', 'n/batch_count', 'n/batch_result', 'n/running_count', 'n/result']
        """
        with ExitStack() as stack:  # every member as of one event
            for lock in self._locks:
                stack.enter_context(lock)
            frames = [(name, m.history) for name, m in self.items() if m.records_history]
        if not frames:
            return self._metrics[0].engine.new_history().frame().select("step", "event")
        labelled = [frame for _, frame in frames if "log_batch" in frame.columns]
        shared = len(labelled) == len(frames) and all(
            f.select("step", "log_batch").equals(labelled[0].select("step", "log_batch"))
            for f in labelled[1:]
        )
        renamed = []
        for name, frame in frames:
            keep = [c for c in frame.columns if c not in ("step", "event")]
            if shared:
                keep.remove("log_batch")
            renamed.append(
                frame.select(
                    "step", "event", *(pl.col(c).alias(f"{name}{SEPARATOR}{c}") for c in keep)
                )
            )
        first = renamed[0]
        lead = frames[0][1].select("step", "event", "log_batch") if shared else None
        steps = first["step"]
        if all(f.height == first.height and f["step"].equals(steps) for f in renamed[1:]):
            parts = [lead if lead is not None else first.select("step", "event")]
            parts += [f.drop("step", "event") for f in renamed]
            return pl.concat(parts, how="horizontal")
        wide = renamed[0]
        for frame in renamed[1:]:
            wide = wide.join(frame, on=["step", "event"], how="full", coalesce=True)
        wide = wide.sort("step", maintain_order=True)
        if lead is not None:
            wide = wide.join(lead, on=["step", "event"], how="left")
            wide = wide.select(
                "step", "event", "log_batch", pl.exclude("step", "event", "log_batch")
            )
        return wide

    def state_at(self, step: int) -> dict[str, dict[str, Any]]:
        """Each member's state after ``step`` events, read from its history.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> metrics = im.MetricCollection([im.Sum(), im.Max()])
        >>> metrics.update_state([1.0, 2.0]); metrics.update_state([5.0])
        >>> metrics.state_at(1)
        {'sum': {'total': 3.0}, 'max': {'max': 2.0}}
        """
        return {name: m.state_at(step) for name, m in self.items()}

    def result_at(self, step: int) -> dict[str, Any]:
        """Each member's result after ``step`` events, read from its history.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> metrics = im.MetricCollection([im.Mean(), im.Max()])
        >>> metrics.update_state([1.0, 3.0]); metrics.update_state([8.0])
        >>> metrics.result_at(1), metrics.result_at(2)
        ({'mean': 2.0, 'max': 3.0}, {'mean': 4.0, 'max': 8.0})
        """
        return {name: m.result_at(step) for name, m in self.items()}

    # -- replay -----------------------------------------------------------------------------

    def replay(
        self,
        data: Any,
        *,
        batch: str,
        sample_weight: str | None = None,
        every: str | None = None,
        reset: str | None = None,
        **columns: str,
    ) -> MetricCollection:
        """Replay a logged run into every member: one update per batch id, one pass over the log.

        Parameters
        ----------
        data : polars DataFrame or LazyFrame, pandas DataFrame, Dask DataFrame, or path
            One row per sample; a CSV / Parquet path is read lazily, in chunks; a
            Dask DataFrame is reduced on its workers
            (:func:`~interactive_metrics.distributed.replay_dask`).
        batch : str
            The column of batch ids; batches are replayed in sorted id order.
        sample_weight : str, optional
            The column of sample weights, for every member.
        every : str, optional
            Bucket a ``batch`` column of datetimes into time buckets (``"1h"``,
            ``"1d"``...), as :meth:`Metric.replay <interactive_metrics.Metric.replay>`.
        reset : str, optional
            The column of epochs: every member is reset before each epoch.
        **columns : str
            One column per input the members read, by the input's name
            (``values="loss", y_true="label", y_pred="score"``).

        Returns
        -------
        MetricCollection
            This collection: each member's history equals calling ``update_state``
            once per batch, as :meth:`Metric.replay <interactive_metrics.Metric.replay>` gives.

        Raises
        ------
        TypeError, ValueError
            As :meth:`Metric.replay <interactive_metrics.Metric.replay>`. Each chunk of
            the log is read once and every member reduces it; no member changes
            until every member's updates are ready.

        Examples
        --------
        >>> import polars as pl
        >>> import interactive_metrics as im
        >>> log = pl.DataFrame({
        ...     "step": [1, 1, 2], "loss": [0.5, 0.3, 0.1],
        ...     "label": [1, 0, 1], "score": [0.9, 0.7, 0.8],
        ... })
        >>> metrics = im.MetricCollection({"loss": im.Mean(), "precision": im.Precision()})
        >>> columns = {"values": "loss", "y_true": "label", "y_pred": "score"}
        >>> metrics = metrics.replay(log, batch="step", **columns)
        >>> metrics.history.select("step", "log_batch", "loss/result", "precision/result").rows()
        [(1, 1, 0.4, 0.5), (2, 2, 0.3, 0.6666666666666666)]
        """
        input_roles(self, columns)
        from interactive_metrics.distributed import is_dask_frame, replay_dask

        if is_dask_frame(data):  # partial states of every member on the workers, one pass
            return replay_dask(
                self,
                data,
                batch=batch,
                sample_weight=sample_weight,
                every=every,
                reset=reset,
                **columns,
            )
        inputs = {n: columns[n] for n in self._input_names}
        lazy, frame, schema, roles, needed = open_log(
            data, inputs, batch=batch, sample_weight=sample_weight, every=every, reset=reset
        )
        epochs = Epochs(reset)
        metrics = self._metrics
        chunk_ids: list[Any] = []
        partial: list[list[State]] = [[] for _ in metrics]
        for chunk in source_chunks(lazy, frame, needed):
            check_nulls(chunk, roles, set())
            epochs.add(chunk, batch)
            starts, codes, ids = batch_codes(chunk[batch])
            arrays = input_arrays(chunk, {n: columns[n] for n in self._input_names})
            weights = None if sample_weight is None else chunk[sample_weight].to_numpy()
            jobs = []
            for group in self._groups:
                bound = group.engine.bind_arguments(
                    tuple(arrays[n] for n in group.input_names), {}, weights
                )
                jobs += [(i, bound) for i in group.members]

            def reduce(
                job: tuple[int, Batch], starts: Any = starts, codes: Any = codes, ids: Any = ids
            ) -> State:
                engine = metrics[job[0]].engine
                kept, keep = engine.drop_nan(job[1])
                terms = engine.terms(kept)
                if keep is None and starts is not None:
                    return engine.sorted_segment_states(terms, starts, kept.n)
                own = codes
                if starts is not None:  # rows dropped: batches are counted by code
                    own = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, job[1].n)))
                if keep is not None:
                    own = own[keep]
                return engine.segment_states(terms, own, len(ids))

            with shared_checks():  # members reading the same arrays check them once
                for job in jobs:
                    partial[job[0]].append(reduce(job))
            chunk_ids.append(ids)
        if len(chunk_ids) == 1:
            distinct, merged = chunk_ids[0], [parts[0] for parts in partial]
        else:
            all_ids = (
                pl.concat(chunk_ids)
                if isinstance(chunk_ids[0], pl.Series)
                else np.concatenate(chunk_ids)
            )
            codes, distinct = sorted_codes(all_ids)
            spans = len(distinct) != len(codes) or not bool((np.diff(codes) > 0).all())
            merged = []
            for m, parts in zip(metrics, partial, strict=True):
                names = m.engine.names
                stacked = {name: np.concatenate([p[name] for p in parts]) for name in names}
                merged.append(
                    m.engine.merge_segments(stacked, codes, len(distinct)) if spans else stacked
                )
        labels = batch_labels(distinct, schema[batch])
        runs = epochs.bounds(distinct, batch)
        with ExitStack() as stack:  # every member prepared, then every member written
            for lock in self._locks:
                stack.enter_context(lock)
            writes = [
                prepare_epochs(m, s, labels, runs) for m, s in zip(metrics, merged, strict=True)
            ]
            for write in writes:
                write()
        return self

    # -- per stream ---------------------------------------------------------------------------

    def streams(self, *, null_stream: Hashable | None = None) -> CollectionStreams:
        """Per-stream states of every member, updated together: a ``CollectionStreams``.

        What :class:`~interactive_metrics.Streams` is for one metric, for all the
        members at once: each update codes the stream keys once for every member,
        and :meth:`~interactive_metrics.collection_streams.CollectionStreams.breakdown`
        has one result column per member. Only the members' configurations are
        used; this collection is not changed.

        Parameters
        ----------
        null_stream : hashable, optional
            The stream missing keys are counted in (see :class:`~interactive_metrics.Streams`).

        Examples
        --------
        >>> import interactive_metrics as im
        >>> metrics = im.MetricCollection({"loss": im.Mean(), "recall": im.Recall()})
        >>> s = metrics.streams()
        >>> s.update_state(values=[0.1, 0.7, 0.4], y_true=[1, 1, 0], y_pred=[0.9, 0.2, 0.6],
        ...                stream=["pump_a", "pump_b", "pump_b"])
        >>> s.breakdown().select("stream", "loss/result", "recall/result").rows()
        [('pump_a', 0.1, 1.0), ('pump_b', 0.55, 0.0)]
        """
        from interactive_metrics.collection_streams import CollectionStreams

        return CollectionStreams(self, null_stream=null_stream)

    # -- configuration, files ---------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """The members' classes and configurations: what :meth:`from_config` rebuilds.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> config = im.MetricCollection({"loss": im.Mean()}).get_config()
        >>> config["metrics"][0]["name"], config["metrics"][0]["class"]
        ('loss', 'Mean')
        """
        return {
            "metrics": [
                {"name": name, "class": type(m).__name__, "config": m.get_config()}
                for name, m in self.items()
            ]
        }

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None
    ) -> MetricCollection:
        """A collection of fresh members from :meth:`get_config` output.

        ``custom_objects`` names metric classes defined outside this package.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> metrics = im.MetricCollection({"loss": im.Mean(), "hits": im.Precision(0.7)})
        >>> again = im.MetricCollection.from_config(metrics.get_config())
        >>> again.keys(), again["hits"].thresholds
        (['loss', 'hits'], 0.7)
        """
        members = config.get("metrics") if isinstance(config, Mapping) else None
        if not isinstance(members, list):
            raise ValueError(
                f"`config` must be a dict with a list of 'metrics' (from get_config()), got "
                f"{config!r}"
            )
        classes = {**_package_classes(), **dict(custom_objects or {})}
        built: dict[str, Metric] = {}
        for entry in members:
            if not isinstance(entry, Mapping) or not {"name", "class", "config"} <= set(entry):
                raise ValueError(
                    f"each entry of `config['metrics']` must have 'name', 'class' and "
                    f"'config', got {entry!r}"
                )
            metric_class = classes.get(entry["class"])
            if not (isinstance(metric_class, type) and issubclass(metric_class, Metric)):
                raise ValueError(
                    f"{entry['class']!r} is not a metric class of interactive_metrics; if you "
                    f"defined it, pass custom_objects={{{entry['class']!r}: {entry['class']}}}"
                )
            built[entry["name"]] = metric_class.from_config(entry["config"])
        return cls(built)

    def save(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Save every member (configuration, state, history) to a directory or ``.zip`` file.

        Load it back with ``interactive_metrics.load(path)``. No pickle: JSON and
        Parquet only. See :func:`interactive_metrics.io.save`.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> import interactive_metrics as im
        >>> metrics = im.MetricCollection({"loss": im.Mean(), "recall": im.Recall()})
        >>> metrics.update_state(values=[0.5], y_true=[1], y_pred=[0.8])
        >>> path = metrics.save(pathlib.Path(tempfile.mkdtemp()) / "metrics.zip")
        >>> im.load(path).result()
        {'loss': 0.5, 'recall': 1.0}
        """
        from interactive_metrics.io import save

        return save(self, path, **options)

    # -- display ----------------------------------------------------------------------------

    def plot(self, kind: str = "history", **options: Any) -> Any:
        """Small multiples: one panel per member's running result, on one shared step axis.

        Parameters
        ----------
        kind : {"history"}
            What to draw (see :data:`interactive_metrics.charts.COLLECTION_KINDS`).
        **options
            Passed to :func:`interactive_metrics.charts.collection_history`.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> metrics = im.MetricCollection([im.Mean(), im.Max()])
        >>> metrics.update_state([1.0, 3.0])
        >>> type(metrics.plot()).__name__
        'FacetChart'
        """
        from interactive_metrics import charts

        return charts.plot(self, kind, charts.COLLECTION_KINDS, **options)

    def widget(self, **options: Any) -> Any:
        """A live view of every member, one under the other (an ipywidgets ``VBox``).

        ``options`` go to each :class:`~interactive_metrics.widgets.LiveView`.
        """
        import ipywidgets

        from interactive_metrics.widgets.live import LiveView

        return ipywidgets.VBox([LiveView(m, **options) for m in self._metrics])

    def __repr__(self) -> str:
        def fmt(value: Any) -> str:
            if isinstance(value, np.ndarray) and value.ndim:
                return np.array2string(value, separator=", ", threshold=6, precision=4)
            return repr(float(value))

        parts = [
            f"{name}={type(m).__name__}({fmt(m.result())})"
            for name, m in zip(self._names, self._metrics, strict=True)
        ]
        return f"MetricCollection({', '.join(parts)}, step={self.step})"

    def _repr_html_(self) -> str:
        """A small HTML card for Jupyter: one line per member with its result."""
        from interactive_metrics.widgets.card import collection_card

        return collection_card(self)
