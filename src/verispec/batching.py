"""Many generations at once over one pipeline's models: continuous batching on llama.cpp.

Each request runs the pipeline's ordinary loop in its own thread, on a slot of the batch (its own
sequence id in a multi-sequence llama.cpp context per model); the :class:`~verispec.backends.
batcher.Batcher` runs the forward passes of all slots together. Requests join and leave between
decodes, each with its own method, sampling settings, seed, stop strings, budget, statistics and
provenance. Greedy output is the unbatched output, except where a batched decode rounds a
near-tie the other way (even the tiny fp32 GGUF models of the tests move by up to ~5e-4).

On torch, requests run one at a time: batching them needs per-sequence cache lengths and
rollbacks in one padded batch, which transformers' caches do not offer. It would pay (on an AMX
CPU a bf16 step for 16 sequences costs what one does: docs/batching.md); it is not built yet.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from verispec.backends.batcher import Batcher, SlotBackend
from verispec.backends.llamacpp_backend import LlamaCppBackend
from verispec.backends.llamacpp_sequences import LlamaCppSequences
from verispec.errors import ConfigError
from verispec.models.handles import LLAMA_CPP
from verispec.pipeline import GenerationResult, Pipeline, StreamChunk
from verispec.tokens import Prompt


@dataclass(frozen=True)
class BatchSettings:
    """``slots``: generations decoded together at most; ``slot_context``: tokens (prompt and new)
    one generation may hold; ``max_batch_tokens``: tokens one decode may take (long prompts are
    read in a decode of their own when they do not fit beside the others)."""

    slots: int = 8
    slot_context: int = 4096
    max_batch_tokens: int = 4096

    def __post_init__(self) -> None:
        if not 1 <= self.slots <= 256:
            raise ConfigError(f"slots must be 1 to 256, got {self.slots}")
        if self.slot_context < 16 or self.max_batch_tokens < self.slot_context:
            raise ConfigError(
                f"need slot_context >= 16 and max_batch_tokens >= slot_context (a prompt must fit one decode), "
                f"got {self.slot_context} and {self.max_batch_tokens}"
            )


_DONE = object()


class BatchedPipeline:
    """Serves concurrent ``stream``/``generate`` calls on ``pipe``'s models, batched per decode.

    Every model must run on llama.cpp. A call waits for a free slot when all are busy. Thread-safe;
    call :meth:`close` (or use it as a context manager) to free the batch contexts.
    """

    def __init__(self, pipe: Pipeline, settings: BatchSettings = BatchSettings()) -> None:
        roles = pipe.roles()
        on_torch = [r for r in roles if pipe.backend_of(r) != LLAMA_CPP]
        if on_torch:
            raise ConfigError(
                f"batching runs on the llama.cpp backend, but {', '.join(on_torch)} run on torch: "
                "pass backend='llama.cpp' (GGUF models), or generate one request at a time with Pipeline"
            )
        self.pipe = pipe
        self.settings = settings
        self._sequences = {role: self._contexts(pipe, role) for role in roles}
        self.batcher = Batcher(self._sequences, priority=["verifier", *(r for r in roles if r != "verifier")])
        self._views = [pipe.with_backends(self._slot_backends(seq)) for seq in range(settings.slots)]
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        for seq in range(settings.slots):
            self._free.put(seq)
        self._waiting = 0
        self._lock = threading.Lock()

    def _contexts(self, pipe: Pipeline, role: str) -> LlamaCppSequences:
        base = pipe.handle(role).backend
        assert isinstance(base, LlamaCppBackend)
        s = self.settings
        return LlamaCppSequences(base, sequences=s.slots, n_ctx=s.slots * s.slot_context, n_batch=s.max_batch_tokens)

    def _slot_backends(self, seq: int) -> dict[str, SlotBackend]:
        return {
            role: SlotBackend(self.batcher, role, seq, max_context=min(self.settings.slot_context, sequences.max_position))
            for role, sequences in self._sequences.items()
        }

    @property
    def active(self) -> int:
        """Generations in the batch now."""
        return self.batcher.members

    @property
    def queued(self) -> int:
        """Calls waiting for a free slot."""
        return self._waiting

    def stream(self, prompt: Prompt, **options: Any) -> Iterator[StreamChunk]:
        """As :meth:`Pipeline.stream`, batched with the other calls running now.

        Closing the iterator early cancels this generation alone; the others go on.
        """
        with self._lock:
            self._waiting += 1
        try:
            seq = self._free.get()
        finally:
            with self._lock:
                self._waiting -= 1
        chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        cancelled = threading.Event()
        self.batcher.join()
        worker = threading.Thread(
            target=self._run, args=(seq, prompt, options, chunks, cancelled), name=f"verispec-slot-{seq}", daemon=True
        )
        worker.start()
        try:
            while (item := chunks.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancelled.set()
            worker.join()  # by the time the caller goes on, the slot is free again

    def _run(
        self, seq: int, prompt: Prompt, options: dict[str, Any], chunks: queue.SimpleQueue[Any],
        cancelled: threading.Event,
    ) -> None:
        """One generation on slot ``seq``, its chunks into ``chunks``; it leaves the batch however it ends."""
        view = self._views[seq]
        try:
            for chunk in view.stream(prompt, **options):
                chunks.put(chunk)
                if cancelled.is_set():
                    break
        except BaseException as err:  # handed to the caller's thread, which raises it
            chunks.put(err)
        finally:
            for sequences in self._sequences.values():  # free the slot's cells for the next request
                self.batcher.locked(lambda s=sequences: s.truncate(seq, 0))
            self.batcher.leave()
            self._free.put(seq)
            chunks.put(_DONE)

    def generate(self, prompt: Prompt, **options: Any) -> GenerationResult:
        """As :meth:`Pipeline.generate`, batched with the other calls running now."""
        for chunk in self.stream(prompt, **options):
            if chunk.result is not None:
                return chunk.result
        raise AssertionError("stream ended without a result")

    def generate_many(self, requests: Sequence[tuple[Prompt, dict[str, Any]]]) -> list[GenerationResult]:
        """Run ``(prompt, options)`` requests concurrently (at most ``slots`` at once, the rest joining
        as others finish); results in request order."""
        with ThreadPoolExecutor(max_workers=max(1, len(requests))) as pool:
            futures = [pool.submit(self.generate, prompt, **options) for prompt, options in requests]
            return [f.result() for f in futures]

    def close(self) -> None:
        """Free the batch contexts (the models stay loaded in the pipeline)."""
        for sequences in self._sequences.values():
            sequences.close()

    def __enter__(self) -> BatchedPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
