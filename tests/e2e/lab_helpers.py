"""What the browser tests do in a notebook: open it, run it, read what the page and kernel hold."""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

import nbformat
from playwright.sync_api import expect

# the open tab must be THIS notebook, with its kernel started and idle
KERNEL_IDLE = """(path) => { const w = window.jupyterapp?.shell.currentWidget;
  return !!(w && w.context?.path === path && w.sessionContext?.isReady
            && w.sessionContext.session?.kernel?.status === 'idle'); }"""
RUN_ALL = "() => window.jupyterapp.commands.execute('notebook:run-all-cells')"
# what the notebook model holds after running: error outputs and widget outputs, per cell
OUTPUTS = """() => { const model = window.jupyterapp.shell.currentWidget.content.model;
  const errors = [], widgets = [];
  for (let i = 0; i < model.cells.length; i++) {
    const cell = model.cells.get(i);
    if (cell.type !== 'code') continue;
    for (let j = 0; j < cell.outputs.length; j++) {
      const out = cell.outputs.get(j).toJSON();
      if (out.output_type === 'error') errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
      const data = out.data || {};
      if (data['application/vnd.jupyter.widget-view+json']) widgets.push(i);
    }
  }
  return { errors, widgets }; }"""
# evaluate a Python expression in the notebook's kernel; returns its repr
KERNEL_EVAL = """async (expression) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const reply = await kernel.requestExecute({ code: '', user_expressions: { value: expression } }).done;
  const value = reply.content.user_expressions.value;
  if (value.status !== 'ok') throw new Error(value.ename + ': ' + value.evalue);
  return value.data['text/plain']; }"""
KERNEL_EXEC = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const reply = await kernel.requestExecute({ code }).done;
  return reply.content.status; }"""


def run_notebook(page: Any, lab: tuple[str, Path], name: str, artifacts: Path) -> dict[str, Any]:
    """Open ``name``, run all cells, check errors, widgets and charts; screenshot it."""
    url, _ = lab
    started = time.perf_counter()
    page.goto(f"{url}/lab/tree/{name}?reset&token=interactive-metrics-e2e")
    page.wait_for_function(KERNEL_IDLE, arg=name, timeout=90_000)
    assert page.evaluate(RUN_ALL) is True
    page.wait_for_function(KERNEL_IDLE, arg=name, timeout=120_000)
    outputs = page.evaluate(OUTPUTS)
    assert outputs["errors"] == [], outputs["errors"]
    # every widget output rendered: a view in its cell, never "Error displaying widget"
    cells = page.locator(".jp-Notebook .jp-Cell")
    for i in outputs["widgets"]:
        output = cells.nth(i).locator(".jp-OutputArea-output")
        output.first.scroll_into_view_if_needed()
        expect(output.locator(".jupyter-widgets, .vega-embed").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Error displaying widget")).to_have_count(0)
    # every chart drawn: an SVG with marks in each vega-embed
    charts = page.locator(".jp-OutputArea-output .vega-embed")
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        expect(chart.locator("svg.marks")).to_be_attached(timeout=30_000)
        marks = chart.locator(
            "svg.marks g.mark-line path, svg.marks g.mark-rect path, "
            "svg.marks g.mark-symbol path, svg.marks g.mark-rule line"
        )
        assert marks.count() > 0, f"chart {i} of {name} has no marks"
    page.wait_for_timeout(500)
    shoot(page, artifacts / f"{Path(name).stem}.png")
    return {"outputs": outputs, "charts": charts.count(), "seconds": time.perf_counter() - started}


def shoot(page: Any, path: Path) -> None:
    """A screenshot of the whole notebook: the page is made as tall as the notebook first."""
    height = page.evaluate(
        "() => Math.max(...Array.from(document.querySelectorAll("
        "'.jp-NotebookPanel .jp-WindowedPanel-outer, .jp-NotebookPanel .jp-Notebook'),"
        " e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 250, 16_000)})
    page.locator(".jp-NotebookPanel .jp-WindowedPanel-outer").first.evaluate(
        "e => e.scrollTo(0, 0)"
    )
    page.wait_for_timeout(1500)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1280, "height": 1000})


def as_shown(x: float) -> str:
    """How the widgets print a number: ``style.format_number`` (4 digits, thousands separators)."""
    from interactive_metrics.charts.style import format_number

    return format_number(x)


def kernel_eval(page: Any, expression: str) -> Any:
    """The value of a Python expression in the notebook's kernel (a literal: number, tuple...)."""
    return ast.literal_eval(page.evaluate(KERNEL_EVAL, expression))


def write_notebook(lab: tuple[str, Path], name: str, cells: list[str]) -> str:
    """Write a notebook of ``cells`` (code) into the folder the server serves; its name."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(notebook, lab[1] / name)
    return name


def kernel_run(page: Any, code: str) -> None:
    """Run ``code`` in the notebook's kernel (no cell added), as a later cell would."""
    status = page.evaluate(KERNEL_EXEC, code)
    assert status == "ok", status
