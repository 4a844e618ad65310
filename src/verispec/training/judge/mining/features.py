"""What the judge can see at a mined mismatch, read on any backend and cached per item.

At a mismatch the verification pass has the verifier's hidden state after reading the drafted
token, the verifier's state that predicted the slot (one row earlier), the verifier's logits for
that slot and the draft's logits that proposed the token (the blocks of
:mod:`verispec.judge.features`). One more state is read to measure what it would add: the draft's
hidden state that proposed the token (decoding does not keep it).

Extraction walks each item's answer once per model with the backend's own cache: forward the
answer up to a mismatch, read the drafted token, roll it back, go on. Any ``ModelBackend`` works.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from verispec.backends.base import ModelBackend
from verispec.judge.features import logit_features
from verispec.training.judge.mining.records import MinedData, MinedItem

FEATURES_VERSION = 3


@dataclass(frozen=True)
class MismatchFeatures:
    """Per labelled mismatch: the feature blocks, the label, and which item it belongs to."""

    verifier_hidden: torch.Tensor  # [N, dv]
    verifier_context: torch.Tensor  # [N, dv]: the verifier's state that predicted the slot
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
    verifier_context: torch.Tensor
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
        verifier_context=torch.cat([f.verifier_context for _, f, _ in rows]),
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
    v = _walk(verifier, item.prompt_ids, item.answer_ids, positions, tokens, after=True)
    d = _walk(draft, item.prompt_ids, item.answer_ids, positions, tokens, after=False)
    logits = logit_features(torch.stack(v.logits), torch.stack(d.logits), torch.tensor(tokens))
    lookahead = torch.tensor([a == b for a, b in zip(v.following, d.following)], dtype=torch.bool)
    return _ItemFeatures(list(positions), torch.stack(v.after), torch.stack(v.before), torch.stack(d.before),
                         logits, lookahead)


@dataclass
class _Walk:
    logits: list[torch.Tensor] = field(default_factory=list)  # per slot, the logits that predicted it
    before: list[torch.Tensor] = field(default_factory=list)  # the hidden state that predicted it
    after: list[torch.Tensor] = field(default_factory=list)  # the hidden state after reading the drafted token
    following: list[int] = field(default_factory=list)  # the greedy token after the drafted one


@torch.inference_mode()
def _walk(backend: ModelBackend, prompt: list[int], answer: list[int], positions: Sequence[int], tokens: list[int],
          *, after: bool) -> _Walk:
    """Per slot ``p`` in ``positions``, with ``tokens[i]`` read there: what :class:`_Walk` holds
    (``after`` states only when asked: the verifier's view of the drafted token)."""
    backend.reset()
    out = backend.forward(prompt, last_only=True, hidden=True)
    done, walk = 0, _Walk()
    for position, token in zip(positions, tokens):
        if position > done:
            out = backend.forward(answer[done:position], last_only=True, hidden=True)
            done = position
        walk.logits.append(out.logits[-1].float().cpu())
        walk.before.append(out.hidden[-1].float().cpu())
        read = backend.forward([token], last_only=True, hidden=after)
        if after:
            walk.after.append(read.hidden[-1].float().cpu())
        walk.following.append(int(read.logits[-1].argmax()))
        backend.rollback(len(prompt) + position)
    return walk
