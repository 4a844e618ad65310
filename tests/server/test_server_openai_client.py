"""The official ``openai`` client against a live server: chat and completions, whole and streamed."""

from __future__ import annotations

import pytest

from server_support import MODEL
from verispec import methods
from verispec.methods import MethodSpec
from verispec.rules import ExactRule


# Provenance of speculative methods: a round without a draft commits a token of the verifier alone.
SPECULATIVE = {"exact", "relaxed", "replaced", "bonus", "verifier"}


def sd(**options: object) -> dict:
    return {"verispec": {"method": "sd", **options}}


def test_models_lists_the_served_model_with_every_registered_method(client, monkeypatch):
    # A method registered after start-up shows up too: the server lists methods, it does not hard-code them.
    spec = MethodSpec("test-exact", "exact rule under another name", uses_draft=True, uses_verifier=True,
                      build_rule=lambda o: ExactRule())
    monkeypatch.setitem(methods._SPECS, spec.name, spec)
    models = client.models.list().data
    assert [m.id for m in models] == [MODEL]
    info = models[0].model_extra["verispec"]
    names = [m["name"] for m in info["methods"]]
    assert {"verifier", "draft", "sd", "lenient", "typical", "test-exact"} <= set(names)
    assert info["default_method"] == "sd:gamma=4"
    assert "gamma" in next(m for m in info["methods"] if m["name"] == "sd")["options"]
    assert client.models.retrieve(MODEL).id == MODEL


def test_chat_completion_carries_text_usage_and_speculative_stats(client, pipe):
    response = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hello"}], max_tokens=12, temperature=0,
        extra_body=sd(gamma=3),
    )
    expected = pipe.generate([{"role": "user", "content": "hello"}], method="sd:gamma=3", max_new_tokens=12)
    choice = response.choices[0]
    assert response.object == "chat.completion" and response.model == MODEL
    assert choice.message.role == "assistant" and choice.message.content == expected.text
    assert choice.finish_reason == "length"
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (len(expected.prompt_token_ids), 12)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    stats = usage.model_extra["verispec"]
    assert stats["mean_accepted_length"] == expected.stats.mean_accepted_length
    assert stats["acceptance_rate"] == expected.stats.acceptance_rate
    assert stats["draft_forwards"] > 0 and stats["verifier_forwards"] > 0
    extension = response.model_extra["verispec"]
    assert extension["method"] == "sd:gamma=3"
    assert [t["provenance"] for t in extension["tokens"]] == [p.value for p in expected.provenance]
    assert "".join(t["text"] for t in extension["tokens"]) == choice.message.content


def test_text_completion_takes_token_ids_as_the_prompt(client, pipe):
    ids = pipe.generate("hello", method="verifier", max_new_tokens=1).prompt_token_ids
    from_text = client.completions.create(model=MODEL, prompt="hello", max_tokens=10, temperature=0, extra_body=sd())
    for prompt in (ids, [ids]):
        from_ids = client.completions.create(model=MODEL, prompt=prompt, max_tokens=10, temperature=0, extra_body=sd())
        assert from_ids.choices[0].text == from_text.choices[0].text and from_ids.usage.prompt_tokens == len(ids)


def test_text_completion_continues_raw_text(client, pipe):
    response = client.completions.create(model=MODEL, prompt="hello", max_tokens=10, temperature=0, extra_body=sd())
    expected = pipe.generate("hello", method="sd", max_new_tokens=10)
    assert response.object == "text_completion"
    assert response.choices[0].text == expected.text
    assert response.usage.prompt_tokens == len(expected.prompt_token_ids)


def test_streamed_chat_equals_the_whole_response(client):
    request = dict(model=MODEL, messages=[{"role": "user", "content": "tell me"}], max_tokens=20, temperature=0)
    whole = client.chat.completions.create(**request)
    chunks = list(client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True}))
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["length"]
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and usage_chunks[0] is chunks[-1] and not chunks[-1].choices
    assert usage_chunks[0].usage.completion_tokens == 20
    assert usage_chunks[0].usage.model_extra["verispec"]["new_tokens"] == 20


