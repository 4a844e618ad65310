"""Why do lossless sd outputs differ from verifier-only ones? Look at the verifier's logits there.

For every item of a task where ``sd`` and ``verifier`` wrote different tokens, this finds the first
differing position and scores both tokens with the verifier, once in bf16 and once in fp32, on the
prompt plus the common prefix. Gaps of about one bf16 rounding step mean the two tokens are tied
within bf16's precision, which makes the difference a rounding effect, not a bug in verification.

    python benchmarks/check_bf16_flips.py benchmarks/runs/qwen-coder-0.5b-1.5b-greedy mmlu \
        --out benchmarks/results/bf16-flips-mmlu.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from verispec.eval.records import load_run
from verispec.models.loading import load_model
from verispec.tokens import encode_prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("task")
    parser.add_argument("--verifier", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    _, records = load_run(args.run_dir)
    by_key = {(r.item_id, r.method): r for r in records if r.task == args.task and r.turn == 0}
    differing = [i for (i, m) in by_key if m == "sd" and (i, "verifier") in by_key
                 and by_key[(i, "sd")].token_ids != by_key[(i, "verifier")].token_ids]
    dtypes = {"bf16": torch.bfloat16, "fp32": torch.float32}
    models = {name: load_model(args.verifier, dtype=dtype) for name, dtype in dtypes.items()}
    rows = [_inspect(by_key[(i, "verifier")], by_key[(i, "sd")], models) for i in sorted(differing)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"run": str(args.run_dir), "task": args.task, "verifier": args.verifier, "items": rows}, indent=2) + "\n")
    for row in rows:
        print(json.dumps(row))


def _inspect(verifier, sd, models) -> dict:
    position = next(k for k, (a, b) in enumerate(zip(verifier.token_ids, sd.token_ids)) if a != b)
    tokens = {"verifier": verifier.token_ids[position], "sd": sd.token_ids[position]}
    row = {"item": verifier.item_id, "position": position, "tokens": tokens}
    for name, loaded in models.items():
        ids = encode_prompt(loaded.tokenizer, verifier.prompt, chat=True) + verifier.token_ids[:position]
        with torch.inference_mode():
            logits = loaded.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
        row[name] = {
            "logit_of_verifier_token": float(logits[tokens["verifier"]]),
            "logit_of_sd_token": float(logits[tokens["sd"]]),
            "argmax": int(logits.argmax()),
        }
    return row


if __name__ == "__main__":
    main()
