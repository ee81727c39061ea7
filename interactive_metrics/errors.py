"""The exceptions of this package that are not plain ``TypeError``/``ValueError``.

Every public function raises ``TypeError`` or ``ValueError`` for bad input. Two
subclasses say more:

- :class:`UnknownKeyError`: a lookup by key (``streams["pump_b"]``,
  ``collection["loss"]``) found nothing. It is a ``KeyError`` (so ``in``, ``.get`` and
  ``except KeyError`` behave as for a ``dict``) and a ``ValueError`` (so one
  ``except ValueError`` catches every bad input).
- :class:`~interactive_metrics.io.SavedFileError` (a ``ValueError``): a saved file
  that cannot be loaded.
"""

from __future__ import annotations

__all__ = ["UnknownKeyError"]


class UnknownKeyError(KeyError, ValueError):
    """No stream, member or row under that key: a ``KeyError`` that is also a ``ValueError``.

    Examples
    --------
    >>> import interactive_metrics as im
    >>> s = im.Streams(im.Mean())
    >>> s.update_state([1.0, 2.0], stream=["a", "b"])
    >>> try:
    ...     s["c"]
    ... except ValueError as error:
    ...     print(error, isinstance(error, KeyError))
    no stream 'c'; known streams are ['a', 'b'] True
    """

    def __str__(self) -> str:  # the message as written, not KeyError's quoted repr
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()
