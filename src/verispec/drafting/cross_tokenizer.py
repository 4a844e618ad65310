"""A draft model of another tokenizer: it drafts in its own tokens, the verifier checks them as its own.

The committed output is the verifier's tokens. The drafter reads their bytes, keeps the part of its
own token sequence that still spells a prefix of them (its cache stays), re-encodes the rest with its
tokenizer, drafts, and hands the verifier token ids. Two bridges, both lossless under the verifier's
exact check:

- ``text`` (string-level): the drafted tokens' bytes are encoded with the verifier's tokenizer. A
  draft token may become several verifier tokens or part of one. The proposal is a deterministic
  function of the draft's tokens, so its draft distribution is one point: the exact test keeps a
  token with probability ``p(x)`` and otherwise samples ``p`` without ``x``, which is ``p`` whatever
  ``x`` was (Timor et al., ICML 2025, string-level exact matching). Greedy: the default.
- ``shared`` (token-level intersection): the draft samples only from the tokens both vocabularies
  spell identically, one verifier token per draft token; the draft's distribution renormalised on
  that set is the ``q`` of standard speculative sampling, which keeps more than a point proposal.
  Sampling: the default.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from verispec.backends.base import ModelBackend
from verispec.drafting.base import Draft, Drafter
from verispec.drafting.byte_vocabulary import ByteVocabulary, whole_prefix
from verispec.errors import ConfigError
from verispec.sampling import SamplingParams, choose, warp_probs
from verispec.schedule import CostAwareSchedule, DraftSchedule
from verispec.tokens import common_prefix_length

BRIDGES = ("auto", "text", "shared")


class CrossTokenizerDrafter(Drafter):
    """Drafts with ``backend`` (whose tokens ``draft`` spells) for a verifier whose tokens ``verifier`` spells.

    ``verifier_eos``: the verifier's end tokens (a drafted end token becomes the first of them);
    ``draft_eos``: the draft's. ``stop_below`` as in :class:`~verispec.drafting.ModelDrafter`.
    """

    def __init__(
        self,
        backend: ModelBackend,
        draft: ByteVocabulary,
        verifier: ByteVocabulary,
        params: SamplingParams,
        *,
        verifier_vocab_size: int,
        verifier_eos: frozenset[int],
        draft_eos: frozenset[int],
        bridge: str = "auto",
        stop_below: float = 0.0,
        schedule: DraftSchedule | CostAwareSchedule | None = None,
    ) -> None:
        super().__init__(schedule)
        if bridge not in BRIDGES:
            raise ConfigError(f"bridge must be one of {', '.join(BRIDGES)}, got {bridge!r}")
        self.backend = backend
        self.draft = draft
        self.verifier = verifier
        self.params = params
        self.verifier_vocab_size = verifier_vocab_size
        self.verifier_eos = verifier_eos
        self.draft_eos = draft_eos
        self.end_token = _preferred_end(verifier, verifier_eos)
        self.bridge = ("text" if params.greedy else "shared") if bridge == "auto" else bridge
        self.stop_below = stop_below
        draft_ids, verifier_ids = _shared_tokens(draft, verifier, backend.vocab_size, verifier_vocab_size, draft_eos, self.end_token)
        self._shared_draft, self._shared_verifier = draft_ids.to(backend.device), verifier_ids.to(backend.device)
        self._draft_of = dict(zip(verifier_ids.tolist(), draft_ids.tolist()))  # verifier id -> draft id
        self._fed: list[int] = []
        self._prompt: list[int] = []  # the draft's ids for the verifier's prompt
        self._own: list[int] = []  # the draft's ids for the committed output text it has seen
        self._own_spelled = 0  # how many committed bytes ``_own`` spells
        self._committed = bytearray()  # the bytes of the verifier's committed output
        self._read = 0  # verifier tokens (prompt included) already in ``_committed``

    def reset(self, prompt: Sequence[int]) -> None:
        super().reset(prompt)
        self.backend.reset()
        self._fed, self._own, self._own_spelled = [], [], 0
        self._prompt = self._draft_prompt(prompt)
        self._committed = bytearray()
        self._read = len(prompt)

    def _draft_prompt(self, prompt: Sequence[int]) -> list[int]:
        """The prompt as the draft reads it: the same text, special markers (chat roles) kept as text."""
        text = self.verifier.tokenizer.decode(list(prompt), skip_special_tokens=False)
        bos = self.verifier.tokenizer.bos_token
        text = text[len(bos):] if bos and text.startswith(bos) else text
        ids = self.draft.tokenizer(text, add_special_tokens=True)["input_ids"]
        return ids or [next(iter(self.draft_eos))]  # a model needs one token to predict from

    def propose(self, context: Sequence[int], gamma: int, generator: torch.Generator | None) -> Draft:
        self._committed += self.verifier.spell(context[self._read :])
        self._read = len(context)
        logits = self._catch_up()
        unseen = bytes(self._committed[self._own_spelled :])  # a cut character's first bytes
        if self.bridge == "shared":
            return self._propose_shared(logits, gamma, generator)
        return self._propose_text(logits, gamma, generator, unseen)

    def _catch_up(self) -> torch.Tensor:
        """Bring the draft's tokens in step with the committed bytes; logits after the last one."""
        self._own, self._own_spelled = self._own_tokens()
        target = [*self._prompt, *self._own]
        common = min(common_prefix_length(self._fed, target), len(target) - 1)
        self.backend.rollback(common)
        del self._fed[common:]
        return self._feed(target[common:])

    def _own_tokens(self) -> tuple[list[int], int]:
        """The draft's ids for the committed output up to its last whole character, and the bytes they spell.

        Draft tokens that spell a prefix of it stay (kept drafts cost nothing), all but the last of
        them, which is re-encoded with what follows so that the tokenizer may merge across.
        """
        committed = bytes(self._committed[: whole_prefix(bytes(self._committed))])
        kept, length = 0, 0
        for token in self._own:
            spelled = self.draft.spellings[token]
            if not committed.startswith(spelled, length):
                break
            kept, length = kept + 1, length + len(spelled)
        if length < len(committed) and kept:
            kept -= 1
            length -= len(self.draft.spellings[self._own[kept]])
        rest = self.draft.encode(committed[length:])
        return self._own[:kept] + rest, length + len(self.draft.spell(rest))

    def _feed(self, tokens: Sequence[int]) -> torch.Tensor:
        out = self.backend.forward(tokens, last_only=True)
        self._fed.extend(tokens)
        return out.logits[-1]

    def _propose_text(self, logits: torch.Tensor, gamma: int, generator: torch.Generator | None, unseen: bytes) -> Draft:
        """Draft ``gamma`` tokens freely, then spell them in verifier tokens (a point proposal each)."""
        drafted: list[int] = []
        while True:
            token = int(choose(logits, self.params, generator))
            drafted.append(token)
            if len(drafted) == gamma or token in self.draft_eos or not self._confident(logits, token):
                break
            logits = self._feed([token])
        spelled = self.draft.spell(drafted)
        if not spelled.startswith(unseen):
            return self._point_draft([], logits.device)
        ids = self._in_range(self.verifier.encode(spelled[len(unseen) :]))
        if drafted[-1] in self.draft_eos and self.verifier.spell(ids) == spelled[len(unseen) :]:
            ids.append(self.end_token)
        return self._point_draft(ids[:gamma], logits.device)

    def _propose_shared(self, logits: torch.Tensor, gamma: int, generator: torch.Generator | None) -> Draft:
        """Draft from the shared tokens only, each choice made on the verifier's side of the map."""
        tokens: list[int] = []
        rows: list[torch.Tensor] = []
        while True:
            row = torch.full((self.verifier_vocab_size,), float("-inf"), device=logits.device)
            row[self._shared_verifier] = logits[self._shared_draft].float()
            token = int(choose(row, self.params, generator))
            tokens.append(token)
            rows.append(row)
            if len(tokens) == gamma or token in self.verifier_eos or not self._confident(row, token):
                break
            logits = self._feed([self._draft_of[token]])
        return Draft(torch.tensor(tokens, dtype=torch.long, device=logits.device), torch.stack(rows))

    def _confident(self, logits: torch.Tensor, token: int) -> bool:
        return not self.stop_below or float(warp_probs(logits, self.params)[token]) >= self.stop_below

    def _in_range(self, ids: list[int]) -> list[int]:
        """Up to the first id the verifier's output layer does not have (its tokenizer may be larger)."""
        for i, token in enumerate(ids):
            if token >= self.verifier_vocab_size or token in self.verifier.special_ids:
                return ids[:i]
        return ids

    def _point_draft(self, ids: list[int], device: torch.device) -> Draft:
        """A draft whose distribution at each position is the one token proposed (log 1 = 0, else -inf)."""
        logits = torch.full((len(ids), self.verifier_vocab_size), float("-inf"), device=device)
        tokens = torch.tensor(ids, dtype=torch.long, device=device)
        logits[torch.arange(len(ids), device=device), tokens] = 0.0
        return Draft(tokens, logits)


def _preferred_end(verifier: ByteVocabulary, eos: frozenset[int]) -> int:
    """The end token a drafted end becomes: the tokenizer's own EOS when it ends generation."""
    own = verifier.tokenizer.eos_token_id
    if own in eos or not eos:
        return int(own) if own is not None else -1
    return min(eos)


def _shared_tokens(
    draft: ByteVocabulary, verifier: ByteVocabulary, draft_size: int, verifier_size: int,
    draft_eos: frozenset[int], end_token: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draft ids and the verifier ids that spell the same bytes (sorted by verifier id), end tokens paired."""
    by_spelling: dict[bytes, int] = {}
    for i in range(min(verifier_size, verifier.size)):
        spelled = verifier.spellings[i]
        if spelled and spelled not in by_spelling:
            by_spelling[spelled] = i
    pairs = {by_spelling[s]: d for d, s in enumerate(draft.spellings[:draft_size]) if s in by_spelling}
    ends = [d for d in sorted(draft_eos) if d < draft_size]
    if ends and 0 <= end_token < verifier_size:
        pairs.setdefault(end_token, ends[0])
    order = sorted(pairs)
    return torch.tensor([pairs[v] for v in order], dtype=torch.long), torch.tensor(order, dtype=torch.long)

