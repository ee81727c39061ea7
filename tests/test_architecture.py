"""The layout rules of the package, checked on its source.

Modules talk through public, documented names: no module of the package reads
another module's underscore names (attributes it does not define itself, or
names imported from another module). A private module (``charts/_common.py``)
serves the modules of its own subpackage only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "interactive_metrics"
MODULES = sorted(PACKAGE.rglob("*.py"))

# Underscore names that are public protocols, not anybody's internals.
PROTOCOL_NAMES = {
    "_repr_html_",  # IPython's rich display
    "_repr_mimebundle_",
    "_ipython_display_",
    "_replace",  # NamedTuple's public API
    "_asdict",
    "_make",
    "_getframe",  # sys._getframe: documented CPython (the Keras guard finds its caller)
}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_names(tree: ast.Module) -> set[str]:
    """Underscore names a module defines: functions, classes, attributes and variables it sets."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                names.add(str(node.args[1].value))
    return {name for name in names if _is_private(name)}


def _subpackage(module: str) -> str:
    return module.rsplit(".", 1)[0]


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def violations(path: Path) -> list[str]:
    """Each read of another module's underscore name in ``path``, as ``line: what``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    own = _defined_names(tree)
    here = _module_name(path)
    package = here if path.name == "__init__.py" else _subpackage(here)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            if node.attr not in own and node.attr not in PROTOCOL_NAMES:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            source = node.module
            if node.level:  # relative imports: resolve against this package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module])
            if not source.startswith("interactive_metrics"):
                continue
            for alias in node.names:
                own_module = source == package and _is_module(f"{source}.{alias.name}")
                if _is_private(alias.name) and not own_module:
                    found.append(f"{node.lineno}: from {source} import {alias.name}")
            hidden = [part for part in source.split(".") if _is_private(part)]
            if hidden and _subpackage(source) != package:
                found.append(f"{node.lineno}: from {source} (a private module of another package)")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_reads_another_modules_underscore_names(path: Path) -> None:
    assert violations(path) == []


def test_the_check_catches_what_it_forbids(tmp_path: Path) -> None:
    """The walk finds each kind of private read (so an empty list above means something)."""
    module = PACKAGE / "_probe_for_architecture_test.py"
    module.write_text(
        "from interactive_metrics.metric import _plain\n"
        "from interactive_metrics.widgets._vega import vega_chart\n"
        "def f(metric):\n"
        "    return metric._state, metric._repr_html_()\n"
    )
    try:
        found = violations(module)
    finally:
        module.unlink()
    assert found == [
        "1: from interactive_metrics.metric import _plain",
        "2: from interactive_metrics.widgets._vega (a private module of another package)",
        "4: metric._state",
    ]


def test_the_core_imports_no_renderer_and_no_tracker() -> None:
    """``core`` and ``engine`` are numpy/polars only: no altair, ipywidgets, or stateful shell."""
    forbidden = ("altair", "ipywidgets", "IPython", "interactive_metrics.metric")
    forbidden += ("interactive_metrics.streams", "interactive_metrics.charts")
    for path in [*sorted((PACKAGE / "core").glob("*.py")), PACKAGE / "engine.py"]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not [n for n in names if n.startswith(forbidden)], (path.name, names)
