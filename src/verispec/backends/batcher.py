"""Forward passes of many concurrent generations, run together: one decode per model and step.

Every generation keeps running the one round loop (:class:`~verispec.engine.Engine`) in its own
thread, over :class:`SlotBackend` models. A slot's ``forward`` does not run at once: it waits
until every generation in the batch is waiting on a model too, and then one decode per model
serves all of them (the weights are read once for all). So each request keeps its own method,
rule, draft length, sampling generator and statistics, and the batch needs no second loop.

The rendezvous: a :class:`Batcher` counts the generations that have joined; when the last of them
asks for a forward pass, the model with the most waiting calls runs all of them in one decode
(the verifier wins ties), those callers go on, and the rest wait for the next decode. A generation
joins or leaves at any time; whoever completes the rendezvous runs the decode, so no thread of
its own is needed. Generations drift into step: a request that verifies while others still draft
waits one draft step for them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from verispec.backends.base import ForwardClock, ForwardOutput, ModelBackend, ModelIdentity
from verispec.backends.sequences import SequenceInput, SequenceModel
from verispec.tokens import common_prefix_length

T = TypeVar("T")


@dataclass
class _Call:
    """One slot's forward pass, waiting for its model's next decode."""

    model: str
    item: SequenceInput
    hidden: bool
    output: ForwardOutput | None = None
    error: BaseException | None = None
    seconds: float = 0.0
    done: bool = False


@dataclass
class BatchCounters:
    """What the batch did so far: decodes per model and the sizes of those decodes."""

    decodes: dict[str, int] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)  # summed over decodes
    tokens: dict[str, int] = field(default_factory=dict)

    def add(self, model: str, sequences: int, tokens: int) -> None:
        for counter, value in ((self.decodes, 1), (self.sequences, sequences), (self.tokens, tokens)):
            counter[model] = counter.get(model, 0) + value

    def mean_batch(self, model: str) -> float:
        """Sequences per decode of ``model`` (0 before its first decode)."""
        return self.sequences.get(model, 0) / self.decodes[model] if self.decodes.get(model) else 0.0


class Batcher:
    """The rendezvous of concurrent generations over the models in ``models`` (name -> sequences).

    ``priority`` orders models whose waiting calls tie (first wins); by default the given order.
    """

    def __init__(self, models: dict[str, SequenceModel], *, priority: Sequence[str] | None = None) -> None:
        self.models = models
        self._priority = list(priority or models)
        self._cond = threading.Condition()
        self._members = 0
        self._pending: list[_Call] = []
        self.counters = BatchCounters()
        # Every decode runs on this one thread, not on whichever generation completes the rendezvous:
        # torch keeps a team of OpenMP threads per calling thread, and on a small CPU the teams of
        # many callers spin against each other (a step for 20 sequences took 110 ms instead of 83).
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verispec-decode")

    @property
    def members(self) -> int:
        """Generations now in the batch."""
        return self._members

    def join(self) -> None:
        """A generation enters the batch: from now on decodes wait for it too."""
        with self._cond:
            self._members += 1

    def leave(self) -> None:
        """A generation leaves (finished or cancelled); the others stop waiting for it."""
        with self._cond:
            self._members -= 1
            self._run_if_all_wait()

    def forward(self, model: str, item: SequenceInput, *, hidden: bool = False) -> tuple[ForwardOutput, float]:
        """``item``'s logits after the next decode of ``model`` that takes it, and its share of that
        decode's seconds (by tokens)."""
        call = _Call(model, item, hidden)
        with self._cond:
            self._pending.append(call)
            self._run_if_all_wait()
            while not call.done:
                self._cond.wait()
        if call.error is not None:
            raise call.error
        assert call.output is not None
        return call.output, call.seconds

    def close(self) -> None:
        """Stop the decode thread (after the decode it may be running)."""
        self._runner.shutdown()

    def locked(self, action: Callable[[], T]) -> T:
        """Run ``action`` (a cache edit: rollback, reset) while no decode runs."""
        with self._cond:
            return action()

    def _run_if_all_wait(self) -> None:
        """Called with the lock held: while every member waits on a model, decode one model's calls."""
        while self._pending and len(self._pending) >= self._members:
            self._decode(self._next_model())
            self._cond.notify_all()

    def _next_model(self) -> str:
        """The model with the most waiting calls; ``max`` keeps the first of equals, so priority breaks ties."""
        return max(self._priority, key=lambda m: sum(c.model == m for c in self._pending))

    def _decode(self, model: str) -> None:
        """One decode over ``model``'s waiting calls, as many as its batch holds (the rest wait)."""
        sequences = self.models[model]
        calls, tokens = [], 0
        for call in (c for c in self._pending if c.model == model):
            if calls and tokens + len(call.item.tokens) > sequences.n_batch:
                break
            calls.append(call)
            tokens += len(call.item.tokens)
        start = time.perf_counter()
        try:
            items, hidden = [c.item for c in calls], any(c.hidden for c in calls)
            outputs = self._runner.submit(sequences.decode, items, hidden=hidden).result()
        except BaseException as err:  # every caller of this decode gets the error, none hangs
            outputs = [None] * len(calls)
            for call in calls:
                call.error = err
        seconds = time.perf_counter() - start
        self.counters.add(model, len(calls), tokens)
        for call, output in zip(calls, outputs, strict=True):
            call.output, call.done = output, True
            call.seconds = seconds * len(call.item.tokens) / tokens  # its share: the shares add up to the decode
            self._pending.remove(call)


