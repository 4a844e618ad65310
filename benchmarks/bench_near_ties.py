"""Are a benchmark's non-identical lossless outputs near-ties? The verifier's margin where they split.

For every run of a lossless method (``sd``, any drafter or bridge; transformers' assisted
generation) whose tokens differ from verifier-only greedy on the same prompt and backend, this
finds the first differing position and reads the verifier's logits there, alone, on the prompt
plus the common prefix, on the backend the method ran on: the gap between its two best tokens.
A lossless method can only differ where a forward over several tokens rounds differently from one
over a single token, so the gaps should be small. Writes JSON with every split and a count.

    python benchmarks/bench_near_ties.py benchmarks/results/cross-tokenizer/qwen-1.5b-drafts-both-backends.json \
        --out benchmarks/results/cross-tokenizer/qwen-1.5b-near-ties.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import median
from typing import Any

from verispec import Pipeline
from verispec.bench.prompts import PROMPTS
from verispec.tokens import encode_prompt

# Gaps in logits; a 4-bit verifier's batched and single forwards differ by up to a few tenths.
BANDS = (0.05, 0.25, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench_json", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    bench = json.loads(args.bench_json.read_text())
    splits = differing_runs(bench)
    verifier = bench["models"]["verifier"]
    pipes = {backend: Pipeline(verifier=verifier, draft=verifier, backend=backend) for backend in {s["backend"] for s in splits}}
    prompts = {p.id: p for p in PROMPTS}
    for split in splits:
        pipe = pipes[split["backend"]]
        prompt_ids = encode_prompt(pipe.verifier.tokenizer, prompts[split["prompt_id"]].messages(), chat=True)
        split.update(gap_at(pipe, prompt_ids, split["reference"], split["at"]))
        del split["reference"]
    result = {"source": str(args.bench_json), "verifier": verifier, "definition": __doc__.split("\n\n")[1],
              "summary": summarize(splits), "splits": splits}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"], indent=1))


def differing_runs(bench: dict[str, Any]) -> list[dict[str, Any]]:
    """Runs of lossless methods that differ from their verifier-only run, with where they split."""
    rows = {r["method"]: r for r in bench["summary"]["methods"]}
    settings = bench["settings"]["methods"]
    lossless = [m for m, s in settings.items() if s.get("lossless") or s.get("peer") == "hf-assisted"]
    by_key = {(r["prompt_id"], r["method"]): r for r in bench["runs"] if r["repeat"] == 0}
    splits = []
    for method in lossless:
        baseline = rows[method]["baseline"]
        if baseline == method:
            continue
        for (prompt_id, name), run in by_key.items():
            reference = by_key.get((prompt_id, baseline))
            if name != method or reference is None or run["token_ids"] == reference["token_ids"]:
                continue
            at = run["matching_prefix"]
            splits.append({
                "method": method, "prompt_id": prompt_id, "backend": settings[baseline].get("ran_on", "llama.cpp"),
                "at": at, "reference": reference["token_ids"],
                "verifier_token": reference["token_ids"][at] if at < len(reference["token_ids"]) else None,
                "method_token": run["token_ids"][at] if at < len(run["token_ids"]) else None,
            })
    return splits


def gap_at(pipe: Pipeline, prompt_ids: list[int], reference: list[int], at: int) -> dict[str, float]:
    """The verifier's logit gap between its best and second-best token after ``reference[:at]``."""
    backend = pipe.verifier.backend
    backend.clear_prefix_cache()
    backend.reset()
    logits = backend.forward([*prompt_ids, *reference[:at]], last_only=True).logits[-1].float()
    top = logits.topk(2)
    return {"gap": round(float(top.values[0] - top.values[1]), 4)}


def summarize(splits: list[dict[str, Any]]) -> dict[str, Any]:
    gaps = [s["gap"] for s in splits]
    return {
        "differing_runs": len(splits),
        "median_gap": round(median(gaps), 4) if gaps else None,
        "max_gap": max(gaps) if gaps else None,
        **{f"gap_below_{band}": sum(g < band for g in gaps) for band in BANDS},
        "by_method": {m: sorted(s["gap"] for s in splits if s["method"] == m) for m in dict.fromkeys(s["method"] for s in splits)},
    }


if __name__ == "__main__":
    main()
