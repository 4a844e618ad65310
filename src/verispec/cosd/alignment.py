"""How assistants review a draft and how a decision becomes committed tokens, in two settings.

- :class:`TokenAlignment`: every model shares the draft's vocabulary. The bridge is the identity on
  token ids: assistants read the draft's ids, compare token by token, and a replacement is the
  assistant's token id itself. No text is re-encoded, so nothing drifts.
- :class:`TextAlignment`: some assistant tokenizes differently. The drafted tokens are decoded to
  text; each assistant re-encodes committed + drafted text with its own tokenizer (its cache
  rolls back to the longest prefix that did not change and reads the rest in one forward pass),
  and compares at its own tokens that begin inside the drafted text. A replacement is text, cut
  into the draft text at the character where the assistant's token begins, and re-encoded for
  the draft (see :mod:`verispec.cosd.bridge`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

from verispec.cosd.bridge import (
    Position,
    added_text,
    clean,
    decode,
    encode,
    positions_from,
    reencode_after,
    text_boundary,
)
from verispec.cosd.decoding import Commit, Segment, cut_after_end, segment_owners
from verispec.cosd.features import Review, Slot, entropy
from verispec.cosd.members import Member
from verispec.provenance import Provenance
from verispec.sampling import SamplingParams, warp_probs

# A UTF-8 character has at most 4 bytes: at most 3 more byte-level tokens finish one.
MAX_CHARACTER_TOKENS = 3


@dataclass(frozen=True)
class Drafted:
    """One round's draft: the committed ids it follows, its tokens and their (warped) draft probabilities."""

    committed: list[int]
    tokens: list[int]
    probs: torch.Tensor
    ended: bool


@dataclass(frozen=True)
class Decision:
    """The first slot where a verifier took an assistant's token: ``slots[index]``, assistant ``author``."""

    index: int
    author: int


@dataclass(frozen=True)
class Reviewed:
    """A draft with its slots in order, as the assistants saw it."""

    drafted: Drafted
    slots: list[Slot]


class Alignment(ABC):
    """Builds the slots of a draft and commits a decision."""

    def __init__(self, draft: Member, assistants: Sequence[Member]) -> None:
        self.draft = draft
        self.assistants = list(assistants)

    @abstractmethod
    def review(self, drafted: Drafted, params: SamplingParams) -> Reviewed:
        """Every assistant reads the draft (one forward pass each) and gives its opinion per slot."""

    @abstractmethod
    def commit(self, reviewed: Reviewed, decision: Decision | None) -> Commit:
        """The drafted tokens before the decision plus the replacement, or the whole draft."""


class TokenAlignment(Alignment):
    """All models share one vocabulary: slots are drafted tokens, replacements are token ids."""

    def __init__(self, draft: Member, assistants: Sequence[Member]) -> None:
        super().__init__(draft, assistants)
        self.end_ids = frozenset().union(draft.end_ids, *(a.end_ids for a in assistants))

    def review(self, drafted: Drafted, params: SamplingParams) -> Reviewed:
        x = torch.tensor(drafted.tokens)
        per_assistant = [self._opinions(a, drafted, x, params) for a in self.assistants]
        q = drafted.probs
        draft_probs = q.gather(-1, x.to(q.device).unsqueeze(-1)).squeeze(-1).tolist()
        draft_entropy = entropy(q).tolist()
        slots = [
            Slot(i, i, draft_probs[i], draft_entropy[i], tuple(reviews[i] for reviews in per_assistant))
            for i in range(len(drafted.tokens))
        ]
        return Reviewed(drafted, slots)

    def _opinions(self, assistant: Member, drafted: Drafted, x: torch.Tensor, params: SamplingParams) -> list[Review]:
        ids = [*assistant.prompt_ids, *drafted.committed, *drafted.tokens]
        rows = assistant.scorer.score(ids, len(assistant.prompt_ids) + len(drafted.committed) - 1)
        probs = warp_probs(rows[: len(drafted.tokens)], params)
        top_prob, top = probs.max(dim=-1)
        agrees = (top.cpu() == x).tolist()
        return [
            Review(i, agrees[i], int(top[i]), float(top_prob[i]), float(h), i)
            for i, h in enumerate(entropy(probs).tolist())
        ]

    def commit(self, reviewed: Reviewed, decision: Decision | None) -> Commit:
        drafted, slots = reviewed.drafted, reviewed.slots
        kept = len(slots) if decision is None else decision.index
        new = drafted.tokens[:kept]
        authors = [0] * kept
        why = [Provenance.EXACT if s.agreed else Provenance.RELAXED for s in slots[:kept]]
        if decision is not None:
            review = slots[decision.index].reviews[decision.author - 1]
            assert review is not None
            new, authors, why = [*new, review.top_token], [*authors, decision.author], [*why, Provenance.REPLACED]
        new, ended = cut_after_end(new, self.end_ids)
        return Commit(new, authors[: len(new)], why[: len(new)], ended, drafted=len(drafted.tokens))


