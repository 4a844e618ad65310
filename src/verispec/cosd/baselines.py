"""CoSD's baselines that need more than one model: Avg decoding and a Co-LLM-style learned deferral.

Both pick one token at a time and need one shared vocabulary. (Draft-only, assistant-only and
speculative decoding are the pipeline's ``draft``, ``verifier`` and ``sd`` methods.)

- **Avg decoding**: every model reads the text; the token comes from the mean of their
  next-token distributions.
- **Deferral** (after Co-LLM, Shen et al. 2024): the draft writes; before each token a classifier
  on the draft's own confidence decides whether to defer that token to an assistant. Trained, like
  the CoSD tree, on a few reference answers (which model's top token matches the reference). An
  assistant reads only when deferred to, catching up on the tokens it missed in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from verispec.cosd.decoding import Commit, FusionRounds, Generation, cut_after_end
from verispec.cosd.features import DRAFT_FEATURES, entropy
from verispec.cosd.members import Member, ModelLike, members_of
from verispec.cosd.trained import ClassifierFile, ModelIdentity, require_sklearn
from verispec.errors import ConfigError, VocabularyMismatchError
from verispec.provenance import Provenance
from verispec.sampling import choose, sample, warp_probs
from verispec.tokens import same_vocabulary


def shared_vocabulary_members(method: str, models: Sequence[ModelLike]) -> list[Member]:
    """Members for a method that mixes token ids, refusing models with another vocabulary."""
    if len(models) < 2:
        raise ConfigError(f"{method} needs a draft and at least one assistant")
    first = models[0]
    for other in models[1:]:
        if not same_vocabulary(first.tokenizer, other.tokenizer):
            raise VocabularyMismatchError(
                f"{method} mixes token ids, so every model needs the draft's vocabulary, but {first.name!r} "
                f"({len(first.tokenizer)} tokens) and {other.name!r} ({len(other.tokenizer)} tokens) differ. "
                "Use a method that bridges tokenizers: cosd-rule or cosd-tree, or sd, lenient, typical or judge, "
                "whose draft model proposes verifier tokens through text (as does drafter=lookup)"
            )
    return members_of(models)


def _one_token(token: int, author: int, end_ids: frozenset[int]) -> Commit:
    """A round that commits one token written by model ``author`` alone."""
    new, ended = cut_after_end([token], end_ids)
    return Commit(new, [author], [Provenance.DRAFT if author == 0 else Provenance.VERIFIER], ended)


class AvgDecoding(FusionRounds):
    """Each step commits the token of the mean next-token distribution (argmax, or a sample).

    The token's author is the model that gave it the highest probability.
    """

    def __init__(self, models: Sequence[ModelLike]) -> None:
        self._seat(shared_vocabulary_members("avg decoding", models), shared_vocabulary=True)

    def label(self) -> str:
        return "avg"

    def _commit(self, state: Generation, budget: int) -> Commit:
        dists = [warp_probs(_next_logits(m, state.committed), state.params) for m in self.members]
        width = max(d.shape[-1] for d in dists)
        stacked = torch.stack([torch.nn.functional.pad(d, (0, width - d.shape[-1])) for d in dists])
        mean = stacked.mean(dim=0)
        token = int(mean.argmax()) if state.params.greedy else int(sample(mean, state.generator))
        return _one_token(token, int(stacked[:, token].argmax()), self.end_ids)


@dataclass(frozen=True)
class LogisticDeferral:
    """A multinomial (or binary) logistic regression from the draft's features to the writing model."""

    classes: tuple[int, ...]
    coef: tuple[tuple[float, ...], ...]
    intercept: tuple[float, ...]

    @classmethod
    def fit(cls, features: Sequence[Sequence[float]], labels: Sequence[int], *, seed: int = 0) -> LogisticDeferral:
        if len(set(labels)) == 1:  # scikit-learn refuses one class; the answer is that class
            return cls(classes=(int(labels[0]),), coef=(), intercept=())
        require_sklearn()
        from sklearn.linear_model import LogisticRegression

        fitted = LogisticRegression(max_iter=1000, random_state=seed).fit(np.asarray(features), np.asarray(labels))
        return cls(
            classes=tuple(int(c) for c in fitted.classes_),
            coef=tuple(tuple(float(w) for w in row) for row in fitted.coef_),
            intercept=tuple(float(b) for b in fitted.intercept_),
        )

    def predict(self, x: Sequence[float]) -> int:
        if len(self.classes) == 1:
            return self.classes[0]
        scores = np.asarray(self.coef) @ np.asarray(x, dtype=np.float64) + np.asarray(self.intercept)
        if len(self.classes) == 2:  # scikit-learn keeps one row: positive means the second class
            return self.classes[int(scores[0] > 0)]
        return self.classes[int(np.argmax(scores))]

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> LogisticDeferral:
        return cls(
            classes=tuple(payload["classes"]),
            coef=tuple(tuple(row) for row in payload["coef"]),
            intercept=tuple(payload["intercept"]),
        )

    def describe(self, names: Sequence[str], class_names: Sequence[str]) -> str:
        """One line per class score: its weights on each feature and its intercept."""
        if len(self.classes) == 1:
            return f"always {class_names[self.classes[0]]}\n"
        if len(self.classes) == 2:
            rows = [(self.classes[1], self.coef[0], self.intercept[0])]
            rule = f"{class_names[self.classes[1]]} writes when its score > 0, else {class_names[self.classes[0]]}"
        else:
            rows = list(zip(self.classes, self.coef, self.intercept))
            rule = "the model with the highest score writes"
        lines = [rule]
        for c, weights, bias in rows:
            terms = " ".join(f"{w:+.3f}*{n}" for w, n in zip(weights, names))
            lines.append(f"score({class_names[c]}) = {terms} {bias:+.3f}")
        return "\n".join(lines) + "\n"


class Deferral(FusionRounds):
    """The draft writes each token unless the classifier, reading the draft's confidence, defers it."""

    def __init__(self, draft: ModelLike, assistants: Sequence[ModelLike], chooser: LogisticDeferral, *, source: str = "deferral") -> None:
        self._seat(shared_vocabulary_members("deferral", [draft, *assistants]), shared_vocabulary=True)
        self.chooser = chooser
        self.source = source

    def label(self) -> str:
        return f"co-llm:classifier={self.source}"

    def _commit(self, state: Generation, budget: int) -> Commit:
        logits = _next_logits(self.members[0], state.committed)
        q = warp_probs(logits, state.params)
        author = self.chooser.predict([float(q.max()), float(entropy(q))])
        if author:
            logits = _next_logits(self.members[author], state.committed)
        return _one_token(int(choose(logits, state.params, state.generator)), author, self.end_ids)


def load_deferral(path: str | Path, models: Sequence[ModelIdentity]) -> LogisticDeferral:
    """Read a deferral classifier file and check it was trained for ``models`` (draft first)."""
    stored = ClassifierFile.load(path, kind="deferral")
    stored.check(models, DRAFT_FEATURES)
    return LogisticDeferral.from_payload(stored.payload)


def _next_logits(member: Member, committed: Sequence[int]) -> torch.Tensor:
    """The member's logits for the token after its prompt and ``committed`` (catching its cache up)."""
    ids = [*member.prompt_ids, *committed]
    return member.scorer.score(ids, len(ids) - 1)[-1]
