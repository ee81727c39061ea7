"""Chart conventions shared by every chart, widget and report: colours, numbers, titles, axes.

One place decides how things look, so that a stream keeps its colour everywhere,
"worse" has one word and one colour, numbers read the same in a tooltip, a table
and a sentence, and y-axes follow the data. Importing this module does not import
altair (only :func:`color_scale`, :func:`value_scale` and :func:`use_theme` do).

Examples
--------
>>> from interactive_metrics.charts import style
>>> style.stream_colors(["pump_b"], ["pump_a", "pump_b", "pump_c"]) == [style.PALETTE[1]]
True
>>> style.format_number(0.879107), style.format_number(100000), style.format_share(0.04992)
('0.8791', '100,000', '5.0%')
>>> style.title_for("precision", "running result")
'Precision over steps'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from interactive_metrics.charts._common import altair

__all__ = [
    "BATCH_COLOR",
    "BETTER_COLOR",
    "BETTER_LABEL",
    "DARK",
    "FONT",
    "LIGHT",
    "MERGED_COLOR",
    "NEUTRAL_COLOR",
    "NUMBER_FORMAT",
    "PALETTE",
    "RESULT_COLOR",
    "SHARE_FORMAT",
    "STEP_FORMAT",
    "THEMES",
    "WORSE_COLOR",
    "WORSE_LABEL",
    "AUTO_THEME",
    "color_scale",
    "Colors",
    "colors",
    "dark_color_map",
    "follows_front_end",
    "recolor_dark",
    "column_label",
    "format_number",
    "format_share",
    "higher_is_better",
    "humanize",
    "interval_label",
    "format_interval",
    "stream_colors",
    "step_domain",
    "stream_label",
    "with_stream_label",
    "theme_config",
    "title_for",
    "use_theme",
    "value_domain",
    "value_scale",
]

# -- colours -------------------------------------------------------------------------------

PALETTE: tuple[str, ...] = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
"""Categorical colours for streams: Tableau 10 (distinguishable with colour-blindness)."""

RESULT_COLOR = "#2f5f8f"
"""The running result (the line a metric reports): a strong blue."""
BATCH_COLOR = "#8fb3d9"
"""Per-batch values (bars, light points under the running line): a light blue."""
MERGED_COLOR = "#6b4c9a"
"""The merged (micro) result of streams: a purple no stream of :data:`PALETTE` has."""
WORSE_COLOR = "#d62728"
"""Worse than merged: red, in the breakdown chart, the report and the explorer alike."""
BETTER_COLOR = "#4e79a7"
"""Better than (or as good as) merged."""
NEUTRAL_COLOR = "#8c96a3"
"""Context that is neither good nor bad: shares, grid-like marks, unknown streams."""


@dataclass(frozen=True)
class Colors:
    """The colours charts encode, for one theme (light or dark).

    Encoded colours (a line's colour, a scale's range) are part of a chart's spec,
    not of the theme's config, so each chart picks them, when it is built, from
    :func:`colors` (the theme in force).
    """

    result: str
    batch: str
    merged: str
    worse: str
    better: str
    neutral: str
    reset: str
    merge: str
    text: str
    background: str
    palette: tuple[str, ...]


LIGHT = Colors(
    result=RESULT_COLOR, batch=BATCH_COLOR, merged=MERGED_COLOR, worse=WORSE_COLOR,
    better=BETTER_COLOR, neutral=NEUTRAL_COLOR, reset="#7f7f7f", merge="#b07aa1",
    text="#666666", background="#ffffff", palette=PALETTE,
)  # fmt: skip
"""The light theme's colours: the constants above."""
DARK = Colors(
    result="#7cb4ee", batch="#587a9e", merged="#b9a0e0", worse="#ff6b6b",
    better="#7cb4ee", neutral="#8c96a3", reset="#a0a6ad", merge="#d4a6cc",
    text="#b8bec6", background="#1e1e1e", palette=PALETTE,
)  # fmt: skip
"""The dark theme's colours: the running result a bright blue, batches a dim one (the
light theme's strong blue nearly vanishes on a dark background), brighter merged and
"worse" colours. Stream colours stay :data:`PALETTE` (Tableau 10 reads on both)."""


