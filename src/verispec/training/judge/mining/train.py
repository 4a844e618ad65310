"""Train a judge head on mined mismatches: grouped CV chooses C, out-of-fold scores choose θ.

The report says how well each feature block set separates important from harmless mismatches
(out-of-fold ROC-AUC, overall and per task), what the chosen head keeps at its θ, and what the
cheap guards would do: the look-ahead check (after the drafted token the draft's next token is
the verifier's) and its precision on important tokens.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from verispec import runinfo
from verispec.errors import ConfigError
from verispec.judge.familiarity import Familiarity
from verispec.judge.features import BLOCKS as DECODE_BLOCKS
from verispec.judge.head import HeadMetadata, JudgeHead, VerifierIdentity
from verispec.training.judge.mining.features import MismatchFeatures
from verispec.training.judge.mining.fit import (HEAD_BLOCKS, CrossValidation, MinedFitConfig, cross_validate, fit_mined,
                                                recall_at)

_OPERATORS = set("+-*/%=<>!&|^~")
# Each set costs a full grouped CV over every C: one set per question (does this block add to the head's?).
ABLATIONS = (("logits",), ("verifier_hidden",), ("verifier_hidden", "logits"), ("verifier_hidden", "verifier_context", "logits"),
             ("verifier_hidden", "verifier_context", "draft_hidden", "logits"))


@dataclass(frozen=True)
class MinedTrainConfig:
    """The head's blocks, the recall of important tokens θ must reach out of fold, and the CV settings."""

    blocks: tuple[str, ...] = HEAD_BLOCKS
    target_recall: float = 0.9
    fit: MinedFitConfig = field(default_factory=MinedFitConfig)
    ablations: bool = True
    familiarity_quantile: float | None = 0.99  # the gate's limits let this share of training states through
    familiarity_components: int = 16

    def __post_init__(self) -> None:
        if set(self.blocks) - set(DECODE_BLOCKS):
            raise ConfigError(f"a head reads what decoding computes: choose blocks from {', '.join(DECODE_BLOCKS)}, "
                              f"not {self.blocks} (draft_hidden is measured in the ablations only: decoding does not keep it)")
        if not 0 < self.target_recall <= 1:
            raise ConfigError(f"target recall must be in (0, 1], got {self.target_recall}")


@dataclass(frozen=True)
class MinedTrainReport:
    """What the CV found and what the shipped head does at its θ, out of fold."""

    labels: int
    important: int
    items: int
    auc: float
    auc_harm: float | None  # the same scores against "the verifier was right and the rollout is wrong"
    c: float
    auc_by_c: dict[str, float]
    auc_by_task: dict[str, float]
    threshold: float
    recall: float  # of important tokens, rejected at θ
    harmless_kept: float  # share of harmless mismatches the judge keeps at θ
    curve: list[dict[str, float]]
    ablations: dict[str, float]
    lookahead: dict[str, float]
    by_token_class: dict[str, dict[str, float]]
    careful_guard: dict[str, dict[str, float]]  # strict θ' -> recall, harmless kept (digits and operators need θ')

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_mined_head(features: MismatchFeatures, identity: VerifierIdentity, config: MinedTrainConfig,
                     *, data: dict[str, Any], precision: str,
                     token_text: Callable[[int], str] = str) -> tuple[JudgeHead, MinedTrainReport]:
    """Cross-validate, fit on everything, and describe it all in the head's metadata."""
    fit_config = MinedFitConfig(config.blocks, config.fit.cs, config.fit.folds, config.fit.seed)
    cv = cross_validate(features, fit_config)
    threshold = _threshold_for_recall(cv.scores, cv.fine, config.target_recall)
    report = _report(features, cv, threshold, config, token_text)
    weight, bias = fit_mined(features, config.blocks, cv.c)
    meta = HeadMetadata(
        verifier=identity, threshold=threshold, features=config.blocks, feature_dtype=precision,
        target_recall=config.target_recall,
        training={"data": data, "fit": {"c": cv.c, "folds": config.fit.folds, "grouped_by": "item",
                                        "class_weight": "balanced", "scaling": "standardised, folded into w"},
                  "labels": "mined mismatches: important when the verifier's finished answer changed"},
        metrics={"grouped_cv": report.to_dict()},
        versions=runinfo.versions(),
    )
    familiarity = None
    if config.familiarity_quantile is not None:
        familiarity = Familiarity.fit(features.verifier_hidden, components=config.familiarity_components,
                                      quantile=config.familiarity_quantile)
    head = JudgeHead(torch.tensor(weight, dtype=torch.float32), torch.tensor(bias, dtype=torch.float32), meta, familiarity)
    return head, report


