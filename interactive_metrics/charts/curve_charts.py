"""ROC and precision-recall curves of the thresholded metrics, read from their stored counts.

``AUC``, ``PrecisionAtRecall``, ``RecallAtPrecision``, ``SensitivityAtSpecificity``
and ``SpecificityAtSensitivity`` keep, as their state, the label weights per
threshold bucket; ``metric.counts()`` turns a state into true/false
positives/negatives per threshold. Everything here is read from those counts
(:func:`threshold_table`): nothing is recomputed from data, so a curve is exact for
any number of merged batches, streams or replays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from interactive_metrics.charts import style
from interactive_metrics.charts._common import FEW_POINTS, altair, message_chart

__all__ = [
    "CURVE_KINDS",
    "MERGED",
    "has_threshold_counts",
    "operating_point",
    "pr_curve",
    "roc_curve",
    "threshold_table",
]

MERGED = "(merged)"
"""The label of the merged curve of a Streams (as in :func:`~.stream_history`)."""
SIZE = 360
COUNT_COLUMNS = ("true_positives", "false_positives", "true_negatives", "false_negatives")
_AXES = {
    "roc": ("false_positive_rate", "recall", "false positive rate", "true positive rate (recall)"),
    "pr": ("recall", "precision", "recall", "precision"),
}
# the *At* metrics: (its attribute holding the constraint, constrained rate, optimised rate)
_CONSTRAINTS = {
    "SensitivityAtSpecificity": ("specificity", "specificity", "recall"),
    "SpecificityAtSensitivity": ("sensitivity", "recall", "specificity"),
    "PrecisionAtRecall": ("recall", "recall", "precision"),
    "RecallAtPrecision": ("precision", "precision", "recall"),
}


def _is_streams(source: Any) -> bool:
    from interactive_metrics import Streams

    return isinstance(source, Streams)


def has_threshold_counts(source: Any) -> bool:
    """Whether ``source`` (a metric, or a Streams of one) keeps counts per threshold.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> has_threshold_counts(im.AUC()), has_threshold_counts(im.Streams(im.AUC()))
    (True, True)
    >>> has_threshold_counts(im.Mean())
    False
    """
    metric = source.metric if _is_streams(source) else source
    return callable(getattr(metric, "counts", None)) and hasattr(metric, "threshold_values")


def _metric_of(source: Any, chart: str) -> Any:
    if not has_threshold_counts(source):
        raise TypeError(
            f"`{chart}` draws metrics that keep counts per threshold (AUC, PrecisionAtRecall, "
            f"RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity), got "
            f"{type(source).__name__}; e.g. m = im.AUC(); m.update_state(y_true, y_score)"
        )
    metric = source.merged() if _is_streams(source) else source
    if getattr(metric, "multi_label", False):
        raise ValueError(
            f"`{chart}` draws one curve per metric (or per stream), got a multi-label AUC "
            f"with num_labels={metric.num_labels!r}; use one AUC per label "
            "(multi_label=False) to see each label's curve"
        )
    return metric


def _rates(counts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Precision, recall, false positive rate, specificity and F1 per threshold (0 for 0/0)."""
    tp, fp, tn, fn = (np.asarray(counts[c], dtype=np.float64) for c in COUNT_COLUMNS)

    def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.divide(a, b, out=np.zeros_like(a), where=b != 0)

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "false_positive_rate": ratio(fp, fp + tn),
        "specificity": ratio(tn, tn + fp),
    }


def _block(metric: Any, state: Mapping[str, Any] | None, label: str) -> pl.DataFrame:
    counts = metric.counts(state)
    thresholds = np.asarray(metric.threshold_values, dtype=np.float64)
    columns: dict[str, Any] = {"stream": label, "threshold": thresholds}
    columns.update({c: np.asarray(counts[c], dtype=np.float64) for c in COUNT_COLUMNS})
    columns.update(_rates(counts))
    return pl.DataFrame(columns)


