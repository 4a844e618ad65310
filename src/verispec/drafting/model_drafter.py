"""A small causal LM as the drafter, keeping its KV cache in step with the committed context."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from verispec.backends.base import ModelBackend
from verispec.drafting.base import Draft, Drafter
from verispec.sampling import SamplingParams, choose, warp_probs
from verispec.schedule import CostAwareSchedule, DraftSchedule
from verispec.tokens import common_prefix_length


class ModelDrafter(Drafter):
    """Drafts autoregressively with a model backend.

    The drafter remembers which tokens it has fed to its model. Before each proposal it keeps the
    longest cached prefix that still agrees with the committed context and feeds only the rest
    (usually the verifier's one replacement token, or two tokens after a fully kept draft).

    ``stop_below``: stop drafting once the draft's probability of its own token falls below this
    (0 disables); a cheap guess that the verifier will reject what follows.

    ``draft_vocab``: draft only from the ``draft_vocab`` lowest token ids (BPE vocabularies number
    tokens roughly by frequency), the special tokens and the prompt's tokens; 0 uses every token.
    The output layer then costs a fraction of the full one. Verification is unchanged, so this is
    lossless: a token the drafter cannot propose is simply rejected and written by the verifier.
    """

    def __init__(
        self,
        backend: ModelBackend,
        params: SamplingParams,
        *,
        eos_token_ids: frozenset[int] = frozenset(),
        vocab_size: int | None = None,
        stop_below: float = 0.0,
        draft_vocab: int = 0,
        special_token_ids: Sequence[int] = (),
        schedule: DraftSchedule | CostAwareSchedule | None = None,
    ) -> None:
        super().__init__(schedule)
        self.backend = backend
        self.params = params
        self.eos_token_ids = eos_token_ids
        self.vocab_size = vocab_size or backend.vocab_size
        self.stop_below = stop_below
        self.draft_vocab = draft_vocab
        self.special_token_ids = tuple(special_token_ids)
        self._fed: list[int] = []

    def reset(self, prompt: Sequence[int]) -> None:
        super().reset(prompt)
        self.backend.reset()
        self._fed = []
        if self.draft_vocab and self.draft_vocab < self.backend.vocab_size:
            self.backend.restrict_vocabulary(self._vocabulary(prompt))

    def _vocabulary(self, prompt: Sequence[int]) -> torch.Tensor:
        """Frequent ids, special tokens and the prompt's own tokens (often copied: names, numbers)."""
        extra = torch.tensor([*self.eos_token_ids, *self.special_token_ids, *prompt], dtype=torch.long)
        ids = torch.cat([torch.arange(self.draft_vocab), extra[extra < self.backend.vocab_size]])
        return torch.unique(ids)

    def propose(self, context: Sequence[int], gamma: int, generator: torch.Generator | None) -> Draft:
        logits = self._catch_up(context)
        tokens: list[int] = []
        rows: list[torch.Tensor] = []
        while True:
            token, confident = self._pick(logits, generator)
            tokens.append(token)
            rows.append(logits)
            if len(tokens) == gamma or token in self.eos_token_ids or not confident:
                break
            logits = self._feed([token])
        return Draft(
            tokens=torch.tensor(tokens, dtype=torch.long, device=logits.device),
            logits=self._pad(torch.stack(rows)),
        )

    def _catch_up(self, context: Sequence[int]) -> torch.Tensor:
        """Roll back to the agreeing prefix, feed the rest; logits after the last context token."""
        common = common_prefix_length(self._fed, context)
        common = min(common, len(context) - 1)  # the last token must be fed to get its logits
        self.backend.rollback(common)
        del self._fed[common:]
        return self._feed(context[common:])

    def _feed(self, tokens: Sequence[int]) -> torch.Tensor:
        out = self.backend.forward(tokens, last_only=True)
        self._fed.extend(tokens)
        return out.logits[-1]

    def _pick(self, logits: torch.Tensor, generator: torch.Generator | None) -> tuple[int, bool]:
        token = int(choose(logits, self.params, generator))
        if not self.stop_below:
            return token, True
        confidence = float(warp_probs(logits, self.params)[token])
        return token, confidence >= self.stop_below

    def _pad(self, logits: torch.Tensor) -> torch.Tensor:
        """Pad draft logits with -inf to the verifier's width (same tokenizer, padded embeddings)."""
        missing = self.vocab_size - logits.shape[-1]
        if missing <= 0:
            return logits[..., : self.vocab_size]
        return torch.nn.functional.pad(logits, (0, missing), value=float("-inf"))
