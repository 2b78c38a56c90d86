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

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from parts.errors import PolicyError

__all__ = ["WarrantyRules", "ChargeRules", "RequisitionRules", "TransferRules", "PartsPolicy",
           "load_policy", "builtin_policy"]


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


def _parse(text: str, source: str) -> PartsPolicy:
    try:
        return PartsPolicy.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"parts policy {source}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise PolicyError(f"parts policy {source}: {problems}") from exc


def builtin_policy() -> PartsPolicy:
    """The policy shipped in ``parts/policies/default.toml``."""
    entry = resources.files("parts.policies").joinpath("default.toml")
    return _parse(entry.read_text(encoding="utf-8"), "built-in default.toml")


def load_policy(path: Path | None = None) -> PartsPolicy:
    """The policy in ``path``; the built-in one when ``path`` is None."""
    if path is None:
        return builtin_policy()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"parts policy {path}: cannot read: {exc}") from exc
    return _parse(text, str(path))