@dataclass(frozen=True)
class DraftText:
    """Where the drafted tokens' text lies in the generated text (character offsets).

    ``text`` is the whole generated text so far plus the draft's (whole characters only);
    ``committed`` its committed length; ``ends[t]`` where drafted token ``t``'s text ends and
    ``whole[t]`` whether the text of the tokens up to ``t`` ends on a whole character.
    """

    text: str
    committed: int
    ends: list[int]
    whole: list[bool]

    @classmethod
    def of(cls, tokenizer: PreTrainedTokenizerBase, drafted: Drafted) -> DraftText:
        bounds = [text_boundary(tokenizer, [*drafted.committed, *drafted.tokens[: t + 1]]) for t in range(len(drafted.tokens))]
        return cls(
            text=clean(decode(tokenizer, [*drafted.committed, *drafted.tokens])),
            committed=len(decode(tokenizer, drafted.committed)),
            ends=[end for end, _ in bounds],
            whole=[whole for _, whole in bounds],
        )

    def start(self, t: int) -> int:
        return self.ends[t - 1] if t else self.committed

    def covering(self, offset: int) -> int:
        """The drafted token whose text holds the character at ``offset`` (the last token at the end)."""
        return next((t for t, end in enumerate(self.ends) if end > offset), len(self.ends) - 1)

    def whole_tokens(self, limit: int) -> int:
        """How many leading drafted tokens end on a whole character at or before offset ``limit``."""
        return max([0, *(t + 1 for t, (end, whole) in enumerate(zip(self.ends, self.whole)) if whole and end <= limit)])


@dataclass(frozen=True)
class TextReviewed(Reviewed):
    """A reviewed draft in text space: the draft's text layout and each assistant's ids for the text."""

    layout: DraftText
    assistant_ids: list[list[int]]


