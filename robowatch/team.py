"""The service team (engineers, O&M managers) from a TOML file, for ``register_fleet``.

Validated like every configuration file of robowatch: a frozen pydantic model that refuses
unknown keys, so a misspelt ``skils`` is an error instead of a silently unskilled engineer.
Who is on duty is not here: the on-call roster (``robowatch/demo_roster.toml``,
``ticketing.roster``) computes it.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storage.fleet import EngineerSpec

__all__ = ["TeamError", "load_team", "DEMO_ROSTER"]

# Who of the demo team is on duty when (two engineers in every shift).
DEMO_ROSTER = Path(str(resources.files("robowatch").joinpath("demo_roster.toml")))


class TeamError(ValueError):
    """The team file cannot be read or is not valid."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Person(_Model):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    name: str = Field(min_length=1)
    role: str = "engineer"
    city: str | None = None
    skills: tuple[str, ...] = ()
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")


class _Team(_Model):
    engineers: tuple[_Person, ...] = ()


def load_team(path: Path | None = None) -> tuple[EngineerSpec, ...]:
    """People from ``path`` (default: the demo team shipped with robowatch)."""
    origin = str(path) if path is not None else "built-in demo team"
    try:
        if path is None:
            text = resources.files("robowatch").joinpath("demo_team.toml").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        team = _Team.model_validate(tomllib.loads(text))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TeamError(f"{origin}: {exc}") from exc
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise TeamError(f"{origin}: {where}") from exc
    return tuple(EngineerSpec(**p.model_dump()) for p in team.engineers)