def _threshold_for_recall(scores: np.ndarray, fine: np.ndarray, target: float) -> float:
    """The smallest θ that rejects ``target`` of the important tokens out of fold (it keeps the most)."""
    important = np.sort(scores[~fine])
    k = int(np.ceil(target * len(important) - 1e-9))
    return float(np.nextafter(np.float32(important[k - 1]), np.float32(np.inf)))


def _report(features: MismatchFeatures, cv: CrossValidation, threshold: float, config: MinedTrainConfig,
            token_text: Callable[[int], str]) -> MinedTrainReport:
    from sklearn.metrics import roc_auc_score

    by_task = {}
    for task in sorted(set(cv.tasks)):
        mine = cv.tasks == task
        if 0 < cv.fine[mine].sum() < mine.sum():
            by_task[task] = float(roc_auc_score(cv.fine[mine], cv.scores[mine]))
    recall, kept = recall_at(cv.scores, cv.fine, threshold)
    # The trade-off at recall targets (scores of a strongly regularised head crowd near 0.5, so a
    # grid of θ would say little): for each, its θ, the share of harmless mismatches kept, and the
    # share of items where the judge would keep at least one answer-changing token.
    curve = []
    items = np.array(features.items)
    for target in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99):
        theta = _threshold_for_recall(cv.scores, cv.fine, target)
        curve.append({"target": target, "threshold": theta,
                      **dict(zip(("recall", "harmless_kept"), recall_at(cv.scores, cv.fine, theta))),
                      "items_changed": _items_changed(items, cv, theta)})
    ablations = {}
    if config.ablations:
        for blocks in ABLATIONS:
            fit = MinedFitConfig(blocks, config.fit.cs, config.fit.folds, config.fit.seed)
            ablations["+".join(blocks)] = cv.auc if blocks == config.blocks else cross_validate(features, fit).auc
    look = features.lookahead.numpy()
    lookahead = {
        "share_agreeing": float(look.mean()),
        "important_rate_when_agreeing": float((~cv.fine[look]).mean()) if look.any() else float("nan"),
        "important_rate_when_not": float((~cv.fine[~look]).mean()) if (~look).any() else float("nan"),
        "recall_with_head": float(((cv.scores < threshold) | ~look)[~cv.fine].mean()),
        "harmless_kept_with_head": float(((cv.scores >= threshold) & look)[cv.fine].mean()),
    }
    return MinedTrainReport(
        labels=len(features), important=int(features.important.sum()), items=len(set(features.items)),
        auc=cv.auc, auc_harm=_harm_auc(features, cv), c=cv.c, auc_by_c={str(c): a for c, a in cv.auc_by_c.items()}, auc_by_task=by_task,
        threshold=threshold, recall=recall, harmless_kept=kept, curve=curve, ablations=ablations, lookahead=lookahead,
        by_token_class=_by_token_class(features, cv, threshold, token_text),
        careful_guard=_careful_guard(features, cv, threshold, token_text),
    )


def _items_changed(items: np.ndarray, cv: CrossValidation, threshold: float) -> float:
    """Out of fold: the share of items with a labelled important mismatch the judge keeps at ``threshold``.
    Each such token changed the verifier's finished answer in its rollout, so this estimates how often
    the judge would change an answer (positions that were not rolled out are not counted)."""
    kept_important = (cv.scores >= threshold) & ~cv.fine
    return len(np.unique(items[kept_important])) / len(np.unique(items))


def _harm_auc(features: MismatchFeatures, cv: CrossValidation) -> float | None:
    """Out-of-fold ROC-AUC on the items the verifier got right, against "the rollout's answer is wrong":
    a label with less of the verifier's own fragility in it (a wrong answer changed into another
    wrong one does not count)."""
    from sklearn.metrics import roc_auc_score

    if features.correct is None:
        return None
    verifier_right, rollout_right = features.correct[:, 0].numpy(), features.correct[:, 1].numpy()
    kept = rollout_right[verifier_right]
    if kept.all() or not kept.any():
        return None
    return float(roc_auc_score(kept, cv.scores[verifier_right]))


