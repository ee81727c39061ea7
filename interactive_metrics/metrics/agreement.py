"""Agreement of class labels from the confusion matrix: MCC, Cohen's kappa, balanced accuracy.

Each keeps the weighted ``confusion_matrix`` (row: true class, column: predicted
class) as its state and computes its result from it with scikit-learn's formulas
(``matthews_corrcoef``, ``cohen_kappa_score``, ``balanced_accuracy_score``), so
merging, streams and replay are exact and the history shows the counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from interactive_metrics.core.coerce import as_labels, check_choice, check_number
from interactive_metrics.core.reduce import OneHot, divide_no_nan
from interactive_metrics.metric import Metric, State, StateField
from interactive_metrics.metrics._checks import check_flag, check_integer
from interactive_metrics.metrics._paired import element_weights, probabilities
from interactive_metrics.metrics.confusion import class_labels_of, label_codes

__all__ = ["BalancedAccuracy", "CohenKappa", "MatthewsCorrelation"]


class _LabelConfusion(Metric):
    """The weighted confusion matrix of class labels; a subclass declares ``compute``.

    ``y_true`` holds one label per sample in ``[0, num_classes)``. ``y_pred`` holds
    labels, one score per class (the highest is the prediction) or, for two classes,
    the probability of class 1 (``> threshold`` predicts 1).
    """

    as_input = staticmethod(as_labels)  # labels are never rounded to a narrow dtype

    def __init__(
        self,
        num_classes: int = 2,
        threshold: float = 0.5,
        name: str | None = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        self.num_classes: int = check_integer(num_classes, "num_classes", 2)
        self.threshold = check_number(threshold, "threshold", low=0, high=1)
        super().__init__(name=name, dtype=dtype, **options)
        self._matrix = ((self.num_classes, self.num_classes), self.engine.dtype)  # for terms

    @property
    def fields(self) -> tuple[StateField, ...]:  # type: ignore[override]
        """One ``confusion_matrix`` of shape ``(num_classes, num_classes)``."""
        return (StateField("confusion_matrix", shape=(self.num_classes, self.num_classes)),)

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Each sample's weighted one-hot ``(true, predicted)`` matrix, kept sparse."""
        k = self.num_classes
        # labels in range, checked in the same pass (with two classes a 1-d y_pred is a
        # probability: labels 0 and 1 read as themselves unless threshold is 1)
        codes = label_codes(y_true, y_pred, k) if k > 2 or self.threshold < 1 else None
        if codes is not None:
            weight = None if sample_weight is None else element_weights(sample_weight, codes.shape)
            shape, dtype = self._matrix
            return {"confusion_matrix": OneHot.from_checked(codes, shape, weight, dtype)}
        actual = class_labels_of(y_true, "y_true", k)
        if y_pred.ndim == 2 and y_pred.shape[1] == k:
            predicted = np.argmax(y_pred, axis=1)
        elif k == 2 and (y_pred.ndim == 1 or (y_pred.ndim == 2 and y_pred.shape[1] == 1)):
            scores = probabilities(y_pred.reshape(-1))
            predicted = (scores > self.threshold).astype(np.intp)
        else:
            predicted = class_labels_of(y_pred, "y_pred", k)
        if predicted.shape != actual.shape:
            raise ValueError(
                f"`y_true` of shape {y_true.shape} and `y_pred` of shape {y_pred.shape} must "
                "hold one label (or one row of scores) per sample each; pass as many of each"
            )
        weight = element_weights(sample_weight, actual.shape)
        return {
            "confusion_matrix": OneHot(actual * k + predicted, (k, k), weight, self.engine.dtype)
        }

    def confusion(self, state: Mapping[str, Any] | None = None) -> np.ndarray:
        """The confusion matrix of ``state`` (default: the current one), in float64."""
        state = self.state if state is None else state
        return np.asarray(state["confusion_matrix"], dtype=np.float64)


