"""The public Pipeline: methods, streaming, stop strings, provenance, and typed errors for bad input."""

import pytest

from tiny_models import byte_tokenizer, noisy_copy, tiny_model
from verispec import Pipeline, Provenance
from verispec.errors import ConfigError, PromptError, VocabularyMismatchError


@pytest.fixture(scope="module")
def pipe():
    tokenizer = byte_tokenizer()
    verifier = tiny_model(0)
    return Pipeline(draft=(noisy_copy(verifier, 1, 0.002), tokenizer), verifier=(verifier, tokenizer), dtype="fp32")


def test_every_method_generates_with_consistent_provenance_and_stats(pipe):
    for method in ["verifier", "draft", "sd", "lenient:l=0.5", "typical", "sd:gamma=3,adaptive=false", "sd:draft_vocab=100"]:
        result = pipe.generate("hello", method=method, max_new_tokens=20)
        assert len(result.token_ids) == len(result.provenance) == result.stats.new_tokens == 20
        assert result.finish_reason == "length"
        assert sum(result.stats.provenance_counts.values()) == 20


def test_solo_methods_report_their_writer(pipe):
    assert set(pipe.generate("hi", method="verifier", max_new_tokens=5).provenance) == {Provenance.VERIFIER}
    assert set(pipe.generate("hi", method="draft", max_new_tokens=5).provenance) == {Provenance.DRAFT}


def test_stream_chunks_add_up_to_the_result(pipe):
    chunks = list(pipe.stream("hello", method="sd", max_new_tokens=30))
    result = chunks[-1].result
    assert result is not None
    assert "".join(c.text for c in chunks) == result.text
    assert [t for c in chunks for t in c.token_ids] == result.token_ids


def test_stop_string_cuts_text_and_tokens(pipe):
    full = pipe.generate("hello", method="verifier", max_new_tokens=40)
    stop = full.text[10:13]
    assert stop and stop not in full.text[:10]
    result = pipe.generate("hello", method="sd", max_new_tokens=40, stop=[stop])
    assert result.finish_reason == "stop"
    assert result.text == full.text[: full.text.index(stop)]
    assert result.token_ids == full.token_ids[: len(result.token_ids)]


def test_chat_messages_use_the_chat_template(pipe):
    messages = [{"role": "user", "content": "hi"}]
    result = pipe.generate(messages, method="verifier", max_new_tokens=3)
    assert pipe.verifier.tokenizer.decode(result.prompt_token_ids) == "<user>hi\n<assistant>"


def test_token_id_prompts_continue_exactly_where_text_prompts_do(pipe):
    messages = [{"role": "user", "content": "hi"}]
    from_text = pipe.generate(messages, method="sd", max_new_tokens=12)
    from_ids = pipe.generate(from_text.prompt_token_ids, method="sd", max_new_tokens=12)
    assert from_ids.token_ids == from_text.token_ids and from_ids.prompt_token_ids == from_text.prompt_token_ids
    resumed = pipe.generate([*from_text.prompt_token_ids, *from_text.token_ids[:5]], method="verifier", max_new_tokens=7)
    assert resumed.token_ids == from_text.token_ids[5:]  # greedy sd in fp32 is the verifier's greedy output


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"prompt": ""}, PromptError, "prompt is empty"),
        ({"prompt": []}, PromptError, "messages are empty"),
        ({"prompt": "x" * 600}, PromptError, "shorten the prompt"),
        ({"prompt": "hi", "max_new_tokens": 0}, ConfigError, "max_new_tokens must be >= 1"),
        ({"prompt": "hi", "gamma": 0}, ConfigError, "gamma .* must be >= 1"),
        ({"prompt": "hi", "method": "nope"}, ConfigError, "unknown method 'nope'; available: verifier, draft, sd"),
        ({"prompt": "hi", "method": "lenient:l=2"}, ConfigError, "l must be in"),
        ({"prompt": "hi", "method": "sd:foo=1"}, ConfigError, "key in: adaptive, bridge, cost_aware, draft_vocab, drafter, gamma"),
        ({"prompt": "hi", "temperature": -1}, ConfigError, "temperature must be >= 0"),
        ({"prompt": [5, 10**6]}, PromptError, r"token ids \[1000000\] are outside the vocabulary"),
        ({"prompt": [5, 6], "method": "cosd-rule"}, PromptError, "not token ids"),
    ],
)
def test_bad_input_raises_typed_errors(pipe, kwargs, error, match):
    prompt = kwargs.pop("prompt")
    with pytest.raises(error, match=match):
        pipe.generate(prompt, **kwargs)