def test_stream_chunks_carry_token_provenance_that_adds_up_to_the_text(client):
    chunks = list(client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=24, temperature=0, stream=True,
        extra_body=sd(gamma=4),
    ))
    tokens = [t for c in chunks for t in (c.model_extra.get("verispec") or {}).get("tokens", [])]
    assert len(tokens) == 24
    assert {t["provenance"] for t in tokens} <= SPECULATIVE
    assert "".join(t["text"] for t in tokens) == "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    final = chunks[-1].model_extra["verispec"]  # no include_usage: the finish chunk still carries the stats
    assert chunks[-1].choices[0].finish_reason == "length"
    assert final["method"] == "sd:gamma=4" and final["stats"]["new_tokens"] == 24


def test_streamed_text_completion(client):
    whole = client.completions.create(model=MODEL, prompt="abc", max_tokens=15, temperature=0)
    chunks = list(client.completions.create(model=MODEL, prompt="abc", max_tokens=15, temperature=0, stream=True))
    assert all(c.object == "text_completion" for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == whole.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"


@pytest.mark.parametrize("method", ["verifier", "draft", "sd", "lenient:l=0.5", "typical"])
def test_every_method_is_selectable_per_request(client, method):
    response = client.completions.create(
        model=MODEL, prompt="x", max_tokens=6, temperature=0, extra_body={"verispec": {"method": method}},
    )
    extension = response.model_extra["verispec"]
    assert extension["method"] == method
    provenance = {t["provenance"] for t in extension["tokens"]}
    solo = {"verifier": {"verifier"}, "draft": {"draft"}}
    assert provenance <= solo.get(method, SPECULATIVE)


def test_options_without_a_method_apply_to_the_server_default(client):
    response = client.completions.create(model=MODEL, prompt="x", max_tokens=4, temperature=0,
                                         extra_body={"verispec": {"gamma": 2}})
    assert response.model_extra["verispec"]["method"] == "sd:gamma=2"
    default = client.completions.create(model=MODEL, prompt="x", max_tokens=4, temperature=0)
    assert default.model_extra["verispec"]["method"] == "sd:gamma=4"


def test_server_default_max_tokens_applies(client):
    response = client.completions.create(model=MODEL, prompt="x", temperature=0)
    assert response.usage.completion_tokens == 16


def test_stop_string_ends_with_finish_reason_stop(client):
    request = dict(model=MODEL, prompt="hello", max_tokens=40, temperature=0)
    full = client.completions.create(**request).choices[0].text
    stop = full[8:11]
    assert stop and stop not in full[:8]
    cut = client.completions.create(**request, stop=[stop])
    assert cut.choices[0].text == full[: full.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    streamed = list(client.completions.create(**request, stop=stop, stream=True))
    assert "".join(c.choices[0].text for c in streamed if c.choices) == full[: full.index(stop)]
    assert streamed[-1].choices[0].finish_reason == "stop"


def test_seeded_sampling_repeats_and_seeds_differ(client):
    request = dict(model=MODEL, prompt="once", max_tokens=20, temperature=1.0, top_p=0.9)
    first = client.completions.create(**request, seed=7).choices[0].text
    assert client.completions.create(**request, seed=7).choices[0].text == first
    others = {client.completions.create(**request, seed=seed).choices[0].text for seed in (8, 9, 10)}
    assert others != {first}


def test_chat_content_parts_of_text_are_joined(client):
    parts = [{"type": "text", "text": "hel"}, {"type": "text", "text": "lo"}]
    joined = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": parts}],
                                            max_tokens=8, temperature=0)
    plain = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hello"}],
                                           max_tokens=8, temperature=0)
    assert joined.choices[0].message.content == plain.choices[0].message.content
