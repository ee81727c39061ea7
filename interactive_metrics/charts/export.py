"""PNG and SVG without a browser, through vl-convert (what the tests and the gallery use).

``chart.save("chart.png")`` works too; these helpers are about five times faster
(they skip altair's engine detection) and say what to install when vl-convert is
missing.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from interactive_metrics.charts._common import INSTALL_HINT

__all__ = ["cache_dir", "to_png", "to_svg", "vega_bundle"]


def _vl_convert() -> ModuleType:
    try:
        import vl_convert
    except ImportError as error:
        raise ImportError(
            f"exporting charts needs vl-convert-python, which is not installed; "
            f"install it with: {INSTALL_HINT}"
        ) from error
    return vl_convert


def _spec(chart: Any) -> dict[str, Any]:
    to_dict = getattr(chart, "to_dict", None)
    if to_dict is None:
        raise TypeError(
            f"`chart` must be an altair chart (anything with `to_dict`), got "
            f"{type(chart).__name__}; build one with interactive_metrics.charts"
        )
    spec: dict[str, Any] = to_dict()
    return spec


def to_png(chart: Any, path: str | Path | None = None, *, scale: float = 2.0) -> bytes:
    """Render a chart to PNG bytes (and write them to ``path`` when given).

    Parameters
    ----------
    chart : altair chart
        Any chart, e.g. from :func:`~interactive_metrics.charts.batch_sums`.
    path : str or Path, optional
        Where to write the PNG.
    scale : float
        Pixel density: 2 renders crisply on high-DPI screens.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Mean()
    >>> m.update_state([1, 2, 3])
    >>> to_png(im.charts.history(m))[1:4]
    b'PNG'
    """
    png: bytes = _vl_convert().vegalite_to_png(_spec(chart), scale=scale)
    if path is not None:
        Path(path).write_bytes(png)
    return png


def to_svg(chart: Any, path: str | Path | None = None) -> str:
    """Render a chart to SVG text (and write it to ``path`` when given).

    Examples
    --------
    >>> import interactive_metrics as im
    >>> m = im.Sum()
    >>> m.update_state([1, 2, 3])
    >>> to_svg(im.charts.batch_sums(m)).lstrip().startswith("<svg")
    True
    """
    svg: str = _vl_convert().vegalite_to_svg(_spec(chart))
    if path is not None:
        Path(path).write_text(svg, encoding="utf-8")
    return svg


def cache_dir() -> Path:
    """Where derived files are kept between runs (the vega bundle).

    ``$INTERACTIVE_METRICS_CACHE``, else ``$XDG_CACHE_HOME/interactive_metrics``, else
    ``~/.cache/interactive_metrics``.

    Examples
    --------
    >>> cache_dir().name in ("interactive_metrics", os.environ.get("INTERACTIVE_METRICS_CACHE"))
    True
    """
    chosen = os.environ.get("INTERACTIVE_METRICS_CACHE")
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "interactive_metrics"


@functools.cache
def vega_bundle() -> str:
    """The JavaScript of vega, vega-lite and vega-embed, for pages that draw charts offline.

    vl-convert builds it (about 2 s, once per process); the result is kept in
    :func:`cache_dir` under the vl-convert and Vega-Lite versions, so later runs
    read it in milliseconds. A cache that cannot be written is skipped, never an error.

    Examples
    --------
    >>> "vegaEmbed" in vega_bundle()
    True
    """
    vl_convert = _vl_convert()
    from altair.vegalite import SCHEMA_VERSION

    version = "_".join(SCHEMA_VERSION.lstrip("v").split(".")[:2])
    name = f"vega-bundle-{getattr(vl_convert, '__version__', 'unknown')}-vl{version}.js"
    cached = cache_dir() / name
    try:
        text = cached.read_text(encoding="utf-8")
        if "vegaEmbed" in text:
            return text
    except OSError:
        pass
    bundle = str(vl_convert.javascript_bundle(vl_version=version))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=cached.parent, suffix=".tmp", delete=False
        ) as handle:
            handle.write(bundle)
        os.replace(handle.name, cached)
    except OSError:
        pass
    return bundle