class MatthewsCorrelation(_LabelConfusion):
    """The Matthews correlation coefficient of class labels (scikit-learn's ``matthews_corrcoef``).

    ``(c·s − t·p) / √((s² − p·p)(s² − t·t))`` from the weighted confusion matrix:
    ``c`` its trace, ``s`` its total, ``t`` and ``p`` the true and predicted class
    totals; 0 when the denominator is 0 (also before any sample), as scikit-learn.

    Parameters
    ----------
    num_classes : int
        Labels are whole numbers in ``[0, num_classes)``; default 2.
    threshold : float
        With two classes, a 1-d ``y_pred`` may hold the probability of class 1: a
        value above ``threshold`` (in ``[0, 1]``) predicts 1 (labels 0 and 1 are
        read as themselves).
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.MatthewsCorrelation()
    >>> m.update_state([1, 1, 1, 0], [1, 0, 1, 1])
    >>> round(m.result(), 4)
    -0.3333
    >>> m = im.MatthewsCorrelation(num_classes=3)
    >>> m.update_state([0, 1, 2, 2], [[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0, 0, 1], [0, 1, 0]])
    >>> round(m.result(), 4)
    0.7
    """

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The coefficient, in ``[-1, 1]``."""
        matrix = self.confusion(state)
        true_totals, predicted_totals = matrix.sum(axis=1), matrix.sum(axis=0)
        correct, total = np.trace(matrix), matrix.sum()
        covariance = correct * total - true_totals @ predicted_totals
        spread = (total**2 - predicted_totals @ predicted_totals) * (
            total**2 - true_totals @ true_totals
        )
        return covariance / np.sqrt(spread) if spread > 0 else 0.0


_WEIGHTS = (None, "linear", "quadratic")


class CohenKappa(_LabelConfusion):
    """Cohen's kappa of class labels (scikit-learn's ``cohen_kappa_score``).

    ``1 − Σ wᵢⱼ·Cᵢⱼ / Σ wᵢⱼ·Eᵢⱼ``, where ``C`` is the weighted confusion matrix,
    ``E`` the matrix expected by chance (the outer product of its row and column
    totals over its total) and ``w`` the disagreement weights: 1 off the diagonal,
    ``|i − j|`` (``"linear"``) or ``(i − j)²`` (``"quadratic"``).

    Parameters
    ----------
    num_classes : int
        Labels are whole numbers in ``[0, num_classes)``; default 2.
    threshold : float
        With two classes, a 1-d ``y_pred`` may hold the probability of class 1: a
        value above ``threshold`` (in ``[0, 1]``) predicts 1 (labels 0 and 1 are
        read as themselves).
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.
    weights : {None, "linear", "quadratic"}
        How a disagreement between classes ``i`` and ``j`` counts; the distances
        are those of the labels ``0 .. num_classes - 1`` (scikit-learn's with
        ``labels=range(num_classes)``).

    Notes
    -----
    Where scikit-learn finds kappa undefined (no sample yet, or a chance
    disagreement of 0) and returns ``replace_undefined_by`` (NaN by default) with
    a warning, this returns 0, as every metric here does before any sample.
    Kappa is 0 in exact arithmetic whenever the agreement is at chance level (for
    instance every prediction of one class); a result within ``4·k²`` float64 ulps
    of 0 is reported as exactly 0, so that it does not depend on the order in which
    merges and streams summed the counts.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.CohenKappa(num_classes=3)
    >>> m.update_state([0, 1, 2, 2], [0, 2, 2, 1])
    >>> round(m.result(), 4)
    0.2
    >>> round(im.CohenKappa(3, weights="quadratic")([0, 1, 2, 2], [0, 2, 2, 1]), 4)
    0.6364
    """

    def __init__(
        self,
        num_classes: int = 2,
        threshold: float = 0.5,
        name: str | None = None,
        dtype: Any = None,
        weights: Literal["linear", "quadratic"] | None = None,
        **options: Any,
    ) -> None:
        self.weights = check_choice(weights, "weights", _WEIGHTS)
        classes = np.arange(check_integer(num_classes, "num_classes", 2), dtype=np.float64)
        distance = np.abs(classes[:, None] - classes[None, :])
        self._disagreement = {None: (distance > 0) * 1.0, "linear": distance}.get(
            self.weights, distance**2
        )
        super().__init__(num_classes, threshold, name=name, dtype=dtype, **options)

    def compute(self, state: Mapping[str, Any]) -> Any:
        """Kappa: 1 for perfect agreement, 0 for chance agreement."""
        matrix = self.confusion(state)
        predicted = matrix.sum(axis=0)
        outer = np.outer(matrix.sum(axis=1), predicted)  # total² × the matrix expected by chance
        chance = np.sum(self._disagreement * outer)
        if chance <= 0:
            return 0.0
        # 1 - (Σ w·C / total) / (Σ w·outer / total²) as one difference per cell: exactly 0
        # when every prediction (or every label) is one class, where C is its expected matrix
        kappa = np.sum(self._disagreement * (outer - predicted.sum() * matrix)) / chance
        # Chance-level agreement (kappa 0 in exact arithmetic) leaves a rounding error that
        # depends on the order the counts were summed in (merges, streams): report it as 0.
        return 0.0 if abs(kappa) <= 4 * matrix.size * np.finfo(np.float64).eps else kappa


class BalancedAccuracy(_LabelConfusion):
    """The mean recall over classes (scikit-learn's ``balanced_accuracy_score``).

    Classes with no (weighted) true label are left out of the mean, as scikit-learn
    does; 0 before any sample.

    Parameters
    ----------
    num_classes : int
        Labels are whole numbers in ``[0, num_classes)``; default 2.
    threshold : float
        With two classes, a 1-d ``y_pred`` may hold the probability of class 1: a
        value above ``threshold`` (in ``[0, 1]``) predicts 1 (labels 0 and 1 are
        read as themselves).
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.
    adjusted : bool
        Rescale so that chance scores 0 and perfect 1: ``(score − 1/c) / (1 − 1/c)``
        with ``c`` the number of classes seen in ``y_true`` (scikit-learn's ``adjusted``;
        0 while only one class has been seen, where scikit-learn divides by 0).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.BalancedAccuracy(num_classes=3)
    >>> m.update_state([0, 1, 1, 1, 2], [0, 1, 0, 0, 1])
    >>> round(m.result(), 4)
    0.4444
    >>> m.update_state([2], [2], sample_weight=[2.0])
    >>> round(m.result(), 4)
    0.6667
    """

    def __init__(
        self,
        num_classes: int = 2,
        threshold: float = 0.5,
        name: str | None = None,
        dtype: Any = None,
        adjusted: bool = False,
        **options: Any,
    ) -> None:
        self.adjusted = check_flag(adjusted, "adjusted")
        super().__init__(num_classes, threshold, name=name, dtype=dtype, **options)

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The mean of the recalls of the classes seen in ``y_true``."""
        matrix = self.confusion(state)
        support = matrix.sum(axis=1)
        seen = support > 0
        classes = int(np.count_nonzero(seen))
        if classes == 0:
            return 0.0
        score = np.mean(divide_no_nan(np.diagonal(matrix), support)[seen])
        if self.adjusted:
            chance = 1.0 / classes
            return (score - chance) / (1.0 - chance) if classes > 1 else 0.0
        return score