class SlotBackend(ModelBackend):
    """One generation's view of a batched model: its own sequence id, cache length and clock.

    It answers like a one-sequence backend, so every strategy and drafter runs on it unchanged.
    Its clock books its share (by tokens) of each decode it took part in: the shares of a decode add
    up to its time, so a cost-aware draft length weighs what its tokens cost the whole batch.

    Like the llama.cpp backend it keeps its sequence through ``reset``: the next prompt (a forward
    asking for its last logits) decodes only what differs from the tokens held, so prompts that share
    a chat template's system text, or a conversation's earlier turns, skip that part of their prefill.
    """

    def __init__(self, batcher: Batcher, model: str, seq: int, *, max_context: int) -> None:
        self._batcher = batcher
        self._model = model
        self._sequences = batcher.models[model]
        self._base = self._sequences.backend
        self.seq = seq
        self.name = self._base.name
        self.vocab_size = self._base.vocab_size
        self.max_context = max_context
        self.device = self._base.device
        self.clock = ForwardClock()
        self.held: list[int] = []  # the tokens in this slot's sequence
        self._fresh = False  # reset since: ``held`` waits for the next prompt to reuse it

    @property
    def cached_length(self) -> int:
        return 0 if self._fresh else len(self.held)

    def forward(self, tokens: Sequence[int], *, last_only: bool = False, hidden: bool = False) -> ForwardOutput:
        if not tokens:
            raise ValueError("forward needs at least one token")
        if self._fresh:  # a new sequence: keep what it shares with the last one (its last token is decoded)
            self._fresh = False
            shared = min(common_prefix_length(self.held, tokens), len(tokens) - 1) if last_only and not hidden else 0
            self._truncate(shared)
            tokens = tokens[shared:]
        total = len(self.held) + len(tokens)
        if total > self.max_context:
            raise ValueError(f"{total} tokens pass this slot's context of {self.max_context}")
        item = SequenceInput(self.seq, list(tokens), all_logits=not last_only)
        output, seconds = self._batcher.forward(self._model, item, hidden=hidden)
        self.held.extend(tokens)
        self.clock.add(seconds, len(tokens))
        return output

    def rollback(self, length: int) -> None:
        if length > self.cached_length:
            raise ValueError(f"cannot roll back to {length}: only {self.cached_length} tokens are cached")
        self._fresh = False
        self._truncate(length)

    def _truncate(self, length: int) -> None:
        if length < len(self.held):
            self._batcher.locked(lambda: self._sequences.truncate(self.seq, length))
            del self.held[length:]

    def reset(self) -> None:
        self._fresh = True

    def clear_prefix_cache(self) -> None:
        self.reset()
        self.rollback(0)

    @property
    def hidden_size(self) -> int:
        return self._base.hidden_size

    def identity(self) -> ModelIdentity:
        return self._base.identity()

    def precision(self) -> str:
        return self._base.precision()
