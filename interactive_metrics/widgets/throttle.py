"""When to redraw: at most ``1 / interval`` times a second, within a time budget.

The check runs after every ``update_state`` of a followed metric, so it is one
clock read and one comparison when no redraw is due.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["Throttle"]


class Throttle:
    """Decide whether a redraw is due, and remember that one was skipped.

    A redraw is due when ``interval`` seconds have passed since the previous one
    started, and the previous one's duration is at most ``budget`` of the time
    since it started: a slow redraw (a long history, a busy browser) waits longer,
    so drawing never takes more than about ``budget`` of a loop's time.

    Parameters
    ----------
    interval : float
        The shortest time between two redraws, in seconds (0.1: ten a second).
    budget : float
        The largest share of wall time redraws may take (0.05: 5%).
    clock : callable
        Returns the time in seconds; tests pass a fake one.

    Examples
    --------
    >>> now = [0.0]
    >>> throttle = Throttle(interval=0.1, clock=lambda: now[0])
    >>> throttle.due()
    True
    >>> throttle.drawn(started=0.0)
    >>> now[0] = 0.05
    >>> throttle.due(), throttle.pending
    (False, True)
    >>> now[0] = 0.1
    >>> throttle.due()
    True
    """

    __slots__ = ("interval", "budget", "clock", "next_due", "pending", "redraws")

    def __init__(
        self,
        interval: float = 0.1,
        budget: float = 0.05,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not interval >= 0:
            raise ValueError(f"`interval` must be a number of seconds >= 0, got {interval!r}")
        if not 0 < budget <= 1:
            raise ValueError(f"`budget` must be a share of time in (0, 1], got {budget!r}")
        self.interval = interval
        self.budget = budget
        self.clock = clock
        self.next_due = -math.inf
        self.pending = False
        self.redraws = 0

    def due(self) -> bool:
        """True when a redraw may happen now; otherwise mark one as pending."""
        if self.clock() >= self.next_due:
            return True
        self.pending = True
        return False

    def drawn(self, started: float) -> None:
        """Record a redraw that started at ``started`` (a value of ``clock``) and just ended."""
        took = self.clock() - started
        self.next_due = started + max(self.interval, took / self.budget)
        self.pending = False
        self.redraws += 1