def _stream_states(streams: Any) -> list[tuple[Any, dict[str, Any]]]:
    """Each stream's key and state, read from ``streams.breakdown()``."""
    metric = streams.merged()
    table = style.with_stream_label(streams.breakdown(), streams.key_names)
    names = [f.name for f in metric.fields]
    own = {n: (n if n in table.columns else f"state_{n}") for n in names}
    out = []
    for row in range(table.height):
        state = {n: np.asarray(table[own[n]][row].to_numpy()) for n in names}
        out.append((table["stream"][row], state))
    return out


def threshold_table(source: Any, *, merged: bool = True) -> pl.DataFrame:
    """The confusion counts and rates at every threshold, from the stored state.

    Parameters
    ----------
    source : metric or Streams
        A metric that keeps counts per threshold (``AUC``, ``PrecisionAtRecall``,
        ...), or a ``Streams`` of one.
    merged : bool
        For a Streams: also the merged rows (``stream`` = ``"(merged)"``), first.

    Returns
    -------
    polars.DataFrame
        One row per (stream, threshold): ``stream`` (the stream's label; the
        metric's name for a metric), ``threshold``, ``true_positives``,
        ``false_positives``, ``true_negatives``, ``false_negatives`` (weighted;
        predicted positive means score > threshold, as Keras), ``precision``,
        ``recall``, ``f1``, ``false_positive_rate``, ``specificity`` (0 where the
        denominator is 0, as Keras' ``divide_no_nan``).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.AUC(num_thresholds=3)
    >>> m.update_state([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> threshold_table(m).select("threshold", "true_positives", "false_positives").rows()
    [(-1e-07, 2.0, 2.0), (0.5, 1.0, 1.0), (1.0000001, 0.0, 0.0)]
    """
    metric = _metric_of(source, "threshold_table")
    if not _is_streams(source):
        return _block(metric, None, str(metric.name))
    blocks = [_block(metric, None, MERGED)] if merged else []
    for key, state in _stream_states(source):
        blocks.append(_block(metric, state, style.stream_label(key)))
    if not blocks:
        return _block(metric, None, MERGED).clear()
    return pl.concat(blocks)


def operating_point(metric: Any, state: Mapping[str, Any] | None = None) -> tuple[int | None, str]:
    """The threshold index a chart marks, and what it is, for a state of ``metric``.

    The ``...At...`` metrics mark the threshold their result comes from (the first
    where the constraint holds with the best optimised rate); ``AUC`` marks the
    threshold nearest to 0.5. None when the constraint holds nowhere. ``state``
    defaults to the metric's current state (pass a stream's to mark its own).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.PrecisionAtRecall(0.5, num_thresholds=5)
    >>> m.update_state([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> index, what = operating_point(m)
    >>> m.threshold_values[index], what, m.result()
    (0.75, 'best precision where recall ≥ 0.5', 1.0)
    """
    thresholds = np.asarray(metric.threshold_values, dtype=np.float64)
    constraint = _CONSTRAINTS.get(_at_kind(metric))
    if constraint is None:
        index = int(np.argmin(np.abs(thresholds - 0.5)))
        return index, "the threshold nearest to 0.5"
    attribute, constrained, optimised = constraint
    value = float(getattr(metric, attribute))
    rates = _rates(metric.counts(state))
    ok = rates[constrained] >= value
    what = f"best {optimised} where {constrained} ≥ {style.format_number(value)}"
    if not ok.any():
        return None, f"no threshold has {constrained} ≥ {style.format_number(value)}"
    return int(np.argmax(np.where(ok, rates[optimised], -1.0))), what


def _at_kind(metric: Any) -> str:
    for cls in type(metric).__mro__:
        if cls.__name__ in _CONSTRAINTS and cls.__module__.startswith("interactive_metrics"):
            return cls.__name__
    return ""


def _area(metric: Any, kind: str, state: Mapping[str, Any] | None, block: pl.DataFrame) -> str:
    """``"AUC 0.8123"`` (the metric's own area, Keras' summation) or a trapezoid area."""
    curve = getattr(metric, "curve", None)
    if curve is not None and callable(getattr(metric, "get_config", None)):
        if curve == kind.upper():
            area = metric.compute(metric.state if state is None else state)
        else:  # the same AUC on the other curve: its configuration with curve= swapped
            sibling = type(metric)(**{**metric.get_config(), "curve": kind.upper()})
            area = sibling.compute(metric.state if state is None else state)
        return f"AUC {style.format_number(float(area))}"
    x_name, y_name, _, _ = _AXES[kind]
    x, y = block[x_name].to_numpy(), block[y_name].to_numpy()
    return f"area {style.format_number(float(abs(np.trapezoid(y, x))))}"


