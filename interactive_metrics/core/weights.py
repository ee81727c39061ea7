"""``sample_weight`` broadcasting with the rank rules of Keras 3: one helper owns them.

Every metric turns a batch into *per-sample* contributions through
:func:`weighted_samples`, so weights mean the same thing everywhere.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from interactive_metrics.core.reduce import Product

__all__ = ["masked_samples", "squeeze_or_expand", "weighted_samples"]


def squeeze_or_expand(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bring two arrays whose ranks differ by one trailing axis of size 1 to the same rank.

    This is Keras 3's ``squeeze_or_expand_to_same_rank``: when one array has one
    more dimension than the other and that last dimension has size 1, a rank-1
    partner gains that axis; otherwise the size-1 axis is squeezed away.

    Parameters
    ----------
    a, b : numpy.ndarray
        Two arrays, e.g. values and weights, or ``y_true`` and ``y_pred``.

    Returns
    -------
    tuple of numpy.ndarray

    Examples
    --------
    >>> a, b = squeeze_or_expand(np.zeros((4, 1)), np.ones(4))
    >>> a.shape, b.shape
    ((4, 1), (4, 1))
    >>> a, b = squeeze_or_expand(np.zeros((4, 3, 1)), np.ones((4, 3)))
    >>> a.shape, b.shape
    ((4, 3), (4, 3))
    """
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        if b.ndim == 1:
            b = b[:, None]
        else:
            a = a[..., 0]
    elif b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        if a.ndim == 1:
            a = a[:, None]
        else:
            b = b[..., 0]
    return a, b


def _reduce_axes(x: np.ndarray, start: int, reduce: str) -> np.ndarray:
    if x.ndim <= start:
        return x
    axes = tuple(range(start, x.ndim))
    if reduce == "mean":
        return x.mean(axis=axes) if x.size else x.sum(axis=axes)
    return x.sum(axis=axes)


def weighted_samples(
    values: np.ndarray,
    sample_weight: np.ndarray | None,
    reduce: Literal["sum", "mean"] = "mean",
    *,
    factored: bool = False,
) -> tuple[np.ndarray | Product, np.ndarray | None]:
    """Reduce a batch to one weighted value and one weight per sample.

    The rules are Keras 3's ``reduce_to_samplewise_values``:

    1. squeeze or expand the weights to the values' rank (:func:`squeeze_or_expand`);
    2. with ``r`` the weights' rank, reduce the values over the axes ``>= r``;
    3. broadcast the weights to the values and multiply;
    4. reduce the products and the weights over the axes ``1 .. r-1``;
    5. reduce any remaining trailing axes of the products.

    ``reduce`` is ``"mean"`` for mean-like metrics and ``"sum"`` for sum-like ones.
    Summing the first output gives the batch's weighted total; summing the second
    gives its total weight (the number of samples when unweighted).

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(n, ...)``: ``n`` samples.
    sample_weight : numpy.ndarray or None
        ``None`` (every sample counts once), a scalar (the same weight for every
        sample), or an array broadcastable by the rules above.
    reduce : {"mean", "sum"}
        How trailing axes are reduced.
    factored : bool
        With one weight per sample, return the weighted values as a
        :class:`~interactive_metrics.core.reduce.Product` of values and weights,
        which a metric's state field then sums with one dot product. The
        built-in metrics ask for this; ``np.asarray`` turns it into the array.

    Returns
    -------
    weighted : numpy.ndarray or Product
        Shape ``(n,)``: each sample's weighted value.
    weight : numpy.ndarray or None
        Shape ``(n,)``: each sample's weight, ``None`` when unweighted.

    Raises
    ------
    ValueError
        When the weights cannot broadcast to the values; the message names both shapes.

    Notes
    -----
    A scalar weight applies to every sample. (Keras 3 instead reduces the whole
    batch to one sample of that weight, which changes the count but not the mean.)

    Examples
    --------
    Values of shape ``(2, 3)`` and one weight per sample: each sample's values are
    averaged, then weighted.

    >>> v = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> weighted_samples(v, np.array([1.0, 0.5]))
    (array([2.  , 2.5]), array([1. , 0.5]))

    One weight per value: products and weights are averaged per sample.

    >>> weighted_samples(v, np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))
    (array([1., 2.]), array([0.66666667, 0.33333333]))
    """
    if sample_weight is None:
        if values.ndim > 1:
            values = _reduce_axes(values, 1, reduce)
        return values, None
    weight = sample_weight
    if values.ndim == 1 and weight.shape == values.shape:  # one weight per sample
        return (Product(values, weight) if factored else values * weight), weight
    if weight.ndim == 0:
        weight = np.broadcast_to(weight, values.shape[:1])
    values, weight = squeeze_or_expand(values, weight)
    rank = weight.ndim
    if values.ndim > rank:
        values = _reduce_axes(values, rank, reduce)
    if weight.shape != values.shape:
        try:
            weight = np.broadcast_to(weight, values.shape)
        except ValueError:
            raise ValueError(
                f"`sample_weight` of shape {sample_weight.shape} cannot broadcast to the "
                f"values of shape {values.shape}; pass one weight per sample "
                f"(shape {values.shape[:1]}) or one per value (shape {values.shape})"
            ) from None
    weighted = values * weight
    if rank > 1:
        weighted = _reduce_axes(weighted, 1, reduce)
        weight = _reduce_axes(weight, 1, reduce)
    return weighted, weight


def masked_samples(
    values: np.ndarray,
    sample_weight: np.ndarray | None,
    reduction: np.ufunc,
    identity: float,
) -> np.ndarray:
    """Reduce each sample with ``reduction`` (``np.minimum``, ``np.maximum``), weight 0 masking.

    The weights follow the same rank rules as :func:`weighted_samples`; a value
    whose weight is 0 is replaced by ``identity`` so it cannot win.

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(n, ...)``.
    sample_weight : numpy.ndarray or None
        Weights; only whether each is positive matters.
    reduction : numpy.ufunc
        The reduction over each sample's trailing axes.
    identity : float
        The reduction's identity (``+inf`` for a minimum).

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``.

    Examples
    --------
    >>> masked_samples(np.array([4.0, 1.0, 3.0]), np.array([1.0, 0.0, 1.0]), np.minimum, np.inf)
    array([ 4., inf,  3.])
    """
    if sample_weight is not None:
        weight = sample_weight
        if weight.ndim == 0:
            weight = np.broadcast_to(weight, values.shape[:1])
        values, weight = squeeze_or_expand(values, weight)
        if values.ndim > weight.ndim:
            axes = tuple(range(weight.ndim, values.ndim))
            values = reduction.reduce(values, axis=axes, initial=identity)
        try:
            weight = np.broadcast_to(weight, values.shape)
        except ValueError:
            raise ValueError(
                f"`sample_weight` of shape {sample_weight.shape} cannot broadcast to the "
                f"values of shape {values.shape}; pass one weight per sample "
                f"(shape {values.shape[:1]}) or one per value (shape {values.shape})"
            ) from None
        values = np.where(weight > 0, values, identity)
    if values.ndim > 1:
        values = reduction.reduce(values, axis=tuple(range(1, values.ndim)), initial=identity)
    return values
