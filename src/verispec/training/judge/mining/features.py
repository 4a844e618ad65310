"""What the judge can see at a mined mismatch, read on any backend and cached per item.

At a mismatch the verification pass has the verifier's hidden state after reading the drafted
token, the verifier's logits for that slot and the draft's logits that proposed the token (the
blocks of :mod:`verispec.judge.features`). The draft's hidden state there is read too, to measure
what it would add (decoding does not compute it).

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
from verispec.judge.features import logit_features
from verispec.training.judge.mining.records import MinedData, MinedItem

FEATURES_VERSION = 2


@dataclass(frozen=True)
class MismatchFeatures:
    """Per labelled mismatch: the three feature blocks, the label, and which item it belongs to."""

    verifier_hidden: torch.Tensor  # [N, dv]
    draft_hidden: torch.Tensor  # [N, dd]
    logits: torch.Tensor  # [N, len(LOGIT_FEATURES)], verispec.judge.features
    important: torch.Tensor  # [N] bool
    lookahead: torch.Tensor  # [N] bool: after the drafted token, the draft's next greedy token is the verifier's
    items: tuple[str, ...]  # "task/item_id" per row: the groups of cross-validation
    tasks: tuple[str, ...]
    tokens: tuple[tuple[int, int], ...] = ()  # (drafted token, verifier's token) per row
    correct: torch.Tensor | None = None  # [N, 2] bool: the verifier's answer right, the rollout's answer right

    def __len__(self) -> int:
        return int(self.important.shape[0])


@dataclass(frozen=True)
class _ItemFeatures:
    positions: list[int]
    verifier_hidden: torch.Tensor
    draft_hidden: torch.Tensor
    logits: torch.Tensor
    lookahead: torch.Tensor


def extract_mined_features(
    data: MinedData, verifier: ModelBackend, draft: ModelBackend, *, cache_dir: Path | None = None, progress: bool = True
) -> MismatchFeatures:
    """The features of every labelled mismatch in ``data``; each item's from the cache when there."""
    rows: list[tuple[MinedItem, _ItemFeatures, list[bool]]] = []
    tokens: list[tuple[int, int]] = []
    correct: list[tuple[bool, bool]] = []
    for key, item in tqdm(data.items.items(), desc="mismatch features", unit="item", disable=not progress):
        labels = sorted(data.mismatches.get(key, {}).items())
        if labels:
            positions = [p for p, _ in labels]
            rows.append((item, _cached(item, positions, verifier, draft, cache_dir), [m.important for _, m in labels]))
            tokens += [(m.draft_token, m.verifier_token) for _, m in labels]
            correct += [(item.correct, m.correct) for _, m in labels]
    return MismatchFeatures(
        verifier_hidden=torch.cat([f.verifier_hidden for _, f, _ in rows]),
        draft_hidden=torch.cat([f.draft_hidden for _, f, _ in rows]),
        logits=torch.cat([f.logits for _, f, _ in rows]),
        important=torch.tensor([i for _, _, important in rows for i in important], dtype=torch.bool),
        lookahead=torch.cat([f.lookahead for _, f, _ in rows]),
        items=tuple(f"{item.task}/{item.item_id}" for item, f, _ in rows for _ in f.positions),
        tasks=tuple(item.task for item, f, _ in rows for _ in f.positions),
        tokens=tuple(tokens),
        correct=torch.tensor(correct, dtype=torch.bool).reshape(-1, 2),
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
    v_logits, v_hidden, v_next = _walk(verifier, item.prompt_ids, item.answer_ids, positions, tokens, hidden_after=True)
    d_logits, d_hidden, d_next = _walk(draft, item.prompt_ids, item.answer_ids, positions, tokens, hidden_after=False)
    logits = logit_features(torch.stack(v_logits), torch.stack(d_logits), torch.tensor(tokens))
    lookahead = torch.tensor([v == d for v, d in zip(v_next, d_next)], dtype=torch.bool)
    return _ItemFeatures(list(positions), torch.stack(v_hidden), torch.stack(d_hidden), logits, lookahead)


@torch.inference_mode()
def _walk(backend: ModelBackend, prompt: list[int], answer: list[int], positions: Sequence[int], tokens: list[int],
          *, hidden_after: bool) -> tuple[list[torch.Tensor], list[torch.Tensor], list[int]]:
    """Per slot ``p`` in ``positions``: its logits, a hidden state, and the greedy token after ``tokens[i]``
    is read there. The hidden state is the one after reading ``tokens[i]`` (``hidden_after``: the
    verifier's view of the drafted token) or the one that predicted slot ``p`` (the draft's view)."""
    backend.reset()
    out = backend.forward(prompt, last_only=True, hidden=not hidden_after)
    done, slot_logits, states, following = 0, [], [], []
    for position, token in zip(positions, tokens):
        if position > done:
            out = backend.forward(answer[done:position], last_only=True, hidden=not hidden_after)
            done = position
        slot_logits.append(out.logits[-1].float().cpu())
        if not hidden_after:
            states.append(out.hidden[-1].float().cpu())
        read = backend.forward([token], last_only=True, hidden=hidden_after)
        if hidden_after:
            states.append(read.hidden[-1].float().cpu())
        following.append(int(read.logits[-1].argmax()))
        backend.rollback(len(prompt) + position)
    return slot_logits, states, following
