"""``robowatch ticketing policy`` and ``run`` through the real entry point."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robowatch.cli.main import app
from storage import tickets as store
from storage.connect import connect
from tests.ticketing.fleet import anomaly, register

POLICIES = Path(__file__).parents[2] / "ticketing" / "policies"


def test_policy_prints_matrix_and_clocks():
    result = CliRunner().invoke(app, ["ticketing", "policy"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "policy seed000-om@2026.1" in out
    assert "ordinary           III*          III          IV*           IV" in out
    assert "same fault kind at >= 2 core customers within 24h" in out
    iv_row = ("IV    core,important,ordinary          2h        -       -       4h      8h"
              "      at end")
    assert iv_row in out
    assert "dispatch within 15m, confirm within 30m" in out


def test_policy_of_a_file():
    result = CliRunner().invoke(app, ["ticketing", "policy", "--policy",
                                      str(POLICIES / "seed004.toml")])
    assert result.exit_code == 0, result.output
    assert "seed004-sla@2026.1" in result.output and "7d" in result.output


def test_bad_policy_file_exits_2_with_message(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[policy]\nname = "x"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["ticketing", "policy", "--policy", str(bad)])
    assert result.exit_code == 2
    assert "invalid policy" in result.output and "grading: Field required" in result.output


def test_run_tickets_anomalies_and_stops_on_sigterm(db_url, tmp_path):
    fleet = register(db_url)
    aid = anomaly(db_url, fleet["R-C1"])
    env = {**os.environ, "ROBOWATCH_DATABASE_URL": db_url, "ROBOWATCH_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "robowatch", "ticketing", "run", "--sweep-every", "0.5",
         "--policy", str(POLICIES / "seed003.toml")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        rows: list[store.TicketRow] = []
        while time.monotonic() < deadline and not rows:
            with connect(db_url, autocommit=True) as conn:
                rows, _ = store.list_tickets(conn=conn)
            time.sleep(0.2)
        assert rows and rows[0].anomaly_ids == [aid]
        assert rows[0].policy == "seed003-field-repair@2026.1"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("ticketing run did not stop on SIGTERM")
    assert proc.returncode == 0, out


def test_roster_load_puts_it_in_force_and_show_tells_who_is_on_duty(db_url, tmp_path,
                                                                    monkeypatch):
    monkeypatch.setenv("ROBOWATCH_DATABASE_URL", db_url)
    monkeypatch.setenv("ROBOWATCH_HOME", str(tmp_path))
    runner = CliRunner()
    empty = runner.invoke(app, ["ticketing", "roster", "show"])
    assert empty.exit_code == 1 and "nobody is on duty" in empty.output
    demo = Path(__file__).parents[2] / "robowatch" / "demo_roster.toml"
    loaded = runner.invoke(app, ["ticketing", "roster", "load", str(demo)])
    assert loaded.exit_code == 0, loaded.output
    again = runner.invoke(app, ["ticketing", "roster", "load", str(demo)])
    assert again.output.split()[1] == loaded.output.split()[1]  # the same rota: same roster
    # 2026-01-01 09:00 in Shanghai: rota day 0, day shift, crew 0.
    shown = runner.invoke(app, ["ticketing", "roster", "show", "--at",
                                "2026-01-01T09:00:00+08:00"])
    assert shown.exit_code == 0, shown.output
    assert "remote-support       day" in shown.output and "E-101, E-102" in shown.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[[teams]]\nname = "x"\n', encoding="utf-8")
    refused = runner.invoke(app, ["ticketing", "roster", "load", str(bad)])
    assert refused.exit_code == 2 and "role" in refused.output
