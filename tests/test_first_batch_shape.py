"""A state whose shape the first batch tells: Keras' F1Score() / FBetaScore() without num_classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import interactive_metrics as im

# The example of Keras' F1Score documentation (threshold=0.5, three classes).
Y_TRUE = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]])
Y_PRED = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]])
KERAS = [0.5, 0.8, 0.6666667]


def test_keras_signature_reads_the_number_of_classes_from_the_first_batch() -> None:
    m = im.F1Score(threshold=0.5)
    assert not m.shape_known and m.num_classes is None
    assert m.result().shape == (0,)
    m.update_state(Y_TRUE, Y_PRED)
    assert m.shape_known and m.num_classes == 3
    np.testing.assert_allclose(m.result(), KERAS, rtol=1e-6)
    given = im.F1Score(3, threshold=0.5)
    given.update_state(Y_TRUE, Y_PRED)
    assert m.history.equals(given.history) and m.get_config() == given.get_config()
    with pytest.raises(ValueError, match=r"`y_pred` must have shape \(n, 3\)"):
        m.update_state(np.eye(4), np.eye(4))  # the shape is fixed from then on
    assert m.step == 1


def test_a_refused_first_batch_leaves_the_metric_unshaped() -> None:
    m = im.FBetaScore(beta=2.0, average="macro")
    m.reset_state()
    with pytest.raises(ValueError, match="sample_weight"):
        m.update_state(Y_TRUE, Y_PRED, sample_weight=[1.0, -1.0, 1.0])
    assert not m.shape_known and m.step == 1
    m.update_state(Y_TRUE, Y_PRED)
    assert m.num_classes == 3 and m.step == 2
    assert m.history["event"].to_list() == ["reset", "update"]


def test_merge_save_load_streams_and_replay_handle_an_unshaped_metric(tmp_path: Path) -> None:
    shaped = im.F1Score(threshold=0.5)
    shaped.update_state(Y_TRUE, Y_PRED)
    empty = im.F1Score(threshold=0.5)
    empty.merge_state(shaped)  # an unshaped metric takes the others' shape
    np.testing.assert_allclose(empty.result(), KERAS, rtol=1e-6)
    shaped.merge_state(im.F1Score(threshold=0.5))  # nothing to merge from an unshaped one
    np.testing.assert_allclose(shaped.result(), KERAS, rtol=1e-6)
    loaded = im.load(im.F1Score(threshold=0.5).save(tmp_path / "unshaped"))
    assert not loaded.shape_known
    loaded.update_state(Y_TRUE, Y_PRED)
    np.testing.assert_allclose(loaded.result(), KERAS, rtol=1e-6)
    s = im.Streams(im.F1Score(threshold=0.5))
    s.update_state(Y_TRUE, Y_PRED, stream=["a", "b", "a"])
    alone = im.F1Score(3, threshold=0.5)
    alone.update_state(Y_TRUE[[0, 2]], Y_PRED[[0, 2]])
    np.testing.assert_allclose(s["a"].result(), alone.result())
    log = pl.DataFrame({"step": [1, 1, 2], "y": Y_TRUE.tolist(), "p": Y_PRED.tolist()})
    log = log.with_columns(pl.col("y").list.to_array(3), pl.col("p").list.to_array(3))
    replayed = im.F1Score(threshold=0.5).replay(log, y_true="y", y_pred="p", batch="step")
    assert replayed.num_classes == 3 and replayed.step == 2
    np.testing.assert_allclose(replayed.result(), KERAS, rtol=1e-6)


def test_a_collection_asks_for_the_number_of_classes() -> None:
    c = im.MetricCollection([im.F1Score(), im.BinaryAccuracy()])
    with pytest.raises(ValueError, match="pass num_classes=k to use it in a collection"):
        c.update_state(Y_TRUE[:, 0], Y_PRED[:, 0])


def test_a_dask_replay_asks_for_the_shape_up_front() -> None:
    import dask.dataframe as dd
    import pandas as pd

    log = dd.from_pandas(pd.DataFrame({"step": [1], "y": [1.0], "p": [0.9]}), npartitions=1)
    for target in (im.F1Score(), im.MetricCollection([im.F1Score(), im.BinaryAccuracy()])):
        with pytest.raises(TypeError, match="reads it from its first batch; configure it"):
            target.replay(log, y_true="y", y_pred="p", batch="step")