def _curve(source: Any, kind: str, width: Any, height: int, max_streams: int) -> Any:
    alt = altair()
    chart = "roc_curve" if kind == "roc" else "pr_curve"
    metric = _metric_of(source, chart)
    colors = style.colors()
    x_name, y_name, x_title, y_title = _AXES[kind]
    words = "ROC curve" if kind == "roc" else "precision-recall curve"
    title = f"{style.humanize(str(metric.name))}: {words}"
    streams = _is_streams(source)
    # (label, colour, state, block) per drawn curve
    curves: list[tuple[str, str, Any, pl.DataFrame]] = []
    notes: list[str] = []
    if streams:
        states = _stream_states(source)
        if len(states) > max_streams:
            weights = source.breakdown()["weight"].to_numpy()
            keep = sorted(np.argsort(-weights, kind="stable")[:max_streams])
            notes.append(f"the {max_streams} heaviest of {len(states):,} streams shown")
            states = [states[i] for i in keep]
        keys = [key for key, _ in states]
        for (key, state), color in zip(
            states, style.stream_colors(keys, source.streams), strict=True
        ):
            block = _block(metric, state, style.stream_label(key))
            curves.append((style.stream_label(key), color, state, block))
        curves.append((MERGED, colors.merged, None, _block(metric, None, MERGED)))
    else:
        curves.append((str(metric.name), colors.result, None, _block(metric, None, "")))
    total = curves[-1][3]
    positives = float(total["true_positives"][0] + total["false_negatives"][0])
    negatives = float(total["false_positives"][0] + total["true_negatives"][0])
    if positives == 0 or negatives == 0:
        seen = "no samples yet" if positives + negatives == 0 else "only one class so far"
        return message_chart(
            f"{seen}: a {words} needs positive and negative labels", title, height=height
        )
    rows, marked, domain, palette = [], [], [], []
    point_note, thresholds_marked = "", []
    for label, color, state, block in curves:
        name = f"{label} · {_area(metric, kind, state, block)}"
        index, point_note = operating_point(metric, state)
        block = block.with_columns(pl.lit(name).alias("curve"))
        if index is not None:
            marked.append(block.slice(index, 1))
            thresholds_marked.append(float(block["threshold"][index]))
        if kind == "pr":  # no predicted positive: precision is undefined, not drawn
            block = block.filter(pl.col("true_positives") + pl.col("false_positives") > 0)
        rows.append(block)
        domain.append(name)
        palette.append(color)
    data = pl.concat(rows).drop("stream")
    corner = "bottom-right" if kind == "roc" else "bottom-left"  # where a curve seldom goes
    legend = alt.Legend(title=None, orient=corner, labelLimit=220, symbolType="stroke")
    tooltip = [
        alt.Tooltip("curve:N", title="curve"),
        alt.Tooltip("threshold:Q", format=".4~r"),
        *(alt.Tooltip(f"{c}:Q", title=c.replace("_", " "), format=style.NUMBER_FORMAT)
          for c in COUNT_COLUMNS),
        alt.Tooltip(f"{x_name}:Q", title=x_title, format=".3f"),
        alt.Tooltip(f"{y_name}:Q", title=y_title, format=".3f"),
    ]  # fmt: skip
    unit = alt.Scale(domain=[0, 1], nice=False)
    x = alt.X(f"{x_name}:Q", title=x_title, scale=unit, axis=alt.Axis(format=".1~f"))
    y = alt.Y(f"{y_name}:Q", title=y_title, scale=unit, axis=alt.Axis(format=".1~f"))
    color = alt.Color("curve:N", legend=legend, scale=alt.Scale(domain=domain, range=palette))
    base = alt.Chart(data).encode(x=x, y=y, color=color)
    few = data.height <= FEW_POINTS * len(curves)
    layers = [
        base.mark_line(strokeWidth=2, interpolate="linear", point=few).encode(
            order=alt.Order("threshold:Q", sort="descending"), tooltip=tooltip
        )
    ]
    if kind == "roc":
        chance = pl.DataFrame({"a": [0.0, 1.0]})
        layers.insert(
            0,
            alt.Chart(chance)
            .mark_line(strokeDash=[4, 4], color=colors.neutral, strokeWidth=1)
            .encode(x="a:Q", y="a:Q"),
        )
    else:  # a classifier that always says "positive": precision = the share of positives
        share = positives / (positives + negatives)
        layers.insert(
            0,
            alt.Chart(pl.DataFrame({"share": [share]}))
            .mark_rule(strokeDash=[4, 4], color=colors.neutral, strokeWidth=1)
            .encode(y="share:Q"),
        )
        notes.append(f"dashed: the share of positives ({style.format_number(share)})")
    if marked:
        layers.append(
            alt.Chart(pl.concat(marked).drop("stream"))
            .mark_point(shape="circle", size=110, filled=True, stroke=colors.background,
                        strokeWidth=1.5, opacity=1)
            .encode(x=x, y=y, color=color, tooltip=tooltip)
        )  # fmt: skip
        at = sorted(set(thresholds_marked))
        where = (
            f"threshold {style.format_number(at[0])}"
            if len(at) == 1
            else "each curve's own threshold"
        )
        notes.insert(0, f"● {point_note}: {where}")
    else:
        notes.insert(0, point_note)
    subtitle = notes if notes else ""
    return (
        alt.layer(*layers)
        .properties(width=width, height=height, title=alt.TitleParams(title, subtitle=subtitle))
        .interactive()
    )