class TextAlignment(Alignment):
    """Models with different tokenizers: slots are character offsets where assistants' tokens begin."""

    def review(self, drafted: Drafted, params: SamplingParams) -> TextReviewed:
        layout = DraftText.of(self.draft.tokenizer, drafted)
        assistant_ids = [encode(a.tokenizer, layout.text) for a in self.assistants]
        per_assistant = [
            {r.key: r for r in self._opinions(a, ids, layout, drafted.ended, params)}
            for a, ids in zip(self.assistants, assistant_ids)
        ]
        q = drafted.probs
        q_entropy = entropy(q).tolist()
        slots = []
        for key in sorted(set().union(*per_assistant)):
            t = layout.covering(key)
            reviews = tuple(opinions.get(key) for opinions in per_assistant)
            slots.append(Slot(key, t, float(q[t, drafted.tokens[t]]), q_entropy[t], reviews))
        return TextReviewed(drafted, slots, layout, assistant_ids)

    def _opinions(
        self, assistant: Member, ids: list[int], layout: DraftText, ended: bool, params: SamplingParams
    ) -> list[Review]:
        """Reviews at the assistant's tokens that begin inside the drafted text, and at its end after an EOS.

        The assistant agrees where its top token is its own token for the drafted text, or, the
        draft going on, spells all the drafted text left (see :meth:`_spells_the_rest`). Where
        the draft ended with EOS, it agrees iff it would end there too.
        """
        positions = positions_from(assistant.tokenizer, ids, layout.committed)
        if not positions and not ended:
            return []
        first = positions[0].index if positions else len(ids)
        rows = assistant.scorer.score([*assistant.prompt_ids, *ids], len(assistant.prompt_ids) + first - 1)
        probs = warp_probs(rows, params)
        top_prob, top = probs.max(dim=-1)
        h = entropy(probs)
        reviews = []
        for position in positions:
            r, y = position.index - first, int(top[position.index - first])
            agrees = y == ids[position.index] or (not ended and self._spells_the_rest(assistant, ids, position, y, layout))
            reviews.append(Review(position.start, agrees, y, float(top_prob[r]), float(h[r]), position.index))
        if ended:
            r, y = len(ids) - first, int(top[len(ids) - first])
            reviews.append(Review(len(layout.text), y in assistant.end_ids, y, float(top_prob[r]), float(h[r]), len(ids)))
        return reviews

    @staticmethod
    def _spells_the_rest(assistant: Member, ids: list[int], position: Position, top: int, layout: DraftText) -> bool:
        """Whether the top token's text starts with all the drafted text left from ``position``.

        The draft stops at an arbitrary point, and the assistant's tokens for the last few
        characters are then cut short (" th" is " t" + "h" until "e" follows and they merge into
        " the"). A top token that spells everything drafted from here and maybe more agrees with
        the draft; only the next round can tell.
        """
        return added_text(assistant.tokenizer, ids[: position.index], [top])[0].startswith(layout.text[position.start :])

    def commit(self, reviewed: Reviewed, decision: Decision | None) -> Commit:
        assert isinstance(reviewed, TextReviewed)
        if decision is None:
            return self._keep_all(reviewed)
        slot = reviewed.slots[decision.index]
        review = slot.reviews[decision.author - 1]
        assert review is not None
        assistant = self.assistants[decision.author - 1]
        ended = review.top_token in assistant.end_ids
        replacement = "" if ended else self._replacement_text(assistant, reviewed.assistant_ids[decision.author - 1], review)
        if not ended and not replacement:
            return self._keep_all(reviewed)  # the assistant could not finish a character: keep the draft
        drafted, layout = reviewed.drafted, reviewed.layout
        keep, tail = reencode_after(self.draft.tokenizer, drafted.committed, drafted.tokens, slot.key - layout.committed, replacement)
        segments = self._draft_segments(reviewed, slot.key)
        if replacement:
            segments.append(Segment(replacement, decision.author, Provenance.REPLACED))
        return self._commit(drafted, [*drafted.tokens[:keep], *tail], segments, ended, (decision.author, Provenance.REPLACED))

    def _keep_all(self, reviewed: TextReviewed) -> Commit:
        """Commit the draft up to its last whole character (all of it, as drafting ends on one)."""
        drafted, layout = reviewed.drafted, reviewed.layout
        n = layout.whole_tokens(len(layout.text)) or len(drafted.tokens)
        segments = self._draft_segments(reviewed, len(layout.text))
        # A drafted end token has no text: it is exact when every assistant would end there too.
        at_end = [s for s in reviewed.slots if s.key >= len(layout.text)]
        end = (0, Provenance.EXACT if all(s.agreed for s in at_end) else Provenance.RELAXED)
        return self._commit(drafted, drafted.tokens[:n], segments, drafted.ended and n == len(drafted.tokens), end)

    def _commit(
        self, drafted: Drafted, new: list[int], segments: list[Segment], ended: bool, end: tuple[int, Provenance]
    ) -> Commit:
        """The round's new draft ids, each owned by the segment its text begins in (``end`` past the text)."""
        authors, provenance = segment_owners(self.draft, drafted.committed, new, segments, end)
        return Commit(new, authors, provenance, ended, drafted=len(drafted.tokens))

    def _draft_segments(self, reviewed: TextReviewed, cut: int) -> list[Segment]:
        """One segment per drafted token for the draft text before offset ``cut``.

        A token is ``exact`` when every assistant that compared inside it agreed, else ``relaxed``.
        """
        layout, segments = reviewed.layout, []
        for t, end in enumerate(layout.ends):
            start = layout.start(t)
            if start >= cut:
                break
            inside = [s for s in reviewed.slots if start <= s.key < min(end, cut)]
            why = Provenance.EXACT if all(s.agreed for s in inside) else Provenance.RELAXED
            if end > start:
                segments.append(Segment(layout.text[start : min(end, cut)], 0, why))
        return segments

    def _replacement_text(self, assistant: Member, ids: list[int], review: Review) -> str:
        """The text of the assistant's top token, finished to a whole character by its next top tokens.

        A byte-level token can stop inside a multi-byte character; the assistant then writes the
        rest greedily (one forward pass per token, at most three). Empty if it cannot.
        """
        prefix, tokens = ids[: review.index], [review.top_token]
        text, whole = added_text(assistant.tokenizer, prefix, tokens)
        while not whole and len(tokens) <= MAX_CHARACTER_TOKENS:
            context = [*assistant.prompt_ids, *prefix, *tokens]
            token = int(assistant.scorer.score(context, len(context) - 1)[-1].argmax())
            if token in assistant.end_ids:
                break
            tokens.append(token)
            text, whole = added_text(assistant.tokenizer, prefix, tokens)
        return text
