"""The Keras 3 catalogue families against independent references (sklearn, scipy, Keras' numbers).

Each reference comparison runs after every update of a weighted multi-batch stream.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats
from sklearn import metrics as skm

import interactive_metrics as im
from interactive_metrics.core import OneHot


def stream(rng: np.random.Generator, batches: int = 4):
    for _ in range(batches):
        n = int(rng.integers(5, 40))
        w = rng.uniform(0.1, 2.0, n) * (rng.random(n) > 0.2)
        yield n, w


def test_crossentropies_match_sklearn_log_loss_after_every_update() -> None:
    rng = np.random.default_rng(1)
    binary, categorical, sparse = (
        im.BinaryCrossentropy(),
        im.CategoricalCrossentropy(),
        im.SparseCategoricalCrossentropy(),
    )
    logits = im.BinaryCrossentropy(from_logits=True)
    seen: dict[str, list[np.ndarray]] = {"t": [], "p": [], "labels": [], "q": [], "w": [], "x": []}
    for n, w in stream(rng):
        t, x = rng.integers(0, 2, n).astype(float), rng.normal(size=n) * 3
        p = special.expit(x)
        labels, q = rng.integers(0, 4, n), rng.dirichlet(np.ones(4), n)
        binary.update_state(t, p, sample_weight=w)
        logits.update_state(t, x, sample_weight=w)
        categorical.update_state(np.eye(4)[labels], q, sample_weight=w)
        sparse.update_state(labels, q, sample_weight=w)
        for key, value in zip(seen, (t, p, labels, q, w, x), strict=True):
            seen[key].append(value)
        all_ = {k: np.concatenate(v) for k, v in seen.items()}
        want = skm.log_loss(all_["t"], all_["p"], sample_weight=all_["w"], labels=[0, 1])
        assert binary.result() == pytest.approx(want, rel=1e-9)
        assert logits.result() == pytest.approx(want, rel=1e-9)
        want = skm.log_loss(all_["labels"], all_["q"], sample_weight=all_["w"], labels=range(4))
        assert categorical.result() == pytest.approx(want, rel=1e-9)
        assert sparse.result() == pytest.approx(want, rel=1e-9)


def test_keras_test_numbers_for_smoothing_logits_and_ignore_class() -> None:
    # keras/src/metrics/probabilistic_metrics_test.py
    m = im.BinaryCrossentropy(from_logits=True, label_smoothing=0.1)
    assert m([1, 0, 1], [10.0, -10.0, -10.0]) == pytest.approx((10.0 + 5.0 * 0.1) / 3, abs=1e-3)
    m = im.BinaryCrossentropy()
    # Keras gets 3.9855 in float32, where 1 - 1e-7 rounds to 1 - 1.19e-7; float64 clips at 1e-7
    assert m([[1, 0], [1, 0]], [[1.0, 1.0], [1.0, 0.0]]) == pytest.approx(-np.log(1e-7) / 4)
    y_true, logits = np.array([[0, 1, 0], [0, 0, 1]]), np.array([[1.0, 9, 0], [1, 8, 1]])
    m = im.CategoricalCrossentropy(from_logits=True)
    assert m(y_true, logits, sample_weight=[1.5, 2.0]) == pytest.approx(4.0012, abs=1e-3)
    m = im.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    logits = np.array([[10.0, 1, 1], [1, 9, 0], [1, 8, 1]])
    assert m([0, 1, 2], logits, sample_weight=[1, 1, 1]) == pytest.approx(3.501, abs=1e-3)
    # an ignored label may be outside the classes (a "void" class, -1 or 255)
    m = im.SparseCategoricalCrossentropy(ignore_class=255)
    m.update_state([255, 1], [[0.5, 0.5], [0.2, 0.8]])
    assert m.result() == pytest.approx(-np.log(0.8)) and m.state["count"] == 1.0


def test_r2_pearson_and_concordance_match_sklearn_and_scipy_after_every_update() -> None:
    rng = np.random.default_rng(2)
    r2, pearson, ccc = im.R2Score(), im.PearsonCorrelation(), im.ConcordanceCorrelation()
    weighted_r2 = im.R2Score(num_outputs=2, class_aggregation="variance_weighted_average")
    t_all, p_all, w_all = [], [], []
    for n, w in stream(rng):
        t = rng.normal(size=(n, 2)) * [1, 3] + 5
        p = t + rng.normal(size=(n, 2))
        r2.update_state(t[:, 0], p[:, 0])
        pearson.update_state(t[:, 0], p[:, 0])
        ccc.update_state(t[:, 0], p[:, 0])
        weighted_r2.update_state(t, p, sample_weight=w)
        t_all.append(t), p_all.append(p), w_all.append(w)
        t_, p_, w_ = np.concatenate(t_all), np.concatenate(p_all), np.concatenate(w_all)
        assert r2.result() == pytest.approx(skm.r2_score(t_[:, 0], p_[:, 0]), rel=1e-9)
        want = skm.r2_score(t_, p_, sample_weight=w_, multioutput="variance_weighted")
        assert weighted_r2.result() == pytest.approx(want, rel=1e-9)
        assert pearson.result() == pytest.approx(stats.pearsonr(t_[:, 0], p_[:, 0])[0], rel=1e-9)
        x, y = t_[:, 0], p_[:, 0]
        lin = 2 * np.cov(x, y, bias=True)[0, 1] / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)
        assert ccc.result() == pytest.approx(lin, rel=1e-6)


def test_weighted_pearson_equals_pearsonr_on_repeated_samples() -> None:
    rng = np.random.default_rng(3)
    x, y, w = rng.normal(size=30), rng.normal(size=30), rng.integers(0, 4, 30)
    m = im.PearsonCorrelation()
    m.update_state(x[:10], y[:10], sample_weight=w[:10])
    m.update_state(x[10:], y[10:], sample_weight=w[10:])
    assert m.result() == pytest.approx(stats.pearsonr(np.repeat(x, w), np.repeat(y, w))[0])


def test_adjusted_r2() -> None:
    t, p = np.array([1.0, 4, 3, 6, 2]), np.array([2.0, 4, 4, 5, 2])
    plain = skm.r2_score(t, p)
    assert im.R2Score(num_regressors=2)(t, p) == pytest.approx(1 - (1 - plain) * 4 / 2)
    assert im.R2Score(num_regressors=4)(t, p) == pytest.approx(plain)  # p >= n - 1: plain


def test_auc_matches_sklearn_with_many_thresholds_after_every_update() -> None:
    rng = np.random.default_rng(4)
    roc, pr = im.AUC(num_thresholds=2001), im.AUC(num_thresholds=2001, curve="PR")
    t_all, p_all, w_all = [], [], []
    for _ in range(4):
        n = 400
        t = rng.integers(0, 2, n)
        p = np.clip(special.expit(rng.normal(size=n) + 1.5 * t - 0.7), 0, 1)
        w = rng.uniform(0.2, 2, n)
        roc.update_state(t, p, sample_weight=w)
        pr.update_state(t, p, sample_weight=w)
        t_all.append(t), p_all.append(p), w_all.append(w)
        t_, p_, w_ = np.concatenate(t_all), np.concatenate(p_all), np.concatenate(w_all)
        assert roc.result() == pytest.approx(skm.roc_auc_score(t_, p_, sample_weight=w_), abs=1e-3)
        want = skm.average_precision_score(t_, p_, sample_weight=w_)
        assert pr.result() == pytest.approx(want, abs=2e-2)


def test_multi_label_auc_is_the_weighted_mean_of_per_label_areas() -> None:
    rng = np.random.default_rng(5)
    t, p = rng.integers(0, 2, (300, 3)), rng.random((300, 3))
    p = np.clip(p + 0.3 * t, 0, 1)
    m = im.AUC(num_thresholds=1001, multi_label=True, num_labels=3, label_weights=[1, 2, 1])
    m.update_state(t, p)
    per_label = [skm.roc_auc_score(t[:, j], p[:, j]) for j in range(3)]
    assert m.result() == pytest.approx(np.average(per_label, weights=[1, 2, 1]), abs=2e-3)
    assert m.true_positives.shape == (1001, 3)


def test_thresholded_counts_equal_a_dense_comparison_and_terms_stay_sparse() -> None:
    rng = np.random.default_rng(6)
    t, p, w = rng.integers(0, 2, 1000), rng.random(1000), rng.random(1000)
    m = im.AUC(num_thresholds=7)
    terms = m.terms(t.astype(float), p, w)
    assert all(isinstance(term, OneHot) for term in terms.values())
    m.update_state(t, p, sample_weight=w)
    thresholds = np.array(m.threshold_values)
    above = p[None, :] > thresholds[:, None]
    np.testing.assert_allclose(m.true_positives, (above * (w * t)).sum(axis=1))
    np.testing.assert_allclose(m.false_positives, (above * (w * (1 - t))).sum(axis=1))
    np.testing.assert_allclose(m.true_negatives, (~above * (w * (1 - t))).sum(axis=1))
    np.testing.assert_allclose(m.false_negatives, (~above * (w * t)).sum(axis=1))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: im.BinaryCrossentropy(label_smoothing=2),
            r"`label_smoothing` must be a number in \[0, 1\], got 2",
        ),
        (
            lambda: im.BinaryCrossentropy(from_logits="no"),
            r"`from_logits` must be True or False, got 'no'",
        ),
        (lambda: im.CategoricalCrossentropy(axis=0), r"`axis` must be an integer other than 0"),
        (
            lambda: im.SparseCategoricalCrossentropy(ignore_class=1.5),
            r"`ignore_class` must be None or an integer",
        ),
        (lambda: im.R2Score(class_aggregation="mean"), r"`class_aggregation` must be one of"),
        (
            lambda: im.R2Score(num_regressors=-1),
            r"`num_regressors` must be an integer >= 0, got -1",
        ),
        (lambda: im.AUC(num_thresholds=1), r"`num_thresholds` must be an integer >= 2, got 1"),
        (lambda: im.AUC(curve="XY"), r"`curve` must be one of \('ROC', 'PR'\), got 'XY'"),
        (lambda: im.AUC(summation_method="trapezoid"), r"`summation_method` must be one of"),
        (lambda: im.AUC(num_labels=3), r"`num_labels` is used only with multi_label=True"),
        (lambda: im.AUC(multi_label=True), r"`num_labels` must be given with multi_label=True"),
        (lambda: im.AUC(thresholds=[0.5, 2]), r"`thresholds` must be a non-empty list"),
        (lambda: im.PrecisionAtRecall(1.5), r"`recall` must be a number in \[0, 1\], got 1.5"),
        (lambda: im.SensitivityAtSpecificity(0.5, num_thresholds=0), r"`num_thresholds` must be"),
    ],
)
def test_bad_arguments_are_named(make, match) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_are_refused_and_change_nothing() -> None:
    m = im.AUC()
    m.update_state([0, 1], [0.2, 0.9])
    before = m.state
    with pytest.raises(ValueError, match=r"`y_pred` must hold probabilities in \[0, 1\]"):
        m.update_state([0, 1], [0.2, 1.9])
    with pytest.raises(ValueError, match=r"`y_true` must hold labels in \[0, 1\]"):
        m.update_state([0, 2], [0.2, 0.9])
    assert all(np.array_equal(m.state[k], before[k]) for k in before) and m.step == 1
    s = im.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match=r"`y_true` must hold class labels in \[0, 3\)"):
        s.update_state([3], [[0.2, 0.3, 0.5]])
    with pytest.raises(ValueError, match=r"`y_pred` must have a class axis"):
        im.CategoricalHinge().update_state([1, 0], [0.3, 0.2])
    with pytest.raises(ValueError, match=r"`y_pred` must have shape \(n, 1\) \(num_outputs=1\)"):
        im.R2Score().update_state([[1, 2]], [[1, 2]])


def test_unknown_names_suggest_the_nearest_metric() -> None:
    with pytest.raises(
        AttributeError, match=r"no 'MatthewsCorrCoef' yet .*`im.MatthewsCorrelation`"
    ):
        _ = im.MatthewsCorrCoef
    with pytest.raises(AttributeError, match=r"no 'CalibrationError' yet .*`im.ExpectedCalib"):
        _ = im.CalibrationError
    with pytest.raises(AttributeError, match=r"no 'JaccardIndex' yet .*`im.IoU`"):
        _ = im.JaccardIndex
    with pytest.raises(
        AttributeError, match=r"no attribute 'BinaryCrossEntropy'.*`im.BinaryCrossentropy`"
    ):
        _ = im.BinaryCrossEntropy
    with pytest.raises(AttributeError, match=r"no attribute 'Zzz'$"):
        _ = im.Zzz
    assert not hasattr(im, "__wrapped__")


def test_streams_and_replay_of_auc_equal_their_loops() -> None:
    import polars as pl

    rng = np.random.default_rng(7)
    n = 200
    log = pl.DataFrame(
        {"batch": rng.integers(0, 5, n), "t": rng.integers(0, 2, n) * 1.0, "p": rng.random(n)}
    )
    replayed = im.AUC(num_thresholds=20).replay(log, batch="batch", y_true="t", y_pred="p")
    looped = im.AUC(num_thresholds=20)
    for _, part in log.sort("batch").group_by("batch", maintain_order=True):
        looped.update_state(part["t"].to_numpy(), part["p"].to_numpy())
    assert replayed.result() == pytest.approx(looped.result(), rel=1e-12)
    np.testing.assert_allclose(replayed.true_positives, looped.true_positives)


def test_iou_family_matches_sklearn_jaccard_after_every_update() -> None:
    rng = np.random.default_rng(8)
    mean, some = im.MeanIoU(4), im.IoU(4, [1, 3])
    one_hot, binary = im.OneHotMeanIoU(4), im.BinaryIoU([1], threshold=0.4)
    t_all, p_all, w_all, s_all, b_all = [], [], [], [], []
    for n, w in stream(rng):
        t, p = rng.integers(0, 4, n), rng.integers(0, 4, n)
        scores, bt = rng.random((n, 4)), rng.integers(0, 2, n)
        mean.update_state(t, p, sample_weight=w)
        some.update_state(t, p, sample_weight=w)
        one_hot.update_state(np.eye(4)[t], scores, sample_weight=w)
        binary.update_state(bt, scores[:, 0], sample_weight=w)
        for seen, value in zip(
            (t_all, p_all, w_all, s_all, b_all), (t, p, w, scores, bt), strict=True
        ):
            seen.append(value)
        t_, p_, w_ = np.concatenate(t_all), np.concatenate(p_all), np.concatenate(w_all)
        s_, b_ = np.concatenate(s_all), np.concatenate(b_all)
        per_class = skm.jaccard_score(t_, p_, labels=range(4), average=None, sample_weight=w_)
        assert mean.result() == pytest.approx(per_class.mean(), rel=1e-12)
        assert some.result() == pytest.approx(per_class[[1, 3]].mean(), rel=1e-12)
        want = skm.jaccard_score(t_, s_.argmax(axis=1), average="macro", sample_weight=w_)
        assert one_hot.result() == pytest.approx(want, rel=1e-12)
        want = skm.jaccard_score(b_, s_[:, 0] > 0.4, sample_weight=w_)
        assert binary.result() == pytest.approx(want, rel=1e-12)


def test_iou_of_segmentation_maps_counts_every_pixel_and_ignores_a_void_class() -> None:
    rng = np.random.default_rng(9)
    t, p = rng.integers(0, 3, (5, 4, 4)), rng.integers(0, 3, (5, 4, 4))
    t[0, 0, :] = 255
    w = rng.random(5)
    m = im.MeanIoU(3, ignore_class=255)
    m.update_state(t, p, sample_weight=w)
    kept = t != 255
    pixel_weight = np.broadcast_to(w[:, None, None], t.shape)[kept]
    want = skm.jaccard_score(t[kept], p[kept], average="macro", sample_weight=pixel_weight)
    assert m.result() == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match=r"`y_true` must hold class labels in \[0, 3\)"):
        im.MeanIoU(3).update_state(t, p)


@pytest.mark.parametrize(
    "make",
    [
        lambda: im.AUC(num_thresholds=30),
        lambda: im.BinaryCrossentropy(),
        lambda: im.PearsonCorrelation(),
        lambda: im.R2Score(),
        lambda: im.BinaryIoU(),
        lambda: im.RecallAtPrecision(0.6, num_thresholds=25),
    ],
)
def test_streams_of_the_new_families_equal_one_metric_per_stream(make) -> None:
    rng = np.random.default_rng(10)
    streams = im.Streams(make())
    alone = {key: make() for key in "abc"}
    overall = make()
    for _ in range(3):
        n = 30
        t, p, w = rng.integers(0, 2, n) * 1.0, rng.random(n), rng.random(n)
        keys = rng.choice(list("abc"), n)
        streams.update_state(t, p, sample_weight=w, stream=keys)
        overall.update_state(t, p, sample_weight=w)
        for key, metric in alone.items():
            mask = keys == key
            metric.update_state(t[mask], p[mask], sample_weight=w[mask])
    for key, metric in alone.items():
        assert streams[key].result() == pytest.approx(metric.result(), rel=1e-12, nan_ok=True)
    assert streams.merged().result() == pytest.approx(overall.result(), rel=1e-9, nan_ok=True)
