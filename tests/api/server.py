"""Run an app under a real uvicorn in a thread, on a free local port (httpx's test habit)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import anyio
import uvicorn
from fastapi import FastAPI

from simulators.brokers import free_port

# Starlette's FileResponse reaches anyio.open_file, a module anyio imports lazily. Imported
# first in a server thread while pytest imports (and rewrites) a test module in the main
# thread, it trips a CPython 3.11 bug ("SystemError: AST constructor recursion depth
# mismatch", seen on GET / in the route x role tests). Import it once, here.
_ = anyio.open_file


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        # Signals belong to the main thread (pytest), not to this server.
        pass


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, *, startup_timeout: float = 10.0) -> Iterator[str]:
    """Yield ``http://127.0.0.1:PORT`` once the app has started; shut it down after."""
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                   lifespan="on", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        if thread.is_alive():
            raise RuntimeError("uvicorn did not stop within 15 s")
