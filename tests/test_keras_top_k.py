"""`Precision` / `Recall` with `top_k` and a 1-d `y_pred` against Keras 3 itself.

Keras keeps the `top_k` highest values along the last axis of `y_pred`
(`metrics_utils._filter_top_k`); for a 1-d `y_pred` that axis holds the samples, so
the `top_k` highest predictions of each batch can be positive. Real Keras 3 on the
torch backend, batch after batch, weighted, with one threshold, none, and a list.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

if "keras" not in sys.modules:  # Keras reads its backend once, when first imported
    os.environ["KERAS_BACKEND"] = "torch"

keras = pytest.importorskip("keras")
pytest.importorskip("torch")

import interactive_metrics as im  # noqa: E402


@pytest.mark.parametrize("name", ["Precision", "Recall"])
@pytest.mark.parametrize("top_k", [1, 4, 7])  # Keras refuses more than the batch holds
@pytest.mark.parametrize("thresholds", [None, 0.5, [0.2, 0.6]])
def test_top_k_of_a_1d_y_pred_matches_keras(name: str, top_k: int, thresholds: object) -> None:
    rng = np.random.default_rng(top_k)
    ours = getattr(im, name)(thresholds=thresholds, top_k=top_k)
    theirs = getattr(keras.metrics, name)(thresholds=thresholds, top_k=top_k)
    for size in (20, 7, 33):
        y_true = rng.integers(0, 2, size).astype("float32")
        # distinct scores (no ties, whose order torch leaves open), none at a threshold
        # (a float32 0.2 is above the float64 0.2, not above Keras' float32 one)
        y_pred = (rng.permutation(size).astype("float32") + 0.5) / size
        weight = rng.random(size).astype("float32")
        ours.update_state(y_true, y_pred, sample_weight=weight)
        theirs.update_state(y_true, y_pred, sample_weight=weight)
        np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), rtol=1e-6)


def test_keras_documented_example_of_a_1d_top_k() -> None:
    # keras.metrics.Precision(top_k=...) on Keras' own test batch, and the same here
    y_true, y_pred = [0, 1, 1, 0, 0], [0.2, 0.1, 0.5, 0.0, 0.2]
    theirs = keras.metrics.Precision(top_k=3)
    theirs.update_state(y_true, y_pred)
    assert float(theirs.result()) == pytest.approx(1 / 3)
    assert im.Precision(top_k=3)(y_true, y_pred) == pytest.approx(float(theirs.result()))
