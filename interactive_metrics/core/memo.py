"""Checks of one input shared by several metrics: within :func:`shared_checks`, each runs once.

A :class:`~interactive_metrics.MetricCollection` hands the same bound arrays to
every member. Members that validate them alike (``y_true`` holds binary labels,
``y_pred`` probabilities) would scan them once each; inside :func:`shared_checks`
the first check of an array is remembered (by identity, for the arrays alive in
the block) and the others reuse its answer.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import numpy as np

__all__ = ["checked_once", "shared_checks"]

_T = TypeVar("_T")
_MEMO: ContextVar[dict[tuple[str, int], tuple[Any, Any]] | None] = ContextVar(
    "interactive_metrics_shared_checks", default=None
)


class shared_checks:  # noqa: N801 (used as a function: `with shared_checks():`)
    """Within the block, :func:`checked_once` checks each input array once.

    A class rather than a generator-based context manager: entering and leaving it
    is on the path of every small update of a collection.

    Examples
    --------
    >>> calls = []
    >>> def check(x):
    ...     calls.append(1)
    ...     return x > 0
    >>> x = np.array([1.0, -1.0])
    >>> with shared_checks():
    ...     a, b = checked_once("positive", x, check), checked_once("positive", x, check)
    >>> len(calls), a is b
    (1, True)
    """

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _MEMO.set({})

    def __exit__(self, *exc: object) -> None:
        _MEMO.reset(self._token)


def checked_once(kind: str, array: np.ndarray, check: Callable[[np.ndarray], _T]) -> _T:
    """``check(array)``, or, inside :func:`shared_checks`, its answer for this very array."""
    memo = _MEMO.get()
    if memo is None:
        return check(array)
    key = (kind, id(array))
    seen = memo.get(key)
    if seen is not None and seen[0] is array:
        return seen[1]
    answer = check(array)
    memo[key] = (array, answer)  # the array is held: its id is not reused in the block
    return answer
