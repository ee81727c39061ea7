"""Charts and widgets in Jupyter Notebook 7 (``jupyter notebook``), and in a plain MIME front end.

Notebook 7 is the classic notebook rebuilt from JupyterLab 4's packages; the
package's renderer must draw there offline with no set-up line, as in Lab
(``test_widgets_in_lab.py``). The test writes a notebook as a new user would
(no ``alt.renderers.enable`` cell): a ``Mean``'s history chart, a ``Streams``
breakdown and a live widget, runs it in headless Chromium, and checks what the
page shows; its screenshot goes to ``tests/artifacts/notebook7.png``.

A front end that renders only MIME types (no widgets, no kernel: nbviewer, GitHub,
a saved notebook opened later) gets the renderer's static ``image/svg+xml``; the
last test checks that image is the chart.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # a collection error in CI, a skip elsewhere: never a silent pass
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip("playwright is not installed: pip install -e '.[dev]'", allow_module_level=True)

from lab_helpers import KERNEL_IDLE, OUTPUTS, RUN_ALL, kernel_eval, kernel_run, write_notebook

CELLS = [
    "import numpy as np\nimport interactive_metrics as im\n"
    "m = im.Mean(name='loss')\n"
    "for batch in ([1.0, 3.0], [2.0], [0.5, 0.5, 1.0]):\n"
    "    m.update_state(batch)\n"
    "m.plot()",
    "rng = np.random.default_rng(0)\n"
    "streams = im.Streams(im.Mean(name='hit_rate'))\n"
    "for step in range(20):\n"
    "    keys = rng.choice(['boiler', 'pump_a', 'pump_b'], size=50)\n"
    "    streams.update_state((rng.random(50) < 0.8).astype(float), stream=keys)\n"
    "streams.plot()",
    "live = m.widget('live')\nlive",
]
MARKS = (
    "svg.marks g.mark-line path, svg.marks g.mark-rect path, "
    "svg.marks g.mark-symbol path, svg.marks g.mark-rule line"
)


def _shoot(page: Any, path: Path) -> None:
    """A screenshot of the whole page (Notebook 7 scrolls the notebook in its main panel)."""
    height = page.evaluate(
        "() => Math.max(document.body.scrollHeight, ...Array.from(document.querySelectorAll("
        "'.jp-NotebookPanel .jp-WindowedPanel-outer, .jp-Notebook'), e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 250, 16_000)})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1280, "height": 1000})


def test_charts_and_a_live_widget_draw_offline_in_notebook7(
    page: Any, notebook7: Any, artifacts: Path
) -> None:
    url, _ = notebook7
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    name = write_notebook(notebook7, "notebook7.ipynb", CELLS)
    started = time.perf_counter()
    page.goto(f"{url}/notebooks/{name}?token=interactive-metrics-e2e")
    page.wait_for_function(KERNEL_IDLE, arg=name, timeout=90_000)
    expect(page.locator("#jp-NotebookLogo, .jp-NotebookCheckpoint, #jp-title")).not_to_have_count(0)
    assert page.evaluate(RUN_ALL) is True
    page.wait_for_function(KERNEL_IDLE, arg=name, timeout=120_000)
    outputs = page.evaluate(OUTPUTS)
    assert outputs["errors"] == [], outputs["errors"]
    # all three outputs are widget views: the renderer's offline chart, and the live view
    assert outputs["widgets"] == [0, 1, 2], outputs
    # drawn by the widget (the bundle's first choice), not by Notebook 7's own vega renderer
    expect(page.locator(".jp-RenderedVegaCommon5")).to_have_count(0)

    cells = page.locator(".jp-Notebook .jp-Cell")
    for i in (0, 1):  # each chart drawn by vega-embed as an SVG with marks
        chart = cells.nth(i).locator(".jp-OutputArea-output .vega-embed")
        chart.first.scroll_into_view_if_needed()
        expect(chart.locator("svg.marks")).to_have_count(1, timeout=30_000)
        assert chart.locator(MARKS).count() > 0, f"chart of cell {i} has no marks"
        width = chart.first.evaluate("e => e.getBoundingClientRect().width")
        assert width > 300, f"chart of cell {i} is {width} px wide"
    # the history chart: one running line; the breakdown: a bar per stream
    expect(cells.nth(0).locator(".vega-embed svg.marks g.mark-line path")).to_have_count(1)
    breakdown = cells.nth(1).locator(".vega-embed svg.marks").inner_html()
    for stream in ("boiler", "pump_a", "pump_b"):
        assert stream in breakdown, f"{stream} is not in the breakdown chart"

    live = cells.nth(2).locator(".im-live-view")
    live.scroll_into_view_if_needed()
    expect(live).to_be_visible(timeout=30_000)
    expect(live.locator(".im-live-steps")).to_have_text("3 steps")
    expect(live.locator(".vega-embed svg.marks")).to_have_count(1, timeout=30_000)
    kernel_run(page, "m.update_state([4.0, 4.0])")  # a later cell: the view follows it
    expect(live.locator(".im-live-steps")).to_have_text("4 steps", timeout=15_000)

    expect(page.get_by_text("Error displaying widget")).to_have_count(0)
    expect(page.get_by_text("Error loading script")).to_have_count(0)
    assert "Error loading script" not in page.locator("body").inner_text()
    assert not [u for u in failed if "127.0.0.1" not in u], failed  # nothing fetched outside
    assert kernel_eval(page, "__import__('altair').renderers.active") == "interactive_metrics"
    expect(page.get_by_text("Would you like to receive official Jupyter news")).to_have_count(0)
    page.wait_for_timeout(500)
    _shoot(page, artifacts / "notebook7.png")
    assert time.perf_counter() - started < 600  # a hang fails, it is no speed assertion


def _same(svg: str, other: str) -> bool:
    """The same drawing: equal but for vega's clip-path counter (``clip9`` / ``clip13``)."""
    return bool(re.sub(r"clip\d+", "clip", svg) == re.sub(r"clip\d+", "clip", other))