def colors() -> Colors:
    """The colours of the theme in force: dark or light.

    :data:`DARK` under ``use_theme("dark")`` (or any altair theme whose name says
    dark, like altair's own ``"dark"``), else :data:`LIGHT`.

    Examples
    --------
    >>> use_theme("dark")
    >>> colors().result == DARK.result != RESULT_COLOR
    True
    >>> use_theme("light")
    >>> colors().result == RESULT_COLOR
    True
    """
    alt = altair(theme=False)
    return DARK if "dark" in str(alt.theme.active).lower() else LIGHT


WORSE_LABEL = "worse than merged"
BETTER_LABEL = "better than merged"

# -- numbers -------------------------------------------------------------------------------

NUMBER_FORMAT = ",.4~r"
"""d3 format for values on axes and in tooltips: about 4 significant digits, thousands
separators, plain decimals (``12,350``, ``0.8791``), no exponent for counts."""
STEP_FORMAT = ",d"
"""d3 format for steps and counts: integers with thousands separators."""
SHARE_FORMAT = ".1%"
"""d3 format for shares of weight (``5.0%``)."""


def format_number(x: Any) -> str:
    """A number as prose and tables show it: ~4 significant digits, thousands separators.

    Integers (and integral floats) print without decimals; NaN prints as ``NaN``,
    infinities as ``∞``/``−∞`` and None as ``–``. Anything else is ``str(x)``.

    Examples
    --------
    >>> [format_number(x) for x in (0.879107, 100000, 1.0, 12345.678, -0.5, 1.5e-6)]
    ['0.8791', '100,000', '1', '12,346', '-0.5', '1.5e-06']
    >>> [format_number(x) for x in (float("nan"), float("-inf"), None, "pump_b", True)]
    ['NaN', '−∞', '–', 'pump_b', 'True']
    """
    if x is None:
        return "–"
    if isinstance(x, bool) or not isinstance(x, (int, float)) and not hasattr(x, "__float__"):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    try:
        number = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if number == 0:
        return "0"
    size = abs(number)
    if size < 1e15 and number == round(number):
        return f"{int(round(number)):,}"
    if 1000 <= size < 1e15:
        return f"{int(round(number)):,}"
    return f"{number:.4g}"


def format_share(x: Any) -> str:
    """A share of weight as a percentage with one decimal (``–`` when unknown).

    Examples
    --------
    >>> format_share(0.04992), format_share(1), format_share(None)
    ('5.0%', '100.0%', '–')
    """
    if x is None:
        return "–"
    number = float(x)
    return "–" if math.isnan(number) else f"{number:.1%}"


def format_interval(low: Any, high: Any) -> str:
    """An interval as tables, cards and tooltips show it: ``low – high`` (en dash).

    Examples
    --------
    >>> format_interval(0.490205, 0.943281), format_interval(float("nan"), float("nan"))
    ('0.4902 – 0.9433', '–')
    """
    if low is None or high is None:
        return "–"
    if any(math.isnan(float(x)) for x in (low, high)):
        return "–"
    return f"{format_number(low)} – {format_number(high)}"


# -- words ---------------------------------------------------------------------------------

_METHOD_NAMES = {
    "wilson": "Wilson",
    "clopper-pearson": "Clopper–Pearson",
    "t": "Student t",
    "percentile": "bootstrap",
    "bootstrap": "bootstrap",
}


def interval_label(level: float, method: str | None) -> str:
    """How a chart, table or card names an interval: its level and its method.

    Examples
    --------
    >>> interval_label(0.95, "wilson"), interval_label(0.9, "t"), interval_label(0.99, "bootstrap")
    ('95% Wilson interval', '90% Student t interval', '99% bootstrap interval')
    >>> interval_label(0.975, None)
    '97.5% interval'
    """
    percent = f"{float(level) * 100:.4g}%"
    name = _METHOD_NAMES.get(str(method), "") if method is not None else ""
    return f"{percent} {name} interval" if name else f"{percent} interval"


