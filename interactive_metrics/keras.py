"""Use a metric of this package in ``keras.Model.compile(metrics=[...])``.

Keras' ``compile`` takes any callable that is not a ``keras.metrics.Metric`` for a
per-sample *function*: it wraps it in ``keras.metrics.MeanMetricWrapper`` and averages
what each call returns. Called that way, a metric of this package returns its running
result (which Keras never resets), so the numbers Keras reports would be averages of
running results: silently wrong. This module gives the supported way, and refuses the
other:

- :func:`to_keras` wraps a metric in :class:`KerasMetric`, a real
  ``keras.metrics.Metric`` that forwards ``update_state``, ``result`` and
  ``reset_state`` to the metric, so Keras reports the metric's own numbers and the
  metric's history records Keras' run (each epoch begins with a ``reset`` event);
- :func:`refuse_keras_wrapping` (called by ``Metric.__call__``) raises a ``TypeError``
  naming :func:`to_keras` when Keras calls a metric of this package as a function.

Keras is not a dependency: this module imports it only when :func:`to_keras` (or
:class:`KerasMetric`) is used, and ``import interactive_metrics`` never imports it.
This package computes on numpy, eagerly: the adapter converts each batch's backend
tensors to numpy. With the torch backend this works as it is; a train step that is
traced (JAX's ``jax.jit``, TensorFlow's ``tf.function``, ``torch.compile``) has no
values to convert, so the adapter raises a ``TypeError`` whose remedy is
``compile(..., run_eagerly=True)``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interactive_metrics.metric import Metric

# KerasMetric (module __getattr__) is left out: a star import would import Keras
__all__ = ["refuse_keras_wrapping", "to_keras", "traced_input"]

#: The top-level modules of Keras 3, and of Keras 2 as a package of its own.
_KERAS_MODULES = ("keras", "tf_keras")
_REMEDY = (
    "from interactive_metrics.keras import to_keras; model.compile(metrics=[to_keras(metric)])"
)
_EAGER = (
    "compile the model with `run_eagerly=True` (JAX, TensorFlow; `jit_compile=False` for torch)"
)
_adapter: type | None = None


def to_keras(metric: Metric, *, name: str | None = None) -> Any:
    """Wrap ``metric`` for ``keras.Model.compile(metrics=[...])``: a ``keras.metrics.Metric``.

    The wrapper forwards Keras' ``update_state(y_true, y_pred, sample_weight)``,
    ``result()`` and ``reset_state()`` to ``metric``, converting each batch's backend
    tensors to numpy. Keras then reports the metric's own numbers, and the metric keeps
    its history of the run: Keras resets its metrics when each epoch (and each
    ``evaluate``) begins, so each epoch starts with a ``reset`` event.

    Parameters
    ----------
    metric : Metric
        A metric of this package whose inputs are ``(y_true, y_pred)``, as Keras passes
        them (``BinaryAccuracy``, ``AUC``, ``MeanSquaredError``, ...).
    name : str, optional
        The name Keras shows in its logs; default the metric's name.

    Returns
    -------
    KerasMetric
        A ``keras.metrics.Metric``; the wrapped metric is its ``metric`` attribute.

    Raises
    ------
    TypeError
        If ``metric`` is not a metric of this package, or does not take
        ``(y_true, y_pred)``; during training, if the train step is traced (see
        :class:`KerasMetric`).
    ImportError
        If Keras is not installed.

    Notes
    -----
    Keras imports its backend (``KERAS_BACKEND``) when it is first imported. The torch
    backend runs ``fit`` eagerly by default; under JAX or TensorFlow pass
    ``run_eagerly=True`` to ``compile``. With ``validation_data``, Keras evaluates with
    the same metric objects after each epoch, so the history then shows, per epoch, a
    reset and the training batches, then a reset and the validation batches.

    Examples
    --------
    >>> import os
    >>> _ = os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is first imported
    >>> import numpy as np
    >>> import keras
    >>> import interactive_metrics as im
    >>> from interactive_metrics.keras import to_keras
    >>> accuracy = im.BinaryAccuracy()
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    >>> model.compile(loss="binary_crossentropy", metrics=[to_keras(accuracy)])
    >>> x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    >>> y = np.array([[1.0], [0.0], [1.0], [0.0]])
    >>> logs = model.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)
    >>> logs["binary_accuracy"] == accuracy.result()
    True
    >>> accuracy.history["event"].to_list()
    ['reset', 'update', 'update']
    """
    return _adapter_class()(metric, name=name)


def __getattr__(name: str) -> Any:
    """``KerasMetric`` is made (subclassing ``keras.metrics.Metric``) on first use."""
    if name == "KerasMetric":
        return _adapter_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_metric(metric: Any) -> None:
    """Refuse, before Keras sees it, what the adapter cannot forward Keras' batches to."""
    from interactive_metrics.metric import Metric

    if not isinstance(metric, Metric):
        raise TypeError(
            "`metric` must be a metric of interactive_metrics (e.g. `im.BinaryAccuracy()`), "
            f"got {metric!r}; a Keras metric goes to `compile(metrics=[...])` as it is"
        )
    if tuple(metric.input_names) != ("y_true", "y_pred"):
        raise TypeError(
            f"`metric` must take `(y_true, y_pred)`, as Keras' `compile` passes them; got "
            f"{metric!r}, whose inputs are {tuple(metric.input_names)!r}; wrap a metric of "
            "predictions (BinaryAccuracy, AUC, MeanSquaredError, ...), or update this one "
            "yourself, e.g. in a `keras.callbacks.Callback`"
        )


