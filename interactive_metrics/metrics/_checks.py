"""Argument checks shared by the Keras-catalogue families (each raises a ``ValueError``).

Every message names the argument in backticks, says what was expected, shows what
was got and, where one exists, the remedy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interactive_metrics.core.coerce import MAX_INTEGER

__all__ = ["check_axis", "check_flag", "check_fraction", "check_integer", "is_number"]


def is_number(value: Any) -> bool:
    """True for an int or float (numpy ones too), False for bool and anything else.

    Examples
    --------
    >>> is_number(0.5), is_number(True), is_number("1")
    (True, False, False)
    """
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_flag(value: Any, name: str) -> bool:
    """Return ``value`` if it is a bool, else raise.

    Examples
    --------
    >>> check_flag("yes", "from_logits")
    Traceback (most recent call last):
    ...
    ValueError: `from_logits` must be True or False, got 'yes'
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{name}` must be True or False, got {value!r}")
    return bool(value)


def check_fraction(value: Any, name: str, remedy: str = "") -> float:
    """Return ``value`` as a float if it is a number in ``[0, 1]``, else raise.

    Examples
    --------
    >>> check_fraction(1.5, "label_smoothing")
    Traceback (most recent call last):
    ...
    ValueError: `label_smoothing` must be a number in [0, 1], got 1.5
    """
    if not (is_number(value) and 0 <= value <= 1):
        raise ValueError(f"`{name}` must be a number in [0, 1], got {value!r}{remedy}")
    return float(value)


def check_integer(value: Any, name: str, minimum: int, remedy: str = "") -> int:
    """Return ``value`` as an int if it is an integer ``>= minimum``, else raise.

    Examples
    --------
    >>> check_integer(1, "num_thresholds", 2)
    Traceback (most recent call last):
    ...
    ValueError: `num_thresholds` must be an integer >= 2, got 1
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}{remedy}")
    if value > MAX_INTEGER:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum} and at most 2**62, got {value!r}{remedy}"
        )
    return int(value)


def check_axis(value: Any) -> int:
    """Return ``axis`` if it is an integer other than 0 (axis 0 holds the samples), else raise.

    Examples
    --------
    >>> check_axis(0)
    Traceback (most recent call last):
    ...
    ValueError: `axis` must be an integer other than 0 (axis 0 holds the samples), got 0; ...
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value == 0:
        raise ValueError(
            f"`axis` must be an integer other than 0 (axis 0 holds the samples), got {value!r}; "
            "the default -1 reduces the last axis, as Keras does"
        )
    return int(value)
