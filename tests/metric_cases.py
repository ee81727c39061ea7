"""The one registry of metric cases: every test that needs a metric and its batches reads it.

Each :class:`Case` gives a constructor call, a generator of one valid batch (the
positional inputs, already as arrays) and, for the main case of each class, an
*oracle*: plain numpy, written here independently of the package, from the list of
``(inputs, weights)`` batches seen so far to the expected result.

- :data:`CASES`: one case per exported metric class, keyed by the class name, each
  with its oracle. Fuzzing, the hostile-input suite, save/load and the engine tests
  use it; they fail the day a metric is exported without a row here.
- :data:`VARIANTS`: further configurations of the same classes (other input shapes,
  thresholds, ``top_k``, averages, ...), for the generic tests only.
- :data:`GENERIC_CASES`: what ``tests/test_registry.py`` runs its generic tests on
  (repr, config, reset, merge, masking, bad input, history): ``CASES`` minus
  :data:`GENERIC_EXEMPT`, plus ``VARIANTS``.

A new metric is added here, in one place: a row in ``CASES`` (and, when its options
change the code path, rows in ``VARIANTS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import interactive_metrics as im

KERAS_EPSILON = 1e-7  # Keras' backend.epsilon(): the floor of |y_true| in MAPE and of MSLE's logs
Batch = tuple[tuple[np.ndarray, ...], np.ndarray]  # (inputs, per-sample weights)


def _absolute_difference(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return np.abs(y_true - y_pred)


def _stack(batches: list[Batch]) -> tuple[list[np.ndarray], np.ndarray]:
    arity = len(batches[0][0])
    inputs = [np.concatenate([b[0][i] for b in batches]) for i in range(arity)]
    return inputs, np.concatenate([b[1] for b in batches])


def _ratio(numerator: Any, denominator: Any) -> Any:
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, 0.0, numerator / safe)


def _pm(labels: np.ndarray) -> np.ndarray:
    """Hinge labels as Keras reads them: a 0 label is -1 (labels in {0, 1} become {-1, 1})."""
    return np.where(labels == 0, -1.0, labels)


def weighted_mean(per_sample: Callable[..., np.ndarray]) -> Callable[[list[Batch]], Any]:
    def oracle(batches: list[Batch]) -> Any:
        inputs, w = _stack(batches)
        return _ratio(np.sum(w * per_sample(*inputs)), np.sum(w))

    return oracle


def weighted_sum(per_sample: Callable[..., np.ndarray]) -> Callable[[list[Batch]], Any]:
    def oracle(batches: list[Batch]) -> Any:
        inputs, w = _stack(batches)
        return np.sum(w * per_sample(*inputs))

    return oracle


def _extreme(pick: Callable[..., Any], empty: float) -> Callable[[list[Batch]], Any]:
    def oracle(batches: list[Batch]) -> Any:
        (values,), w = _stack(batches)
        kept = values[w > 0]
        return pick(kept) if kept.size else empty

    return oracle


def _binary_counts(t: np.ndarray, p: np.ndarray, w: np.ndarray) -> dict[str, float]:
    positive, predicted = t == 1, p > 0.5
    return {
        "tp": np.sum(w * (positive & predicted)),
        "fp": np.sum(w * (~positive & predicted)),
        "tn": np.sum(w * (~positive & ~predicted)),
        "fn": np.sum(w * (positive & ~predicted)),
    }


def _counts_oracle(result: Callable[[dict[str, float]], Any]) -> Callable[[list[Batch]], Any]:
    def oracle(batches: list[Batch]) -> Any:
        (t, p), w = _stack(batches)
        return result(_binary_counts(t, p, w))

    return oracle


def _f_beta(beta: float, average: str | None) -> Callable[[list[Batch]], Any]:
    def oracle(batches: list[Batch]) -> Any:
        (t, p), w = _stack(batches)
        # threshold None (Keras): the top score of each sample counts, ties included, 0 never
        predicted = (p == p.max(axis=1, keepdims=True)) & (np.abs(p) > 1e-9)
        w = w[:, None]
        tp = np.sum(w * ((t == 1) & predicted), axis=0)
        fp = np.sum(w * ((t != 1) & predicted), axis=0)
        fn = np.sum(w * ((t == 1) & ~predicted), axis=0)
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        score = _ratio((1 + beta**2) * precision * recall, beta**2 * precision + recall)
        if average == "macro":
            return score.mean()
        return score

    return oracle


def _confusion(batches: list[Batch]) -> Any:
    (t, p), w = _stack(batches)
    matrix = np.zeros((3, 3))
    for i, j, weight in zip(t.astype(int), p.astype(int), w, strict=True):
        matrix[i, j] += weight
    return matrix


def _values(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return (rng.normal(size=n) * 10,)


def _regression(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    # Targets away from 0 and predictions >= 0: Keras' 1e-7 floors never bite.
    return rng.uniform(0.5, 5.0, n), rng.uniform(0.0, 5.0, n)


def _binary(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.integers(0, 2, n).astype(float), rng.random(n)


def _labels(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.integers(0, 3, n).astype(float), rng.integers(0, 3, n).astype(float)


def _one_hot(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return np.eye(3)[rng.integers(0, 3, n)], rng.random((n, 3))


def _sparse(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.integers(0, 3, n).astype(float), rng.random((n, 3))


def _argmax_hit(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    return (np.argmax(t, axis=1) == np.argmax(p, axis=1)).astype(float)


def _top2_hit(labels: np.ndarray, p: np.ndarray) -> np.ndarray:
    # tf.math.in_top_k: a label tied with the k-th largest score is in the top k
    second_largest = np.sort(p, axis=1)[:, -2]
    return (p[np.arange(len(p)), labels.astype(int)] >= second_largest).astype(float)


# -- the Keras catalogue: probabilistic, hinge, correlation (oracles written from Keras' formulas)


def _signs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.choice([-1.0, 1.0], n), rng.normal(size=n)


def _distributions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.dirichlet(np.ones(3), n), rng.dirichlet(np.ones(3), n)


def _vectors(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.normal(size=(n, 3)), rng.normal(size=(n, 3))


def _log_loss(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.minimum(np.maximum(p, KERAS_EPSILON), 1 - KERAS_EPSILON)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def _categorical_log_loss(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):  # a row of zeros is NaN, as in Keras
        q = p / p.sum(axis=1, keepdims=True)
    q = np.minimum(np.maximum(q, KERAS_EPSILON), 1 - KERAS_EPSILON)
    return -(t * np.log(q)).sum(axis=1)


def _sparse_log_loss(labels: np.ndarray, p: np.ndarray) -> np.ndarray:
    return _categorical_log_loss(np.eye(p.shape[1])[labels.astype(int)], p)


def _kl(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    t, p = np.clip(t, KERAS_EPSILON, 1), np.clip(p, KERAS_EPSILON, 1)
    return (t * np.log(t / p)).sum(axis=1)


def _categorical_hinge(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.maximum(((1 - t) * p).max(axis=1) - (t * p).sum(axis=1) + 1, 0)


def _cosine(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(t, axis=1) * np.linalg.norm(p, axis=1)
    return _ratio((t * p).sum(axis=1), norms)


def _pooled(kind: str) -> Callable[[list[Batch]], Any]:
    """Weighted Pearson or concordance correlation of every sample (NaN below 2 samples)."""

    def oracle(batches: list[Batch]) -> Any:
        (x, y), w = _stack(batches)
        if np.count_nonzero(w) < 2:
            return np.nan if np.sum(w) > 0 else 0.0
        mx, my = np.average(x, weights=w), np.average(y, weights=w)
        vx, vy = np.average((x - mx) ** 2, weights=w), np.average((y - my) ** 2, weights=w)
        cov = np.average((x - mx) * (y - my), weights=w)
        if kind == "pearson":
            return cov / np.sqrt(vx * vy)
        return 2 * cov / (vx + vy + (mx - my) ** 2 + KERAS_EPSILON)

    return oracle


def _r2(batches: list[Batch]) -> Any:
    (t, p), w = _stack(batches)
    if np.sum(w) == 0:
        return 0.0
    if np.count_nonzero(w) < 2:
        return 0.0 if np.sum(w * (t - p) ** 2) > 0 else np.nan
    mean = np.average(t, weights=w)
    score = 1 - np.sum(w * (t - p) ** 2) / np.sum(w * (t - mean) ** 2)
    return 0.0 if np.isinf(score) else score  # Keras: an infinite score counts 0


def _threshold_counts(batches: list[Batch], thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted counts of ``p > t`` at every threshold, by a dense comparison."""
    (t, p), w = _stack(batches)
    above = p[None, :] > thresholds[:, None]
    positive, negative = w * t, w * (1 - t)
    return {
        "tp": (above * positive).sum(axis=1),
        "fp": (above * negative).sum(axis=1),
        "fn": (~above * positive).sum(axis=1),
        "tn": (~above * negative).sum(axis=1),
    }


