"""Metrics of confusion counts at many thresholds: ``AUC`` and the ``...At...`` family (Keras 3).

The state is, per threshold bucket, the weighted number of positive and negative
labels whose score falls in it (``positives_by_bucket``, ``negatives_by_bucket``,
shape ``(num_thresholds + 1,)``). Bucket ``k`` holds the scores above exactly
``k`` thresholds, so one ``searchsorted`` and one ``bincount`` per field count a
batch (terms are a sparse :class:`~interactive_metrics.core.OneHot`: no
``(n, num_thresholds)`` array is built), and cumulative sums give the counts
per threshold in ``compute``::

    true_positives[i]  = Σ_{k > i} positives_by_bucket[k]   (score > threshold i)
    false_negatives[i] = Σ_{k <= i} positives_by_bucket[k]

and likewise for false positives and true negatives. Every field is a sum, so
merging, streams and replay are exact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from interactive_metrics.core.reduce import OneHot, divide_no_nan
from interactive_metrics.metric import Metric, State, StateField
from interactive_metrics.metrics._checks import (
    check_flag,
    check_fraction,
    check_integer,
    is_number,
)
from interactive_metrics.metrics._paired import (
    both_within,
    element_weights,
    in_unit_interval,
    matched,
    probabilities,
    within,
)
from interactive_metrics.metrics.probabilistic import EPSILON

__all__ = [
    "AUC",
    "AveragePrecision",
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
]


def soft_labels(y_true: np.ndarray) -> np.ndarray:
    """Check that labels are in ``[0, 1]``: a label ``y`` counts ``y`` positive, ``1 - y`` negative.

    Examples
    --------
    >>> soft_labels(np.array([0.0, 2.0]))
    Traceback (most recent call last):
    ...
    ValueError: `y_true` must hold labels in [0, 1], got values from 0.0 to 2.0; ...
    """
    return in_unit_interval(y_true, "y_true", "labels", "encode positives as 1 and negatives as 0")


def counts_from_buckets(positives: np.ndarray, negatives: np.ndarray) -> dict[str, np.ndarray]:
    """True/false positives/negatives per threshold from the per-bucket label weights.

    Examples
    --------
    Two positives above both thresholds, one negative between them:

    >>> counts = counts_from_buckets(np.array([0.0, 0.0, 2.0]), np.array([0.0, 1.0, 0.0]))
    >>> counts["true_positives"], counts["false_positives"], counts["true_negatives"]
    (array([2., 2.]), array([1., 0.]), array([0., 1.]))
    """
    above_positive = np.cumsum(positives[::-1], axis=0)[::-1]
    above_negative = np.cumsum(negatives[::-1], axis=0)[::-1]
    return {
        "true_positives": above_positive[1:],
        "false_positives": above_negative[1:],
        "true_negatives": np.cumsum(negatives, axis=0)[:-1],
        "false_negatives": np.cumsum(positives, axis=0)[:-1],
    }


class _Bucketed(Metric):
    """Weighted positive and negative labels per bucket of ``len(self._thresholds)`` thresholds."""

    _thresholds: np.ndarray  # sorted, set by each subclass before the base __init__
    _num_labels: int | None = None  # multi-label: one curve per column
    _column: int | None = None  # class_id
    _from_logits = False
    _label_weights: np.ndarray | None = None
    bucket_fields: ClassVar[tuple[str, str]] = ("positives_by_bucket", "negatives_by_bucket")

    @property
    def fields(self) -> tuple[StateField, ...]:  # type: ignore[override]
        """Positive and negative label weight per threshold bucket (per label if multi-label)."""
        shape: tuple[int, ...] = (len(self._thresholds) + 1,)
        if self._num_labels is not None:
            shape = (*shape, self._num_labels)
        return tuple(StateField(name, shape=shape) for name in self.bucket_fields)

    def _set_thresholds(self, thresholds: Sequence[float] | None, num_thresholds: Any) -> None:
        """Set Keras' thresholds: the given ones, or ``num_thresholds`` evenly spaced.

        Both are framed by ``-EPSILON`` and ``1 + EPSILON``; the ``thresholds`` and
        ``num_thresholds`` attributes (the configuration) are set too.
        """
        if thresholds is not None:
            inner = _inner_thresholds(thresholds)
            self.thresholds: list[float] | None = inner
            self.num_thresholds = len(inner) + 2
        else:
            self.thresholds = None
            self.num_thresholds = check_integer(
                num_thresholds, "num_thresholds", 2, "; e.g. the default 200"
            )
            inner = [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
        self._thresholds = np.array([0.0 - EPSILON, *inner, 1.0 + EPSILON])

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Each sample's label weight in the bucket of its score (sparse when one score each)."""
        y_true, y_pred = matched(y_true, y_pred)
        if self._from_logits:
            with np.errstate(over="ignore"):
                y_pred = 1.0 / (1.0 + np.exp(-y_pred))
        if not both_within(y_pred, y_true, 1.0):  # one pass over both; then which one
            if not within(y_pred, 1.0):
                probabilities(y_pred)  # raises, with the range it got
            soft_labels(y_true)
        n = y_pred.shape[0]
        weight = element_weights(sample_weight, y_pred.shape)
        if self._column is not None:
            if y_pred.ndim < 2 or self._column >= y_pred.shape[-1]:
                raise ValueError(
                    f"`class_id` {self._column} picks a column of `y_pred`, which has shape "
                    f"{y_pred.shape}; pass scores of shape (n, classes) with classes > "
                    f"{self._column}"
                )
            y_true, y_pred = y_true[..., self._column], y_pred[..., self._column]
            weight = None if weight is None else weight[..., self._column]
        if y_pred.ndim == 2 and y_pred.shape[1] == 1 and self._num_labels is None:
            y_true, y_pred = y_true[:, 0], y_pred[:, 0]
            weight = None if weight is None else weight[:, 0]
        bucket = self._thresholds.searchsorted(y_pred, side="left")
        if y_pred.ndim == 1:  # one score per sample: sparse terms, one bincount per field
            positive = y_true if weight is None else y_true * weight
            negative = 1.0 - y_true if weight is None else (1.0 - y_true) * weight
            size = (len(self._thresholds) + 1,)
            dtype = self.engine.dtype
            return {
                self.bucket_fields[0]: OneHot.from_checked(bucket, size, positive, dtype),
                self.bucket_fields[1]: OneHot.from_checked(bucket, size, negative, dtype),
            }
        return self._dense_terms(y_true, y_pred, bucket, weight, n)

    def _dense_terms(
        self,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        bucket: np.ndarray,
        weight: np.ndarray | None,
        n: int,
    ) -> State:
        """Several scores per sample: each sample's histogram over buckets (and labels)."""
        buckets = len(self._thresholds) + 1
        per_sample = int(np.prod(y_pred.shape[1:]))
        w = np.ones(y_pred.shape) if weight is None else weight
        if self._num_labels is not None:
            labels = self._num_labels
            if y_pred.ndim != 2 or y_pred.shape[1] != labels:
                raise ValueError(
                    f"`y_pred` must have shape (n, {labels}) with multi_label=True and "
                    f"num_labels={labels}, got shape {y_pred.shape}"
                )
            rows = np.repeat(np.arange(n), labels)
            flat = (rows * buckets + bucket.ravel()) * labels + np.tile(np.arange(labels), n)
            shape: tuple[int, ...] = (n, buckets, labels)
        else:
            if self._label_weights is not None:
                if y_pred.shape[-1] != self._label_weights.shape[0]:
                    raise ValueError(
                        f"`label_weights` has {self._label_weights.shape[0]} entries but "
                        f"`y_pred` of shape {y_pred.shape} has {y_pred.shape[-1]} labels"
                    )
                w = w * self._label_weights
            rows = np.repeat(np.arange(n), per_sample)
            flat = rows * buckets + bucket.ravel()
            shape = (n, buckets)
        size = int(np.prod(shape))
        y, w = y_true.ravel(), np.broadcast_to(w, y_pred.shape).ravel()
        positive = np.bincount(flat, y * w, minlength=size).reshape(shape)
        negative = np.bincount(flat, (1.0 - y) * w, minlength=size).reshape(shape)
        dtype = self.engine.dtype
        return {
            self.bucket_fields[0]: positive.astype(dtype, copy=False),
            self.bucket_fields[1]: negative.astype(dtype, copy=False),
        }

    def counts(self, state: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """True/false positives/negatives per threshold, from ``state`` (default: the current one).

        Keras keeps these four arrays as its state; here they are derived from
        the per-bucket label weights, exactly.
        """
        state = self.state if state is None else state
        return counts_from_buckets(state[self.bucket_fields[0]], state[self.bucket_fields[1]])

    @property
    def true_positives(self) -> np.ndarray:
        """Weighted true positives per threshold (as Keras' ``m.true_positives``)."""
        return self.counts()["true_positives"].copy()

    @property
    def false_positives(self) -> np.ndarray:
        """Weighted false positives per threshold."""
        return self.counts()["false_positives"].copy()

    @property
    def true_negatives(self) -> np.ndarray:
        """Weighted true negatives per threshold."""
        return self.counts()["true_negatives"].copy()

    @property
    def false_negatives(self) -> np.ndarray:
        """Weighted false negatives per threshold."""
        return self.counts()["false_negatives"].copy()

    @property
    def threshold_values(self) -> list[float]:
        """Every threshold used, in increasing order (Keras' ``m.thresholds``)."""
        return [float(t) for t in self._thresholds]


_CURVES = ("ROC", "PR")
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(_Bucketed):
    """The area under the ROC or precision-recall curve, from counts at many thresholds.

    Parameters
    ----------
    num_thresholds : int
        At least 2; the thresholds are ``-1e-7``, ``1/(num_thresholds - 1)``, ...,
        ``1 + 1e-7`` (Keras'). Ignored when ``thresholds`` is given.
    curve : {"ROC", "PR"}
        The receiver operating characteristic, or precision against recall.
    summation_method : {"interpolation", "minoring", "majoring"}
        Trapezoids (for PR: Davis & Goadrich's interpolation, as Keras), or the
        lower or upper Riemann sum.
    name : str, optional
        Default ``"auc"``.
    dtype : str or numpy dtype, optional
        As for :class:`~interactive_metrics.Metric`.
    thresholds : list of float, optional
        Thresholds in ``[0, 1]`` to use instead; ``-1e-7`` and ``1 + 1e-7`` are added.
    multi_label : bool
        ``y_pred`` of shape ``(n, num_labels)`` holds one curve per column; their
        areas are averaged (weighted by ``label_weights``). Otherwise every score
        of a 2-D ``y_pred`` joins one curve.
    num_labels : int, optional
        The number of columns with ``multi_label=True`` (required here: the state
        has a fixed shape; Keras can read it from the first batch).
    label_weights : list of float, optional
        Weights of the labels (columns): in the average of the areas with
        ``multi_label=True``, else multiplied into each column's sample weights.
    from_logits : bool
        ``y_pred`` holds logits; a sigmoid is applied first.
    **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    ``y_true`` may hold soft labels in ``[0, 1]``: a label ``y`` counts ``y`` as
    positive and ``1 - y`` as negative (Keras' default, evenly spaced thresholds).
    The state is the label weight per threshold bucket; ``m.true_positives`` and
    the other Keras arrays are derived from it (:meth:`counts`), and
    ``m.threshold_values`` lists Keras' ``m.thresholds``. A 2-D ``y_pred`` builds
    an ``(n, num_thresholds + 1)`` (times labels) histogram per batch; one score
    per sample needs only ``n`` bucket indices.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.AUC(num_thresholds=3)
    >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    >>> m.result()
    0.75
    >>> m.true_positives, m.false_positives
    (array([2., 1., 0.]), array([2., 0., 0.]))
    >>> m.reset_state()
    >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1])
    >>> m.result()
    1.0
    """

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: Literal["ROC", "PR"] = "ROC",
        summation_method: Literal["interpolation", "minoring", "majoring"] = "interpolation",
        name: str | None = None,
        dtype: Any = None,
        thresholds: Sequence[float] | None = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Sequence[float] | None = None,
        from_logits: bool = False,
        **options: Any,
    ) -> None:
        if not isinstance(curve, str) or curve.upper() not in _CURVES:
            raise ValueError(f"`curve` must be one of {_CURVES}, got {curve!r}")
        if not isinstance(summation_method, str) or summation_method.lower() not in _SUMMATIONS:
            raise ValueError(
                f"`summation_method` must be one of {_SUMMATIONS}, got {summation_method!r}"
            )
        self.curve = curve.upper()
        self.summation_method = summation_method.lower()
        self._set_thresholds(thresholds, num_thresholds)
        self.multi_label = check_flag(multi_label, "multi_label")
        if num_labels is not None:
            if not self.multi_label:
                raise ValueError(
                    f"`num_labels` is used only with multi_label=True, got {num_labels!r}; "
                    "pass multi_label=True or leave num_labels=None"
                )
            num_labels = check_integer(num_labels, "num_labels", 1)
        elif self.multi_label:
            raise ValueError(
                "`num_labels` must be given with multi_label=True, got None; pass the number "
                "of columns of `y_pred` (this state has a fixed shape)"
            )
        self.num_labels = num_labels
        self._num_labels = num_labels
        self.label_weights = None if label_weights is None else _weights(label_weights)
        if self.label_weights is not None:
            self._label_weights = np.array(self.label_weights)
            if num_labels is not None and len(self.label_weights) != num_labels:
                raise ValueError(
                    f"`label_weights` must have num_labels={num_labels} entries, got "
                    f"{len(self.label_weights)}"
                )
        self.from_logits = check_flag(from_logits, "from_logits")
        self._from_logits = self.from_logits
        super().__init__(name=name, dtype=dtype, **options)

    def _aggregate(self, by_threshold: np.ndarray) -> Any:
        """The area: the sum over thresholds, averaged over labels if multi-label."""
        return self._over_labels(by_threshold.sum(axis=0))

    def _over_labels(self, area: Any) -> Any:
        """One area, or the (``label_weights``-weighted) mean of the labels' areas."""
        if self._num_labels is None:
            return area
        if self._label_weights is None:
            return area.mean()
        return divide_no_nan(np.sum(area * self._label_weights), np.sum(self._label_weights))

    def _interpolated_pr(self, c: Mapping[str, np.ndarray]) -> Any:
        """Davis & Goadrich's interpolation of precision between thresholds (as Keras)."""
        tp, fp, fn = c["true_positives"], c["false_positives"], c["false_negatives"]
        d_tp = tp[:-1] - tp[1:]
        p = tp + fp
        d_p = p[:-1] - p[1:]
        slope = divide_no_nan(d_tp, np.maximum(d_p, 0.0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, divide_no_nan(p[:-1], np.maximum(p[1:], 0.0)), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.log(ratio)
        increment = divide_no_nan(
            slope * (d_tp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0.0)
        )
        return self._aggregate(increment)

    def _roc_interpolated(self, state: Mapping[str, Any]) -> Any:
        """Keras' ROC trapezoids, summed straight from the buckets with one cumulative sum.

        Between thresholds ``j - 1`` and ``j`` the false-positive rate drops by
        ``negatives[j] / N`` and the mean recall of the trapezoid is
        ``(above[j] + above[j + 1]) / 2P``, where ``above[j]`` is the positive weight
        of buckets ``>= j`` (``P = above[0]``, ``N`` the negative weight). The area
        is therefore ``Σ_j negatives[j] · (above[j] + above[j + 1]) / (2 P N)``:
        the same sum as Keras', with 0 when there are no positives or no negatives.
        """
        positives, negatives = state[self.bucket_fields[0]], state[self.bucket_fields[1]]
        above = np.cumsum(positives[::-1], axis=0)[::-1]
        last = positives.shape[0] - 1  # = num_thresholds
        heights = above[1:last] + above[2:]
        if positives.ndim == 1:
            scale = 2.0 * above[0] * np.sum(negatives)
            area = negatives[1:last].dot(heights)
            return area / scale if scale else scale
        area = np.sum(negatives[1:last] * heights, axis=0)
        return self._over_labels(divide_no_nan(area, 2.0 * above[0] * np.sum(negatives, axis=0)))

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The area under the configured curve."""
        if self.curve == "ROC" and self.summation_method == "interpolation":
            return self._roc_interpolated(state)
        c = self.counts(state)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolated_pr(c)
        tp, fp, tn, fn = (
            c["true_positives"],
            c["false_positives"],
            c["true_negatives"],
            c["false_negatives"],
        )
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._aggregate((x[:-1] - x[1:]) * heights)


class AveragePrecision(_Bucketed):
    """Average precision (scikit-learn's ``average_precision_score``) from thresholded counts.

    ``AP = Σᵢ (Rᵢ − Rᵢ₊₁)·Pᵢ``: the precision at each threshold times the recall
    gained there, summed over the thresholds (a step function, no interpolation).

    Parameters
    ----------
    num_thresholds : int
        At least 2; the thresholds are ``-1e-7``, ``1/(num_thresholds - 1)``, ...,
        ``1 + 1e-7``, as :class:`AUC`'s. Ignored when ``thresholds`` is given.
    name, dtype
        As for :class:`~interactive_metrics.Metric`.
    thresholds : list of float, optional
        Thresholds in ``[0, 1]`` to use instead; ``-1e-7`` and ``1 + 1e-7`` are added.
    class_id : int, optional
        Only this column of ``(n, classes)`` inputs is scored; otherwise every score
        of a 2-d ``y_pred`` joins one curve.
    from_logits : bool
        ``y_pred`` holds logits; a sigmoid is applied first.
    **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    The state is :class:`AUC`'s, the label weight per threshold bucket, so merging
    is exact. Scores in one bucket count as tied: the result is exactly
    scikit-learn's ``average_precision_score`` of the scores replaced by their
    bucket, and it differs from that of the raw scores by at most
    ``Σ_b (positives_b / P) · min(1, 2·w_b / (above_b + w_b))`` (bucket ``b``'s
    positive weight, total weight ``w_b``, weight in higher buckets ``above_b``):
    the recall a bucket adds times the most the precision can move within it.
    More thresholds, smaller buckets, a smaller difference. 0 before any positive
    label (scikit-learn warns and returns 0 or -0).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.AveragePrecision()
    >>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> round(m.result(), 4)
    0.8333
    >>> m.true_positives[[0, 70, 199]]
    array([2., 1., 0.])
    """

    def __init__(
        self,
        num_thresholds: int = 200,
        name: str | None = None,
        dtype: Any = None,
        thresholds: Sequence[float] | None = None,
        class_id: int | None = None,
        from_logits: bool = False,
        **options: Any,
    ) -> None:
        self._set_thresholds(thresholds, num_thresholds)
        self.class_id = None if class_id is None else check_integer(class_id, "class_id", 0)
        self._column = self.class_id
        self.from_logits = check_flag(from_logits, "from_logits")
        self._from_logits = self.from_logits
        super().__init__(name=name, dtype=dtype, **options)

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The precision at each threshold, weighted by the recall gained there."""
        positives = state[self.bucket_fields[0]]
        negatives = state[self.bucket_fields[1]]
        # true positives / predicted positives at thresholds 0 .. T-1: weight in buckets > i
        above_positive = np.cumsum(positives[::-1])[::-1]
        above = above_positive + np.cumsum(negatives[::-1])[::-1]
        total_positive = above_positive[0]
        if total_positive <= 0:
            return 0.0
        precision = divide_no_nan(above_positive[1:], above[1:])
        gained = positives[1:]  # the positives of bucket i + 1: the recall added at threshold i
        return float(np.dot(gained, precision)) / float(total_positive)


def _inner_thresholds(thresholds: Any) -> list[float]:
    if isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, (Sequence, np.ndarray)):
        raise ValueError(f"`thresholds` must be a list of numbers in [0, 1], got {thresholds!r}")
    values = list(thresholds)
    if not values or not all(is_number(t) and 0 <= t <= 1 for t in values):
        raise ValueError(
            f"`thresholds` must be a non-empty list of numbers in [0, 1], got {thresholds!r}; "
            "or leave it None and pick num_thresholds"
        )
    return sorted(float(t) for t in values)


def _weights(label_weights: Any) -> list[float]:
    values = list(np.ravel(np.asarray(label_weights, dtype=object)))
    if not values or not all(is_number(v) and 0 <= v < math.inf for v in values):
        raise ValueError(
            f"`label_weights` must be a list of finite numbers >= 0, got {label_weights!r}"
        )
    return [float(v) for v in values]


class _AtConstraint(_Bucketed):
    """The best ``dependent`` rate among thresholds where ``constrained >= value`` (Keras)."""

    _value_name: ClassVar[str] = ""

    def __init__(
        self,
        value: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        setattr(self, self._value_name, check_fraction(value, self._value_name))
        self.num_thresholds = check_integer(num_thresholds, "num_thresholds", 1)
        if class_id is not None:
            class_id = check_integer(class_id, "class_id", 0)
        self.class_id = class_id
        self._column = class_id
        if self.num_thresholds == 1:
            self._thresholds = np.array([0.5])
        else:
            inner = [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
            self._thresholds = np.array([0.0, *inner, 1.0])
        super().__init__(name=name, dtype=dtype, **options)

    def _rates(self, c: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``(constrained, dependent)`` per threshold (override this)."""
        raise NotImplementedError

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The largest dependent rate where the constraint holds; 0 if it never does."""
        constrained, dependent = self._rates(self.counts(state))
        value = getattr(self, self._value_name)
        return np.max(np.where(constrained >= value, dependent, 0.0))


def _sensitivity(c: Mapping[str, np.ndarray]) -> np.ndarray:
    tp = c["true_positives"]
    return divide_no_nan(tp, tp + c["false_negatives"])


def _specificity(c: Mapping[str, np.ndarray]) -> np.ndarray:
    tn = c["true_negatives"]
    return divide_no_nan(tn, tn + c["false_positives"])


def _precision(c: Mapping[str, np.ndarray]) -> np.ndarray:
    tp = c["true_positives"]
    return divide_no_nan(tp, tp + c["false_positives"])


_AT_PARAMETERS = """
    Parameters
    ----------
    {value} : float
        In ``[0, 1]``: the least {value} a threshold must reach.
    num_thresholds : int
        At least 1; the thresholds are ``0, 1/(num_thresholds - 1), ..., 1``
        (``0.5`` alone for 1), as Keras.
    class_id : int, optional
        Only this column of ``(n, classes)`` inputs is counted.
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.
"""


class SensitivityAtSpecificity(_AtConstraint):
    """The best sensitivity (recall) among thresholds whose specificity is at least ``specificity``.

    {parameters}

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.SensitivityAtSpecificity(0.5)
    >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
    >>> m.result()
    0.5
    >>> m.reset_state()
    >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8], sample_weight=[1, 1, 2, 2, 1])
    >>> round(m.result(), 6)
    0.333333
    """

    _value_name = "specificity"

    def __init__(
        self,
        specificity: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(specificity, num_thresholds, class_id, name=name, dtype=dtype, **options)

    def _rates(self, c: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return _specificity(c), _sensitivity(c)


class SpecificityAtSensitivity(_AtConstraint):
    """The best specificity among thresholds whose sensitivity is at least ``sensitivity``.

    {parameters}

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.SpecificityAtSensitivity(0.5)
    >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
    >>> round(m.result(), 6)
    0.666667
    >>> m.reset_state()
    >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8], sample_weight=[1, 1, 2, 2, 2])
    >>> m.result()
    0.5
    """

    _value_name = "sensitivity"

    def __init__(
        self,
        sensitivity: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(sensitivity, num_thresholds, class_id, name=name, dtype=dtype, **options)

    def _rates(self, c: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return _sensitivity(c), _specificity(c)


class PrecisionAtRecall(_AtConstraint):
    """The best precision among thresholds whose recall is at least ``recall``.

    {parameters}

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.PrecisionAtRecall(0.5)
    >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
    >>> m.result()
    0.5
    >>> m.reset_state()
    >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8], sample_weight=[2, 2, 2, 1, 1])
    >>> round(m.result(), 6)
    0.333333
    """

    _value_name = "recall"

    def __init__(
        self,
        recall: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(recall, num_thresholds, class_id, name=name, dtype=dtype, **options)

    def _rates(self, c: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return _sensitivity(c), _precision(c)


class RecallAtPrecision(_AtConstraint):
    """The best recall among thresholds whose precision is at least ``precision``.

    {parameters}

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.RecallAtPrecision(0.8)
    >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    >>> m.result()
    0.5
    >>> m.reset_state()
    >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1])
    >>> m.result()
    1.0
    """

    _value_name = "precision"

    def __init__(
        self,
        precision: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(precision, num_thresholds, class_id, name=name, dtype=dtype, **options)

    def _rates(self, c: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return _precision(c), _sensitivity(c)


for _cls in (
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    PrecisionAtRecall,
    RecallAtPrecision,
):
    _text = _AT_PARAMETERS.strip("\n").format(value=_cls._value_name)
    _cls.__doc__ = (_cls.__doc__ or "").replace("    {parameters}\n", _text + "\n")
