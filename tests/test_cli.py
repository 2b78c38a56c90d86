"""Every sub-command answers --help, and the root lists them all."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from robowatch.cli.main import app

GROUPS = {
    "db": ["upgrade", "sql"],
    "fleet": ["load", "list"],
    "collect": ["mqtt", "opcua"],
    "detect": ["run", "csv"],
    "ticketing": ["run", "policy"],
    "bench": ["simulate", "skab", "cmapss"],
}
COMMANDS = ["demo", "api", "simulate"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "robowatch", *args], capture_output=True,
                          text=True, timeout=60)


def test_root_help_lists_every_sub_command():
    out = run("--help")
    assert out.returncode == 0
    for name in [*GROUPS, *COMMANDS]:
        assert name in out.stdout


@pytest.mark.parametrize("path", [[g, c] for g, cs in GROUPS.items() for c in cs]
                         + [[c] for c in COMMANDS] + [[g] for g in GROUPS])
def test_sub_command_help(path):
    # In-process: one interpreter start per command would cost a minute of CI.
    out = CliRunner().invoke(app, [*path, "--help"])
    assert out.exit_code == 0, out.output
    assert "Usage" in out.output


def test_db_sql_prints_the_timescale_ddl():
    out = run("db", "sql", "--dialect", "timescale")
    assert out.returncode == 0
    assert "create_hypertable" in out.stdout


def test_wrong_arguments_fail_with_a_message_not_a_traceback():
    out = run("db", "sql", "--dialect", "oracle")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "dialect" in out.stderr