def _roc_auc(num_thresholds: int) -> Callable[[list[Batch]], Any]:
    inner = np.arange(1, num_thresholds - 1) / (num_thresholds - 1)
    thresholds = np.concatenate([[-KERAS_EPSILON], inner, [1 + KERAS_EPSILON]])

    def oracle(batches: list[Batch]) -> Any:
        c = _threshold_counts(batches, thresholds)
        tpr, fpr = _ratio(c["tp"], c["tp"] + c["fn"]), _ratio(c["fp"], c["fp"] + c["tn"])
        return np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2)

    return oracle


def _best_under(constraint: str, value: float, num_thresholds: int) -> Callable[..., Any]:
    inner = np.arange(1, num_thresholds - 1) / (num_thresholds - 1)
    thresholds = np.concatenate([[0.0], inner, [1.0]])

    def oracle(batches: list[Batch]) -> Any:
        c = _threshold_counts(batches, thresholds)
        rates = {
            "recall": _ratio(c["tp"], c["tp"] + c["fn"]),
            "precision": _ratio(c["tp"], c["tp"] + c["fp"]),
            "specificity": _ratio(c["tn"], c["tn"] + c["fp"]),
        }
        wanted = {"recall": "precision", "precision": "recall", "specificity": "recall"}
        if constraint == "sensitivity":
            constrained, dependent = rates["recall"], rates["specificity"]
        else:
            constrained, dependent = rates[constraint], rates[wanted[constraint]]
        return np.max(np.where(constrained >= value, dependent, 0.0))

    return oracle


