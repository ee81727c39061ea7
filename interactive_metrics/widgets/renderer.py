"""Charts that draw offline with no set-up line: the package's altair renderer.

altair's ``"default"`` renderer loads vega from a CDN, so without internet a chart
shows "Error loading script". :func:`use_offline_renderer` registers and enables
the ``"interactive_metrics"`` renderer, but only while altair's active renderer is
still ``"default"``: a renderer the user enabled is kept, and
``alt.renderers.enable(...)`` switches back at any time.

Inside IPython, ``import interactive_metrics`` registers :func:`register_display_hook`:
the first altair chart displayed (any chart, ours or not, however it was made)
calls :func:`use_offline_renderer` before it is drawn; the package imports no
altair until then.

The renderer's output is one display, several representations: an offline
:class:`altair.JupyterChart` (vega bundled by vl-convert, no CDN) that JupyterLab,
Notebook 7, VS Code and every front end with ipywidgets draws; the chart's spec
as ``application/vnd.vegalite.v5+json``, which front ends that bundle their own
Vega-Lite renderer and have no widgets draw (JupyterLab and Notebook 7 without
``jupyterlab_widgets``; the widget view ranks first where widgets work); a static
``image/svg+xml`` of the same chart (vl-convert) that front ends without a
kernel or widgets (nbviewer, GitHub, a saved notebook opened later) show instead;
and a line of plain text.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "RENDERER",
    "VEGALITE_MIME",
    "fills_container",
    "offline_renderer",
    "register_display_hook",
    "static_image",
    "use_offline_renderer",
]

RENDERER = "interactive_metrics"
"""The name the renderer is registered under in ``altair.renderers``."""

EMBED_OPTIONS: dict[str, Any] = {"renderer": "svg", "actions": False}
"""vega-embed options: SVG (marks can be counted in a browser test), no action menu."""

STATIC_FORMATS = {"svg": "image/svg+xml", "png": "image/png"}

VEGALITE_MIME = "application/vnd.vegalite.v5+json"
"""The newest Vega-Lite MIME type front ends render themselves (JupyterLab 4 renders v5,
none renders altair 6's ``application/vnd.vegalite.v6.json``). The package's charts
compile with Vega-Lite 5 as they are (``tests/e2e/test_notebook7.py``); vega-embed
only warns that the spec's ``$schema`` says v6."""


def static_image(spec: dict[str, Any], fallback: str = "svg") -> dict[str, Any]:
    """The static representation of a chart spec: ``{mime type: image}`` (empty on failure).

    A chart vl-convert cannot draw (e.g. one sized to its container) loses only
    its static image, never its display.

    Examples
    --------
    >>> import altair as alt
    >>> chart = alt.Chart(alt.InlineData(values=[{"x": 1}])).mark_point().encode(x="x:Q")
    >>> list(static_image(chart.to_dict()))
    ['image/svg+xml']
    >>> static_image({"mark": "nonsense"})
    {}
    """
    mime = STATIC_FORMATS.get(fallback)
    if mime is None:
        raise ValueError(
            f"`fallback` must be one of {sorted(STATIC_FORMATS)} or None, got {fallback!r}"
        )
    try:
        import vl_convert

        if fallback == "svg":
            return {mime: vl_convert.vegalite_to_svg(spec)}
        return {mime: vl_convert.vegalite_to_png(spec, scale=2)}
    except Exception:  # noqa: BLE001 - the widget still draws; only the static copy is lost
        return {}


def offline_renderer(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """The ``"interactive_metrics"`` renderer: an offline widget plus a static image.

    Parameters
    ----------
    spec : dict
        The chart's Vega-Lite spec (altair passes it).
    **metadata
        ``embed_options`` (merged over :data:`EMBED_OPTIONS`, e.g. from
        ``alt.renderers.set_embed_options``), and ``fallback``: ``"svg"`` (the
        default), ``"png"`` or ``None`` for no static image
        (``alt.renderers.enable("interactive_metrics", fallback=None)``).

    Returns
    -------
    dict
        The MIME bundle: the widget view, the spec (:data:`VEGALITE_MIME`), the
        static image, plain text.
    """
    import altair as alt

    from interactive_metrics.widgets._vega import ThemedChart, enable_offline

    enable_offline()
    embed = {**EMBED_OPTIONS, **(metadata.get("embed_options") or {})}
    widget = ThemedChart(alt.Chart.from_dict(spec), embed_options=embed)
    if fills_container(spec):  # else vega-embed's inline-block box is 0 px wide in JupyterLab
        meta = spec.get("usermeta")
        reserve = (meta or {}).get("interactive_metrics", {}).get("container_reserve", 0)
        widget.layout.width = f"calc(100% - {int(reserve)}px)" if reserve else "100%"
    shown = widget._repr_mimebundle_()
    bundle: dict[str, Any] = dict(shown[0] if isinstance(shown, tuple) else shown or {})
    bundle[VEGALITE_MIME] = spec
    fallback = metadata.get("fallback", "svg")
    if fallback is not None:
        bundle.update(static_image(spec, fallback))
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    bundle["text/plain"] = f"<altair chart{f': {title}' if isinstance(title, str) else ''}>"
    return bundle


def fills_container(spec: Any) -> bool:
    """Whether a chart spec (or any of its views) is sized ``width="container"``.

    Examples
    --------
    >>> fills_container({"width": "container", "mark": "line"})
    True
    >>> fills_container({"vconcat": [{"width": 300}, {"width": "container"}]})
    True
    >>> fills_container({"width": 640, "layer": [{"mark": "line"}]})
    False
    """
    if isinstance(spec, dict):
        if spec.get("width") == "container":
            return True
        return any(
            fills_container(view)
            for key in ("layer", "vconcat", "hconcat", "concat")
            for view in spec.get(key, ())
        ) or fills_container(spec.get("spec"))
    return False


def use_offline_renderer() -> bool:
    """Register the package's renderer; enable it if altair's is still ``"default"``.

    Returns
    -------
    bool
        Whether the package's renderer is the active one now.

    Examples
    --------
    >>> import altair as alt
    >>> with alt.renderers.enable("svg"):  # a renderer the user chose is kept
    ...     use_offline_renderer()
    False
    """
    import importlib.util

    import altair as alt

    if not all(importlib.util.find_spec(name) for name in ("vl_convert", "anywidget")):
        return False  # altair's own renderers, as without this package
    if RENDERER not in alt.renderers.names():
        alt.renderers.register(RENDERER, offline_renderer)
    if alt.renderers.active == "default":
        alt.renderers.enable(RENDERER)
    return alt.renderers.active == RENDERER


CHART_CLASS = ("altair.vegalite.v6.api", "TopLevelMixin")
"""Every altair chart (Chart, LayerChart, HConcatChart, ...) derives from this class."""


def register_display_hook(shell: Any) -> None:
    """Have IPython call :func:`use_offline_renderer` when the first altair chart is shown.

    The hook is registered by name (altair is not imported) in IPython's MIME-bundle
    formatter; it runs once, then removes itself, so a renderer chosen later
    (even ``"default"``) is never overridden.

    Examples
    --------
    >>> from IPython.core.formatters import DisplayFormatter
    >>> import altair as alt
    >>> class Shell:
    ...     display_formatter = DisplayFormatter()
    >>> shell = Shell()
    >>> register_display_hook(shell)
    >>> chart = alt.Chart(alt.InlineData(values=[{"x": 1}])).mark_point()
    >>> with alt.renderers.enable("default"):
    ...     data, _ = shell.display_formatter.mimebundle_formatter(chart)
    ...     alt.renderers.active, "image/svg+xml" in data
    ('interactive_metrics', True)
    """
    formatter = shell.display_formatter.mimebundle_formatter

    def first_chart(chart: Any) -> Any:
        for cls in list(formatter.type_printers):
            if formatter.type_printers[cls] is first_chart:
                del formatter.type_printers[cls]  # once: later displays are altair's own
        formatter.deferred_printers.pop(CHART_CLASS, None)
        use_offline_renderer()
        return chart._repr_mimebundle_()

    formatter.for_type_by_name(*CHART_CLASS, first_chart)
