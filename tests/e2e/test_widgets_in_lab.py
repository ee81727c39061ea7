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

from lab_helpers import kernel_eval, run_notebook, write_notebook


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