def _iou(targets: list[int], labels_from: Callable[..., tuple[np.ndarray, np.ndarray]]) -> Any:
    def oracle(batches: list[Batch]) -> Any:
        (t, p), w = _stack(batches)
        actual, predicted = labels_from(t, p)
        scores = []
        for c in targets:
            hits = np.sum(w * ((actual == c) & (predicted == c)))
            union = np.sum(w * ((actual == c) | (predicted == c)))
            if union > 0:
                scores.append(hits / union)
        return np.sum(scores) / len(scores) if scores else 0.0

    return oracle


# -- agreement, ranking and calibration (oracles written from the textbook formulas)


def _weighted_one_hot(batches: list[Batch], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    (t, p), w = _stack(batches)
    return np.eye(k)[t.astype(int)], np.eye(k)[p.astype(int)], w


def _matthews(batches: list[Batch]) -> Any:
    # MCC as the correlation of the one-hot indicator matrices (Gorodkin's R_K)
    x, y, w = _weighted_one_hot(batches, 3)
    if np.sum(w) == 0:
        return 0.0
    mx, my = np.average(x, axis=0, weights=w), np.average(y, axis=0, weights=w)
    cov_xy = np.sum(w[:, None] * (x - mx) * (y - my))
    cov_xx = np.sum(w[:, None] * (x - mx) ** 2)
    cov_yy = np.sum(w[:, None] * (y - my) ** 2)
    return cov_xy / np.sqrt(cov_xx * cov_yy) if cov_xx * cov_yy > 0 else 0.0


def _linear_kappa(batches: list[Batch]) -> Any:
    (t, p), w = _stack(batches)
    if np.sum(w) == 0:
        return 0.0
    # 1 - (observed disagreement / W) / (chance disagreement / W²), in one division
    observed = np.sum(w * np.abs(t - p))
    true_totals = np.array([np.sum(w * (t == c)) for c in range(3)])
    predicted_totals = np.array([np.sum(w * (p == c)) for c in range(3)])
    distance = np.abs(np.arange(3)[:, None] - np.arange(3)[None, :])
    chance = np.sum(true_totals[:, None] * predicted_totals[None, :] * distance)
    kappa = 1 - np.sum(w) * observed / chance if chance > 0 else 0.0
    # Kappa is exactly 0 when all labels or all predictions are one class (the metric computes
    # that 0 exactly); this order of operations may leave a rounding error of ~1e-16 there.
    return 0.0 if abs(kappa) < 1e-12 else kappa


def _balanced_accuracy(batches: list[Batch]) -> Any:
    (t, p), w = _stack(batches)
    recalls = [
        np.sum(w * ((t == c) & (p == c))) / np.sum(w * (t == c))
        for c in range(3)
        if np.sum(w * (t == c)) > 0
    ]
    return np.mean(recalls) if recalls else 0.0


def _average_precision(num_thresholds: int) -> Callable[[list[Batch]], Any]:
    inner = np.arange(1, num_thresholds - 1) / (num_thresholds - 1)
    thresholds = np.concatenate([[-KERAS_EPSILON], inner, [1 + KERAS_EPSILON]])

    def oracle(batches: list[Batch]) -> Any:
        c = _threshold_counts(batches, thresholds)
        positives = c["tp"][0] + c["fn"][0]
        if positives <= 0:
            return 0.0
        recall = np.append(c["tp"] / positives, 0.0)
        precision = _ratio(c["tp"], c["tp"] + c["fp"])
        return np.sum((recall[:-1] - recall[1:]) * precision)

    return oracle


def _calibration_error(num_bins: int) -> Callable[[list[Batch]], Any]:
    def oracle(batches: list[Batch]) -> Any:
        (t, p), w = _stack(batches)
        if np.sum(w) == 0:
            return 0.0
        which = np.maximum(np.ceil(p * num_bins) - 1, 0)  # bins (b/B, (b+1)/B], 0 in the first
        gaps = [np.abs(np.sum(w * (t - p) * (which == b))) for b in range(num_bins)]
        return np.sum(gaps) / np.sum(w)

    return oracle


@dataclass(frozen=True)
class Case:
    """How to exercise one metric configuration: build it, make batches, know its result.

    ``oracle`` is None only for :data:`VARIANTS` (the generic tests need none).
    """

    make: Callable[..., im.Metric]
    batch: Callable[[np.random.Generator, int], tuple[np.ndarray, ...]]
    oracle: Callable[[list[Batch]], Any] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self, **options: Any) -> im.Metric:
        return self.make(**self.kwargs, **options)

    @property
    def cls(self) -> type:
        return type(self.build())


