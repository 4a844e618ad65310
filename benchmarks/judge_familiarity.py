"""How much of each kind of text a judge head's familiarity gate calls familiar.

For the verifier-only answers of a run (GSM8K, HumanEval, MT-Bench by category, ...), this reads
the verifier's hidden state at every answer token (one forward pass per answer, on the head's
backend) and counts the tokens the head's gate lets the judge decide. A gate that works passes
most of the math and code its head was trained on and little of free writing, roleplay or the
humanities, where a head trained on math and code cannot tell a wrong word from a good one.

    python benchmarks/judge_familiarity.py benchmarks/runs/qwen-coder-0.5b-1.5b-greedy-llamacpp HEAD \
        --out benchmarks/results/judge/familiarity.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import torch

from verispec import runinfo
from verispec.eval import get_task
from verispec.eval.records import load_run
from verispec.judge.head import JudgeHead
from verispec.models.handles import LLAMA_CPP, open_model
from verispec.tokens import encode_prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("head", type=Path)
    parser.add_argument("--method", default="verifier", help="whose answers to read (default verifier)")
    parser.add_argument("--per-group", type=int, default=12, help="answers per task or category (default 12)")
    parser.add_argument("--backend", default=LLAMA_CPP)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    head = JudgeHead.load(args.head)
    if head.familiarity is None:
        raise SystemExit(f"{args.head} has no familiarity gate")
    manifest, records = load_run(args.run_dir)
    verifier = open_model(head.meta.verifier.name, backend=args.backend, dtype=torch.bfloat16, device="cpu")
    groups: dict[str, list[bool]] = defaultdict(list)
    answers: dict[str, int] = defaultdict(int)
    categories = _categories(records)
    for record in records:
        if record.method != args.method or record.turn != 0 or not record.token_ids:
            continue
        group = record.task if record.item_id not in categories.get(record.task, {}) else \
            f"{record.task}/{categories[record.task][record.item_id]}"
        if answers[group] >= args.per_group:
            continue
        answers[group] += 1
        prompt = encode_prompt(verifier.tokenizer, record.prompt, chat=True)
        verifier.backend.reset()
        hidden = verifier.backend.forward([*prompt, *record.token_ids], last_only=True, hidden=True).hidden
        groups[group] += head.familiar(hidden[len(prompt):]).tolist()
        print(f"{group}: {answers[group]} answers, {sum(groups[group]) / len(groups[group]):.1%} familiar", flush=True)
    result = {
        "command": "python benchmarks/judge_familiarity.py " + " ".join(
            [str(args.run_dir), str(args.head), "--method", args.method, "--per-group", str(args.per_group),
             "--backend", args.backend, "--out", str(args.out)]),
        "head_familiarity": head.meta.familiarity, "machine": runinfo.machine(), "commit": runinfo.commit(),
        "groups": {g: {"answers": answers[g], "tokens": len(v), "familiar": sum(v) / len(v)} for g, v in sorted(groups.items())},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for group, row in result["groups"].items():
        print(f"| {group} | {row['answers']} | {row['tokens']} | {row['familiar']:.1%} |")


def _categories(records) -> dict[str, dict[str, str]]:
    """MT-Bench's category per item, from the task's own items."""
    out: dict[str, dict[str, str]] = {}
    for task in {r.task for r in records}:
        try:
            items = get_task(task).items("eval")
        except Exception:  # a task without categories (or data) is one group
            continue
        found = {i.item_id: i.meta["category"] for i in items if i.meta.get("category")}
        if found:
            out[task] = found
    return out


if __name__ == "__main__":
    main()
