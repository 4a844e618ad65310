"""Prompt lookup: draft by copying what followed an earlier occurrence of the newest tokens.

No model runs. Answers often repeat their prompt (code restates signatures and names, summaries
quote their source) and themselves, so the tokens that followed the latest earlier occurrence of
the context's last n tokens are a free guess at what comes next.

The draft distribution of a copied token is one-hot. Under the exact rule this stays lossless when
sampling too: a token x with q(x) = 1 is kept with probability p(x), and a rejection samples from
``normalize(max(0, p − q))``, which is p without x. Relaxed rules apply unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from verispec.drafting.base import Draft, Drafter
from verispec.schedule import CostAwareSchedule, DraftSchedule


def find_continuation(context: Sequence[int], limit: int, max_ngram: int, min_ngram: int = 1) -> list[int]:
    """Up to ``limit`` tokens that followed the latest earlier occurrence of the context's suffix.

    Longer suffixes are tried first (``max_ngram`` down to ``min_ngram`` tokens): a longer match
    predicts better. Returns [] when no suffix of those lengths occurred before.
    """
    for n in range(min(max_ngram, len(context) - 1), min_ngram - 1, -1):
        suffix = list(context[-n:])
        for start in range(len(context) - n - 1, -1, -1):
            if list(context[start : start + n]) == suffix:
                return list(context[start + n : start + n + limit])
    return []


class PromptLookupDrafter(Drafter):
    """Proposes copied continuations (see the module docstring); ``vocab_size`` is the verifier's."""

    def __init__(
        self,
        vocab_size: int,
        *,
        max_ngram: int = 3,
        min_ngram: int = 1,
        eos_token_ids: frozenset[int] = frozenset(),
        device: torch.device | str = "cpu",
        schedule: DraftSchedule | CostAwareSchedule | None = None,
    ) -> None:
        super().__init__(schedule)
        if not 1 <= min_ngram <= max_ngram:
            raise ValueError(f"need 1 <= min_ngram <= max_ngram, got {min_ngram} and {max_ngram}")
        self.vocab_size = vocab_size
        self.max_ngram = max_ngram
        self.min_ngram = min_ngram
        self.eos_token_ids = eos_token_ids
        self.device = torch.device(device)

    def propose(self, context: Sequence[int], gamma: int, generator: torch.Generator | None) -> Draft:
        tokens = _through_eos(find_continuation(context, gamma, self.max_ngram, self.min_ngram), self.eos_token_ids)
        ids = torch.tensor(tokens, dtype=torch.long, device=self.device)
        logits = torch.full((len(tokens), self.vocab_size), float("-inf"), device=self.device)
        logits[torch.arange(len(tokens), device=self.device), ids] = 0.0
        return Draft(tokens=ids, logits=logits)


def _through_eos(tokens: list[int], eos: frozenset[int]) -> list[int]:
    """A copied end of sequence ends the draft (the verifier must confirm it like any token)."""
    for i, token in enumerate(tokens):
        if token in eos:
            return tokens[: i + 1]
    return tokens