def roc_curve(
    source: Any, *, width: int | str = SIZE, height: int = SIZE, max_streams: int = 10
) -> Any:
    """The ROC curve (recall against false positive rate) at the metric's thresholds.

    Parameters
    ----------
    source : metric or Streams
        A metric that keeps counts per threshold (``AUC``, ``PrecisionAtRecall``, ...)
        or a ``Streams`` of one: one curve per stream (each in its stream's colour)
        and the merged curve.
    width : int or "container"
        Width in pixels, or ``"container"`` to fill the output area.
    height : int
        Height in pixels.
    max_streams : int
        With more streams, the heaviest ``max_streams`` are drawn.

    Returns
    -------
    altair.LayerChart
        The curve, the chance diagonal (dashed) and the operating point (a dot:
        the threshold nearest to 0.5 for ``AUC``, the constraint's threshold for
        the ``...At...`` metrics). The legend gives each curve's area: ``AUC``
        as the metric computes it (Keras' summation), otherwise the trapezoids.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.AUC(num_thresholds=5)
    >>> m.update_state([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> spec = m.plot("roc").to_dict()
    >>> spec["layer"][1]["encoding"]["x"]["field"], spec["layer"][1]["encoding"]["y"]["field"]
    ('false_positive_rate', 'recall')
    >>> spec["layer"][1]["encoding"]["color"]["scale"]["domain"]
    ['auc · AUC 0.75']
    """
    return _curve(source, "roc", width, height, max_streams)


def pr_curve(
    source: Any, *, width: int | str = SIZE, height: int = SIZE, max_streams: int = 10
) -> Any:
    """The precision-recall curve at the metric's thresholds (see :func:`roc_curve`).

    The dashed line is the precision of a classifier that calls everything
    positive: the share of positives.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.AUC(num_thresholds=5, curve="PR")
    >>> m.update_state([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> spec = m.plot("pr").to_dict()
    >>> spec["layer"][1]["encoding"]["x"]["field"], spec["layer"][1]["encoding"]["y"]["field"]
    ('recall', 'precision')
    """
    return _curve(source, "pr", width, height, max_streams)


CURVE_KINDS = {"roc": roc_curve, "pr": pr_curve}
"""The kinds ``plot`` adds for metrics (and Streams) that keep counts per threshold."""
