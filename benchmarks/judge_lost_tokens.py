"""Which tokens did the judge alone keep in the answers it lost?

Reads a run's samples, no model needed: the judge records at decode time the score its head gave
every drafted token it kept (``rule_scores``). For each judge method on TASK this lists the items
verifier-only answered right and the judge wrong, and in those answers every token the judge kept
against the exact check (``relaxed`` provenance) with its score, its class (digit, operator, word,
other: the mining fit's classes) and the text before it. The classes of all relaxed tokens, in lost
answers or not, are counted too, so a class's share among the lost can be set against its share
overall.

    python benchmarks/judge_lost_tokens.py benchmarks/runs/qwen-coder-0.5b-1.5b-greedy-llamacpp gsm8k \
        --out benchmarks/results/judge/mined-gsm8k-lost-tokens.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from verispec.eval.records import SampleRecord, load_run
from verispec.provenance import Provenance
from verispec.training.judge.mining.train import token_class

CONTEXT_PIECES = 16  # text shown before each kept token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("task")
    parser.add_argument("--baseline", default="verifier", help="the method whose right answers count as lost (default: verifier)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    _, records = load_run(args.run_dir)
    samples = [r for r in records if r.task == args.task and r.correct is not None]
    baseline_right = {r.item_id for r in samples if r.method == args.baseline and r.correct}
    judges = sorted({r.method for r in samples if r.method_config["name"] == "judge"})
    report = {method: _method_report([r for r in samples if r.method == method], baseline_right) for method in judges}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    for method, entry in report.items():
        print(f"{method}: lost {entry['lost_answers']} answers; relaxed tokens in them by class "
              f"{entry['lost_by_class']}, in all answers {entry['all_by_class']}; median score "
              f"{entry['lost_median_score']} in lost answers, {entry['all_median_score']} in all")


def _method_report(samples: list[SampleRecord], baseline_right: set[str]) -> dict[str, Any]:
    """The lost answers' relaxed tokens, and the class counts of relaxed tokens everywhere."""
    lost = [r for r in samples if r.item_id in baseline_right and not r.correct]
    lost_tokens = [token for r in lost for token in _relaxed_tokens(r)]
    all_tokens = [token for r in samples for token in _relaxed_tokens(r)]
    return {
        "answers": len(samples),
        "lost_answers": len(lost),
        "lost_by_class": dict(Counter(t["class"] for t in lost_tokens)),
        "all_by_class": dict(Counter(t["class"] for t in all_tokens)),
        "lost_median_score": _median_score(lost_tokens),
        "all_median_score": _median_score(all_tokens),
        "lost_tokens": lost_tokens,
    }


def _median_score(tokens: list[dict[str, Any]]) -> float | None:
    scores = [t["score"] for t in tokens if t["score"] is not None]
    return statistics.median(scores) if scores else None


def _relaxed_tokens(record: SampleRecord) -> list[dict[str, Any]]:
    """Every token of one answer that the judge kept against the exact check."""
    scores = record.rule_scores or [None] * len(record.pieces)
    return [
        {"item": record.item_id, "token": piece, "score": scores[i], "class": token_class(piece, ""),
         "before": "".join(record.pieces[max(0, i - CONTEXT_PIECES):i])}
        for i, (piece, provenance) in enumerate(zip(record.pieces, record.provenance, strict=True))
        if provenance == Provenance.RELAXED.value
    ]


if __name__ == "__main__":
    main()
