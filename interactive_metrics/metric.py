"""The :class:`Metric` base: a metric is declared once, everything else is derived.

A metric declares three small things:

``fields``
    its state: named :class:`StateField` objects, each with an exact merge
    (``sum``, ``min`` or ``max``) whose identity is the field's fresh value;
``terms(inputs..., sample_weight=None)``
    a pure, vectorised function from one batch to *per-sample* contributions for
    each field (an array of shape ``(n, *field.shape)``, one scalar shared by
    every sample, or for a sum field whose terms are one-hot a sparse
    :class:`~interactive_metrics.core.OneHot`);
``compute(state)``
    a pure function from a state to the result.

From these the base derives ``update_state``, ``result``, ``reset_state``,
``merge_state``, ``__call__``, the history and ``state_at``/``result_at``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple, Self, cast

import numpy as np
import polars as pl

from interactive_metrics.core.coerce import (
    as_array,
    check_choice,
    check_integer,
    check_name,
    check_optional_integer,
    resolve_dtype,
)
from interactive_metrics.core.reduce import REDUCTIONS, Reduction, compensated_add
from interactive_metrics.engine import Batch, Engine, State
from interactive_metrics.history import HistoryBuffer
from interactive_metrics.keras import refuse_keras_wrapping

__all__ = ["Metric", "Snapshot", "StateField", "StateTooLarge", "allocation_bytes", "state_limit"]

UPDATE, MERGE, RESET = 0, 1, 2
NAN_STRATEGIES = ("propagate", "ignore", "error")
SUMMATIONS = ("plain", "kahan")


class StateTooLarge(ValueError):
    """A metric whose state would take more memory than :func:`state_limit` allows.

    Raised by ``Metric.__init__`` before anything is allocated. ``numbers`` is the
    size of one state, ``nbytes`` what creating the metric would allocate
    (:func:`allocation_bytes`), ``shapes`` the shape of each array field.
    """

    def __init__(
        self, message: str, numbers: int, nbytes: int, shapes: dict[str, tuple[int, ...]]
    ) -> None:
        super().__init__(message)
        self.numbers, self.nbytes, self.shapes = numbers, nbytes, shapes


_STATE_LIMIT: ContextVar[float] = ContextVar("interactive_metrics_state_limit", default=math.inf)


@contextlib.contextmanager
def state_limit(max_bytes: float) -> Iterator[None]:
    """Within the block, refuse to create metrics that would allocate more than ``max_bytes``.

    The check is made from the declared field shapes, before anything is allocated,
    and raises :class:`StateTooLarge` (a ``ValueError``). ``load`` uses it for the
    configuration a file declares, so that a forged ``num_classes`` cannot exhaust
    memory. Outside such a block there is no limit.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> from interactive_metrics.metric import StateTooLarge, state_limit
    >>> with state_limit(2**20):
    ...     try:
    ...         im.ConfusionMatrix(num_classes=1000)
    ...     except StateTooLarge as error:
    ...         print(error.numbers, error.shapes)
    1000000 {'confusion_matrix': (1000, 1000)}
    """
    token = _STATE_LIMIT.set(max_bytes)
    try:
        yield
    finally:
        _STATE_LIMIT.reset(token)


def allocation_bytes(numbers: int, itemsize: int, history: bool) -> int:
    """About what creating a metric whose state holds ``numbers`` numbers allocates.

    The state, its identity, a pending batch and the compensation of its sums; with a
    history, the first block of its buffer (64 rows of batch state, running state and
    results).

    Examples
    --------
    >>> allocation_bytes(100, 8, history=False)
    3200
    """
    return numbers * itemsize * (4 + (64 * 4 if history else 0))


@dataclass(frozen=True)
class StateField:
    """One named piece of a metric's state, with the monoid it reduces and merges with.

    Parameters
    ----------
    name : str
        What the field holds (``total``, ``count``, ``true_positives``): it names the
        history columns ``batch_<name>`` and ``running_<name>``.
    reduce : {"sum", "min", "max"}
        How per-sample terms combine within a batch and how two states merge.
        The identity (``0``, ``+inf``, ``-inf``) is the field's fresh value.
    shape : tuple of int
        ``()`` for a number; e.g. ``(k, k)`` for a confusion matrix, summed
        element-wise. A shape that depends on the metric's configuration is
        declared by making ``fields`` a property (set the configuration before
        calling ``super().__init__``).

    Examples
    --------
    >>> StateField("total")
    StateField(name='total', reduce='sum', shape=())
    >>> StateField("smallest", reduce="min").reduction.identity
    inf
    """

    name: str
    reduce: Literal["sum", "min", "max"] = "sum"
    shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.reduce not in REDUCTIONS:
            raise ValueError(
                f"`reduce` of field {self.name!r} must be one of {tuple(REDUCTIONS)}, "
                f"got {self.reduce!r}; only these merge exactly"
            )
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(
                f"`name` of a state field must be a lowercase identifier, got {self.name!r}; "
                "it names history columns"
            )

    @property
    def reduction(self) -> Reduction:
        """The :class:`~interactive_metrics.core.reduce.Reduction` this field uses."""
        return REDUCTIONS[self.reduce]


class Snapshot(NamedTuple):
    """What a metric holds besides its configuration: what ``save`` writes, ``load`` restores.

    Attributes
    ----------
    step : int
        Events so far.
    state : dict
        The running state, field by field.
    compensation : dict or None
        What rounding left out of each running sum (``summation="kahan"``), else None.
    pending : dict or None
        With ``history_every > 1``: the updates not in the history yet, added up.
    pending_updates : int
        How many updates ``pending`` holds.
    history : polars.DataFrame or None
        ``metric.history`` (None with ``history=False``).
    """

    step: int
    state: State
    compensation: State | None = None
    pending: State | None = None
    pending_updates: int = 0
    history: pl.DataFrame | None = None


def _nothing() -> None:
    return None


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _plain(value: Any) -> Any:
    """A state value as users see it: a Python float, or an array copy."""
    if isinstance(value, np.ndarray) and value.ndim:
        return value.copy()
    return float(value)


@functools.cache
def _state_interval() -> Callable[..., tuple[Any, Any]]:
    """``intervals.state_interval``, imported on first use (it imports this module)."""
    from interactive_metrics.intervals import state_interval

    return state_interval


class _FieldValue:
    """A state field read as an attribute, as Keras exposes its variables: ``m.true_positives``.

    A non-data descriptor: attributes of the instance, methods and properties come
    first; the value is the one :attr:`Metric.state` holds (a float, or an array copy).
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, metric: Any, owner: Any = None) -> Any:
        if metric is None:
            return self
        state = metric.__dict__.get("_state")
        if state is None or self.name not in state:
            raise AttributeError(f"{type(metric).__name__!r} object has no attribute {self.name!r}")
        return _plain(state[self.name])


