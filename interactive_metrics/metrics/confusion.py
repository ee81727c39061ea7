"""Confusion-count metrics: thresholded counts, precision, recall, F-beta, the confusion matrix.

Every one keeps raw weighted counts (``true_positives``, ``false_positives``, ...)
as its state and computes its result from them, so merging two metrics is exact
and the history shows the counts behind every result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from interactive_metrics.core.coerce import (
    as_array,
    as_integers_or_floats,
    as_labels,
    check_choice,
    check_integer,
    check_optional_integer,
)
from interactive_metrics.core.reduce import OneHot, divide_no_nan
from interactive_metrics.engine import Batch, Engine
from interactive_metrics.metric import Metric, State, StateField
from interactive_metrics.metrics._paired import (
    binary_labels,
    class_labels,
    element_weights,
    matched,
    probabilities,
    within,
)

__all__ = [
    "ConfusionMatrix",
    "F1Score",
    "FBetaScore",
    "FalseNegatives",
    "FalsePositives",
    "Precision",
    "Recall",
    "Specificity",
    "TrueNegatives",
    "TruePositives",
]

_Condition = Callable[[np.ndarray, np.ndarray], np.ndarray]
_CONDITIONS: dict[str, _Condition] = {
    "true_positives": lambda actual, predicted: actual & predicted,
    "false_positives": lambda actual, predicted: predicted & ~actual,
    "true_negatives": lambda actual, predicted: ~(actual | predicted),
    "false_negatives": lambda actual, predicted: actual & ~predicted,
}


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _parse_thresholds(thresholds: Any) -> float | list[float] | None:
    """Validate ``thresholds`` (None, a number or a sequence of numbers in [0, 1])."""
    if thresholds is None:
        return None
    values = [thresholds] if _is_number(thresholds) else thresholds
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(
            f"`thresholds` must be a number or a list of numbers in [0, 1], got {thresholds!r}"
        )
    bad = [t for t in values if not (_is_number(t) and 0 <= t <= 1)]
    if bad or len(values) == 0:
        raise ValueError(
            f"`thresholds` must be a number or a non-empty list of numbers in [0, 1], got "
            f"{thresholds!r}; a prediction above a threshold counts as positive"
        )
    return float(thresholds) if _is_number(thresholds) else [float(t) for t in values]


ONE_PASS = 2048
"""Batches up to this many integer labels are checked and coded by ``np.ravel_multi_index``.

