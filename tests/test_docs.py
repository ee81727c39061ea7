"""The documentation: the site builds with warnings as errors, and every example on it runs."""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if not p.name.startswith("_"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml")]
        + ["-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-4000:]}"
    assert "WARNING" not in done.stderr
    return out


def test_every_page_is_built(site: Path) -> None:
    for page in PAGES:
        relative = page.relative_to(DOCS).with_suffix("")
        built = site / ("index.html" if relative.name == "index" else relative / "index.html")
        assert built.is_file(), f"{page} was not built"


def test_notebooks_are_rendered_with_their_outputs(site: Path) -> None:
    for notebook in NOTEBOOKS:
        page = site / "notebooks" / notebook.stem / "index.html"
        assert page.is_file(), f"{notebook.name} is not in the site"
        assert "jp-Cell" in page.read_text(encoding="utf-8")


def test_api_reference_documents_the_public_objects(site: Path) -> None:
    html = (site / "api" / "index.html").read_text(encoding="utf-8")
    for anchor in [
        "interactive_metrics.metric.Metric.update_state",
        "interactive_metrics.metric.Metric.merge_state",
        "interactive_metrics.metric.StateField",
        "interactive_metrics.metrics.reduction.Mean",
        "interactive_metrics.metrics.confusion.Precision",
        "interactive_metrics.streams.Streams",
        "interactive_metrics.charts.sum_vs_mean",
    ]:
        assert f'id="{anchor}"' in html, f"{anchor} is missing from the API reference"
    # numpydoc sections are parsed, not shown as raw text
    assert "Parameters" in html and "----------" not in html


def test_site_loads_nothing_from_the_network(site: Path) -> None:
    remote = re.compile(r"^(https?:)?//")
    fetched = re.compile(
        r'<(?:script|img|iframe|source)\b[^>]*\bsrc="([^"]*)"|<link\b[^>]*\bhref="([^"]*)"'
    )
    seen = 0
    for page in site.rglob("*.html"):
        for match in fetched.finditer(page.read_text(encoding="utf-8")):
            url = match.group(1) if match.group(1) is not None else match.group(2)
            assert not remote.match(url), f"{page.relative_to(site)} loads {url}"
            seen += 1
    assert seen > 20  # the theme's own scripts and stylesheets, all local


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_examples_in_the_docs_run(page: Path) -> None:
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    result = doctest.testfile(str(page), module_relative=False, optionflags=flags, verbose=False)
    assert result.failed == 0
