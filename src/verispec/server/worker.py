"""Worker threads run queued generations and stream their events to asyncio.

A generation is CPU or GPU work that must not block the event loop, so requests queue here
(bounded) and worker threads work through them: one for a :class:`~verispec.pipeline.Pipeline`,
which runs one generation at a time, or one per slot of a :class:`~verispec.batching.
BatchedPipeline`, whose generations decode together. Each job's events go to the event loop of the
request that submitted it; cancelling a job (the client went away) stops its generation at the
next chunk, and the others go on.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from verispec.methods import Method
from verispec.pipeline import GenerationResult, StreamChunk
from verispec.server.pieces import TokenPiece, chunk_pieces
from verispec.tokens import Prompt


@dataclass(frozen=True)
class GenerationRequest:
    """Everything one generation needs, already validated by the API layer."""

    prompt: Prompt
    chat: bool
    method: Method
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    stop: Sequence[str]


@dataclass(frozen=True)
class Delta:
    """Text streamed since the previous event and the tokens it covers."""

    text: str
    tokens: list[TokenPiece]


@dataclass(frozen=True)
class Done:
    """The generation finished; no more events follow."""

    result: GenerationResult


@dataclass(frozen=True)
class Failed:
    """The generation raised ``error``; no more events follow."""

    error: BaseException


Event = Delta | Done | Failed


class QueueFullError(Exception):
    """Every queue slot is taken."""


class Job:
    """A submitted generation: events arrive on the submitter's event loop; ``cancel`` stops it."""

    def __init__(self, request: GenerationRequest, loop: asyncio.AbstractEventLoop) -> None:
        self.request = request
        self._loop = loop
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._cancelled = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Stop the generation at its next chunk (or skip it if it has not started)."""
        self._cancelled.set()

    async def next_event(self) -> Event:
        return await self._events.get()

    def emit(self, event: Event) -> None:
        """Hand ``event`` to the job's event loop (called from the worker thread)."""
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, event)
        except RuntimeError:  # the loop is closed: nobody will read this job's events any more
            self.cancel()


class Streamer(Protocol):
    """What generates: a Pipeline, or a BatchedPipeline (whose ``stream`` may run concurrently)."""

    def stream(self, prompt: Prompt, **options: object) -> Iterator[StreamChunk]: ...


class GenerationWorker:
    """Runs submitted jobs on ``concurrency`` daemon threads; at most ``max_queue`` wait.

    ``concurrency`` above 1 needs a ``pipe`` whose ``stream`` runs concurrently (a BatchedPipeline
    with that many slots).
    """

    def __init__(self, pipe: Streamer, *, max_queue: int, concurrency: int = 1) -> None:
        self._pipe = pipe
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self._threads: list[threading.Thread] = []
        self._concurrency = concurrency
        self._running: set[Job] = set()
        self._lock = threading.Lock()

    @property
    def depth(self) -> int:
        """Jobs waiting plus those running."""
        return self._jobs.qsize() + self.running

    @property
    def running(self) -> int:
        """Jobs generating now (decoding together when batched)."""
        return len(self._running)

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._serve, name=f"verispec-generation-{k}", daemon=True)
            for k in range(self._concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the running jobs, drain the queue and end the threads."""
        with self._lock:
            for job in self._running:
                job.cancel()
        self._drain()
        for _ in self._threads:
            try:
                self._jobs.put(None, timeout=timeout)
            except queue.Full:  # new jobs keep arriving during shutdown: the daemon threads end with the process
                return
        for thread in self._threads:
            thread.join(timeout)

    def submit(self, request: GenerationRequest) -> Job:
        """Queue a generation; raises :class:`QueueFullError` when every slot is taken."""
        job = Job(request, asyncio.get_running_loop())
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            raise QueueFullError from None
        return job

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            if job.cancelled:
                continue
            with self._lock:
                self._running.add(job)
            try:
                self._generate(job)
            finally:
                with self._lock:
                    self._running.discard(job)

    def _generate(self, job: Job) -> None:
        try:
            self._stream(job)
        except Exception as err:  # any failure belongs to this request alone; the worker goes on
            job.emit(Failed(err))

    def _stream(self, job: Job) -> None:
        request = job.request
        stream = self._pipe.stream(
            request.prompt, chat=request.chat, method=request.method, max_new_tokens=request.max_new_tokens,
            temperature=request.temperature, top_p=request.top_p, seed=request.seed, stop=request.stop,
        )
        try:
            for chunk in stream:
                if job.cancelled:
                    return
                job.emit(Delta(chunk.text, chunk_pieces(chunk)))
                if chunk.result is not None:
                    job.emit(Done(chunk.result))
        finally:
            stream.close()  # a cancelled generation ends here, releasing the engine for the next job

    def _drain(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                job.cancel()
                job.emit(Failed(RuntimeError("the server is shutting down")))