def _marks(svg: str) -> list[tuple[str, str]]:
    """The data marks of a drawing: (role, path) of every line, bar and point drawn."""
    found = re.findall(
        r'aria-roledescription="(line mark|bar|rect mark|symbol|circle|point)"[^>]*?\sd="([^"]+)"',
        svg,
    )
    return sorted(found)


@pytest.fixture(scope="module")
def shown() -> dict[str, Any]:
    """The renderer's MIME bundles of a ``Mean``'s history chart and a ``Streams`` breakdown."""
    pytest.importorskip("vl_convert")
    import numpy as np

    import interactive_metrics as im
    from interactive_metrics.widgets import renderer

    m = im.Mean(name="loss")
    for batch in ([1.0, 3.0], [2.0], [0.5, 0.5, 1.0]):
        m.update_state(batch)
    rng = np.random.default_rng(0)
    streams = im.Streams(im.Mean(name="hit_rate"))
    for _ in range(5):
        keys = rng.choice(["boiler", "pump_a", "pump_b"], size=30)
        streams.update_state((rng.random(30) < 0.8).astype(float), stream=keys)
    return {
        "history": renderer.offline_renderer(m.plot().to_dict()),
        "breakdown": renderer.offline_renderer(streams.plot().to_dict()),
    }


@pytest.mark.parametrize("chart", ["history", "breakdown"])
def test_a_vega_lite_front_end_gets_a_spec_vega_lite_5_draws(shown: Any, chart: str) -> None:
    """Front ends without widgets that render ``application/vnd.vegalite.v5+json`` themselves."""
    import vl_convert

    bundle = shown[chart]
    assert "application/vnd.jupyter.widget-view+json" in bundle  # Lab, Notebook 7, VS Code
    spec = bundle["application/vnd.vegalite.v5+json"]
    assert spec["datasets"]  # the data travels with the spec: nothing to fetch
    assert "url" not in str(spec.get("data", ""))
    # drawn by Vega-Lite 5 (what JupyterLab 4's own renderer bundles), not only by 6
    svg = vl_convert.vegalite_to_svg(spec, vl_version="5.8")
    assert svg.startswith("<svg")
    marks = _marks(svg)
    assert marks, "vega-lite 5 drew no mark"
    assert marks == _marks(vl_convert.vegalite_to_svg(spec))  # the marks Vega-Lite 6 draws


