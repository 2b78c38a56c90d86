"""Exceptions raised by the detection package.

Hierarchy::

    DetectionError                 base of everything raised on purpose here
    ├── NotFittedError             scoring a detector before ``fit``/enough ``learn_one``
    ├── InvalidInputError          (also ``ValueError``) wrong shape, NaN where not allowed,
    │                              unknown column, malformed CSV
    └── StateError                 (also ``ValueError``) a stored ``to_state`` dict that cannot
                                   be restored (other detector, other format version)
"""

from __future__ import annotations

__all__ = ["DetectionError", "NotFittedError", "InvalidInputError", "StateError"]


class DetectionError(Exception):
    """Base class of the errors raised by :mod:`detection`."""


class NotFittedError(DetectionError):
    """A detector was asked to score before it learned anything."""


class InvalidInputError(DetectionError, ValueError):
    """Input data that a detector cannot use (shape, columns, non-finite values)."""


class StateError(DetectionError, ValueError):
    """A serialised detector state that does not match this detector or format."""
