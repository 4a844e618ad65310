"""How close is each precision to the fp32 verifier? Greedy choices on the verifier's own answers.

For items of a committed `verispec eval` run, it feeds the prompt and the verifier-only answer
(teacher forcing) through the verifier in fp32, bf16, int8 (torch, ``--dtype int8``) and, where
llama-cpp-python is installed, the Q4_K_M GGUF on llama.cpp, and counts at every answer position
whether each one's argmax equals fp32's; also the mean KL(fp32 || it) over those positions. One
forward per item and precision, so every precision sees the same text.

    python benchmarks/int8_agreement.py benchmarks/runs/qwen-coder-0.5b-1.5b-greedy \
        --tasks gsm8k,humaneval,mt_bench --items 20 --out benchmarks/results/int8-agreement.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from typing import Any

import torch

from verispec import runinfo
from verispec.eval.records import load_run
from verispec.models.handles import open_model
from verispec.pipeline import DTYPES
from verispec.tokens import encode_prompt

PRECISIONS = ("bf16", "int8")  # torch precisions compared with fp32 (names of DTYPES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--tasks", default="gsm8k,humaneval,mt_bench")
    parser.add_argument("--items", type=int, default=20, help="items per task (the first by id)")
    parser.add_argument("--verifier", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    load_before = runinfo.load_average()
    names = ["fp32", *PRECISIONS, *(["llama.cpp-q4_k_m"] if importlib.util.find_spec("llama_cpp") else [])]
    handles = {name: open_handle(args.verifier, name) for name in names}
    texts = answered_texts(args.run_dir, args.tasks.split(","), args.items, handles["fp32"].tokenizer)
    per_position: dict[str, dict[str, list[torch.Tensor]]] = {name: {} for name in names[1:]}
    for i, text in enumerate(texts):
        reference = log_probs(handles["fp32"].backend, text)
        for name in names[1:]:
            agree, kl = _compare(reference, log_probs(handles[name].backend, text))
            for key in (text["task"], "all"):
                per_position[name].setdefault(key, []).append(torch.stack([agree, kl]))
        print(f"{i + 1}/{len(texts)} items", flush=True)
    rows = {name: {task: _summary(parts) for task, parts in tasks.items()} for name, tasks in per_position.items()}
    print(json.dumps({name: row["all"] for name, row in rows.items()}, indent=1))
    payload = {"run": str(args.run_dir), "verifier": args.verifier, "items_per_task": args.items,
               "definition": __doc__.split("\n\n")[1], "results": rows,
               "environment": runinfo.environment(load_before)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")


def answered_texts(run_dir: Path, tasks: list[str], items: int, tokenizer: Any) -> list[dict[str, Any]]:
    """Per item: its task, the prompt's token ids and the verifier-only answer's token ids."""
    _, records = load_run(run_dir)
    texts = []
    for task in tasks:
        chosen = sorted((r for r in records if r.task == task and r.method == "verifier" and r.turn == 0),
                        key=lambda r: r.item_id)[:items]
        texts += [{"task": task, "prompt": encode_prompt(tokenizer, r.prompt, chat=True), "answer": list(r.token_ids)}
                  for r in chosen]
    return texts


def open_handle(verifier: str, precision: str) -> Any:
    if precision.startswith("llama.cpp"):
        return open_model(verifier, backend="llama.cpp", dtype=torch.bfloat16, device="cpu")
    return open_model(verifier, backend="torch", dtype=DTYPES[precision], device="cpu")


@torch.inference_mode()
def log_probs(backend: Any, text: dict[str, Any]) -> torch.Tensor:
    """Log-probabilities ``[answer length, V]``, each predicting the next answer token."""
    backend.reset()
    ids = text["prompt"] + text["answer"]
    logits = backend.forward(ids[:-1]).logits[len(text["prompt"]) - 1 :].float()
    return torch.log_softmax(logits[:, : backend.vocab_size], dim=-1)


def _compare(ref: torch.Tensor, other: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per position: whether the argmax agrees, and KL(ref || other)."""
    width = min(ref.shape[1], other.shape[1])
    ref, other = ref[:, :width], other[:, :width]
    kl = (ref.exp() * (ref - other)).nan_to_num(0.0).sum(-1)
    return (ref.argmax(-1) == other.argmax(-1)).float(), kl


def _summary(parts: list[torch.Tensor]) -> dict[str, float]:
    agree, kl = torch.cat(parts, dim=1)
    return {"positions": int(agree.numel()), "argmax_agreement": float(agree.mean()), "mean_kl": float(kl.mean())}


if __name__ == "__main__":
    main()
