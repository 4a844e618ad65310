"""Which drafted tokens did the judge alone keep, and how did its head score them?

For every sample of a judge method in a run, this reads the verifier's hidden states along the
prompt and the committed output (one forward pass, the run's verifier and dtype), scores each token
with the method's head, and lists the tokens the judge kept against the exact check (``relaxed``
provenance) with their score and context, next to whether the sample and verifier-only's answer to
the same item were right. Where a judged answer fails and verifier-only's passes, these tokens are
where to look; their scores say which threshold would have rejected them. ``--compare-head``
scores the same tokens with a second head (``compare_score``), from the same forward pass;
``--lost-only`` reads only the answers that lost what verifier-only got right.

    python benchmarks/judge_scores.py benchmarks/runs/pilot-judge-train humaneval \
        --out benchmarks/results/judge/pilot-relaxed-scores-humaneval.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerBase

from verispec.backends.transformers_backend import TransformersBackend
from verispec.eval.records import SampleRecord, load_run
from verispec.judge.head import JudgeHead, load_head_for
from verispec.models.loading import load_model
from verispec.pipeline import DTYPES
from verispec.tokens import encode_prompt

CONTEXT_PIECES = 24  # text shown before each kept token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("task")
    parser.add_argument("--method", default="judge", help="the judge method's label in the run (default: judge)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--compare-head", type=Path, help="also score the tokens with this head")
    parser.add_argument("--lost-only", action="store_true", help="only answers that lost what verifier-only got right")
    args = parser.parse_args()

    manifest, records = load_run(args.run_dir)
    if manifest is None:
        raise SystemExit(f"error: {args.run_dir} has no run.json")
    judged = [r for r in records if r.task == args.task and r.method == args.method]
    if not judged:
        raise SystemExit(f"error: no {args.method!r} samples of {args.task!r} in {args.run_dir}")
    settings = manifest.settings
    loaded = load_model(settings.verifier, dtype=DTYPES[settings.dtype], device=settings.device)
    verifier = TransformersBackend(loaded.model, name=settings.verifier)
    heads = [load_head_for(verifier, judged[0].method_config["options"].get("head"))]
    if args.compare_head:
        heads.append(load_head_for(verifier, str(args.compare_head)))
    baseline = {(r.item_id, r.turn): r.correct for r in records if r.task == args.task and r.method == "verifier"}
    if args.lost_only:
        judged = [r for r in judged if r.correct is False and baseline.get((r.item_id, r.turn)) is True]
    items = [_item(r, verifier, loaded.tokenizer, heads, baseline.get((r.item_id, r.turn))) for r in judged]
    report = {"run": str(args.run_dir), "task": args.task, "method": args.method,
              "compare_head": str(args.compare_head) if args.compare_head else None, "summary": _summary(items), "items": items}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(report["summary"], indent=2))


def _item(
    record: SampleRecord, verifier: TransformersBackend, tokenizer: PreTrainedTokenizerBase, heads: list[JudgeHead],
    verifier_correct: bool | None,
) -> dict:
    scores = _token_scores(record, verifier, tokenizer, heads)
    kept = [
        {
            "position": k,
            "token": record.pieces[k],
            **{name: round(head_scores[k], 4) for name, head_scores in zip(("score", "compare_score"), scores)},
            "context": "".join(record.pieces[max(0, k - CONTEXT_PIECES) : k]),
        }
        for k, provenance in enumerate(record.provenance)
        if provenance == "relaxed"
    ]
    return {"item": record.item_id, "turn": record.turn, "correct": record.correct, "verifier_correct": verifier_correct, "judge_only": kept}


@torch.inference_mode()
def _token_scores(
    record: SampleRecord, verifier: TransformersBackend, tokenizer: PreTrainedTokenizerBase, heads: list[JudgeHead]
) -> list[list[float]]:
    """Each head's score at each output token, read as the judge read it when the token was drafted."""
    prompt = encode_prompt(tokenizer, record.prompt, chat=True)
    verifier.reset()
    states = verifier.forward([*prompt, *record.token_ids], last_only=True, hidden=True).hidden
    assert states is not None
    return [head.scores(states[len(prompt) :]).float().tolist() for head in heads]


def _summary(items: list[dict]) -> dict:
    """Counts, and the scores of judge-only tokens in answers that lost what verifier-only got right."""
    lost = [i for i in items if i["correct"] is False and i["verifier_correct"] is True]
    return {
        "samples": len(items),
        "judge_only_tokens": sum(len(i["judge_only"]) for i in items),
        "lost_against_verifier": [i["item"] for i in lost],
        "judge_only_scores_in_lost": sorted(t["score"] for i in lost for t in i["judge_only"]),
        "compare_scores_in_lost": sorted(t["compare_score"] for i in lost for t in i["judge_only"] if "compare_score" in t),
    }


if __name__ == "__main__":
    main()
