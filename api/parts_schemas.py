"""Request and response bodies of ``/api/v1/parts`` (``api.routers.parts``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parts.requisitions import Cover
from storage.parts import (
    LedgerRow,
    PartRow,
    RequisitionEventRow,
    RequisitionRow,
    SerialEventRow,
    SerialRow,
    StockRow,
    WarningRow,
)

__all__ = ["PartCreate", "PartPublic", "PartsPublic", "StockPublic", "StocksPublic",
           "WarningPublic", "WarningsPublic", "LedgerPublic", "LedgerRowsPublic",
           "ReceiptCreate", "PurchaseCreate", "TransferCreate", "RequisitionCreate",
           "RequisitionEventCreate", "RequisitionPublic", "RequisitionsPublic",
           "RequisitionDetail", "InstallCreate", "ScrapCreate", "SerialTrace", "Done",
           "CoverPublic"]

CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
SERIAL = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class PartCreate(_In):
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    unit_price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    origin: Literal["genuine", "certified"]
    serialised: bool = False


class PartPublic(_Public):
    code: str
    name: str
    unit_price: Decimal
    serialised: bool
    origin: str

    @classmethod
    def of(cls, row: PartRow) -> PartPublic:
        return cls.model_validate(row)


class PartsPublic(_Public):
    items: list[PartPublic]
    count: int


class StockPublic(_Public):
    part: str
    warehouse: str
    on_hand: int
    reserved: int
    available: int
    safety_stock: int
    low: bool

    @classmethod
    def of(cls, row: StockRow) -> StockPublic:
        return cls(part=row.part, warehouse=row.warehouse, on_hand=row.on_hand,
                   reserved=row.reserved, available=row.available,
                   safety_stock=row.safety_stock, low=row.low)


class StocksPublic(_Public):
    items: list[StockPublic]
    count: int


class WarningPublic(_Public):
    id: int
    part: str
    warehouse: str
    raised_at: datetime
    on_hand: int
    safety_stock: int
    cleared_at: datetime | None

    @classmethod
    def of(cls, row: WarningRow) -> WarningPublic:
        return cls.model_validate(row)


class WarningsPublic(_Public):
    items: list[WarningPublic]
    count: int


class LedgerPublic(_Public):
    id: int
    at: datetime
    part: str
    warehouse: str
    quantity: int
    kind: str
    requisition_id: int | None
    transfer_id: int | None
    serials: list[str]
    actor: str
    note: str | None

    @classmethod
    def of(cls, row: LedgerRow) -> LedgerPublic:
        return cls.model_validate(row)


class LedgerRowsPublic(_Public):
    items: list[LedgerPublic]
    count: int


class ReceiptCreate(_In):
    part: str = Field(pattern=CODE)
    warehouse: str = Field(pattern=CODE)
    quantity: int = Field(ge=1, le=100_000)
    serials: list[str] = Field(default_factory=list, max_length=100_000)
    note: str | None = Field(default=None, max_length=2000)


class PurchaseCreate(_In):
    part: str = Field(pattern=CODE)
    order: str = Field(min_length=1, max_length=64)
    serials: list[str] = Field(min_length=1, max_length=10_000)


class TransferCreate(_In):
    part: str = Field(pattern=CODE)
    source: str = Field(pattern=CODE)
    target: str = Field(pattern=CODE)
    quantity: int = Field(ge=1, le=100_000)
    reason: str = Field(min_length=1, max_length=2000)
    emergency: bool = False
    serials: list[str] = Field(default_factory=list, max_length=100_000)


class RequisitionCreate(_In):
    part: str = Field(pattern=CODE)
    warehouse: str = Field(pattern=CODE)
    quantity: int = Field(ge=1, le=100_000)
    purpose: str = Field(min_length=1, max_length=2000)
    ticket_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    robot: str | None = Field(default=None, pattern=CODE)
    work_order: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class RequisitionEventCreate(_In):
    event: Literal["approve", "reject", "cancel", "issue", "consume", "return_unused"]
    reason: str | None = Field(default=None, max_length=2000)
    quantity: int | None = Field(default=None, ge=1, le=100_000)
    serials: list[str] = Field(default_factory=list, max_length=100_000)


class RequisitionPublic(_Public):
    id: int
    part: str
    warehouse: str
    quantity: int
    purpose: str
    robot: str
    customer: str
    ticket_id: int | None
    work_order: str | None
    state: str
    requested_by: str
    requested_at: datetime
    in_warranty: bool
    warranty_end: date | None
    unit_price: Decimal | None
    issued_qty: int
    returned_qty: int
    charge: Decimal
    updated_at: datetime

    @classmethod
    def of(cls, row: RequisitionRow) -> RequisitionPublic:
        return cls.model_validate(row)


class RequisitionsPublic(_Public):
    items: list[RequisitionPublic]
    count: int


class RequisitionEventPublic(_Public):
    at: datetime
    event: str
    actor: str
    from_state: str | None
    to_state: str
    data: dict[str, Any]


class RequisitionDetail(RequisitionPublic):
    history: list[RequisitionEventPublic]

    @classmethod
    def of_history(cls, row: RequisitionRow,
                   events: list[RequisitionEventRow]) -> RequisitionDetail:
        return cls.model_validate({**RequisitionPublic.of(row).model_dump(), "history": [
            RequisitionEventPublic.model_validate(e) for e in events]})


class InstallCreate(_In):
    robot: str = Field(pattern=CODE)
    replaces: str | None = Field(default=None, pattern=SERIAL)
    reason: str | None = Field(default=None, max_length=2000)


class ScrapCreate(_In):
    reason: str = Field(min_length=1, max_length=2000)


class SerialEventPublic(_Public):
    at: datetime
    event: str
    actor: str
    from_state: str | None
    to_state: str
    warehouse: str | None
    robot: str | None
    requisition_id: int | None
    data: dict[str, Any]


class SerialTrace(_Public):
    part: str
    serial: str
    state: str
    warehouse: str | None
    robot: str | None
    history: list[SerialEventPublic]

    @classmethod
    def of(cls, row: SerialRow, events: list[SerialEventRow]) -> SerialTrace:
        return cls(part=row.part, serial=row.serial, state=row.state, warehouse=row.warehouse,
                   robot=row.robot,
                   history=[SerialEventPublic.model_validate(e) for e in events])


class Done(_Public):
    """What an act that makes no row of its own answers: the ids it made, if any."""

    ids: list[int] = Field(default_factory=list)



class CoverPublic(_Public):
    """A robot's warranty on the day asked and what a repair would cost its customer."""

    robot: str
    customer: str
    on: date
    in_warranty: bool
    warranty_end: date | None
    basis: str
    parts: Decimal
    labour: Decimal
    total: Decimal
    currency: str

    @classmethod
    def of(cls, cover: Cover, *, on: date) -> CoverPublic:
        q = cover.quote
        return cls(robot=cover.robot.robot, customer=cover.robot.customer, on=on,
                   in_warranty=cover.warranty.in_warranty, warranty_end=cover.warranty.end,
                   basis=cover.warranty.basis, parts=q.parts, labour=q.labour, total=q.total,
                   currency=q.currency)
