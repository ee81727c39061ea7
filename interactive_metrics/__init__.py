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

from interactive_metrics import charts, core, data, metrics
from interactive_metrics.core import reduce_sum
from interactive_metrics.io import load
from interactive_metrics.metric import Metric, StateField
from interactive_metrics.metrics import *  # noqa: F403 (every metric class, listed once: metrics.__all__)
from interactive_metrics.streams import Streams

__version__ = "0.1.0"

__all__ = ["Metric", "StateField", "Streams", "charts", "core", "data", "load", "reduce_sum"]
__all__ += metrics.__all__
