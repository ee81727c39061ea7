"""mkdocs hook: the notebooks in ``notebooks/`` become pages of the site, under ``notebooks/``.

They live outside ``docs/`` (the test command executes them where they are), so they are
added to the site's files here and listed under "Notebooks" in the navigation;
mkdocs-jupyter renders them with their saved outputs, without running them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def on_config(config: Any) -> Any:
    """List the notebooks in the navigation (their titles come from their first heading)."""
    pages = [f"notebooks/{path.name}" for path in _notebooks()]
    if pages and config.nav is not None:
        config.nav.append({"Notebooks": pages})
    return config


@event_priority(100)  # before mkdocs-jupyter turns .ipynb files into pages
def on_files(files: Files, config: Any) -> Files:
    """Add every notebook as ``notebooks/<name>.ipynb``."""
    for path in _notebooks():
        # a plain File whose source directory is the repository root (not a generated
        # one: mkdocs-jupyter's page wrapper only reads files that have a source directory)
        files.append(
            File(
                f"{NOTEBOOKS.name}/{path.name}",
                src_dir=str(NOTEBOOKS.parent),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    return files
