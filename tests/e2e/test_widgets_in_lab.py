"""The package's charts and widgets in a real JupyterLab, in notebooks written by the tests.

Each test writes a small notebook as a new user would (no set-up cell), runs it in
headless Chromium, and checks what the page shows; screenshots go to
``tests/artifacts/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # a collection error in CI, a skip elsewhere: never a silent pass
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip("playwright is not installed: pip install -e '.[dev]'", allow_module_level=True)

from lab_helpers import kernel_eval, run_notebook, shoot, write_notebook


def test_a_chart_draws_offline_with_no_set_up_cell(page: Any, lab: Any, artifacts: Path) -> None:
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    name = write_notebook(
        lab,
        "fresh_chart.ipynb",
        [
            "import interactive_metrics as im\n"
            "m = im.Mean(name='loss')\n"
            "for batch in ([1.0, 3.0], [2.0], [0.5, 0.5, 1.0]):\n"
            "    m.update_state(batch)\n"
            "m.plot()",
        ],
    )
    ran = run_notebook(page, lab, name, artifacts)
    assert ran["charts"] == 1  # drawn by vega-embed, its marks counted by run_notebook
    expect(
        page.locator(".jp-OutputArea-output .vega-embed svg.marks g.mark-line path")
    ).to_have_count(1)
    expect(page.get_by_text("Error loading script")).to_have_count(0)
    assert "Error loading script" not in page.locator("body").inner_text()
    assert not [url for url in failed if "127.0.0.1" not in url], failed  # nothing fetched outside
    assert kernel_eval(page, "__import__('altair').renderers.active") == "interactive_metrics"
    expect(page.get_by_text("Would you like to receive official Jupyter news")).to_have_count(0)


STROKES = """(root) => Array.from(root.querySelectorAll('.vega-embed svg.marks g.mark-line path'))
  .map(p => (p.getAttribute('stroke') || '').toLowerCase())"""


def test_an_explorer_made_before_a_loop_follows_it_and_keeps_colours(
    page: Any, lab: Any, artifacts: Path
) -> None:
    name = write_notebook(
        lab,
        "explorer_follows.ipynb",
        [
            "import numpy as np\nimport interactive_metrics as im\n"
            "streams = im.Streams(im.Mean(name='hit_rate'))\nexplorer = streams.widget()\n"
            "explorer",
            "live = streams.widget('live')\nlive",
            "rng = np.random.default_rng(0)\n"
            "names = ['boiler', 'pump_a', 'pump_b', 'turbine']\n"
            "for step in range(120):\n"
            "    keys = rng.choice(names, size=200, p=[0.3, 0.3, 0.05, 0.35])\n"
            "    late = (keys == 'pump_b') & (step > 60)\n"
            "    streams.update_state((rng.random(200) < np.where(late, 0.3, 0.9)).astype(float),"
            " stream=keys)",
        ],
    )
    run_notebook(page, lab, name, artifacts)
    explorer = page.locator(".im-explorer")
    micro = kernel_eval(page, "im.charts.style.format_number(streams.result())")
    macro = kernel_eval(page, "im.charts.style.format_number(streams.macro_result())")
    expect(explorer.locator(".im-micro")).to_have_text(micro)  # not 0: it followed the loop
    expect(explorer.locator(".im-macro")).to_have_text(macro)
    expect(explorer.locator(".im-micro-macro")).to_contain_text("mean of 4 stream results")
    expect(explorer.locator(".im-stream-row")).to_have_count(1)
    expect(explorer.locator(".im-stream-row .im-stream")).to_contain_text("pump_b")
    lines = explorer.locator(".vega-embed svg.marks g.mark-line path")
    expect(lines).to_have_count(2)  # pump_b and merged
    expect(page.locator(".im-live-view .im-live-steps")).to_have_text("120 steps")
    explorer.scroll_into_view_if_needed()
    shoot(page, artifacts / "explorer_follows.png")

    picker = explorer.locator("select")
    expected = kernel_eval(  # each stream's colour: its place in streams.streams
        page,
        "{str(k): c.lower() for k, c in zip(streams.streams,"
        " im.charts.style.stream_colors(streams.streams, streams.streams))}",
    )
    merged = kernel_eval(page, "im.charts.style.MERGED_COLOR.lower()")
    assert len(set(expected.values())) == 4
    everyone = list(expected)
    for chosen in (["pump_b"], ["pump_b", "boiler"], ["turbine", "pump_b"], everyone, ["boiler"]):
        labels = [
            t.replace("\xa0", " ").split(" ")[0]
            for t in picker.locator("option").all_text_contents()
        ]
        picker.select_option(index=[labels.index(k) for k in chosen])
        expect(lines).to_have_count(len(chosen) + 1)
        page.wait_for_timeout(300)
        strokes = sorted(explorer.evaluate(STROKES))
        assert strokes == sorted([expected[k] for k in chosen] + [merged]), (chosen, strokes)
    shoot(page, artifacts / "explorer_after_selections.png")


def test_scrubber_speed_control_plays_at_the_chosen_speed(
    page: Any, lab: Any, artifacts: Path
) -> None:
    name = write_notebook(
        lab,
        "scrubber_speed.ipynb",
        [
            "import interactive_metrics as im\nm = im.Mean(name='loss')\n"
            "for i in range(2000):\n    m.update_state([1.0 / (1 + i / 100)])\n"
            "scrubber = m.widget('scrubber', step=0)\nscrubber",
        ],
    )
    run_notebook(page, lab, name, artifacts)
    scrubber = page.locator(".im-scrubber")
    expect(scrubber.locator(".im-step")).to_have_text("step 0")
    speed = scrubber.locator("select").first
    labels = [t.replace("\xa0", " ").strip() for t in speed.locator("option").all_text_contents()]
    assert kernel_eval(page, "scrubber.speed.value") == 200  # 2,000 steps in ~10 s by default
    speed.select_option(index=labels.index("500 steps/s"))
    page.wait_for_timeout(500)
    assert kernel_eval(page, "(scrubber.play.interval, scrubber.play.step)") == (40, 20)
    scrubber.locator(".widget-play button").first.click()  # play
    page.wait_for_timeout(2000)
    reached = kernel_eval(page, "scrubber.shown_step")
    assert 400 <= reached <= 1400, reached  # ~1,000 steps in 2 s (was 13 at 150 ms a step)
    expect(scrubber.locator(".im-step")).to_have_text("step 2000", timeout=15_000)  # stops there
    expect(scrubber.locator(".im-scrub-note")).to_contain_text("stopped at the last step (2,000)")
    handle = scrubber.locator(".widget-slider .noUi-handle")
    handle.focus()
    page.keyboard.press("ArrowLeft")
    expect(scrubber.locator(".im-step")).to_have_text("step 1999")  # one step per key
    shoot(page, artifacts / "scrubber_speed.png")