CASES: dict[str, Case] = {
    "Sum": Case(im.Sum, _values, weighted_sum(lambda v: v)),
    "Mean": Case(im.Mean, _values, weighted_mean(lambda v: v)),
    "Bootstrap": Case(  # its result is the wrapped metric's, on the unweighted data
        lambda **o: im.Bootstrap(im.Mean(), replicates=8, **o), _values, weighted_mean(lambda v: v)
    ),
    "Count": Case(im.Count, _values, lambda b: np.sum(_stack(b)[1])),
    "Min": Case(im.Min, _values, _extreme(np.min, np.inf)),
    "Max": Case(im.Max, _values, _extreme(np.max, -np.inf)),
    "MeanMetricWrapper": Case(
        lambda **o: im.MeanMetricWrapper(_absolute_difference, **o),
        _regression,
        weighted_mean(lambda t, p: np.abs(t - p)),
    ),
    "SumMetricWrapper": Case(
        lambda **o: im.SumMetricWrapper(_absolute_difference, **o),
        _regression,
        weighted_sum(lambda t, p: np.abs(t - p)),
    ),
    "MeanAbsoluteError": Case(
        im.MeanAbsoluteError, _regression, weighted_mean(lambda t, p: np.abs(t - p))
    ),
    "MeanSquaredError": Case(
        im.MeanSquaredError, _regression, weighted_mean(lambda t, p: (t - p) ** 2)
    ),
    "RootMeanSquaredError": Case(
        im.RootMeanSquaredError,
        _regression,
        lambda b: np.sqrt(weighted_mean(lambda t, p: (t - p) ** 2)(b)),
    ),
    "MeanAbsolutePercentageError": Case(
        im.MeanAbsolutePercentageError,
        _regression,
        weighted_mean(lambda t, p: 100 * np.abs(t - p) / np.maximum(np.abs(t), KERAS_EPSILON)),
    ),
    "MeanSquaredLogarithmicError": Case(
        im.MeanSquaredLogarithmicError,
        _regression,
        weighted_mean(
            lambda t, p: (
                (
                    np.log(1 + np.maximum(p, KERAS_EPSILON))
                    - np.log(1 + np.maximum(t, KERAS_EPSILON))
                )
                ** 2
            )
        ),
    ),
    "LogCoshError": Case(
        im.LogCoshError,
        _regression,
        weighted_mean(lambda t, p: np.logaddexp(p - t, t - p) - np.log(2)),
    ),
    "SumAbsoluteError": Case(
        im.SumAbsoluteError, _regression, weighted_sum(lambda t, p: np.abs(t - p))
    ),
    "SumSquaredError": Case(
        im.SumSquaredError, _regression, weighted_sum(lambda t, p: (t - p) ** 2)
    ),
    "Accuracy": Case(im.Accuracy, _labels, weighted_mean(lambda t, p: (t == p).astype(float))),
    "BinaryAccuracy": Case(
        im.BinaryAccuracy, _binary, weighted_mean(lambda t, p: ((p > 0.5) == (t == 1)) * 1.0)
    ),
    "SumBinaryAccuracy": Case(
        im.SumBinaryAccuracy, _binary, weighted_sum(lambda t, p: ((p > 0.5) == (t == 1)) * 1.0)
    ),
    "CategoricalAccuracy": Case(im.CategoricalAccuracy, _one_hot, weighted_mean(_argmax_hit)),
    "SparseCategoricalAccuracy": Case(
        im.SparseCategoricalAccuracy,
        _sparse,
        weighted_mean(lambda t, p: (np.argmax(p, axis=1) == t).astype(float)),
    ),
    "TopKCategoricalAccuracy": Case(
        im.TopKCategoricalAccuracy,
        _one_hot,
        weighted_mean(lambda t, p: _top2_hit(np.argmax(t, axis=1), p)),
        {"k": 2},
    ),
    "SparseTopKCategoricalAccuracy": Case(
        im.SparseTopKCategoricalAccuracy, _sparse, weighted_mean(_top2_hit), {"k": 2}
    ),
    "TruePositives": Case(im.TruePositives, _binary, _counts_oracle(lambda c: c["tp"])),
    "FalsePositives": Case(im.FalsePositives, _binary, _counts_oracle(lambda c: c["fp"])),
    "TrueNegatives": Case(im.TrueNegatives, _binary, _counts_oracle(lambda c: c["tn"])),
    "FalseNegatives": Case(im.FalseNegatives, _binary, _counts_oracle(lambda c: c["fn"])),
    "Precision": Case(
        im.Precision, _binary, _counts_oracle(lambda c: _ratio(c["tp"], c["tp"] + c["fp"]))
    ),
    "Recall": Case(
        im.Recall, _binary, _counts_oracle(lambda c: _ratio(c["tp"], c["tp"] + c["fn"]))
    ),
    "FBetaScore": Case(
        im.FBetaScore, _one_hot, _f_beta(2.0, None), {"num_classes": 3, "beta": 2.0}
    ),
    "F1Score": Case(
        im.F1Score, _one_hot, _f_beta(1.0, "macro"), {"num_classes": 3, "average": "macro"}
    ),
    "ConfusionMatrix": Case(im.ConfusionMatrix, _labels, _confusion, {"num_classes": 3}),
    "Specificity": Case(
        im.Specificity, _binary, _counts_oracle(lambda c: _ratio(c["tn"], c["tn"] + c["fp"]))
    ),
    "MatthewsCorrelation": Case(im.MatthewsCorrelation, _labels, _matthews, {"num_classes": 3}),
    "CohenKappa": Case(
        im.CohenKappa, _labels, _linear_kappa, {"num_classes": 3, "weights": "linear"}
    ),
    "BalancedAccuracy": Case(im.BalancedAccuracy, _labels, _balanced_accuracy, {"num_classes": 3}),
    "AveragePrecision": Case(
        im.AveragePrecision, _binary, _average_precision(50), {"num_thresholds": 50}
    ),
    "ExpectedCalibrationError": Case(
        im.ExpectedCalibrationError, _binary, _calibration_error(5), {"num_bins": 5}
    ),
    "LogLoss": Case(im.LogLoss, _binary, weighted_mean(_log_loss)),
    "BinaryCrossentropy": Case(im.BinaryCrossentropy, _binary, weighted_mean(_log_loss)),
    "CategoricalCrossentropy": Case(
        im.CategoricalCrossentropy, _one_hot, weighted_mean(_categorical_log_loss)
    ),
    "SparseCategoricalCrossentropy": Case(
        im.SparseCategoricalCrossentropy, _sparse, weighted_mean(_sparse_log_loss)
    ),
    "KLDivergence": Case(im.KLDivergence, _distributions, weighted_mean(_kl)),
    "Poisson": Case(
        im.Poisson, _regression, weighted_mean(lambda t, p: p - t * np.log(p + KERAS_EPSILON))
    ),
    "Hinge": Case(im.Hinge, _signs, weighted_mean(lambda t, p: np.maximum(1 - _pm(t) * p, 0))),
    "SquaredHinge": Case(
        im.SquaredHinge, _signs, weighted_mean(lambda t, p: np.maximum(1 - _pm(t) * p, 0) ** 2)
    ),
    "CategoricalHinge": Case(im.CategoricalHinge, _one_hot, weighted_mean(_categorical_hinge)),
    "CosineSimilarity": Case(im.CosineSimilarity, _vectors, weighted_mean(_cosine)),
    "PearsonCorrelation": Case(im.PearsonCorrelation, _regression, _pooled("pearson")),
    "ConcordanceCorrelation": Case(im.ConcordanceCorrelation, _regression, _pooled("concordance")),
    "R2Score": Case(im.R2Score, _regression, _r2),
    "AUC": Case(im.AUC, _binary, _roc_auc(50), {"num_thresholds": 50}),
    "PrecisionAtRecall": Case(
        im.PrecisionAtRecall,
        _binary,
        _best_under("recall", 0.6, 20),
        {"recall": 0.6, "num_thresholds": 20},
    ),
    "RecallAtPrecision": Case(
        im.RecallAtPrecision,
        _binary,
        _best_under("precision", 0.5, 20),
        {"precision": 0.5, "num_thresholds": 20},
    ),
    "SensitivityAtSpecificity": Case(
        im.SensitivityAtSpecificity,
        _binary,
        _best_under("specificity", 0.4, 20),
        {"specificity": 0.4, "num_thresholds": 20},
    ),
    "SpecificityAtSensitivity": Case(
        im.SpecificityAtSensitivity,
        _binary,
        _best_under("sensitivity", 0.7, 20),
        {"sensitivity": 0.7, "num_thresholds": 20},
    ),
    "IoU": Case(
        im.IoU,
        _labels,
        _iou([0, 2], lambda t, p: (t, p)),
        {"num_classes": 3, "target_class_ids": [0, 2]},
    ),
    "MeanIoU": Case(im.MeanIoU, _labels, _iou([0, 1, 2], lambda t, p: (t, p)), {"num_classes": 3}),
    "BinaryIoU": Case(im.BinaryIoU, _binary, _iou([0, 1], lambda t, p: (t, p > 0.5))),
    "OneHotIoU": Case(
        im.OneHotIoU,
        _one_hot,
        _iou([1], lambda t, p: (t.argmax(axis=1), p.argmax(axis=1))),
        {"num_classes": 3, "target_class_ids": [1]},
    ),
    "OneHotMeanIoU": Case(
        im.OneHotMeanIoU,
        _one_hot,
        _iou([0, 1, 2], lambda t, p: (t.argmax(axis=1), p.argmax(axis=1))),
        {"num_classes": 3},
    ),
}