def _adapter_class() -> type:
    """The ``KerasMetric`` class, defined (once) when Keras is first asked for."""
    global _adapter
    if _adapter is not None:
        return _adapter
    try:
        import keras
    except ImportError as error:
        raise ImportError(
            "interactive_metrics.keras needs `keras` (3.x), which is not installed; "
            "install it with: pip install keras"
        ) from error
    try:  # Keras runs a train step on placeholder data to infer shapes: not a batch
        from keras.src.backend import in_symbolic_scope
    except ImportError:  # pragma: no cover - a Keras without it: every call is a batch

        def in_symbolic_scope() -> bool:
            return False

    class KerasMetric(keras.metrics.Metric):
        """A ``keras.metrics.Metric`` that forwards Keras' calls to a metric of this package.

        Made by :func:`to_keras` (which see); ``KerasMetric(metric, name=None,
        dtype=None)`` is the same. ``update_state`` updates ``metric`` with ``y_true``,
        ``y_pred`` and ``sample_weight`` (its input coercion turns backend tensors into
        numpy arrays; a torch tensor is detached and moved to the CPU first);
        ``result`` is ``metric.result()``; ``reset_state`` resets ``metric`` (a
        ``reset`` event in its history). Calls Keras makes on
        placeholder data to infer shapes (its "symbolic build") are not batches and
        change nothing.

        Raises
        ------
        TypeError
            From ``update_state``, if the batch is traced (``jax.jit``,
            ``tf.function``, ``torch.compile``): there are no values to convert; the
            remedy, ``compile(..., run_eagerly=True)``, is in the message.
        """

        def __init__(self, metric: Metric, name: str | None = None, dtype: Any = None) -> None:
            _check_metric(metric)
            super().__init__(name=metric.name if name is None else name, dtype=dtype)
            self._metric = metric

        @property
        def metric(self) -> Metric:
            """The wrapped metric of this package (its history records the run)."""
            return self._metric

        def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
            """Convert the batch to numpy and update the wrapped metric."""
            if in_symbolic_scope():
                return
            inputs = (y_true, y_pred) if sample_weight is None else (y_true, y_pred, sample_weight)
            traced = traced_input(inputs)
            if traced is not None:
                raise TypeError(
                    f"`{self.name}` (interactive_metrics, wrapped by `to_keras`) got {traced}: "
                    "it computes on numpy, eagerly, and a traced train step has no values "
                    f"to give it; {_EAGER}"
                )
            # the metric's own coercion takes backend tensors (torch: detached, to the CPU)
            self._metric.update_state(y_true, y_pred, sample_weight=sample_weight)

        def result(self) -> Any:
            """The wrapped metric's result."""
            return self._metric.result()

        def reset_state(self) -> None:
            """Reset the wrapped metric (a ``reset`` event in its history)."""
            self._metric.reset_state()

        def get_config(self) -> dict[str, Any]:
            """Keras' config (``name``, ``dtype``) and the wrapped metric's."""
            return {
                **super().get_config(),
                "metric_class": type(self._metric).__name__,
                "metric": self._metric.get_config(),
            }

        def __repr__(self) -> str:
            return f"<KerasMetric name={self.name} metric={self._metric!r}>"

    KerasMetric.__module__ = __name__
    KerasMetric.__qualname__ = "KerasMetric"
    _adapter = KerasMetric
    return KerasMetric


