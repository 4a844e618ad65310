"""Many generations at once over one pipeline's models: continuous batching on llama.cpp and torch.

Each request runs the pipeline's ordinary loop in its own thread, on a slot of the batch (its own
sequence in a multi-sequence model per role: a llama.cpp context with one sequence id per slot,
or a padded torch batch with one cache row per slot); the :class:`~verispec.backends.batcher.
Batcher` runs the forward passes of all slots together. Requests join and leave between decodes,
each with its own method, sampling settings, seed, stop strings, budget, statistics and
provenance. Greedy output is the unbatched output, except where a batched decode rounds a
near-tie the other way (even tiny fp32 models move by up to ~5e-4 in a batched llama.cpp decode).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from verispec.backends.base import ModelBackend
from verispec.backends.batcher import Batcher, SlotBackend
from verispec.backends.llamacpp_backend import LlamaCppBackend
from verispec.backends.llamacpp_sequences import LlamaCppSequences
from verispec.backends.sequences import SequenceModel
from verispec.backends.torch_sequences import TorchSequences
from verispec.backends.transformers_backend import TransformersBackend
from verispec.errors import ConfigError, PromptError
from verispec.pipeline import GenerationResult, Pipeline, StreamChunk
from verispec.tokens import Prompt, common_prefix_length, encode_prompt


@dataclass(frozen=True)
class BatchSettings:
    """``slots``: generations decoded together at most; ``slot_context``: tokens (prompt and new)
    one generation may hold; ``max_batch_tokens``: tokens one decode may take (long prompts are
    read in a decode of their own when they do not fit beside the others).

    ``draft_up_to``: drafting (``sd`` and the other speculative methods) runs while at most this
    many generations are in the batch; above, every round verifies one token, as serving engines
    turn speculation off under load. With 8 Qwen requests on torch bf16, `sd` drafting gave 23.2
    tokens/s and the verifier alone 35.0; with one request drafting won, 6.4 against 5.3
    (docs/batching.md). ``None``: always draft.
    """

    slots: int = 8
    slot_context: int = 4096
    max_batch_tokens: int = 4096
    draft_up_to: int | None = 2

    def __post_init__(self) -> None:
        if not 1 <= self.slots <= 256:
            raise ConfigError(f"slots must be 1 to 256, got {self.slots}")
        if self.draft_up_to is not None and self.draft_up_to < 0:
            raise ConfigError(f"draft_up_to must be >= 0 (0: never draft in a batch), got {self.draft_up_to}")
        if self.slot_context < 16 or self.max_batch_tokens < self.slot_context:
            raise ConfigError(
                f"need slot_context >= 16 and max_batch_tokens >= slot_context (a prompt must fit one decode), "
                f"got {self.slot_context} and {self.max_batch_tokens}"
            )


_DONE = object()


def batched_model(backend: ModelBackend, settings: BatchSettings) -> SequenceModel:
    """``backend``'s model holding ``settings.slots`` sequences that decode together."""
    s = settings
    if isinstance(backend, LlamaCppBackend):
        return LlamaCppSequences(backend, sequences=s.slots, n_ctx=s.slots * s.slot_context, n_batch=s.max_batch_tokens)
    if isinstance(backend, TransformersBackend):
        return TorchSequences(backend, sequences=s.slots, n_ctx=s.slot_context, n_batch=s.max_batch_tokens)
    raise ConfigError(
        f"batching runs models on llama.cpp or transformers, not on {type(backend).__name__}: "
        "generate one request at a time with Pipeline"
    )


class BatchedPipeline:
    """Serves concurrent ``stream``/``generate`` calls on ``pipe``'s models, batched per decode.

    Models run on llama.cpp or torch (transformers), each on its own. A call waits for a free slot
    when all are busy. Thread-safe; call :meth:`close` (or use it as a context manager) to free the
    batch contexts and caches.
    """

    def __init__(self, pipe: Pipeline, settings: BatchSettings = BatchSettings()) -> None:
        roles = pipe.roles()
        self.pipe = pipe
        self.settings = settings
        self._sequences = {role: batched_model(pipe.handle(role).backend, settings) for role in roles}
        self.batcher = Batcher(self._sequences, priority=["verifier", *(r for r in roles if r != "verifier")])
        self._slots = [self._slot_backends(seq) for seq in range(settings.slots)]
        self._views = [pipe.with_backends(slot, drafting_gate=self._drafting_pays) for slot in self._slots]
        self._free = list(range(settings.slots))
        self._waiting = 0
        self._freed = threading.Condition()
        self._encoding = threading.Lock()  # one fast tokenizer used by two threads at once can fail

    def _slot_backends(self, seq: int) -> dict[str, SlotBackend]:
        return {
            role: SlotBackend(self.batcher, role, seq, max_context=min(self.settings.slot_context, sequences.max_position))
            for role, sequences in self._sequences.items()
        }

    def _drafting_pays(self) -> bool:
        """Whether a round drafts now: the batch is not above ``settings.draft_up_to``."""
        limit = self.settings.draft_up_to
        return limit is None or self.batcher.members <= limit

    def _take_slot(self, prompt: Prompt, options: dict[str, Any]) -> int:
        """A free slot (waiting for one): the one whose verifier holds the longest start of this prompt,
        so a conversation's next turn, or a prompt seen before, skips most of its prefill (as
        llama-server picks slots by prompt similarity)."""
        ids = self._prompt_ids(prompt, options)
        with self._freed:
            self._waiting += 1
            try:
                self._freed.wait_for(lambda: bool(self._free))
            finally:
                self._waiting -= 1
            seq = max(self._free, key=lambda s: self._reuse(s, ids))
            self._free.remove(seq)
            return seq

    def _reuse(self, seq: int, ids: list[int]) -> tuple[int, int]:
        """How well slot ``seq`` suits a prompt: the tokens it would reuse, then (on ties) the fewest
        tokens held, which another prompt might still reuse."""
        held = self._slots[seq]["verifier"].held
        return common_prefix_length(held, ids), -len(held)

    def _prompt_ids(self, prompt: Prompt, options: dict[str, Any]) -> list[int]:
        """The prompt as the verifier reads it, for choosing a slot; none when it cannot be read (the
        generation then reports why)."""
        chat = options.get("chat")
        as_chat = bool(chat) if chat is not None else not isinstance(prompt, str)  # as Pipeline.stream reads it
        try:
            with self._encoding:
                return encode_prompt(self.pipe.verifier.tokenizer, prompt, chat=as_chat)
        except PromptError:
            return []

    def _give_back(self, seq: int) -> None:
        with self._freed:
            self._free.append(seq)
            self._freed.notify()

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
        seq = self._take_slot(prompt, options)
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
        finally:  # the slot keeps its tokens: the next request on it reuses their common start
            self.batcher.leave()
            self._give_back(seq)
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
        """Free the batch contexts and the decode thread (the models stay loaded in the pipeline)."""
        self.batcher.close()
        for sequences in self._sequences.values():
            sequences.close()

    def __enter__(self) -> BatchedPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