_COLUMN_LABELS = {"result": "running result", "batch_result": "batch result", "step": "step"}


_ACRONYMS = {"auc": "AUC", "roc": "ROC", "iou": "IoU", "f1": "F1", "pr": "PR", "mse": "MSE",
             "rmse": "RMSE", "mae": "MAE", "kl": "KL"}  # fmt: skip


def humanize(name: str) -> str:
    """A metric or field name as words with a capital first letter.

    Examples
    --------
    >>> humanize("binary_accuracy"), humanize("Precision"), humanize("RMSE")
    ('Binary accuracy', 'Precision', 'RMSE')
    >>> humanize("auc"), humanize("mean_iou")
    ('AUC', 'Mean IoU')
    """
    words = " ".join(_ACRONYMS.get(w.lower(), w) for w in str(name).replace("_", " ").split())
    return words[:1].upper() + words[1:] if words else words


def column_label(column: str) -> str:
    """A history column as an axis title or legend entry says it.

    Examples
    --------
    >>> [column_label(c) for c in ("result", "batch_result", "running_total", "batch_count")]
    ['running result', 'batch result', 'running total', 'batch count']
    """
    return _COLUMN_LABELS.get(column, column.replace("_", " "))


_TITLES = {
    "running result": "{name} over steps",
    "result": "{name} over steps",
    "history": "{name} over steps",
    "batch result": "{name} per batch",
    "batch_sums": "{name}: what each batch adds",
    "sum_vs_mean": "{name}: sum versus mean",
    "breakdown": "{name} per stream",
    "stream history": "{name} per stream, over steps",
}


def title_for(metric_name: str, what: str) -> str:
    """A human chart title for ``what`` of a metric, never repeating the metric's name.

    Examples
    --------
    >>> title_for("precision", "running result")
    'Precision over steps'
    >>> title_for("binary_accuracy", "breakdown")
    'Binary accuracy per stream'
    >>> title_for("precision", "precision")
    'Precision'
    >>> title_for("mean", "running_total")
    'Mean: running total'
    """
    name = humanize(metric_name)
    key = str(what).strip()
    if key in _TITLES:
        return _TITLES[key].format(name=name)
    words = column_label(key)
    if words.lower() == name.lower() or not words:
        return name
    if words.lower().startswith(name.lower() + " "):
        words = words[len(name) + 1 :]
    return f"{name}: {words}"


# -- stream colours ------------------------------------------------------------------------


def stream_label(key: Any) -> str:
    """A stream key as charts and legends show it (null keys read ``(null)``).

    Examples
    --------
    >>> stream_label("pump_a"), stream_label(3), stream_label(None), stream_label(("a", 1))
    ('pump_a', '3', '(null)', 'a · 1')
    """
    if type(key) is tuple:  # a composite key: its parts, as `with_stream_label` joins them
        return KEY_SEPARATOR.join(stream_label(part) for part in key)
    return "(null)" if key is None else str(key)


KEY_SEPARATOR = " · "
"""How the parts of a composite key read in a legend or an axis label."""


def with_stream_label(frame: Any, key_names: Sequence[str]) -> Any:
    """``frame`` with a ``stream`` label column joining the key parts of composite keys.

    Streams keyed by several columns have one column per part; charts label each
    stream with its parts joined (as :func:`stream_label` does for a tuple key).

    Examples
    --------
    >>> import polars as pl
    >>> frame = pl.DataFrame({"sensor": ["a", "b"], "site": [1, 2], "result": [0.5, 1.0]})
    >>> with_stream_label(frame, ["sensor", "site"])["stream"].to_list()
    ['a · 1', 'b · 2']
    """
    import polars as pl

    if "stream" in frame.columns or not key_names or any(k not in frame.columns for k in key_names):
        return frame
    parts = [pl.col(k).cast(pl.String).fill_null("(null)") for k in key_names]
    return frame.with_columns(pl.concat_str(parts, separator=KEY_SEPARATOR).alias("stream"))


