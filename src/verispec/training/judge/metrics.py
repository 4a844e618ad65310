"""How good a judge is on labelled tokens: ROC-AUC, bad-token recall, good-token acceptance, θ.

Scores are the judge's belief that a token is fine; a token is kept when ``score ≥ θ``. "Recall"
is the share of bad tokens the judge rejects (``score < θ``): accepting a wrong token costs
quality, rejecting a right one costs only speed, so θ is chosen for a target recall. The rule
keeps a token when the exact check keeps it OR the judge does; the ``rule_*`` numbers include the
exact check (its greedy form: the token is the verifier's argmax).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from verispec.errors import ConfigError, JudgeDataError

CURVE_THRESHOLDS = tuple(round(i * 0.02, 2) for i in range(51))


@dataclass(frozen=True)
class ThresholdPoint:
    """The judge alone and the whole rule at one θ; ``None`` where a class has no tokens."""

    threshold: float
    bad_recall: float | None
    good_acceptance: float | None
    rule_bad_recall: float | None
    rule_good_acceptance: float | None


@dataclass(frozen=True)
class Agreement:
    """Per labelled token at one θ: the exact check's decision against the judge's.

    ``exact_only``: the judge would reject what the exact check keeps; ``judge_only``: the judge
    keeps what the exact check rejects (the tokens Judge Decoding gains, or its mistakes).
    ``bad_kept_by_exact`` counts errors the verifier would have written itself.
    """

    both_keep: int
    exact_only: int
    judge_only: int
    neither: int
    bad_kept_by_exact: int
    bad_kept_by_judge: int


@dataclass(frozen=True)
class JudgeMetrics:
    """A judge on one set of labelled tokens."""

    tokens: int
    good: int
    bad: int
    roc_auc: float | None
    at_threshold: ThresholdPoint
    agreement: Agreement
    curve: list[ThresholdPoint] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_scores(
    scores: torch.Tensor, good: torch.Tensor, exact: torch.Tensor, threshold: float, curve: tuple[float, ...] = CURVE_THRESHOLDS
) -> JudgeMetrics:
    """All metrics of scores against labels, at ``threshold`` and along ``curve``."""
    n_good = int(good.sum())
    return JudgeMetrics(
        tokens=int(good.numel()),
        good=n_good,
        bad=int(good.numel()) - n_good,
        roc_auc=roc_auc(scores, good),
        at_threshold=threshold_point(scores, good, exact, threshold),
        agreement=agreement(scores, good, exact, threshold),
        curve=[threshold_point(scores, good, exact, t) for t in curve],
    )


def roc_auc(scores: torch.Tensor, positive: torch.Tensor) -> float | None:
    """Area under the ROC curve (Mann-Whitney statistic, ties count half); None without both classes."""
    s = scores.detach().double().cpu().numpy()
    pos = positive.cpu().numpy().astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        return None
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2  # 1-based mean rank of each distinct score
    rank_sum = average_rank[inverse][pos].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def threshold_for_recall(scores: torch.Tensor, good: torch.Tensor, target: float) -> float:
    """The smallest θ whose judge rejects at least ``target`` of the bad tokens (the most permissive θ)."""
    if not 0 < target <= 1:
        raise ConfigError(f"target recall must be in (0, 1], got {target}")
    bad = torch.sort(scores[~good].float()).values
    if bad.numel() == 0:
        raise JudgeDataError("no bad tokens to calibrate θ on: the data need responses with error spans")
    k = math.ceil(target * bad.numel() - 1e-9)
    # The next float32 above the k-th lowest bad score, so that it and every lower one score below
    # θ: scores are float32 and a tensor compares with a Python float in its own dtype.
    return float(torch.nextafter(bad[k - 1], torch.tensor(math.inf)))


def threshold_point(scores: torch.Tensor, good: torch.Tensor, exact: torch.Tensor, threshold: float) -> ThresholdPoint:
    judged = scores >= threshold
    kept = judged | exact
    return ThresholdPoint(
        threshold=threshold,
        bad_recall=_share(~judged, ~good),
        good_acceptance=_share(judged, good),
        rule_bad_recall=_share(~kept, ~good),
        rule_good_acceptance=_share(kept, good),
    )


def agreement(scores: torch.Tensor, good: torch.Tensor, exact: torch.Tensor, threshold: float) -> Agreement:
    judged = scores >= threshold
    return Agreement(
        both_keep=int((exact & judged).sum()),
        exact_only=int((exact & ~judged).sum()),
        judge_only=int((~exact & judged).sum()),
        neither=int((~exact & ~judged).sum()),
        bad_kept_by_exact=int((exact & ~good).sum()),
        bad_kept_by_judge=int((judged & ~good).sum()),
    )


def _share(hit: torch.Tensor, among: torch.Tensor) -> float | None:
    total = int(among.sum())
    return int((hit & among).sum()) / total if total else None
