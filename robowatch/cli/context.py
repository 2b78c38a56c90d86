"""What every sub-command gets from the root callback: the settings, built once in main()."""

from __future__ import annotations

import typer

from robowatch.settings import Settings

__all__ = ["settings_of"]


def settings_of(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        raise RuntimeError("settings not initialised; run through robowatch.cli.main")
    return root.obj
