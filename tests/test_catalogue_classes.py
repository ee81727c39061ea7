"""Class-label metrics beyond Keras against scikit-learn, after every update of a weighted stream.

``average=`` of Precision/Recall/F-beta on integer labels, Specificity, Matthews
correlation, Cohen's kappa, balanced accuracy, average precision and log loss are
compared with ``sklearn.metrics`` (``sample_weight`` passed to both) after each batch;
the expected calibration error with hand-checked numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import polars as pl
import pytest
from scipy import special
from sklearn import metrics as skm

import interactive_metrics as im
from interactive_metrics.engine import CHUNK

K = 4


def label_stream(rng: np.random.Generator, batches: int = 5) -> Iterator[tuple]:
    """Weighted batches of labels in [0, K); class 3 is rare (absent from some prefixes).

    ``y_pred`` alternates between labels and one score per class.
    """
    for i in range(batches):
        n = int(rng.integers(3, 30))
        t = rng.choice(K, n, p=[0.4, 0.35, 0.2, 0.05])
        scores = rng.random((n, K)) + 1.5 * np.eye(K)[t] * (rng.random((n, 1)) < 0.6)
        w = rng.uniform(0.1, 2.0, n) * (rng.random(n) > 0.2)
        predicted = scores.argmax(axis=1)
        yield t, (scores if i % 2 else predicted), predicted, w


class Seen:
    """Everything seen so far, concatenated."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {}

    def add(self, **arrays: np.ndarray) -> dict[str, np.ndarray]:
        for key, value in arrays.items():
            self.parts.setdefault(key, []).append(np.asarray(value))
        return {key: np.concatenate(value) for key, value in self.parts.items()}


