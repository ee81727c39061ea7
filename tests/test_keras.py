"""interactive_metrics.keras: metrics of this package in `keras.Model.compile(metrics=[...])`.

Real Keras 3 on the torch backend (both dev dependencies): `to_keras(metric)` in `fit`
reports, epoch by epoch, what Keras' own metric reports in the same run, and the
metric's history shows Keras' resets; a metric given to `compile` as it is raises a
TypeError naming `to_keras` instead of the silently wrong averages of running results.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

if "keras" not in sys.modules:  # Keras reads its backend once, when first imported
    os.environ["KERAS_BACKEND"] = "torch"

import keras  # noqa: E402
import torch  # noqa: E402

import interactive_metrics as im  # noqa: E402
from interactive_metrics.keras import (  # noqa: E402
    refuse_keras_wrapping,
    to_keras,
    traced_input,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES, BATCH = 96, 16  # 6 batches an epoch
BATCHES = SAMPLES // BATCH


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SAMPLES, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.5 * rng.normal(size=SAMPLES) > 0).astype("float32")
    return x, y[:, None]


def model(*metrics: Any, weighted_metrics: Any = None) -> Any:
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    net.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.5),
        loss="binary_crossentropy",
        metrics=list(metrics),
        weighted_metrics=weighted_metrics,
    )
    return net


def predict(net: Any, x: np.ndarray) -> np.ndarray:
    # not `net.predict`: Keras' conversion of torch tensors warns under numpy 2 (copy=False)
    return net(x).detach().cpu().numpy()


def test_the_backend_is_torch() -> None:
    # the fit tests below need a backend that can fit; numpy's cannot
    assert keras.config.backend() == "torch"


def test_fit_reports_what_keras_own_metric_reports_each_epoch() -> None:
    x, y = data()
    ours = im.BinaryAccuracy()
    net = model(keras.metrics.BinaryAccuracy(name="keras_accuracy"), to_keras(ours, name="ours"))
    logs = net.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0).history
    theirs = [float(v) for v in logs["keras_accuracy"]]
    assert logs["ours"] == pytest.approx(theirs, abs=1e-6)
    # training moved the model: the epochs differ, so averaging across them would show
    assert len(set(theirs)) > 1
    # each epoch's count is one epoch of samples: Keras' reset reached the metric
    history = ours.history
    per_epoch = history.filter(history["event"] == "update")["running_count"].to_list()
    assert per_epoch[BATCHES - 1 :: BATCHES] == [SAMPLES] * 3


def test_the_history_records_one_reset_at_the_start_of_each_epoch() -> None:
    x, y = data()
    ours = im.BinaryAccuracy()
    net = model(to_keras(ours))
    logs = net.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0).history
    history = ours.history
    assert history["event"].to_list() == (["reset"] + ["update"] * BATCHES) * 3
    # the last row of each epoch is what Keras logged for it
    last = history["result"].to_list()[BATCHES :: BATCHES + 1]
    assert last == pytest.approx(logs["binary_accuracy"], abs=0)
    # and Keras' placeholder "symbolic build" before the first batch recorded nothing
    assert history["step"][0] == 1 and history["event"][0] == "reset"


def test_per_batch_results_are_the_running_accuracy_of_the_batches_seen() -> None:
    x, y = data()
    ours = im.BinaryAccuracy()
    net = model(to_keras(ours))
    net.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    # after training, replay the same batches by hand: the oracle is numpy's mean
    ours.reset_state()
    predictions = predict(net, x)
    net.evaluate(x, y, batch_size=BATCH, verbose=0)
    hits = ((predictions > 0.5) == (y > 0.5)).ravel()
    expected = [hits[: (i + 1) * BATCH].mean() for i in range(BATCHES)]
    history = ours.history
    results = history.filter(history["event"] == "update")["result"].to_list()
    assert results[-BATCHES:] == pytest.approx(expected, abs=1e-12)


def test_validation_data_resets_again_and_logs_what_keras_logs() -> None:
    x, y = data()
    validation = data(seed=1)
    ours = im.BinaryAccuracy()
    net = model(keras.metrics.BinaryAccuracy(name="keras_accuracy"), to_keras(ours, name="ours"))
    logs = net.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        shuffle=False,
        verbose=0,
        validation_data=validation,
        validation_batch_size=48,
    ).history
    assert logs["val_ours"] == pytest.approx([float(v) for v in logs["val_keras_accuracy"]])
    assert logs["ours"] == pytest.approx([float(v) for v in logs["keras_accuracy"]])
    epoch = ["reset"] + ["update"] * BATCHES + ["reset"] + ["update"] * 2
    assert ours.history["event"].to_list() == epoch * 2


def test_sample_weight_reaches_a_weighted_metric() -> None:
    # Keras passes `sample_weight` to `weighted_metrics` only (`metrics` are unweighted)
    x, y = data()
    weights = np.linspace(0.0, 2.0, SAMPLES).astype("float32")
    ours, unweighted = im.BinaryAccuracy(), im.BinaryAccuracy(name="unweighted")
    weighted = [keras.metrics.BinaryAccuracy(name="keras_accuracy"), to_keras(ours, name="ours")]
    net = model(to_keras(unweighted), weighted_metrics=weighted)
    logs = net.evaluate(x, y, sample_weight=weights, batch_size=BATCH, verbose=0, return_dict=True)
    predictions = predict(net, x)
    hits = ((predictions > 0.5) == (y > 0.5)).ravel()
    assert logs["ours"] == pytest.approx(np.average(hits, weights=weights), abs=1e-12)
    assert logs["ours"] == pytest.approx(float(logs["keras_accuracy"]), abs=1e-6)
    assert logs["unweighted"] == pytest.approx(hits.mean(), abs=1e-12)
    assert logs["ours"] != pytest.approx(logs["unweighted"])  # the weights matter here


def test_a_regression_metric_matches_keras_too() -> None:
    x, y = data()
    ours = im.MeanSquaredError()
    net = model(keras.metrics.MeanSquaredError(name="keras_mse"), to_keras(ours, name="ours"))
    logs = net.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0).history
    assert logs["ours"] == pytest.approx([float(v) for v in logs["keras_mse"]], rel=1e-5)


# -- the silently wrong use fails loudly ----------------------------------------------------


def test_a_metric_given_to_compile_as_it_is_raises_naming_to_keras() -> None:
    x, y = data()
    accuracy = im.BinaryAccuracy()
    net = model(accuracy)
    with pytest.raises(TypeError, match=r"was called by `keras\..*to_keras\(metric\)"):
        net.fit(x, y, batch_size=BATCH, epochs=3, verbose=0)
    assert accuracy.step == 0 and accuracy.history.height == 0  # nothing was recorded
    with pytest.raises(TypeError, match=r"plain function.*to_keras"):
        net.evaluate(x, y, verbose=0)


def test_calling_a_metric_from_your_own_loop_is_not_refused() -> None:
    # Keras is imported here, and the tensors are torch's: still your loop, not Keras'
    accuracy = im.BinaryAccuracy()
    result = accuracy(torch.tensor([1.0, 0.0, 1.0]), torch.tensor([0.9, 0.8, 0.7]))
    assert result == pytest.approx(2 / 3)


def test_to_keras_refuses_what_it_cannot_forward_to() -> None:
    with pytest.raises(
        TypeError, match=r"`metric` must be a metric of interactive_metrics.*got <BinaryAccuracy"
    ):
        to_keras(keras.metrics.BinaryAccuracy())
    with pytest.raises(
        TypeError, match=r"`metric` must be a metric of interactive_metrics.*got 'accuracy'"
    ):
        to_keras("accuracy")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"must take `\(y_true, y_pred\)`.*\('values',\)"):
        to_keras(im.Mean())


def test_the_adapter_is_a_keras_metric_named_after_the_metric() -> None:
    from interactive_metrics.keras import KerasMetric

    accuracy = im.BinaryAccuracy(name="acc")
    adapter = to_keras(accuracy)
    assert isinstance(adapter, keras.metrics.Metric) and isinstance(adapter, KerasMetric)
    assert adapter.metric is accuracy and adapter.name == "acc"
    assert to_keras(accuracy, name="other").name == "other"
    assert KerasMetric.__module__ == "interactive_metrics.keras"
    assert adapter.get_config()["metric_class"] == "BinaryAccuracy"
    adapter.update_state(np.array([1.0, 0.0]), np.array([0.9, 0.9]))
    assert adapter.result() == 0.5 and accuracy.result() == 0.5
    adapter.reset_state()
    assert accuracy.history["event"].to_list() == ["update", "reset"]


def test_a_traced_batch_raises_naming_run_eagerly() -> None:
    adapter = to_keras(im.BinaryAccuracy())
    meta = torch.ones(4, 1, device="meta")
    with pytest.raises(
        TypeError, match=r"got a torch tensor on the `meta` device.*run_eagerly=True"
    ):
        adapter.update_state(meta, meta)
    assert adapter.metric.step == 0


# -- recognising traced tensors without importing their frameworks --------------------------


def fake(module: str, name: str, *bases: type, **attributes: Any) -> Any:
    return type(name, bases or (object,), {"__module__": module, **attributes})()


def test_traced_input_names_each_framework_traced_tensor() -> None:
    tracer = type("Tracer", (), {"__module__": "jax._src.core"})
    jit = fake("jax._src.interpreters.partial_eval", "DynamicJaxprTracer", tracer)
    assert "traced JAX array (DynamicJaxprTracer, inside `jax.jit`)" in str(traced_input([jit]))
    assert traced_input([fake("jaxlib.xla_extension", "ArrayImpl")]) is None  # a concrete array
    symbolic = fake("tensorflow.python.framework.ops", "SymbolicTensor")
    assert "symbolic TensorFlow tensor" in str(traced_input([1.0, symbolic]))
    eager = fake("tensorflow.python.framework.ops", "EagerTensor", numpy=lambda self: 1)
    assert traced_input([eager]) is None
    keras_tensor = keras.KerasTensor((None, 1))
    assert "KerasTensor" in str(traced_input([keras_tensor]))
    assert "meta" in str(traced_input([torch.ones(2, device="meta")]))
    assert traced_input([torch.ones(2), np.ones(2), [1.0], 3.0]) is None


def test_refuse_keras_wrapping_refuses_traced_input_while_keras_is_imported() -> None:
    with pytest.raises(TypeError, match=r"was called with a symbolic KerasTensor.*to_keras"):
        refuse_keras_wrapping(im.Mean(), [keras.KerasTensor((2,))])
    refuse_keras_wrapping(im.Mean(), [torch.ones(2)])  # eager tensors from here: fine


# -- Keras stays optional ---------------------------------------------------------------------


def test_importing_the_package_and_the_module_imports_no_keras() -> None:
    code = (
        "import sys, interactive_metrics as im, interactive_metrics.keras\n"
        "m = im.BinaryAccuracy(); m([1, 0], [0.9, 0.2])\n"
        "print(sorted({'keras', 'torch', 'tensorflow', 'jax'} & set(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("ours", "theirs", "fields"),
    [
        (im.Precision(), keras.metrics.Precision(), ("true_positives", "false_positives")),
        (im.Recall(), keras.metrics.Recall(), ("true_positives", "false_negatives")),
        (im.TruePositives(), keras.metrics.TruePositives(), ("accumulator",)),
    ],
)
def test_state_fields_read_as_keras_variables(ours: Any, theirs: Any, fields: tuple) -> None:
    """``m.true_positives`` reads the state as Keras' variable of that name does."""
    rng = np.random.default_rng(3)
    for _ in range(3):
        y, p = rng.integers(0, 2, 20).astype("float32"), rng.random(20).astype("float32")
        ours.update_state(y, p)
        theirs.update_state(y, p)
    for field in fields:
        keras_value = getattr(theirs, field).value.detach().cpu().numpy().reshape(-1)
        our_field = "true_positives" if field == "accumulator" else field
        np.testing.assert_allclose(np.reshape(getattr(ours, our_field), -1), keras_value)
    with pytest.raises(AttributeError, match="has no attribute 'true_negatives_typo'"):
        ours.true_negatives_typo  # noqa: B018
