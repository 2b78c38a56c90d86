"""The packaged policy files, and the one way detection reads a policy file.

Every policy is a TOML file validated by a frozen pydantic model that refuses unknown keys
(``engine.toml``: :class:`~detection.engine.config.EnginePolicy`; ``offline.toml`` and
``changepoint.toml``: :mod:`detection.library.monitor`). A file that is not TOML or does not
fit its model raises :class:`~detection.errors.InvalidInputError` naming the file.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from detection.errors import InvalidInputError

__all__ = ["load_policy_file"]

M = TypeVar("M", bound=BaseModel)


def load_policy_file(model: type[M], packaged: str, path: Path | None = None) -> M:
    """``path`` (default: the packaged file named ``packaged``) validated as ``model``."""
    where = str(path) if path is not None else f"{packaged} (packaged)"
    try:
        if path is None:
            text = resources.files(__name__).joinpath(packaged).read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        return model.model_validate(tomllib.loads(text))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise InvalidInputError(f"policy {where}: {exc}") from exc
