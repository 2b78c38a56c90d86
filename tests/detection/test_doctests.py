"""Every example in the docstrings of ``detection`` runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

import detection

MODULES = sorted(m.name for m in pkgutil.walk_packages(detection.__path__, "detection."))


def test_the_walk_finds_both_subpackages():
    assert {"detection.engine.core", "detection.library.rul", "detection.robust"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    mod: ModuleType = importlib.import_module(name)
    result = doctest.testmod(mod)
    assert result.failed == 0
