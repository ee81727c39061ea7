"""Classification metrics: Keras documentation numbers, scikit-learn after every update, bad input."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from polars.testing import assert_frame_equal
from sklearn import metrics as sk

import interactive_metrics as im

BATCH_SIZES = [7, 1, 12, 0, 5]


def stream(
    seed: int, make_batch: Callable[[np.random.Generator, int], tuple], weighted: bool
) -> list[tuple]:
    """A multi-batch stream of (y_true, y_pred, weight or None), batch sizes varying."""
    rng = np.random.default_rng(seed)
    batches = []
    for n in BATCH_SIZES:
        w = rng.uniform(0, 2, size=n) if weighted else None
        if w is not None:
            w[rng.random(n) < 0.2] = 0.0
        batches.append((*make_batch(rng, n), w))
    return batches


def seen(batches: list[tuple], upto: int) -> tuple:
    """Concatenate the first `upto` batches: what the metric has seen after that update."""
    y_true = np.concatenate([b[0] for b in batches[:upto]])
    y_pred = np.concatenate([b[1] for b in batches[:upto]])
    if batches[0][2] is None:
        return y_true, y_pred, None
    return y_true, y_pred, np.concatenate([b[2] for b in batches[:upto]])


def check_stream(metric: im.Metric, batches: list[tuple], reference: Callable) -> None:
    """Update batch by batch; after EVERY update the result equals the reference on all seen."""
    for i, (y_true, y_pred, w) in enumerate(batches, start=1):
        metric.update_state(y_true, y_pred, sample_weight=w)
        all_true, all_pred, all_w = seen(batches, i)
        if all_true.shape[0] == 0:
            continue
        want = reference(all_true, all_pred, all_w)
        np.testing.assert_allclose(metric.result(), want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(metric.result_at(i), want, rtol=1e-12, atol=1e-12)


def assert_fails_cleanly(metric: im.Metric, error: type, match: str, *args, **kwargs) -> None:
    """The update raises `error` matching `match`, and state, history and step are unchanged."""
    state, history, step = metric.state, metric.history, metric.step
    with pytest.raises(error, match=match):
        metric.update_state(*args, **kwargs)
    assert metric.step == step
    assert_frame_equal(metric.history, history)
    for name, value in state.items():
        np.testing.assert_array_equal(metric.state[name], value)


def binary_batch(rng, n):
    return rng.integers(0, 2, size=n), rng.random(n)


def multilabel_batch(rng, n):
    return rng.integers(0, 2, size=(n, 4)), rng.random((n, 4))


def sparse_batch(rng, n):
    return rng.integers(0, 5, size=n), rng.random((n, 5))


weighted = pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])

# -- the numbers of the Keras documentation -------------------------------------------------


def test_keras_accuracy_and_merge_state_example():
    m = im.Accuracy()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    assert m.result() == 0.75
    m.reset_state()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    assert m.result() == 0.5
    # merge_state: 1 of 2 right, merged into 2 of 2 right -> 3 of 4
    m1, m2 = im.Accuracy(), im.Accuracy()
    m1.update_state([[1], [2]], [[0], [2]])
    m2.update_state([[3], [4]], [[3], [4]])
    m2.merge_state([m1])
    assert m2.result() == 0.75
    assert m2.state == {"correct": 3.0, "count": 4.0}


@pytest.mark.parametrize(
    ("metric", "y_true", "y_pred", "plain", "weight", "weighted_result"),
    [
        (im.BinaryAccuracy(), [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], 0.75, [1, 0, 0, 1], 0.5),
        (im.CategoricalAccuracy(), [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], 0.5, [0.7, 0.3], 0.3),
        (im.SparseCategoricalAccuracy(), [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], 0.5, [0.7, 0.3], 0.3),
        (im.TopKCategoricalAccuracy(k=1), [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], 0.5, [0.7, 0.3], 0.3),
        (im.SparseTopKCategoricalAccuracy(k=1), [2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], 0.5, [0.7, 0.3], 0.3),
        (im.TruePositives(), [0, 1, 1, 1], [1, 0, 1, 1], 2.0, [0, 0, 1, 0], 1.0),
        (im.FalsePositives(), [0, 1, 0, 0], [0, 0, 1, 1], 2.0, [0, 0, 1, 0], 1.0),
        (im.TrueNegatives(), [0, 1, 0, 0], [1, 1, 0, 0], 2.0, [0, 0, 1, 0], 1.0),
        (im.FalseNegatives(), [0, 1, 1, 1], [0, 1, 0, 0], 2.0, [0, 0, 1, 0], 1.0),
        (im.Precision(), [0, 1, 1, 1], [1, 0, 1, 1], 2 / 3, [0, 0, 1, 0], 1.0),
        (im.Recall(), [0, 1, 1, 1], [1, 0, 1, 1], 2 / 3, [0, 0, 1, 0], 1.0),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, im.Metric) else None,
)  # fmt: skip
def test_keras_documentation_numbers(metric, y_true, y_pred, plain, weight, weighted_result):
    metric.update_state(y_true, y_pred)
    assert metric.result() == pytest.approx(plain, abs=1e-12)
    metric.reset_state()
    metric.update_state(y_true, y_pred, sample_weight=weight)
    assert metric.result() == pytest.approx(weighted_result, abs=1e-12)


def test_keras_top_k_examples_one_sample_of_four_classes():
    for k, precision, recall in [(2, 0.0, 0.0), (4, 0.5, 1.0)]:
        p, r = im.Precision(top_k=k), im.Recall(top_k=k)
        p.update_state([[0, 0, 1, 1]], [[1, 1, 1, 1]])  # ties: the lower classes win
        r.update_state([[0, 0, 1, 1]], [[1, 1, 1, 1]])
        assert (p.result(), r.result()) == (precision, recall)


def test_class_id_counts_one_column_by_hand():
    y_true = [[0, 1], [1, 0], [0, 1]]
    y_pred = [[0.2, 0.8], [0.3, 0.6], [0.9, 0.4]]  # column 1: [1, 0, 1] vs [0.8, 0.6, 0.4]
    p, r = im.Precision(class_id=1), im.Recall(class_id=1)
    p.update_state(y_true, y_pred)
    r.update_state(y_true, y_pred)
    assert p.state == {"true_positives": 1.0, "false_positives": 1.0}
    assert r.state == {"true_positives": 1.0, "false_negatives": 1.0}


def test_keras_f1_and_fbeta_documentation_numbers():
    y_true = [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
    y_pred = [[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]
    f1 = im.F1Score(3, threshold=0.5)
    f1.update_state(y_true, y_pred)
    np.testing.assert_allclose(f1.result(), [0.5, 0.8, 2 / 3])
    f2 = im.FBetaScore(3, beta=2.0, threshold=0.5)
    f2.update_state(y_true, y_pred)
    np.testing.assert_allclose(f2.result(), [5 / 13, 10 / 11, 5 / 6])
    # by hand: TP = [1, 2, 1], FP = [0, 1, 1], FN = [2, 0, 0], support = [3, 2, 1]
    averaged = {"micro": 8 / 12, "macro": (0.5 + 0.8 + 2 / 3) / 3, "weighted": 3.7666666 / 6}
    for average, want in averaged.items():
        m = im.F1Score(3, average=average, threshold=0.5)
        m.update_state(y_true, y_pred)
        assert m.result() == pytest.approx(want, rel=1e-7)


def test_thresholds_list_gives_one_count_per_threshold():
    m = im.TruePositives(thresholds=[0.0, 0.5, 1.0])
    m.update_state([1, 1, 1, 0], [0.2, 0.5, 0.9, 0.9])  # "above": 0.5 is not > 0.5
    np.testing.assert_array_equal(m.result(), [3.0, 1.0, 0.0])
    assert m.history.schema["running_true_positives"].shape == (3,)
    assert im.TruePositives(thresholds=0.5).result() == 0.0  # a scalar gives a number


# -- scikit-learn after every update of a multi-batch stream --------------------------------


@weighted
def test_accuracy_against_sklearn(weighted):
    batches = stream(0, lambda r, n: (r.integers(0, 3, n), r.integers(0, 3, n)), weighted)
    check_stream(im.Accuracy(), batches, lambda t, p, w: sk.accuracy_score(t, p, sample_weight=w))


@weighted
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_binary_accuracy_and_correct_count_against_sklearn(weighted, threshold):
    batches = stream(1, binary_batch, weighted)
    check_stream(
        im.BinaryAccuracy(threshold=threshold),
        batches,
        lambda t, p, w: sk.accuracy_score(t, p > threshold, sample_weight=w),
    )
    check_stream(
        im.SumBinaryAccuracy(threshold=threshold),
        batches,
        lambda t, p, w: sk.accuracy_score(t, p > threshold, normalize=False, sample_weight=w),
    )


@weighted
def test_categorical_accuracies_against_sklearn(weighted):
    batches = stream(2, sparse_batch, weighted)
    check_stream(
        im.SparseCategoricalAccuracy(),
        batches,
        lambda t, p, w: sk.accuracy_score(t, p.argmax(axis=1), sample_weight=w),
    )
    one_hot = [(np.eye(5)[t], p, w) for t, p, w in batches]
    check_stream(
        im.CategoricalAccuracy(),
        one_hot,
        lambda t, p, w: sk.accuracy_score(t.argmax(axis=1), p.argmax(axis=1), sample_weight=w),
    )


@weighted
@pytest.mark.parametrize("k", [1, 2, 4])
def test_top_k_accuracies_against_sklearn(weighted, k):
    batches = stream(3, sparse_batch, weighted)

    def reference(t, p, w):
        return sk.top_k_accuracy_score(t, p, k=k, labels=range(5), sample_weight=w)

    check_stream(im.SparseTopKCategoricalAccuracy(k=k), batches, reference)
    one_hot = [(np.eye(5)[t], p, w) for t, p, w in batches]
    check_stream(
        im.TopKCategoricalAccuracy(k=k), one_hot, lambda t, p, w: reference(t.argmax(1), p, w)
    )


@weighted
def test_confusion_counts_against_sklearn_for_each_threshold(weighted):
    thresholds = [0.1, 0.5, 0.75]
    batches = stream(4, binary_batch, weighted)

    def counts(t, p, w):  # sklearn's binary confusion matrix, one per threshold
        return np.array(
            [
                sk.confusion_matrix(t, p > c, labels=[0, 1], sample_weight=w).ravel()
                for c in thresholds
            ]
        )  # columns: tn, fp, fn, tp

    for column, cls in enumerate(
        [im.TrueNegatives, im.FalsePositives, im.FalseNegatives, im.TruePositives]
    ):
        check_stream(cls(thresholds), batches, lambda t, p, w, c=column: counts(t, p, w)[:, c])


@weighted
@pytest.mark.parametrize("thresholds", [None, 0.3, [0.2, 0.5, 0.9]])
def test_precision_and_recall_against_sklearn(weighted, thresholds):
    batches = stream(5, binary_batch, weighted)
    cuts = [0.5] if thresholds is None else np.atleast_1d(thresholds)
    for cls, score in [(im.Precision, sk.precision_score), (im.Recall, sk.recall_score)]:

        def reference(t, p, w, score=score):
            values = [score(t, p > c, sample_weight=w, zero_division=0) for c in cuts]
            return values if isinstance(thresholds, list) else values[0]

        check_stream(cls(thresholds), batches, reference)


@weighted
def test_precision_and_recall_with_class_id_against_sklearn(weighted):
    batches = stream(6, multilabel_batch, weighted)
    for cls, score in [(im.Precision, sk.precision_score), (im.Recall, sk.recall_score)]:
        check_stream(
            cls(class_id=2),
            batches,
            lambda t, p, w, s=score: s(t[:, 2], p[:, 2] > 0.5, sample_weight=w, zero_division=0),
        )


@weighted
@pytest.mark.parametrize("threshold", [None, 0.4])
def test_precision_and_recall_with_top_k_against_sklearn(weighted, threshold):
    batches = stream(7, multilabel_batch, weighted)

    def top_two(p):  # an independent oracle: rank each row, keep the two highest
        ranks = np.argsort(np.argsort(-p, axis=1), axis=1)
        kept = ranks < 2
        return kept if threshold is None else kept & (p > threshold)

    for cls, score in [(im.Precision, sk.precision_score), (im.Recall, sk.recall_score)]:
        check_stream(
            cls(threshold, top_k=2),
            batches,
            lambda t, p, w, s=score: s(
                t.ravel(),
                top_two(p).ravel(),
                sample_weight=None if w is None else np.repeat(w, 4),
                zero_division=0,
            ),
        )


@weighted
@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize(("beta", "threshold"), [(1.0, 0.5), (2.0, None), (0.5, 0.3)])
def test_fbeta_against_sklearn(weighted, average, beta, threshold):
    batches = stream(8, multilabel_batch, weighted)

    def reference(t, p, w):
        if threshold is None:
            predicted = np.eye(4)[p.argmax(axis=1)]
        else:
            predicted = p > threshold
        return sk.fbeta_score(
            t, predicted, beta=beta, average=average, sample_weight=w, zero_division=0
        )

    metric = (
        im.F1Score(4, average, threshold)
        if beta == 1.0
        else im.FBetaScore(4, average, beta, threshold)
    )
    check_stream(metric, batches, reference)


@weighted
def test_confusion_matrix_against_sklearn(weighted):
    batches = stream(9, lambda r, n: (r.integers(0, 4, n), r.integers(0, 4, n)), weighted)
    check_stream(
        im.ConfusionMatrix(4),
        batches,
        lambda t, p, w: sk.confusion_matrix(t, p, labels=range(4), sample_weight=w),
    )
    scores = [(t, np.eye(4)[p] + 0.1, w) for t, p, w in batches]  # predicted via argmax
    check_stream(
        im.ConfusionMatrix(4),
        scores,
        lambda t, p, w: sk.confusion_matrix(t, p.argmax(1), labels=range(4), sample_weight=w),
    )


def test_confusion_matrix_history_holds_the_matrix_per_step():
    m = im.ConfusionMatrix(2)
    m.update_state([0, 1, 1], [0, 1, 0])
    m.update_state([1], [1])
    np.testing.assert_array_equal(m.state_at(1)["confusion_matrix"], [[1, 0], [1, 1]])
    np.testing.assert_array_equal(
        m.history["batch_confusion_matrix"][1].to_list(), [[0, 0], [0, 1]]
    )
    np.testing.assert_array_equal(m.result(), [[1, 0], [1, 2]])


# -- bad input: a clear error, and nothing lost ----------------------------------------------


def warmed(metric: im.Metric, *args) -> im.Metric:
    metric.update_state(*args)
    return metric


def test_labels_outside_the_classes_are_rejected():
    m = warmed(im.SparseCategoricalAccuracy(), [0, 2], [[0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])
    assert_fails_cleanly(
        m, ValueError, r"`y_true` must hold class labels in \[0, 3\)", [0, 3], [[0.5, 0.2, 0.3]] * 2
    )
    assert_fails_cleanly(m, ValueError, r"class labels .* got 1\.5", [1.5], [[0.5, 0.2, 0.3]])
    c = warmed(im.ConfusionMatrix(3), [0, 1], [1, 1])
    assert_fails_cleanly(
        c, ValueError, r"`y_true` must hold class labels in \[0, 3\).*got -1", [-1], [0]
    )
    assert_fails_cleanly(
        c, ValueError, r"`y_pred` must hold class labels in \[0, 3\).*got 3", [0], [3]
    )
    assert_fails_cleanly(
        c, ValueError, r"`y_pred` must hold one label per sample", [0], [[0.1, 0.9]]
    )
    assert_fails_cleanly(
        c, ValueError, r"cannot broadcast", [0, 1], [1, 1], sample_weight=[[1, 1]] * 2
    )
    k = warmed(im.TopKCategoricalAccuracy(2), [[0, 1]], [[0.1, 0.9]])
    assert_fails_cleanly(
        k, ValueError, r"one-hot with the shape of `y_pred`", [[0, 1]], [[0.1, 0.2, 0.7]]
    )
    assert_fails_cleanly(k, ValueError, r"one score per class", [1, 0], [0.9, 0.1])


def test_probabilities_outside_zero_one_are_rejected_by_confusion_counts():
    for metric in (im.TruePositives(), im.Precision([0.2, 0.4]), im.Recall(top_k=1)):
        m = warmed(metric, [[0, 1]], [[0.4, 0.6]])
        assert_fails_cleanly(
            m,
            ValueError,
            r"`y_pred` must hold probabilities in \[0, 1\], got values from -0.1 to 0.6",
            [[0, 1]],
            [[-0.1, 0.6]],
        )
        assert_fails_cleanly(m, ValueError, r"probabilities .* to 1.5", [[0, 1]], [[0.0, 1.5]])
        assert_fails_cleanly(
            m, ValueError, r"probabilities .* nan_strategy='ignore'", [[0, 1]], [[np.nan, 0.5]]
        )
    logits = im.BinaryAccuracy(threshold=0.0)  # logits are fine where no probability is assumed
    logits.update_state([1, 0], [2.5, -3.0])
    assert logits.result() == 1.0


def test_non_binary_labels_are_rejected_where_labels_are_binary():
    for metric in (im.BinaryAccuracy(), im.SumBinaryAccuracy(), im.FalseNegatives(), im.F1Score(1)):
        m = warmed(metric, [[1], [0]], [[0.9], [0.2]])
        assert_fails_cleanly(
            m,
            ValueError,
            r"`y_true` must hold binary labels \(0 or 1\), got 1 other value\(s\), e.g. 2.0",
            [[1], [2]],
            [[0.9], [0.2]],
        )


def test_shape_mismatches_are_rejected():
    m = warmed(im.Accuracy(), [1, 2], [1, 2])
    assert_fails_cleanly(
        m,
        ValueError,
        r"`y_true` of shape \(2, 2\) and `y_pred` of shape \(2, 3\) must have the same shape",
        np.ones((2, 2)),
        np.ones((2, 3)),
    )
    assert_fails_cleanly(
        m, ValueError, r"`y_pred` must have as many samples as `y_true` \(2\)", [1, 2], [1, 2, 3]
    )
    f = warmed(im.F1Score(3), np.eye(3), np.eye(3))
    assert_fails_cleanly(
        f,
        ValueError,
        r"`y_pred` must have shape \(n, 3\) \(num_classes=3\), got shape \(2, 4\)",
        np.ones((2, 4)),
        np.ones((2, 4)),
    )
    p = warmed(im.Precision(top_k=1, class_id=0), [[1, 0]], [[0.9, 0.1]])
    assert_fails_cleanly(
        p, ValueError, r"`class_id` picks a class along the last axis", [1, 0], [0.9, 0.1]
    )
    c = warmed(im.Recall(class_id=3), [[1, 0, 0, 0]], [[0.9, 0.1, 0, 0]])
    assert_fails_cleanly(
        c,
        ValueError,
        r"`class_id` 3 is out of range .*\(3 classes\); pick a class in \[0, 3\)",
        [[1, 0, 0]],
        [[0.9, 0.1, 0]],
    )


def test_non_numeric_inputs_are_rejected():
    m = warmed(im.BinaryAccuracy(), [1, 0], [0.7, 0.2])
    assert_fails_cleanly(
        m,
        TypeError,
        r"`y_true` must hold numbers or booleans, got an array of strings",
        ["yes", "no"],
        [0.7, 0.2],
    )
    assert_fails_cleanly(m, TypeError, r"`y_pred` must be array-like, got None", [1, 0], None)
    assert_fails_cleanly(
        m, TypeError, r"`y_pred` must hold numbers .* Python objects", [1, 0], np.array([{}, {}])
    )


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: im.Precision(thresholds=1.5), ValueError, r"`thresholds` must be a number or a non-empty list of numbers in \[0, 1\], got 1.5"),
        (lambda: im.TruePositives(thresholds=[]), ValueError, r"non-empty list"),
        (lambda: im.TruePositives(thresholds="0.5"), TypeError, r"`thresholds` must be a number"),
        (lambda: im.Precision(top_k=0), ValueError, r"`top_k` must be None or an integer >= 1, got 0"),
        (lambda: im.Recall(class_id=-1), ValueError, r"`class_id` must be None or an integer >= 0"),
        (lambda: im.TopKCategoricalAccuracy(k=0), ValueError, r"`k` must be an integer >= 1, got 0"),
        (lambda: im.BinaryAccuracy(threshold="high"), TypeError, r"`threshold` must be a number, got 'high'"),
        (lambda: im.F1Score(3, average="binary"), ValueError, r"`average` must be one of \(None, 'micro', 'macro', 'weighted'\), got 'binary'"),
        (lambda: im.FBetaScore(3, beta=0), ValueError, r"`beta` must be a number > 0"),
        (lambda: im.F1Score(0), ValueError, r"`num_classes` must be None or an integer >= 1, got 0"),
        (lambda: im.ConfusionMatrix(1), ValueError, r"`num_classes` must be an integer >= 2, got 1"),
        (lambda: im.ConfusionMatrix(2.5), TypeError, r"`num_classes` must be an integer"),
    ],
)  # fmt: skip
def test_bad_configuration_is_rejected(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_nan_predictions_can_be_dropped():
    m = im.Precision(nan_strategy="ignore")
    m.update_state([1, 1, 0], [0.9, np.nan, 0.8])
    assert m.state == {"true_positives": 1.0, "false_positives": 1.0}


def test_top_k_label_with_a_non_finite_score_is_never_in_the_top_k():
    # tf.math.in_top_k: "true if the prediction for the target class is finite and among
    # the top k"; a NaN elsewhere does not push the label out.
    scores = np.array(
        [
            [np.nan, 0.1, 0.2],  # label 0 scored NaN: out
            [np.inf, 0.1, 0.2],  # label 0 scored +inf: out (not finite)
            [0.3, np.nan, 0.2],  # label 0 is the best number: in
            [0.1, np.inf, 0.2],  # +inf elsewhere outranks label 0 (k=1): out
            [0.5, 0.1, 0.2],  # plain case: in
        ]
    )
    labels = np.zeros(5, dtype=int)
    m = im.SparseTopKCategoricalAccuracy(k=1)
    m.update_state(labels, scores)
    assert m.state == {"correct": 2.0, "count": 5.0}
    one_hot = np.eye(3)[labels]
    m = im.TopKCategoricalAccuracy(k=3)  # every finite label is in; non-finite ones still out
    m.update_state(one_hot, scores)
    assert m.state == {"correct": 3.0, "count": 5.0}


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_class_labels_raise_without_a_warning_first(bad):
    import warnings

    m = im.SparseCategoricalAccuracy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning from the cast would fail here
        with pytest.raises(ValueError, match="must hold class labels"):
            m.update_state([0.0, bad], [[0.9, 0.1], [0.2, 0.8]])
    assert m.step == 0


def test_large_labels_are_not_rounded_to_a_float16_metric():
    # in float16, 2049 is 2048: labels cast to the metric's dtype would call a wrong
    # prediction right. Labels keep their own dtype; scores and state are float16.
    classes = 2100
    scores = np.zeros((2, classes), dtype=np.float16)
    scores[0, 2048] = 1.0  # predicts 2048 for a sample labelled 2049: wrong
    scores[1, 2050] = 1.0  # predicts 2050 for a sample labelled 2050: right
    labels = [2049, 2050]
    accuracy = im.Accuracy(dtype="float16")
    accuracy.update_state(labels, [2048, 2050])
    assert accuracy.result() == 0.5
    for metric in (
        im.SparseCategoricalAccuracy(dtype="float16"),
        im.SparseTopKCategoricalAccuracy(k=1, dtype="float16"),
    ):
        metric.update_state(labels, scores)
        assert metric.result() == 0.5, type(metric).__name__
        assert metric.state["count"] == 2.0
    matrix = im.ConfusionMatrix(classes, dtype="float16")
    matrix.update_state([2049.0, 2050.0], [2048, 2050])  # float labels from a list too
    counts = matrix.result()
    assert counts.dtype == np.float16
    assert counts[2049, 2048] == 1 and counts[2050, 2050] == 1 and counts.sum() == 2
    # the float16 path itself is unchanged: labels that float16 holds exactly still work
    small = im.SparseCategoricalAccuracy(dtype="float16")
    small.update_state(np.array([1, 0], dtype=np.float16), [[0.2, 0.8], [0.9, 0.1]])
    assert small.result() == 1.0
