"""Every error path answers in the OpenAI error shape with the right status, and the server stays up."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx2 as httpx
import openai
import pytest

from server_support import MODEL, GatedStream, tiny_pipeline, wait_for
from tiny_models import byte_tokenizer, tiny_model
from verispec import Pipeline
from verispec.server import ServerConfig, ServerThread, create_app

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"


def chat(**fields: object) -> dict:
    return {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, **fields}


def completion(**fields: object) -> dict:
    return {"model": MODEL, "prompt": "hi", "max_tokens": 4, **fields}


def assert_error(response: httpx.Response, status: int, *, code: str | None, param: str | None, message: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == ("server_error" if status >= 500 else "rate_limit_error" if status == 429
                             else "invalid_request_error")
    assert (error["code"], error["param"]) == (code, param)
    assert message in error["message"]


@pytest.fixture(autouse=True)
def server_stays_up(http: httpx.Client) -> Iterator[None]:
    yield
    assert http.get("/health").json()["status"] == "ok"


@pytest.mark.parametrize(
    ("path", "body", "code", "param", "message"),
    [
        (CHAT, chat(verispec={"method": "magic"}), "invalid_method", "verispec.method", "unknown method 'magic'; available: "),
        (CHAT, chat(verispec={"method": "sd", "colour": 3}), "invalid_method", "verispec.method", "bad option 'colour=3'"),
        (CHAT, chat(verispec={"gamma": "many"}), "invalid_method", "verispec.method", "gamma='many' is not a valid int"),
        # Ranges are checked when the generation starts, so the error cannot name the field.
        (CHAT, chat(verispec={"method": "lenient", "l": 2}), "invalid_value", None, "l must be in"),
        (CHAT, chat(verispec={"gamma": 0}), "invalid_value", None, "must be >= 1"),
        (CHAT, chat(verispec={"method": "sd", "gamma": [1, 2]}), "invalid_value", "verispec", "must be a number, string or"),
        (CHAT, chat(verispec="sd"), "invalid_value", "verispec", "valid dictionary"),
        (CHAT, chat(messages=[]), "invalid_prompt", None, "chat messages are empty"),
        (CHAT, chat(messages=[{"role": "user", "content": ""}]), "invalid_prompt", None, "chat messages are empty"),
        (COMPLETIONS, completion(prompt=""), "invalid_prompt", None, "the prompt is empty"),
        (COMPLETIONS, completion(prompt="x" * 600), "invalid_prompt", None, "shorten the prompt"),
        (COMPLETIONS, completion(prompt=["a", "b"]), "unsupported_batch", "prompt", "one prompt per request"),
        (COMPLETIONS, completion(prompt=[1, 10**7]), "invalid_prompt", None, "outside the vocabulary"),
        (COMPLETIONS, completion(prompt=[[1, 2], [3]]), "unsupported_batch", "prompt", "one prompt per request"),
        (COMPLETIONS, completion(prompt=[1.5]), "invalid_value", "prompt", "valid string"),
        (CHAT, chat(max_tokens=0), "invalid_value", "max_tokens", "greater than or equal to 1"),
        (CHAT, chat(max_tokens=10**6), "invalid_value", "max_tokens", "allows at most 4096"),
        (CHAT, chat(temperature=3), "invalid_value", "temperature", "less than or equal to 2"),
        (CHAT, chat(top_p=0), "invalid_value", "top_p", "greater than 0"),
        (CHAT, chat(n=2), "unsupported_parameter", "n", "n=2 is not supported"),
        (COMPLETIONS, completion(logprobs=5), "unsupported_parameter", "logprobs", "not supported"),
        (CHAT, chat(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]),
         "unsupported_content", "messages", "only text content is supported, got image_url"),
        (CHAT, chat(messages=[{"role": "wizard", "content": "hi"}]), "invalid_value", "messages.0.role", "Input should be"),
        (CHAT, {"model": MODEL}, "invalid_value", "messages", "Field required"),
        (CHAT, {"messages": [{"role": "user", "content": "hi"}]}, "invalid_value", "model", "Field required"),
    ],
)
def test_bad_requests_get_400(http, path, body, code, param, message):
    assert_error(http.post(path, json=body), 400, code=code, param=param, message=message)


def test_bad_request_in_a_stream_is_answered_before_streaming(http):
    response = http.post(CHAT, json=chat(stream=True, verispec={"method": "magic"}))
    assert response.headers["content-type"].startswith("application/json")
    assert_error(response, 400, code="invalid_method", param="verispec.method", message="unknown method")


def test_body_that_is_not_json_or_not_an_object(http):
    bad = http.post(CHAT, content=b"{not json", headers={"content-type": "application/json"})
    assert_error(bad, 400, code="invalid_json", param=None, message="not valid JSON")
    assert_error(http.post(CHAT, json=[1, 2]), 400, code="invalid_value", param=None, message="request body: ")


def test_unknown_model_is_404(http, client):
    assert_error(http.post(CHAT, json=chat(model="gpt-4o")), 404, code="model_not_found", param="model",
                 message="this server serves 'verispec'")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_unknown_route_and_wrong_http_method(http):
    assert_error(http.get("/v1/nothing"), 404, code="not_found", param=None, message="no route /v1/nothing")
    assert_error(http.get(CHAT), 405, code=None, param=None, message="GET is not allowed")


def test_the_openai_client_raises_bad_request_with_the_message(client):
    with pytest.raises(openai.BadRequestError, match="unknown method 'magic'") as caught:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                       extra_body={"verispec": {"method": "magic"}})
    assert caught.value.code == "invalid_method"


def test_unexpected_failure_is_500_and_the_next_request_works(http, generator, monkeypatch):
    def broken(*args: object, **kwargs: object) -> Iterator[object]:
        raise RuntimeError("the engine broke")

    monkeypatch.setattr(generator, "stream", broken)
    assert_error(http.post(CHAT, json=chat()), 500, code="internal_error", param=None, message="the engine broke")
    monkeypatch.undo()
    assert http.post(CHAT, json=chat()).status_code == 200


def test_failure_mid_stream_ends_the_stream_with_an_error_event(client, generator, monkeypatch):
    real = generator.stream

    def fails_after_one_chunk(*args: object, **kwargs: object) -> Iterator[object]:
        yield next(iter(real(*args, **kwargs)))
        raise RuntimeError("lost the verifier")

    monkeypatch.setattr(generator, "stream", fails_after_one_chunk)
    stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                            max_tokens=30, stream=True)
    with pytest.raises(openai.APIError, match="lost the verifier"):
        list(stream)


def test_different_vocabularies_refuse_same_vocabulary_methods_only():
    tokenizer, other = byte_tokenizer(), byte_tokenizer()
    other.add_tokens(["<extra>"])
    other.chat_template = None
    pipe = Pipeline(draft=(tiny_model(1), other), verifier=(tiny_model(0), tokenizer), dtype="fp32")
    with ServerThread(create_app(pipe)) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        assert_error(http.post(CHAT, json=chat(verispec={"method": "avg"})), 400, code="vocabulary_mismatch",
                     param="verispec.method", message="mixes token ids")
        assert_error(http.post(CHAT, json=chat(verispec={"method": "draft"})), 400, code="invalid_prompt",
                     param=None, message="has no chat template")
        assert http.post(CHAT, json=chat(verispec={"method": "verifier"})).status_code == 200


def test_api_key_is_required_when_set():
    config = ServerConfig(api_key="s3cret")
    with ServerThread(create_app(tiny_pipeline(), config)) as server, httpx.Client(base_url=server.url) as http:
        for path in ("/v1/models", "/metrics"):
            assert_error(http.get(path), 401, code="invalid_api_key", param=None, message="Authorization: Bearer")
        wrong = http.post(CHAT, json=chat(), headers={"Authorization": "Bearer nope"})
        assert_error(wrong, 401, code="invalid_api_key", param=None, message="missing or wrong API key")
        assert http.get("/health").status_code == 200 and http.get("/").status_code == 200
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{server.url}/v1", api_key="nope", max_retries=0).models.list()
        good = openai.OpenAI(base_url=f"{server.url}/v1", api_key="s3cret", max_retries=0)
        assert good.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=3)


def test_full_queue_answers_429_and_queued_requests_still_complete(monkeypatch):
    pipe = tiny_pipeline()
    gate = GatedStream(pipe.stream)
    monkeypatch.setattr(pipe, "stream", gate)
    with ServerThread(create_app(pipe, ServerConfig(queue_size=1, batch_size=1))) as server, \
            httpx.Client(base_url=server.url, timeout=60) as http:
        statuses: list[int] = []
        senders = [threading.Thread(target=lambda: statuses.append(http.post(CHAT, json=chat()).status_code))
                   for _ in range(2)]
        senders[0].start()
        assert gate.waiting.wait(30)  # the first generation runs (held at the gate)
        senders[1].start()
        wait_for(lambda: http.get("/health").json()["queue_depth"] == 2)
        assert_error(http.post(CHAT, json=chat()), 429, code="queue_full", param=None,
                     message="1 requests are already waiting")
        gate.release.set()
        for sender in senders:
            sender.join(60)
        assert statuses == [200, 200]

