"""Which swaps derail answers: a sample of mined mismatches with their context, as a Markdown table.

Each row is one mismatch of `verispec judge mine`: the verifier's text before it, the verifier's
token and the draft's, and what the rollout's answer became. A stable random sample per label, so
reruns on a grown file keep earlier rows where they can.

    python benchmarks/judge_mined_examples.py data/judge/mined.jsonl --out benchmarks/results/judge/mined-examples.md
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from verispec.models.loading import load_tokenizer, resolve
from verispec.training.judge.mining.records import read_mined

CONTEXT = 60  # characters of the verifier's text shown before the swap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--per-label", type=int, default=10)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    data = read_mined(args.data)
    labels = list(data.labels())
    tokenizer, _ = load_tokenizer(resolve(labels[0][0].verifier))
    lines = [f"# Mined mismatches: a sample of {args.per_label} important and {args.per_label} harmless",
             "", f"From `{args.data}` ({len(labels)} labels); made with `python benchmarks/judge_mined_examples.py "
             f"{args.data} --per-label {args.per_label} --out {args.out}`.", "",
             "| task/item | label | …context | verifier wrote | draft wrote | answer: verifier → rollout (right?) |",
             "|---|---|---|---|---|---|"]
    for important in (True, False):
        chosen = sorted((m for m in labels if m[1].important == important),
                        key=lambda pair: hashlib.sha256(f"{pair[1].task}/{pair[1].item_id}/{pair[1].position}".encode()).digest())
        for item, label in chosen[: args.per_label]:
            before = tokenizer.decode(item.answer_ids[: label.position])[-CONTEXT:]
            lines.append(
                f"| {item.task}/{item.item_id} | {'important' if important else 'harmless'} | {_cell(before)} "
                f"| {_cell(tokenizer.decode([label.verifier_token]))} | {_cell(tokenizer.decode([label.draft_token]))} "
                f"| {item.answer} → {label.answer} ({'✓' if item.correct else '✗'} → {'✓' if label.correct else '✗'}) |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(args.out)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell, whitespace visible."""
    return "`" + text.replace("|", "\\|").replace("\n", "⏎").replace("`", "ˋ") + "`"


if __name__ == "__main__":
    main()
