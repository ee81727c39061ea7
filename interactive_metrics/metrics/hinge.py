"""Hinge metrics with Keras 3's formulas: ``Hinge``, ``SquaredHinge``, ``CategoricalHinge``.

Each is a weighted mean of one loss value per sample; the state is ``<loss>_sum``
and ``count``, so merging, streams and replay are exact.

Labels are expected in ``{-1, 1}``; a label 0 is read as -1, so binary labels
``{0, 1}`` work as they do in Keras. (Keras converts ``2·y - 1`` only when every
label of the batch is 0 or 1; the two agree on every batch except one that mixes
0 with labels other than 1, where Keras would keep the 0. Reading each label on
its own keeps a replay equal to its loop of updates whatever the batches.)
"""

from __future__ import annotations

import numpy as np

from interactive_metrics.metric import StateField
from interactive_metrics.metrics._paired import MeanOfSamples, matched
from interactive_metrics.metrics.probabilistic import class_axis

__all__ = ["CategoricalHinge", "Hinge", "SquaredHinge"]


def _margin(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """``max(1 - y·p, 0)`` per value, with 0 labels read as -1."""
    y_true, y_pred = matched(y_true, y_pred)
    signs = np.where(y_true == 0, -1.0, y_true)
    return np.maximum(1.0 - signs * y_pred, 0.0)


class Hinge(MeanOfSamples):
    """The weighted mean hinge loss ``max(1 - y_true·y_pred, 0)``.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.Hinge()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> round(m.result(), 6)
    1.3
    >>> m.reset_state()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]], sample_weight=[1, 0])
    >>> round(m.result(), 6)
    1.1
    """

    fields = (StateField("hinge_sum"), StateField("count"))

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``max(1 - y·p, 0)`` for each value."""
        return _margin(y_true, y_pred)


class SquaredHinge(MeanOfSamples):
    """The weighted mean squared hinge loss ``max(1 - y_true·y_pred, 0)²``.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.SquaredHinge()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> round(m.result(), 6)
    1.86
    >>> m.reset_state()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]], sample_weight=[1, 0])
    >>> round(m.result(), 6)
    1.46
    """

    fields = (StateField("squared_hinge_sum"), StateField("count"))

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``max(1 - y·p, 0)²`` for each value."""
        return np.square(_margin(y_true, y_pred))


class CategoricalHinge(MeanOfSamples):
    """The weighted mean categorical hinge loss ``max(neg - pos + 1, 0)`` per sample.

    ``pos = Σ y_true·y_pred`` and ``neg = max((1 - y_true)·y_pred)`` along the last
    (class) axis; ``y_true`` is one-hot.

    Examples
    --------
    The numbers of the Keras documentation:

    >>> import interactive_metrics as im
    >>> m = im.CategoricalHinge()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    >>> round(m.result(), 6)
    1.4
    >>> m.reset_state()
    >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]], sample_weight=[1, 0])
    >>> round(m.result(), 6)
    1.2
    """

    fields = (StateField("categorical_hinge_sum"), StateField("count"))

    def per_sample(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """``max(neg - pos + 1, 0)`` for each sample."""
        y_true, y_pred = matched(y_true, y_pred)
        class_axis(y_pred, -1)
        positive = np.sum(y_true * y_pred, axis=-1)
        negative = np.max((1.0 - y_true) * y_pred, axis=-1)
        return np.maximum(negative - positive + 1.0, 0.0)
