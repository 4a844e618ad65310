"""Summary numbers and the table are computed correctly from per-run records."""

from dataclasses import replace

import pytest

from verispec.bench.records import RunRecord, compare_with_baseline, matching_prefix
from verispec.bench.summary import summarize_runs
from verispec.bench.table import format_table

BASE = RunRecord(
    prompt_id="p", category="math", method="verifier", repeat=0, position=0, prompt_tokens=10, new_tokens=10,
    wall_seconds=1.0, rounds=10, proposed=0, accepted=0, draft_forwards=0, verifier_forwards=11,
    draft_seconds=0.0, verifier_seconds=0.9, finish_reason="length", token_ids=list(range(10)), text="",
)


def run(prompt, category, method, tokens_per_second, *, new_tokens=10, rounds=10, proposed=0, accepted=0, ids=None):
    return replace(
        BASE, prompt_id=prompt, category=category, method=method, new_tokens=new_tokens,
        wall_seconds=new_tokens / tokens_per_second, rounds=rounds, proposed=proposed, accepted=accepted,
        token_ids=ids if ids is not None else list(range(new_tokens)),
    )


# Three prompts; verifier speeds 4, 5, 10 tokens/s. Ratios for sd: 2.0, 1.2, 1.5 -> median 1.5,
# while the ratio of medians would be 8/5 = 1.6: the summary must use the median of ratios.
RUNS = [
    run("m1", "math", "verifier", 4.0),
    run("m1", "math", "draft", 10.0),
    run("m1", "math", "sd", 8.0, rounds=4, proposed=12, accepted=6),
    run("c1", "code", "verifier", 5.0),
    run("c1", "code", "draft", 10.0),
    run("c1", "code", "sd", 6.0, rounds=5, proposed=10, accepted=5),
    run("c2", "code", "verifier", 10.0),
    run("c2", "code", "draft", 20.0),
    run("c2", "code", "sd", 15.0, rounds=1, proposed=9, accepted=9, ids=[0, 1, 2, 9, 9, 9, 9, 9, 9, 9]),
]


def compared(runs):
    baselines = {r.prompt_id: r for r in runs if r.method == "verifier"}
    return [r if r.method == "verifier" else compare_with_baseline(r, baselines[r.prompt_id]) for r in runs]


def test_speedup_is_the_median_of_per_prompt_ratios():
    summary = summarize_runs(compared(RUNS), ["verifier", "draft", "sd"])
    verifier, draft, sd = summary.methods
    assert verifier.tokens_per_second == 5.0 and verifier.speedup == 1.0
    assert sd.tokens_per_second == 8.0
    assert sd.speedup == pytest.approx(1.5)
    assert sd.by_category["math"].speedup == pytest.approx(2.0)
    assert sd.by_category["code"].speedup == pytest.approx((1.2 + 1.5) / 2)
    assert sd.by_category["code"].prompts == 2
    assert draft.speedup == pytest.approx(2.0)


def test_pooled_acceptance_identity_and_cost_ratio():
    summary = summarize_runs(compared(RUNS), ["verifier", "draft", "sd"])
    verifier, draft, sd = summary.methods
    assert sd.mean_accepted_length == pytest.approx(30 / 10)
    assert sd.acceptance_rate == pytest.approx(20 / 31)
    assert (sd.identical, sd.compared) == (2, 3)
    assert (draft.identical, draft.compared) == (3, 3)
    assert verifier.compared == 0 and verifier.mean_accepted_length is None and verifier.acceptance_rate is None
    assert summary.cost_ratio == pytest.approx(0.5)  # verifier/draft tokens/s: 0.4, 0.5, 0.5
    assert summary.ceiling == pytest.approx(2.0)
    assert summary.categories == ["math", "code"]


def test_repeats_use_the_median_per_prompt():
    runs = [run("m1", "math", "verifier", speed) for speed in (4.0, 6.0, 100.0)]
    assert summarize_runs(runs, ["verifier"]).methods[0].tokens_per_second == 6.0


def test_matching_prefix_and_identity():
    assert matching_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert matching_prefix([1, 2], [1, 2, 3]) == 2
    longer = compare_with_baseline(replace(BASE, method="sd", token_ids=[*range(10), 5]), BASE)
    assert longer.identical is False and longer.matching_prefix == 10


def test_table_shows_every_method_with_counts_and_ceiling():
    table = format_table(summarize_runs(compared(RUNS), ["verifier", "draft", "sd"], drafts={"sd": "draft"}))
    lines = table.splitlines()
    assert lines[0].split() == [
        "method", "tok/s", "speedup", "math", "code", "τ", "accept", "identical", "overhead", "c"]
    sd = lines[4].split()
    assert sd[:5] == ["sd", "8.00", "1.50x", "2.00x", "1.35x"]
    assert sd[5:8] == ["3.00", "64.5%", "2/3"] and sd[-1] == "0.500"
    assert lines[2].split()[7] == "ref"
    assert "c (draft/verifier cost per token) = 0.500; ceiling 1/c = 2.00x" in table


def test_table_without_draft_says_c_was_not_measured():
    runs = [r for r in RUNS if r.method != "draft"]
    assert "not measured" in format_table(summarize_runs(runs, ["verifier", "sd"]))