def test_different_vocabularies_are_refused_for_single_vocabulary_methods():
    tokenizer = byte_tokenizer()
    other = byte_tokenizer()
    other.add_tokens(["<extra>"])
    pipe = Pipeline(draft=(tiny_model(1), other), verifier=(tiny_model(0), tokenizer), dtype="fp32")
    with pytest.raises(VocabularyMismatchError, match="avg decoding mixes token ids.*or sd, lenient, typical or judge"):
        pipe.generate("hi", method="avg", max_new_tokens=2)
    assert pipe.generate("hi", method="sd", max_new_tokens=2).token_ids  # drafts through text
    assert pipe.generate("hi", method="verifier", max_new_tokens=2).token_ids


def _consistent(result):
    """Every statistic is folded from the committed tokens: one provenance and one piece per token."""
    assert len(result.provenance) == len(result.token_ids) == len(result.pieces) == result.stats.new_tokens
    assert "".join(result.pieces) == result.text
    assert sum(result.stats.provenance_counts.values()) == len(result.token_ids)
    kept = sum(p.accepted_draft for p in result.provenance)
    assert result.stats.accepted == kept and sum(n * c for n, c in enumerate(result.stats.accepted_histogram)) == kept


def test_a_stop_string_spanning_two_rounds_cuts_tokens_provenance_and_stats(pipe):
    """The stop string starts in one round's tokens and is completed in the next: the tokens of the
    first round that wrote its start are taken out of the result, the stream and the statistics."""
    found = 0
    for gamma in (1, 2, 3):
        method = f"sd:gamma={gamma},stop_below=0"
        chunks = list(pipe.stream("hello", method=method, max_new_tokens=60))
        full = chunks[-1].result
        ends, end = [], 0
        for chunk in chunks:  # where each round's text ends; a stop string across one of these spans two rounds
            end += len(chunk.text)
            ends.append(end)
        for boundary in ends[2:-2]:
            stop = full.text[boundary - 1 : boundary + 1]
            if len(set(stop)) < 2 or full.text.index(stop) != boundary - 1:
                continue
            streamed = list(pipe.stream("hello", method=method, max_new_tokens=60, stop=[stop]))
            cut = streamed[-1].result
            assert cut.finish_reason == "stop" and cut.text == full.text[: boundary - 1]
            assert [t for c in streamed for t in c.token_ids] == cut.token_ids
            assert [p for c in streamed for p in c.provenance] == cut.provenance
            _consistent(cut)
            assert cut.stats.proposed <= full.stats.proposed
            found += 1
    assert found >= 3  # the spanning case really ran


def test_eos_and_the_token_budget_inside_a_draft_keep_provenance_consistent():
    """EOS = 3 in a 12-token vocabulary shows up inside drafts; budgets end inside drafts."""
    tokenizer = byte_tokenizer()
    eos_cut = budget_cut = 0
    for seed in range(10):
        verifier = tiny_model(seed, vocab=12, eos=3, sharpness=0.5)
        pipe = Pipeline(draft=(noisy_copy(verifier, seed, 0.002), tokenizer), verifier=(verifier, tokenizer), dtype="fp32")
        for budget in (5, 9, 60):
            result = pipe.generate([5, 6], method="sd:gamma=6,stop_below=0", max_new_tokens=budget)
            _consistent(result)
            assert len(result.token_ids) <= budget
            eos_cut += result.finish_reason == "eos" and result.provenance[-1] is Provenance.EXACT
            budget_cut += result.finish_reason == "length" and budget % 6 != 0
    assert eos_cut >= 1 and budget_cut >= 1
