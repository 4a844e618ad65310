"""The verifier's hidden states at labelled response tokens: one forward pass per sample, cached.

Extraction runs the verifier through the same backend call that decoding uses
(``forward(..., hidden=True)``), so the head is trained on exactly the states the rule will see:
the last layer after the final norm, at each token's own position (for a drafted token, the state
after reading it). Each sample is fed as prompt (chat template with the generation prompt) plus the
response tokens up to its bad token; later tokens are not labelled and, the model being causal,
change nothing before them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import PreTrainedTokenizerBase

from verispec.backends import ModelBackend, TransformersBackend
from verispec.judge.head import VerifierIdentity
from verispec.models.cache import cache_root
from verispec.tokens import encode_prompt
from verispec.training.judge.labels import label_tokens
from verispec.training.judge.samples import JudgeSample, in_validation

# Bump when labelling or extraction changes, so stale caches are not reused.
FEATURES_VERSION = 1
_LOGIT_CHUNK = 256  # rows of the output layer at a time: a full [T, V] block can take gigabytes


@dataclass(frozen=True)
class TokenFeatures:
    """Labelled response tokens of a data set.

    ``hidden`` ``[N, d]`` float32; ``good`` ``[N]``; ``exact`` ``[N]``: the token is the verifier's
    greedy choice after its prefix, i.e. what the greedy exact check would keep; ``sample`` ``[N]``
    indexes ``sample_ids``. ``skipped`` lists samples that gave no tokens or did not fit the context.
    """

    hidden: torch.Tensor
    good: torch.Tensor
    exact: torch.Tensor
    sample: torch.Tensor
    sample_ids: tuple[str, ...]
    skipped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.good.shape[0])

    def select(self, mask: torch.Tensor) -> TokenFeatures:
        """The tokens where ``mask`` is true (sample ids keep their indices)."""
        return TokenFeatures(self.hidden[mask], self.good[mask], self.exact[mask], self.sample[mask], self.sample_ids, self.skipped)

    def sample_ids_present(self) -> set[str]:
        """The ids of the samples that have tokens here."""
        return {self.sample_ids[i] for i in set(self.sample.tolist())}

    def split(self, val_fraction: float) -> tuple[TokenFeatures, TokenFeatures]:
        """(train, validation), whole samples on one side, by a stable hash of the sample id."""
        in_val = torch.tensor([in_validation(i, val_fraction) for i in self.sample_ids], dtype=torch.bool)
        mask = in_val[self.sample] if len(self) else torch.zeros(0, dtype=torch.bool)
        return self.select(~mask), self.select(mask)

    def counts(self) -> dict[str, int]:
        """Tokens, good and bad tokens, samples: for summaries."""
        good = int(self.good.sum())
        return {"tokens": len(self), "good": good, "bad": len(self) - good, "samples": len(set(self.sample.tolist()))}


def default_cache_dir() -> Path:
    """``<verispec cache>/judge-features``."""
    return cache_root() / "judge-features"


def extract_features(
    samples: Sequence[JudgeSample],
    verifier: ModelBackend,
    tokenizer: PreTrainedTokenizerBase,
    *,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> TokenFeatures:
    """Hidden states and labels of every labelled response token; each sample's from the cache when there.

    The cache keeps one file per sample, named by a hash of its contents, in a folder for the
    verifier's identity and dtype and the extraction version (:func:`cache_folder`), so adding
    samples to a data set extracts only the new ones. ``cache_dir`` None disables the cache.
    """
    folder = cache_dir / cache_folder(verifier) if cache_dir is not None else None
    rows: list[tuple[torch.Tensor, list[bool], torch.Tensor]] = []
    kept_ids: list[str] = []
    skipped: list[str] = []
    for sample in tqdm(samples, desc="verifier hidden states", unit="sample", disable=not progress):
        row = _cached_features(sample, verifier, tokenizer, folder)
        if row is None:
            skipped.append(sample.id)
            continue
        rows.append(row)
        kept_ids.append(sample.id)
    if not rows:
        width = VerifierIdentity.of(verifier).hidden_size
        empty = torch.zeros(0, dtype=torch.bool)
        return TokenFeatures(torch.zeros(0, width), empty, empty, torch.zeros(0, dtype=torch.long), (), tuple(skipped))
    return TokenFeatures(
        hidden=torch.cat([h for h, _, _ in rows]),
        good=torch.tensor([g for _, good, _ in rows for g in good], dtype=torch.bool),
        exact=torch.cat([e for _, _, e in rows]),
        sample=torch.cat([torch.full((len(good),), i, dtype=torch.long) for i, (_, good, _) in enumerate(rows)]),
        sample_ids=tuple(kept_ids),
        skipped=tuple(skipped),
    )


def cache_folder(verifier: ModelBackend) -> str:
    """``<verifier>-<hash>``, the hash over the verifier's identity, precision (torch dtype or GGUF
    file) and the extraction version."""
    identity = VerifierIdentity.of(verifier)
    key = hashlib.sha256(json.dumps([FEATURES_VERSION, asdict(identity), verifier.precision()]).encode())
    safe_name = "".join(c if c.isalnum() or c in "._-" else "_" for c in identity.name)
    return f"{safe_name}-{key.hexdigest()[:20]}"


def _cached_features(
    sample: JudgeSample, verifier: ModelBackend, tokenizer: PreTrainedTokenizerBase, folder: Path | None
) -> tuple[torch.Tensor, list[bool], torch.Tensor] | None:
    """:func:`_sample_features`, read from or written to ``folder`` (None: no cache)."""
    path = folder / f"{sample.fingerprint()[:32]}.pt" if folder is not None else None
    if path is not None and path.is_file():
        stored = torch.load(path, weights_only=True)
        return None if stored["skipped"] else (stored["hidden"], stored["good"].tolist(), stored["exact"])
    row = _sample_features(sample, verifier, tokenizer)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        stored = {"skipped": True} if row is None else {"skipped": False, "hidden": row[0], "good": torch.tensor(row[1]), "exact": row[2]}
        partial = path.with_suffix(".tmp")
        torch.save(stored, partial)
        partial.replace(path)  # a reader never sees half a file
    return row


def _sample_features(
    sample: JudgeSample, verifier: ModelBackend, tokenizer: PreTrainedTokenizerBase
) -> tuple[torch.Tensor, list[bool], torch.Tensor] | None:
    """(hidden ``[n, d]``, labels, exact ``[n]``) for the ``n`` labelled tokens; None if none fit."""
    prompt = encode_prompt(tokenizer, list(sample.messages), chat=True)
    labels = label_tokens(tokenizer, sample.response, sample.error_start, sample.labels_from)
    tokens = labels.token_ids[: labels.end]
    if not labels.good or len(prompt) + len(tokens) > verifier.max_context:
        return None
    verifier.reset()
    # torch recomputes the argmax from the states in chunks (all logits at once can be large);
    # llama.cpp computes every position's logits with the hidden states anyway.
    on_torch = isinstance(verifier, TransformersBackend)
    out = verifier.forward([*prompt, *tokens], last_only=on_torch, hidden=True)
    assert out.hidden is not None
    # Row j is the state after reading token j-1 (the last prompt token for j = 0): it predicts
    # token j; the row after it is the state at token j itself, which the judge reads.
    window = out.hidden[len(prompt) - 1 :]
    greedy = _greedy_tokens(verifier, window[:-1]) if on_torch else out.logits[len(prompt) - 1 : -1].argmax(-1)
    exact = (greedy == torch.tensor(tokens, device=greedy.device)).cpu()
    return window[1 + labels.context :].float().cpu(), labels.good, exact[labels.context :]


@torch.inference_mode()
def _greedy_tokens(verifier: TransformersBackend, states: torch.Tensor) -> torch.Tensor:
    """The verifier's argmax token after each state (its output layer, in chunks)."""
    head = verifier.model.get_output_embeddings()
    return torch.cat([head(chunk).argmax(dim=-1) for chunk in states.split(_LOGIT_CHUNK)])