# -- further configurations, for the generic tests (tests/test_registry.py) ----------------


def _rows(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return (rng.normal(size=(n, 3)),)


def _positive_rows(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.uniform(0.5, 3, size=(n, 2)), rng.uniform(0, 3, size=(n, 2))


def _label_columns(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.integers(0, 3, size=(n, 1)).astype(float), rng.integers(0, 3, size=(n, 1))


def _integer_binary(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.integers(0, 2, size=n), rng.random(n)


def _binary_rows(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.integers(0, 2, size=(n, 4)), rng.random((n, 4))


def _one_hot4(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return np.eye(4)[rng.integers(0, 4, size=n)], rng.random((n, 4))


def _sparse4(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.integers(0, 4, size=n), rng.random((n, 4))


def _sorted_ids(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.integers(0, 4, size=n), np.argsort(-rng.random((n, 4)), axis=1)


def _steps(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.integers(0, 4, size=(n, 1)), rng.random((n, 2, 4))


def _class_pairs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return rng.integers(0, 3, size=n), rng.integers(0, 3, size=n)


VARIANTS: dict[str, Case] = {
    "Sum-rows": Case(im.Sum, _rows),
    "Mean-rows": Case(im.Mean, _rows),
    "Min-rows": Case(im.Min, _rows),
    "Accuracy-columns": Case(im.Accuracy, _label_columns),
    "BinaryAccuracy-threshold": Case(im.BinaryAccuracy, _integer_binary, kwargs={"threshold": 0.3}),
    "BinaryAccuracy-rows": Case(im.BinaryAccuracy, _binary_rows),
    "SumBinaryAccuracy-rows": Case(im.SumBinaryAccuracy, _binary_rows),
    "SparseTopKCategoricalAccuracy-sorted_ids": Case(
        lambda **kw: im.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True, **kw),
        _sorted_ids,
    ),
    "SparseCategoricalAccuracy-steps": Case(im.SparseCategoricalAccuracy, _steps),
    "FalsePositives-thresholds": Case(
        lambda **kw: im.FalsePositives([0.2, 0.7], **kw), _integer_binary
    ),
    "TrueNegatives-rows": Case(lambda **kw: im.TrueNegatives([0.4, 0.6], **kw), _binary_rows),
    "FalseNegatives-threshold": Case(lambda **kw: im.FalseNegatives(0.8, **kw), _integer_binary),
    "Precision-thresholds": Case(lambda **kw: im.Precision([0.1, 0.5, 0.9], **kw), _integer_binary),
    "Precision-top_k": Case(lambda **kw: im.Precision(top_k=2, **kw), _binary_rows),
    "Precision-class_id": Case(lambda **kw: im.Precision(class_id=1, **kw), _binary_rows),
    "Recall-top_k-class_id": Case(lambda **kw: im.Recall(0.3, 2, 3, **kw), _binary_rows),
    "FBetaScore-threshold": Case(
        lambda **kw: im.FBetaScore(4, beta=2.0, threshold=0.4, **kw), _binary_rows
    ),
    "FBetaScore-micro": Case(lambda **kw: im.FBetaScore(4, "micro", **kw), _binary_rows),
    "F1Score-macro": Case(lambda **kw: im.F1Score(4, "macro", 0.5, **kw), _binary_rows),
    "F1Score-weighted": Case(lambda **kw: im.F1Score(4, "weighted", **kw), _one_hot4),
    "Precision-labels-macro": Case(
        lambda **kw: im.Precision(num_classes=4, average="macro", **kw), _sparse4
    ),
    "Recall-labels": Case(lambda **kw: im.Recall(num_classes=3, **kw), _class_pairs),
    "FBetaScore-labels-weighted": Case(
        lambda **kw: im.FBetaScore(4, "weighted", 0.5, **kw), _sparse4
    ),
    "F1Score-labels-micro": Case(lambda **kw: im.F1Score(3, "micro", **kw), _class_pairs),
    "Specificity-labels": Case(
        lambda **kw: im.Specificity(num_classes=4, average="weighted", **kw), _sparse4
    ),
    "MatthewsCorrelation-binary": Case(im.MatthewsCorrelation, _integer_binary),
    "MatthewsCorrelation-classes": Case(lambda **kw: im.MatthewsCorrelation(4, **kw), _sparse4),
    "CohenKappa-quadratic": Case(
        lambda **kw: im.CohenKappa(3, weights="quadratic", **kw), _class_pairs
    ),
    "BalancedAccuracy-adjusted": Case(
        lambda **kw: im.BalancedAccuracy(4, adjusted=True, **kw), _sparse4
    ),
    "AveragePrecision-default_thresholds": Case(im.AveragePrecision, _integer_binary),
    "AveragePrecision-rows": Case(
        lambda **kw: im.AveragePrecision(20, class_id=1, **kw), _binary_rows
    ),
    "ExpectedCalibrationError-default_bins": Case(im.ExpectedCalibrationError, _integer_binary),
    "ExpectedCalibrationError-top_label": Case(
        lambda **kw: im.ExpectedCalibrationError(10, "max", **kw), _sparse4
    ),
    "MeanSquaredError-rows": Case(im.MeanSquaredError, _positive_rows),
    "MeanAbsolutePercentageError-rows": Case(im.MeanAbsolutePercentageError, _positive_rows),
    "MeanSquaredLogarithmicError-rows": Case(im.MeanSquaredLogarithmicError, _positive_rows),
    "SumAbsoluteError-rows": Case(im.SumAbsoluteError, _positive_rows),
    "BinaryCrossentropy-rows": Case(im.BinaryCrossentropy, _binary_rows),
    "SparseCategoricalCrossentropy-ignore": Case(
        lambda **kw: im.SparseCategoricalCrossentropy(ignore_class=0, **kw), _sparse4
    ),
    "Poisson-rows": Case(im.Poisson, _positive_rows),
    "Hinge-rows": Case(im.Hinge, _binary_rows),
    "PearsonCorrelation-rows": Case(im.PearsonCorrelation, _positive_rows),
    "AUC-default_thresholds": Case(im.AUC, _integer_binary),
    "AUC-PR-rows": Case(lambda **kw: im.AUC(20, "PR", **kw), _binary_rows),
    "AUC-multi_label": Case(
        lambda **kw: im.AUC(10, multi_label=True, num_labels=4, label_weights=[1, 2, 0, 1], **kw),
        _binary_rows,
    ),
    "PrecisionAtRecall-default_thresholds": Case(
        lambda **kw: im.PrecisionAtRecall(0.5, **kw), _integer_binary
    ),
    "RecallAtPrecision-class_id": Case(
        lambda **kw: im.RecallAtPrecision(0.5, 30, 2, **kw), _binary_rows
    ),
    "SensitivityAtSpecificity-default_thresholds": Case(
        lambda **kw: im.SensitivityAtSpecificity(0.5, **kw), _integer_binary
    ),
    "SpecificityAtSensitivity-one_threshold": Case(
        lambda **kw: im.SpecificityAtSensitivity(0.5, 1, **kw), _integer_binary
    ),
    "MeanIoU-ignore_class": Case(lambda **kw: im.MeanIoU(3, ignore_class=2, **kw), _class_pairs),
    "MeanIoU-rows": Case(lambda **kw: im.MeanIoU(3, **kw), _label_columns),
    "OneHotIoU-two_targets": Case(lambda **kw: im.OneHotIoU(4, [1, 2], **kw), _one_hot4),
    "R2Score-outputs": Case(lambda **kw: im.R2Score(None, num_outputs=2, **kw), _positive_rows),
}

GENERIC_EXEMPT: dict[str, str] = {
    # Bootstrap's rows each draw fixed replicate weights, so two Bootstraps merge only
    # over disjoint row ranges (a row's weights must never repeat), and its state is
    # float64 whatever `dtype`: the generic merge-equals-union and float32 tests do not
    # apply. tests/test_bootstrap.py checks its merge, replay, save/load and streams;
    # its CASES row still runs it through fuzzing, hostile inputs and save/load.
    "Bootstrap": "tests/test_bootstrap.py",
}
"""Classes in :data:`CASES` the generic tests skip, each with where it is tested instead."""

GENERIC_CASES: dict[str, Case] = {
    **{name: case for name, case in CASES.items() if name not in GENERIC_EXEMPT},
    **VARIANTS,
}
"""Every configuration the generic tests of ``tests/test_registry.py`` run on."""

CUSTOM_OBJECTS = {"absolute_difference": _absolute_difference}
"""What ``save``/``load`` need for the wrappers' test function (not a package function)."""


def exported_metric_classes() -> dict[str, type[im.Metric]]:
    """Every Metric subclass that ``interactive_metrics`` (or its ``metrics``) exports, by name."""
    return {
        name: obj
        for module in (im, im.metrics)
        for name in module.__all__
        if isinstance(obj := getattr(module, name), type)
        and issubclass(obj, im.Metric)
        and obj is not im.Metric
    }