def _careful_guard(features: MismatchFeatures, cv: CrossValidation, threshold: float,
                   token_text: Callable[[int], str]) -> dict[str, dict[str, float]]:
    """What ``judge:strict=θ'`` would do at the head's θ, out of fold, for a few θ'."""
    careful = np.array([token_class(token_text(d), token_text(v)) in ("digit", "operator") for d, v in features.tokens])
    out = {}
    for strict in (0.9, 0.95, 0.99):
        kept = (cv.scores >= threshold) & ((cv.scores >= strict) | ~careful)
        out[str(strict)] = {"recall": float((~kept)[~cv.fine].mean()), "harmless_kept": float(kept[cv.fine].mean())}
    return out


def token_class(draft_text: str, verifier_text: str) -> str:
    """``digit`` or ``operator`` when either token holds one, ``word`` when either is a letter run, else ``other``."""
    both = draft_text + verifier_text
    if any(c.isdigit() for c in both):
        return "digit"
    if any(c in _OPERATORS for c in both):
        return "operator"
    return "word" if any(c.isalpha() for c in both) else "other"


def _by_token_class(features: MismatchFeatures, cv: CrossValidation, threshold: float,
                    token_text: Callable[[int], str]) -> dict[str, dict[str, float]]:
    """Per class of the swapped tokens: how many, how often important, what the head rejects at θ."""
    classes = np.array([token_class(token_text(d), token_text(v)) for d, v in features.tokens])
    out = {}
    for name in ("digit", "operator", "word", "other"):
        mine = classes == name
        if not mine.any():
            continue
        important = mine & ~cv.fine
        out[name] = {
            "labels": int(mine.sum()), "important_rate": float(important.sum() / mine.sum()),
            "recall": float((cv.scores[important] < threshold).mean()) if important.any() else float("nan"),
            "harmless_kept": float((cv.scores[mine & cv.fine] >= threshold).mean()) if (mine & cv.fine).any() else float("nan"),
        }
    return out


def write_report(report: MinedTrainReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")


def summary(report: MinedTrainReport) -> str:
    """The report as a few lines of text."""
    lines = [
        f"{report.labels} labelled mismatches ({report.important} important) from {report.items} items",
        f"grouped-CV ROC-AUC {report.auc:.3f} at C={report.c:g} (against right-to-wrong only: "
        f"{'–' if report.auc_harm is None else f'{report.auc_harm:.3f}'}); by task: "
        + ", ".join(f"{t} {a:.3f}" for t, a in report.auc_by_task.items()),
        f"θ {report.threshold:.4f}: rejects {report.recall:.1%} of important mismatches, keeps {report.harmless_kept:.1%} of harmless ones",
    ]
    lines.append("θ curve (recall of important: θ, harmless kept, items with a kept important token): " + "; ".join(
        f"{p['target']:.0%}: {p['threshold']:.4f}, {p['harmless_kept']:.1%}, {p['items_changed']:.1%}" for p in report.curve))
    if report.ablations:
        lines.append("ablations (ROC-AUC): " + ", ".join(f"{b} {a:.3f}" for b, a in report.ablations.items()))
    look = report.lookahead
    lines.append(f"look-ahead guard: agrees on {look['share_agreeing']:.1%}; important when agreeing "
                 f"{look['important_rate_when_agreeing']:.1%}, when not {look['important_rate_when_not']:.1%}; with the head: "
                 f"rejects {look['recall_with_head']:.1%} of important, keeps {look['harmless_kept_with_head']:.1%} of harmless")
    lines.append("by token class: " + "; ".join(
        f"{name} {c['labels']} labels, {c['important_rate']:.1%} important, head rejects {c['recall']:.1%} of those"
        for name, c in report.by_token_class.items()))
    lines.append("careful guard (strict θ'): " + "; ".join(
        f"{s}: rejects {g['recall']:.1%} of important, keeps {g['harmless_kept']:.1%} of harmless"
        for s, g in report.careful_guard.items()))
    return "\n".join(lines)
