"""The built-in prompt set and the parsing of benchmark method specs."""

import pytest

from verispec.bench.methods import DEFAULT_METHODS, parse_method, parse_methods, split_specs
from verispec.bench.prompts import CATEGORIES, PROMPTS, select_prompts
from verispec.errors import ConfigError
from verispec.methods import Method


def test_prompt_set_has_four_of_each_category_with_unique_ids():
    assert len(PROMPTS) >= 16
    assert {c: sum(p.category == c for p in PROMPTS) for c in CATEGORIES} == {"math": 4, "code": 4, "chat": 4, "copy": 4}
    assert len({p.id for p in PROMPTS}) == len(PROMPTS)
    assert all(p.messages() == [{"role": "user", "content": p.text}] for p in PROMPTS)


def test_limit_takes_prompts_round_robin_over_categories():
    assert [p.category for p in select_prompts(limit=5)] == ["math", "code", "chat", "copy", "math"]
    assert len(select_prompts()) == len(PROMPTS)


def test_categories_filter_and_errors():
    assert {p.category for p in select_prompts(categories=["code"])} == {"code"}
    with pytest.raises(ConfigError, match="unknown prompt categories: poetry"):
        select_prompts(categories=["poetry"])
    with pytest.raises(ConfigError, match="limit must be >= 1"):
        select_prompts(limit=0)


def test_default_methods_parse_and_sd_settings_come_from_the_library():
    methods = parse_methods(DEFAULT_METHODS)
    assert [m.label for m in methods] == ["verifier", "draft", "sd", "sd:drafter=lookup", "hf-assisted"]
    sd = methods[2].settings()
    assert sd["schedule"]["gamma"] == Method.parse("sd").schedule().gamma
    assert sd["rule"]["class"] == "ExactRule"
    assert methods[4].is_peer and methods[4].speculative and not methods[0].speculative


def test_method_options_and_peer_options():
    assert parse_method("lenient:l=0.5").settings()["rule"] == {"class": "LenientRule", "leniency": 0.5}
    peer = parse_method("hf-assisted:num_assistant_tokens=5,num_assistant_tokens_schedule=constant")
    assert peer.label == "hf-assisted:num_assistant_tokens=5,num_assistant_tokens_schedule=constant"
    assert peer.peer_options == {"num_assistant_tokens": 5, "num_assistant_tokens_schedule": "constant"}
    lookup = parse_method("hf-lookup:prompt_lookup_num_tokens=8")
    assert lookup.label == "hf-lookup:prompt_lookup_num_tokens=8" and lookup.speculative
    assert lookup.peer_options == {"prompt_lookup_num_tokens": 8, "max_matching_ngram_size": 3}


def test_method_lists_keep_comma_separated_options_together():
    text = "verifier, sd:gamma=5,adaptive=false,hf-assisted:num_assistant_tokens=5,lenient:l=0.5"
    expected = ["verifier", "sd:gamma=5,adaptive=false", "hf-assisted:num_assistant_tokens=5", "lenient:l=0.5"]
    assert split_specs(text) == expected
    assert [m.label for m in parse_methods(split_specs(text))][1] == "sd:adaptive=false,gamma=5"


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["sd"], "must include 'verifier'"),
        (["verifier", "sd", "sd"], "listed twice: sd"),
        (["verifier", "hf-assisted:tokens=5"], "bad option 'tokens=5'"),
        (["verifier", "hf-assisted:num_assistant_tokens=many"], "not a valid int"),
        (["verifier", "hf-assisted:num_assistant_tokens_schedule=fast"], "must be one of"),
        (["verifier", "hf-verifier:x=1"], "takes no options"),
        (["verifier", "hf-lookup:num_assistant_tokens=5"], "hf-lookup: bad option"),
        (["verifier", "hf-lookup:prompt_lookup_num_tokens=0"], "must be >= 1"),
        (["verifier", "magic"], "unknown method 'magic'"),
    ],
)
def test_bad_method_specs(specs, message):
    with pytest.raises(ConfigError, match=message):
        parse_methods(specs)
