"""Calibration: how far predicted probabilities are from the frequencies they claim.

:class:`ExpectedCalibrationError` keeps three sums per confidence bin (the weight
of its samples, of their confidences and of their hits), so merging, streams and
replay are exact and the reliability diagram can be read from the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from interactive_metrics.core.coerce import check_choice
from interactive_metrics.core.reduce import OneHot, divide_no_nan
from interactive_metrics.metric import Metric, State, StateField
from interactive_metrics.metrics._checks import check_integer
from interactive_metrics.metrics._paired import binary_labels, element_weights, probabilities
from interactive_metrics.metrics.confusion import class_labels_of

__all__ = ["ExpectedCalibrationError"]

_NORMS = ("l1", "l2", "max")


class ExpectedCalibrationError(Metric):
    """The expected calibration error over equal-width confidence bins.

    ``ECE = Σ_b (w_b / W)·|accuracy_b − confidence_b|``: in each bin ``b`` of
    confidences, the (weighted) share of hits against the mean confidence,
    weighted by the bin's share ``w_b / W`` of the samples.

    Parameters
    ----------
    num_bins : int
        At least 1; bin ``b`` holds the confidences in ``(b/num_bins, (b+1)/num_bins]``
        (the first also holds 0), as scikit-learn's ``calibration_curve``.
    norm : {"l1", "l2", "max"}
        ``"l1"``: the ECE; ``"l2"``: the root of the weighted mean squared gap;
        ``"max"``: the largest gap of a non-empty bin (the maximum calibration error).
    name, dtype, **options
        As for :class:`~interactive_metrics.Metric`.

    Notes
    -----
    Two readings, chosen by the shape of ``y_pred``:

    - binary: ``y_true`` in {0, 1} and ``y_pred`` the probability of class 1, shape
      ``(n,)`` or ``(n, 1)``. The confidence is ``y_pred`` and a hit is a label 1
      (the reliability of the positive class, as ``calibration_curve`` and
      torchmetrics' ``BinaryCalibrationError``);
    - top-label: ``y_true`` integer labels and ``y_pred`` class probabilities, shape
      ``(n, classes)``. The confidence is the highest probability and a hit is a
      right ``argmax`` (torchmetrics' ``MulticlassCalibrationError``).

    torchmetrics puts a confidence on a bin edge in the upper bin (``[lo, hi)``
    bins), scikit-learn and this class in the lower one; they differ only for such
    confidences. The state is ``bin_weight``, ``bin_confidence`` (the weighted sum
    of confidences) and ``bin_hits`` (the weighted number of hits), one each per bin;
    0 before any sample.

    Examples
    --------
    Two bins, split at 0.5: the lower holds 0.3 (label 0) and 0.2 (label 1), the
    upper 0.9 and 0.6 (both label 1); each bin is off by 0.25 on average:

    >>> import interactive_metrics as im
    >>> m = im.ExpectedCalibrationError(num_bins=2)
    >>> m.update_state([1, 0, 1, 1], [0.9, 0.3, 0.6, 0.2])
    >>> m.result()
    0.25
    >>> m.state["bin_hits"], m.state["bin_confidence"]
    (array([1., 2.]), array([0.5, 1.5]))
    """

    def __init__(
        self,
        num_bins: int = 15,
        norm: Literal["l1", "l2", "max"] = "l1",
        name: str | None = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        self.num_bins = check_integer(num_bins, "num_bins", 1, "; e.g. the default 15")
        self.norm = check_choice(norm, "norm", _NORMS)
        self._edges = np.linspace(0.0, 1.0, self.num_bins + 1)[1:-1]
        super().__init__(name=name, dtype=dtype, **options)

    @property
    def fields(self) -> tuple[StateField, ...]:  # type: ignore[override]
        """Per bin: ``bin_weight``, ``bin_confidence``, ``bin_hits``."""
        shape = (self.num_bins,)
        return tuple(
            StateField(name, shape=shape) for name in ("bin_weight", "bin_confidence", "bin_hits")
        )

    def terms(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State:
        """Each sample's weight, weighted confidence and weighted hit, in its confidence's bin."""
        if y_pred.ndim == 2 and y_pred.shape[1] > 1:  # top-label
            probabilities(y_pred)
            labels = class_labels_of(y_true, "y_true", y_pred.shape[1])
            confidence = np.max(y_pred, axis=1, initial=0.0).astype(np.float64)
            hit = (np.argmax(y_pred, axis=1) == labels).astype(np.float64)
        elif y_pred.ndim == 1 or (y_pred.ndim == 2 and y_pred.shape[1] == 1):  # binary
            confidence = probabilities(y_pred.reshape(-1)).astype(np.float64, copy=False)
            one_column = y_true.ndim == 2 and y_true.shape[1] == 1
            labels = y_true.reshape(-1) if one_column else y_true
            if labels.shape != confidence.shape:
                raise ValueError(
                    f"`y_true` of shape {y_true.shape} must hold one label per sample of "
                    f"`y_pred` (shape {y_pred.shape}); pass as many of each"
                )
            hit = binary_labels(labels)  # checked: 0 and 1 only (a float64 -0.0 adds as 0)
            hit = labels if labels.dtype == np.float64 else hit.astype(np.float64)
        else:
            raise ValueError(
                f"`y_pred` must hold the probability of class 1, shape (n,), or class "
                f"probabilities, shape (n, classes), got shape {y_pred.shape}"
            )
        if labels.shape[0] != confidence.shape[0]:
            raise ValueError(
                f"`y_true` of shape {y_true.shape} must hold one label per sample of `y_pred` "
                f"(shape {y_pred.shape}); pass as many of each"
            )
        bins = self._edges.searchsorted(confidence, side="left")
        weight = element_weights(sample_weight, confidence.shape)
        if weight is not None:
            confidence, hit = confidence * weight, hit * weight
        shape, dtype = (self.num_bins,), self.engine.dtype
        return {
            "bin_weight": OneHot.from_checked(bins, shape, weight, dtype),
            "bin_confidence": OneHot.from_checked(bins, shape, confidence, dtype),
            "bin_hits": OneHot.from_checked(bins, shape, hit, dtype),
        }

    def compute(self, state: Mapping[str, Any]) -> Any:
        """The gap between hits and confidence, over the bins (weighted as ``norm`` says).

        Computed in float64, returned rounded to the state's dtype: the history
        (kept in that dtype) then holds exactly what ``result()`` says.
        """
        dtype = np.asarray(state["bin_weight"]).dtype
        return float(dtype.type(self._gap(state)))

    def _gap(self, state: Mapping[str, Any]) -> float:
        weight = np.asarray(state["bin_weight"], dtype=np.float64)
        gap = np.abs(np.asarray(state["bin_hits"], np.float64) - state["bin_confidence"])
        total = weight.sum()
        if total <= 0:
            return 0.0
        if self.norm == "l1":
            return float(gap.sum() / total)
        per_bin = divide_no_nan(gap, weight)  # |accuracy - confidence| of each bin
        if self.norm == "max":
            return float(per_bin[weight > 0].max())
        return float(np.sqrt(np.dot(per_bin, gap) / total))
