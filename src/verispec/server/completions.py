"""Serving one completion request: queue it, wait for its first event, then stream or collect it.

The response starts only after the first event, so errors the pipeline finds before generating
(bad prompt, wrong model pairing) are answered as a 4xx JSON body, not inside a stream. A client
that goes away, while queued, before the first token or mid-stream, cancels its generation.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from fastapi import Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from verispec.pipeline import GenerationResult
from verispec.server.errors import APIError, from_exception
from verispec.server.pieces import TokenPiece
from verispec.server.responses import ResponseFormat
from verispec.server.state import ServerState
from verispec.server.worker import Delta, Done, Event, Failed, GenerationRequest, Job, QueueFullError

T = TypeVar("T")

CLIENT_CLOSED = 499  # nginx's status for "the client closed the connection first"; nobody receives it
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class Generation:
    """One submitted job with its endpoint and start time, recording its outcome in the metrics once."""

    def __init__(self, state: ServerState, job: Job, endpoint: str, started: float) -> None:
        self.state, self.job, self.endpoint, self.started = state, job, endpoint, started
        self._method = job.request.method.name
        self._recorded = False

    def first_event_arrived(self) -> None:
        self.state.metrics.first_token.observe(time.perf_counter() - self.started, self.endpoint)

    def completed(self, result: GenerationResult) -> None:
        if self._record():
            self.state.metrics.completed(self.endpoint, result, time.perf_counter() - self.started)

    def failed(self, error: BaseException) -> APIError:
        if self._record():
            self.state.metrics.generations.inc(1, self._method, "failed")
        return from_exception(error)

    def cancelled(self) -> None:
        """The client went away: stop the generation (a no-op once it has finished)."""
        self.job.cancel()
        if self._record():
            self.state.metrics.generations.inc(1, self._method, "cancelled")

    def _record(self) -> bool:
        first, self._recorded = not self._recorded, True
        return first


async def serve_completion(
    request: Request, state: ServerState, generation: GenerationRequest, fmt: ResponseFormat, *, endpoint: str,
    stream: bool, include_usage: bool,
) -> Response:
    """Run ``generation`` on the worker and answer in ``fmt``'s shape, streamed or whole."""
    started = time.perf_counter()
    try:
        job = state.worker.submit(generation)
    except QueueFullError:
        raise APIError(
            429, f"the server is busy: {state.config.queue_size} requests are already waiting; retry in a moment",
            type="rate_limit_error", code="queue_full",
        ) from None
    run = Generation(state, job, endpoint, started)
    first = await _unless_disconnected(request, job.next_event())
    if first is None:
        run.cancelled()
        return Response(status_code=CLIENT_CLOSED)
    if isinstance(first, Failed):
        raise run.failed(first.error)
    run.first_event_arrived()
    if stream:
        return StreamingResponse(_events(run, first, fmt, include_usage), media_type="text/event-stream",
                                 headers=_SSE_HEADERS)
    collected = await _unless_disconnected(request, _collect(run, first))
    if collected is None:
        run.cancelled()
        return Response(status_code=CLIENT_CLOSED)
    result, tokens = collected
    return JSONResponse(fmt.complete(result, tokens).model_dump(exclude_none=True))


async def _collect(run: Generation, event: Event) -> tuple[GenerationResult, list[TokenPiece]]:
    tokens: list[TokenPiece] = []
    while not isinstance(event, Done):
        if isinstance(event, Failed):
            raise run.failed(event.error)
        tokens += event.tokens
        event = await run.job.next_event()
    run.completed(event.result)
    return event.result, tokens


async def _events(run: Generation, event: Event, fmt: ResponseFormat, include_usage: bool) -> AsyncIterator[str]:
    """Server-sent events: OpenAI chunks, an error event if generation fails, then ``[DONE]``."""
    try:
        for chunk in fmt.opening():
            yield _data(chunk)
        while isinstance(event, Delta):
            if event.text or event.tokens:
                yield _data(fmt.delta(event.text, event.tokens))
            event = await run.job.next_event()
        if isinstance(event, Failed):
            yield f"data: {json.dumps(run.failed(event.error).body())}\n\n"
            return
        run.completed(event.result)
        yield _data(fmt.finish(event.result))
        if include_usage:
            yield _data(fmt.usage_chunk(event.result))
        yield "data: [DONE]\n\n"
    finally:
        run.cancelled()  # only counts when the stream ended early: the client disconnected


def _data(body: BaseModel) -> str:
    return f"data: {body.model_dump_json(exclude_none=True)}\n\n"


async def _unless_disconnected(request: Request, work: Awaitable[T]) -> T | None:
    """``work``'s result, or None (with ``work`` cancelled) if the client disconnects first."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnect(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
    return task.result() if task in done else None


async def _disconnect(request: Request) -> None:
    # The body has been read, so the next ASGI message is the disconnect (or nothing until then).
    while (await request.receive())["type"] != "http.disconnect":
        pass
