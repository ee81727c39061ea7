"""The numpy core: input coercion, ``sample_weight`` broadcasting and reductions.

Nothing here imports a renderer; everything is a pure function of arrays.
"""

from interactive_metrics.core.coerce import as_array, as_sample_weight, resolve_dtype
from interactive_metrics.core.reduce import (
    REDUCTIONS,
    OneHot,
    Product,
    Reduction,
    compensated_add,
    divide_no_nan,
    reduce_sum,
)
from interactive_metrics.core.weights import masked_samples, squeeze_or_expand, weighted_samples

__all__ = [
    "REDUCTIONS",
    "OneHot",
    "Product",
    "Reduction",
    "as_array",
    "as_sample_weight",
    "compensated_add",
    "divide_no_nan",
    "masked_samples",
    "reduce_sum",
    "resolve_dtype",
    "squeeze_or_expand",
    "weighted_samples",
]
