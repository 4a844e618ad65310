"""Building the server application around a loaded :class:`~verispec.pipeline.Pipeline`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import verispec
from verispec.batching import BatchedPipeline, BatchSettings
from verispec.errors import ConfigError
from verispec.pipeline import Pipeline
from verispec.server.config import ServerConfig
from verispec.server.errors import install_error_handlers, log
from verispec.server.metrics import ServerMetrics
from verispec.server.routes import guarded, public
from verispec.server.state import ServerState
from verispec.server.worker import GenerationWorker


def create_app(pipe: Pipeline, config: ServerConfig | None = None) -> FastAPI:
    """The server for ``pipe``: its models are loaded now, once; generations run on worker threads,
    batched together (``config.batch_size`` at most) on llama.cpp and on torch.

    Serve it with any ASGI server (``uvicorn.run(app)``), or :class:`~verispec.server.ServerThread`.
    """
    config = config or ServerConfig()
    _load_models(pipe)
    batched = _batched(pipe, config)
    worker = (GenerationWorker(batched, max_queue=config.queue_size, concurrency=config.batch_size) if batched
              else GenerationWorker(pipe, max_queue=config.queue_size))
    state = ServerState(pipe, config, worker, ServerMetrics(), started_at=int(time.time()), batched=batched)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.worker.start()
        try:
            yield
        finally:
            state.worker.stop()
            if batched is not None:
                batched.close()

    # No /docs pages: they load scripts from a CDN, and this server must work offline.
    app = FastAPI(title="verispec", version=verispec.__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.verispec = state
    install_error_handlers(app)
    app.include_router(public)
    app.include_router(guarded)
    app.add_middleware(RequestCounter, metrics=state.metrics)
    return app


def _batched(pipe: Pipeline, config: ServerConfig) -> BatchedPipeline | None:
    """The batch for concurrent requests, unless the batch is 1 or a model cannot batch (then one at a time)."""
    if config.batch_size == 1:
        return None
    try:
        return BatchedPipeline(pipe, BatchSettings(slots=config.batch_size, draft_up_to=config.draft_up_to))
    except ConfigError as err:
        log.warning("requests run one at a time: %s", err)
        return None


def _load_models(pipe: Pipeline) -> None:
    """Load both models at start-up: the pipeline loads on first use, which would stall the first request."""
    for handle in (pipe.verifier, pipe.draft):
        _ = handle.backend


class RequestCounter:
    """ASGI middleware counting HTTP requests by route template and status code.

    Plain ASGI rather than ``BaseHTTPMiddleware``, which would buffer streams and hide disconnects.
    """

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before starting a response

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The route template (not the raw path) keeps the label set small.
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.http_requests.inc(1, route, str(status))
