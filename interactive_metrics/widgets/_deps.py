"""Optional dependencies of the widgets, with an error that says what to install."""

from __future__ import annotations


def missing(module: str, extra: str = "widgets") -> ImportError:
    """The error raised when an optional module is not installed."""
    return ImportError(
        f"interactive_metrics widgets need `{module}`, which is not installed; "
        f"install it with: pip install 'interactive-metrics[{extra}]'"
    )