def traced_input(values: Iterable[Any]) -> str | None:
    """Describe the first traced or symbolic tensor in ``values`` (None if there is none).

    A tensor with no values yet, as a traced train step has: a JAX tracer (inside
    ``jax.jit``), a symbolic TensorFlow tensor (inside ``tf.function``), a torch tensor
    on the ``meta`` device or being compiled (``torch.compile``), a ``KerasTensor``.
    Told apart by the module their types come from, so that no framework is imported.

    Examples
    --------
    >>> import numpy as np
    >>> traced_input([np.ones(3), [1, 2]]) is None
    True
    """
    for value in values:
        kind = type(value)
        package = kind.__module__.partition(".")[0]
        if package in ("jax", "jaxlib"):
            if any(base.__name__.endswith("Tracer") for base in kind.__mro__):
                return f"a traced JAX array ({kind.__name__}, inside `jax.jit`)"
        elif package == "tensorflow":
            if kind.__name__ == "SymbolicTensor" or not callable(getattr(value, "numpy", None)):
                return f"a symbolic TensorFlow tensor ({kind.__name__}, inside `tf.function`)"
        elif package in _KERAS_MODULES:
            if kind.__name__ == "KerasTensor":
                return "a symbolic KerasTensor (no values yet)"
        elif package == "torch":
            if kind.__name__ in ("FakeTensor", "FunctionalTensor"):
                return f"a traced torch tensor ({kind.__name__}, inside `torch.compile`)"
            if getattr(getattr(value, "device", None), "type", None) == "meta":
                return "a torch tensor on the `meta` device (no values)"
    torch = sys.modules.get("torch")
    compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    if callable(compiling) and compiling():
        return "a torch tensor inside `torch.compile` (`jit_compile=True`)"
    tensorflow = sys.modules.get("tensorflow")
    eagerly = getattr(tensorflow, "executing_eagerly", None)
    if callable(eagerly) and not eagerly():
        return "a symbolic TensorFlow tensor (inside `tf.function`)"
    return None


def refuse_keras_wrapping(metric: Metric, inputs: Iterable[Any]) -> None:
    """Raise ``TypeError`` if Keras is calling ``metric`` as a plain function.

    ``Metric.__call__`` calls this first. Keras' ``compile(metrics=[metric])`` wraps a
    callable that is not a ``keras.metrics.Metric`` in ``MeanMetricWrapper``, which calls
    it once per batch and averages what it returns: the metric's running result, never
    reset, so the averages Keras would report are wrong. Seen from the call: the caller
    (the first frame outside this package) is Keras' code, or an input is a traced
    tensor (:func:`traced_input`) while Keras is imported. Nothing is checked, at the
    cost of one dictionary look-up, while Keras is not imported; a metric called with
    torch or JAX tensors from your own loop is not refused.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> refuse_keras_wrapping(im.Mean(), [[1.0, 2.0]]) is None  # called from here: fine
    True
    """
    modules = sys.modules
    if not any(name in modules for name in _KERAS_MODULES):
        return
    frame = sys._getframe(1)
    while frame.f_back is not None and str(frame.f_globals.get("__name__", "")).startswith(
        "interactive_metrics."
    ):
        frame = frame.f_back
    caller = str(frame.f_globals.get("__name__", ""))
    if caller.partition(".")[0] in _KERAS_MODULES:
        how = f"by `{caller}` (Keras' `compile(metrics=[...])` wraps it as a plain function)"
    else:
        traced = traced_input(inputs)
        if traced is None:
            return
        how = f"with {traced}"
    raise TypeError(
        f"`metric` {metric!r} was called {how}: Keras would average its running results, "
        f"which it never resets, and report wrong numbers; pass the metric to Keras "
        f"wrapped: {_REMEDY}"
    )
