"""The parts policy: warranty, charges, requisition and transfer rules, loaded from TOML.

Every number lives in ``parts/policies/default.toml`` with the reason for it; a company edits
a copy. The file is validated completely when loaded (frozen models that refuse unknown keys),
so a typo cannot silently fall back to a default.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from parts.errors import PartsError, PolicyError

__all__ = ["WarrantyRules", "ChargeRules", "RequisitionRules", "TransferRules", "PartsPolicy",
           "load_policy", "builtin_policy", "parse_toml", "read_toml"]

M = TypeVar("M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PolicyHeader(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    version: str = Field(min_length=1, max_length=32)


class WarrantyRules(_Model):
    default_months: int = Field(ge=0, le=240)
    unknown_is_in_warranty: bool


class ChargeRules(_Model):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    labour_rate: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    # Which recorded working time (parts/labour.py) is billed out of warranty.
    charged_work: tuple[Literal["travel", "on_site", "remote"], ...] = Field(
        default=("travel", "on_site", "remote"), min_length=1)


class RequisitionRules(_Model):
    max_quantity: int = Field(ge=1)


class TransferRules(_Model):
    emergency_may_breach_safety_stock: bool
    routine_may_breach_safety_stock: bool


class PartsPolicy(_Model):
    policy: PolicyHeader
    warranty: WarrantyRules
    charges: ChargeRules
    requisitions: RequisitionRules
    transfers: TransferRules

    @property
    def label(self) -> str:
        return f"{self.policy.name}@{self.policy.version}"


def parse_toml(text: str, source: str, model: type[M], *, what: str,
               error: type[PartsError] = PolicyError) -> M:
    """``text`` (TOML) validated as ``model``; ``error`` names ``what``, the source and every
    offending field."""
    try:
        return model.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} {source}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise error(f"{what} {source}: {problems}") from exc


def read_toml(path: Path, model: type[M], *, what: str,
              error: type[PartsError] = PolicyError) -> M:
    """The file at ``path`` parsed as :func:`parse_toml` does; an unreadable file is
    ``error`` too."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{what} {path}: cannot read: {exc}") from exc
    return parse_toml(text, str(path), model, what=what, error=error)


def builtin_policy() -> PartsPolicy:
    """The policy shipped in ``parts/policies/default.toml``."""
    entry = resources.files("parts.policies").joinpath("default.toml")
    return parse_toml(entry.read_text(encoding="utf-8"), "built-in default.toml", PartsPolicy,
                      what="parts policy")


def load_policy(path: Path | None = None) -> PartsPolicy:
    """The policy in ``path``; the built-in one when ``path`` is None."""
    if path is None:
        return builtin_policy()
    return read_toml(path, PartsPolicy, what="parts policy")
