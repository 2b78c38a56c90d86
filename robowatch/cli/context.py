"""What every sub-command gets from the root callback: the settings, built once in main()."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from robowatch.settings import Settings

__all__ = ["settings_of", "writable_file"]


def settings_of(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        raise RuntimeError("settings not initialised; run through robowatch.cli.main")
    return root.obj


def writable_file(path: Path | None) -> Path | None:
    """Typer callback for output files: refuse, before any work is done, a path whose folder
    does not exist or cannot be written (a long run must not fail at its last step)."""
    if path is None:
        return None
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a directory")
    if not folder.is_dir():
        raise typer.BadParameter(f"folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise typer.BadParameter(f"{path} is not writable")
    return path
