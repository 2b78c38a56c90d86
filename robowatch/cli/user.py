"""``robowatch user``: add, list, disable users and set their passwords.

A refusal (:class:`api.auth.errors.AccountError`) is one line on stderr and exit code 2, as
for every user error of the CLI. Passwords are read from a prompt that does not echo (asked
twice), or from standard input with ``--password-stdin`` for scripts; never from an
argument, which ``ps`` and the shell history would show.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from api.auth.accounts import add_user, change_password, disable
from robowatch.cli.context import settings_of
from robowatch.database import database
from storage.connect import connect
from storage.users import list_users
from ticketing.access import ROLES

app = typer.Typer(help="Users of the API and console: add, list, disable, set passwords.",
                  no_args_is_help=True)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@app.command()
def add(
    ctx: typer.Context,
    username: str,
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}")],
    customer: Annotated[
        str | None, typer.Option(help="Customer code (customer_viewer only).")] = None,
    engineer: Annotated[
        str | None, typer.Option(help="Engineer code: tickets assigned to it are theirs.")
    ] = None,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user with a role."""
    password = _password(password_stdin)
    with database(settings_of(ctx)) as url, connect(url) as conn:
        user = add_user(conn=conn, username=username, role=role, password=password,
                        at=datetime.now(UTC), display_name=name, customer=customer,
                        engineer=engineer)
    typer.echo(f"added {user.username} ({user.role})")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List users: name, role, customer, engineer, state."""
    with database(settings_of(ctx)) as url, connect(url) as conn:
        users = list_users(conn=conn)
    typer.echo(f"{'username':<20}{'role':<17}{'customer':<12}{'engineer':<12}state")
    for u in users:
        state = f"disabled {u.disabled_at:%Y-%m-%d %H:%M}" if u.disabled_at else "active"
        typer.echo(f"{u.username:<20}{u.role:<17}{u.customer or '-':<12}"
                   f"{u.engineer or '-':<12}{state}")


@app.command("disable")
def disable_(ctx: typer.Context, username: str) -> None:
    """Disable a user and revoke all its sessions at once."""
    with database(settings_of(ctx)) as url, connect(url) as conn:
        user = disable(conn=conn, username=username, at=datetime.now(UTC))
    typer.echo(f"disabled {user.username}; its sessions are revoked")


@app.command()
def password(ctx: typer.Context, username: str, password_stdin: PasswordStdin = False) -> None:
    """Set a user's password; its sessions are revoked."""
    new = _password(password_stdin)
    with database(settings_of(ctx)) as url, connect(url) as conn:
        revoked = change_password(conn=conn, username=username, password=new,
                                  at=datetime.now(UTC))
    typer.echo(f"password of {username.strip().lower()} set; {revoked} session(s) revoked")
