"""Collaborative methods name each token's author in the ``verispec`` tokens; other methods name none."""

from __future__ import annotations

from server_support import MODEL

COSD = {"verispec": {"method": "cosd-rule"}}
AUTHORS = {"draft", "assistant1"}  # both write some of these tiny models' tokens
MESSAGES = [{"role": "user", "content": "hello"}]


def test_whole_cosd_response_names_the_author_of_every_token(client, pipe):
    response = client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=24, temperature=0,
                                              extra_body=COSD)
    expected = pipe.generate(MESSAGES, method="cosd-rule", max_new_tokens=24)
    tokens = response.model_extra["verispec"]["tokens"]
    assert [t["author"] for t in tokens] == expected.authors
    assert set(expected.authors) == AUTHORS
    assert "".join(t["text"] for t in tokens) == response.choices[0].message.content == expected.text


def test_streamed_cosd_tokens_name_their_authors(client):
    chunks = list(client.completions.create(model=MODEL, prompt="hello", max_tokens=24, temperature=0, stream=True,
                                            extra_body=COSD))
    tokens = [t for c in chunks for t in (c.model_extra.get("verispec") or {}).get("tokens", [])]
    assert len(tokens) == 24
    assert {t["author"] for t in tokens} == AUTHORS
    assert "".join(t["text"] for t in tokens) == "".join(c.choices[0].text for c in chunks if c.choices)


def test_speculative_tokens_have_no_author(client):
    response = client.completions.create(model=MODEL, prompt="hello", max_tokens=8, temperature=0,
                                         extra_body={"verispec": {"method": "sd"}})
    tokens = response.model_extra["verispec"]["tokens"]
    assert len(tokens) == 8 and all("author" not in t for t in tokens)
