"""A compiled one-pass weighted sum (numba) for weighted float64 batches.

With numpy, a checked weighted mean reads the weights three times: once to check
them (``argmin``), once in ``np.dot(values, weight)`` and once more to sum them
(the ``count``). On a batch of millions of samples each pass goes to memory, so
three passes cost about three times one; on a small batch each is a call of about
0.2 µs. :func:`weighted_sums` reads each sample
once and returns ``Σ valuesᵢ·weightᵢ``, ``Σ weightᵢ`` and the number of negative
weights. A NaN weight makes the weight sum NaN, so the weights are valid when no
weight is negative and the weight sum is not NaN (``-0.0`` is not negative).

Rounding: samples are summed in blocks of :data:`BLOCK`, each with several running
sums (the loop is vectorised, as BLAS does), and the block sums are added with
numpy's pairwise sum. On random positive data the sums are within one ulp of the
exact sum up to 10 million samples (``np.dot``: up to about 20 ulps). A sum of
zeros may come out as ``0.0`` where numpy gives ``-0.0``, and a strided array (a
column of a 2-D array) is added in another order than a contiguous one: the same
size of rounding, not always the same bits.

The pass releases the GIL. Batches of at least :data:`THREADS_MIN` samples are
split into runs of whole blocks that up to four threads (the caller's and a small
pool's) take in turn: the same blocks, so the same result, as on one thread.
The pass is bound by memory bandwidth: two threads were measured about 10% faster
than one on a two-core machine. (numba's own parallel loops were no faster here and
bring thread-pool hazards: OpenMP cannot be used after ``fork()``, numba's
"workqueue" pool not by two threads at once.)

This module imports numba, so :mod:`interactive_metrics` imports it only on first
use: the first weighted float64 update of a ``Sum`` or ``Mean`` (or of any metric
that declares ``terms_wrap_inputs``) in a process takes about 0.4-0.6 s more, to import
numba and load the compiled kernel (numba caches it beside this file, or in its
cache directory; compiling it anew takes about as long).

Examples
--------
>>> import numpy as np
>>> from interactive_metrics.core import kernels
>>> total, weight_total, negative = kernels.weighted_sums(
...     np.array([1.0, 3.0, 5.0]), np.array([1.0, 0.5, 0.0])
... )
>>> total, weight_total, negative
(2.5, 1.5, 0.0)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np

__all__ = ["BLOCK", "weighted_sums"]

#: Samples per block: each block is summed with vectorised running sums, blocks pairwise.
BLOCK = 4096
#: Batches of at least this many samples are summed by several threads.
THREADS_MIN = 1 << 21
_RUN = 64  # blocks (256 Ki samples) a thread takes at a time

# Let the compiler reorder the additions within a block (vectorised running sums)
# and fuse multiply-adds, as BLAS does. NaN and infinities keep their meaning: no
# "nnan"/"ninf" flags, so a NaN weight still makes the weight sum NaN.
_FASTMATH = {"reassoc", "contract", "nsz"}


def _compile(function: Callable[..., Any]) -> Any:
    """``numba.njit`` the function, cached on disk where numba finds a place to write.

    numba keeps compiled code beside the module or in its cache directory; where it
    can write to neither (a read-only install without a home directory), it refuses
    ``cache=True`` outright, and the kernel is then compiled in each process instead.
    """
    try:
        return numba.njit(nogil=True, cache=True, fastmath=_FASTMATH)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, fastmath=_FASTMATH)(function)


@_compile
def _sums(values: np.ndarray, weight: np.ndarray) -> tuple[float, float, float]:
    total = 0.0
    weight_total = 0.0
    negative = 0.0  # a float count keeps the loop vectorised
    for i in range(weight.shape[0]):
        w = weight[i]
        total += values[i] * w
        weight_total += w
        negative += 1.0 if w < 0.0 else 0.0
    return total, weight_total, negative


@_compile
def _blocks(values: np.ndarray, weight: np.ndarray, out: np.ndarray) -> float:
    negative = 0.0
    for b in range(out.shape[1]):
        # slices, not index ranges: the loop inside then needs no wraparound checks
        part = slice(b * BLOCK, b * BLOCK + BLOCK)
        out[0, b], out[1, b], k = _sums(values[part], weight[part])
        negative += k
    return negative


_HELPERS: tuple[int, ThreadPoolExecutor | None, int] = (-1, None, 0)


def _helpers() -> tuple[ThreadPoolExecutor | None, int]:
    """Threads that sum parts of a large batch beside the caller's, and how many (0 on one core).

    Made anew in a child process after ``fork()``, where the parent's threads do not run.
    """
    global _HELPERS
    pid = os.getpid()
    if _HELPERS[0] != pid:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        count = min(3, (cores or 1) - 1)  # memory-bound: a few threads reach the bandwidth
        pool = ThreadPoolExecutor(count, "interactive_metrics.kernels") if count > 0 else None
        _HELPERS = (pid, pool, count)
    return _HELPERS[1], _HELPERS[2]


def _blocks_on_threads(
    values: np.ndarray, weight: np.ndarray, out: np.ndarray, helpers: ThreadPoolExecutor, count: int
) -> float:
    """:func:`_blocks` by the caller's thread and ``count`` helpers, taking runs of blocks in turn.

    Each run is a fixed range of whole blocks, so the sums are those of one thread;
    a thread that is slowed (by another process on its core) just takes fewer runs.
    """
    blocks = out.shape[1]
    runs = iter(range(0, blocks, _RUN))
    lock = threading.Lock()

    def work() -> float:
        negative = 0.0
        while True:
            with lock:
                first = next(runs, None)
            if first is None:
                return negative
            last = min(first + _RUN, blocks)
            part = slice(first * BLOCK, last * BLOCK)
            negative += _blocks(values[part], weight[part], out[:, first:last])

    try:
        others = [helpers.submit(work) for _ in range(count)]
    except RuntimeError:  # the interpreter is shutting down: the caller takes every run
        others = []
    negative = work()
    return negative + sum(other.result() for other in others)


def weighted_sums(values: np.ndarray, weight: np.ndarray) -> tuple[float, float, float]:
    """``Σ valuesᵢ·weightᵢ``, ``Σ weightᵢ`` and the number of negative weights, in one pass.

    Parameters
    ----------
    values, weight : numpy.ndarray
        1-D float64 arrays of the same length.

    Returns
    -------
    total, weight_total : float
    negative : float
        How many weights are ``< 0`` (``-0.0`` is not), counted in a float.
    """
    n = weight.shape[0]
    if n <= BLOCK:
        return _sums(values, weight)
    blocks = -(-n // BLOCK)
    out = np.empty((2, blocks))  # each block's two sums, in two rows
    helpers, count = _helpers() if n >= THREADS_MIN else (None, 0)
    if helpers is None:
        negative = _blocks(values, weight, out)
    else:
        negative = _blocks_on_threads(values, weight, out, helpers, count)
    # along contiguous rows numpy adds pairwise (down the columns of a (blocks, 2)
    # array it would add one block after the other: several ulps off on big batches)
    total, weight_total = np.add.reduce(out, axis=1).tolist()
    return total, weight_total, negative
