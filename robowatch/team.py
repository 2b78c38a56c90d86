"""The service team (engineers, O&M managers) from a TOML file, for ``register_fleet``."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from storage.fleet import EngineerSpec

__all__ = ["load_team"]


def load_team(path: Path | None = None) -> tuple[EngineerSpec, ...]:
    """People from ``path`` (default: the demo team shipped with robowatch)."""
    if path is None:
        text = resources.files("robowatch").joinpath("demo_team.toml").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    doc = tomllib.loads(text)
    people = []
    for p in doc.get("engineers", []):
        people.append(EngineerSpec(
            code=str(p["code"]), name=str(p["name"]), role=str(p.get("role", "engineer")),
            city=p.get("city"), skills=tuple(str(s) for s in p.get("skills", ())),
            on_duty=bool(p.get("on_duty", False)),
        ))
    return tuple(people)
