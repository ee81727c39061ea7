"""The engine: a metric's declaration as pure functions of arrays, holding no running state.

A metric declares ``fields``, ``terms`` and ``compute`` (see :class:`~interactive_metrics.Metric`).
Its :class:`Engine` (``metric.engine``) turns that declaration into the steps every
path of the package is made of:

1. :meth:`Engine.bind` -- coerce and validate one batch's inputs and weights (a :class:`Batch`);
2. :meth:`Engine.drop_nan` -- apply the metric's ``nan_strategy``;
3. :meth:`Engine.terms` -- the per-sample contributions to each field;
4. :meth:`Engine.batch_state` -- one batch reduced to its state, or
   :meth:`Engine.segment_states` -- a state per segment (batch id, stream, or both) in one pass;
5. :meth:`Engine.combine` -- two states merged exactly, and :meth:`Engine.scan` -- the running
   states after each of a sequence of batch states;
6. :meth:`Engine.result` / :meth:`Engine.results` -- the result of one state, or of a block
   of states at once.

The stateful objects are thin shells over these functions: a
:class:`~interactive_metrics.Metric` keeps the running state, step, history and
listeners; a :class:`~interactive_metrics.Streams` keeps one state per stream; replay
and the Dask path compute segment states and hand them to those shells. Keras 3's
stateless view is :meth:`Engine.update` (``stateless_update_state``),
:meth:`Engine.result` (``stateless_result``) and :meth:`Engine.identity`
(``stateless_reset_state``); ``Metric`` has methods of those Keras names too.

Examples
--------
The stateless chain gives what the stateful metric gives, bit for bit:

>>> import interactive_metrics as im
>>> engine = im.Mean().engine
>>> state = engine.identity()
>>> for values in ([1.0, 2.0], [6.0]):
...     state = engine.update(state, engine.bind(values))
>>> float(state["total"]), float(state["count"]), float(engine.result(state))
(9.0, 3.0, 3.0)
>>> m = im.Mean()
>>> m.update_state([1.0, 2.0]); m.update_state([6.0])
>>> m.result() == float(engine.result(state))
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from interactive_metrics.core.coerce import as_array, as_sample_weight, check_sample_weight
from interactive_metrics.core.reduce import OneHot, Product, Reduction
from interactive_metrics.core.segments import RowCompute, reduce_segments, scan_segments
from interactive_metrics.history import HistoryBuffer

__all__ = ["CHUNK", "Batch", "Engine", "State"]

State = dict[str, Any]
CHUNK = 1 << 17
"""Samples per chunk of a large batch: the arrays of one chunk stay in cache."""


class Batch(NamedTuple):
    """One batch as the engine reads it: coerced inputs, weights and the number of samples.

    Made by :meth:`Engine.bind`. ``nan_checked`` is True once
    :meth:`Engine.drop_nan` has applied the metric's ``nan_strategy`` (and checked
    the weights), so later steps do not do it again.
    """

    inputs: tuple[np.ndarray, ...]
    weight: np.ndarray | None
    n: int
    nan_checked: bool = False

    def take(self, keep: np.ndarray) -> Batch:
        """The samples where ``keep`` is True (a boolean mask of length ``n``).

        Examples
        --------
        >>> import numpy as np
        >>> b = Batch((np.array([1.0, 2.0, 3.0]),), None, 3)
        >>> b.take(np.array([True, False, True])).inputs[0]
        array([1., 3.])
        """
        weight = self.weight
        if weight is not None and weight.ndim and weight.shape[0] == self.n:
            weight = weight[keep]
        inputs = tuple(x[keep] for x in self.inputs)
        return Batch(inputs, weight, int(keep.sum()), self.nan_checked)

    def chunk(self, part: slice) -> Batch:
        """The samples of ``part`` (a slice of sample positions)."""
        weight = self.weight
        if weight is not None and weight.ndim and weight.shape[0] == self.n:
            weight = weight[part]
        inputs = tuple(x[part] for x in self.inputs)
        return Batch(inputs, weight, len(inputs[0]), self.nan_checked)


_new_batch = tuple.__new__


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


class Engine:
    """The pure computations of one metric declaration (``metric.engine``).

    Parameters
    ----------
    fields : sequence of StateField
        The state fields, with their reductions and shapes.
    terms : callable
        ``terms(*inputs, sample_weight=None) -> {field: per-sample terms}``.
    compute : callable
        ``compute(state) -> result``.
    dtype : numpy.dtype
        The floating dtype states are kept in.
    input_names : tuple of str
        The names of the inputs (for binding keywords and for error messages).
    as_input : callable, optional
        ``as_input(x, name, dtype) -> ndarray``: how each input is coerced
        (default :func:`~interactive_metrics.core.as_array`).
    nan_strategy : {"propagate", "ignore", "error"}
        What a NaN input does (see :class:`~interactive_metrics.Metric`).
    owner : str
        The class name used in messages (``"Mean.update_state() takes ..."``).

    Notes
    -----
    An engine holds no running state: every method is a function of its
    arguments and of the declaration. ``fields``, ``names``, ``reductions``,
    ``dtype``, ``input_names``, ``nan_strategy`` and ``result_shape`` are public,
    read-only attributes.
    """

    def __init__(
        self,
        fields: Sequence[Any],
        terms: Callable[..., State],
        compute: Callable[[Mapping[str, Any]], Any],
        *,
        dtype: np.dtype[Any],
        input_names: tuple[str, ...],
        as_input: Callable[[Any, str, np.dtype[Any]], np.ndarray] = as_array,
        nan_strategy: str = "propagate",
        owner: str = "Metric",
    ) -> None:
        self.fields = tuple(fields)
        self.names = tuple(f.name for f in self.fields)
        self.reductions: tuple[tuple[str, Reduction], ...] = tuple(
            (f.name, f.reduction) for f in self.fields
        )
        self.dtype = dtype
        self.input_names = input_names
        self.nan_strategy = nan_strategy
        self._propagate = nan_strategy == "propagate"
        self.owner = owner
        self._terms_function = terms
        self._compute = compute
        self._as_input = as_input
        self._reduce_terms = _fieldwise(
            [(f.name, f.reduction.batch_reducer(dtype)) for f in self.fields]
        )
        self.combine: Callable[[Mapping[str, Any], Mapping[str, Any]], State] = _fieldwise(
            [(f.name, f.reduction.combine) for f in self.fields], True
        )
        """``combine(a, b)``: two states merged exactly, field by field."""
        with np.errstate(all="ignore"):
            self.result_shape: tuple[int, ...] = np.shape(compute(self.identity()))
        self.scalar_only = self.result_shape == () and all(f.shape == () for f in self.fields)
        """True when every field and the result are numbers (the history stores them as is)."""
        self._slices: dict[str, slice] = {}
        start = 0
        for column, shape in self.history_columns():
            width = int(np.prod(shape, dtype=np.int64))
            self._slices[column] = slice(start, start + width)
            start += width
        self.state_columns: tuple[tuple[str, slice, slice], ...] = tuple(
            (f.name, self._slices["batch_" + f.name], self._slices["running_" + f.name])
            for f in self.fields
        )
        """Per field: its name and its ``batch_`` and ``running_`` columns in a history row."""
        self.state_layout: tuple[slice, ...] = tuple(
            [b for _, b, _ in self.state_columns] + [r for _, _, r in self.state_columns]
        )
        """The ``batch_`` columns of every field, then the ``running_`` ones (one tuple, reused)."""
        self._rows: RowCompute | None = None

    # -- states ------------------------------------------------------------------------------

    def identity(self) -> State:
        """The fresh state: every field at its identity (``stateless_reset_state``)."""
        return {f.name: f.reduction.empty(f.shape, self.dtype) for f in self.fields}

    def empty_states(self, k: int) -> State:
        """``k`` fresh states as arrays with a leading axis of length ``k``.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> im.Mean().engine.empty_states(2)
        {'total': array([0., 0.]), 'count': array([0., 0.])}
        """
        return {f.name: f.reduction.empty((k, *f.shape), self.dtype) for f in self.fields}

    def row(self, states: Mapping[str, np.ndarray], i: int) -> State:
        """State ``i`` of a block of states, in the form a metric keeps (numbers as scalars).

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> im.Sum().engine.row({"total": np.array([1.0, 5.0])}, 1)
        {'total': np.float64(5.0)}
        """
        out: State = {}
        for f in self.fields:
            value = states[f.name][i]
            out[f.name] = self.dtype.type(value) if f.shape == () else np.array(value)
        return out

    # -- one batch ---------------------------------------------------------------------------

    def _bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
        names = self.input_names
        unknown = set(kwargs) - set(names)
        missing = [n for n in names[len(args) :] if n not in kwargs]
        if len(args) > len(names) or unknown or missing:
            expected = ", ".join(names)
            got = f"{len(args)} positional argument(s)" + (
                f" and keyword(s) {sorted(kwargs)}" if kwargs else ""
            )
            raise TypeError(
                f"{self.owner}.update_state() takes ({expected}, sample_weight=None), got {got}"
            )
        return (*args, *(kwargs[n] for n in names[len(args) :]))

    def bind(self, *inputs: Any, sample_weight: Any = None, **named: Any) -> Batch:
        """Coerce and validate one batch's inputs and weights, as ``update_state`` takes them.

        Raises
        ------
        TypeError, ValueError
            For inputs that are not numeric arrays, of mismatched lengths, and
            weights that do not convert. (Negative or NaN weights are refused by
            :meth:`drop_nan` and :meth:`terms`.)

        Examples
        --------
        >>> import interactive_metrics as im
        >>> batch = im.BinaryAccuracy().engine.bind(y_true=[1, 0], y_pred=[0.9, 0.2])
        >>> batch.n, [x.tolist() for x in batch.inputs]  # integer labels stay integers
        (2, [[1, 0], [0.9, 0.2]])
        """
        return self.bind_arguments(inputs, named, sample_weight)

    def bind_arguments(
        self, inputs: tuple[Any, ...], named: Mapping[str, Any], sample_weight: Any
    ) -> Batch:
        """:meth:`bind` with the arguments as given to ``update_state``: a tuple and a dict.

        What the trackers call (no repacking of ``*inputs, **named``).
        """
        names = self.input_names
        args = inputs if not named and len(inputs) == len(names) else self._bind(inputs, named)
        dtype = self.dtype
        as_input = self._as_input
        if len(args) == 1:
            coerced: tuple[np.ndarray, ...] = (as_input(args[0], names[0], dtype),)
            n = coerced[0].shape[0]
        elif len(args) == 2:  # y_true, y_pred: written out, small updates pay for every step
            first, second = as_input(args[0], names[0], dtype), as_input(args[1], names[1], dtype)
            n = first.shape[0]
            if second.shape[0] != n:
                raise ValueError(
                    f"`{names[1]}` must have as many samples as `{names[0]}` ({n}), got shape "
                    f"{second.shape} against {first.shape}; pass one row per sample in each"
                )
            coerced = (first, second)
        else:
            coerced = tuple(as_input(x, name, dtype) for x, name in zip(args, names, strict=True))
            n = coerced[0].shape[0]
            for x, name in zip(coerced[1:], names[1:], strict=False):
                if x.shape[0] != n:
                    raise ValueError(
                        f"`{name}` must have as many samples as `{names[0]}` ({n}), got shape "
                        f"{x.shape} against {coerced[0].shape}; pass one row per sample in each"
                    )
        weight = None if sample_weight is None else as_sample_weight(sample_weight, dtype, False)
        return _new_batch(Batch, (coerced, weight, n, False))  # Batch(...) without its __new__

    def drop_nan(self, batch: Batch) -> tuple[Batch, np.ndarray | None]:
        """Apply ``nan_strategy`` to a batch: the kept batch, and the mask of kept samples.

        The mask (None when every sample is kept) lets callers that carry more per
        sample, as stream keys and batch ids, drop the same samples. The weights
        are checked first, all of them: a negative weight is refused even on a
        sample that is about to be dropped.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> engine = im.Mean(nan_strategy="ignore").engine
        >>> kept, mask = engine.drop_nan(engine.bind([1.0, float("nan"), 3.0]))
        >>> kept.inputs[0], mask
        (array([1., 3.]), array([ True, False,  True]))
        """
        if batch.nan_checked:
            return batch, None
        if batch.weight is not None:
            check_sample_weight(batch.weight)
        if self.nan_strategy == "propagate":
            return batch._replace(nan_checked=True), None
        n = batch.n
        bad = np.zeros(n, dtype=bool)
        for x in batch.inputs:
            bad |= np.isnan(x).reshape(n, -1).any(axis=1) if x.size else bad
        if not bad.any():
            return batch._replace(nan_checked=True), None
        if self.nan_strategy == "error":
            where = [
                name
                for x, name in zip(batch.inputs, self.input_names, strict=True)
                if np.isnan(x).any()
            ]
            raise ValueError(
                f"`{where[0]}` contains {int(bad.sum())} sample(s) with NaN and "
                "nan_strategy='error'; clean the input, or pass nan_strategy='ignore' to drop "
                "them or 'propagate' to let NaN reach the result"
            )
        keep = ~bad
        return batch.take(keep)._replace(nan_checked=True), keep

    def terms(self, batch: Batch, factored: bool = False) -> State:
        """The per-sample terms of a batch (after :meth:`drop_nan`, which this applies if needed).

        Weighted values may come back as a :class:`~interactive_metrics.core.Product`
        of values and weights: only ``factored=True`` callers (reductions, which sum
        it with a dot product) see it; everyone else gets plain arrays. A
        :class:`~interactive_metrics.core.OneHot` reaches every caller as it is.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> engine = im.Mean().engine
        >>> engine.terms(engine.bind([1.0, 3.0], sample_weight=[1.0, 0.5]))
        {'total': array([1. , 1.5]), 'count': array([1. , 0.5])}
        """
        if not batch.nan_checked:
            batch, _ = self.drop_nan(batch)
        terms = self._call_terms(batch.inputs, batch.weight)
        if not factored and any(type(term) is Product for term in terms.values()):
            terms = {k: np.asarray(t) if type(t) is Product else t for k, t in terms.items()}
        return terms

    def _call_terms(self, inputs: tuple[np.ndarray, ...], weight: np.ndarray | None) -> State:
        if len(inputs) == 1:  # most metrics: a positional call is ~150 ns faster than *inputs
            return self._terms_function(inputs[0], sample_weight=weight)
        return self._terms_function(*inputs, sample_weight=weight)

    def _checked(self, batch: Batch) -> Batch:
        """:meth:`drop_nan` without building a new batch when nothing is dropped (propagate)."""
        if batch.nan_checked:
            return batch
        if self.nan_strategy == "propagate":
            if batch.weight is not None:
                check_sample_weight(batch.weight)
            return batch
        return self.drop_nan(batch)[0]

    def reduce_terms(self, terms: Mapping[str, Any], n: int) -> State:
        """The state of ``n`` samples' terms: each field reduced over the samples."""
        return self._reduce_terms(terms, n)

    def whole_batch(self, batch: Batch) -> bool:
        """Whether ``batch`` must be reduced whole, never in chunks (False: chunks merge).

        True for an engine whose batch state is not a reduction of per-sample terms,
        e.g. ``Precision(top_k=k)`` on a 1-d ``y_pred``, which ranks the whole batch; a
        caller that chunks large batches (a collection) hands those over whole.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> engine = im.Mean().engine
        >>> engine.whole_batch(engine.bind([1.0, 2.0]))
        False
        """
        return False

    def batch_state(self, batch: Batch) -> State:
        """One batch reduced to its state.

        Batches of up to :data:`CHUNK` samples are reduced whole, larger ones in
        chunks of that size: the partial states merge exactly (that is what the
        fields' reductions are for), and every pass over a chunk (weight check,
        products, sums) then reads memory that is already in cache.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> engine = im.Mean().engine
        >>> engine.batch_state(engine.bind([1.0, 2.0, 6.0]))
        {'total': np.float64(9.0), 'count': np.float64(3.0)}
        """
        inputs, weight, n, checked = batch
        if n <= CHUNK:  # the common case, written out: small updates pay for every call
            if not checked:
                if self._propagate:
                    if weight is not None:
                        check_sample_weight(weight)
                else:
                    inputs, weight, n, _ = self.drop_nan(batch)[0]
            if len(inputs) == 1:
                return self._reduce_terms(self._terms_function(inputs[0], sample_weight=weight), n)
            if len(inputs) == 2:
                first, second = inputs
                return self._reduce_terms(
                    self._terms_function(first, second, sample_weight=weight), n
                )
            return self._reduce_terms(self._terms_function(*inputs, sample_weight=weight), n)
        state = self.identity()
        for start in range(0, n, CHUNK):
            part = self._checked(batch.chunk(slice(start, start + CHUNK)))
            state = self.combine(state, self._reduce_terms(self._call_terms(*part[:2]), part.n))
        return state

    def update(self, state: Mapping[str, Any], batch: Batch) -> State:
        """``state`` with ``batch`` added: Keras' ``stateless_update_state``.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> engine = im.Sum().engine
        >>> engine.update({"total": 10.0}, engine.bind([1.0, 2.0]))
        {'total': np.float64(13.0)}
        """
        return self.combine(state, self.batch_state(batch))

    # -- many states at once -----------------------------------------------------------------

    def segment_states(
        self,
        terms: Mapping[str, Any],
        segment_ids: np.ndarray,
        num_segments: int,
        row_counts: np.ndarray | None = None,
    ) -> State:
        """A state per segment (batch id, stream, or a pair of them) from per-sample terms.

        ``segment_ids`` gives each sample's segment in ``[0, num_segments)``;
        ``row_counts`` (``np.bincount(segment_ids)``) saves a pass for scalar terms.
        The states of all segments merged equal the state of the whole batch.

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> engine = im.Mean().engine
        >>> terms = engine.terms(engine.bind([1.0, 2.0, 4.0]))
        >>> engine.segment_states(terms, np.array([0, 1, 0]), 2)
        {'total': array([5., 2.]), 'count': array([2., 1.])}
        """
        return reduce_segments(
            self.reductions, terms, segment_ids, num_segments, self.dtype, row_counts
        )

    def sorted_segment_states(self, terms: Mapping[str, Any], starts: np.ndarray, n: int) -> State:
        """A state per run of samples that begins at each of ``starts`` (samples sorted by segment).

        ``ufunc.reduceat`` at the starts, without a sort;
        :class:`~interactive_metrics.core.OneHot` terms are summed with one bincount.

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> engine = im.Sum().engine
        >>> terms = engine.terms(engine.bind([1.0, 2.0, 4.0]))
        >>> engine.sorted_segment_states(terms, np.array([0, 2]), 3)
        {'total': array([3., 4.])}
        """
        if n == 0:
            return self.empty_states(0)
        out: State = {}
        counts = None
        for name, reduction in self.reductions:
            term = terms[name]
            if type(term) is OneHot:  # one bincount per field, never the dense (n, ...) terms
                codes = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n)))
                out[name] = reduction.over_segments(term, codes, len(starts), self.dtype)
            elif np.ndim(term):  # per sample: an array, or weighted values kept as two factors
                term = np.asarray(term)
                out[name] = reduction.ufunc.reduceat(term, starts, axis=0)
                out[name] = out[name].astype(self.dtype, copy=False)
            else:
                if counts is None:
                    counts = np.diff(np.append(starts, n))
                value = counts * term if reduction.name == "sum" else np.full(len(starts), term)
                out[name] = np.asarray(value, dtype=self.dtype)
        return out

    def merge_segments(
        self, states: Mapping[str, np.ndarray], segment_ids: np.ndarray, num_segments: int
    ) -> State:
        """Merge a block of states by segment: ``num_segments`` states.

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> engine = im.Max().engine
        >>> engine.merge_segments({"max": np.array([1.0, 5.0, 3.0])}, np.array([0, 0, 1]), 2)
        {'max': array([5., 3.])}
        """
        return {
            name: reduction.over_segments(states[name], segment_ids, num_segments, self.dtype)
            for name, reduction in self.reductions
        }

    def scan(
        self,
        batches: Mapping[str, np.ndarray],
        start: Mapping[str, Any] | None = None,
        group_starts: np.ndarray | None = None,
    ) -> State:
        """The running states after each of ``k`` batch states (arrays of shape ``(k, ...)``).

        Summed strictly left to right from ``start`` (default: the fresh state):
        the same additions, in the same order, as merging the batches one by one,
        so a replay equals a loop of updates to the last bit. With
        ``group_starts``, rows form consecutive groups, each scanned on its own
        (``start`` is then not used: put each group's start state in its first row).

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> engine = im.Sum().engine
        >>> engine.scan({"total": np.array([1.0, 2.0, 3.0])}, start={"total": 10.0})
        {'total': array([11., 13., 16.])}
        """
        if group_starts is not None:
            return scan_segments(self.reductions, batches, group_starts)
        start = self.identity() if start is None else start
        out: State = {}
        for name, reduction in self.reductions:
            first = np.asarray(start[name], dtype=self.dtype)[None]
            out[name] = reduction.scan(np.concatenate([first, batches[name]]))[1:]
        return out

    def rolling(
        self,
        batches: Mapping[str, np.ndarray],
        window: int,
        group_starts: np.ndarray | None = None,
    ) -> State:
        """The states of the last ``window`` batches at each of ``k`` batch states.

        Row ``i`` is the merge of batches ``i - window + 1 .. i`` (fewer at the
        start, and within each group of consecutive rows when ``group_starts``
        is given): sums as differences of cumulative sums, minima and maxima over a
        sliding window. What a metric's result is over a rolling window of batches.

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> engine = im.Mean().engine
        >>> states = engine.rolling({"total": np.array([1.0, 3.0, 8.0]), "count": np.ones(3)}, 2)
        >>> engine.results(states)
        array([1. , 2. , 5.5])
        """
        if not isinstance(window, (int, np.integer)) or isinstance(window, bool) or window < 1:
            raise ValueError(f"`window` must be a whole number of batches >= 1, got {window!r}")
        k = len(next(iter(batches.values()))) if batches else 0
        window = min(int(window), max(k, 1))  # a longer window is the whole history
        starts = np.zeros(1, dtype=np.intp) if group_starts is None else np.asarray(group_starts)
        group = np.zeros(k, dtype=np.intp)
        if k:
            group[starts[1:]] = 1
            group = np.cumsum(group)
        first = np.maximum(np.arange(k) - window + 1, starts[group] if k else 0)  # window start
        out: State = {}
        for f in self.fields:
            x = np.asarray(batches[f.name], dtype=self.dtype)
            if f.reduce == "sum":
                cumulative = np.concatenate([np.zeros((1, *f.shape), self.dtype), np.cumsum(x, 0)])
                out[f.name] = cumulative[1:] - cumulative[first]
            else:
                reduce = np.minimum if f.reduce == "min" else np.maximum
                result = x.copy()
                for lag in range(1, min(window, k)):  # window - 1 elementwise passes
                    later = np.arange(lag, k)
                    inside = later - lag >= first[later]
                    result[later[inside]] = reduce(result[later[inside]], x[later[inside] - lag])
                out[f.name] = result
        return out

    # -- results -----------------------------------------------------------------------------

    def result(self, state: Mapping[str, Any]) -> Any:
        """The result of one state (Keras' ``stateless_result``)."""
        return self._compute(state)

    def results(self, states: Mapping[str, np.ndarray]) -> np.ndarray:
        """The results of a block of states (arrays with a leading axis ``k``): shape ``(k, ...)``.

        ``compute`` runs once on the whole block when it is elementwise (probed
        once), else state by state; see :class:`~interactive_metrics.core.segments.RowCompute`.

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> im.Mean().engine.results({"total": np.array([3.0, 0.0]), "count": np.array([2.0, 0.0])})
        array([1.5, 0. ])
        """
        rows = self.row_compute
        with np.errstate(divide="ignore", invalid="ignore"):
            return rows(states)

    @property
    def row_compute(self) -> RowCompute:
        """The :class:`~interactive_metrics.core.segments.RowCompute` behind :meth:`results`."""
        if self._rows is None:  # probed on first use
            fields = [(f.name, f.reduce, f.shape) for f in self.fields]
            self._rows = RowCompute(self._compute, fields, self.result_shape, self.dtype)
        return self._rows

    # -- history layout ----------------------------------------------------------------------

    def history_columns(self) -> list[tuple[str, tuple[int, ...]]]:
        """The value columns of a history, with their shapes, in order.

        ``batch_<field>``..., ``batch_result``, ``running_<field>``..., ``result``.

        Examples
        --------
        >>> import interactive_metrics as im
        >>> [name for name, _ in im.Mean().engine.history_columns()]
        ['batch_total', 'batch_count', 'batch_result', 'running_total', 'running_count', 'result']
        """
        return [
            *((f"batch_{f.name}", f.shape) for f in self.fields),
            ("batch_result", self.result_shape),
            *((f"running_{f.name}", f.shape) for f in self.fields),
            ("result", self.result_shape),
        ]

    def new_history(
        self,
        last: int | None = None,
        complete: Callable[[np.ndarray], None] | None = None,
    ) -> HistoryBuffer:
        """An empty history with this declaration's columns (batch columns null on resets)."""
        null_on_reset = [f"batch_{f.name}" for f in self.fields] + ["batch_result"]
        return HistoryBuffer(
            self.history_columns(), self.dtype, null_on_reset, last=last, complete=complete
        )

    def complete_results(self, block: np.ndarray) -> None:
        """Fill in the ``batch_result`` and ``result`` columns of history rows, in place.

        ``block`` holds rows in the layout of :meth:`history_columns` (shape
        ``(m, width)``); the results of their batch and running states are computed
        for the whole block at once (:meth:`results`). A metric's updates record
        states only and leave this to the history, which calls it when it is read.

        Examples
        --------
        >>> import numpy as np
        >>> import interactive_metrics as im
        >>> block = np.array([[3.0, 2.0, 0.0, 3.0, 2.0, 0.0], [1.0, 2.0, 0.0, 4.0, 4.0, 0.0]])
        >>> im.Mean().engine.complete_results(block)
        >>> block[:, [2, 5]]
        array([[1.5, 1.5],
               [0.5, 1. ]])
        """
        m = len(block)
        if not m:
            return
        slices = self._slices
        # array states: one compute per row, so that a row's result is bit for bit what
        # result() gives for that state (a vectorised compute over arrays may round apart)
        results = self.results if self.scalar_only else self.row_compute.one_by_one
        for prefix, target in (("batch_", "batch_result"), ("running_", "result")):
            states = {
                f.name: block[:, slices[prefix + f.name]].reshape(m, *f.shape) for f in self.fields
            }
            with np.errstate(divide="ignore", invalid="ignore"):
                block[:, slices[target]] = results(states).reshape(m, -1)

    def history_rows(
        self, batches: Mapping[str, np.ndarray], running: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        """History rows (without step and event) of ``k`` events: shape ``(k, width)``.

        ``batches`` are what each event added and ``running`` the states after it;
        both results are computed here for the whole block.
        """
        k = len(next(iter(batches.values())))
        blocks = [
            *(np.asarray(batches[name]).reshape(k, -1) for name in self.names),
            self.results(batches).reshape(k, -1),
            *(np.asarray(running[name]).reshape(k, -1) for name in self.names),
            self.results(running).reshape(k, -1),
        ]
        return np.concatenate(blocks, axis=1)
