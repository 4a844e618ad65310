"""What a collaborative generation returns: text, who wrote which part, per-round records, statistics.

The shapes mirror ``verispec.pipeline`` (``GenerationResult``, ``StreamChunk``) so the pipeline,
the evaluation harness and the server can carry CoSD results next to the other methods'. The
difference: across tokenizers there is no single token sequence that every model wrote, so
authorship is given per text segment: one segment per token of the model that wrote it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from transformers import PreTrainedTokenizerBase

from verispec.cosd.bridge import clean, decode
from verispec.provenance import Provenance
from verispec.stats import GenerationStats


@dataclass(frozen=True)
class Segment:
    """A piece of the output written by one model: ``author`` 0 is the draft, ``k >= 1`` assistant ``k``.

    ``provenance`` says why it is there: a drafted token the assistants agreed with (``exact``),
    one kept although an assistant preferred another token (``relaxed``), an assistant's
    replacement (``replaced``), or a token written by one model alone in a baseline (``draft``,
    ``verifier``).
    """

    text: str
    author: int
    provenance: Provenance

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "author": self.author, "provenance": self.provenance.value}


@dataclass(frozen=True)
class CoSDRound:
    """One round: what it committed (draft token ids and authored text) and what it cost.

    ``forwards[m]`` and ``seconds[m]`` count model ``m``'s forward passes (0 the draft, then the
    assistants); ``wall_seconds`` is the round's whole time. The prefill is its own record.
    """

    token_ids: tuple[int, ...]
    segments: tuple[Segment, ...]
    drafted: int
    kept: int
    compared: int
    replaced_by: int | None
    forwards: tuple[int, ...]
    seconds: tuple[float, ...]
    wall_seconds: float
    is_prefill: bool = False


@dataclass(frozen=True)
class CoSDStats:
    """Counts and times of one generation.

    ``new_tokens`` counts the draft tokenizer's tokens of the output. ``kept_rate`` is drafted
    tokens kept / drafted; ``replacement_rate`` replacements per round; ``authored_chars[m]``
    characters of the output written by model ``m``.
    """

    models: list[str]
    prompt_tokens: int
    new_tokens: int
    rounds: int
    drafted: int
    kept: int
    compared: int
    replacements: int
    forwards: list[int]
    model_seconds: list[float]
    prefill_seconds: float
    total_seconds: float
    tokens_per_second: float
    tokens_per_round: float
    kept_rate: float | None
    replacement_rate: float | None
    authored_chars: list[int]
    kept_histogram: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def as_generation_stats(self, provenance: Sequence[Provenance]) -> GenerationStats:
        """The pipeline's stats for the same generation (draft = the draft, verifier = every assistant).

        ``mean_accepted_length`` is output tokens per round (one review pass per assistant);
        ``provenance`` holds one entry per output token (see :meth:`CoSDResult.token_provenance`).
        """
        forward_seconds = sum(self.model_seconds)
        return GenerationStats(
            prompt_tokens=self.prompt_tokens, new_tokens=self.new_tokens, rounds=self.rounds, proposed=self.drafted,
            accepted=self.kept, draft_forwards=self.forwards[0], verifier_forwards=sum(self.forwards[1:]),
            draft_seconds=self.model_seconds[0], verifier_seconds=sum(self.model_seconds[1:]),
            prefill_seconds=self.prefill_seconds, total_seconds=self.total_seconds,
            mean_accepted_length=self.tokens_per_round, acceptance_rate=self.kept_rate,
            tokens_per_second=self.tokens_per_second,
            overhead_fraction=max(0.0, 1 - forward_seconds / self.total_seconds) if self.total_seconds > 0 else 0.0,
            accepted_histogram=list(self.kept_histogram),
            provenance_counts=dict(Counter(p.value for p in provenance)),
        )


@dataclass(frozen=True)
class CoSDResult:
    """A finished generation. ``"".join(s.text for s in segments) == text``; ``token_ids`` are the draft's."""

    text: str
    token_ids: list[int]
    segments: list[Segment]
    stats: CoSDStats
    finish_reason: str
    method: str
    prompt_token_ids: list[int] = field(repr=False)

    def token_provenance(self, tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[Provenance]]:
        """Author and provenance of each of ``token_ids`` (``tokenizer`` is the draft's).

        Across tokenizers authorship is per segment, not per draft token; a token takes the
        segment where its text begins (a token that adds no whole character, the one it helps
        finish). This is what the pipeline's per-token ``provenance`` needs.
        """
        owners = token_owners(tokenizer, self.token_ids, self.segments)
        return [o.author for o in owners], [o.provenance for o in owners]

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "token_ids": self.token_ids,
            "segments": [s.to_dict() for s in self.segments],
            "finish_reason": self.finish_reason,
            "method": self.method,
            "stats": self.stats.to_dict(),
        }