def _read_fields_as_attributes(cls: type, names: Sequence[str]) -> None:
    """Give ``cls`` an attribute per state field it does not name otherwise."""
    for name in names:
        if not name.startswith("_") and not hasattr(cls, name):
            setattr(cls, name, _FieldValue(name))


class Metric:
    """Base class of every metric: declare ``fields``, ``terms`` and ``compute``.

    Parameters
    ----------
    name : str, optional
        Defaults to the class name in snake case (``Mean`` -> ``"mean"``).
    dtype : str or numpy dtype, optional
        The floating dtype state is accumulated in; default ``float64``.
    nan_strategy : {"propagate", "ignore", "error"}
        What a NaN input does: spread into the result (as Keras does), drop the
        sample together with its weight, or raise :class:`ValueError`.
    history : bool
        Record a snapshot after every event (default). ``False`` records none.
    history_every : int
        Record one update in ``history_every`` (merge and reset events are always
        recorded); the batch columns of a recorded update then hold everything
        updated since the previous row.
    history_last : int, optional
        Keep only the last ``history_last`` rows.
    summation : {"plain", "kahan"}
        How running sums add up across updates and merges. ``"plain"`` (default)
        adds in the metric's dtype, so rounding errors pile up: after a million
        updates a sum is typically hundreds of ulps off. ``"kahan"`` also keeps
        what rounding left out (Neumaier's compensated summation) and stays within
        about one ulp of the exact sum, for about 0.3 µs (float64) to 1 µs (float32)
        more per sum field and update. See ``docs/numerics.md``.

    Examples
    --------
    A user-defined metric is three declarations. This is the ``BinaryTruePositives``
    example of the Keras documentation, written against this API:

    >>> import interactive_metrics as im
    >>> class BinaryTruePositives(im.Metric):
    ...     fields = [im.StateField("true_positives")]
    ...
    ...     def terms(self, y_true, y_pred, sample_weight=None):
    ...         hits = (y_true != 0) & (y_pred != 0)
    ...         per_sample, _ = im.core.weighted_samples(hits, sample_weight, reduce="sum")
    ...         return {"true_positives": per_sample}
    ...
    ...     def compute(self, state):
    ...         return state["true_positives"]
    >>> m = BinaryTruePositives()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> m.result()
    2.0
    >>> m.update_state([1, 1], [1, 1], sample_weight=[0.5, 0])
    >>> m
    BinaryTruePositives(name='binary_true_positives', result=2.5, true_positives=2.5, step=2)
    >>> m.history.select("step", "batch_true_positives", "running_true_positives", "result")
    shape: (2, 4)
    ┌──────┬──────────────────────┬────────────────────────┬────────┐
    │ step ┆ batch_true_positives ┆ running_true_positives ┆ result │
    │ ---  ┆ ---                  ┆ ---                    ┆ ---    │
    │ i64  ┆ f64                  ┆ f64                    ┆ f64    │
    ╞══════╪══════════════════════╪════════════════════════╪════════╡
    │ 1    ┆ 2.0                  ┆ 2.0                    ┆ 2.0    │
    │ 2    ┆ 0.5                  ┆ 2.5                    ┆ 2.5    │
    └──────┴──────────────────────┴────────────────────────┴────────┘
    """

    fields: ClassVar[Sequence[StateField]] = ()
    input_names: ClassVar[tuple[str, ...]] = ()
    """The names of the inputs of ``update_state``, read from the signature of ``terms``.

    ``("values",)`` for ``Mean``, ``("y_true", "y_pred")`` for the accuracies.
    """
    _config_names: ClassVar[tuple[str, ...]] = ()
    BASE_CONFIG: ClassVar[tuple[str, ...]] = (
        "name",
        "dtype",
        "nan_strategy",
        "history",
        "history_every",
        "history_last",
        "summation",
    )
    """The constructor arguments every metric takes (beside its own): part of ``get_config()``."""
    as_input: ClassVar[staticmethod[[Any, str, np.dtype[Any]], np.ndarray]]
    as_input = staticmethod(as_array)
    """How each input is coerced: ``as_input(x, name, dtype) -> ndarray``.

    By default an array of the metric's float dtype
    (:func:`~interactive_metrics.core.as_array`); a metric whose inputs are class
    labels may keep integer arrays as they are (no float copy).
    """
    terms_wrap_inputs: ClassVar[bool] = False
    """Accepted for metrics written against earlier versions; it changes nothing now.

    It once sent weighted float64 batches of ``Sum`` and ``Mean`` through a compiled
    pass (numba), removed because its first call cost about a second in every new
    process. Every batch now takes the one path of :meth:`update_state`.
    """
    derived_history_columns: ClassVar[tuple[str, ...]] = ()
    """Columns :attr:`history` and a Streams' breakdown add on read, from the states.

    None for most metrics; a :class:`~interactive_metrics.Bootstrap` adds ``ci_low`` and
    ``ci_high`` (see :meth:`derived_columns`). Saves leave them out (a load computes
    them again on read).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        parameters = inspect.signature(cls.terms).parameters.values()
        cls.input_names = tuple(
            p.name
            for p in parameters
            if p.name not in ("self", "sample_weight")
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        )
        own = [
            p.name
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        cls._config_names = tuple(dict.fromkeys([*own, *Metric.BASE_CONFIG]))

    def __init__(
        self,
        name: str | None = None,
        dtype: Any = None,
        *,
        nan_strategy: Literal["propagate", "ignore", "error"] = "propagate",
        history: bool = True,
        history_every: int = 1,
        history_last: int | None = None,
        summation: Literal["plain", "kahan"] = "plain",
    ) -> None:
        summation = check_choice(
            summation,
            "summation",
            SUMMATIONS,
            "'kahan' keeps running sums within about one ulp of the exact sum "
            "(see docs/numerics.md)",
        )
        nan_strategy = check_choice(nan_strategy, "nan_strategy", NAN_STRATEGIES)
        if not isinstance(history, (bool, np.bool_)):
            raise TypeError(
                f"`history` must be True or False, got {history!r}; "
                "False keeps no history (and is fastest)"
            )
        history_every = check_integer(history_every, "history_every", 1)
        history_last = check_optional_integer(history_last, "history_last", 1)
        self._dtype = resolve_dtype(dtype)
        self.name = check_name(name) if name is not None else _snake_case(type(self).__name__)
        self.dtype = self._dtype.name
        self.nan_strategy = nan_strategy
        self.history_every = history_every
        self.history_last = history_last
        self._fields = tuple(self.fields)
        if not self._fields:
            raise TypeError(f"{type(self).__name__} declares no state `fields`")
        self._check_size(history)
        try:
            self._engine = self.make_engine()
            self._state: State = self._engine.identity()
        except MemoryError:
            numbers = sum(int(np.prod(f.shape, dtype=np.float64)) for f in self._fields)
            raise ValueError(
                f"the state of {type(self).__name__}, {numbers} numbers "
                f"({numbers * self._dtype.itemsize / 2**30:.1f} GiB in {self.dtype}; field shapes "
                f"{ {f.name: f.shape for f in self._fields} }), does not fit in memory; "
                "configure a smaller metric (e.g. fewer classes)"
            ) from None
        _read_fields_as_attributes(type(self), self._engine.names)
        self._combine = self._engine.combine
        self._layout = self._engine.state_layout  # where array states go in a history row
        self._scalar_only = self._engine.scalar_only
        self._step = 0
        self._pending: State | None = None
        self._pending_allowed = history_every > 1
        # updates that merge plainly and record every batch: _apply's short path
        self._plain_updates = summation == "plain" and history_every == 1
        self._updates_unrecorded = 0
        self._history = self._new_history() if history else None
        self.summation = summation
        # What rounding left out of each running sum (summation="kahan"), else None.
        self._compensation: State | None = None
        if summation == "kahan":
            self._compensation = {
                f.name: f.reduction.empty(f.shape, self._dtype)
                for f in self._fields
                if f.reduce == "sum"
            }
        self._listeners: list[Callable[[Metric, int], None]] = []
        # Held while an event is committed and while the history is read, so that
        # threads updating one metric neither lose updates nor see half a row.
        self._lock = threading.RLock()

    def _check_size(self, history: bool) -> None:
        """Refuse, before allocating, a state larger than the :func:`state_limit` in force."""
        limit = _STATE_LIMIT.get()
        if limit == math.inf:
            return
        shapes = {f.name: f.shape for f in self._fields if f.shape}
        numbers = sum(math.prod(f.shape) for f in self._fields)
        nbytes = allocation_bytes(numbers, self._dtype.itemsize, history)
        if nbytes > limit:
            raise StateTooLarge(
                f"{type(self).__name__} would allocate about {nbytes / 2**30:.1f} GiB for a "
                f"state of {numbers} numbers (field shapes {shapes}), more than the limit in "
                "force; configure a smaller metric (e.g. fewer classes)",
                numbers,
                nbytes,
                shapes,
            )

    # -- a state whose shape the first batch tells ------------------------------------------

    @property
    def shape_known(self) -> bool:
        """Whether the state's shape is known (override with :meth:`config_from_batch`).

        ``False`` for a metric created without what fixes its shape, as Keras'
        ``F1Score()`` without a number of classes: its first batch tells.
        """
        return True

    def config_from_batch(self, batch: Batch) -> dict[str, Any]:
        """The configuration a first batch gives a metric whose shape is not known (override).

        Returns the constructor arguments to set, e.g. ``{"num_classes": 3}`` from
        ``y_pred`` of shape ``(n, 3)``. Called only while :attr:`shape_known` is False.
        """
        raise NotImplementedError(f"{type(self).__name__} must define `config_from_batch`")

    def reshaped(self, batch: Batch) -> Self:
        """The metric itself when its shape is known; else a fresh one configured by ``batch``.

        ``self`` is not changed: replay computes with the reshaped metric and calls
        :meth:`take_shape` only when everything has been read.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> f1 = im.F1Score()
        >>> f1.reshaped(f1.engine.bind([[0, 1], [1, 0]], [[0.2, 0.8], [0.6, 0.4]])).num_classes
        2
        >>> f1.num_classes is None
        True
        """
        if self.shape_known:
            return self
        config = {**self.get_config(), **self.config_from_batch(batch)}
        shaped = type(self).from_config(config)
        return cast(Self, shaped)

    def take_shape(self, source: Batch | Metric) -> None:
        """Fix a shape not known yet: from a first batch, or from a metric already shaped.

        The state is rebuilt with the new shape (fresh: a metric whose shape is not
        known has seen no data); earlier events (resets, empty merges) stay in the
        step count and the history. Nothing happens when the shape is known.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> f1 = im.F1Score(average="macro")
        >>> f1.update_state([[0, 1], [1, 0]], [[0.2, 0.8], [0.6, 0.4]])
        >>> f1.num_classes, f1.result(), f1.get_config()["num_classes"]
        (2, 1.0, 2)
        """
        if self.shape_known:
            return
        shaped = source if isinstance(source, Metric) else self.reshaped(source)
        with self._lock:
            history = self._history
            events = [] if history is None else history.take(np.arange(len(history)))[1].tolist()
            step = self._step
            keep = {"_lock": self._lock, "_listeners": self._listeners, "name": self.name}
            config = shaped.get_config()
            fresh = type(self).from_config({**config, "name": self.name})
            self.__dict__.update(fresh.__dict__)
            self.__dict__.update(keep)
            for event in events:  # the resets and empty merges seen so far, re-recorded
                self._apply(self._engine.identity(), int(event))
            self._step = step

    def make_engine(self) -> Engine:
        """Build this metric's :class:`~interactive_metrics.engine.Engine` (once, in ``__init__``).

        From the declaration: ``fields``, ``terms``, ``compute``, the dtype, the input
        names and ``as_input``, the NaN policy. A metric whose batches need more
        than per-sample terms (a bootstrap draws weights per replicate) returns an
        ``Engine`` subclass; everything else derives from it unchanged.
        """
        return Engine(
            self._fields,
            self.terms,
            self.compute,
            dtype=self._dtype,
            input_names=self.input_names,
            as_input=self.as_input,  # a class's, or one set on the instance first
            nan_strategy=self.nan_strategy,
            owner=type(self).__name__,
        )

    # -- the three declarations ------------------------------------------------------------

    def terms(self, *inputs: Any, **sample_weight: Any) -> State:
        """Return each state field's per-sample contributions for one batch (override this).

        A subclass names its inputs, e.g. ``terms(self, values, sample_weight=None)``
        or ``terms(self, y_true, y_pred, sample_weight=None)``; those names are the
        arguments of ``update_state`` and appear in error messages.

        Each field's terms are an array of shape ``(n, *field.shape)`` or one scalar
        shared by all ``n`` samples. A ``sum`` field whose per-sample terms are zero
        but for one entry (a confusion matrix, class counts) may return a
        :class:`~interactive_metrics.core.OneHot` (each sample's flat position and
        weight) instead: every reduction sums it with one bincount, without the
        dense ``(n, *field.shape)`` array.
        """
        raise NotImplementedError(f"{type(self).__name__} must define `terms`")

    def compute(self, state: Mapping[str, Any]) -> Any:
        """Return the result of a state: a pure function (override this)."""
        raise NotImplementedError(f"{type(self).__name__} must define `compute`")

    # -- derived: state ---------------------------------------------------------------------

    def _identity(self) -> State:
        return self._engine.identity()

    @property
    def engine(self) -> Engine:
        """The pure computations of this metric's declaration: :mod:`interactive_metrics.engine`.

        Everything that reduces data (``update_state``, :class:`~interactive_metrics.Streams`,
        replay, Dask) goes through it; it holds no running state.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> engine = im.Mean().engine
        >>> engine.batch_state(engine.bind([2.0, 4.0]))
        {'total': np.float64(6.0), 'count': np.float64(2.0)}
        """
        return self._engine

    @property
    def history(self) -> pl.DataFrame:
        """One row per recorded event, as a polars DataFrame.

        Columns: ``step`` (events so far), ``event`` (``update``, ``merge`` or
        ``reset``), ``batch_<field>`` for each state field (what this event added;
        null on resets), ``batch_result`` (the batch's own result),
        ``running_<field>`` (the state after the event) and ``result``.
        """
        if self._history is None:
            return self._new_history().frame()
        with self._lock:  # reading flushes queued rows: not while another thread appends
            return self._history.frame()

    @property
    def state(self) -> dict[str, Any]:
        """The current state: field name -> value (floats, or arrays for shaped fields).

        Each field also reads as an attribute of its own, as Keras' variables do (unless
        the class has an attribute of that name).

        Examples
        --------
        >>> import interactive_metrics as im
        >>> m = im.Precision()
        >>> m.update_state([0, 1, 1], [0.6, 0.7, 0.2])
        >>> m.state, m.true_positives
        ({'true_positives': 1.0, 'false_positives': 1.0}, 1.0)
        """
        return {name: _plain(value) for name, value in self._state.items()}

    def derived_columns(self, states: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The :attr:`derived_history_columns` of ``k`` states (fields with a leading axis ``k``).

        What a Streams' breakdown adds per stream: nothing for most metrics, a
        Bootstrap's 95% interval (``ci_low``, ``ci_high``).

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> im.Mean().derived_columns({"total": np.zeros(2), "count": np.ones(2)})
        {}
        """
        return {}

    @property
    def step(self) -> int:
        """How many events (updates, merges, resets) this metric has seen."""
        return self._step

    @property
    def result_shape(self) -> tuple[int, ...]:
        """The shape of :meth:`result`: ``()`` for a number, e.g. ``(3,)`` for one per class.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> im.Mean().result_shape, im.F1Score(num_classes=3).result_shape
        ((), (3,))
        """
        return self._engine.result_shape

    @property
    def records_history(self) -> bool:
        """Whether this metric records a history (``history=True`` when it was created)."""
        return self._history is not None

    def result(self) -> Any:
        """The current result: a float, or an array for metrics with a vector result."""
        return _plain(self.compute(self._state))

    def _new_history(self) -> HistoryBuffer:
        # updates record states only; results are filled in for blocks of rows, when the
        # history is read or every few hundred updates (Engine.complete_results)
        return self._engine.new_history(self.history_last, self._engine.complete_results)

    # -- derived: update --------------------------------------------------------------------

    def update_state(self, *inputs: Any, sample_weight: Any = None, **named: Any) -> None:
        """Add one batch: validate, compute terms, reduce, merge into the state, record.

        Parameters
        ----------
        *inputs : array-like
            The metric's inputs (``values``, or ``y_true, y_pred``), positionally or by name.
        sample_weight : array-like, optional
            How much each sample counts (0 masks it out); broadcast with the Keras 3
            rank rules of :func:`interactive_metrics.core.weighted_samples`.

        Raises
        ------
        TypeError, ValueError
            For inputs that are not numeric arrays of compatible shapes, and weights
            that are negative, NaN or do not broadcast. Nothing changes on error.
        """
        engine = self._engine
        batch = engine.bind_arguments(inputs, named, sample_weight)
        if not self.shape_known:  # the first batch fixes the state's shape (e.g. F1Score)
            shaped = self.reshaped(batch)
            state = shaped.engine.batch_state(batch)  # a bad batch raises here: nothing changed
            self.take_shape(shaped)
            self._apply(state, UPDATE)
            return
        self._apply(engine.batch_state(batch), UPDATE)

    def stateless_update_state(
        self, state: Mapping[str, Any], *inputs: Any, sample_weight: Any = None, **named: Any
    ) -> State:
        """Keras 3's stateless update: ``state`` with one batch added; this metric is unchanged.

        ``state`` is a dict of fields (:meth:`stateless_reset_state`, or a previous
        return value). The chain of stateless updates gives the state that
        :meth:`update_state` keeps, bit for bit.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> m = im.Mean()
        >>> state = m.stateless_update_state(m.stateless_reset_state(), [1.0, 2.0, 6.0])
        >>> m.stateless_result(state), m.step
        (3.0, 0)
        """
        engine = self._engine
        return engine.update(state, engine.bind(*inputs, sample_weight=sample_weight, **named))

    def stateless_result(self, state: Mapping[str, Any]) -> Any:
        """Keras 3's stateless result: the result of ``state`` (a float, or an array)."""
        return _plain(self._engine.result(state))

    def stateless_reset_state(self) -> State:
        """Keras 3's stateless reset: a fresh state (every field at its identity)."""
        return self._engine.identity()

    def __call__(self, *inputs: Any, sample_weight: Any = None, **named: Any) -> Any:
        """Update with one batch, then return the running result (as Keras does)."""
        # Keras' compile(metrics=[m]) calls m as a plain function: refused, naming to_keras
        refuse_keras_wrapping(self, inputs)
        self.update_state(*inputs, sample_weight=sample_weight, **named)
        return self.result()

    def _apply(self, batch: State, event: int, batch_low: State | None = None) -> None:
        """Merge ``batch`` into the state (or replace it, on reset) and record the event.

        ``batch_low`` is what rounding left out of ``batch`` (merges under
        ``summation="kahan"``); the new compensation is committed with the state.
        """
        if event == UPDATE and self._plain_updates:  # the common case, written out
            with self._lock:  # one event at a time: threads may share a metric
                new = self._combine(self._state, batch)
                history = self._history
                if history is not None:
                    if self._scalar_only:  # results are filled in later (complete_results)
                        history.append_numbers(
                            (self._step + 1, UPDATE, *batch.values(), 0.0, *new.values(), 0.0)
                        )
                    else:  # array states: queued as they are (replaced, never changed in place)
                        values = (*batch.values(), *new.values())
                        history.append_states(self._step + 1, UPDATE, self._layout, values)
                self._state = new
                self._step += 1
            if self._listeners:
                self._notify(event)
            return
        with self._lock:
            low: State | None = None
            if event == RESET:
                new = batch
                if self._compensation is not None:
                    low = self._zero_compensation()
            elif self._compensation is None:
                new = self._combine(self._state, batch)
            else:
                new, low = self._add_compensated(self._state, self._compensation, batch, batch_low)
            history = self._history
            if history is not None:
                recorded = self._held_back(batch, event) if self._pending_allowed else batch
                if recorded is not None:  # None: an update held back by history_every
                    if self._scalar_only:  # results are filled in later (complete_results)
                        history.append_numbers(
                            (self._step + 1, event, *recorded.values(), 0.0, *new.values(), 0.0)
                        )
                    else:  # array states: queued as they are (replaced, never changed in place)
                        values = (*recorded.values(), *new.values())
                        history.append_states(
                            self._step + 1, event, self._engine.state_layout, values
                        )
            self._state = new
            if low is not None:
                self._compensation = low
            self._step += 1
        if self._listeners:  # outside the lock: a listener may take locks of its own
            self._notify(event)

    def _held_back(self, batch: State, event: int) -> State | None:
        """``history_every > 1``: the batch to record now, or None to hold an update back.

        Updates that are not recorded yet add up in ``_pending``; the next recorded
        update holds all of them. A merge or reset is always recorded, and a row
        after it starts afresh.
        """
        if event != UPDATE:
            self._pending, self._updates_unrecorded = None, 0
            return batch
        pending = self._pending
        if pending is not None:
            batch = self._combine(pending, batch)
        if self._updates_unrecorded + 1 < self.history_every:
            self._pending = batch
            self._updates_unrecorded += 1
            return None
        self._pending, self._updates_unrecorded = None, 0
        return batch

    # -- the tracker's public interface for the rest of the package -------------------------

    @property
    def updates_held_back(self) -> int:
        """Updates not in the history yet (``history_every > 1``): the next recorded row has them.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> m = im.Sum(history_every=3)
        >>> m.update_state([1.0]); m.update_state([2.0])
        >>> m.updates_held_back, m.history.height
        (2, 0)
        """
        return self._updates_unrecorded

    def _check_states(
        self, states: Mapping[str, Any], leading: int | None, copy: bool = False
    ) -> State:
        """``states`` checked: the field shapes, with a leading axis unless ``leading`` is None.

        ``copy``: arrays of the caller's are copied (a state the history keeps as it is).
        """
        if not isinstance(states, Mapping) or set(states) != set(self._engine.names):
            got = sorted(states) if isinstance(states, Mapping) else type(states).__name__
            raise ValueError(
                f"`batch_states` must map each state field {list(self._engine.names)} to its "
                f"values, got {got}; compute them with `metric.engine`"
            )
        out: State = {}
        for f in self._fields:
            given = states[f.name]
            value = np.array(given, dtype=self._dtype) if copy else np.asarray(given, self._dtype)
            want = f.shape if leading is None else (leading, *f.shape)
            if value.shape != want:
                raise ValueError(
                    f"`batch_states[{f.name!r}]` must have shape {want}, got {value.shape}"
                )
            out[f.name] = self._dtype.type(value) if value.ndim == 0 else value
        return out

    def update_from_state(self, batch_state: Mapping[str, Any], validate: bool = True) -> None:
        """Add one batch given by its state: one update event, recorded as ``update_state`` would.

        For states computed elsewhere: by ``metric.engine.batch_state``, on another
        worker, or per segment by :class:`~interactive_metrics.Streams`. The state's
        fields and shapes are checked first; ``validate=False`` skips that for a
        state this metric's engine made (``Streams`` and collections do, saving about
        a microsecond per update).

        Examples
        --------
        >>> import interactive_metrics as im
        >>> m = im.Mean()
        >>> m.update_from_state(m.engine.batch_state(m.engine.bind([1.0, 5.0])))
        >>> m.result(), m.step
        (3.0, 1)
        """
        # a copy: the history reads the arrays later (HistoryBuffer.append_states), and the
        # caller may change theirs
        state = self._check_states(batch_state, None, copy=True) if validate else batch_state
        self._apply(cast(State, state), UPDATE)

    def prepare_updates(
        self,
        batch_states: Mapping[str, Any],
        labels: pl.Series | np.ndarray | None = None,
        after_each: Callable[[int], None] | None = None,
    ) -> Callable[[], None]:
        """Check and compute ``k`` updates given by their batch states; return the write, as a call.

        ``batch_states`` maps each field to an array of shape ``(k, *field.shape)``.
        The running states are one cumulative scan that starts from the current
        state: the same additions, in the same order, as ``k`` calls of
        :meth:`update_from_state`, so they agree to the last bit. Options that need
        a step-by-step update (``summation="kahan"``, ``history_every > 1``) apply
        the states one by one. ``labels`` (the log's ids of the ``k`` batches) name
        the recorded rows in a ``log_batch`` history column. ``after_each(i)``, if
        given, is called after update ``i`` is committed (then the updates are
        always applied one by one): a :class:`~interactive_metrics.Streams` writes
        its streams' rows of that update there.

        Everything that can fail happens here (a ``ValueError`` when the labels
        cannot sit beside earlier ones); the returned call only stores arrays that
        are ready. Hold :attr:`lock` from this call until the write, so that no
        other update comes between. Replay and Dask use it for all-or-nothing
        writes over several objects.

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> m = im.Sum()
        >>> with m.lock:
        ...     write = m.prepare_updates({"total": np.array([1.0, 2.0, 3.0])})
        ...     write()
        >>> m.history.select("step", "batch_total", "running_total").rows()
        [(1, 1.0, 1.0), (2, 2.0, 3.0), (3, 3.0, 6.0)]
        """
        k = len(next(iter(batch_states.values()))) if isinstance(batch_states, Mapping) else 0
        batches = self._check_states(batch_states, k)
        if k == 0:
            return _nothing
        engine, history = self._engine, self._history
        ids = None if history is None or labels is None else history.storable_labels(labels)
        first = self._step + 1
        if self._compensation is not None or self._pending_allowed or after_each is not None:
            one_at_a_time = [engine.row(batches, i) for i in range(k)]

            def one_by_one() -> None:
                for i, batch in enumerate(one_at_a_time):
                    self._apply(batch, UPDATE)
                    if after_each is not None:
                        after_each(i)
                if history is not None:
                    history.label_from(first, ids)

            return one_by_one
        running = engine.scan(batches, start=self._state)
        rows = None if history is None else engine.history_rows(batches, running)
        steps = np.arange(first, first + k, dtype=np.int64)
        state = engine.row(running, k - 1)

        def scanned() -> None:
            with self._lock:
                if history is not None and rows is not None:
                    history.extend(steps, np.zeros(k, dtype=np.int8), rows)
                    history.label_from(first, ids)
                self._state = state
                self._step += k
            if self._listeners:
                self._notify(UPDATE)

        return scanned

    def update_from_states(
        self, batch_states: Mapping[str, Any], labels: pl.Series | np.ndarray | None = None
    ) -> None:
        """Add ``k`` batches given by their states (arrays of shape ``(k, ...)``): ``k`` updates.

        :meth:`prepare_updates` and its write in one call, under :attr:`lock`.

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> m = im.Mean()
        >>> m.update_from_states({"total": np.array([3.0, 5.0]), "count": np.array([2.0, 2.0])})
        >>> m.history["result"].to_list()
        [1.5, 2.0]
        """
        with self._lock:
            self.prepare_updates(batch_states, labels)()

    def snapshot(self) -> Snapshot:
        """Everything this metric holds besides its configuration, as of one event.

        What ``save`` writes: see :class:`Snapshot`. The values are the metric's own
        (not copies); they are never changed in place, only replaced.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> m = im.Sum()
        >>> m.update_state([1.0, 2.0])
        >>> snap = m.snapshot()
        >>> snap.step, snap.state, snap.history.height
        (1, {'total': np.float64(3.0)}, 1)
        """
        with self._lock:
            return Snapshot(
                step=self._step,
                state=dict(self._state),
                compensation=None if self._compensation is None else dict(self._compensation),
                pending=None if self._pending is None else dict(self._pending),
                pending_updates=self._updates_unrecorded,
                history=None if self._history is None else self._history.frame(),
            )

    def restore(
        self,
        snapshot: Snapshot,
        history_rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
        labels: pl.DataFrame | None = None,
    ) -> None:
        """Replace this metric's state, step and history by a snapshot's (as ``load`` does).

        ``history_rows`` are the history as ``(steps, events, rows)`` arrays in the
        layout of ``engine.history_columns()`` (``load`` decodes and checks them
        from the saved frame); ``labels`` a frame of ``step`` and ``log_batch``.
        ``snapshot.history`` is not read. Listeners are not called.

        Raises
        ------
        ValueError
            For states whose fields or shapes are not this metric's, a negative
            step, or history rows for a metric created with ``history=False``.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> a, b = im.Sum(history=False), im.Sum(history=False)
        >>> a.update_state([1.0, 2.0])
        >>> b.restore(a.snapshot())
        >>> b.result(), b.step
        (3.0, 1)
        """
        state = self._check_states(snapshot.state, None)
        compensation = snapshot.compensation
        if (compensation is None) != (self._compensation is None):
            raise ValueError(
                f"`snapshot.compensation` must be given exactly when summation='kahan' "
                f"(this metric's summation is {self.summation!r})"
            )
        pending = None if snapshot.pending is None else self._check_states(snapshot.pending, None)
        if not isinstance(snapshot.step, (int, np.integer)) or snapshot.step < 0:
            raise ValueError(f"`snapshot.step` must be an integer >= 0, got {snapshot.step!r}")
        if history_rows is not None and self._history is None:
            raise ValueError(
                f"`history_rows` given for {self.name!r}, which was created with history=False"
            )
        history = None
        if self._history is not None:
            history = self._new_history()
            if history_rows is not None:
                history.extend(*history_rows)
            if labels is not None and labels.height:
                history.label_steps(labels["step"].to_numpy(), labels["log_batch"])
        with self._lock:
            if history is not None:
                self._history = history
            self._state = state
            self._step = int(snapshot.step)
            self._pending = pending
            self._updates_unrecorded = int(snapshot.pending_updates)
            if compensation is not None:
                self._compensation = {name: np.asarray(v) for name, v in compensation.items()}

    @property
    def lock(self) -> threading.RLock:
        """The lock held while an event is committed and while the history is read.

        Every public method takes it, so threads may share a metric. Hold it yourself
        to read several things (``state``, ``step``, ``history``) as of one event, or
        to commit several events with nothing between them; it is re-entrant.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> m = im.Mean()
        >>> with m.lock:
        ...     m.update_state([1.0, 3.0])
        ...     m.step, m.result()
        (1, 2.0)
        """
        return self._lock

    def add_listener(self, listener: Callable[[Metric, int], None]) -> None:
        """Call ``listener(metric, event)`` after every event (update, replay, merge, reset).

        Widgets use it to follow a metric; ``event`` is 0 (update), 1 (merge) or 2
        (reset). A failed event calls nobody. Listeners are called after the event
        is committed, outside :attr:`lock`.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> m = im.Sum()
        >>> seen = []
        >>> m.add_listener(lambda metric, event: seen.append((metric.step, event)))
        >>> m.update_state([1, 2])
        >>> m.reset_state()
        >>> seen
        [(1, 0), (2, 2)]
        """
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Metric, int], None]) -> None:
        """Stop calling ``listener`` (added with :meth:`add_listener`); unknown ones are ignored."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, event: int) -> None:
        """Call each listener (e.g. a live widget) with ``(self, event)`` after an event."""
        for listener in tuple(self._listeners):
            listener(self, event)

    def _zero_compensation(self) -> State:
        identity = self._identity()
        return {name: identity[name] for name in self._compensation or ()}

    def _add_compensated(
        self, state: State, low: State, batch: State, batch_low: State | None
    ) -> tuple[State, State]:
        """``state + batch`` under ``summation="kahan"``: sums keep what rounding left out."""
        new, new_low = {}, {}
        for name, reduction in self._engine.reductions:
            if name in low:
                high, rest = compensated_add(state[name], low[name], batch[name])
                if batch_low is not None and name in batch_low:
                    high, rest = compensated_add(high, rest, batch_low[name])
                new[name], new_low[name] = high, rest
            else:
                new[name] = reduction.combine(state[name], batch[name])
        return new, new_low

    # -- derived: reset and merge -----------------------------------------------------------

    def reset_state(self) -> None:
        """Return every field to its identity (0 for sums, +inf for minima, ...); recorded."""
        self._apply(self._identity(), RESET)

    def merge_key(self) -> dict[str, Any]:
        """The configuration two metrics must share to merge (name and history options aside).

        Examples
        --------
        >>> import interactive_metrics as im
        >>> im.Mean(name="a").merge_key() == im.Mean(name="b", history=False).merge_key()
        True
        """
        config = self.get_config()
        for option in ("name", "history", "history_every", "history_last", "summation"):
            config.pop(option, None)
        return config

    def merge_state(self, metrics: Metric | Iterable[Metric]) -> None:
        """Merge the states of other metrics of the same kind into this one; recorded.

        Parameters
        ----------
        metrics : Metric or iterable of Metric
            Metrics of the same class and configuration (name and history options
            may differ). Their states merge exactly; their histories are not copied.

        Raises
        ------
        ValueError
            For a metric of another class, configuration or state shape.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> a, b = im.Mean(), im.Mean()
        >>> a.update_state([1, 2])
        >>> b.update_state([3, 4, 5, 6])
        >>> a.merge_state([b])
        >>> a.result(), a.history["event"].to_list()
        (3.5, ['update', 'merge'])
        """
        if isinstance(metrics, Metric):
            others = [metrics]
        elif isinstance(metrics, Iterable) and not isinstance(metrics, (str, bytes, Mapping)):
            others = list(metrics)
        else:
            raise TypeError(
                f"`metrics` must be a Metric or an iterable of Metric, got "
                f"{type(metrics).__name__}; pass e.g. [other_metric]"
            )
        shaped = [o for o in others if isinstance(o, Metric) and o.shape_known]
        if not self.shape_known and shaped and type(shaped[0]) is type(self):
            self.take_shape(shaped[0])  # an unshaped metric holds nothing: it takes their shape
        if self.shape_known:  # unshaped others have seen no data: nothing of theirs to merge
            others = [o for o in others if not isinstance(o, Metric) or o.shape_known]
        mine = self.merge_key()
        for other in others:
            if type(other) is not type(self):
                raise ValueError(
                    f"cannot merge a {type(other).__name__} into a {type(self).__name__}; "
                    "merge metrics of the same class"
                )
            theirs = other.merge_key()
            if theirs != mine:
                diff = {
                    k: (mine.get(k), theirs.get(k)) for k in mine if mine.get(k) != theirs.get(k)
                }
                raise ValueError(
                    f"cannot merge {other.name!r} into {self.name!r}: their configurations "
                    f"differ in {diff} (this, other); create both with the same arguments"
                )
            for f in self._fields:
                got = np.shape(other._state[f.name])
                if got != f.shape:
                    raise ValueError(
                        f"cannot merge {other.name!r} into {self.name!r}: field {f.name!r} "
                        f"has shape {got}, expected {f.shape}"
                    )
        snapshots = []
        for other in others:  # each state with its compensation, as of one event
            with other.lock:
                snapshots.append((other._state, other._compensation))
        combined = self._identity()
        if self._compensation is None:
            for state, _ in snapshots:
                combined = self._combine(combined, state)
            self._apply(combined, MERGE)
            return
        low = self._zero_compensation()
        for state, compensation in snapshots:
            combined, low = self._add_compensated(combined, low, state, compensation)
        self._apply(combined, MERGE, low)

    # -- derived: the past ------------------------------------------------------------------

    def _row(self, step: int) -> int:
        if not isinstance(step, (int, np.integer)) or isinstance(step, bool):
            raise TypeError(f"`step` must be an integer, got {step!r}")
        if not 0 <= step <= self._step:
            raise ValueError(
                f"`step` must be in [0, {self._step}] (this metric has seen {self._step} "
                f"event(s)), got {step!r}"
            )
        if self._history is None:
            raise ValueError(
                f"`step` {step} is not recorded: {self.name!r} was created with history=False"
            )
        row = self._history.row_index(step)
        if row is None:
            why = (
                f"history_every={self.history_every}"
                if self.history_every > 1
                else f"history_last={self.history_last}"
            )
            raise ValueError(
                f"`step` {step} is not recorded in the history of {self.name!r} ({why}); "
                "pick a step from `history['step']`"
            )
        return row

    def state_at(self, step: int) -> dict[str, Any]:
        """The state after ``step`` events (``0``: the fresh state), read from the history.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> m = im.Sum()
        >>> m.update_state([1, 3, 5, 7])
        >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
        >>> m.state_at(0), m.state_at(1), m.state_at(2)
        ({'total': 0.0}, {'total': 16.0}, {'total': 20.0})
        """
        if isinstance(step, int) and not isinstance(step, bool) and step == 0:
            return {name: _plain(value) for name, value in self._identity().items()}
        with self._lock:
            row = self._row(step)
            assert self._history is not None
            return {
                f.name: _plain(self._history.value(row, f"running_{f.name}", f.shape))
                for f in self._fields
            }

    def result_at(self, step: int) -> Any:
        """The result after ``step`` events, read from the history (never recomputed).

        Examples
        --------
        >>> import interactive_metrics as im
        >>> m = im.Mean()
        >>> m.update_state([1, 3])
        >>> m.update_state([8])
        >>> m.result_at(1), m.result_at(2)
        (2.0, 4.0)
        """
        if isinstance(step, int) and not isinstance(step, bool) and step == 0:
            return _plain(self.compute(self._identity()))
        with self._lock:
            row = self._row(step)
            assert self._history is not None
            return _plain(self._history.value(row, "result", self.result_shape))

    def rolling(self, window: int) -> pl.DataFrame:
        """The result over the last ``window`` recorded batches, at every recorded step.

        Read from the history's batch states (no data is read again): sums are
        differences of cumulative sums, minima and maxima a sliding window (see
        :meth:`Engine.rolling <interactive_metrics.engine.Engine.rolling>`). Merges
        count as batches (what they added); resets add nothing and are left out.
        With ``history_every=N`` a recorded row holds ``N`` updates.

        Returns
        -------
        polars.DataFrame
            ``step`` and ``result`` (the result over the window ending there).

        Examples
        --------
        >>> import interactive_metrics as im
        >>> m = im.Mean()
        >>> for batch in ([1.0, 1.0], [1.0, 0.0], [0.0, 0.0]):
        ...     m.update_state(batch)
        >>> m.rolling(2).rows()  # the running mean would say 0.5 at step 3
        [(1, 1.0), (2, 0.75), (3, 0.25)]
        """
        if not self.records_history:
            raise ValueError(
                f"`rolling` reads the history, and {self.name!r} was created with history=False; "
                "create it with history=True"
            )
        frame = self.history.filter(pl.col("event") != "reset")
        engine = self._engine
        batches = {
            f.name: frame[f"batch_{f.name}"].to_numpy().reshape(frame.height, *f.shape)
            for f in self._fields
        }
        results = engine.results(engine.rolling(batches, window))
        return pl.DataFrame([frame["step"], pl.Series("result", results)])

    # -- derived: configuration and display -------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this metric (state not included).

        Examples
        --------
        >>> import interactive_metrics as im
        >>> config = im.Mean(name="loss").get_config()
        >>> config["name"], config["dtype"]
        ('loss', 'float64')
        >>> im.Mean.from_config(config).name
        'loss'
        """
        config = {
            name: self._history is not None if name == "history" else getattr(self, name)
            for name in self._config_names
        }
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Metric:
        """Create a fresh metric from :meth:`get_config` output."""
        return cls(**config)

    def save(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Save configuration, state and history to a directory or a ``.zip`` file.

        Load it back with ``interactive_metrics.load(path)``. No pickle: the file
        holds JSON and Parquet only. See :func:`interactive_metrics.io.save`.
        """
        from interactive_metrics.io import save

        return save(self, path, **options)

    def plot(
        self, kind: Literal["history", "batch_sums", "sum_vs_mean"] = "history", **options: Any
    ) -> Any:
        """An altair chart of this metric's history (needs the ``charts`` extra).

        Parameters
        ----------
        kind : {"history", "batch_sums", "sum_vs_mean"}
            Which chart of :mod:`interactive_metrics.charts` to draw: the result
            (or any column) over steps, what each batch adds to the running total,
            or the running sum against the pooled mean and the mean of batch means.
        **options
            Passed to the chart function (e.g. ``field=`` for ``"history"``).

        Examples
        --------
        >>> import interactive_metrics as im
        >>> m = im.Mean()
        >>> m.update_state([1, 2, 3])
        >>> type(m.plot("sum_vs_mean")).__name__
        'VConcatChart'
        """
        from interactive_metrics import charts

        return charts.plot(self, kind, charts.METRIC_KINDS, **options)

    def replay(
        self,
        data: Any,
        *,
        batch: str,
        sample_weight: str | None = None,
        every: str | None = None,
        reset: str | None = None,
        **columns: str,
    ) -> Self:
        """Replay a logged run: one update per batch id, in one vectorised pass.

        Parameters
        ----------
        data : polars DataFrame or LazyFrame, pandas DataFrame, or path
            One row per sample; a CSV / Parquet path is read lazily, in chunks.
        batch : str
            The column of batch ids; batches are replayed in sorted id order.
        sample_weight : str, optional
            The column of sample weights.
        every : str, optional
            Time buckets of a datetime ``batch`` column (``"1h"``, ``"1d"``...).
        reset : str, optional
            The column of epochs: a reset before each epoch, as a training loop does.
        **columns : str
            One column per input of the metric, by name (``values="loss"``).

        Returns
        -------
        Metric
            This metric, updated: its history equals calling ``update_state`` once
            per batch. See :func:`interactive_metrics.replay.replay_metric`.

        Examples
        --------
        >>> import polars as pl
        >>> import interactive_metrics as im
        >>> log = pl.DataFrame({"step": [2, 1, 2], "loss": [1.0, 4.0, 3.0], "w": [1, 1, 3]})
        >>> im.Mean().replay(log, values="loss", batch="step", sample_weight="w").result()
        2.8
        """
        from interactive_metrics.replay import replay_metric

        replay_metric(
            self,
            data,
            batch=batch,
            sample_weight=sample_weight,
            every=every,
            reset=reset,
            **columns,
        )
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        """A copy with a lock of its own (a lock cannot be copied; its holder is not copied)."""
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        with self._lock:
            for name, value in self.__dict__.items():
                fresh = threading.RLock() if name == "_lock" else copy.deepcopy(value, memo)
                clone.__dict__[name] = fresh
        return clone

    def __getstate__(self) -> dict[str, Any]:
        """The attributes but the lock: what ``copy.copy`` (and a process pool) transfers."""
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        def fmt(value: Any) -> str:
            if isinstance(value, np.ndarray) and value.ndim:
                return np.array2string(value, separator=", ", threshold=8, precision=4)
            return repr(float(value))

        parts = [f"name={self.name!r}", f"result={fmt(self.compute(self._state))}"]
        parts += [f"{name}={fmt(value)}" for name, value in self._state.items()]
        parts.append(f"step={self._step}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def _repr_html_(self) -> str:
        """A compact HTML card for Jupyter: name, result, state, steps and a sparkline."""
        from interactive_metrics.widgets.card import metric_card

        return metric_card(self)

    def widget(self, kind: Literal["live", "scrubber"] = "live", **options: Any) -> Any:
        """An ipywidgets view of this metric (needs the ``widgets`` extra).

        Parameters
        ----------
        kind : {"live", "scrubber"}
            ``"live"`` follows ``update_state`` calls as they happen (redrawing at
            most ~10 times a second); ``"scrubber"`` steps through the stored history.
        **options
            Passed to :class:`~interactive_metrics.widgets.LiveView` or
            :class:`~interactive_metrics.widgets.HistoryScrubber`.
        """
        from interactive_metrics import widgets

        return widgets.metric_widget(self, kind, **options)

    def interval(self, level: float = 0.95, method: str | None = None) -> tuple[Any, Any]:
        """A confidence interval of :meth:`result`: ``(low, high)``, closed-form.

        Wilson (``method="clopper-pearson"`` for Clopper–Pearson) for ratios of counts
        (the accuracies, precision, recall, specificity), Student t for
        ``Mean(variance=True)``; any other metric raises a ``ValueError`` that says to
        use :class:`~interactive_metrics.Bootstrap`. See
        :mod:`interactive_metrics.intervals`.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> m = im.BinaryAccuracy()
        >>> m.update_state([1] * 10, [1] * 8 + [0] * 2)
        >>> [round(x, 4) for x in m.interval(0.95)]
        [0.4902, 0.9433]
        """
        with self._lock:  # one event's state; the values are never changed in place
            state = dict(self._state)
        return _state_interval()(self, state, level, method)
