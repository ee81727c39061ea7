"""interactive_metrics: see what a metric computes, batch by batch and stream by stream.

Metrics speak the Keras protocol (``update_state``, ``result``, ``reset_state``,
``merge_state``), keep a polars history of every event, and run on numpy.
Charts (altair) and widgets (ipywidgets) load only when asked for.

Examples
--------
>>> import interactive_metrics as im
>>> m = im.Sum()
>>> m.update_state([1, 3, 5, 7])
>>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
>>> m.result()
20.0
"""

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

from interactive_metrics import core, metrics
from interactive_metrics.core import reduce_sum
from interactive_metrics.errors import UnknownKeyError
from interactive_metrics.metric import Metric, StateField
from interactive_metrics.metrics import *  # noqa: F403 (every metric class, listed once: metrics.__all__)

if TYPE_CHECKING:
    from interactive_metrics import charts, data, io  # noqa: F401 (lazy, below)
    from interactive_metrics.bootstrap import Bootstrap
    from interactive_metrics.collection import MetricCollection
    from interactive_metrics.io import load
    from interactive_metrics.streams import Streams

__version__ = "0.1.0"

__all__ = [
    "Bootstrap",
    "Metric",
    "MetricCollection",
    "StateField",
    "Streams",
    "UnknownKeyError",
    "charts",
    "core",
    "data",
    "load",
    "reduce_sum",
]
__all__ += metrics.__all__

# Imported on first use (PEP 562), so that `import interactive_metrics` stays fast:
# name -> (module, attribute)
_LAZY = {
    "charts": ("interactive_metrics.charts", None),
    "data": ("interactive_metrics.data", None),
    "io": ("interactive_metrics.io", None),
    "load": ("interactive_metrics.io", "load"),
    "Bootstrap": ("interactive_metrics.bootstrap", "Bootstrap"),
    "MetricCollection": ("interactive_metrics.collection", "MetricCollection"),
    "Streams": ("interactive_metrics.streams", "Streams"),
}


# Keras / torchmetrics / scikit-learn names users type that are not here (yet): the nearest
# available metric to suggest instead.
_NOT_YET = {
    "JaccardIndex": "IoU",
    "MatthewsCorrCoef": "MatthewsCorrelation",
    "CohenKappaScore": "CohenKappa",
    "BalancedAccuracyScore": "BalancedAccuracy",
    "AveragePrecisionScore": "AveragePrecision",
    "AUROC": "AUC",
    "ROC": "AUC",
    "PrecisionRecallCurve": "AUC",
    "CalibrationError": "ExpectedCalibrationError",
    "BinaryCalibrationError": "ExpectedCalibrationError",
    "MulticlassCalibrationError": "ExpectedCalibrationError",
    "Huber": "LogCoshError",
    "MeanSquaredLogError": "MeanSquaredLogarithmicError",
    "ExplainedVariance": "R2Score",
    "SpearmanCorrCoef": "PearsonCorrelation",
    "PearsonCorrCoef": "PearsonCorrelation",
    "ConcordanceCorrCoef": "ConcordanceCorrelation",
    "KLDivergenceLoss": "KLDivergence",
}


def _missing(name: str) -> AttributeError:
    """An AttributeError for ``im.<name>`` that suggests the nearest available metric."""
    from difflib import get_close_matches

    suggestion = _NOT_YET.get(name)
    if suggestion is None:
        close = get_close_matches(name, sorted(set(__all__) | set(_NOT_YET)), n=1, cutoff=0.6)
        suggestion = _NOT_YET.get(close[0], close[0]) if close else None
    known = name in _NOT_YET
    message = (
        f"interactive_metrics has no {name!r} yet (a Keras/torchmetrics name not implemented here)"
        if known
        else f"module 'interactive_metrics' has no attribute {name!r}"
    )
    if suggestion is not None:
        message += f"; the nearest available metric is `im.{suggestion}`"
    return AttributeError(message)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        if name.startswith("__"):
            raise AttributeError(f"module 'interactive_metrics' has no attribute {name!r}")
        raise _missing(name)
    module, attribute = _LAZY[name]
    value = import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def _draw_charts_offline() -> None:
    """In IPython, the first altair chart shown enables the offline renderer (if none was chosen).

    Nothing is imported here (altair loads with the first chart); see
    :mod:`interactive_metrics.widgets.renderer`.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        from interactive_metrics.widgets.renderer import register_display_hook

        register_display_hook(shell)


_draw_charts_offline()


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
