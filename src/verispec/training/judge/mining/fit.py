"""Logistic regression on mined mismatches, its regularisation chosen by cross-validation grouped by item.

Mismatches of one item share its text, so a split by token would let the model recognise items;
folds are whole items (``GroupKFold``). Each feature block is standardised, so one ``C`` suits
hidden states and logit features alike. The reported ROC-AUC is out-of-fold: every score comes
from a model that never saw that item. Scores are P(the drafted token is fine), the judge's sense.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from verispec.errors import ConfigError, JudgeDataError
from verispec.judge.features import BLOCKS as DECODE_BLOCKS
from verispec.training.judge.mining.features import MismatchFeatures

HEAD_BLOCKS = DECODE_BLOCKS  # the default head reads all one verification pass has
BLOCKS = (*DECODE_BLOCKS, "draft_hidden")  # the draft's state is measured, decoding does not keep it
DEFAULT_CS = (0.00003, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)


@dataclass(frozen=True)
class MinedFitConfig:
    """Which feature blocks, which inverse penalties ``cs`` to try, how many item folds."""

    blocks: tuple[str, ...] = HEAD_BLOCKS
    cs: tuple[float, ...] = DEFAULT_CS
    folds: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.blocks) - set(BLOCKS)
        if unknown or not self.blocks:
            raise ConfigError(f"feature blocks must be among {', '.join(BLOCKS)}, got {self.blocks}")
        if self.folds < 2 or not self.cs or min(self.cs) <= 0:
            raise ConfigError(f"need at least 2 folds and positive C values, got {self.folds} and {self.cs}")


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold scores at the chosen ``c``, and the grouped-CV ROC-AUC of every ``c`` tried."""

    c: float
    auc: float
    auc_by_c: dict[float, float]
    scores: np.ndarray  # P(fine), out of fold
    fine: np.ndarray  # bool: the token did not change the answer
    tasks: np.ndarray = field(repr=False)


def design(features: MismatchFeatures, blocks: tuple[str, ...]) -> np.ndarray:
    """The rows of the chosen blocks side by side, float64."""
    return torch.cat([getattr(features, b).double() for b in blocks], dim=1).numpy()


def cross_validate(features: MismatchFeatures, config: MinedFitConfig = MinedFitConfig()) -> CrossValidation:
    """Grouped CV over ``config.cs``; the ``c`` of the best out-of-fold ROC-AUC wins."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    x, fine, groups = design(features, config.blocks), ~features.important.numpy(), np.array(features.items)
    if fine.all() or not fine.any():
        raise JudgeDataError(f"need important and harmless mismatches, got {int((~fine).sum())} and {int(fine.sum())}")
    folds = list(GroupKFold(n_splits=min(config.folds, len(set(groups)))).split(x, fine, groups))
    by_c = {}
    for c in config.cs:
        scores = np.zeros(len(fine))
        for train, test in folds:
            scores[test] = _fit(x[train], fine[train], c).predict_proba(x[test])[:, 1]
        by_c[c] = (float(roc_auc_score(fine, scores)), scores)
    best = max(by_c, key=lambda c: by_c[c][0])
    return CrossValidation(best, by_c[best][0], {c: a for c, (a, _) in by_c.items()}, by_c[best][1], fine,
                           np.array(features.tasks))


def _fit(x: np.ndarray, fine: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=2000))
    return model.fit(x, fine)


def fit_mined(features: MismatchFeatures, blocks: tuple[str, ...], c: float) -> tuple[np.ndarray, float]:
    """``(w, b)`` on raw features (the scaling folded in): σ(w·f + b) = P(fine), fitted on all rows."""
    model = _fit(design(features, blocks), ~features.important.numpy(), c)
    scaler, regression = model.steps[0][1], model.steps[1][1]
    weight = regression.coef_[0] / scaler.scale_
    return weight, float(regression.intercept_[0] - weight @ scaler.mean_)


def recall_at(scores: np.ndarray, fine: np.ndarray, threshold: float) -> tuple[float, float]:
    """(recall of important tokens: rejected ones, share of harmless ones kept) at ``threshold``."""
    rejected = scores < threshold
    return float(rejected[~fine].mean()), float((~rejected)[fine].mean())
