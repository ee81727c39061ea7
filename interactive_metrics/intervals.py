"""Confidence intervals from a metric's state: closed forms, and which stream differs.

``metric.interval(level=0.95, method=None)`` picks what the metric's declaration allows:

- a **ratio of counts** (the accuracies, ``Precision``, ``Recall``, ``Specificity``: a
  class attribute ``ratio_of_counts = (numerator, (denominator fields...))``, the
  denominator being the sum of those fields): the Wilson score interval, or
  Clopper–Pearson with ``method="clopper-pearson"``;
- a **mean with a sum of squares** (``Mean(variance=True)``: ``mean_fields = (total,
  count, total_squares)``): the Student t interval with ``count - 1`` degrees of freedom;
- anything else: a ``ValueError`` that says to use :class:`~interactive_metrics.Bootstrap`.

Weights are read as frequency weights: the count (or the denominator) is the number of
observations. The quantile functions are written here (numpy and the standard library
only): the normal quantile from :class:`statistics.NormalDist`, beta and t quantiles by
bisection on the regularised incomplete beta function (a continued fraction).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from interactive_metrics.collection import MetricCollection
    from interactive_metrics.engine import Engine
    from interactive_metrics.metric import Metric
    from interactive_metrics.streams import Streams

__all__ = [
    "adjust_p_values",
    "beta_quantile",
    "breakdown_intervals",
    "clopper_pearson",
    "closed_form",
    "collection_interval",
    "interval",
    "interval_history",
    "state_interval",
    "states_interval",
    "stream_differences",
    "student_t",
    "t_quantile",
    "wilson",
]

METHODS = ("wilson", "clopper-pearson", "t")
CORRECTIONS = ("holm", "bonferroni")


def check_level(level: Any) -> float:
    """``level`` as a float in (0, 1), or a ``ValueError`` saying what was expected."""
    if type(level) is float and 0.0 < level < 1.0:  # the common case: e.g. 0.95
        return level
    if (
        isinstance(level, bool)
        or not isinstance(level, (int, float, np.floating, np.integer))
        or not 0 < float(level) < 1
    ):
        raise ValueError(
            f"`level` must be a number strictly between 0 and 1 (e.g. 0.95), got {level!r}"
        )
    return float(level)


# -- special functions ---------------------------------------------------------------------


def _beta_fraction(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The continued fraction of the incomplete beta function (modified Lentz), elementwise."""
    tiny = 1e-300
    c = np.ones_like(x)
    d = 1 - (a + b) * x / (a + 1)
    d = np.where(np.abs(d) < tiny, tiny, d)
    d = 1 / d
    h = d.copy()
    for m in range(1, 400):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1)),
        ):
            d = 1 + numerator * d
            d = np.where(np.abs(d) < tiny, tiny, d)
            c = 1 + numerator / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            d = 1 / d
            h = h * d * c
        if np.all(np.abs(d * c - 1) < 1e-15):
            break
    return h


def betainc(a: Any, b: Any, x: Any) -> np.ndarray:
    """The regularised incomplete beta function ``I_x(a, b)``, elementwise.

    Examples
    --------
    >>> float(betainc(2.0, 3.0, 0.4))  # 1 - 0.6**4 - 4 * 0.4 * 0.6**3
    0.5248
    """
    a, b, x = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, x)))
    out = np.zeros(x.shape)
    inside = (x > 0) & (x < 1)
    out[x >= 1] = 1.0
    if inside.any():
        ai, bi, xi = a[inside], b[inside], x[inside]
        lgamma = np.vectorize(math.lgamma, otypes=[float])
        front = np.exp(
            lgamma(ai + bi) - lgamma(ai) - lgamma(bi) + ai * np.log(xi) + bi * np.log1p(-xi)
        )
        direct = xi < (ai + 1) / (ai + bi + 2)
        value = np.empty(xi.shape)
        if direct.any():
            value[direct] = (
                front[direct] * _beta_fraction(ai[direct], bi[direct], xi[direct]) / ai[direct]
            )
        flip = ~direct
        if flip.any():
            value[flip] = (
                1 - front[flip] * _beta_fraction(bi[flip], ai[flip], 1 - xi[flip]) / bi[flip]
            )
        out[inside] = value
    return out


