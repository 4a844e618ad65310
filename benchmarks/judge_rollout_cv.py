"""Would rollout labels teach the judge head? Out-of-fold ROC-AUC on them, by how much they weigh.

The head is fitted on a base data set plus the rollout labels of four fifths of the items (each
rollout sample repeated ``weight`` times, since there are few), and scores the rollouts of the
fifth it did not see; folds are by item, so one item's rollouts stay on one side. The AUC is over
all out-of-fold scores: how well the head tells answer-changing disagreements from harmless ones.
Features come from the judge feature cache (the verifier runs only for samples not in it).

    python benchmarks/judge_rollout_cv.py data/judge/rollouts.jsonl --base data/judge/tokencourt-auto.jsonl \
        --base-fraction 0.4 --out benchmarks/results/judge/rollouts-cv.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from verispec.backends import TransformersBackend
from verispec.models.loading import load_model
from verispec.pipeline import DTYPES
from verispec.training.judge.features import TokenFeatures, default_cache_dir, extract_features
from verispec.training.judge.fit import FitConfig, fit_logistic
from verispec.training.judge.metrics import roc_auc
from verispec.training.judge.samples import read_samples, subsample

FOLDS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rollouts", type=Path)
    parser.add_argument("--base", type=Path, required=True, help="the data set the head is otherwise trained on")
    parser.add_argument("--base-fraction", type=float, default=1.0, help="the stable share of it, as in training")
    parser.add_argument("--weights", default="0,1,5,20", help="how many times the rollout samples count in training")
    parser.add_argument("--verifier", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--dtype", default="bf16", choices=list(DTYPES))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    loaded = load_model(args.verifier, dtype=DTYPES[args.dtype])
    verifier = TransformersBackend(loaded.model, name=args.verifier)

    def features(path: Path, fraction: float) -> TokenFeatures:
        samples = subsample(read_samples([path]), fraction)
        return extract_features(samples, verifier, loaded.tokenizer, cache_dir=default_cache_dir())

    base, rollouts = features(args.base, args.base_fraction), features(args.rollouts, 1.0)
    fold = _item_folds(rollouts)
    rows = [{"weight": w, "out_of_fold_roc_auc": _out_of_fold_auc(base, rollouts, fold, w)} for w in map(int, args.weights.split(","))]
    report = {
        "rollouts": str(args.rollouts), "base": str(args.base), "base_fraction": args.base_fraction,
        "verifier": args.verifier, "dtype": args.dtype, "folds": FOLDS, "rollout_counts": rollouts.counts(), "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def _item_folds(rollouts: TokenFeatures) -> torch.Tensor:
    """Each token's fold, by its sample's task and item (ids are ``task::item::model::variant``)."""
    items = [tuple(sample_id.split("::")[:2]) for sample_id in rollouts.sample_ids]
    fold_of = {item: i % FOLDS for i, item in enumerate(sorted(set(items)))}
    return torch.tensor([fold_of[items[s]] for s in rollouts.sample.tolist()])


def _out_of_fold_auc(base: TokenFeatures, rollouts: TokenFeatures, fold: torch.Tensor, weight: int) -> float | None:
    scores = torch.zeros(len(rollouts))
    for k in range(FOLDS):
        seen = fold != k
        hidden = torch.cat([base.hidden, *[rollouts.hidden[seen]] * weight])
        good = torch.cat([base.good, *[rollouts.good[seen]] * weight])
        w, b = fit_logistic(hidden, good, FitConfig())
        scores[~seen] = torch.sigmoid(rollouts.hidden[~seen] @ w + b)
    return roc_auc(scores, rollouts.good)


if __name__ == "__main__":
    main()
