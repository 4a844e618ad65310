"""What a verifier sees at one drafted position: the draft's confidence and each assistant's opinion."""

from __future__ import annotations

from dataclasses import dataclass

import torch

DRAFT_FEATURES = ("draft_prob", "draft_entropy")
ASSISTANT_FEATURES = ("top_prob", "entropy")


@dataclass(frozen=True)
class Review:
    """One assistant's opinion at one position.

    ``agrees``: the assistant's top token is the drafted one (across tokenizers: the assistant's
    token for the drafted text there). ``top_token`` is in the assistant's vocabulary; ``index``
    is the reviewed token's index in what the assistant compared: the round's drafted tokens
    with one vocabulary, its own tokens of the generated text across tokenizers.
    """

    key: int
    agrees: bool
    top_token: int
    top_prob: float
    entropy: float
    index: int


@dataclass(frozen=True)
class Slot:
    """A position where the draft's token can be replaced.

    ``key`` orders slots: the drafted token's index when all models share one vocabulary, else
    the character offset in the generated text. ``draft_index`` is the drafted token there (the
    one whose text covers the offset); ``reviews[k - 1]`` is assistant ``k``'s opinion, or None
    when assistant ``k`` has no token starting at this offset.
    """

    key: int
    draft_index: int
    draft_prob: float
    draft_entropy: float
    reviews: tuple[Review | None, ...]

    @property
    def agreed(self) -> bool:
        """Every assistant that looked here has the drafted token on top."""
        return all(r.agrees for r in self.reviews if r is not None)

    def features(self) -> list[float] | None:
        """The feature vector (see :func:`feature_names`), or None when an assistant has no opinion."""
        if any(r is None for r in self.reviews):
            return None
        values = [self.draft_prob, self.draft_entropy]
        for review in self.reviews:
            assert review is not None
            values += [review.top_prob, review.entropy]
        return values


def feature_names(n_assistants: int) -> tuple[str, ...]:
    """Names of :meth:`Slot.features`: the draft's two, then two per assistant (1-based)."""
    names = list(DRAFT_FEATURES)
    for k in range(1, n_assistants + 1):
        names += [f"assistant{k}_{f}" for f in ASSISTANT_FEATURES]
    return tuple(names)


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats over the last dimension (zero-probability tokens add nothing)."""
    return torch.special.entr(probs).sum(dim=-1)