def stream_colors(keys: Iterable[Any], all_keys: Sequence[Any]) -> list[str]:
    """The colour of each of ``keys``: ``PALETTE[position in all_keys % len(PALETTE)]``.

    Pass ``streams.streams`` as ``all_keys`` (every key in order of first appearance,
    which never changes for the life of the object), so a stream keeps its colour
    whatever subset is drawn. Keys are matched as given or by :func:`stream_label`
    (so a chart's string labels find their keys); a key not in ``all_keys`` gets
    :data:`NEUTRAL_COLOR`.

    Examples
    --------
    >>> everyone = ["pump_a", "pump_b", "pump_c"]
    >>> stream_colors(["pump_c", "pump_a"], everyone) == [PALETTE[2], PALETTE[0]]
    True
    >>> stream_colors(["pump_z"], everyone) == [NEUTRAL_COLOR]
    True
    >>> len(set(stream_colors(range(12), range(12))))  # the palette repeats after 10
    10
    """
    position: dict[str, int] = {}
    for index, key in enumerate(all_keys):
        position.setdefault(stream_label(key), index)
    return [
        PALETTE[position[stream_label(key)] % len(PALETTE)]
        if stream_label(key) in position
        else NEUTRAL_COLOR
        for key in keys
    ]


def color_scale(keys: Sequence[Any], all_keys: Sequence[Any]) -> Any:
    """An ``alt.Scale`` colouring the labels of ``keys`` with :func:`stream_colors`.

    Examples
    --------
    >>> scale = color_scale(["b", None], ["a", "b", None])
    >>> scale.to_dict() == {"domain": ["b", "(null)"], "range": [PALETTE[1], PALETTE[2]]}
    True
    """
    alt = altair(theme=False)

    labels = [stream_label(k) for k in keys]
    return alt.Scale(domain=labels, range=stream_colors(keys, all_keys))


# -- value axes ----------------------------------------------------------------------------

PADDING = 0.06
"""Room above and below the data, as a fraction of its span."""


_TINY = 1e-290  # spans and values below this are drawn as zero: their 5% would underflow


def value_domain(
    values: Iterable[Any], *, include_zero: bool = False, padding: float = PADDING
) -> tuple[float, float] | None:
    """The y-domain of a value axis: the data's range with a little room (TensorBoard style).

    Never fixed at 0–1: a result near 0.986 gets an axis near 0.986. Zero is included
    only when asked (sums, counts, bars). One value (or a constant) gets a small
    window around it, so a one-step chart still has an axis. The end points are never
    on the frame: ``padding`` of the span is added on each side (not on the zero side
    of an axis that includes zero). None when there is no finite value.

    Examples
    --------
    >>> value_domain([0.98, 0.99])
    (0.9794, 0.9906)
    >>> value_domain([3.0, 5.0], include_zero=True)
    (0.0, 5.3)
    >>> value_domain([0.01, 10.0])  # positive data: the axis stops at zero
    (0.0, 10.5994)
    >>> value_domain([0.75])  # one step: 5% of the value either side, and a little room
    (0.708, 0.792)
    >>> value_domain([1.0])  # a rate of 1 is not drawn against values above 1
    (0.947, 1.003)
    >>> value_domain([-4.0]), value_domain([float("nan"), None])
    ((-4.224, -3.776), None)
    """
    finite = []
    for value in values:
        if value is None:
            continue
        number = float(value)
        if math.isfinite(number):
            finite.append(number)
    if not finite:
        return None
    low, high = min(finite), max(finite)
    if include_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    span = high - low
    if span < _TINY:  # one value (or values no axis could tell apart: subnormal spans)
        half = abs(low) * 0.05 if abs(low) >= _TINY else 1.0
        window_low, window_high = low - half, high + half
        if 0 <= low <= 1:  # a share or a rate: the window stays inside [0, 1]
            window_low, window_high = max(window_low, 0.0), min(window_high, 1.0)
        if include_zero:
            window_low, window_high = min(window_low, 0.0), max(window_high, 0.0)
        pad = (window_high - window_low) * padding
        new_low = window_low if include_zero and window_low == 0 else window_low - pad
        new_high = window_high if include_zero and window_high == 0 else window_high + pad
        return _rounded(new_low, window_high - window_low), _rounded(
            new_high, window_high - window_low
        )
    pad = span * padding
    new_low = low if include_zero and low == 0 else low - pad
    new_high = high if include_zero and high == 0 else high + pad
    if low > 0 > new_low:  # positive data never gets a negative axis
        new_low = 0.0
    if high < 0 < new_high:
        new_high = 0.0
    return _rounded(new_low, span), _rounded(new_high, span)


