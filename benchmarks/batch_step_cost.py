"""What one decode step costs for b sequences at once, on each backend: where batching pays.

For b in 1, 2, 4, 8, 16 sequences, each with a cached context of ``--context`` tokens, it times a
step of one new token per sequence: on llama.cpp one multi-sequence decode (the batch verispec's
server runs), on torch one forward over a [b, 1] batch with a [b, context] KV cache (what a padded
batch would cost at best, with no padding). Aggregate tokens per second = b / step time. Writes
JSON with the CPU, versions and every repeat.

    python benchmarks/batch_step_cost.py --out benchmarks/results/batching/step-cost.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from statistics import median
from typing import Any

import torch

from verispec import runinfo
from verispec.backends.llamacpp_sequences import LlamaCppSequences
from verispec.backends.sequences import SequenceInput
from verispec.models.handles import open_model
from verispec.pipeline import DTYPES

SIZES = (1, 2, 4, 8, 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--torch-dtypes", default="bf16,int8", help="torch precisions to time (pipeline DTYPES names)")
    parser.add_argument("--no-llama-cpp", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    load_before = runinfo.load_average()
    results = {} if args.no_llama_cpp else {"llama.cpp": llama_cpp_steps(args.model, args.context, args.repeats)}
    for name in args.torch_dtypes.split(","):
        results[f"torch-{name}"] = torch_steps(args.model, DTYPES[name], args.context, args.repeats)
    payload = {"model": args.model, "context": args.context, "repeats": args.repeats,
               "definition": __doc__.split("\n\n")[1], "results": results,
               "environment": runinfo.environment(load_before)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    for backend, rows in results.items():
        print(backend, {r["sequences"]: (round(r["median_step_s"] * 1000, 1), round(r["tokens_per_s"], 1)) for r in rows})


def llama_cpp_steps(model: str, context: int, repeats: int) -> list[dict[str, Any]]:
    handle = open_model(model, backend="llama.cpp", dtype=torch.bfloat16, device="cpu")
    rows = []
    for b in SIZES:
        sequences = LlamaCppSequences(handle.backend, sequences=b, n_ctx=b * (context + repeats + 8), n_batch=b * context)
        sequences.decode([SequenceInput(s, list(range(100, 100 + context))) for s in range(b)])
        times = []
        for step in range(repeats + 1):
            start = time.perf_counter()
            sequences.decode([SequenceInput(s, [200 + step]) for s in range(b)])
            times.append(time.perf_counter() - start)
        sequences.close()
        rows.append(_row(b, times[1:]))  # the first step warms the kernels for this batch size
    return rows


def torch_steps(model: str, dtype: torch.dtype, context: int, repeats: int) -> list[dict[str, Any]]:
    lm = open_model(model, backend="torch", dtype=dtype, device="cpu").model
    rows = []
    with torch.inference_mode():
        for b in SIZES:
            out = lm(torch.arange(100, 100 + context).repeat(b, 1), use_cache=True)
            cache, times = out.past_key_values, []
            for step in range(repeats + 1):
                start = time.perf_counter()
                out = lm(torch.full((b, 1), 200 + step), past_key_values=cache, use_cache=True)
                times.append(time.perf_counter() - start)
                cache = out.past_key_values
            rows.append(_row(b, times[1:]))
    return rows


def _row(b: int, times: list[float]) -> dict[str, Any]:
    step = median(times)
    return {"sequences": b, "median_step_s": step, "tokens_per_s": b / step, "step_s": times}


if __name__ == "__main__":
    main()
