"""The metric families, each a small declaration on :class:`~interactive_metrics.Metric`."""

from interactive_metrics.metrics.reduction import (
    Count,
    Max,
    Mean,
    MeanMetricWrapper,
    Min,
    Sum,
    SumMetricWrapper,
)

__all__ = ["Count", "Max", "Mean", "MeanMetricWrapper", "Min", "Sum", "SumMetricWrapper"]
