"""A compiled one-pass weighted sum (numba) for large float64 batches.

With numpy, a checked weighted mean reads the weights three times: once to check
them (``argmin``), once in ``np.dot(values, weight)`` and once more to sum them
(the ``count``). On a batch of millions of samples each pass goes to memory, so
three passes cost about three times one. :func:`weighted_sums` reads each sample
once and returns ``Σ valuesᵢ·weightᵢ``, ``Σ weightᵢ`` and the number of negative
weights. A NaN weight makes the weight sum NaN, so the weights are valid when no
weight is negative and the weight sum is not NaN (``-0.0`` is not negative).

Rounding: samples are summed in blocks of :data:`BLOCK`, each with several running
sums (the loop is vectorised, as BLAS does), and the block sums are added with
numpy's pairwise sum. The result does not depend on the number of threads: large
batches spread whole blocks over the cores, and the block sums are added in order.
On random data the sums are within a few ulps of the exact sum, as ``np.dot`` is.
A sum of zeros may come out as ``0.0`` where numpy gives ``-0.0``.

This module imports numba, so :mod:`interactive_metrics` imports it only on first
use (the first weighted float64 update of more than 131,072 samples of ``Sum`` or
``Mean``). Loading the compiled kernel then takes about 0.4 s; the very first time
after installation, compiling it takes a few seconds (numba caches it beside this
file or in its cache directory).

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

import numba
import numpy as np

__all__ = ["BLOCK", "weighted_sums"]

#: Samples per block: each block is summed with vectorised running sums, blocks pairwise.
BLOCK = 4096
#: Batches of at least this many samples are spread over all cores.
PARALLEL_MIN = 1 << 18

# Let the compiler reorder the additions within a block (vectorised running sums)
# and fuse multiply-adds, as BLAS does. NaN and infinities keep their meaning: no
# "nnan"/"ninf" flags, so a NaN weight still makes the weight sum NaN.
_FASTMATH = {"reassoc", "contract", "nsz"}


@numba.njit(nogil=True, cache=True, fastmath=_FASTMATH)
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


# The same loop over blocks twice: on one core and on all of them. (numba's cache
# does not tell two compilations of one function apart by their options.)
@numba.njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _blocks(values: np.ndarray, weight: np.ndarray, out: np.ndarray) -> float:
    negative = 0.0
    for b in range(out.shape[0]):
        # slices, not index ranges: the loop inside then needs no wraparound checks
        total, weight_total, k = _sums(
            values[b * BLOCK : b * BLOCK + BLOCK], weight[b * BLOCK : b * BLOCK + BLOCK]
        )
        out[b, 0], out[b, 1] = total, weight_total
        negative += k
    return negative


@numba.njit(nogil=True, cache=True, fastmath=_FASTMATH, parallel=True)
def _blocks_parallel(values: np.ndarray, weight: np.ndarray, out: np.ndarray) -> float:
    negative = 0.0
    for b in numba.prange(out.shape[0]):
        total, weight_total, k = _sums(
            values[b * BLOCK : b * BLOCK + BLOCK], weight[b * BLOCK : b * BLOCK + BLOCK]
        )
        out[b, 0], out[b, 1] = total, weight_total
        negative += k
    return negative


# numba runs parallel loops on one process-wide thread pool. Its default on Linux
# (GNU OpenMP, when present) must not be used again in a child made by fork(): numba
# then ends the child. Its fallback ("workqueue") must not be entered by two threads
# at once. So: one parallel loop at a time, and none in a forked child.
_parallel = threading.Lock()
_parent = os.getpid()


def _reset_after_fork() -> None:
    global _parallel
    _parallel = threading.Lock()  # another thread may have held it when the process forked


os.register_at_fork(after_in_child=_reset_after_fork)


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
    out = np.empty((-(-n // BLOCK), 2))  # each block's two sums
    if n >= PARALLEL_MIN and os.getpid() == _parent:
        with _parallel:
            negative = _blocks_parallel(values, weight, out)
    else:
        negative = _blocks(values, weight, out)
    total, weight_total = np.add.reduce(out, axis=0).tolist()
    return total, weight_total, negative
