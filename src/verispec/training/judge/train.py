"""Train a judge head: labelled data → hidden states → logistic head → θ for a target recall.

The split into training and validation tokens is by sample (a stable hash of the id), so tokens
of one response never sit on both sides; θ and the reported metrics come from validation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from verispec import runinfo
from verispec.backends import ModelBackend
from verispec.errors import ConfigError, JudgeDataError
from verispec.judge.head import HeadMetadata, JudgeHead, VerifierIdentity
from verispec.training.judge.features import TokenFeatures, extract_features
from verispec.training.judge.fit import FitConfig, fit_logistic
from verispec.training.judge.metrics import JudgeMetrics, evaluate_scores, threshold_for_recall
from verispec.training.judge.samples import check_sample_fraction, of_sources, read_samples, subsample, summarize_samples


@dataclass(frozen=True)
class TrainConfig:
    """``target_recall`` of bad tokens on validation fixes θ; ``val_fraction`` of samples is held out.

    ``sample_fraction`` < 1 trains on a stable share of the samples (one forward pass each is the
    cost of training, so a share gives a first head sooner). ``exclude_sources`` leaves out whole
    sources (for example ``code``, to measure how a head does on a domain it never saw).
    """

    target_recall: float = 0.9
    val_fraction: float = 0.2
    sample_fraction: float = 1.0
    exclude_sources: tuple[str, ...] = ()
    fit: FitConfig = field(default_factory=FitConfig)

    def __post_init__(self) -> None:
        if not 0 < self.target_recall <= 1:
            raise ConfigError(f"target recall must be in (0, 1], got {self.target_recall}")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"the validation fraction must be in (0, 1), got {self.val_fraction}")
        check_sample_fraction(self.sample_fraction)


@dataclass(frozen=True)
class TrainOutcome:
    """The head (its metadata holds the metrics too) and the metrics on both splits."""

    head: JudgeHead
    train: JudgeMetrics
    validation: JudgeMetrics


def train_head(
    features: TokenFeatures,
    identity: VerifierIdentity,
    config: TrainConfig = TrainConfig(),
    *,
    feature_dtype: str = "float32",
    data: dict[str, Any] | None = None,
) -> TrainOutcome:
    """Fit on the training split, choose θ on validation, and describe it all in the head's metadata."""
    train, val = features.split(config.val_fraction)
    if int((~val.good).sum()) == 0:
        raise JudgeDataError(
            f"the validation split ({val.counts()['samples']} samples) has no bad tokens to choose θ on: "
            "add responses with error spans or raise the validation fraction"
        )
    weight, bias = fit_logistic(train.hidden, train.good, config.fit)
    head = JudgeHead(weight, bias, HeadMetadata(identity, threshold=0.5))
    val_scores = head.scores(val.hidden)
    threshold = threshold_for_recall(val_scores, val.good, config.target_recall)
    train_metrics = evaluate_scores(head.scores(train.hidden), train.good, train.exact, threshold, curve=())
    val_metrics = evaluate_scores(val_scores, val.good, val.exact, threshold)
    meta = HeadMetadata(
        verifier=identity,
        threshold=threshold,
        feature_dtype=feature_dtype,
        target_recall=config.target_recall,
        training={
            "data": data or {},
            "train": train.counts(),
            "validation": val.counts(),
            "val_fraction": config.val_fraction,
            "split": "sha256 of the sample id",
            "fit": asdict(config.fit),
            "class_weights": "balanced (each class weighs half)",
        },
        metrics={"validation": val_metrics.to_dict(), "train": train_metrics.to_dict()},
        versions=runinfo.versions(),
    )
    return TrainOutcome(replace(head, meta=meta), train_metrics, val_metrics)


def train_from_data(
    paths: Sequence[str | Path],
    verifier: ModelBackend,
    tokenizer: PreTrainedTokenizerBase,
    config: TrainConfig = TrainConfig(),
    *,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> TrainOutcome:
    """Read the JSONL data sets, extract (or reuse) the verifier's features, and train."""
    samples = subsample(read_samples(paths), config.sample_fraction)
    chosen = of_sources(samples, exclude=config.exclude_sources)
    features = extract_features(chosen, verifier, tokenizer, cache_dir=cache_dir, progress=progress)
    data = {
        **summarize_samples(chosen), "files": [file_summary(Path(p)) for p in paths],
        "skipped": list(features.skipped), "sample_fraction": config.sample_fraction,
        "excluded_sources": list(config.exclude_sources),
    }
    precision = verifier.precision().removeprefix("torch.")  # bfloat16, or gguf:<file> on llama.cpp
    return train_head(features, VerifierIdentity.of(verifier), config, feature_dtype=precision, data=data)


def file_summary(path: Path) -> dict[str, str]:
    """A data file's name and content hash (which data a head was trained on)."""
    return {"name": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
