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
import inspect
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import polars as pl

from interactive_metrics.core.coerce import (
    as_array,
    as_sample_weight,
    check_choice,
    check_integer,
    check_name,
    check_optional_integer,
    check_sample_weight,
    resolve_dtype,
)
from interactive_metrics.core.reduce import REDUCTIONS, Product, Reduction, compensated_add
from interactive_metrics.core.segments import RowCompute
from interactive_metrics.history import HistoryBuffer
from interactive_metrics.keras import refuse_keras_wrapping

__all__ = ["Metric", "StateField", "StateTooLarge", "allocation_bytes", "state_limit"]

UPDATE, MERGE, RESET = 0, 1, 2
NAN_STRATEGIES = ("propagate", "ignore", "error")
SUMMATIONS = ("plain", "kahan")
State = dict[str, Any]
_CHUNK = 1 << 17  # samples per chunk of a large batch: the arrays of one chunk stay in cache


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


def _fieldwise(
    functions: Sequence[tuple[str, Callable[[Any, Any], Any]]], both_mappings: bool = False
) -> Callable[[Mapping[str, Any], Any], State]:
    """A function ``(a, b) -> {name: f(a[name], b) for name, f in functions}``.

    With ``both_mappings``, ``b`` is a mapping too and ``f`` gets ``b[name]``.
    Written out for metrics of one or two fields (most of them): Python 3.11
    spends about 200 ns setting up a dict comprehension, a fair share of a small update.

    Examples
    --------
    >>> add = _fieldwise([("total", lambda x, y: x + y)], both_mappings=True)
    >>> add({"total": 1.0}, {"total": 2.5})
    {'total': 3.5}
    """
    if len(functions) == 1:
        ((a, fa),) = functions
        if both_mappings:
            return lambda x, y: {a: fa(x[a], y[a])}
        return lambda x, y: {a: fa(x[a], y)}
    if len(functions) == 2:
        (a, fa), (b, fb) = functions
        if both_mappings:
            return lambda x, y: {a: fa(x[a], y[a]), b: fb(x[b], y[b])}
        return lambda x, y: {a: fa(x[a], y), b: fb(x[b], y)}
    if both_mappings:
        return lambda x, y: {name: f(x[name], y[name]) for name, f in functions}
    return lambda x, y: {name: f(x[name], y) for name, f in functions}


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _plain(value: Any) -> Any:
    """A state value as users see it: a Python float, or an array copy."""
    if isinstance(value, np.ndarray) and value.ndim:
        return value.copy()
    return float(value)


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
    _BASE_CONFIG: ClassVar[tuple[str, ...]] = (
        "name",
        "dtype",
        "nan_strategy",
        "history",
        "history_every",
        "history_last",
        "summation",
    )
    #: How each input is coerced: to an array of the metric's float dtype. A metric
    #: whose inputs are class labels may keep integer arrays as they are (no float copy).
    _as_input: ClassVar[staticmethod[[Any, str, np.dtype[Any]], np.ndarray]]
    _as_input = staticmethod(as_array)
    terms_wrap_inputs: ClassVar[bool] = False
    """Accepted for metrics written against earlier versions; it changes nothing now.

    It once sent weighted float64 batches of ``Sum`` and ``Mean`` through a compiled
    pass (numba), removed because its first call cost about a second in every new
    process. Every batch now takes the one path of :meth:`update_state`.
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
        cls._config_names = tuple(dict.fromkeys([*own, *Metric._BASE_CONFIG]))

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
        self._plan = tuple((f.name, f.reduction) for f in self._fields)
        self._reduce_terms = _fieldwise(
            [(f.name, f.reduction.batch_reducer(self._dtype)) for f in self._fields]
        )
        self._combine = _fieldwise([(f.name, f.reduction.combine) for f in self._fields], True)
        self._scalar_only = all(f.shape == () for f in self._fields)
        self._check_size(history)
        try:
            with np.errstate(all="ignore"):
                self._result_shape = np.shape(self.compute(self._identity()))
            self._state: State = self._identity()
        except MemoryError:
            numbers = sum(int(np.prod(f.shape, dtype=np.float64)) for f in self._fields)
            raise ValueError(
                f"the state of {type(self).__name__}, {numbers} numbers "
                f"({numbers * self._dtype.itemsize / 2**30:.1f} GiB in {self.dtype}; field shapes "
                f"{ {f.name: f.shape for f in self._fields} }), does not fit in memory; "
                "configure a smaller metric (e.g. fewer classes)"
            ) from None
        self._scalar_only = self._scalar_only and self._result_shape == ()
        self._step = 0
        self._pending: State | None = None
        self._pending_allowed = history_every > 1
        self._updates_unrecorded = 0
        self._row_compute: RowCompute | None = None  # results of many states at once
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
        return {f.name: f.reduction.empty(f.shape, self._dtype) for f in self._fields}

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
        """The current state: field name -> value (floats, or arrays for shaped fields)."""
        return {name: _plain(value) for name, value in self._state.items()}

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
        return self._result_shape

    @property
    def records_history(self) -> bool:
        """Whether this metric records a history (``history=True`` when it was created)."""
        return self._history is not None

    def result(self) -> Any:
        """The current result: a float, or an array for metrics with a vector result."""
        return _plain(self.compute(self._state))

    def _new_history(self) -> HistoryBuffer:
        batch = [(f"batch_{f.name}", f.shape) for f in self._fields]
        columns = [
            *batch,
            ("batch_result", self._result_shape),
            *((f"running_{f.name}", f.shape) for f in self._fields),
            ("result", self._result_shape),
        ]
        null_on_reset = [name for name, _ in batch] + ["batch_result"]
        complete = self._complete_results if self._scalar_only else None
        return HistoryBuffer(
            columns, self._dtype, null_on_reset, last=self.history_last, complete=complete
        )

    def _complete_results(self, block: np.ndarray) -> None:
        """Fill the ``batch_result`` and ``result`` columns of a block of history rows.

        Updates of scalar metrics record states only; their results are computed
        here, for a block of rows at once (``compute`` on arrays when it is
        elementwise, else row by row: see :class:`~interactive_metrics.core.segments.RowCompute`),
        whenever the history is read or every few hundred updates.
        """
        rows = self._row_compute
        if rows is None:  # probed once, on the first block
            rows = self._row_compute = RowCompute.for_metric(self)
        k = len(self._fields)
        names = [f.name for f in self._fields]
        batch = {name: block[:, i] for i, name in enumerate(names)}
        running = {name: block[:, k + 1 + i] for i, name in enumerate(names)}
        with np.errstate(all="ignore"):
            block[:, k] = rows(batch)
            block[:, 2 * k + 1] = rows(running)

    # -- derived: update --------------------------------------------------------------------

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        names = self.input_names
        unknown = set(kwargs) - set(names)
        missing = [n for n in names[len(args) :] if n not in kwargs]
        if len(args) > len(names) or unknown or missing:
            expected = ", ".join(names)
            got = f"{len(args)} positional argument(s)" + (
                f" and keyword(s) {sorted(kwargs)}" if kwargs else ""
            )
            raise TypeError(
                f"{type(self).__name__}.update_state() takes ({expected}, sample_weight=None), "
                f"got {got}"
            )
        return (*args, *(kwargs[n] for n in names[len(args) :]))

    def _batch_inputs(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], sample_weight: Any
    ) -> tuple[list[np.ndarray], np.ndarray | None, int]:
        """Coerce one batch's inputs and weights; return them with the number of samples."""
        names = self.input_names
        if kwargs or len(args) != len(names):
            args = self._bind(args, kwargs)
        dtype = self._dtype
        as_input = self._as_input
        if len(args) == 1:
            inputs = [as_input(args[0], names[0], dtype)]
            n = inputs[0].shape[0]
        else:
            inputs = [as_input(x, name, dtype) for x, name in zip(args, names, strict=True)]
            n = inputs[0].shape[0]
            for x, name in zip(inputs[1:], names[1:], strict=False):
                if x.shape[0] != n:
                    raise ValueError(
                        f"`{name}` must have as many samples as `{names[0]}` ({n}), got shape "
                        f"{x.shape} against {inputs[0].shape}; pass one row per sample in each"
                    )
        weight = None if sample_weight is None else as_sample_weight(sample_weight, dtype, False)
        return inputs, weight, n

    def _terms_of(
        self, inputs: list[np.ndarray], weight: np.ndarray | None, n: int, factored: bool = False
    ) -> tuple[State, int]:
        """Check the weights, apply the NaN strategy, and return the per-sample terms.

        Weighted values may come back as a :class:`~interactive_metrics.core.Product`
        of values and weights; only ``factored=True`` callers (the batch reduce, which
        sums them with a dot product) see it, everyone else gets plain arrays. A
        :class:`~interactive_metrics.core.OneHot` reaches every caller as it is: they
        all reduce through :class:`~interactive_metrics.core.Reduction`, which sums it
        with a bincount.
        """
        if self.nan_strategy != "propagate":
            inputs, weight, n, _ = self._handle_nan(inputs, weight, n)  # checks the weights
        elif weight is not None:
            check_sample_weight(weight)
        terms = self._call_terms(inputs, weight)
        if not factored and any(type(term) is Product for term in terms.values()):
            terms = {k: np.asarray(t) if type(t) is Product else t for k, t in terms.items()}
        return terms, n

    def _call_terms(self, inputs: list[np.ndarray], weight: np.ndarray | None) -> State:
        if len(inputs) == 1:  # most metrics: a positional call is ~150 ns faster than *inputs
            return self.terms(inputs[0], sample_weight=weight)
        return self.terms(*inputs, sample_weight=weight)

    def _reduce_batch(self, inputs: list[np.ndarray], weight: np.ndarray | None, n: int) -> State:
        """Reduce a batch to its state.

        Batches of up to 131,072 samples are reduced whole, larger ones in chunks of
        that size:
        the partial states of the chunks merge exactly (that is what the fields'
        reductions are for), and every pass over a chunk (weight check, products,
        sums) then reads memory that is already in cache.
        """
        if n <= _CHUNK:
            terms, n = self._terms_of(inputs, weight, n, factored=True)
            return self._reduce_terms(terms, n)
        per_sample_weight = weight is not None and weight.ndim > 0 and weight.shape[0] == n
        batch = self._identity()
        for start in range(0, n, _CHUNK):
            part = slice(start, start + _CHUNK)
            chunk_weight = weight[part] if per_sample_weight else weight  # type: ignore[index]
            chunk = [x[part] for x in inputs]
            terms, m = self._terms_of(chunk, chunk_weight, len(chunk[0]), factored=True)
            batch = self._combine(batch, self._reduce_terms(terms, m))
        return batch

    def _handle_nan(
        self, inputs: list[np.ndarray], weight: np.ndarray | None, n: int
    ) -> tuple[list[np.ndarray], np.ndarray | None, int, np.ndarray | None]:
        """Apply ``nan_strategy`` to one batch: the kept inputs, weights, count and mask.

        The mask (None when every sample is kept) lets callers that carry more per
        sample, as stream keys and batch ids, drop the same samples. The weights are
        checked first, all of them: a negative weight is refused even on a sample
        that is about to be dropped, whichever path (metric, streams, replay) drops it.
        """
        if self.nan_strategy == "propagate":
            return inputs, weight, n, None
        if weight is not None:
            check_sample_weight(weight)
        bad = np.zeros(n, dtype=bool)
        for x in inputs:
            bad |= np.isnan(x).reshape(n, -1).any(axis=1) if x.size else bad
        if not bad.any():
            return inputs, weight, n, None
        if self.nan_strategy == "error":
            where = [
                name for x, name in zip(inputs, self.input_names, strict=True) if np.isnan(x).any()
            ]
            raise ValueError(
                f"`{where[0]}` contains {int(bad.sum())} sample(s) with NaN and "
                "nan_strategy='error'; clean the input, or pass nan_strategy='ignore' to drop "
                "them or 'propagate' to let NaN reach the result"
            )
        keep = ~bad
        if weight is not None and weight.ndim and weight.shape[0] == n:
            weight = weight[keep]
        return [x[keep] for x in inputs], weight, int(keep.sum()), keep

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
        self._apply(self._reduce_batch(*self._batch_inputs(inputs, named, sample_weight)), UPDATE)

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
        with self._lock:  # one event at a time: threads may share a metric
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
                    if self._scalar_only:  # results are filled in later (_complete_results)
                        history.append_numbers(
                            (self._step + 1, event, *recorded.values(), 0.0, *new.values(), 0.0)
                        )
                    else:
                        self._record(history, recorded, new, event)
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
        for name, reduction in self._plan:
            if name in low:
                high, rest = compensated_add(state[name], low[name], batch[name])
                if batch_low is not None and name in batch_low:
                    high, rest = compensated_add(high, rest, batch_low[name])
                new[name], new_low[name] = high, rest
            else:
                new[name] = reduction.combine(state[name], batch[name])
        return new, new_low

    def _record(self, history: HistoryBuffer, batch: State, new: State, event: int) -> None:
        """Append the row of an event of a metric with array fields or an array result."""
        compute = self.compute
        parts = (*batch.values(), compute(batch), *new.values(), compute(new))
        history.append(self._step + 1, event, np.concatenate([np.ravel(v) for v in parts]))

    # -- derived: reset and merge -----------------------------------------------------------

    def reset_state(self) -> None:
        """Return every field to its identity (0 for sums, +inf for minima, ...); recorded."""
        self._apply(self._identity(), RESET)

    def _merge_key(self) -> dict[str, Any]:
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
        mine = self._merge_key()
        for other in others:
            if type(other) is not type(self):
                raise ValueError(
                    f"cannot merge a {type(other).__name__} into a {type(self).__name__}; "
                    "merge metrics of the same class"
                )
            theirs = other._merge_key()
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
        if step == 0 and isinstance(step, int):
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
        if step == 0 and isinstance(step, int):
            return _plain(self.compute(self._identity()))
        with self._lock:
            row = self._row(step)
            assert self._history is not None
            return _plain(self._history.value(row, "result", self._result_shape))

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
        self, data: Any, *, batch: str, sample_weight: str | None = None, **columns: str
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

        replay_metric(self, data, batch=batch, sample_weight=sample_weight, **columns)
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