@pytest.mark.parametrize("chart", ["history", "breakdown"])
def test_a_front_end_without_widgets_or_vega_gets_the_chart_as_svg(shown: Any, chart: str) -> None:
    """What nbviewer, GitHub or a kernel-less front end draws: the bundle's static SVG."""
    import vl_convert

    bundle = shown[chart]
    svg = bundle["image/svg+xml"]
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert _same(svg, vl_convert.vegalite_to_svg(bundle["application/vnd.vegalite.v5+json"]))
    assert re.search(r'<path[^>]+d="M', svg), "no mark in the static SVG"
    words = {"history": ["loss"], "breakdown": ["boiler", "pump_a", "pump_b"]}[chart]
    for word in words:
        assert word in svg
    assert bundle["text/plain"].startswith("<altair chart")


def test_the_live_views_step_axis_has_one_tick_per_whole_step() -> None:
    """A few steps read "1 2 3", never "0 0 1 1 2" (seen in Notebook 7's live view)."""
    import vl_convert

    from interactive_metrics.widgets import _vega

    rows = [{"step": s, "result": 1.0 + s / 10, "batch_result": 1.0} for s in (1, 2, 3, 4)]
    spec = _vega.running_chart(rows, "loss", width=600).to_dict()
    svg = vl_convert.vegalite_to_svg(spec)
    axis = re.search(r'aria-label="X-axis titled \'step\'.*?</g></g>', svg, re.S)
    assert axis is not None
    labels = re.findall(r"<text[^>]*>([^<]+)</text>", axis.group(0))
    ticks = [t for t in labels if t != "step"]
    assert ticks and len(ticks) == len(set(ticks)), ticks
    assert all(float(t) == int(float(t)) for t in ticks), ticks


def test_a_front_end_without_widgets_draws_the_vega_lite_spec(
    page: Any, notebook7_without_widgets: Any, artifacts: Path
) -> None:
    """Notebook 7 with no widget manager: its own Vega-Lite 5 renderer draws the charts."""
    url, _ = notebook7_without_widgets
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    name = write_notebook(notebook7_without_widgets, "no_widgets.ipynb", CELLS[:2])
    page.goto(f"{url}/notebooks/{name}?token=interactive-metrics-e2e")
    page.wait_for_function(KERNEL_IDLE, arg=name, timeout=90_000)
    assert page.evaluate(RUN_ALL) is True
    page.wait_for_function(KERNEL_IDLE, arg=name, timeout=120_000)
    assert page.evaluate(OUTPUTS)["errors"] == []
    cells = page.locator(".jp-Notebook .jp-Cell")
    for i in (0, 1):
        chart = cells.nth(i).locator(".jp-RenderedVegaCommon5 .vega-embed")
        chart.first.scroll_into_view_if_needed()
        expect(chart.locator("svg.marks, canvas")).to_have_count(1, timeout=30_000)
        width = chart.first.evaluate("e => e.getBoundingClientRect().width")
        assert width > 300, f"chart of cell {i} is {width} px wide"
    expect(page.locator(".jupyter-widgets")).to_have_count(0)
    expect(page.get_by_text("Error loading script")).to_have_count(0)
    expect(page.get_by_text("Error displaying widget")).to_have_count(0)
    assert not [u for u in failed if "127.0.0.1" not in u], failed
    _shoot(page, artifacts / "notebook7_no_widgets.png")
