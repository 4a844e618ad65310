"""The costs that bound speculative decoding on a backend: one forward over k new tokens, k = 1..16.

For the verifier and the draft of the embedded pair: the median seconds of a forward over k new
tokens after a 64-token context (each timed ``--repeats`` times, rolled back in between), the
draft/verifier cost ratio ``c`` (one token each), and, from those, the best expected speedup over
verifier-only decoding that any draft length allows at per-token acceptance rates α (the draft
model, and a free drafter such as prompt lookup), by ``verispec.costs.best_draft_length``.

    python benchmarks/llamacpp_costs.py --backend llama.cpp --out benchmarks/results/llamacpp/costs.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from verispec import Pipeline, runinfo
from verispec.costs import best_draft_length

LENGTHS = (1, 2, 3, 4, 6, 8, 12, 16)
ALPHAS = (0.5, 0.7, 0.8, 0.9, 0.95)


def forward_costs(backend, repeats: int) -> dict[int, float]:
    """Median seconds of one forward over k new tokens after a 64-token context."""
    backend.reset()
    backend.forward(list(range(1000, 1064)))
    costs = {}
    for k in LENGTHS:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            backend.forward(list(range(2000, 2000 + k)))
            times.append(time.perf_counter() - start)
            backend.rollback(64)
        costs[k] = statistics.median(times)
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="llama.cpp")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    load = runinfo.load_average()
    pipe = Pipeline(backend=args.backend)
    verifier, draft = forward_costs(pipe.verifier.backend, args.repeats), forward_costs(pipe.draft.backend, args.repeats)
    c = draft[1] / verifier[1]
    bounds = {
        drafter: {str(alpha): _speedup(verifier, per_token, alpha) for alpha in ALPHAS}
        for drafter, per_token in (("draft model", draft[1]), ("free drafter (lookup)", 0.0))
    }
    payload = {
        "command": ["python", "benchmarks/llamacpp_costs.py", "--backend", args.backend, "--repeats", str(args.repeats),
                    "--out", str(args.out)],
        "runtime": pipe.runtime(), "environment": runinfo.environment(load),
        "verifier_seconds_by_k": verifier, "draft_seconds_by_k": draft, "cost_ratio_c": c,
        "best_speedup_by_alpha": bounds,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"verifier ms by k: { {k: round(v * 1000, 1) for k, v in verifier.items()} }")
    print(f"draft ms by k:    { {k: round(v * 1000, 1) for k, v in draft.items()} }")
    print(f"c = {c:.2f}; best speedup (draft length) by alpha: {json.dumps(bounds)}")


def _speedup(verifier: dict[int, float], draft_cost: float, alpha: float) -> dict[str, float]:
    gamma, rate = best_draft_length(verifier, draft_cost, alpha, max_gamma=15)
    return {"gamma": gamma, "speedup": round(rate * verifier[1], 3)}


if __name__ == "__main__":
    main()
