"""What the judge can see at a mined mismatch, read on any backend and cached per item.

At a mismatch the verification pass has: the verifier's hidden state after reading the drafted
token (what the judge head reads today), the verifier's logits for that slot, and the draft's
logits (and its hidden state) that proposed the token. From the two distributions come a few
numbers that need no training: how likely the verifier finds the drafted token, how far it is
from the verifier's own choice, both entropies, and how much the two models disagree overall.

Extraction walks each item's answer once per model with the backend's own cache: forward the
answer up to a mismatch, read the drafted token, roll it back, go on. Any ``ModelBackend`` works.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from verispec.backends.base import ModelBackend
from verispec.training.judge.mining.records import MinedData, MinedItem

FEATURES_VERSION = 1
LOGIT_FEATURES = (
    "verifier_logp",  # log q(x): the verifier's log-probability of the drafted token
    "verifier_gap",  # log q(argmax) - log q(x)
    "verifier_entropy",
    "draft_logp",  # log p(x) under the draft
    "draft_entropy",
    "draft_logp_of_verifier_choice",  # how plausible the verifier's own token is to the draft
    "kl_draft_verifier",  # KL(p || q) over the whole vocabulary
)


@dataclass(frozen=True)
class MismatchFeatures:
    """Per labelled mismatch: the three feature blocks, the label, and which item it belongs to."""

    verifier_hidden: torch.Tensor  # [N, dv]
    draft_hidden: torch.Tensor  # [N, dd]
    logits: torch.Tensor  # [N, len(LOGIT_FEATURES)]
    important: torch.Tensor  # [N] bool
    items: tuple[str, ...]  # "task/item_id" per row: the groups of cross-validation
    tasks: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.important.shape[0])


@dataclass(frozen=True)
class _ItemFeatures:
    positions: list[int]
    verifier_hidden: torch.Tensor
    draft_hidden: torch.Tensor
    logits: torch.Tensor


def extract_mined_features(
    data: MinedData, verifier: ModelBackend, draft: ModelBackend, *, cache_dir: Path | None = None, progress: bool = True
) -> MismatchFeatures:
    """The features of every labelled mismatch in ``data``; each item's from the cache when there."""
    rows: list[tuple[MinedItem, _ItemFeatures, list[bool]]] = []
    for key, item in tqdm(data.items.items(), desc="mismatch features", unit="item", disable=not progress):
        labels = sorted(data.mismatches.get(key, {}).items())
        if labels:
            positions = [p for p, _ in labels]
            rows.append((item, _cached(item, positions, verifier, draft, cache_dir), [m.important for _, m in labels]))
    return MismatchFeatures(
        verifier_hidden=torch.cat([f.verifier_hidden for _, f, _ in rows]),
        draft_hidden=torch.cat([f.draft_hidden for _, f, _ in rows]),
        logits=torch.cat([f.logits for _, f, _ in rows]),
        important=torch.tensor([i for _, _, important in rows for i in important], dtype=torch.bool),
        items=tuple(f"{item.task}/{item.item_id}" for item, f, _ in rows for _ in f.positions),
        tasks=tuple(item.task for item, f, _ in rows for _ in f.positions),
    )


def _cached(item: MinedItem, positions: list[int], verifier: ModelBackend, draft: ModelBackend,
            cache_dir: Path | None) -> _ItemFeatures:
    key = json.dumps([FEATURES_VERSION, item.task, item.item_id, item.prompt_ids, item.answer_ids, positions,
                      verifier.identity().name, verifier.precision(), draft.identity().name, draft.precision()])
    path = cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.pt" if cache_dir is not None else None
    if path is not None and path.is_file():
        return _ItemFeatures(**torch.load(path, weights_only=True))
    features = item_features(item, positions, verifier, draft)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        torch.save(features.__dict__, partial)
        partial.replace(path)  # a reader never sees half a file
    return features


def item_features(item: MinedItem, positions: Sequence[int], verifier: ModelBackend, draft: ModelBackend) -> _ItemFeatures:
    """The features at ``positions`` (ascending) of one mined item."""
    drafted = dict(zip(item.positions, item.draft_tokens))
    tokens = [drafted[p] for p in positions]
    v_logits, v_hidden = _walk(verifier, item.prompt_ids, item.answer_ids, positions, read=tokens)
    d_logits, d_hidden = _walk(draft, item.prompt_ids, item.answer_ids, positions, read=None)
    logits = torch.stack([logit_features(q, p, x) for q, p, x in zip(v_logits, d_logits, tokens)])
    return _ItemFeatures(list(positions), torch.stack(v_hidden), torch.stack(d_hidden), logits)


@torch.inference_mode()
def _walk(backend: ModelBackend, prompt: list[int], answer: list[int], positions: Sequence[int],
          read: list[int] | None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Logits of each slot ``p`` in ``positions``, and a hidden state per slot: with ``read``, the
    state after reading ``read[i]`` at slot ``p`` (the verifier's view of the drafted token);
    otherwise the state that predicted slot ``p`` (the draft's view when it proposed it)."""
    backend.reset()
    out = backend.forward(prompt, last_only=True, hidden=read is None)
    done, slot_logits, states = 0, [], []
    for i, position in enumerate(positions):
        if position > done:
            out = backend.forward(answer[done:position], last_only=True, hidden=read is None)
            done = position
        slot_logits.append(out.logits[-1].float().cpu())
        if read is None:
            states.append(out.hidden[-1].float().cpu())
            continue
        states.append(backend.forward([read[i]], last_only=True, hidden=True).hidden[-1].float().cpu())
        backend.rollback(len(prompt) + position)
    return slot_logits, states


def logit_features(verifier_logits: torch.Tensor, draft_logits: torch.Tensor, token: int) -> torch.Tensor:
    """The :data:`LOGIT_FEATURES` of drafted ``token`` from the two models' logits for its slot."""
    log_q = torch.log_softmax(verifier_logits.float(), dim=-1)
    n = min(log_q.shape[-1], draft_logits.shape[-1])  # padded vocabularies differ in their unused tail
    log_q = log_q[:n]
    log_p = torch.log_softmax(draft_logits.float()[:n], dim=-1)
    q, p = log_q.exp(), log_p.exp()
    choice = int(log_q.argmax())
    return torch.tensor([
        float(log_q[token]),
        float(log_q[choice] - log_q[token]),
        float(-(q * log_q).sum()),
        float(log_p[token]),
        float(-(p * log_p).sum()),
        float(log_p[choice]),
        float((p * (log_p - log_q)).sum()),
    ])
