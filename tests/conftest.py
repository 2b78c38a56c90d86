import logging
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.fix_db", "tests.fix_mqtt"]


@pytest.fixture(autouse=True)
def root_logging() -> Iterator[None]:
    """Commands invoked in-process (typer's CliRunner) set up logging on the runner's stream,
    closed once ``invoke`` returns: put the root logger back after every test, so no later test
    logs into a closed file (and finds "--- Logging error ---" in its captured output)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
