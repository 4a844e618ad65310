"""The whole benchmark on tiny in-process models, transformers' peer included (no timing assertions)."""

import json
from pathlib import Path

import pytest

from verispec.bench import BenchConfig, run_bench, summarize_runs, write_json
from verispec.bench.records import RunRecord

METHODS = (
    "verifier", "draft", "sd", "sd:adaptive=false,gamma=3", "hf-assisted", "hf-verifier", "sd:drafter=lookup", "hf-lookup",
)
FIELDS = set(RunRecord.__dataclass_fields__) - {"details"}


@pytest.fixture(scope="module")
def result(pipe):
    return run_bench(pipe, BenchConfig(methods=METHODS, max_new_tokens=24, limit=3, warmup_tokens=4), progress=False)


@pytest.fixture(scope="module")
def payload(result, tmp_path_factory) -> dict:
    path = write_json(result, tmp_path_factory.mktemp("bench") / "out" / "bench.json")
    return json.loads(path.read_text())


def test_json_has_settings_environment_prompts_runs_and_summary(payload):
    assert payload["schema"] == "verispec.bench/1"
    assert payload["settings"]["max_new_tokens"] == 24 and payload["settings"]["decoding"] == "greedy"
    assert set(payload["settings"]["methods"]) == set(METHODS)
    assert payload["settings"]["methods"]["sd:adaptive=false,gamma=3"]["schedule"]["adaptive"] is False
    assert payload["settings"]["methods"]["hf-assisted"]["assistant"]["num_assistant_tokens"] >= 1
    env = payload["environment"]
    assert {"python", "torch", "transformers", "verispec"} <= env["versions"].keys()
    assert {"cpu", "cpu_flags", "cores", "torch_threads"} <= env["machine"].keys()
    assert payload["models"]["eos_token_ids"] == [256]
    assert [p["category"] for p in payload["prompts"]] == ["math", "code", "chat"]
    assert len(payload["runs"]) == 3 * len(METHODS)
    assert all(FIELDS <= run.keys() and "tokens_per_second" in run for run in payload["runs"])
    assert {m["method"] for m in payload["summary"]["methods"]} == set(payload["settings"]["methods"])


def test_summary_in_json_is_recomputed_from_its_runs(result, payload):
    runs = [RunRecord(**{k: v for k, v in r.items() if k in RunRecord.__dataclass_fields__}) for r in payload["runs"]]
    rows = payload["summary"]["methods"]
    baselines = {m["method"]: m["baseline"] for m in rows}
    drafts = {m["method"]: m["draft_only"] for m in rows if m["draft_only"]}
    assert summarize_runs(runs, [m["method"] for m in rows], baselines, drafts).to_dict() == payload["summary"]
    assert drafts == {"sd": "draft", "sd:adaptive=false,gamma=3": "draft", "hf-assisted": "draft"}
    assert result.summary.to_dict() == payload["summary"]


def test_methods_run_back_to_back_in_rotated_order(result):
    firsts = []
    for prompt in result.prompts:
        block = sorted((r for r in result.runs if r.prompt_id == prompt.id), key=lambda r: r.position)
        assert [r.position for r in block] == list(range(len(METHODS)))
        assert {r.method for r in block} == set(METHODS)
        firsts.append(block[0].method)
    assert len(set(firsts)) == len(firsts)


def test_lossless_methods_and_the_peer_match_verifier_greedy_in_fp32(result):
    by_method = {m.method: m for m in result.summary.methods}
    for method in ("sd", "sd:adaptive=false,gamma=3", "hf-assisted", "hf-verifier", "sd:drafter=lookup", "hf-lookup"):
        assert by_method[method].identical == by_method[method].compared == 3, method
    assert by_method["verifier"].compared == 0


def test_peer_stops_at_the_same_end_token_and_counts_rounds(result):
    runs = {(r.prompt_id, r.method): r for r in result.runs}
    finishes = {runs[p.id, "verifier"].finish_reason for p in result.prompts}
    assert finishes == {"eos", "length"}  # both ways of ending are exercised
    for prompt in result.prompts:
        ours, peer = runs[prompt.id, "verifier"], runs[prompt.id, "hf-assisted"]
        assert peer.finish_reason == ours.finish_reason and peer.new_tokens == ours.new_tokens
        assert peer.prompt_tokens == ours.prompt_tokens == prompt.prompt_tokens
        assert peer.rounds == peer.verifier_forwards >= 1
        assert peer.accepted + peer.rounds == peer.new_tokens
        assert peer.proposed >= peer.accepted and peer.draft_forwards >= 1
        lookup = runs[prompt.id, "hf-lookup"]
        assert lookup.accepted + lookup.rounds == lookup.new_tokens == ours.new_tokens and lookup.draft_forwards == 0
        plain = runs[prompt.id, "hf-verifier"]
        assert plain.proposed == 0 and plain.rounds == plain.new_tokens and plain.mean_accepted_length is None


def test_draft_only_time_is_booked_to_the_draft(result):
    for run in (r for r in result.runs if r.method == "draft"):
        assert run.verifier_forwards == 0 and run.verifier_seconds == 0.0
        assert run.draft_forwards == run.new_tokens + 1  # the prefill plus one pass per token


def test_write_json_replaces_the_file_and_leaves_no_temporary(result, tmp_path: Path):
    path = tmp_path / "bench.json"
    path.write_text("old")
    write_json(result, path)
    assert json.loads(path.read_text())["schema"] == "verispec.bench/1"
    assert [p.name for p in tmp_path.iterdir()] == ["bench.json"]
