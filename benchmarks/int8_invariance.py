"""How much does each precision's output move when the same token is computed beside others?

On one 80-token input it compares the last logits of (a) a step in a padded batch of two sequences
with the same step alone, and (b) a 5-token verification pass with 5 one-token steps, in fp32, bf16
and int8 (``--dtype int8``). fp32 shows the rounding of attention alone; int8 quantizes each layer's
input, so where such a difference crosses a rounding boundary it grows.

    python benchmarks/int8_invariance.py --out benchmarks/results/int8-invariance.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from verispec import runinfo
from verispec.backends.sequences import SequenceInput
from verispec.backends.torch_sequences import TorchSequences
from verispec.backends.transformers_backend import TransformersBackend
from verispec.models.handles import open_model
from verispec.pipeline import DTYPES

TOKENS = list(range(1000, 1080))
NEIGHBOUR = list(range(2000, 2050))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    load_before = runinfo.load_average()
    results = {}
    for name in ("fp32", "bf16", "int8"):
        backend = open_model(args.model, backend="torch", dtype=DTYPES[name], device="cpu").backend
        results[name] = {"batched_step_vs_alone": batched_vs_alone(backend),
                         "verify_pass_vs_steps": pass_vs_steps(backend)}
        print(name, results[name], flush=True)
    payload = {"model": args.model, "definition": __doc__.split("\n\n")[1], "max_abs_logit_difference": results,
               "environment": runinfo.environment(load_before)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")


def batched_vs_alone(backend: TransformersBackend) -> float:
    sequences = TorchSequences(backend, sequences=2, n_ctx=256, n_batch=256)
    sequences.decode([SequenceInput(0, TOKENS[:-1]), SequenceInput(1, NEIGHBOUR[:-1])])
    batched = sequences.decode([SequenceInput(0, TOKENS[-1:]), SequenceInput(1, NEIGHBOUR[-1:])])[0].logits[-1]
    sequences.close()
    backend.reset()
    backend.forward(TOKENS[:-1])
    alone = backend.forward(TOKENS[-1:]).logits[-1]
    return _difference(batched, alone)


def pass_vs_steps(backend: TransformersBackend) -> float:
    backend.reset()
    backend.forward(TOKENS[:-5])
    verified = backend.forward(TOKENS[-5:]).logits
    backend.reset()
    backend.forward(TOKENS[:-5])
    stepped = torch.stack([backend.forward([t]).logits[-1] for t in TOKENS[-5:]])
    return _difference(verified, stepped)


def _difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


if __name__ == "__main__":
    main()
