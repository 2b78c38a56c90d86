"""Warehouses, a catalogue and opening stock from a TOML file (``robowatch parts load``), so a
site starts from its own lists instead of typing them; idempotent, so a demo or a deployment
script may load the same file at every start.

::

    [[warehouses]]
    code = "CENTRAL"
    name = "Central store"

    [[parts]]
    code = "MOTOR-J3"
    name = "J3 servo motor"
    unit_price = "4800.00"
    origin = "genuine"
    serialised = true

    [[stock]]
    part = "MOTOR-J3"
    warehouse = "CENTRAL"
    safety_stock = 1
    serials = ["SN-0001", "SN-0002"]   # serialised parts: the units on the shelf

An existing warehouse or part (same code) is left as it is; a stock row's safety stock is set
each time; its opening stock is received only while its ledger is empty.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from parts.errors import BadRequest
from parts.policy import read_toml
from parts.stock import purchase, receive, set_safety
from storage.connect import Conn
from storage.parts import add_part, add_warehouse, get_part, ledger, list_warehouses
from storage.tickets import atomic

__all__ = ["WarehouseSpec", "PartSpec", "StockSpec", "PartsFile", "read_parts_file",
           "load_parts"]

_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WarehouseSpec(_Model):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1)
    city: str | None = None


class PartSpec(_Model):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1)
    unit_price: Decimal = Field(ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False)
    origin: str = Field(pattern=r"^(genuine|certified)$")
    serialised: bool = False


class StockSpec(_Model):
    part: str = Field(pattern=_CODE)
    warehouse: str = Field(pattern=_CODE)
    safety_stock: int = Field(default=0, ge=0)
    opening: int = Field(default=0, ge=0)
    serials: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_way_to_count(self) -> StockSpec:
        if self.serials and self.opening:
            raise ValueError("give serials (serialised parts) or opening (counted), not both")
        return self


class PartsFile(_Model):
    warehouses: tuple[WarehouseSpec, ...] = ()
    parts: tuple[PartSpec, ...] = ()
    stock: tuple[StockSpec, ...] = ()


def read_parts_file(path: Path) -> PartsFile:
    """The file's lists, validated; :class:`BadRequest` names the file and the field."""
    return read_toml(path, PartsFile, what="parts file", error=BadRequest)


def load_parts(*, conn: Conn, spec: PartsFile, actor: str, at: datetime) -> dict[str, int]:
    """Add what is new, set safety stocks, receive opening stock where the ledger is empty;
    how many of each were added. One transaction: all of it or nothing."""
    added = {"warehouses": 0, "parts": 0, "openings": 0}
    with atomic(conn=conn):
        known = {w.code for w in list_warehouses(conn=conn)}
        for w in spec.warehouses:
            if w.code not in known:
                add_warehouse(conn=conn, code=w.code, name=w.name, city=w.city)
                added["warehouses"] += 1
        for p in spec.parts:
            if get_part(conn=conn, code=p.code) is None:
                add_part(conn=conn, code=p.code, name=p.name, unit_price=p.unit_price,
                         origin=p.origin, serialised=p.serialised, at=at)
                added["parts"] += 1
        for s in spec.stock:
            set_safety(conn=conn, part=s.part, warehouse=s.warehouse,
                       safety_stock=s.safety_stock, at=at)
            quantity = len(s.serials) or s.opening
            if not quantity or ledger(conn=conn, part=s.part, warehouse=s.warehouse, limit=1):
                continue
            if s.serials:
                purchase(conn=conn, part=s.part, serials=s.serials, order="opening stock",
                         actor=actor, at=at)
            receive(conn=conn, part=s.part, warehouse=s.warehouse, quantity=quantity,
                    serials=s.serials, note="opening stock", actor=actor, at=at)
            added["openings"] += 1
    return added
