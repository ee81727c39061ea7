"""Intersection-over-union metrics of Keras 3.

``IoU``, ``BinaryIoU``, ``MeanIoU``, ``OneHotIoU`` and ``OneHotMeanIoU``.

The state is the weighted confusion matrix (row: true class, column: predicted
class), so merging, streams and replay are exact. For class ``c``::

    IoU_c = TP_c / (TP_c + FP_c + FN_c)
          = cm[c, c] / (Σ_j cm[c, j] + Σ_i cm[i, c] - cm[c, c])

and the result is the mean over the target classes whose denominator is not 0.
One label per sample (shape ``(n,)``) is counted sparsely (one bincount);
segmentation maps (shape ``(n, h, w, ...)``) count each pixel, weighted by its
sample's weight or by a weight per pixel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from interactive_metrics.core.coerce import as_labels
from interactive_metrics.core.reduce import OneHot, divide_no_nan
from interactive_metrics.metric import Metric, State, StateField
from interactive_metrics.metrics._checks import check_flag, check_fraction, check_integer
from interactive_metrics.metrics._paired import class_labels, element_weights, matched
from interactive_metrics.metrics.probabilistic import class_axis

__all__ = ["BinaryIoU", "IoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU"]


def _class_ids(target_class_ids: Any, num_classes: int) -> list[int]:
    values = (
        list(target_class_ids) if isinstance(target_class_ids, (Sequence, np.ndarray)) else None
    )
    if (
        not values
        or isinstance(target_class_ids, str)
        or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v < num_classes
            for v in values
        )
    ):
        raise ValueError(
            f"`target_class_ids` must be a non-empty list of class ids in [0, {num_classes}), "
            f"got {target_class_ids!r}"
        )
    return [int(v) for v in values]


class IoU(Metric):
    """The intersection over union of the classes ``target_class_ids``, averaged.

    Parameters
    ----------
    num_classes : int
        At least 2; labels are whole numbers in ``[0, num_classes)``.
    target_class_ids : list of int
        The classes whose IoU is averaged.
    name : str, optional
        Default the class name in snake case, as Keras spells it (``"io_u"``, ``"mean_io_u"``).
    dtype : str or numpy dtype, optional
        As for :class:`~interactive_metrics.Metric` (Keras counts in integers by default).
    ignore_class : int, optional
        Values with this true label are left out (weight 0).
    sparse_y_true, sparse_y_pred : bool
        Labels are class ids (default), or one score per class along ``axis``
        (the highest is the class).
    axis : int
        The class axis of non-sparse inputs; default the last.
    **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    A label outside ``[0, num_classes)`` is a ``ValueError`` (Keras masks it out
    silently), unless it is ``ignore_class``.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.IoU(num_classes=2, target_class_ids=[0])
    >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    >>> round(m.result(), 6)
    0.333333
    >>> m.reset_state()
    >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.3, 0.3, 0.3, 0.1])
    >>> round(m.result(), 6)
    0.333333
    >>> m.state["confusion_matrix"]
    array([[0.3, 0.3],
           [0.3, 0.1]])
    """

    as_input = staticmethod(as_labels)  # labels stay integers, scores are never rounded
    _threshold: float | None = None  # BinaryIoU: a score above it is class 1

    def __init__(
        self,
        num_classes: int,
        target_class_ids: Sequence[int],
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
        **options: Any,
    ) -> None:
        self.num_classes = check_integer(num_classes, "num_classes", 2)
        self.target_class_ids = _class_ids(target_class_ids, self.num_classes)
        if ignore_class is not None:
            if isinstance(ignore_class, bool) or not isinstance(ignore_class, (int, np.integer)):
                raise ValueError(
                    f"`ignore_class` must be None or an integer label, got {ignore_class!r}"
                )
            ignore_class = int(ignore_class)
        self.ignore_class = ignore_class
        self.sparse_y_true = check_flag(sparse_y_true, "sparse_y_true")
        self.sparse_y_pred = check_flag(sparse_y_pred, "sparse_y_pred")
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"`axis` must be an integer, got {axis!r}")
        self.axis = int(axis)
        self._targets = np.array(self.target_class_ids)
        super().__init__(name=name, dtype=dtype, **options)

    @property
    def fields(self) -> tuple[StateField, ...]:  # type: ignore[override]
        """One ``confusion_matrix`` of shape ``(num_classes, num_classes)``."""
        return (StateField("confusion_matrix", shape=(self.num_classes, self.num_classes)),)

    def _labels(self, values: np.ndarray, sparse: bool, name: str) -> np.ndarray:
        if not sparse:
            return np.argmax(values, axis=class_axis(values, self.axis))
        if self._threshold is not None and name == "y_pred":
            return (values > self._threshold).astype(np.intp)
        return values

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Each sample's weighted one-hot ``(true, predicted)`` matrix (summed over its pixels)."""
        k = self.num_classes
        actual = self._labels(y_true, self.sparse_y_true, "y_true")
        predicted = self._labels(y_pred, self.sparse_y_pred, "y_pred")
        actual, predicted = matched(actual, predicted)
        weight = element_weights(sample_weight, actual.shape)
        if self.ignore_class is not None:
            kept = actual != self.ignore_class
            actual = np.where(kept, actual, 0)
            weight = kept.astype(self.engine.dtype) if weight is None else weight * kept
        shape = actual.shape
        actual = class_labels(actual.ravel(), k, "y_true")
        predicted = class_labels(predicted.ravel(), k, "y_pred")
        position = actual * k + predicted
        n = shape[0]
        if len(shape) == 1:
            return {"confusion_matrix": OneHot(position, (k, k), weight, self.engine.dtype)}
        per_sample = position.size // n if n else 0
        position += np.repeat(np.arange(n) * (k * k), per_sample)
        flat_weight = None if weight is None else np.ravel(weight)
        counts = np.bincount(position, flat_weight, minlength=n * k * k)
        return {"confusion_matrix": counts.reshape(n, k, k).astype(self.engine.dtype, copy=False)}

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The mean IoU over the target classes whose union is not empty."""
        matrix = state["confusion_matrix"]
        hits = np.diagonal(matrix)
        union = matrix.sum(axis=0) + matrix.sum(axis=1) - hits
        hits, union = hits[self._targets], union[self._targets]
        valid = np.count_nonzero(union)
        return divide_no_nan(np.sum(divide_no_nan(hits, union)), matrix.dtype.type(valid))


class MeanIoU(IoU):
    """The intersection over union averaged over every class (semantic segmentation's mIoU).

    Parameters
    ----------
    num_classes : int
        At least 2.
    name, dtype, ignore_class, sparse_y_true, sparse_y_pred, axis, **options
        As for :class:`IoU`.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.MeanIoU(num_classes=2)
    >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    >>> round(m.result(), 6)
    0.333333
    >>> m.reset_state()
    >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.3, 0.3, 0.3, 0.1])
    >>> round(m.result(), 6)
    0.238095
    """

    def __init__(
        self,
        num_classes: int,
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
        **options: Any,
    ) -> None:
        classes = check_integer(num_classes, "num_classes", 2)
        super().__init__(
            classes,
            list(range(classes)),
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
            **options,
        )


class BinaryIoU(IoU):
    """The IoU of binary labels against ``y_pred > threshold``, for classes 0 and/or 1.

    Parameters
    ----------
    target_class_ids : list of int
        ``[0]``, ``[1]`` or ``[0, 1]`` (default: both, averaged).
    threshold : float
        A score above it predicts class 1.
    name, dtype, **options
        As for :class:`IoU`.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
    >>> m.update_state([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7])
    >>> round(m.result(), 6)
    0.333333
    >>> m.reset_state()
    >>> m.update_state([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7], sample_weight=[0.2, 0.3, 0.4, 0.1])
    >>> round(m.result(), 6)
    0.173611
    """

    def __init__(
        self,
        target_class_ids: Sequence[int] = (0, 1),
        threshold: float = 0.5,
        name: str | None = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        self.threshold = check_fraction(threshold, "threshold")
        self._threshold = self.threshold
        super().__init__(2, target_class_ids, name=name, dtype=dtype, **options)


class OneHotIoU(IoU):
    """:class:`IoU` of one-hot targets (and, by default, per-class scores).

    Parameters
    ----------
    num_classes : int
        At least 2: the length of the class axis.
    target_class_ids : list of int
        The classes whose IoU is averaged.
    name, dtype, ignore_class, axis, **options
        As for :class:`IoU`.
    sparse_y_pred : bool
        ``y_pred`` holds class ids rather than scores.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> y_true = [[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]]
    >>> y_pred = [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]]
    >>> m = im.OneHotIoU(num_classes=3, target_class_ids=[0, 2])
    >>> m.update_state(y_true, y_pred, sample_weight=[0.1, 0.2, 0.3, 0.4])
    >>> round(m.result(), 4)
    0.0714
    """

    def __init__(
        self,
        num_classes: int,
        target_class_ids: Sequence[int],
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_pred: bool = False,
        axis: int = -1,
        **options: Any,
    ) -> None:
        super().__init__(
            num_classes,
            target_class_ids,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
            **options,
        )


class OneHotMeanIoU(IoU):
    """:class:`MeanIoU` of one-hot targets (and, by default, per-class scores).

    Parameters
    ----------
    num_classes : int
        At least 2: the length of the class axis.
    name, dtype, ignore_class, axis, **options
        As for :class:`IoU`.
    sparse_y_pred : bool
        ``y_pred`` holds class ids rather than scores.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> y_true = [[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]]
    >>> y_pred = [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]]
    >>> m = im.OneHotMeanIoU(num_classes=3)
    >>> m.update_state(y_true, y_pred, sample_weight=[0.1, 0.2, 0.3, 0.4])
    >>> round(m.result(), 4)
    0.0476
    """

    def __init__(
        self,
        num_classes: int,
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_pred: bool = False,
        axis: int = -1,
        **options: Any,
    ) -> None:
        classes = check_integer(num_classes, "num_classes", 2)
        super().__init__(
            classes,
            list(range(classes)),
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
            **options,
        )