def _rounded(value: float, span: float) -> float:
    """``value`` rounded to 4 digits below the order of ``span`` (no float noise)."""
    digits = 4 - int(math.floor(math.log10(span))) if span > 0 else 6
    return round(value, max(digits, 0)) + 0.0


def value_scale(
    values: Iterable[Any] | None = None, *, include_zero: bool = False, **options: Any
) -> Any:
    """An ``alt.Scale`` for a value axis following :func:`value_domain`.

    With ``values``, the domain is computed here (so one-step data and a constant
    get a sensible window); without, vega-lite fits the data (``zero`` as asked,
    ``nice=False`` with padding so end points do not sit on the frame). ``options``
    are passed to ``alt.Scale``.

    Examples
    --------
    >>> value_scale([0.98, 0.99]).to_dict()
    {'domain': [0.9794, 0.9906], 'nice': False, 'zero': False}
    >>> value_scale(include_zero=True).to_dict()
    {'nice': True, 'zero': True}
    """
    alt = altair(theme=False)

    if values is None:
        if include_zero:
            return alt.Scale(zero=True, nice=True, **options)
        return alt.Scale(zero=False, nice=False, padding=8, **options)
    domain = value_domain(values, include_zero=include_zero)
    if domain is None:
        return alt.Scale(zero=include_zero, **options)
    return alt.Scale(domain=list(domain), nice=False, zero=False, **options)


def step_domain(steps: Iterable[Any], *, min_span: int = 10) -> tuple[float, float] | None:
    """The x-domain of a step axis: the steps with room at both ends, at least ``min_span`` wide.

    Bars centred on the first and last steps fit inside, end points are off the frame,
    and a run of one or two steps gets a window of ``min_span`` steps starting at its
    first step (a single bar is a bar, not a wall). None when there is no step.

    Examples
    --------
    >>> step_domain([1])
    (0.5, 10.5)
    >>> step_domain(range(1, 1001))
    (-8.99, 1009.99)
    """
    finite = [float(s) for s in steps if s is not None and math.isfinite(float(s))]
    if not finite:
        return None
    first, last = min(finite), max(finite)
    pad = max(0.5, (last - first) * 0.01)
    low, high = first - pad, last + pad
    return low + 0.0, max(high, low + min_span) + 0.0


_LOWER_IS_BETTER = ("error", "loss", "deviance", "hinge", "crossentropy", "cross_entropy")
_HIGHER_IS_BETTER = (
    "accuracy", "precision", "recall", "f1", "fbeta", "f_beta", "auc", "iou", "jaccard",
    "specificity", "sensitivity", "r2", "r_squared", "score", "true_positive",
)  # fmt: skip


def higher_is_better(metric_name: str) -> bool | None:
    """Whether a larger result is better, from the metric's name; None when it cannot tell.

    Errors and losses are lower-is-better, accuracies, precisions, recalls, F-scores
    and AUCs higher-is-better; a plain ``mean`` or ``sum`` has no direction, so its
    streams are "above" or "below" merged rather than "worse".

    Examples
    --------
    >>> higher_is_better("precision"), higher_is_better("mean_squared_error")
    (True, False)
    >>> higher_is_better("mean") is None
    True
    """
    name = str(metric_name).lower()
    if any(word in name for word in _LOWER_IS_BETTER):
        return False
    if any(word in name for word in _HIGHER_IS_BETTER):
        return True
    return None


