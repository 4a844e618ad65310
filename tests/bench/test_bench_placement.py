"""Placed methods (``@draft=NAME``, ``@torch,draft=NAME``): parsing, and one run comparing drafts,
a cross-tokenizer draft and transformers' universal assisted generation included."""

from __future__ import annotations

import pytest
from cosd_models import merged_tokenizer
from tiny_models import noisy_copy, tiny_model

from verispec.bench import BenchConfig, run_bench
from verispec.bench.methods import parse_method, parse_methods, split_specs
from verispec.errors import ConfigError


def test_a_placement_names_a_backend_a_draft_or_both():
    both = parse_method("sd:gamma=4@torch,draft=small")
    assert (both.label, both.backend, both.draft, both.method.label()) == (
        "sd:gamma=4@torch,draft=small", "torch", "small", "sd:gamma=4")
    assisted = parse_method("hf-assisted:num_assistant_tokens=3@draft=small")
    assert (assisted.label, assisted.peer, assisted.draft) == ("hf-assisted:num_assistant_tokens=3@draft=small",
                                                               "hf-assisted", "small")
    assert assisted.peer_options == {"num_assistant_tokens": 3} and assisted.runs_on == "torch"
    assert split_specs("verifier,sd@torch,draft=small,draft@draft=small,sd:gamma=4,stop_below=0.3@draft=small") == [
        "verifier", "sd@torch,draft=small", "draft@draft=small", "sd:gamma=4,stop_below=0.3@draft=small"]


def test_each_method_is_compared_with_the_verifier_and_the_draft_on_its_own_backend():
    methods = parse_methods(["verifier", "verifier@torch", "draft@draft=small", "sd@draft=small", "sd@torch",
                             "hf-assisted", "sd:drafter=lookup"])
    labels = [m.label for m in methods]
    by_label = {m.label: m for m in methods}
    assert by_label["sd@torch"].baseline(labels) == "verifier@torch"
    assert by_label["hf-assisted"].baseline(labels) == "verifier@torch"  # transformers runs torch models
    assert by_label["sd@draft=small"].baseline(labels) == "verifier"
    assert by_label["sd@draft=small"].draft_only(labels) == "draft@draft=small"
    assert by_label["sd@torch"].draft_only(labels, "llama.cpp") is None  # no draft-only run on torch here
    assert by_label["hf-assisted"].draft_only(labels, "llama.cpp") is None  # "draft" ran on llama.cpp
    assert by_label["hf-assisted"].draft_only([*labels, "draft"], "torch") == "draft"  # a torch benchmark's own
    assert not by_label["sd:drafter=lookup"].uses_draft_model


@pytest.mark.parametrize(
    ("spec", "match"),
    [("sd@vllm", "runs @torch or @llama.cpp"), ("sd@draft=", "draft=NAME"), ("sd@torch,llama.cpp", "runs @torch"),
     ("hf-assisted@torch", "only verispec methods take a backend"), ("sd@size=3", "draft=NAME")],
)
def test_bad_placements_are_typed_errors(spec, match):
    with pytest.raises(ConfigError, match=match):
        parse_method(spec)


METHODS = ("verifier", "draft", "sd", "draft@draft=twin", "sd@draft=twin", "draft@draft=merged", "sd@draft=merged",
           "sd:bridge=shared@draft=merged", "hf-assisted@draft=merged")


@pytest.fixture(scope="module")
def result(pipe):
    twin = noisy_copy(pipe.verifier.model, 7, 0.05)
    twin.config.name_or_path = "twin-draft"
    other = merged_tokenizer()
    merged = tiny_model(4, vocab=len(other), eos=other.eos_token_id)
    merged.config.name_or_path = "merged-draft"
    drafts = {"twin": (twin, pipe.verifier.tokenizer), "merged": (merged, other)}
    config = BenchConfig(methods=METHODS, max_new_tokens=20, limit=2, warmup_tokens=4)
    return run_bench(pipe, config, progress=False, drafts=drafts)


def test_every_draft_is_lossless_in_fp32_universal_assisted_generation_included(result):
    for run in result.runs:
        if run.method.startswith(("sd", "hf-assisted")):
            assert run.identical, (run.method, run.prompt_id)
    merged = [r for r in result.runs if r.method == "sd@draft=merged"]
    assert sum(r.proposed for r in merged) > 0


def test_each_method_records_its_draft_and_cost_ratio(result):
    settings = result.method_settings
    assert settings["sd"]["draft"] != "twin-draft"
    assert settings["sd@draft=twin"]["draft"] == "twin-draft"
    assert settings["hf-assisted@draft=merged"]["draft"] == "merged-draft"
    rows = {row.method: row for row in result.summary.methods}
    assert rows["sd@draft=merged"].draft_only == "draft@draft=merged"
    assert rows["sd@draft=merged"].cost_ratio is not None and rows["sd"].draft_only == "draft"
    assert rows["verifier"].draft_only is None and rows["verifier"].cost_ratio is None


def test_the_verifier_is_loaded_once_for_all_drafts(result, pipe):
    drafts = {run.method: run for run in result.runs if run.method.startswith("draft")}
    assert len({r.method for r in drafts.values()}) == 3
    assert result.models["backends"].keys() == {"torch", "draft=twin", "draft=merged"}
