"""Running the server on a background thread, on loopback: for tests and the load benchmark."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from verispec.server.config import LOOPBACK


class ServerThread:
    """``with ServerThread(app) as server:`` serves ``app`` at ``server.url`` until the block ends.

    Port 0 picks a free port. Start-up waits until the server accepts connections.
    """

    def __init__(self, app: FastAPI, *, host: str = LOOPBACK, port: int = 0, start_timeout: float = 60.0) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="verispec-server", daemon=True)
        self._start_timeout = start_timeout
        self.url = ""

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start; see the log above")
            time.sleep(0.01)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
