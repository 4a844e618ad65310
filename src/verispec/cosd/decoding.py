"""The loop every multi-model decoder here shares: prompts, prefill, rounds, token budget, stop strings, result.

A decoder (CoSD, Avg decoding, the deferral baseline) only says what one round commits. The
committed output is kept as the first model's (the draft's) token ids, which always decode to
the committed text: the draft writes, and what others write is re-encoded for it. That makes the
token budget a count of draft tokens and lets ``verispec.text.TextTracker`` handle streaming and
stop strings exactly as in the pipeline.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

from verispec.cosd.bridge import clean, decode
from verispec.cosd.members import Member
from verispec.cosd.results import (
    CoSDChunk,
    CoSDResult,
    CoSDRound,
    Segment,
    fit_segments,
    summarize,
)
from verispec.cosd.trained import model_roles
from verispec.errors import ConfigError, PromptError
from verispec.provenance import Provenance
from verispec.sampling import SamplingParams
from verispec.text import TextTracker
from verispec.tokens import Prompt, is_token_ids


@dataclass(frozen=True)
class Commit:
    """What one round adds: draft-vocabulary ids, the authored text they decode to, and its bookkeeping."""

    token_ids: list[int]
    segments: list[Segment]
    ended: bool
    drafted: int = 0
    kept: int = 0
    compared: int = 0
    replaced_by: int | None = None


@dataclass
class Generation:
    """The state of one generation that rounds read: sampling, its random generator, committed draft ids."""

    params: SamplingParams
    generator: torch.Generator
    committed: list[int] = field(default_factory=list)


class Decoder(ABC):
    """Runs rounds over ``members`` (member 0 writes the output ids) until EOS, budget or a stop string."""

    members: list[Member]

    @property
    def roles(self) -> list[str]:
        return model_roles(len(self.members) - 1)

    def generate(self, prompt: Prompt, **options: object) -> CoSDResult:
        """Generate to the end; options as in :meth:`stream`."""
        for chunk in self.stream(prompt, **options):  # type: ignore[arg-type]
            if chunk.result is not None:
                return chunk.result
        raise AssertionError("stream ended without a result")

    def stream(
        self,
        prompt: Prompt,
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Sequence[str] = (),
        chat: bool | None = None,
    ) -> Iterator[CoSDChunk]:
        """Yield committed text round by round; the final chunk holds the :class:`CoSDResult`.

        ``prompt`` is raw text or chat messages; ``chat=True`` reads a string as one user turn
        (every model then needs a chat template). ``max_new_tokens`` counts the draft's tokens.
        """
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if is_token_ids(prompt):
            raise PromptError("collaborative methods read the prompt with every model's own tokenizer: pass text or chat messages, not token ids")
        chat = not isinstance(prompt, str) if chat is None else chat
        for member, role in zip(self.members, self.roles):
            member.read_prompt(prompt, chat=chat, role=role)
        params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
        state = Generation(params, params.generator(self.members[0].backend.device))
        yield from self._run(state, min(max_new_tokens, self._room()), stop)

    def _room(self) -> int:
        """New tokens that fit in every model's context after its prompt.

        Counted in each model's own tokens; the output is counted in the draft's, which for
        another tokenizer is close but not equal, so keep some margin with long outputs.
        """
        room = min(m.backend.max_context - len(m.prompt_ids) for m in self.members)
        if room < 1:
            worst = min(self.members, key=lambda m: m.backend.max_context - len(m.prompt_ids))
            raise PromptError(
                f"the prompt has {len(worst.prompt_ids)} tokens for {worst.name!r}, whose context is "
                f"{worst.backend.max_context}; shorten the prompt to fewer than {worst.backend.max_context} tokens"
            )
        return room

    def _run(self, state: Generation, max_new_tokens: int, stop: Sequence[str]) -> Iterator[CoSDChunk]:
        start = time.perf_counter()
        tracker = TextTracker(self.members[0].tokenizer, stop)
        before, began = self._clocks(), time.perf_counter()
        self._prefill()
        records = [self._record(before, began, Commit([], [], False), [], prefill=True)]
        segments: list[Segment] = []
        finish = "length"
        while len(state.committed) < max_new_tokens:
            before, began = self._clocks(), time.perf_counter()
            commit = self._round(state, max_new_tokens - len(state.committed))
            ids = commit.token_ids[: max_new_tokens - len(state.committed)]
            record = self._record(before, began, commit, ids)
            records.append(record)
            state.committed.extend(ids)
            segments.extend(commit.segments)
            seen = len(tracker.tokens)
            update = tracker.add(ids)
            if update.text or ids:
                yield CoSDChunk(update.text, list(commit.segments), record, token_ids=tracker.tokens[seen:])
            if update.stopped:
                finish = "stop"
                break
            if commit.ended and len(ids) == len(commit.token_ids):
                finish = "eos"
                break
        tail = tracker.finish()
        final = fit_segments(segments, tracker.text)
        result = CoSDResult(
            text=tracker.text, token_ids=list(tracker.tokens), segments=final,
            stats=summarize(
                [m.name for m in self.members], records, final, prompt_tokens=len(self.members[0].prompt_ids),
                new_tokens=len(tracker.tokens), total_seconds=time.perf_counter() - start,
            ),
            finish_reason=finish, method=self.label(), prompt_token_ids=list(self.members[0].prompt_ids),
        )
        yield CoSDChunk(tail, [], None, result=result)

    def _clocks(self) -> list[tuple[int, float]]:
        return [(m.backend.clock.count, m.backend.clock.seconds) for m in self.members]

    def _record(
        self, before: list[tuple[int, float]], began: float, commit: Commit, ids: list[int], *, prefill: bool = False
    ) -> CoSDRound:
        """The round's record: what it committed and each model's forward passes and seconds since ``before``."""
        after = self._clocks()
        return CoSDRound(
            token_ids=tuple(ids), segments=tuple(commit.segments), drafted=commit.drafted, kept=commit.kept,
            compared=commit.compared, replaced_by=commit.replaced_by,
            forwards=tuple(a[0] - b[0] for a, b in zip(after, before)),
            seconds=tuple(a[1] - b[1] for a, b in zip(after, before)),
            wall_seconds=time.perf_counter() - began, is_prefill=prefill,
        )

    def _prefill(self) -> None:
        """Read every prompt (all but its last token) into its model's cache."""
        for member in self.members:
            member.scorer.prefill(member.prompt_ids)

    @abstractmethod
    def _round(self, state: Generation, budget: int) -> Commit:
        """Decide what the next round commits; ``budget`` draft tokens are left."""

    @abstractmethod
    def label(self) -> str:
        """The method's name with its options, for results files."""


def token_segments(
    member: Member, committed: Sequence[int], new: Sequence[int], authors: Sequence[int], provenance: Sequence[Provenance]
) -> list[Segment]:
    """One segment per new token: the whole characters it completes (a token that ends inside a
    multi-byte character adds nothing; the one that finishes it carries the character)."""
    base = len(clean(decode(member.tokenizer, committed)))
    segments = []
    for n, (_, author, why) in enumerate(zip(new, authors, provenance, strict=True), start=1):
        text = clean(decode(member.tokenizer, [*committed, *new[:n]]))
        segments.append(Segment(text[base:], author, why))
        base = len(text)
    return segments


def cut_after_end(tokens: Sequence[int], end_ids: frozenset[int]) -> tuple[list[int], bool]:
    """``tokens`` up to and including the first end token, and whether there was one."""
    for i, token in enumerate(tokens):
        if token in end_ids:
            return list(tokens[: i + 1]), True
    return list(tokens), False