# -- typography and themes -----------------------------------------------------------------

FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'


def theme_config(dark: bool = False) -> dict[str, Any]:
    """The vega-lite config of our charts: one font, sizes and a light grid; or dark.

    Examples
    --------
    >>> theme_config()["config"]["font"] == FONT
    True
    >>> theme_config(dark=True)["config"]["background"]
    '#1e1e1e'
    """
    text = "#d4d4d4" if dark else "#333a42"
    muted = "#a0a6ad" if dark else "#5f6670"
    grid = "#3a3d41" if dark else "#e6e9ed"
    config: dict[str, Any] = {
        "font": FONT,
        "background": "#1e1e1e" if dark else "#ffffff",
        "view": {"stroke": None, "continuousWidth": 560, "continuousHeight": 220},
        "title": {"fontSize": 14, "fontWeight": 600, "color": text, "subtitleColor": muted,
                  "subtitleFontSize": 11, "anchor": "start", "offset": 8},
        "axis": {"labelFontSize": 11, "titleFontSize": 11, "titleFontWeight": 500,
                 "labelColor": muted, "titleColor": text, "gridColor": grid,
                 "domainColor": muted, "tickColor": muted, "labelFlush": False},
        "legend": {"labelFontSize": 11, "titleFontSize": 11, "labelColor": text,
                   "titleColor": text, "symbolStrokeWidth": 2},
        "header": {"labelColor": text, "titleColor": text},
        "text": {"color": text},
        "rule": {"color": text},
        "range": {"category": list(PALETTE)},
    }  # fmt: skip
    return {"config": config}


AUTO_THEME = "interactive_metrics_auto"
"""The default theme: light, marked to follow a dark front end (see :func:`follows_front_end`)."""
THEMES = {"interactive_metrics": False, "interactive_metrics_dark": True, AUTO_THEME: None}
"""The altair themes :func:`use_theme` registers: light, dark, and light-that-follows (None)."""
_ALIASES = {"light": "interactive_metrics", "dark": "interactive_metrics_dark", "auto": AUTO_THEME}
FOLLOW_MARK = {"usermeta": {"interactive_metrics": {"theme": "auto"}}}
"""What the auto theme adds to a spec: the renderer's cue that it may follow a dark page."""


def _auto_config() -> dict[str, Any]:
    config = theme_config(dark=False)
    config["usermeta"] = {"interactive_metrics": {"theme": "auto"}}
    return config


def follows_front_end(spec: Any) -> bool:
    """Whether a chart spec was built under the auto theme (the default), so may follow the page.

    A chart built after ``use_theme("light")``, ``use_theme("dark")`` or any other altair
    theme keeps that look everywhere.

    Examples
    --------
    >>> follows_front_end({"usermeta": {"interactive_metrics": {"theme": "auto"}}})
    True
    >>> follows_front_end({"config": {}}), follows_front_end(None)
    (False, False)
    """
    if not isinstance(spec, dict):
        return False
    meta = spec.get("usermeta")
    mine = meta.get("interactive_metrics") if isinstance(meta, dict) else None
    return isinstance(mine, dict) and mine.get("theme") == "auto"


def _string_pairs(light: Any, dark: Any) -> list[tuple[str, str]]:
    if isinstance(light, dict) and isinstance(dark, dict):
        return [p for k in light if k in dark for p in _string_pairs(light[k], dark[k])]
    if isinstance(light, str) and isinstance(dark, str) and light.startswith("#"):
        return [(light, dark)]
    return []


