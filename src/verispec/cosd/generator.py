"""Collaborative Speculative Decoding (CoSD): a draft writes, assistants verify, confident assistants correct.

One round:

1. The draft model writes ``γ`` tokens (greedy or sampled).
2. Each assistant reads committed text + draft in ONE forward pass and gives, at every drafted
   position, its top token, that token's probability and its entropy.
3. Position by position, a verifier (the ``α``/``β`` rule or a trained tree) picks the writer.
   At the first position where it picks an assistant whose top token differs from the draft's,
   that token replaces the drafted one and the rest of the draft is discarded.
4. The kept draft plus the replacement are committed; the draft continues from there.

No bonus token: when nothing is replaced the round commits the ``γ`` drafted tokens and no
assistant token after them, as in the paper's algorithm (assistants only ever replace; an
assistant token is written only where a verifier chose it over a drafted token).

With one vocabulary the assistants read the draft's token ids; with different tokenizers the
round runs in text space (see :mod:`verispec.cosd.alignment`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from verispec.cosd.alignment import MAX_CHARACTER_TOKENS, Alignment, Decision, Drafted, TextAlignment, TokenAlignment
from verispec.cosd.bridge import text_boundary
from verispec.cosd.decoding import Commit, FusionRounds, Generation
from verispec.cosd.features import Slot
from verispec.cosd.members import ModelLike, members_of
from verispec.cosd.rule import Verifier
from verispec.errors import ConfigError
from verispec.sampling import choose, warp_probs
from verispec.schedule import DEFAULT_GAMMA
from verispec.tokens import same_vocabulary


class CoSD(FusionRounds):
    """A draft model and one or more assistants, fused at decoding time by ``verifier``.

    ``draft`` and ``assistants`` are loaded models with their tokenizers (e.g.
    ``verispec.pipeline.ModelHandle``); class/author ``k`` is assistant ``k`` (1-based), 0 the draft.
    """

    def __init__(self, draft: ModelLike, assistants: Sequence[ModelLike], verifier: Verifier, *, gamma: int = DEFAULT_GAMMA) -> None:
        if not assistants:
            raise ConfigError("CoSD needs at least one assistant model besides the draft")
        if gamma < 1:
            raise ConfigError(f"gamma (tokens drafted per round) must be >= 1, got {gamma}")
        shared = all(same_vocabulary(draft.tokenizer, a.tokenizer) for a in assistants)
        self._seat(members_of([draft, *assistants]), shared_vocabulary=shared)
        self.verifier = verifier
        self.gamma = gamma
        self.alignment: Alignment = (TokenAlignment if shared else TextAlignment)(self.members[0], self.members[1:])

    @property
    def shares_vocabulary(self) -> bool:
        """True when every model uses the draft's vocabulary (token ids are compared directly)."""
        return isinstance(self.alignment, TokenAlignment)

    def label(self) -> str:
        return f"{self.verifier.label()},gamma={self.gamma}"

    def _commit(self, state: Generation, budget: int) -> Commit:
        drafted = self._draft(state, min(self.gamma, budget))
        reviewed = self.alignment.review(drafted, state.params)
        return self.alignment.commit(reviewed, self._decide(reviewed.slots))

    def _decide(self, slots: Sequence[Slot]) -> Decision | None:
        """The first slot where the verifier picks an assistant that disagrees with the draft."""
        for index, slot in enumerate(slots):
            author = self.verifier.choose(slot)
            review = slot.reviews[author - 1] if author else None
            if review is not None and not review.agrees:
                return Decision(index, author)
        return None

    def _draft(self, state: Generation, gamma: int) -> Drafted:
        """Up to ``gamma`` draft tokens (fewer at EOS); in text space, more until a character is whole."""
        draft = self.members[0]
        context = [*draft.prompt_ids, *state.committed]
        tokens: list[int] = []
        rows: list[torch.Tensor] = []
        while True:
            ids = [*context, *tokens]
            logits = draft.scorer.score(ids, len(ids) - 1)[-1]
            tokens.append(int(choose(logits, state.params, state.generator)))
            rows.append(logits)
            if tokens[-1] in draft.end_ids or len(tokens) >= gamma + MAX_CHARACTER_TOKENS:
                break
            if len(tokens) >= gamma and (self.shares_vocabulary or text_boundary(draft.tokenizer, [*state.committed, *tokens])[1]):
                break
        probs = warp_probs(torch.stack(rows), state.params)
        return Drafted(list(state.committed), tokens, probs, tokens[-1] in draft.end_ids)
