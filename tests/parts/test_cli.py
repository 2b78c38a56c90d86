"""``robowatch parts`` through the real entry point on a test database."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from robowatch.cli.main import app
from tests.parts.world import build


@pytest.fixture
def cli(db: psycopg.Connection, db_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("ROBOWATCH_DATABASE_URL", db_url)
    monkeypatch.setenv("ROBOWATCH_HOME", str(tmp_path))
    return CliRunner()


def _ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, ["parts", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_desk_from_a_terminal(cli: CliRunner, db: psycopg.Connection) -> None:
    world = build(db)
    _ok(cli, "receive", "GREASE", "SUZHOU", "5", "--actor", "keeper")
    assert "safety stock 4, on hand 5" in _ok(cli, "safety", "GREASE", "SUZHOU", "4")
    out = _ok(cli, "request", "GREASE", "SUZHOU", "2", "--purpose", "regrease",
              "--ticket", str(world.tickets["R-OLD"]))
    assert "for R-OLD (OLD1), charged" in out
    req = out.split()[1].rstrip(":")
    _ok(cli, "act", req, "approve")
    assert "issued 2, returned 0, charge 241.00" in _ok(cli, "act", req, "issue")
    assert "GREASE          SUZHOU             3        0      3      4  LOW" in _ok(
        cli, "stock", "--low")
    assert "GREASE at SUZHOU: 3 < safety 4" in _ok(cli, "warnings")
    assert "every count matches its ledger" in _ok(cli, "check")
    assert "R-OLD (OLD1): out of warranty, end 2025-10-01 (install+12 months); parts 482.00 " \
        "+ work 350.00 = 832.00 CNY" in _ok(cli, "warranty", "R-OLD", "--part", "GREASE",
                                              "--quantity", "4", "--labour-minutes", "30")
    ledger = _ok(cli, "ledger", "--part", "GREASE")
    assert "receipt" in ledger and f"req {req}" in ledger and "-2" in ledger

    _ok(cli, "purchase", "MOTOR-J3", "--order", "PO-1", "--serial", "SN-9")
    _ok(cli, "receive", "MOTOR-J3", "CENTRAL", "1", "--serial", "SN-9")
    _ok(cli, "transfer", "MOTOR-J3", "CENTRAL", "SUZHOU", "1", "--serial", "SN-9",
        "--reason", "robot down", "--emergency")
    trace = _ok(cli, "trace", "MOTOR-J3", "SN-9")
    assert "MOTOR-J3 SN-9: in_stock (SUZHOU)" in trace
    assert [line.split()[2] for line in trace.splitlines()[1:]] == [
        "purchase", "receive", "transfer"]


def test_a_refusal_is_one_line_and_exit_2(cli: CliRunner, db: psycopg.Connection) -> None:
    world = build(db)
    result = cli.invoke(app, ["parts", "request", "GREASE", "SUZHOU", "1", "--purpose", "p",
                              "--ticket", str(world.tickets["R-NEW"])])
    req = result.output.split()[1].rstrip(":")
    result = cli.invoke(app, ["parts", "act", req, "approve"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: GREASE at SUZHOU: 1 wanted, 0 available"
    result = cli.invoke(app, ["parts", "trace", "MOTOR-J3", "NOPE"])
    assert result.exit_code == 2 and "has no serial NOPE" in result.output


@pytest.mark.parametrize("price", ["abc", "NaN", "-1", "Infinity", "1.234"])
def test_a_bad_price_is_refused_before_any_work(cli: CliRunner, price: str) -> None:
    result = cli.invoke(app, ["parts", "part-add", "X-1", "--name", "x", "--price", price])
    assert result.exit_code == 2
    assert "Invalid value for '--price'" in result.output


DEMO = Path(__file__).parents[2] / "robowatch" / "demo_parts.toml"


def test_load_a_parts_file_twice(cli: CliRunner, tmp_path: Path) -> None:
    first = _ok(cli, "load", str(DEMO))
    assert "added 2 warehouse(s), 4 part(s), 4 opening stock row(s)" in first
    assert "added 0 warehouse(s), 0 part(s), 0 opening stock row(s)" in _ok(cli, "load",
                                                                            str(DEMO))
    stock = _ok(cli, "stock")
    assert "MOTOR-J3        CENTRAL            3        0      3      1" in stock
    assert "GREASE-400      SUZHOU             8        0      8      5" in stock
    assert "every count matches its ledger" in _ok(cli, "check")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[parts]]\ncode = "X"\nname = "x"\nunit_price = "nan"\n'
                   'origin = "pirate"\n', encoding="utf-8")
    result = cli.invoke(app, ["parts", "load", str(bad)])
    assert result.exit_code == 2
    assert "parts.0.unit_price" in result.output and "parts.0.origin" in result.output