def quiet(function, *args, **kwargs):
    """A scikit-learn reference value, without its warnings (undefined classes, etc.)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_label_averages_match_sklearn_after_every_update(average) -> None:
    rng = np.random.default_rng(11)
    metrics = {
        "precision": im.Precision(num_classes=K, average=average),
        "recall": im.Recall(num_classes=K, average=average),
        "f1": im.F1Score(K, average=average),
        "f_half": im.FBetaScore(K, average=average, beta=0.5),
        "f_two": im.FBetaScore(K, average=average, beta=2),
    }
    references = {
        "precision": skm.precision_score,
        "recall": skm.recall_score,
        "f1": skm.f1_score,
        "f_half": lambda *a, **k: skm.fbeta_score(*a, beta=0.5, **k),
        "f_two": lambda *a, **k: skm.fbeta_score(*a, beta=2.0, **k),
    }
    seen = Seen()
    for t, p, predicted, w in label_stream(rng):
        for metric in metrics.values():
            metric.update_state(t, p, sample_weight=w)
        all_ = seen.add(t=t, p=predicted, w=w)
        for name, metric in metrics.items():
            want = references[name](
                all_["t"],
                all_["p"],
                labels=range(K),
                average=average,
                sample_weight=all_["w"],
                zero_division=0,
            )
            np.testing.assert_allclose(metric.result(), want, rtol=1e-12, atol=1e-15, err_msg=name)


def test_specificity_is_recall_with_the_labels_swapped() -> None:
    rng = np.random.default_rng(12)
    binary, curve = im.Specificity(), im.Specificity(thresholds=[0.2, 0.5, 0.8])
    per_class = im.Specificity(num_classes=K)
    macro = im.Specificity(num_classes=K, average="macro")
    seen = Seen()
    for t, p, predicted, w in label_stream(rng):
        positive = (t == 0).astype(float)
        score = np.clip(special.expit(rng.normal(size=t.size) + 2 * positive - 1), 0, 1)
        binary.update_state(positive, score, sample_weight=w)
        curve.update_state(positive, score, sample_weight=w)
        per_class.update_state(t, p, sample_weight=w)
        macro.update_state(t, p, sample_weight=w)
        all_ = seen.add(y=positive, s=score, t=t, p=predicted, w=w)
        y, s, w_all = all_["y"], all_["s"], all_["w"]

        def negatives_found(predicted_positive, y=y, w_all=w_all) -> float:
            return quiet(
                skm.recall_score,
                y,
                predicted_positive,
                pos_label=0,
                sample_weight=w_all,
                zero_division=0,
            )

        assert binary.result() == pytest.approx(negatives_found(s > 0.5), rel=1e-12)
        want = [negatives_found(s > threshold) for threshold in (0.2, 0.5, 0.8)]
        np.testing.assert_allclose(curve.result(), want, rtol=1e-12)
        want = [
            quiet(
                skm.recall_score,
                all_["t"] != c,
                all_["p"] != c,
                sample_weight=w_all,
                zero_division=0,
            )
            for c in range(K)
        ]
        np.testing.assert_allclose(per_class.result(), want, rtol=1e-12, atol=1e-15)
        assert macro.result() == pytest.approx(np.mean(want), rel=1e-12)


def test_agreement_metrics_match_sklearn_after_every_update() -> None:
    rng = np.random.default_rng(13)
    metrics = {
        "mcc": im.MatthewsCorrelation(K),
        "kappa": im.CohenKappa(K),
        "linear": im.CohenKappa(K, weights="linear"),
        "quadratic": im.CohenKappa(K, weights="quadratic"),
        "balanced": im.BalancedAccuracy(K),
        "adjusted": im.BalancedAccuracy(K, adjusted=True),
    }
    binary_mcc, binary_balanced = im.MatthewsCorrelation(), im.BalancedAccuracy(threshold=0.3)
    seen = Seen()
    for t, p, predicted, w in label_stream(rng):
        y = (t == 1).astype(float)
        score = rng.random(t.size)
        for metric in metrics.values():
            metric.update_state(t, p, sample_weight=w)
        binary_mcc.update_state(y, score, sample_weight=w)
        binary_balanced.update_state(y, score, sample_weight=w)
        all_ = seen.add(t=t, p=predicted, w=w, y=y, s=score)
        t_, p_, w_ = all_["t"], all_["p"], all_["w"]
        want = {
            "mcc": skm.matthews_corrcoef(t_, p_, sample_weight=w_),
            "kappa": skm.cohen_kappa_score(t_, p_, labels=range(K), sample_weight=w_),
            "linear": skm.cohen_kappa_score(
                t_, p_, labels=range(K), weights="linear", sample_weight=w_
            ),
            "quadratic": skm.cohen_kappa_score(
                t_, p_, labels=range(K), weights="quadratic", sample_weight=w_
            ),
            "balanced": quiet(skm.balanced_accuracy_score, t_, p_, sample_weight=w_),
            "adjusted": quiet(skm.balanced_accuracy_score, t_, p_, sample_weight=w_, adjusted=True),
        }
        for name, metric in metrics.items():
            assert metric.result() == pytest.approx(want[name], rel=1e-12, abs=1e-15), name
        y_, s_ = all_["y"], all_["s"]
        want_mcc = skm.matthews_corrcoef(y_, s_ > 0.5, sample_weight=w_)
        assert binary_mcc.result() == pytest.approx(want_mcc, rel=1e-12, abs=1e-15)
        want_balanced = quiet(skm.balanced_accuracy_score, y_, s_ > 0.3, sample_weight=w_)
        assert binary_balanced.result() == pytest.approx(want_balanced, rel=1e-12)


def test_agreement_hand_checked_and_before_any_sample() -> None:
    # perfect agreement, total disagreement, and nothing yet
    assert im.MatthewsCorrelation(3)([0, 1, 2], [0, 1, 2]) == pytest.approx(1.0)
    assert im.MatthewsCorrelation()([0, 1, 0, 1], [1, 0, 1, 0]) == pytest.approx(-1.0)
    assert im.CohenKappa(3)([0, 1, 2], [0, 1, 2]) == pytest.approx(1.0)
    for metric in (im.MatthewsCorrelation(3), im.CohenKappa(3), im.BalancedAccuracy(3)):
        assert metric.result() == 0.0
    # one predicted class for everything: chance-level agreement, exactly 0 whatever the order
    m = im.CohenKappa(3, weights="linear")
    m.update_state([2, 1], [0, 0], sample_weight=[0.1, 0.7])
    m.update_state([1], [0], sample_weight=[0.3])
    assert m.result() == 0.0
    # balanced accuracy: recalls 1/1, 1/3 (class 2 unseen in y_true is left out)
    assert im.BalancedAccuracy(3)([0, 1, 1, 1], [0, 1, 2, 0]) == pytest.approx((1 + 1 / 3) / 2)


def test_label_metrics_refuse_bad_labels_and_keep_their_state() -> None:
    m = im.MatthewsCorrelation(3)
    m.update_state([0, 1], [0, 1])
    before = m.state
    with pytest.raises(ValueError, match=r"`y_true` must hold class labels in \[0, 3\)"):
        m.update_state([0, 3], [0, 1])
    with pytest.raises(ValueError, match=r"`y_pred` must hold one class label per sample"):
        m.update_state([0, 1], [[0.1, 0.9], [0.2, 0.8]])  # 2 scores for 3 classes
    with pytest.raises(ValueError, match=r"`y_pred` must hold probabilities in \[0, 1\]"):
        im.MatthewsCorrelation().update_state([0, 1], [0.3, 1.7])
    np.testing.assert_array_equal(m.state["confusion_matrix"], before["confusion_matrix"])


def test_average_precision_equals_sklearn_on_bucketed_scores_and_is_close_on_raw() -> None:
    rng = np.random.default_rng(14)
    ap = im.AveragePrecision(num_thresholds=2001)
    thresholds = np.array(ap.threshold_values)
    seen = Seen()
    for _ in range(4):
        n = 400
        t = rng.integers(0, 2, n)
        p = np.clip(special.expit(rng.normal(size=n) + 1.5 * t - 0.7), 0, 1)
        w = rng.uniform(0.2, 2, n)
        ap.update_state(t, p, sample_weight=w)
        all_ = seen.add(t=t, p=p, w=w)
        # The state ties every score of one bucket: sklearn on the bucket index agrees exactly.
        bucket = np.searchsorted(thresholds, all_["p"], side="left")
        exact = skm.average_precision_score(all_["t"], bucket, sample_weight=all_["w"])
        assert ap.result() == pytest.approx(exact, rel=1e-12)
        # On the raw scores it differs by at most the recall each bucket adds times the most
        # the precision can move within that bucket (see the AveragePrecision notes).
        positives = ap.state["positives_by_bucket"]
        weight = positives + ap.state["negatives_by_bucket"]
        above = np.cumsum(weight[::-1])[::-1] - weight  # weight in higher buckets
        with np.errstate(divide="ignore", invalid="ignore"):
            swing = np.where(weight > 0, np.minimum(1.0, 2 * weight / (above + weight)), 0.0)
        bound = np.sum(positives * swing) / positives.sum()
        raw = skm.average_precision_score(all_["t"], all_["p"], sample_weight=all_["w"])
        assert abs(ap.result() - raw) <= bound  # a worst case: 0.07 to 0.03 here
        # In practice the error is about a bucket's width (1 / 2000) times the slope of
        # precision against score, below 1 for these scores (measured: about 1e-4).
        assert abs(ap.result() - raw) < 1 / (ap.num_thresholds - 1)


def test_average_precision_merges_exactly_and_is_0_without_positives() -> None:
    rng = np.random.default_rng(15)
    t, p = rng.integers(0, 2, 60), rng.random(60)
    whole = im.AveragePrecision(50)
    whole.update_state(t, p)
    left, right = im.AveragePrecision(50), im.AveragePrecision(50)
    left.update_state(t[:25], p[:25])
    right.update_state(t[25:], p[25:])
    left.merge_state([right])
    assert left.result() == whole.result()
    assert im.AveragePrecision()([0, 0], [0.2, 0.9]) == 0.0
    assert im.AveragePrecision(thresholds=[0.5])([1, 0], [0.9, 0.2]) == 1.0


def test_log_loss_matches_sklearn_after_every_update() -> None:
    rng = np.random.default_rng(16)
    m = im.LogLoss()
    assert m.name == "log_loss"
    seen = Seen()
    for _ in range(4):
        n = int(rng.integers(5, 40))
        t, p = rng.integers(0, 2, n), rng.uniform(0.01, 0.99, n)
        w = rng.uniform(0.0, 2.0, n)
        m.update_state(t, p, sample_weight=w)
        all_ = seen.add(t=t, p=p, w=w)
        want = skm.log_loss(all_["t"], all_["p"], sample_weight=all_["w"], labels=[0, 1])
        assert m.result() == pytest.approx(want, rel=1e-12)


def test_expected_calibration_error_hand_checked() -> None:
    # binary, 2 bins (split at 0.5): low bin {0.3: 0, 0.2: 1}, high bin {0.9: 1, 0.6: 1}
    m = im.ExpectedCalibrationError(num_bins=2)
    m.update_state([1, 0, 1, 1], [0.9, 0.3, 0.6, 0.2])
    # gaps |1 - 0.5| and |2 - 1.5| over 4 samples
    assert m.result() == pytest.approx(0.25)
    # weights: 0.2 (label 1) counts 3 times: low bin hits 3, confidence 0.3 + 0.6 = 0.9
    weighted = im.ExpectedCalibrationError(num_bins=2)
    weighted.update_state([1, 0, 1, 1], [0.9, 0.3, 0.6, 0.2], sample_weight=[1, 1, 1, 3])
    assert weighted.result() == pytest.approx((abs(3 - 0.9) + abs(2 - 1.5)) / 6)
    # top-label, 5 bins: confidences 0.7 (right), 0.5 (wrong), 0.4 (right; on the edge 0.4,
    # so in the bin (0.2, 0.4]) -> gaps 0.3, 0.5, 0.6 over 3 samples
    y_pred = [[0.7, 0.2, 0.1], [0.4, 0.5, 0.1], [0.3, 0.3, 0.4]]
    top = im.ExpectedCalibrationError(num_bins=5)
    top.update_state([0, 0, 2], y_pred)
    assert top.result() == pytest.approx(1.4 / 3)
    np.testing.assert_allclose(top.state["bin_weight"], [0, 1, 1, 1, 0])
    assert im.ExpectedCalibrationError(5, "max")([0, 0, 2], y_pred) == pytest.approx(0.6)
    rms = np.sqrt((0.3**2 + 0.5**2 + 0.6**2) / 3)
    assert im.ExpectedCalibrationError(5, "l2")([0, 0, 2], y_pred) == pytest.approx(rms)
    # perfectly calibrated in every bin, and nothing yet
    assert im.ExpectedCalibrationError(1)([1, 0], [0.5, 0.5]) == 0.0
    assert im.ExpectedCalibrationError().result() == 0.0


def test_expected_calibration_error_merges_and_streams_exactly() -> None:
    rng = np.random.default_rng(17)
    labels, scores = rng.integers(0, 3, 90), rng.dirichlet(np.ones(3), 90)
    whole = im.ExpectedCalibrationError(10)
    whole.update_state(labels, scores)
    parts = [im.ExpectedCalibrationError(10) for _ in range(3)]
    for i, part in enumerate(parts):
        part.update_state(labels[i * 30 : (i + 1) * 30], scores[i * 30 : (i + 1) * 30])
    parts[0].merge_state(parts[1:])
    np.testing.assert_allclose(parts[0].state["bin_hits"], whole.state["bin_hits"])
    assert parts[0].result() == pytest.approx(whole.result(), rel=1e-12)
    with pytest.raises(ValueError, match=r"`y_pred` must hold probabilities in \[0, 1\]"):
        whole.update_state([0], [[0.5, 1.5, 0.0]])


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: im.FBetaScore(3, beta=0.0), r"`beta` must be a number > 0, got 0.0"),
        (lambda: im.FBetaScore(3, beta=-1), r"`beta` must be a number > 0, got -1.0"),
        (lambda: im.FBetaScore(3, beta="2"), r"`beta` must be a number > 0, got '2'"),
        (lambda: im.FBetaScore(3, beta=True), r"`beta` must be a number > 0, got True"),
        (lambda: im.FBetaScore(3, beta=float("inf")), r"`beta` must be a number > 0, got inf"),
        (lambda: im.FBetaScore(3, beta=float("nan")), r"`beta` must be a number > 0, got nan"),
        (lambda: im.F1Score(3, threshold=0.0), r"`threshold` must be a number in \(0, 1\]"),
        (lambda: im.F1Score(3, threshold=1.5), r"`threshold` must be a number in \(0, 1\]"),
        (lambda: im.F1Score(3, threshold="0.5"), r"`threshold` must be .*got '0.5'"),
        (lambda: im.F1Score(3, threshold=False), r"`threshold` must be .*got False"),
        (lambda: im.Precision(average="macro"), r"`average` 'macro' .* needs `num_classes`"),
        (lambda: im.Recall(num_classes=1), r"`num_classes` must be an integer >= 2, got 1"),
        (lambda: im.Precision(0.5, num_classes=3), r"`thresholds` does not apply"),
        (lambda: im.Specificity(top_k=2, num_classes=3), r"`top_k` does not apply"),
        (lambda: im.CohenKappa(3, weights="square"), r"`weights` must be one of"),
        (lambda: im.BalancedAccuracy(adjusted=1), r"`adjusted` must be True or False"),
        (lambda: im.ExpectedCalibrationError(0), r"`num_bins` must be an integer >= 1"),
        (lambda: im.ExpectedCalibrationError(norm="l3"), r"`norm` must be one of"),
        (lambda: im.AveragePrecision(1), r"`num_thresholds` must be an integer >= 2"),
    ],
)
def test_argument_checks_are_value_errors(make, match) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_keras_accepts_these_arguments_and_so_do_we() -> None:
    assert im.F1Score(3, threshold=1.0).threshold == 1.0
    assert im.FBetaScore(3, beta=2).beta == 2.0  # Keras wants a float; an int is a number
    assert im.FBetaScore(3, beta=np.float32(0.5)).beta == 0.5


def test_integer_labels_refuse_a_threshold_and_keep_the_state() -> None:
    m = im.F1Score(3, threshold=0.5)
    m.update_state(np.eye(3)[[0, 1]], [[0.9, 0.2, 0.1], [0.1, 0.7, 0.1]])
    before = m.state
    with pytest.raises(ValueError, match=r"`threshold` applies to one-hot or multi-label"):
        m.update_state([0, 1], [[0.9, 0.2, 0.1], [0.1, 0.7, 0.1]])
    assert all(np.array_equal(m.state[k], before[k]) for k in before)


def test_one_hot_and_integer_labels_give_the_same_f1() -> None:
    rng = np.random.default_rng(18)
    t, scores = rng.integers(0, K, 50), rng.random((50, K))
    from_labels = im.F1Score(K, average="macro")(t, scores)
    # one-hot targets with one predicted class per row (threshold=None: the top score)
    from_one_hot = im.F1Score(K, average="macro")(np.eye(K)[t], scores)
    assert from_labels == pytest.approx(from_one_hot, rel=1e-12)


def test_top_k_with_a_1d_y_pred_ranks_the_batch_as_keras() -> None:
    # Keras' test numbers (precision_test.py / recall_test.py, test_unweighted_top_k):
    # the 3 highest predictions of the batch (0.5, 0.2, 0.2) are the positive ones
    y_true, y_pred = np.array([0, 1, 1, 0, 0]), np.array([0.2, 0.1, 0.5, 0, 0.2])
    assert im.Precision(top_k=3)(y_true, y_pred) == pytest.approx(1 / 3)
    assert im.Recall(top_k=3)(y_true, y_pred) == pytest.approx(1 / 2)
    # the batch as one row of scores gives the same state
    m, row = im.Precision(top_k=3), im.Precision(top_k=3)
    m.update_state(y_true, y_pred)
    row.update_state(y_true[None], y_pred[None])
    assert m.state == row.state == {"true_positives": 1.0, "false_positives": 2.0}


def test_top_k_with_a_1d_y_pred_hand_checked_weights_thresholds_and_ties() -> None:
    y_true = np.array([1, 0, 1, 1, 0, 1])
    y_pred = np.array([0.9, 0.8, 0.3, 0.8, 0.7, 0.1])
    w = np.array([1.0, 2.0, 3.0, 0.5, 1.0, 4.0])
    # top 3: 0.9 (sample 0), then the tie of 0.8: samples 1 and 3, the earlier first
    p = im.Precision(top_k=3)
    p.update_state(y_true, y_pred, sample_weight=w)
    assert p.state == {"true_positives": 1.0 + 0.5, "false_positives": 2.0}
    # top 2 (samples 0, 1), then above 0.85: sample 0 only
    r = im.Recall(thresholds=[0.5, 0.85], top_k=2)
    r.update_state(y_true, y_pred, sample_weight=w)
    np.testing.assert_array_equal(r.state["true_positives"], [1.0, 1.0])
    np.testing.assert_array_equal(r.state["false_negatives"], [7.5, 7.5])
    # a second batch is ranked on its own: its best sample is kept, whatever came before
    p.update_state([1, 0], [0.05, 0.01])
    assert p.state == {"true_positives": 2.5, "false_positives": 3.0}


def test_top_k_with_a_1d_y_pred_is_never_split_into_chunks() -> None:
    rng = np.random.default_rng(7)
    n = CHUNK + 1000
    y_true, y_pred = rng.integers(0, 2, n), rng.random(n)
    m = im.Recall(top_k=50)
    m.update_state(y_true, y_pred)
    top = np.argsort(-y_pred, kind="stable")[:50]
    assert m.state["true_positives"] == y_true[top].sum()
    assert m.state["false_negatives"] == y_true.sum() - y_true[top].sum()


def test_top_k_with_a_1d_y_pred_refuses_the_per_sample_paths() -> None:
    y_true, y_pred = np.array([0, 1, 1, 0]), np.array([0.2, 0.1, 0.5, 0.3])
    streams = im.Streams(im.Precision(top_k=2))
    with pytest.raises(ValueError, match=r"with `top_k` ranks the samples of its batch"):
        streams.update_state(y_true, y_pred, stream=["a", "b", "a", "b"])
    assert streams.step == 0
    m = im.Precision(top_k=2)
    frame = {"step": [1, 1, 2, 2], "y_true": y_true, "y_pred": y_pred}
    with pytest.raises(ValueError, match=r"update batch by batch with update_state"):
        m.replay(pl.DataFrame(frame), batch="step", y_true="y_true", y_pred="y_pred")
    assert m.step == 0 and m.history.height == 0
    engine = m.engine
    with pytest.raises(ValueError, match=r"no per-sample terms"):
        engine.terms(engine.bind(y_true, y_pred))
    # scores of shape (n, classes) keep their per-sample terms, streams and replay
    two_d = engine.terms(engine.bind(y_true[:, None], y_pred[:, None]))
    assert set(two_d) == {"true_positives", "false_positives"}
    # class_id still needs a class axis, as in Keras
    with pytest.raises(ValueError, match=r"`class_id` picks a class along the last axis"):
        im.Precision(top_k=2, class_id=0).update_state(y_true, y_pred)


def test_macro_average_keeps_classes_never_seen_as_sklearn_does() -> None:
    # class 2 is in neither y_true nor y_pred: sklearn (and this) count its F1 as 0,
    # torchmetrics leaves it out of the macro mean
    y_true, y_pred = [0, 1, 0, 1], [0, 1, 1, 1]
    per_class = im.F1Score(3)(y_true, y_pred)
    macro = im.F1Score(3, average="macro")(y_true, y_pred)
    assert per_class[2] == 0.0
    assert macro == pytest.approx(per_class.sum() / 3)
    want = skm.f1_score(y_true, y_pred, labels=range(3), average="macro", zero_division=0)
    assert macro == pytest.approx(want)
    assert per_class[:2].mean() == pytest.approx(macro * 3 / 2)  # torchmetrics' reading


def test_sparse_top_k_from_sorted_ids_keras_numbers() -> None:
    # numbers computed with Keras 3.15.1 (torch backend)
    m = im.SparseTopKCategoricalAccuracy(k=1, from_sorted_ids=True)
    m.update_state([2, 1], [[1, 0, 3], [1, 2, 3]])
    assert m.result() == pytest.approx(0.5)
    m = im.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)
    m.update_state([2, 1], [[1, 0, 3], [1, 2, 3]], sample_weight=[0.7, 0.3])
    assert m.result() == pytest.approx(0.3)
    m = im.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)
    assert m([[2], [1]], [[1, 2, 3], [1, 2, 3]]) == pytest.approx(1.0)
    # the same as ranking the scores, when the ids are the scores' argsort
    rng = np.random.default_rng(19)
    labels, scores = rng.integers(0, 6, 40), rng.random((40, 6))
    ids = np.argsort(-scores, axis=1)
    for k in (1, 3):
        from_ids = im.SparseTopKCategoricalAccuracy(k, from_sorted_ids=True)(labels, ids)
        assert from_ids == im.SparseTopKCategoricalAccuracy(k)(labels, scores)
    with pytest.raises(ValueError, match=r"`y_pred` must hold class ids \(whole numbers >= 0\)"):
        m.update_state([1], [[0.5, 2]])
    with pytest.raises(ValueError, match=r"`from_sorted_ids` must be True or False"):
        im.SparseTopKCategoricalAccuracy(from_sorted_ids="yes")


def test_sparse_categorical_accuracy_broadcasts_within_a_sample_as_keras() -> None:
    # labels (n, 1) against predictions (n, steps, classes): each step is compared
    y_pred = np.array([[[0.1, 0.9, 0.0], [0.0, 1.0, 0.0]], [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]])
    m = im.SparseCategoricalAccuracy()
    m.update_state([[1], [2]], y_pred, sample_weight=[1.0, 3.0])
    assert m.result() == pytest.approx((1 * 1.0 + 3 * 0.5) / 4)
    # Keras 3.15.1 broadcasts the sample axis too: y_true (2, 1) against y_pred (1, 2, 3)
    # gives 1.0 for labels [[1], [1]] and 0.5 for [[2], [1]]; here the first axis holds the
    # samples, so that reading is spelled with np.broadcast_to
    keras_pred = np.array([[[0.1, 0.6, 0.3], [0.05, 0.95, 0]]])
    with pytest.raises(ValueError, match=r"`y_pred` must have as many samples as `y_true`"):
        im.SparseCategoricalAccuracy()([[1], [1]], keras_pred)
    spelled = np.broadcast_to(keras_pred, (2, 2, 3))
    assert im.SparseCategoricalAccuracy()([[1], [1]], spelled) == 1.0
    assert im.SparseCategoricalAccuracy()([[2], [1]], spelled) == 0.5
    with pytest.raises(ValueError, match=r"or broadcast to it axis by axis"):
        im.SparseCategoricalAccuracy()([1, 2], y_pred)  # (n,) against (n, steps): ambiguous
