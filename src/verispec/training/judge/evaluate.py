"""Evaluate a judge head on labelled data: its metrics at θ, the θ curve, and agreement with the exact check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from verispec.backends import ModelBackend
from verispec.errors import ConfigError
from verispec.judge.head import JudgeHead, VerifierIdentity
from verispec.training.judge.features import TokenFeatures, extract_features
from verispec.training.judge.metrics import JudgeMetrics, evaluate_scores
from verispec.training.judge.samples import of_sources, read_samples, subsample, summarize_samples

SPLITS = ("all", "train", "validation")


@dataclass(frozen=True)
class EvaluationReport:
    """A head's metrics on one data set (or one of the head's own splits of it)."""

    head: str
    verifier: str
    split: str
    threshold: float
    data: dict[str, Any]
    metrics: JudgeMetrics

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_head(head: JudgeHead, features: TokenFeatures, *, threshold: float | None = None, split: str = "all") -> JudgeMetrics:
    """Score every token (or the head's ``train`` / ``validation`` split of them) at θ (default: the head's)."""
    chosen = split_of(head, features, split)
    scores = head.scores(chosen.hidden)
    return evaluate_scores(scores, chosen.good, chosen.exact, head.meta.threshold if threshold is None else threshold)


def evaluate_from_data(
    head_path: str | Path,
    paths: Sequence[str | Path],
    verifier: ModelBackend,
    tokenizer: PreTrainedTokenizerBase,
    *,
    threshold: float | None = None,
    split: str = "all",
    sample_fraction: float = 1.0,
    sources: Sequence[str] = (),
    cache_dir: Path | None = None,
    progress: bool = True,
) -> EvaluationReport:
    """Load the head, check it belongs to ``verifier``, extract (or reuse) features and evaluate.

    ``sample_fraction`` and ``sources`` narrow the data as training does (``sources`` empty: all);
    samples whose features training extracted come from the cache.
    """
    head = JudgeHead.load(head_path)
    head.check(VerifierIdentity.of(verifier), str(head_path))
    samples = subsample(read_samples(paths), sample_fraction)
    chosen = of_sources(samples, include=sources)
    features = extract_features(chosen, verifier, tokenizer, cache_dir=cache_dir, progress=progress)
    evaluated = split_of(head, features, split)
    metrics = evaluate_head(head, evaluated, threshold=threshold)
    present = evaluated.sample_ids_present()
    return EvaluationReport(
        head=str(head_path), verifier=verifier.name, split=split, threshold=metrics.at_threshold.threshold,
        data={
            **summarize_samples(s for s in chosen if s.id in present),
            "skipped": list(features.skipped), "sample_fraction": sample_fraction,
        },
        metrics=metrics,
    )


def split_of(head: JudgeHead, features: TokenFeatures, split: str) -> TokenFeatures:
    """All tokens, or those of the head's own ``train`` / ``validation`` samples."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if split == "all":
        return features
    fraction = head.meta.training.get("val_fraction")
    if fraction is None:
        raise ConfigError("this head records no validation fraction, so its splits are unknown: evaluate with split 'all'")
    train, val = features.split(float(fraction))
    return train if split == "train" else val
