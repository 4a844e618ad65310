"""The server batches concurrent requests, on llama.cpp and torch models: each gets its unbatched
answer, a client that goes away leaves the others running, /metrics shows the batch, a full queue is 429."""

from __future__ import annotations

import threading

import httpx2 as httpx
import pytest
from batching_support import BACKENDS, gguf_pipeline, torch_pipeline, unbatched_output
from server_support import MODEL, GatedStream, metric, wait_for

from verispec import Pipeline
from verispec.errors import ConfigError
from verispec.server import ServerConfig, ServerThread, create_app

COMPLETIONS = "/v1/completions"
PROMPTS = ["abc dab", "dab abc abc", "cab", "bad cab dab"]


@pytest.fixture(scope="module", params=BACKENDS)
def pipe(request, tmp_path_factory) -> Pipeline:
    return gguf_pipeline(tmp_path_factory.mktemp("served")) if request.param == "llama.cpp" else torch_pipeline()


def body(prompt: str, method: str, max_tokens: int = 40, **extra: object) -> dict:
    return {"model": MODEL, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
            "verispec": {"method": method}, **extra}


def token_ids(response: dict) -> list[int]:
    return [token["id"] for token in response["verispec"]["tokens"]]


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(pipe):
    methods = ["verifier", "sd:gamma=3,cost_aware=false", "sd", "sd:drafter=lookup"]
    alone = [pipe.generate(p, method=m, max_new_tokens=40) for p, m in zip(PROMPTS, methods, strict=True)]
    app = create_app(pipe, ServerConfig(batch_size=4))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        answers: dict[int, list[int]] = {}

        def send(k: int) -> None:
            answers[k] = token_ids(http.post(COMPLETIONS, json=body(PROMPTS[k], methods[k])).json())

        senders = [threading.Thread(target=send, args=(k,)) for k in range(4)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(60)
        for k, single in enumerate(alone):  # a batched llama.cpp decode may round a near-tie the other way
            assert unbatched_output(pipe, pipe.verifier.backend, single.prompt_token_ids, single.token_ids, answers[k])
        state = app.state.verispec
        assert state.batched is not None and state.batched.batcher.counters.mean_batch("verifier") > 1.0
        wait_for(lambda: metric(http, "verispec_batch_size") == 0)  # each job ends just after its answer


def test_a_client_that_leaves_mid_stream_does_not_stop_the_others(pipe):
    single = pipe.generate("cab", method="verifier", max_new_tokens=60)
    with ServerThread(create_app(pipe, ServerConfig(batch_size=2))) as server, \
            httpx.Client(base_url=server.url, timeout=60) as http:
        with http.stream("POST", COMPLETIONS, json=body("abc", "sd", 100, stream=True)) as streamed:
            next(streamed.iter_lines())
            other = token_ids(http.post(COMPLETIONS, json=body("cab", "verifier", 60)).json())
        assert unbatched_output(pipe, pipe.verifier.backend, single.prompt_token_ids, single.token_ids, other)
        wait_for(lambda: metric(http, "verispec_batch_size") == 0)


def test_requests_beyond_the_batch_and_the_queue_get_429(pipe):
    assert create_app(pipe, ServerConfig(batch_size=1)).state.verispec.batched is None  # one at a time: no batch
    assert create_app(pipe, ServerConfig(batch_size=2, draft_up_to=0)).state.verispec.batched.settings.draft_up_to == 0
    with pytest.raises(ConfigError, match="draft_up_to must be >= 0"):
        ServerConfig(draft_up_to=-1)
    app = create_app(pipe, ServerConfig(batch_size=2, queue_size=1))
    batched = app.state.verispec.batched
    gate = GatedStream(batched.stream)
    batched.stream = gate  # both slots' requests hold at the gate after their first chunk
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        statuses: list[int] = []
        senders = [threading.Thread(target=lambda: statuses.append(
            http.post(COMPLETIONS, json=body("abc dab", "verifier", 30)).status_code)) for _ in range(3)]
        for count, sender in enumerate(senders, start=1):
            sender.start()
            wait_for(lambda count=count: http.get("/health").json()["queue_depth"] == count)
        assert metric(http, "verispec_batch_size") == 2
        refused = http.post(COMPLETIONS, json=body("abc", "verifier", 5))
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "queue_full"
        gate.release.set()
        for sender in senders:
            sender.join(60)
        assert statuses == [200, 200, 200]