Its element loop beats a minimum, a maximum and a multiply-add (each with its own
set-up cost) on small batches; from a few thousand labels on, those vectorised passes
are faster (about 3x at 100,000).
"""


def _class_labels(labels: np.ndarray, num_classes: int, name: str) -> np.ndarray:
    """:func:`class_labels` without a boolean mask per check: a min, a max and (floats) one cast.

    Any bad label is reported by :func:`class_labels`, with its message (NaN and
    huge labels without the cast's RuntimeWarning).
    """
    if labels.dtype.kind in "iu" and labels.ndim == 1 and labels.shape[0] <= ONE_PASS:
        try:  # one pass: in range (or ValueError), as intp
            return np.ravel_multi_index((labels,), (num_classes,))
        except ValueError:
            pass  # reported below
    if labels.dtype.kind == "f" and within(labels, num_classes - 1):  # one pass, no NaN
        as_int = labels.astype(np.intp)
        if (as_int == labels).all():  # whole numbers
            return as_int
    if not labels.size:
        return labels.astype(np.intp)
    low, high = labels.min(), labels.max()
    if low >= 0 and high < num_classes:  # False for NaN too
        if labels.dtype.kind in "iu":
            return labels.astype(np.intp, copy=False)
        as_int = labels.astype(np.intp)
        if (as_int == labels).all():  # whole numbers
            return as_int
    with np.errstate(invalid="ignore"):
        return class_labels(labels, num_classes, name)  # raises, naming the first bad label


def _keep_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Keep the ``k`` highest scores per row (ties: lower index first); -inf elsewhere."""
    top = np.argsort(-scores, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(keep, top, True, axis=-1)
    return np.where(keep, scores, -np.inf)


_AVERAGES = (None, "micro", "macro", "weighted")
_CLASS_COUNTS = ("true_positives", "false_positives", "false_negatives")


def _check_keras_float(
    value: Any, name: str, low: float, high: float, requirement: str, remedy: str = ""
) -> float:
    """Keras' checks of ``beta`` and ``threshold``, as ``ValueError`` (ints are accepted too).

    Examples
    --------
    >>> _check_keras_float(0.0, "beta", 0.0, np.inf, "a number > 0")
    Traceback (most recent call last):
    ...
    ValueError: `beta` must be a number > 0, got 0.0
    """
    if not _is_number(value) or not low < value <= high or not np.isfinite(value):
        shown = float(value) if _is_number(value) else value
        raise ValueError(f"`{name}` must be {requirement}, got {shown!r}{remedy}")
    return float(value)


def _check_num_classes(num_classes: Any, average: Any) -> int | None:
    """``num_classes`` (integer labels, >= 2) or None; ``average`` needs it."""
    if num_classes is None:
        if average is not None:
            raise ValueError(
                f"`average` {average!r} averages over classes, so it needs `num_classes`, "
                "got num_classes=None; pass num_classes=k for integer labels in [0, k)"
            )
        return None
    return check_integer(num_classes, "num_classes", 2)


def class_labels_of(labels: np.ndarray, name: str, num_classes: int) -> np.ndarray:
    """One whole-number label in ``[0, num_classes)`` per sample, shape ``(n,)`` or ``(n, 1)``.

    Examples
    --------
    >>> class_labels_of(np.array([[2.0], [0.0]]), "y_true", 3)
    array([2, 0])
    """
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        scores = f" (or scores, shape (n, {num_classes}))" if name == "y_pred" else ""
        raise ValueError(
            f"`{name}` must hold one class label per sample, shape (n,) or (n, 1){scores}, "
            f"got shape {labels.shape}; with num_classes={num_classes}, labels are 0 .. "
            f"{num_classes - 1}"
        )
    return _class_labels(labels, num_classes, name)


def label_codes(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray | None:
    """``y_true * num_classes + y_pred`` for two 1-D integer arrays of labels in range, else None.

    One pass checks both arrays (integers; booleans count as 0 and 1) and makes the
    codes (the flat positions in a ``(num_classes, num_classes)`` confusion matrix).
    None means "not that simple case" (floats, other shapes, more than
    :data:`ONE_PASS` samples, a label out of range): the caller then takes its
    general path, which reports a bad label with its message.

    Examples
    --------
    >>> label_codes(np.array([0, 2]), np.array([1, 2]), 3)
    array([1, 8])
    >>> label_codes(np.array([0, 3]), np.array([1, 2]), 3) is None
    True
    """
    shape = y_true.shape
    if len(shape) == 1 and shape == y_pred.shape and shape[0] <= ONE_PASS:
        try:  # floats: TypeError; a label out of range: ValueError
            return np.ravel_multi_index((y_true, y_pred), (num_classes, num_classes))
        except (TypeError, ValueError):
            return None
    return None


def as_scores(
    y_true: np.ndarray, y_pred: np.ndarray, dtype: np.dtype[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Integer scores cast to ``dtype``, as scores are read; integer labels stay as they are.

    Binary labels are only compared with 1 (:func:`binary_labels`): a float copy of
    them would cost a pass and an allocation per chunk for nothing.

    Examples
    --------
    >>> as_scores(np.array([1, 0]), np.array([1, 0]), np.dtype("float64"))
    (array([1, 0]), array([1., 0.]))
    """
    if y_pred.dtype.kind in "iu":
        y_pred = as_array(y_pred, "y_pred", dtype)
    return y_true, y_pred


def is_label_batch(y_true: np.ndarray, num_classes: int) -> bool:
    """Whether ``y_true`` holds one class label per sample (not one column per class).

    Examples
    --------
    >>> is_label_batch(np.array([0, 2, 1]), 3), is_label_batch(np.eye(3), 3)
    (True, False)
    """
    return num_classes > 1 and (y_true.ndim == 1 or (y_true.ndim == 2 and y_true.shape[1] == 1))


def class_count_terms(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    num_classes: int,
    sample_weight: np.ndarray | None,
    dtype: np.dtype[Any],
) -> State:
    """Per-class ``true_positives``, ``false_positives``, ``false_negatives`` of integer labels.

    ``y_true`` holds one label per sample; ``y_pred`` labels, or one score per class
    (the highest is the prediction). A right prediction is a true positive of its
    class; a wrong one a false positive of the predicted class and a false negative
    of the true class. Each is a sparse :class:`~interactive_metrics.core.OneHot`.

    Examples
    --------
    >>> labels, predicted = np.array([0, 1, 1]), np.array([0, 0, 1])
    >>> terms = class_count_terms(labels, predicted, 2, None, np.dtype("f8"))
    >>> terms["true_positives"].sum(), terms["false_positives"].sum()
    (array([1., 1.]), array([1., 0.]))
    """
    if label_codes(y_true, y_pred, num_classes) is not None:  # both checked in one pass
        actual = y_true.astype(np.intp, copy=False)
        predicted = y_pred.astype(np.intp, copy=False)
        return _class_count_onehots(actual, predicted, num_classes, sample_weight, dtype)
    actual = class_labels_of(y_true, "y_true", num_classes)
    if y_pred.ndim == 2 and y_pred.shape[1] == num_classes:
        predicted = np.argmax(y_pred, axis=1)
    else:
        predicted = class_labels_of(y_pred, "y_pred", num_classes)
    if predicted.shape != actual.shape:
        raise ValueError(
            f"`y_true` of shape {y_true.shape} and `y_pred` of shape {y_pred.shape} must hold "
            "one label (or one row of scores) per sample each; pass as many of each"
        )
    return _class_count_onehots(actual, predicted, num_classes, sample_weight, dtype)


def _class_count_onehots(
    actual: np.ndarray,
    predicted: np.ndarray,
    num_classes: int,
    sample_weight: np.ndarray | None,
    dtype: np.dtype[Any],
) -> State:
    weight = element_weights(sample_weight, actual.shape)
    right = actual == predicted
    hit = right.astype(np.float64) if weight is None else right * weight
    miss = (~right).astype(np.float64) if weight is None else ~right * weight
    shape = (num_classes,)
    return {
        "true_positives": OneHot.from_checked(actual, shape, hit, dtype),
        "false_positives": OneHot.from_checked(predicted, shape, miss, dtype),
        "false_negatives": OneHot.from_checked(actual, shape, miss, dtype),
    }


def averaged(numerator: Any, denominator: Any, support: Any, average: str | None) -> Any:
    """Per-class ``numerator / denominator`` (0 for 0/0), averaged as scikit-learn does.

    ``"micro"`` divides the sums over classes, ``"macro"`` takes the plain mean of
    the class scores (classes never seen count 0), ``"weighted"`` their mean weighted
    by ``support`` (each class's weighted number of true labels).

    Examples
    --------
    >>> tp, fp = np.array([1.0, 0.0, 2.0]), np.array([1.0, 0.0, 0.0])
    >>> averaged(tp, tp + fp, np.array([2.0, 1.0, 2.0]), "macro")
    np.float64(0.5)
    >>> averaged(tp, tp + fp, None, "micro")
    np.float64(0.75)
    """
    if average == "micro":
        return divide_no_nan(np.sum(numerator), np.sum(denominator))
    score = divide_no_nan(numerator, denominator)
    if average is None:
        return score
    if average == "macro":
        return np.mean(score)
    return divide_no_nan(np.sum(score * support), np.sum(support))


class _ThresholdedCounts(Metric):
    """Weighted confusion counts of ``y_pred > threshold`` against binary ``y_true``.

    A subclass lists the ``counts`` it keeps and computes its result from them.
    One threshold gives number-valued fields; a list gives one count per threshold.
    """

    counts: ClassVar[tuple[str, ...]] = ()
    as_input = staticmethod(as_integers_or_floats)  # labels stay integers: checked, not cast

    def __init__(
        self,
        thresholds: float | Sequence[float] | None = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
        num_classes: int | None = None,
        average: Literal["micro", "macro", "weighted"] | None = None,
        **options: Any,
    ) -> None:
        self.thresholds = _parse_thresholds(thresholds)
        self.top_k = check_optional_integer(top_k, "top_k", 1)
        self.class_id = check_optional_integer(class_id, "class_id", 0)
        self.average = check_choice(average, "average", _AVERAGES)
        self.num_classes = _check_num_classes(num_classes, self.average)
        if self.num_classes is not None:
            given = [
                (option, value)
                for option, value in (
                    ("thresholds", thresholds),
                    ("top_k", top_k),
                    ("class_id", class_id),
                )
                if value is not None
            ]
            if given:
                option, value = given[0]
                raise ValueError(
                    f"`num_classes` counts integer labels, so `{option}` does not apply, got "
                    f"{option}={value!r}; pass either num_classes (and average) "
                    "for class labels, or thresholds/top_k/class_id for binary or multi-label "
                    "scores"
                )
        if self.thresholds is None:
            # With top_k, every kept score counts (Keras' default threshold of -inf).
            self._thresholds = np.array([0.5 if self.top_k is None else -np.inf])
        else:
            self._thresholds = np.atleast_1d(np.asarray(self.thresholds, dtype=np.float64))
        self._scalar = self.thresholds is None or _is_number(self.thresholds)
        self._conditions = [(c, _CONDITIONS[c]) for c in self.counts]
        super().__init__(name=name, dtype=dtype, **options)

    @property
    def fields(self) -> tuple[StateField, ...]:  # type: ignore[override]
        """One count per threshold (a number for a single threshold), or per class of labels."""
        if self.num_classes is not None:
            return tuple(StateField(name, shape=(self.num_classes,)) for name in _CLASS_COUNTS)
        shape = () if self._scalar else self._thresholds.shape
        return tuple(StateField(name, shape=shape) for name in self.counts)

    def _select(
        self, y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Apply ``top_k`` and ``class_id`` (in Keras' order) to labels, scores and weights."""
        if y_pred.ndim < 2:
            if self.top_k is not None and self.class_id is None:
                # Keras 3 ranks along the last axis, here the samples: the k highest
                # predictions of the batch (ties: the earlier sample) can be positive
                return y_true, _keep_top_k(y_pred[None], self.top_k)[0], weight
            raise ValueError(
                f"`class_id` picks a class along the last axis, so `y_pred` must have shape "
                f"(n, classes), got shape {y_pred.shape}; pass a 2-d array"
            )
        if self.top_k is not None:
            y_pred = _keep_top_k(y_pred, self.top_k)
        if self.class_id is not None:
            classes = y_pred.shape[-1]
            if self.class_id >= classes:
                raise ValueError(
                    f"`class_id` {self.class_id} is out of range for `y_pred` of shape "
                    f"{y_pred.shape} ({classes} classes); pick a class in [0, {classes})"
                )
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
            weight = None if weight is None else weight[..., self.class_id]
        return y_true, y_pred, weight

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Each sample's weighted count of each confusion condition, per threshold.

        With ``num_classes``: per class, from integer labels (see :func:`class_count_terms`).
        """
        if self.num_classes is not None:
            return class_count_terms(
                y_true, y_pred, self.num_classes, sample_weight, self.engine.dtype
            )
        y_true, y_pred = as_scores(y_true, y_pred, self.engine.dtype)
        y_true, y_pred = matched(y_true, y_pred)
        actual = binary_labels(y_true)
        probabilities(y_pred)
        weight = element_weights(sample_weight, y_pred.shape)
        if self.top_k is not None or self.class_id is not None:
            actual, y_pred, weight = self._select(actual, y_pred, weight)
        dtype = self.engine.dtype
        if y_pred.ndim == 1 and self._scalar:  # the common case: one value per sample
            predicted = y_pred > self._thresholds[0]
            hits = {name: condition(actual, predicted) for name, condition in self._conditions}
            if weight is None:  # booleans: summed exactly, with no float copy per chunk
                return hits
            return {name: h * weight for name, h in hits.items()}
        per_sample_shape = (y_pred.shape[0], int(np.prod(y_pred.shape[1:])), 1)
        predicted = y_pred.reshape(per_sample_shape) > self._thresholds  # (n, values, thresholds)
        actual = actual.reshape(per_sample_shape)
        weight = None if weight is None else weight.reshape(per_sample_shape)
        counts = {}
        for name, condition in self._conditions:
            hit = condition(actual, predicted)
            per_sample = (
                hit.sum(axis=1, dtype=dtype) if weight is None else (hit * weight).sum(axis=1)
            )
            counts[name] = per_sample[:, 0] if self._scalar else per_sample
        return counts

    def make_engine(self) -> Engine:
        """With ``top_k``, a :class:`BatchRankedEngine`: a 1-d ``y_pred`` ranks its whole batch."""
        if self.top_k is None:
            return super().make_engine()
        return BatchRankedEngine(
            self.fields,
            self.terms,
            self.compute,
            dtype=np.dtype(self.dtype),
            input_names=self.input_names,
            as_input=self.as_input,
            nan_strategy=self.nan_strategy,
            owner=type(self).__name__,
        )


def ranks_batch(batch: Batch) -> bool:
    """Whether ``top_k`` ranks the samples of this batch: 1-d ``y_true`` and ``y_pred``.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> engine = im.Precision(top_k=2).engine
    >>> ranks_batch(engine.bind([0, 1, 1], [0.2, 0.9, 0.4]))
    True
    >>> ranks_batch(engine.bind([[0, 1, 1]], [[0.2, 0.9, 0.4]]))
    False
    """
    y_true, y_pred = batch.inputs
    return y_true.ndim == 1 and y_pred.ndim == 1


class BatchRankedEngine(Engine):
    """The engine of ``Precision``, ``Recall`` and ``Specificity`` with ``top_k``.

    Keras 3 keeps the ``top_k`` highest scores along the last axis of ``y_pred``.
    For scores of shape ``(n, classes)`` that is each sample's classes, and the
    terms are per sample as for every metric. For a 1-d ``y_pred`` it is the
    samples themselves: the ``top_k`` highest predictions of the batch can be
    positive, so a sample's count depends on the rest of its batch. Such a batch
    is reduced whole (never in chunks), and its per-sample :meth:`terms` are
    refused: streams, replay and Dask split or join batches, and would rank other
    groups of samples than the batches given to ``update_state``.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Precision(top_k=3)
    >>> m.update_state([0, 1, 1, 0, 0], [0.2, 0.1, 0.5, 0.0, 0.2])  # Keras' test batch
    >>> round(m.result(), 4)
    0.3333
    """

    def whole_batch(self, batch: Batch) -> bool:
        """True for a 1-d ``y_pred``: ``top_k`` ranks the whole batch."""
        return ranks_batch(batch)

    def batch_state(self, batch: Batch) -> State:
        """One batch reduced to its state; a batch ranked by ``top_k`` is reduced whole."""
        if not ranks_batch(batch):
            return super().batch_state(batch)
        kept, _ = self.drop_nan(batch)
        return self.reduce_terms(Engine.terms(self, kept, factored=True), kept.n)

    def terms(self, batch: Batch, factored: bool = False) -> State:
        """Per-sample terms; refused for a 1-d ``y_pred``, whose ranking spans the batch."""
        if ranks_batch(batch):
            raise ValueError(
                f"`y_pred` of shape {batch.inputs[1].shape} with `top_k` ranks the samples "
                "of its batch against each other (as Keras 3 does), so it has no per-sample "
                "terms for streams, replay or Dask, which split or join batches; update "
                "batch by batch with update_state, or pass scores of shape (n, classes) to "
                "rank each sample's classes"
            )
        return super().terms(batch, factored)


class TruePositives(_ThresholdedCounts):
    """The weighted number of true positives: ``y_true == 1`` and ``y_pred > threshold``.

    Parameters
    ----------
    thresholds : float or list of float, optional
        In ``[0, 1]``; default 0.5. A list gives one count per threshold.
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.TruePositives()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> m.result()
    2.0
    >>> m = im.TruePositives(thresholds=[0.3, 0.6])
    >>> m.update_state([1, 1, 0], [0.5, 0.9, 0.7])
    >>> m.result()
    array([2., 1.])
    """

    counts = ("true_positives",)

    def __init__(
        self,
        thresholds: float | Sequence[float] | None = None,
        name: str | None = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(thresholds, name=name, dtype=dtype, **options)

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The count (per threshold when ``thresholds`` is a list)."""
        return state[self.counts[0]]


class FalsePositives(TruePositives):
    """The weighted number of false positives: ``y_true == 0`` and ``y_pred > threshold``.

    Parameters
    ----------
    thresholds : float or list of float, optional
        In ``[0, 1]``; default 0.5. A list gives one count per threshold.
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.FalsePositives()
    >>> m.update_state([0, 1, 0, 0], [0, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    >>> m.result()
    1.0
    """

    counts = ("false_positives",)


class TrueNegatives(TruePositives):
    """The weighted number of true negatives: ``y_true == 0`` and ``y_pred <= threshold``.

    Parameters
    ----------
    thresholds : float or list of float, optional
        In ``[0, 1]``; default 0.5. A list gives one count per threshold.
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.TrueNegatives()
    >>> m.update_state([0, 1, 0, 0], [1, 1, 0, 0])
    >>> m.result()
    2.0
    """

    counts = ("true_negatives",)


class FalseNegatives(TruePositives):
    """The weighted number of false negatives: ``y_true == 1`` and ``y_pred <= threshold``.

    Parameters
    ----------
    thresholds : float or list of float, optional
        In ``[0, 1]``; default 0.5. A list gives one count per threshold.
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.FalseNegatives()
    >>> m.update_state([0, 1, 1, 1], [0, 1, 0, 0])
    >>> m.result()
    2.0
    """

    counts = ("false_negatives",)


class Precision(_ThresholdedCounts):
    """``true_positives / (true_positives + false_positives)``, 0 before any positive prediction.

    Parameters
    ----------
    thresholds : float or list of float, optional
        In ``[0, 1]``; default 0.5 (with ``top_k``: every kept score counts).
        A list gives one precision per threshold.
    top_k : int, optional
        Only the ``k`` highest scores of each sample (along the last axis of a
        ``(n, classes)`` ``y_pred``) can be positive; ties go to the lower index.
    class_id : int, optional
        Only this class (column) of ``(n, classes)`` inputs is counted.
    name, dtype
        As for :class:`~interactive_metrics.Metric`.
    num_classes : int, optional
        Count integer class labels in ``[0, num_classes)`` instead: ``y_true`` holds
        one label per sample, ``y_pred`` labels or one score per class (the highest
        is the prediction). The state is then per class ``true_positives``,
        ``false_positives`` and ``false_negatives``.
    average : {None, "micro", "macro", "weighted"}
        With ``num_classes``: one precision per class (``None``), or scikit-learn's
        ``precision_score(..., labels=range(num_classes), zero_division=0)`` averages.
    **options
        As for :class:`~interactive_metrics.Metric`.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Precision()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(m.result(), 4), m.state
    (0.6667, {'true_positives': 2.0, 'false_positives': 1.0})
    >>> m = im.Precision(top_k=2)
    >>> m.update_state([[0, 0, 1, 1]], [[1, 1, 1, 1]])
    >>> m.result()
    0.0

    Integer labels of three classes, averaged as scikit-learn does:

    >>> m = im.Precision(num_classes=3, average="macro")
    >>> m.update_state([0, 1, 2, 2], [0, 2, 2, 1])
    >>> round(m.result(), 4), m.state["false_positives"]
    (0.5, array([0., 1., 1.]))
    """

    counts = ("true_positives", "false_positives")
    ratio_of_counts = ("true_positives", ("true_positives", "false_positives"))

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The share of positive predictions that were right (per class, or averaged)."""
        positives = state["true_positives"]
        if self.num_classes is not None:
            support = positives + state["false_negatives"]
            return averaged(positives, positives + state["false_positives"], support, self.average)
        return divide_no_nan(positives, positives + state["false_positives"])


class Recall(_ThresholdedCounts):
    """``true_positives / (true_positives + false_negatives)``, 0 before any positive label.

    Parameters
    ----------
    thresholds : float or list of float, optional
        In ``[0, 1]``; default 0.5 (with ``top_k``: every kept score counts).
        A list gives one recall per threshold.
    top_k : int, optional
        Only the ``k`` highest scores of each sample (along the last axis of a
        ``(n, classes)`` ``y_pred``) can be positive; ties go to the lower index.
    class_id : int, optional
        Only this class (column) of ``(n, classes)`` inputs is counted.
    name, dtype
        As for :class:`~interactive_metrics.Metric`.
    num_classes : int, optional
        Count integer class labels in ``[0, num_classes)`` instead, as for
        :class:`Precision`.
    average : {None, "micro", "macro", "weighted"}
        With ``num_classes``: one recall per class (``None``), or scikit-learn's
        ``recall_score(..., labels=range(num_classes), zero_division=0)`` averages
        (``"micro"`` recall of single-label classes is the accuracy).
    **options
        As for :class:`~interactive_metrics.Metric`.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Recall()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    >>> m.result()
    1.0
    >>> m = im.Recall(top_k=4)
    >>> m.update_state([[0, 0, 1, 1]], [[1, 1, 1, 1]])
    >>> m.result()
    1.0
    >>> im.Recall(num_classes=3)([0, 1, 2, 2], [0, 2, 2, 1])
    array([1. , 0. , 0.5])
    """

    counts = ("true_positives", "false_negatives")
    ratio_of_counts = ("true_positives", ("true_positives", "false_negatives"))

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The share of positive labels that were found (per class, or averaged)."""
        positives = state["true_positives"]
        support = positives + state["false_negatives"]
        if self.num_classes is not None:
            return averaged(positives, support, support, self.average)
        return divide_no_nan(positives, support)


class Specificity(_ThresholdedCounts):
    """``true_negatives / (true_negatives + false_positives)``: the recall of the negatives.

    Parameters
    ----------
    thresholds : float or list of float, optional
        In ``[0, 1]``; default 0.5 (with ``top_k``: every kept score counts).
        A list gives one specificity per threshold.
    top_k, class_id
        As for :class:`Precision`.
    name, dtype
        As for :class:`~interactive_metrics.Metric`.
    num_classes : int, optional
        Count integer class labels in ``[0, num_classes)`` instead, as for
        :class:`Precision`: class ``c``'s specificity is the share of samples of
        other classes that were not predicted ``c``.
    average : {None, "micro", "macro", "weighted"}
        With ``num_classes``: one specificity per class (``None``); ``"micro"``
        divides the true negatives summed over classes by the sum of their
        denominators; ``"macro"`` the mean over classes; ``"weighted"`` the mean
        weighted by each class's support (true positives + false negatives), as
        torchmetrics does.
    **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    This is scikit-learn's ``recall_score`` with the labels swapped
    (``pos_label=0`` for binary labels). With ``num_classes`` the state is per class
    ``true_positives``, ``false_positives`` and ``false_negatives``; the true
    negatives of a class are the total weight minus those three.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Specificity()
    >>> m.update_state([0, 0, 0, 1], [0.2, 0.7, 0.4, 0.9])
    >>> round(m.result(), 4), m.state
    (0.6667, {'true_negatives': 2.0, 'false_positives': 1.0})
    >>> im.Specificity(num_classes=3)([0, 1, 2, 2], [0, 2, 2, 1])
    array([1.        , 0.66666667, 0.5       ])
    """

    counts = ("true_negatives", "false_positives")
    ratio_of_counts = ("true_negatives", ("true_negatives", "false_positives"))

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The share of negative labels predicted negative (per class, or averaged)."""
        false_positives = state["false_positives"]
        if self.num_classes is None:
            negatives = state["true_negatives"]
            return divide_no_nan(negatives, negatives + false_positives)
        positives = state["true_positives"]
        support = positives + state["false_negatives"]
        others = np.sum(support) - support  # the weight of samples of the other classes
        true_negatives = others - false_positives
        return averaged(true_negatives, others, support, self.average)


class FBetaScore(Metric):
    """The F-beta score per class of integer labels or multi-label (one-hot) targets, or averaged.

    ``F = (1 + β²)·TP / ((1 + β²)·TP + β²·FN + FP)`` per class, 0 where that is 0/0.

    Parameters
    ----------
    num_classes : int, optional
        The number of classes: the columns of a one-hot or multi-label ``y_true``
        and of ``y_pred``, or the range ``[0, num_classes)`` of integer labels.
        Left out, it is read from the first batch (the last axis of ``y_pred``),
        as Keras does: the state's shape is fixed from then on.
    average : {None, "micro", "macro", "weighted"}
        ``None``: one score per class; ``"micro"``: one score from the counts summed
        over classes; ``"macro"``: the mean of the class scores; ``"weighted"``:
        their mean weighted by each class's (weighted) number of true labels.
    beta : float
        How many times more recall counts than precision: a finite number > 0
        (Keras requires a Python float; an int is accepted here).
    threshold : float, optional
        A score above it is a positive prediction, in ``(0, 1]`` as in Keras.
        ``None`` (default): each sample's highest score (ties: all of them; an
        all-zero row: none), as Keras. Integer labels take ``None`` only.
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    Keras adds ``1e-7`` to each denominator; this class divides exactly (0 for
    0/0), so it matches scikit-learn's ``fbeta_score(..., zero_division=0)``.
    The state is the per-class ``true_positives``, ``false_positives`` and
    ``false_negatives``; every average is computed from them, so merging is exact.

    ``y_true`` of shape ``(n,)`` or ``(n, 1)`` (with ``num_classes >= 2``) holds one
    integer label per sample (no one-hot needed); ``y_pred`` then holds labels or
    one score per class, whose highest is the prediction. This is scikit-learn's
    ``fbeta_score(y_true, y_pred, beta=beta, labels=range(num_classes),
    average=average, zero_division=0)``; ``"macro"`` counts a class never seen as 0
    (torchmetrics leaves it out: see ``docs/metrics.md``).

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> y_true = [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
    >>> y_pred = [[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]
    >>> m = im.FBetaScore(3, beta=2.0, threshold=0.5)
    >>> m.update_state(y_true, y_pred)
    >>> m.result().round(4)
    array([0.3846, 0.9091, 0.8333])
    >>> m.state["false_negatives"]
    array([2., 0., 0.])

    Integer labels:

    >>> m = im.FBetaScore(3, average="macro", beta=0.5)
    >>> m.update_state([0, 1, 2, 2], [[0.9, 0.1, 0.0], [0.2, 0.3, 0.5], [0, 0, 1], [0, 1, 0]])
    >>> round(m.result(), 4)
    0.5
    """

    as_input = staticmethod(as_integers_or_floats)  # labels stay integers: checked, not cast

    def __init__(
        self,
        num_classes: int | None = None,
        average: Literal["micro", "macro", "weighted"] | None = None,
        beta: float = 1.0,
        threshold: float | None = None,
        name: str | None = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        self.num_classes: int | None = check_optional_integer(num_classes, "num_classes", 1)
        self.average = check_choice(average, "average", _AVERAGES)
        self.beta = _check_keras_float(
            beta, "beta", 0.0, np.inf, "a number > 0", "; recall counts beta times as much"
        )
        self.threshold = (
            None
            if threshold is None
            else _check_keras_float(
                threshold,
                "threshold",
                0.0,
                1.0,
                "a number in (0, 1]",
                "; or None to predict each sample's top score",
            )
        )
        default = "fbeta_score" if type(self) is FBetaScore else None
        super().__init__(name=name if name is not None else default, dtype=dtype, **options)

    @property
    def fields(self) -> tuple[StateField, ...]:  # type: ignore[override]
        """Per-class ``true_positives``, ``false_positives`` and ``false_negatives``.

        Empty (shape ``(0,)``) until the first batch tells the number of classes,
        when ``num_classes`` was not given (as in Keras).
        """
        shape = (self.num_classes or 0,)
        return tuple(
            StateField(c, shape=shape)
            for c in ("true_positives", "false_positives", "false_negatives")
        )

    @property
    def shape_known(self) -> bool:
        """False until the number of classes is known (given, or read from the first batch)."""
        return self.num_classes is not None

    def config_from_batch(self, batch: Batch) -> dict[str, Any]:
        """The number of classes of a first batch: the last axis of ``y_pred`` (as Keras)."""
        y_pred = batch.inputs[1]
        return {"num_classes": int(y_pred.shape[-1]) if y_pred.ndim > 1 else 1}

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Each sample's weighted true positives, false positives and false negatives per class.

        ``y_true`` of shape ``(n,)`` (or ``(n, 1)``, with ``num_classes`` >= 2) holds
        integer labels: see :func:`class_count_terms`.
        """
        if self.num_classes is None:
            raise ValueError(
                f"{type(self).__name__}() without `num_classes` reads it from its first "
                "batch, which only its own update_state, Streams or replay can give it; pass "
                "num_classes=k to use it in a collection"
            )
        if is_label_batch(y_true, self.num_classes):
            if self.threshold is not None:
                raise ValueError(
                    f"`threshold` applies to one-hot or multi-label `y_true` of shape (n, "
                    f"{self.num_classes}), got integer labels of shape {y_true.shape} with "
                    f"threshold={self.threshold!r}; integer labels are predicted by the "
                    "highest score, so leave threshold=None"
                )
            return class_count_terms(
                y_true, y_pred, self.num_classes, sample_weight, self.engine.dtype
            )
        y_true, y_pred = as_scores(y_true, y_pred, self.engine.dtype)
        y_true, y_pred = matched(y_true, y_pred)
        if y_pred.ndim != 2 or y_pred.shape[1] != self.num_classes:
            raise ValueError(
                f"`y_pred` must have shape (n, {self.num_classes}) (num_classes="
                f"{self.num_classes}), got shape {y_pred.shape}; pass one score per class"
            )
        actual = binary_labels(y_true)
        if self.threshold is None:
            predicted = (y_pred >= y_pred.max(axis=1, initial=-np.inf, keepdims=True)) & (
                np.abs(y_pred) > 1e-9
            )
        else:
            predicted = y_pred > self.threshold
        weight = element_weights(sample_weight, y_pred.shape)
        dtype = self.engine.dtype
        out = {
            "true_positives": actual & predicted,
            "false_positives": predicted & ~actual,
            "false_negatives": actual & ~predicted,
        }
        if weight is None:
            return {name: hits.astype(dtype) for name, hits in out.items()}
        return {name: hits * weight for name, hits in out.items()}

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The F-beta score(s) from the counts, averaged as configured."""
        tp, fp, fn = state["true_positives"], state["false_positives"], state["false_negatives"]
        if np.shape(tp)[-1:] == (0,):  # no class known yet (the first batch tells): nothing
            return np.zeros(np.shape(tp)[:-1] + (0,)) if self.average is None else tp.sum(-1)
        scale = 1.0 + self.beta**2
        return averaged(scale * tp, scale * tp + (scale - 1.0) * fn + fp, tp + fn, self.average)


class F1Score(FBetaScore):
    """The F1 score (F-beta with ``beta=1``): the harmonic mean of precision and recall.

    Parameters
    ----------
    num_classes : int
        The number of columns of ``y_true`` and ``y_pred``.
    average : {None, "micro", "macro", "weighted"}
        As for :class:`FBetaScore`.
    threshold : float, optional
        As for :class:`FBetaScore`.
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> y_true = [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
    >>> y_pred = [[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]
    >>> m = im.F1Score(threshold=0.5)  # the number of classes comes from the first batch
    >>> m.update_state(y_true, y_pred)
    >>> m.result().round(4)
    array([0.5   , 0.8   , 0.6667])
    >>> round(im.F1Score(3, average="micro", threshold=0.5)(y_true, y_pred), 4)
    0.6667
    """

    def __init__(
        self,
        num_classes: int | None = None,
        average: Literal["micro", "macro", "weighted"] | None = None,
        threshold: float | None = None,
        name: str | None = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(num_classes, average, 1.0, threshold, name=name, dtype=dtype, **options)


class ConfusionMatrix(Metric):
    """The weighted confusion matrix: row = true class, column = predicted class.

    Parameters
    ----------
    num_classes : int
        Labels are whole numbers in ``[0, num_classes)``.
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    ``y_true`` holds labels, shape ``(n,)`` or ``(n, 1)``. ``y_pred`` holds labels
    of the same shape, or one score per class, shape ``(n, num_classes)``, whose
    highest score is the predicted class. The orientation is scikit-learn's and
    ``tf.math.confusion_matrix``'s.

    Each sample contributes a ``(num_classes, num_classes)`` one-hot matrix, kept
    sparse (:class:`~interactive_metrics.core.OneHot`: one position and one weight
    per sample), so an update, a per-stream breakdown and a replay each count with
    one ``np.bincount`` and need memory for ``n`` positions, not ``n · num_classes²``
    numbers. Counts are summed in float64 and rounded once to ``dtype``.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.ConfusionMatrix(3)
    >>> m.update_state([0, 1, 2, 2], [0, 2, 2, 1])
    >>> m.update_state([1], [[0.1, 0.7, 0.2]], sample_weight=[0.5])
    >>> m.result()
    array([[1. , 0. , 0. ],
           [0. , 0.5, 1. ],
           [0. , 1. , 1. ]])
    """

    as_input = staticmethod(as_labels)  # labels and scores, never rounded to dtype

    def __init__(
        self, num_classes: int, name: str | None = None, dtype: Any = None, **options: Any
    ) -> None:
        self.num_classes: int = check_integer(num_classes, "num_classes", 2)
        super().__init__(name=name, dtype=dtype, **options)

    @property
    def fields(self) -> tuple[StateField, ...]:  # type: ignore[override]
        """One ``confusion_matrix`` field of shape ``(num_classes, num_classes)``."""
        return (StateField("confusion_matrix", shape=(self.num_classes, self.num_classes)),)

    def _labels(self, labels: np.ndarray, name: str) -> np.ndarray:
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1:
            raise ValueError(
                f"`{name}` must hold one label per sample, shape (n,) or (n, 1)"
                + (f" (or scores, shape (n, {self.num_classes}))" if name == "y_pred" else "")
                + f", got shape {labels.shape}"
            )
        return _class_labels(labels, self.num_classes, name)

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Each sample's weighted one-hot ``(true, predicted)`` matrix, kept sparse.

        The terms are a :class:`~interactive_metrics.core.OneHot`: each sample's
        flat position ``true · k + predicted`` and its weight, summed with one
        bincount; the dense ``(n, k, k)`` array is never built.
        """
        k = self.num_classes
        position = label_codes(y_true, y_pred, k)  # labels in range: checked in the same pass
        if position is not None:
            weight = element_weights(sample_weight, position.shape)
            return {"confusion_matrix": OneHot(position, (k, k), weight, self.engine.dtype)}
        actual = self._labels(y_true, "y_true")
        # the flat position true · k + predicted, in place where the labels are our own copy:
        # fewer arrays of n alive at once, so large batches reuse memory instead of new pages
        if np.may_share_memory(actual, y_true):
            position = actual * k
        else:
            position = np.multiply(actual, k, out=actual)
        if y_pred.ndim == 2 and y_pred.shape[1] == k:
            predicted = np.argmax(y_pred, axis=1)
        else:
            predicted = self._labels(y_pred, "y_pred")
        position += predicted
        del predicted
        weight = element_weights(sample_weight, (position.shape[0],))
        return {"confusion_matrix": OneHot(position, (k, k), weight, self.engine.dtype)}

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The matrix."""
        return state["confusion_matrix"]
