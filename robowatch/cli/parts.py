"""``robowatch parts``: the spare-parts desk from a terminal (docs/parts.md).

Every act is recorded under ``--actor`` (default: ``cli:<login name>``) at the current time.
A refusal (:class:`parts.errors.PartsError`) is one line on stderr and exit code 2, as for
every user error of the CLI.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import typer

from parts.policy import PartsPolicy, load_policy
from parts.requisitions import act, cover, request
from parts.seed import load_parts, read_parts_file
from parts.stock import install, purchase, receive, scrap, set_safety, transfer
from robowatch.cli.context import settings_of
from robowatch.database import database
from storage.connect import Conn, connect
from storage.parts import (
    add_part,
    add_warehouse,
    ledger,
    ledger_drift,
    list_parts,
    serial_trace,
    stock_levels,
    stock_warnings,
)

app = typer.Typer(help="Spare parts: catalogue, stock, requisitions, transfers, serials.",
                  no_args_is_help=True)

T = TypeVar("T")

Actor = Annotated[str | None, typer.Option(help="Who acts; default cli:<login name>.")]
PolicyOpt = Annotated[Path | None, typer.Option(
    "--policy", help="Parts policy TOML; default: the built-in parts/policies/default.toml.",
    dir_okay=False)]
Serials = Annotated[list[str] | None, typer.Option("--serial", help="A serial number "
                                                   "(repeat for each unit).")]


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


@contextmanager
def _conn(ctx: typer.Context) -> Iterator[Conn]:
    # One transaction: committed when the command succeeds, rolled back on a refusal.
    with database(settings_of(ctx)) as url, connect(url) as conn:
        yield conn


def _run(ctx: typer.Context, work: Callable[[Conn], T]) -> T:
    with _conn(ctx) as conn:
        return work(conn)


def _now() -> datetime:
    return datetime.now(UTC)


def _policy(path: Path | None) -> PartsPolicy:
    return load_policy(path)


def _price(value: str) -> Decimal:
    """Typer callback: a finite, non-negative amount with at most two decimals."""
    try:
        price = Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"{value!r} is not an amount") from None
    if not price.is_finite() or price < 0 or price != price.quantize(Decimal("0.01")):
        raise typer.BadParameter(f"{value!r}: give a non-negative amount like 4800.00")
    return price


@app.command("load")
def load(ctx: typer.Context, file: Annotated[Path, typer.Argument(dir_okay=False)],
         actor: Actor = None) -> None:
    """Warehouses, catalogue and opening stock from a TOML file (idempotent)."""
    spec = read_parts_file(file)
    added = _run(ctx, lambda c: load_parts(conn=c, spec=spec, actor=_actor(actor), at=_now()))
    typer.echo(f"added {added['warehouses']} warehouse(s), {added['parts']} part(s), "
               f"{added['openings']} opening stock row(s)")


@app.command("warehouse-add")
def warehouse_add(ctx: typer.Context, code: str, name: Annotated[str, typer.Option()],
                  city: Annotated[str | None, typer.Option()] = None) -> None:
    """Add a warehouse."""
    row = _run(ctx, lambda c: add_warehouse(conn=c, code=code, name=name, city=city))
    typer.echo(f"warehouse {row.code} added")


@app.command("part-add")
def part_add(
    ctx: typer.Context, code: str, name: Annotated[str, typer.Option()],
    price: Annotated[Decimal, typer.Option(help="Unit price, e.g. 4800.00", parser=_price)],
    origin: Annotated[Literal["genuine", "certified"], typer.Option()] = "genuine",
    serialised: Annotated[bool, typer.Option(help="Tracked by serial number.")] = False,
) -> None:
    """Add a part to the catalogue (genuine or certified only: section 7)."""
    row = _run(ctx, lambda c: add_part(conn=c, code=code, name=name, unit_price=price,
                                       origin=origin, serialised=serialised, at=_now()))
    typer.echo(f"part {row.code} catalogued at {row.unit_price}")


@app.command("catalogue")
def catalogue(ctx: typer.Context) -> None:
    """List the catalogue."""
    rows = _run(ctx, lambda c: list_parts(conn=c))
    typer.echo(f"{'part':<16}{'price':>12}  {'origin':<10}{'serials':<8}name")
    for p in rows:
        typer.echo(f"{p.code:<16}{p.unit_price:>12}  {p.origin:<10}"
                   f"{'yes' if p.serialised else 'no':<8}{p.name}")


@app.command("purchase")
def purchase_(ctx: typer.Context, part: str, order: Annotated[str, typer.Option()],
              serial: Serials = None, actor: Actor = None) -> None:
    """Register serial numbers bought on a purchase order (before they arrive)."""
    ids = _run(ctx, lambda c: purchase(conn=c, part=part, serials=serial or [], order=order,
                                       actor=_actor(actor), at=_now()))
    typer.echo(f"{len(ids)} serial(s) of {part} on order {order}")


@app.command("receive")
def receive_(ctx: typer.Context, part: str, warehouse: str, quantity: int,
             serial: Serials = None, note: Annotated[str | None, typer.Option()] = None,
             actor: Actor = None) -> None:
    """Goods in: put QUANTITY of PART on the shelf at WAREHOUSE."""
    _run(ctx, lambda c: receive(conn=c, part=part, warehouse=warehouse, quantity=quantity,
                                serials=serial or [], note=note, actor=_actor(actor), at=_now()))
    typer.echo(f"received {quantity} {part} at {warehouse}")


@app.command("safety")
def safety(ctx: typer.Context, part: str, warehouse: str, level: int) -> None:
    """Set the safety stock of PART at WAREHOUSE (below it, a low-stock warning is open)."""
    row = _run(ctx, lambda c: set_safety(conn=c, part=part, warehouse=warehouse,
                                         safety_stock=level, at=_now()))
    typer.echo(f"{part} at {warehouse}: safety stock {row.safety_stock}, on hand {row.on_hand}"
               + (" (LOW)" if row.low else ""))


@app.command("stock")
def stock(ctx: typer.Context, part: Annotated[str | None, typer.Option()] = None,
          warehouse: Annotated[str | None, typer.Option()] = None,
          low: Annotated[bool, typer.Option(help="Only rows below safety stock.")] = False
          ) -> None:
    """Stock per part and warehouse: on hand, reserved, available, safety stock."""
    rows = _run(ctx, lambda c: stock_levels(conn=c, part=part, warehouse=warehouse,
                                            low_only=low))
    typer.echo(f"{'part':<16}{'warehouse':<12}{'on hand':>8}{'reserved':>9}{'avail':>7}"
               f"{'safety':>7}")
    for s in rows:
        typer.echo(f"{s.part:<16}{s.warehouse:<12}{s.on_hand:>8}{s.reserved:>9}"
                   f"{s.available:>7}{s.safety_stock:>7}{'  LOW' if s.low else ''}")


@app.command("warnings")
def warnings(ctx: typer.Context,
             all_: Annotated[bool, typer.Option("--all", help="Cleared ones too.")] = False
             ) -> None:
    """Low-stock warnings (open ones unless --all)."""
    rows = _run(ctx, lambda c: stock_warnings(conn=c, open_only=not all_))
    for w in rows:
        cleared = f"cleared {w.cleared_at:%Y-%m-%d %H:%M}" if w.cleared_at else "OPEN"
        typer.echo(f"{w.part} at {w.warehouse}: {w.on_hand} < safety {w.safety_stock}, raised "
                   f"{w.raised_at:%Y-%m-%d %H:%M}, {cleared}")
    if not rows:
        typer.echo("no low-stock warnings")


@app.command("request")
def request_(
    ctx: typer.Context, part: str, warehouse: str, quantity: int,
    purpose: Annotated[str, typer.Option()],
    ticket: Annotated[int | None, typer.Option(help="Ticket id.")] = None,
    work_order: Annotated[str | None, typer.Option()] = None,
    robot: Annotated[str | None, typer.Option(help="The work order's robot.")] = None,
    actor: Actor = None, policy: PolicyOpt = None,
) -> None:
    """Ask for parts for a ticket or a work order."""
    rules = _policy(policy)
    row = _run(ctx, lambda c: request(
        conn=c, part=part, warehouse=warehouse, quantity=quantity, purpose=purpose,
        ticket_id=ticket, work_order=work_order, robot=robot, actor=_actor(actor), at=_now(),
        policy=rules))
    cover = f"in warranty to {row.warranty_end}" if row.in_warranty else "charged"
    typer.echo(f"requisition {row.id}: {quantity} {part} for {row.robot} ({row.customer}), "
               f"{cover}")


@app.command("warranty")
def warranty(
    ctx: typer.Context, robot: str,
    part: Annotated[str | None, typer.Option(help="Part to price.")] = None,
    quantity: Annotated[int, typer.Option(min=0)] = 0,
    labour_minutes: Annotated[int, typer.Option(min=0, help="Work to price.")] = 0,
    policy: PolicyOpt = None,
) -> None:
    """Is ROBOT in warranty today, and what would the parts and work cost its customer?"""
    rules = _policy(policy)
    found = _run(ctx, lambda c: cover(conn=c, robot=robot, at=_now(), policy=rules, part=part,
                                      quantity=quantity, labour_minutes=labour_minutes))
    w, q = found.warranty, found.quote
    state = "in warranty" if w.in_warranty else "out of warranty"
    typer.echo(f"{robot} ({found.robot.customer}): {state}, end {w.end or 'unknown'} "
               f"({w.basis}); parts {q.parts} + work {q.labour} = {q.total} {q.currency}")


@app.command("act")
def act_(
    ctx: typer.Context, requisition: int,
    event: Annotated[str, typer.Argument(help="approve, reject, cancel, issue, consume or "
                                              "return_unused")],
    reason: Annotated[str | None, typer.Option()] = None,
    quantity: Annotated[int | None, typer.Option(help="Units returned.")] = None,
    serial: Serials = None, actor: Actor = None,
) -> None:
    """Move a requisition on: approve, reject, cancel, issue, consume, return_unused."""
    row = _run(ctx, lambda c: act(conn=c, requisition_id=requisition, event=event,
                                  reason=reason, quantity=quantity, serials=serial or [],
                                  actor=_actor(actor), at=_now()))
    typer.echo(f"requisition {row.id}: {row.state}; issued {row.issued_qty}, returned "
               f"{row.returned_qty}, charge {row.charge}")


@app.command("transfer")
def transfer_(
    ctx: typer.Context, part: str, source: str, target: str, quantity: int,
    reason: Annotated[str, typer.Option()],
    emergency: Annotated[bool, typer.Option(help="Section 7's emergency transfer.")] = False,
    serial: Serials = None, actor: Actor = None, policy: PolicyOpt = None,
) -> None:
    """Move QUANTITY of PART from SOURCE to TARGET warehouse."""
    rules = _policy(policy)
    tid = _run(ctx, lambda c: transfer(
        conn=c, part=part, source=source, target=target, quantity=quantity, reason=reason,
        emergency=emergency, serials=serial or [], actor=_actor(actor), at=_now(),
        policy=rules))
    typer.echo(f"transfer {tid}: {quantity} {part} {source} -> {target}")


@app.command("install")
def install_(ctx: typer.Context, part: str, serial: str, robot: str,
             replaces: Annotated[str | None, typer.Option(help="Serial taken out.")] = None,
             reason: Annotated[str | None, typer.Option()] = None,
             actor: Actor = None) -> None:
    """Record that SERIAL (issued) went into ROBOT, replacing another serial if named."""
    _run(ctx, lambda c: install(conn=c, part=part, serial=serial, robot=robot,
                                replaces=replaces, reason=reason, actor=_actor(actor),
                                at=_now()))
    typer.echo(f"{part} {serial} installed on {robot}")


@app.command("scrap")
def scrap_(ctx: typer.Context, part: str, serial: str,
           reason: Annotated[str, typer.Option()], actor: Actor = None) -> None:
    """Scrap a removed (or shelved) serial."""
    _run(ctx, lambda c: scrap(conn=c, part=part, serial=serial, reason=reason,
                              actor=_actor(actor), at=_now()))
    typer.echo(f"{part} {serial} scrapped")


@app.command("trace")
def trace(ctx: typer.Context, part: str, serial: str) -> None:
    """A serial's whole life, oldest first."""
    found = _run(ctx, lambda c: serial_trace(conn=c, part=part, serial=serial))
    if found is None:
        typer.echo(f"error: {part} has no serial {serial}", err=True)
        raise typer.Exit(2)
    row, events = found
    where = row.robot or row.warehouse or "-"
    typer.echo(f"{row.part} {row.serial}: {row.state} ({where})")
    for e in events:
        place = e.robot or e.warehouse or ""
        typer.echo(f"  {e.at:%Y-%m-%d %H:%M}  {e.event:<9}{e.to_state:<10}{place:<10}{e.actor}")


@app.command("ledger")
def ledger_(ctx: typer.Context, part: Annotated[str | None, typer.Option()] = None,
            warehouse: Annotated[str | None, typer.Option()] = None) -> None:
    """The in/out ledger, oldest first."""
    rows = _run(ctx, lambda c: ledger(conn=c, part=part, warehouse=warehouse))
    for r in rows:
        ref = (f"req {r.requisition_id}" if r.requisition_id
               else f"transfer {r.transfer_id}" if r.transfer_id else "")
        typer.echo(f"{r.at:%Y-%m-%d %H:%M}  {r.part:<14}{r.warehouse:<10}{r.kind:<13}"
                   f"{r.quantity:>+6}  {ref:<14}{r.actor}")


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Compare every count with the sum of its ledger; exit 1 when any differs."""
    drift = _run(ctx, lambda c: ledger_drift(conn=c))
    for d in drift:
        typer.echo(f"DRIFT {d.part} at {d.warehouse}: count {d.on_hand}, ledger {d.ledger_sum}")
    if drift:
        raise typer.Exit(1)
    typer.echo("every count matches its ledger")
