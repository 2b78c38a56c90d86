"""Exceptions raised by the detection package.

Hierarchy::

    DetectionError                 base of everything raised on purpose here
    ├── NotFittedError             scoring a detector before ``fit``/enough ``learn_one``
    ├── InvalidInputError          (also ``ValueError``) wrong shape, NaN where not allowed,
    │                              unknown column, malformed CSV
    └── StateError                 (also ``ValueError``) a stored ``to_state`` dict that cannot
                                   be restored (other detector, other format version)

    InconsistentVersionWarning     (a ``UserWarning``) a pickled detector made by another
                                   robowatch version is being loaded
"""

from __future__ import annotations

__all__ = ["DetectionError", "NotFittedError", "InvalidInputError", "StateError",
           "InconsistentVersionWarning"]


class DetectionError(Exception):
    """Base class of the errors raised by :mod:`detection`."""


class NotFittedError(DetectionError):
    """A detector was asked to score before it learned anything."""


class InvalidInputError(DetectionError, ValueError):
    """Input data that a detector cannot use (shape, columns, non-finite values)."""


class StateError(DetectionError, ValueError):
    """A serialised detector state that does not match this detector or format."""


class InconsistentVersionWarning(UserWarning):
    """A detector pickled by one robowatch version is unpickled by another.

    Loading still works when the learned attributes kept their names, but scores may differ:
    retrain or compare before trusting the model. ``pickled_version`` and ``current_version``
    say which versions met.
    """

    def __init__(self, *, detector: str, pickled_version: str, current_version: str) -> None:
        self.detector = detector
        self.pickled_version = pickled_version
        self.current_version = current_version
        super().__init__(
            f"{detector} was pickled by robowatch {pickled_version} and is loaded by "
            f"{current_version}; scores may differ, retrain if in doubt")