@dataclass(frozen=True)
class CoSDChunk:
    """Text that became final since the previous chunk; the last chunk carries the result.

    ``segments`` are the round's authored text; ``token_ids`` the draft ids the output gained
    (fewer than the round's when a stop string cut it), so the chunks' ids add up to the result's.
    """

    text: str
    segments: list[Segment]
    record: CoSDRound | None = None
    result: CoSDResult | None = None
    token_ids: list[int] = field(default_factory=list)


def token_owners(
    tokenizer: PreTrainedTokenizerBase, token_ids: Sequence[int], segments: Sequence[Segment], start: int = 0
) -> list[Segment]:
    """The segment each of ``token_ids[start:]`` belongs to (``segments`` cover the ids' text from the start).

    A token takes the segment where its text begins; one that adds no whole character, the one
    it helps finish. Decoding prefixes (not single tokens) keeps multi-byte characters whole.
    """
    owners = [segment for segment in segments for _ in segment.text]
    found: list[Segment] = []
    offset = len(clean(decode(tokenizer, token_ids[:start])))
    for n in range(start + 1, len(token_ids) + 1):
        found.append(owners[min(offset, len(owners) - 1)] if owners else _UNWRITTEN)
        offset = len(clean(decode(tokenizer, token_ids[:n])))
    return found


# The owner of tokens with no text at all (an answer that is only EOS): the draft wrote them.
_UNWRITTEN = Segment("", 0, Provenance.DRAFT)


def summarize(
    models: Sequence[str], records: Sequence[CoSDRound], segments: Sequence[Segment], *,
    prompt_tokens: int, new_tokens: int, total_seconds: float,
) -> CoSDStats:
    """Fold round records and the final segments into stats."""
    decode = [r for r in records if not r.is_prefill]
    drafted = sum(r.drafted for r in decode)
    authored = [0] * len(models)
    for segment in segments:
        authored[segment.author] += len(segment.text)
    return CoSDStats(
        models=list(models),
        prompt_tokens=prompt_tokens,
        new_tokens=new_tokens,
        rounds=len(decode),
        drafted=drafted,
        kept=sum(r.kept for r in decode),
        compared=sum(r.compared for r in decode),
        replacements=sum(r.replaced_by is not None for r in decode),
        forwards=[sum(r.forwards[m] for r in records) for m in range(len(models))],
        model_seconds=[sum(r.seconds[m] for r in records) for m in range(len(models))],
        prefill_seconds=sum(r.wall_seconds for r in records if r.is_prefill),
        total_seconds=total_seconds,
        tokens_per_second=new_tokens / total_seconds if total_seconds > 0 else 0.0,
        tokens_per_round=new_tokens / len(decode) if decode else 0.0,
        kept_rate=sum(r.kept for r in decode) / drafted if drafted else None,
        replacement_rate=sum(r.replaced_by is not None for r in decode) / len(decode) if decode else None,
        authored_chars=authored,
        kept_histogram=_histogram([r.kept for r in decode if r.drafted]),
    )


def _histogram(values: Sequence[int]) -> list[int]:
    """``counts[n]`` = how many values equal ``n``."""
    counts = Counter(values)
    return [counts.get(n, 0) for n in range(max(values) + 1)] if values else []


def fit_segments(segments: Sequence[Segment], text: str) -> list[Segment]:
    """The segments cut (stop string, token budget) or stretched (a cut character's remainder) to ``text``.

    Segments hold whole characters only; the final text may end in fewer characters (a stop
    string) or, when the token budget ran out inside a multi-byte character, in a replacement
    character, which goes to the last segment's author.
    """
    fitted: list[Segment] = []
    used = 0
    for segment in segments:
        if used >= len(text):
            break
        piece = text[used : used + len(segment.text)]
        fitted.append(replace(segment, text=piece))
        used += len(piece)
    if used < len(text):
        last = fitted.pop() if fitted else _UNWRITTEN
        fitted.append(replace(last, text=last.text + text[used:]))
    return [s for s in fitted if s.text]
