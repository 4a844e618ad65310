"""What a judge head reads at each drafted token: named feature blocks, the same in training and decoding.

- ``verifier_hidden``: the verifier's last hidden state after reading the drafted token (``[d]``);
- ``verifier_context``: the verifier's last hidden state that predicted the drafted token's slot
  (one row earlier in the same pass, ``[d]``): what the verifier expected before seeing the token;
- ``logits``: numbers from the two models' distributions for the token's slot (:data:`LOGIT_FEATURES`):
  how likely the verifier finds the drafted token, how far it is from the verifier's own choice,
  both entropies, how plausible the verifier's choice is to the draft, and their KL divergence.

All come from the verification pass itself (the draft's logits are what it proposed from), so
a head reading them costs nothing extra at decode time. Raw logits, before any sampling warp.
"""

from __future__ import annotations

import functools

import torch
from transformers import PreTrainedTokenizerBase

from verispec.errors import ConfigError

VERIFIER_HIDDEN, VERIFIER_CONTEXT, LOGITS = "verifier_hidden", "verifier_context", "logits"
_BOUND = 100.0  # |feature| cap: a log-probability of an impossible token is -100, not -inf
BLOCKS = (VERIFIER_HIDDEN, VERIFIER_CONTEXT, LOGITS)
HIDDEN_BLOCKS = frozenset({VERIFIER_HIDDEN, VERIFIER_CONTEXT})  # blocks that need the pass's hidden states
LOGIT_FEATURES = (
    "verifier_logp",  # log q(x): the verifier's log-probability of the drafted token
    "verifier_gap",  # log q(argmax) - log q(x)
    "verifier_entropy",
    "draft_logp",  # log p(x) under the draft
    "draft_entropy",
    "draft_logp_of_verifier_choice",  # how plausible the verifier's own token is to the draft
    "kl_draft_verifier",  # KL(p || q) over the shared vocabulary
)


CAREFUL_CHARACTERS = frozenset("0123456789+-*/%=<>!&|^~")


@functools.lru_cache(maxsize=4)
def careful_tokens(tokenizer: PreTrainedTokenizerBase) -> torch.Tensor:
    """``[V]`` bool: the vocabulary's tokens that hold a digit or an operator character."""
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return torch.tensor([bool(CAREFUL_CHARACTERS.intersection(p or "")) for p in pieces], dtype=torch.bool)


def check_blocks(blocks: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``blocks`` if every one is a known block, in any order, each once."""
    if not blocks or len(set(blocks)) != len(blocks) or set(blocks) - set(BLOCKS):
        raise ConfigError(f"judge feature blocks must be among {', '.join(BLOCKS)}, each once; got {list(blocks)}")
    return tuple(blocks)


def logit_features(verifier_logits: torch.Tensor, draft_logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """``[n, len(LOGIT_FEATURES)]`` for drafted ``tokens`` ``[n]`` from the two models' logits ``[n, V]`` for their slots.

    Vocabularies padded to different sizes are compared on their shared first columns. A draft
    without a distribution (prompt lookup: one finite logit) gives entropy 0 and log p(x) = 0.
    """
    n = min(verifier_logits.shape[-1], draft_logits.shape[-1])
    log_q = torch.log_softmax(verifier_logits[..., :n].float(), dim=-1)
    log_p = torch.log_softmax(draft_logits[..., :n].float(), dim=-1)
    q, p = log_q.exp(), log_p.exp()
    index = tokens.reshape(-1, 1).to(log_q.device)
    choice = log_q.argmax(dim=-1, keepdim=True)
    log_q_x, log_p_x = log_q.gather(-1, index)[:, 0], log_p.gather(-1, index)[:, 0]
    features = torch.stack([
        log_q_x,
        log_q.gather(-1, choice)[:, 0] - log_q_x,
        _entropy(q, log_q),
        log_p_x,
        _entropy(p, log_p),
        log_p.gather(-1, choice)[:, 0],
        (p * (log_p - log_q)).nan_to_num(0.0, posinf=0.0, neginf=0.0).sum(-1),
    ], dim=-1)
    return features.nan_to_num(0.0, posinf=_BOUND, neginf=-_BOUND).clamp(-_BOUND, _BOUND)  # log 0 stays finite


def _entropy(probs: torch.Tensor, log_probs: torch.Tensor) -> torch.Tensor:
    return -(probs * log_probs).nan_to_num(0.0).sum(-1)  # 0 · log 0 = 0


def round_features(blocks: tuple[str, ...], hidden: torch.Tensor | None, verifier_logits: torch.Tensor,
                   draft_logits: torch.Tensor, tokens: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
    """The blocks side by side, ``[n, width]`` float32, for one round's ``n`` drafted tokens.

    ``hidden`` holds the verifier's states after reading each drafted token, ``context`` the ones
    that predicted each slot (both ``[n, d]``, from the same pass).
    """
    states = {VERIFIER_HIDDEN: hidden, VERIFIER_CONTEXT: context}
    parts = []
    for block in blocks:
        if block in states:
            if states[block] is None:
                raise ConfigError(f"this judge head reads {block}, the verifier's hidden states, and none were computed")
            parts.append(states[block].float())
        else:
            parts.append(logit_features(verifier_logits, draft_logits, tokens).to(verifier_logits.device))
    return torch.cat(parts, dim=-1)