def dark_color_map() -> dict[str, str]:
    """Each light-theme colour (lower case) and the dark theme's colour for the same role.

    From :data:`LIGHT` and :data:`DARK` and the two :func:`theme_config` s. Colours of
    :data:`PALETTE` are never mapped (a stream keeps its colour on either background;
    the light "better" and "merge" colours are palette colours, so they stay).

    Examples
    --------
    >>> mapping = dark_color_map()
    >>> mapping[RESULT_COLOR] == DARK.result, mapping["#ffffff"] == DARK.background
    (True, True)
    >>> any(c.lower() in mapping for c in PALETTE)
    False
    """
    from dataclasses import fields

    pairs = [
        (getattr(LIGHT, f.name), getattr(DARK, f.name))
        for f in fields(Colors)
        if f.name != "palette"
    ]
    pairs += _string_pairs(theme_config(False)["config"], theme_config(True)["config"])
    palette = {c.lower() for c in PALETTE}
    mapping: dict[str, str] = {}
    for light, dark in pairs:
        key = light.lower()
        if key != dark.lower() and key not in palette:
            mapping.setdefault(key, dark)
    return mapping


def recolor_dark(spec: Any, mapping: dict[str, str] | None = None) -> Any:
    """A copy of a chart spec with every light-theme colour swapped for its dark one.

    What the notebook renderer does in the browser when the page is dark (the same
    walk, in JavaScript): strings anywhere in the spec except its data
    (``datasets``, inline ``values``) that are a light colour of
    :func:`dark_color_map` become the dark one. So a chart built with the default
    theme reads as if built under ``use_theme("dark")``, palette colours aside.

    Examples
    --------
    >>> spec = {"mark": {"type": "line", "color": RESULT_COLOR},
    ...         "datasets": {"d": [{"c": "#ffffff"}]}, "config": {"background": "#ffffff"}}
    >>> out = recolor_dark(spec)
    >>> out["mark"]["color"] == DARK.result, out["config"]["background"], out["datasets"]["d"]
    (True, '#1e1e1e', [{'c': '#ffffff'}])
    """
    mapping = dark_color_map() if mapping is None else mapping

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return mapping.get(node.lower(), node)
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, dict):
            return {k: v if k in ("datasets", "values") else walk(v) for k, v in node.items()}
        return node

    return walk(spec)


_registered = False
_user_chose = False


def _register() -> Any:
    global _registered
    alt = altair(theme=False)

    if not _registered:
        for name, dark in THEMES.items():
            if dark is None:
                alt.theme.register(name, enable=False)(_auto_config)
            else:
                alt.theme.register(name, enable=False)(lambda dark=dark: theme_config(dark))
        _registered = True
    return alt


def use_theme(name: str = "light") -> None:
    """Switch the look of every altair chart: ``"auto"``, ``"light"``, ``"dark"``, any altair theme.

    Our charts enable ``"auto"`` by themselves on first use, unless another altair
    theme was already enabled (``alt.theme.enable("dark")`` is followed). ``"auto"``
    is the light theme, and in a notebook whose front end is dark (JupyterLab's dark
    theme) the package's renderer draws the chart with the dark colours
    (:func:`recolor_dark`); exported files (PNG, SVG, HTML) stay light. ``"light"``
    and ``"dark"`` fix the look everywhere, front end and files alike.
    ``use_theme("default")`` returns to altair's own look.

    Examples
    --------
    >>> import altair as alt
    >>> use_theme("dark")
    >>> alt.theme.active
    'interactive_metrics_dark'
    >>> use_theme("light")
    """
    global _user_chose
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a theme name (a str), got {type(name).__name__}")
    alt = _register()
    chosen = _ALIASES.get(name, name)
    if chosen not in alt.theme.names():
        raise ValueError(
            f"`name` must be 'light', 'dark' or an altair theme {sorted(alt.theme.names())}, "
            f"got {name!r}"
        )
    alt.theme.enable(chosen)
    _user_chose = True


def ensure_theme() -> None:
    """Enable the auto theme once, unless the user (or :func:`use_theme`) chose one."""
    global _user_chose
    if _user_chose:
        return
    alt = _register()
    if alt.theme.active == "default":
        alt.theme.enable(AUTO_THEME)
    _user_chose = True
