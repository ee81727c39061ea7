"""Curves and the threshold explorer in a real JupyterLab; charts that fill the output width.

Each test writes a small notebook as a new user would, runs it in headless Chromium,
then acts as a person: focuses the slider and presses the arrow keys, and checks the
numbers the page shows against a numpy oracle the kernel computes from the raw data.
Screenshots go to ``tests/artifacts/``.
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

from lab_helpers import as_shown, kernel_eval, run_notebook, shoot, write_notebook

SET_UP = (
    "import numpy as np\nimport interactive_metrics as im\n"
    "rng = np.random.default_rng(1)\n"
    "y = (rng.random(3000) < 0.4).astype(float)\n"
    "keys = rng.choice(['pump_a', 'pump_b', 'turbine'], size=3000, p=[0.5, 0.2, 0.3])\n"
    "score = np.clip(np.where(keys == 'pump_b', 0.1, 0.35) * y + 0.6 * rng.random(3000), 0, 1)\n"
    "streams = im.Streams(im.AUC(num_thresholds=21, name='auc'))\n"
    "for part in np.array_split(np.arange(3000), 5):\n"
    "    streams.update_state(y[part], score[part], stream=keys[part])\n"
    "def oracle(key, t):  # TP, FP, TN, FN from the raw data, not the metric\n"
    "    m = np.ones(3000, bool) if key is None else keys == key\n"
    "    p = score[m] > t\n"
    "    yy = y[m] == 1\n"
    "    return [int(np.sum(p & yy)), int(np.sum(p & ~yy)), int(np.sum(~p & ~yy)),"
    " int(np.sum(~p & yy))]"
)


def shown_counts(explorer: Any, label: str) -> list[str]:
    row = explorer.locator(f"tr.im-thr-row[data-stream='{label}']")
    return [row.locator(f"td.{c}").inner_text() for c in ("im-tp", "im-fp", "im-tn", "im-fn")]


def test_threshold_explorer_arrow_keys_change_the_counts_to_the_right_values(
    page: Any, lab: Any, artifacts: Path
) -> None:
    name = write_notebook(
        lab,
        "threshold_explorer.ipynb",
        [SET_UP, "explorer = streams.widget('thresholds')\nexplorer", "streams.plot('roc')"],
    )
    ran = run_notebook(page, lab, name, artifacts)
    assert ran["charts"] == 1
    explorer = page.locator(".im-threshold-explorer")
    expect(explorer.locator(".im-thr-threshold")).to_have_text("0.5")
    handle = explorer.locator(".widget-slider .noUi-handle")
    for presses, threshold in ((0, 0.5), (2, 0.6), (3, 0.75), (-7, 0.4)):
        handle.focus()
        key = "ArrowRight" if presses > 0 else "ArrowLeft"
        for _ in range(abs(presses)):
            page.keyboard.press(key)
        expect(explorer.locator(".im-thr-threshold")).to_have_text(as_shown(threshold))
        for label, stream in (("pump_a", "'pump_a'"), ("pump_b", "'pump_b'"), ("(merged)", None)):
            want = kernel_eval(page, f"oracle({stream}, {threshold})")
            expect(explorer.locator(f"tr.im-thr-row[data-stream='{label}'] td.im-tp")).to_have_text(
                as_shown(want[0])
            )
            assert shown_counts(explorer, label) == [as_shown(x) for x in want], (label, threshold)
    assert kernel_eval(page, "explorer.threshold") == 0.4
    # the ROC chart: the chance diagonal, a line per stream and the merged one
    chart = page.locator(".jp-OutputArea-output .vega-embed").first
    expect(chart.locator("svg.marks g.mark-line path")).to_have_count(1 + 3 + 1)
    shoot(page, artifacts / "threshold_explorer.png")


MEASURE = """(root) => {
  const out = root.closest('.jp-OutputArea-output');
  const svg = root.querySelector('svg.marks');
  return [out.getBoundingClientRect().width, svg.getBoundingClientRect().width,
          out.scrollWidth, out.clientWidth];
}"""


@pytest.mark.parametrize(
    ("stem", "call"),
    [
        ("history", "m.plot(width='container')"),
        ("batch_sums", "m.plot('batch_sums', width='container')"),
        ("sum_vs_mean", "m.plot('sum_vs_mean', width='container')"),
        ("roc", "auc.plot('roc', width='container')"),
    ],
)
def test_container_width_charts_fill_the_output_without_overflow(
    page: Any, lab: Any, artifacts: Path, stem: str, call: str
) -> None:
    name = write_notebook(
        lab,
        f"container_{stem}.ipynb",
        [
            "import interactive_metrics as im\nm = im.Mean(name='loss')\n"
            "for i in range(40):\n    m.update_state([1.0 / (1 + i), 2.0])\n"
            "auc = im.AUC()\nauc.update_state([0, 1, 1, 0, 1], [0.2, 0.8, 0.6, 0.4, 0.3])",
            call,
        ],
    )
    run_notebook(page, lab, name, artifacts)
    chart = page.locator(".jp-OutputArea-output .vega-embed").first
    output, drawn, scroll, client = chart.evaluate(MEASURE)
    assert drawn > 0.6 * output, (call, output, drawn)  # fills the width: never 0 px
    assert drawn <= output + 1 and scroll <= client + 1, (call, output, drawn, scroll, client)
    page.set_viewport_size({"width": 900, "height": 1000})  # a narrower window: it follows
    page.wait_for_timeout(800)
    narrow_output, narrow_drawn, scroll, client = chart.evaluate(MEASURE)
    assert narrow_output < output
    assert 0.6 * narrow_output < narrow_drawn <= narrow_output + 1, (call, narrow_output)
    assert scroll <= client + 1
    shoot(page, artifacts / f"container_{stem}.png")