def beta_quantile(p: Any, a: Any, b: Any) -> np.ndarray:
    """The ``p`` quantile of Beta(a, b), elementwise (bisection to double precision).

    Examples
    --------
    >>> round(float(beta_quantile(0.5, 2.0, 2.0)), 12)
    0.5
    """
    p, a, b = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (p, a, b)))
    low, high = np.zeros(p.shape), np.ones(p.shape)
    for _ in range(64):
        middle = (low + high) / 2
        below = betainc(a, b, middle) < p
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
    return (low + high) / 2


def t_quantile(q: Any, df: Any) -> np.ndarray:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom, elementwise.

    Examples
    --------
    >>> round(float(t_quantile(0.975, 3)), 4)
    3.1824
    """
    q, df = np.broadcast_arrays(np.asarray(q, dtype=np.float64), np.asarray(df, dtype=np.float64))
    if q.ndim == 0:
        return np.asarray(_t_quantile_scalar(float(q), float(df)))
    return _t_quantile_exact(q, df)


def _t_quantile_scalar(q: float, df: float) -> float:
    """One t quantile: cached below 200 degrees of freedom, the Cornish-Fisher expansion above.

    Four terms of the expansion in ``1/df`` (Abramowitz & Stegun 26.7.5): the error
    at 200 degrees of freedom is about 1e-11 relative, and falls as ``df**-5``. (A
    cache would miss there on every update, as the count grows: it is not used.)
    """
    if df < 200:
        return _t_quantile_small(q, df)
    x = _normal_quantile(q)
    x2 = x * x
    g1 = (x2 + 1) * x / 4
    g2 = ((5 * x2 + 16) * x2 + 3) * x / 96
    g3 = (((3 * x2 + 19) * x2 + 17) * x2 - 15) * x / 384
    g4 = ((((79 * x2 + 776) * x2 + 1482) * x2 - 1920) * x2 - 945) * x / 92160
    return x + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


@functools.lru_cache(maxsize=4096)
def _t_quantile_small(q: float, df: float) -> float:
    return float(_t_quantile_exact(np.asarray(q), np.asarray(df)))


def _t_quantile_exact(q: np.ndarray, df: np.ndarray) -> np.ndarray:
    tail = np.minimum(q, 1 - q)
    x = beta_quantile(2 * tail, df / 2, 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.sqrt(df * (1 - x) / x)
    return np.where(q < 0.5, -t, t)


# -- the intervals -------------------------------------------------------------------------


def _shaped(low: np.ndarray, high: np.ndarray) -> tuple[Any, Any]:
    if np.ndim(low):
        return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    return float(low), float(high)


@functools.lru_cache(maxsize=64)
def _normal_quantile(q: float) -> float:
    return NormalDist().inv_cdf(q)


def wilson(successes: Any, trials: Any, level: float = 0.95) -> tuple[Any, Any]:
    """The Wilson score interval of a proportion ``successes / trials``.

    ``(0, 1)`` when there are no trials.

    Examples
    --------
    >>> [round(x, 4) for x in wilson(8, 10)]
    [0.4902, 0.9433]
    """
    z = _normal_quantile(0.5 + check_level(level) / 2)
    if np.ndim(successes) == 0 and np.ndim(trials) == 0:  # one state: plain floats are faster
        return _wilson_number(float(successes), float(trials), z)
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    empty = n <= 0
    low = np.where(empty, 0.0, np.clip(centre - half, 0, 1))
    high = np.where(empty, 1.0, np.clip(centre + half, 0, 1))
    return _shaped(low, high)


def _wilson_number(k: float, n: float, z: float) -> tuple[float, float]:
    """:func:`wilson` of one count: the same formula on Python floats (a few µs, not 20)."""
    if n <= 0:
        return 0.0, 1.0
    p, zz = k / n, z * z
    centre = (p + zz / (2 * n)) / (1 + zz / n)
    spread = p * (1 - p) / n + zz / (4 * n * n)
    half = z / (1 + zz / n) * math.sqrt(spread) if spread >= 0 else math.nan
    return min(max(centre - half, 0.0), 1.0), min(max(centre + half, 0.0), 1.0)


def clopper_pearson(successes: Any, trials: Any, level: float = 0.95) -> tuple[Any, Any]:
    """The Clopper–Pearson ("exact") interval of a proportion: beta quantiles.

    Examples
    --------
    >>> [round(x, 4) for x in clopper_pearson(8, 10)]
    [0.4439, 0.9748]
    """
    alpha = 1 - check_level(level)
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    k, n = np.broadcast_arrays(k, n)
    low = np.where(k > 0, beta_quantile(alpha / 2, np.maximum(k, 1e-300), n - k + 1), 0.0)
    high = np.where(k < n, beta_quantile(1 - alpha / 2, k + 1, np.maximum(n - k, 1e-300)), 1.0)
    empty = n <= 0
    return _shaped(np.where(empty, 0.0, low), np.where(empty, 1.0, high))


def student_t(total: Any, count: Any, total_squares: Any, level: float = 0.95) -> tuple[Any, Any]:
    """The Student t interval of a mean from its sum, count and sum of squares.

    NaN for fewer than two observations.

    Examples
    --------
    >>> [round(x, 4) for x in student_t(10.0, 4.0, 30.0)]
    [0.4457, 4.5543]
    """
    level = check_level(level)
    if all(isinstance(v, (float, int, np.number)) for v in (total, count, total_squares)):
        return _student_t_number(float(total), float(count), float(total_squares), level)
    total, count, squares = (np.asarray(v, dtype=np.float64) for v in (total, count, total_squares))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / count
        variance = np.maximum(squares - count * mean * mean, 0) / (count - 1)
        half = t_quantile(0.5 + level / 2, np.maximum(count - 1, 1)) * np.sqrt(variance / count)
    few = count < 2
    return _shaped(np.where(few, np.nan, mean - half), np.where(few, np.nan, mean + half))


def _student_t_number(
    total: float, count: float, squares: float, level: float
) -> tuple[float, float]:
    """:func:`student_t` of one state, on Python floats."""
    if not count >= 2:
        return math.nan, math.nan
    mean = total / count
    variance = max(squares - count * mean * mean, 0.0) / (count - 1)
    half = _t_quantile_scalar(0.5 + level / 2, count - 1) * math.sqrt(variance / count)
    return mean - half, mean + half


# -- from a metric -------------------------------------------------------------------------


def _no_closed_form(metric: Metric, why: str) -> ValueError:
    return ValueError(
        f"{type(metric).__name__} has no closed-form interval ({why}); use the bootstrap: "
        f"`im.Bootstrap({type(metric).__name__}(...), replicates=200).interval()`"
    )


def state_interval(
    metric: Metric, state: Mapping[str, Any], level: float = 0.95, method: str | None = None
) -> tuple[Any, Any]:
    """The closed-form interval of ``metric``'s result for ``state`` (a dict of its fields).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> [round(x, 4) for x in state_interval(im.BinaryAccuracy(), {"correct": 8, "count": 10})]
    [0.4902, 0.9433]
    """
    level = check_level(level)
    if method is not None and (not isinstance(method, str) or method not in METHODS):
        raise ValueError(
            f"`method` must be one of {METHODS} or None (chosen from the metric), got "
            f"{method!r}; for any other metric use im.Bootstrap"
        )
    ratio, fields = _declared_fields(type(metric), metric.engine.names)
    if ratio is not None and method in (None, *METHODS[:2]):
        counts = [state[ratio[0]], *(state[name] for name in ratio[1])]
        if all(isinstance(count, float) for count in counts):  # one state: Python floats
            k, n = float(counts[0]), float(sum(counts[1:]))
            value = float(metric.engine.result(state))
            if not abs((k / n if n > 0 else 0.0) - value) <= 1e-12 * abs(value):
                raise _no_closed_form(metric, "its result is not one ratio of its counts here")
            return (
                clopper_pearson(k, n, level) if method == "clopper-pearson" else wilson(k, n, level)
            )
        successes = np.asarray(state[ratio[0]], dtype=np.float64)
        trials = sum(np.asarray(state[name], dtype=np.float64) for name in ratio[1])
        if successes.ndim == 0 and np.ndim(trials) == 0:  # one number: checked with floats
            k, n = float(successes), float(trials)
            value = float(metric.engine.result(state))
            if not abs((k / n if n > 0 else 0.0) - value) <= 1e-12 * abs(value):
                raise _no_closed_form(metric, "its result is not one ratio of its counts here")
            if method == "clopper-pearson":
                return clopper_pearson(k, n, level)
            return wilson(k, n, level)
        with np.errstate(divide="ignore", invalid="ignore"):
            plain = np.where(trials > 0, successes / trials, 0.0)
        result = np.asarray(metric.engine.result(state), dtype=np.float64)
        if plain.shape != result.shape or not bool(
            np.all(np.abs(plain - result) <= 1e-12 * np.abs(result))
        ):
            raise _no_closed_form(metric, "its result is not one ratio of its counts here")
        if method == "clopper-pearson":
            return clopper_pearson(successes, trials, level)
        return wilson(successes, trials, level)
    if fields is not None and method in (None, "t"):
        total, count, squares = state[fields[0]], state[fields[1]], state[fields[2]]
        if isinstance(total, float) and isinstance(count, float) and isinstance(squares, float):
            # one state (Python or numpy floats): no checks left
            return _student_t_number(float(total), float(count), float(squares), level)
        return student_t(total, count, squares, level)
    if fields is None and getattr(type(metric), "mean_fields", None) is not None:
        raise _no_closed_form(metric, "create it with variance=True for a Student t interval")
    if method is not None:
        raise _no_closed_form(metric, f"method {method!r} does not apply to it")
    raise _no_closed_form(metric, "its result is not a ratio of counts nor a mean")


_Declared = tuple[tuple[str, tuple[str, ...]] | None, tuple[str, ...] | None]
_DECLARED: dict[tuple[type, tuple[str, ...]], _Declared] = {}


def _declared_fields(cls: type, names: tuple[str, ...]) -> _Declared:
    """The class's ``ratio_of_counts`` and ``mean_fields``, each None unless its fields exist.

    Cached per class and field names: what ``metric.interval()`` looks up on every call.
    """
    key = (cls, names)
    found = _DECLARED.get(key)
    if found is None:
        if len(_DECLARED) >= 1024:  # classes made on the fly: keep the cache small
            _DECLARED.clear()
        found = _DECLARED[key] = _find_declared(cls, names)
    return found


def _find_declared(cls: type, names: tuple[str, ...]) -> _Declared:
    ratio = getattr(cls, "ratio_of_counts", None)
    if ratio is not None and not {ratio[0], *ratio[1]} <= set(names):
        ratio = None
    fields = getattr(cls, "mean_fields", None)
    if fields is not None and not set(fields) <= set(names):
        fields = None
    return ratio, (None if fields is None else tuple(fields))


def interval(metric: Metric, level: float = 0.95, method: str | None = None) -> tuple[Any, Any]:
    """``metric.interval()``: the closed-form interval of its current result (see the module).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.BinaryAccuracy()
    >>> m.update_state([1, 1, 0, 0, 1], [1, 1, 0, 1, 0])
    >>> [round(x, 4) for x in interval(m, method="clopper-pearson")]
    [0.1466, 0.9473]
    """
    return state_interval(metric, metric.state, level, method)


def collection_interval(
    collection: MetricCollection, level: float = 0.95, method: str | None = None
) -> dict[str, Any]:
    """``collection.interval()``: each member's ``interval(level, method)``, by name.

    A member without an interval (no closed form, and not a
    :class:`~interactive_metrics.Bootstrap`) raises a ``ValueError`` that names it and
    says how to bootstrap every member: ``im.Bootstrap.collection(collection)``.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> metrics = im.MetricCollection({"loss": im.Mean(), "accuracy": im.BinaryAccuracy()})
    >>> collection_interval(metrics)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: member 'loss' of the collection: Mean has no closed-form interval ...
    >>> metrics = im.Bootstrap.collection(metrics, replicates=100)
    >>> metrics.update_state(values=[0.2, 0.9], y_true=[1, 0], y_pred=[1, 1])
    >>> list(collection_interval(metrics))
    ['loss', 'accuracy']
    """
    level = check_level(level)
    out = {}
    for name, member in collection.items():
        try:
            out[name] = member.interval(level, method)
        except ValueError as error:
            raise ValueError(
                f"member {name!r} of the collection: {error}; or bootstrap every member: "
                "`im.Bootstrap.collection(metrics)`"
            ) from None
    return out


# -- blocks of states: a history, a breakdown ------------------------------------------------


def closed_form(metric: Metric, method: str | None = None) -> str | None:
    """The closed form ``metric.interval(method=method)`` uses, from the declaration; or None.

    ``"wilson"``, ``"clopper-pearson"`` or ``"t"``; None when the metric declares no
    closed form (use :class:`~interactive_metrics.Bootstrap`) or ``method`` does not
    apply to it. A ratio-of-counts metric whose result is not that ratio for a given
    state (checked by :func:`state_interval`) still raises there. Never raises.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> closed_form(im.BinaryAccuracy()), closed_form(im.Mean(variance=True))
    ('wilson', 't')
    >>> closed_form(im.Mean()) is None
    True
    >>> closed_form(im.Precision(), "clopper-pearson"), closed_form(im.Precision(), "t")
    ('clopper-pearson', None)
    """
    if method is not None and (not isinstance(method, str) or method not in METHODS):
        return None
    names = set(getattr(getattr(metric, "engine", None), "names", ()))
    ratio = getattr(type(metric), "ratio_of_counts", None)
    if ratio is not None and {ratio[0], *ratio[1]} <= names and method in (None, *METHODS[:2]):
        return method or "wilson"
    fields = getattr(type(metric), "mean_fields", None)
    if fields is not None and set(fields) <= names and method in (None, "t"):
        return "t"
    return None


def states_interval(
    metric: Metric, states: Mapping[str, Any], level: float = 0.95, method: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The closed-form intervals of a block of ``k`` states (fields with a leading axis ``k``).

    Row ``i`` equals :func:`state_interval` of state ``i`` (Wilson, Clopper–Pearson or
    Student t, as the metric declares); for a :class:`~interactive_metrics.Bootstrap`,
    the percentile interval of each state's replicates. What a history's band and a
    breakdown's error bars are drawn from. A ratio-of-counts metric is checked (on
    the rows with trials) to give that ratio as its result, as :func:`state_interval`
    checks one state.

    Returns
    -------
    tuple of numpy.ndarray
        ``(low, high)``, each of shape ``(k, *result_shape)``.

    Examples
    --------
    >>> import numpy as np
    >>> import interactive_metrics as im
    >>> block = {"correct": np.array([8.0, 80.0]), "count": np.array([10.0, 100.0])}
    >>> low, high = states_interval(im.BinaryAccuracy(), block)
    >>> np.round(low, 4).tolist(), np.round(high, 4).tolist()
    ([0.4902, 0.7112], [0.9433, 0.8666])
    """
    from interactive_metrics.bootstrap import Bootstrap, check_method

    level = check_level(level)
    if isinstance(metric, Bootstrap):
        engine = metric.engine
        low, high = engine.intervals(states, level, check_method(method))  # type: ignore[attr-defined]
        return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    if method is not None and (not isinstance(method, str) or method not in METHODS):
        raise ValueError(
            f"`method` must be one of {METHODS} or None (chosen from the metric), got "
            f"{method!r}; for any other metric use im.Bootstrap"
        )
    chosen = closed_form(metric, method)
    engine = metric.engine
    if chosen in ("wilson", "clopper-pearson"):
        ratio = type(metric).ratio_of_counts  # type: ignore[attr-defined]
        successes = np.asarray(states[ratio[0]], dtype=np.float64)
        trials = sum(np.asarray(states[name], dtype=np.float64) for name in ratio[1])
        trials = np.broadcast_to(np.asarray(trials, dtype=np.float64), successes.shape)
        if successes.size:
            result = np.asarray(engine.results(dict(states)), dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                plain = successes / trials
            seen = trials > 0
            if plain.shape != result.shape or not bool(
                np.all(np.abs(plain[seen] - result[seen]) <= 1e-12 * np.abs(result[seen]))
            ):
                raise _no_closed_form(metric, "its result is not one ratio of its counts here")
        bounds = (clopper_pearson if chosen == "clopper-pearson" else wilson)(
            successes, trials, level
        )
    elif chosen == "t":
        total, count, squares = (states[name] for name in type(metric).mean_fields)  # type: ignore[attr-defined]
        bounds = student_t(total, count, squares, level)
    else:  # no closed form: the reasons state_interval gives
        fields = getattr(type(metric), "mean_fields", None)
        if fields is not None and not set(fields) <= set(engine.names):
            raise _no_closed_form(metric, "create it with variance=True for a Student t interval")
        if method is not None:
            raise _no_closed_form(metric, f"method {method!r} does not apply to it")
        raise _no_closed_form(metric, "its result is not a ratio of counts nor a mean")
    return (
        np.atleast_1d(np.asarray(bounds[0], dtype=np.float64)),
        np.atleast_1d(np.asarray(bounds[1], dtype=np.float64)),
    )


def _scalar_only(metric: Metric, what: str) -> None:
    if metric.result_shape != ():
        raise ValueError(
            f"`{what}` draws one number per row, got results of shape {metric.result_shape}; "
            "take one class at a time (e.g. class_id=)"
        )


def interval_history(
    metric: Metric, level: float = 0.95, method: str | None = None
) -> pl.DataFrame:
    """``metric.history`` with ``ci_low`` and ``ci_high``: the interval after every recorded event.

    From the history's running states (``running_<field>``), by :func:`states_interval`:
    row ``i`` is the interval ``metric.interval(level)`` gave at that step. A
    :class:`~interactive_metrics.Bootstrap` gives its own
    :meth:`~interactive_metrics.Bootstrap.interval_history`. After a reset the state
    is empty: a ratio's interval is ``(0, 1)``, a mean's NaN. Scalar results only.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> import polars as pl
    >>> m = im.BinaryAccuracy()
    >>> m.update_state([1] * 10, [1] * 8 + [0] * 2)
    >>> m.update_state([1] * 90, [1] * 72 + [0] * 18)
    >>> interval_history(m).select("step", "result", pl.col("ci_low", "ci_high").round(4)).rows()
    [(1, 0.8, 0.4902, 0.9433), (2, 0.8, 0.7112, 0.8666)]
    """
    from interactive_metrics.bootstrap import Bootstrap

    level = check_level(level)
    _scalar_only(metric, "interval_history")
    if isinstance(metric, Bootstrap):
        return metric.interval_history(level, method)
    frame = metric.history
    m = frame.height
    running = {
        f.name: frame[f"running_{f.name}"].to_numpy().reshape(m, *f.shape)
        for f in metric.engine.fields
    }
    low, high = states_interval(metric, running, level, method)
    return frame.with_columns(
        pl.Series("ci_low", low, dtype=pl.Float64), pl.Series("ci_high", high, dtype=pl.Float64)
    )


def _breakdown_states(frame: pl.DataFrame, engine: Engine) -> dict[str, np.ndarray]:
    """Each stream's state, read from its breakdown's state columns.

    A field whose name a breakdown column takes is read from ``state_<field>``.
    """
    k = frame.height
    states = {}
    for f in engine.fields:
        column = f"state_{f.name}" if f"state_{f.name}" in frame.columns else f.name
        states[f.name] = frame[column].to_numpy().reshape(k, *f.shape)
    return states


def breakdown_intervals(
    streams: Streams, level: float = 0.95, method: str | None = None
) -> pl.DataFrame:
    """``streams.breakdown()`` with each stream's ``ci_low`` and ``ci_high`` at ``level``.

    Closed-form (:func:`states_interval` of the streams' states) where the metric has
    one; for a ``Streams(Bootstrap(...))``,
    :func:`~interactive_metrics.bootstrap.stream_intervals`. A stream without data
    gets the interval of an empty state. Scalar results only.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> import polars as pl
    >>> s = im.Streams(im.BinaryAccuracy())
    >>> s.update_state([1] * 20, [1] * 8 + [0] * 2 + [1] * 10, stream=["a"] * 10 + ["b"] * 10)
    >>> breakdown_intervals(s).select("stream", pl.col("ci_low", "ci_high").round(4)).rows()
    [('a', 0.4902, 0.9433), ('b', 0.7225, 1.0)]
    """
    from interactive_metrics.bootstrap import Bootstrap, stream_intervals

    level = check_level(level)
    metric = streams.metric
    _scalar_only(metric, "breakdown_intervals")
    if isinstance(metric, Bootstrap):
        return stream_intervals(streams, level, method)
    frame = streams.breakdown()
    states = _breakdown_states(frame, metric.engine)
    low, high = states_interval(metric, states, level, method)
    if frame.height == 0:
        low = high = np.zeros(0)
    return frame.with_columns(
        pl.Series("ci_low", low, dtype=pl.Float64), pl.Series("ci_high", high, dtype=pl.Float64)
    )


# -- which stream differs ------------------------------------------------------------------


def adjust_p_values(p_values: Any, correction: str = "holm") -> np.ndarray:
    """Family-wise adjusted p-values: Holm's step-down (default) or Bonferroni.

    Examples
    --------
    >>> adjust_p_values([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
    >>> adjust_p_values([0.01, 0.04, 0.03], "bonferroni").tolist()
    [0.03, 0.12, 0.09]
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"`correction` must be one of {CORRECTIONS}, got {correction!r}")
    p = np.asarray(p_values, dtype=np.float64)
    k = len(p)
    if correction == "bonferroni":
        return np.minimum(p * k, 1.0)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (k - np.arange(k)))
    out = np.empty(k)
    out[order] = np.minimum(stepped, 1.0)
    return out


def _p_value(lows_highs: Any, target: float) -> float:
    """The smallest 1 - level at which the interval (a function of level) excludes ``target``."""
    low, high = 0.0, 1.0 - 1e-12  # search over levels
    for _ in range(40):
        middle = (low + high) / 2
        a, b = lows_highs(middle)
        if a <= target <= b:  # contained: every level above excludes nothing more
            high = middle
        else:
            low = middle
    return 1.0 - (low + high) / 2


def stream_differences(
    streams: Streams, level: float = 0.95, correction: str = "holm"
) -> pl.DataFrame:
    """Per stream: whether its interval excludes the result of all the other streams merged.

    For each stream with data, the rest is the exact merge of every other stream's
    state (``rest_result``); the p-value is the smallest ``1 - level`` at which the
    stream's interval excludes it (closed-form intervals, or the bootstrap percentile
    interval for a ``Streams(Bootstrap(...))``). ``differs`` is the family-wise
    decision at ``1 - level`` across streams, Holm (default) or Bonferroni.
    Scalar results only. See ``docs/intervals.md`` for what this does not mean.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> s = im.Streams(im.BinaryAccuracy())
    >>> for key, right, n in (("a", 285, 300), ("b", 288, 300), ("c", 30, 40)):
    ...     s.update_state([1] * n, [1] * right + [0] * (n - right), stream=key)
    >>> stream_differences(s).select("stream", "differs").rows()
    [('a', False), ('b', False), ('c', True)]
    """
    from interactive_metrics.bootstrap import Bootstrap, percentile_interval

    level = check_level(level)
    if correction not in CORRECTIONS:
        raise ValueError(f"`correction` must be one of {CORRECTIONS}, got {correction!r}")
    metric = streams.metric
    engine = metric.engine
    if metric.result_shape != ():
        raise ValueError(
            f"`streams` must compute a number per stream, got results of shape "
            f"{metric.result_shape}; compare one class at a time (e.g. class_id=)"
        )
    frame = streams.breakdown().filter(pl.col("weight") > 0)
    keys = [c for c in streams.key_names if c in frame.columns] or ["stream"]
    k = frame.height
    names = engine.names
    states = _breakdown_states(frame, engine)
    rest_results, p_values, lows, highs = [], [], [], []
    for i in range(k):
        others = np.flatnonzero(np.arange(k) != i)
        rest = engine.merge_segments(
            {n: states[n][others] for n in names}, np.zeros(len(others), dtype=np.intp), 1
        )
        target = float(engine.results(rest)[0]) if len(others) else math.nan
        own = {n: states[n][i] for n in names}
        replicates = metric.replicate_results(own) if isinstance(metric, Bootstrap) else None

        def bounds(
            lv: float, own: dict[str, Any] = own, replicates: np.ndarray | None = replicates
        ) -> tuple[Any, Any]:
            if replicates is not None:
                return percentile_interval(replicates, lv)
            return state_interval(metric, own, lv)

        a, b = bounds(level)
        lows.append(a)
        highs.append(b)
        rest_results.append(target)
        p_values.append(math.nan if math.isnan(target) else _p_value(bounds, target))
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = adjust_p_values(np.nan_to_num(p, nan=1.0), correction) if k else np.zeros(0)
    adjusted = np.where(np.isnan(p), np.nan, adjusted)
    return frame.select(*keys, "weight", "result").with_columns(
        pl.Series("ci_low", lows, dtype=pl.Float64),
        pl.Series("ci_high", highs, dtype=pl.Float64),
        pl.Series("rest_result", rest_results, dtype=pl.Float64),
        pl.Series("p_value", p),
        pl.Series("p_adjusted", adjusted),
        pl.Series("differs", np.nan_to_num(adjusted, nan=1.0) <= 1 - level),
    )
