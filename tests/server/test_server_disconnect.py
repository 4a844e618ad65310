"""A client that goes away stops its generation: mid-stream, or while waiting for a whole response."""

from __future__ import annotations

import httpx2 as httpx
import pytest

from server_support import MODEL, GatedStream, metric, wait_for

CANCELLED = 'verispec_generations_total{method="sd",outcome="cancelled"}'


@pytest.fixture
def gate(generator, monkeypatch) -> GatedStream:
    """Each generation pauses after two chunks until the test releases it."""
    gated = GatedStream(generator.stream, after=2)
    monkeypatch.setattr(generator, "stream", gated)
    yield gated
    gated.release.set()


def body(**fields: object) -> dict:
    return {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 200,
            "verispec": {"method": "sd"}, **fields}


def test_disconnect_mid_stream_stops_the_generation(server, http, gate):
    before = metric(http, CANCELLED)
    with httpx.Client(base_url=server.url, timeout=60) as client, \
            client.stream("POST", "/v1/chat/completions", json=body(stream=True)) as response:
        assert response.status_code == 200
        first = next(line for line in response.iter_lines() if line.startswith("data: "))
        assert '"role":"assistant"' in first
    # The connection is closed with the generation held at the gate, far from its 200 tokens.
    wait_for(lambda: metric(http, CANCELLED) == before + 1)
    gate.release.set()
    assert gate.closed_early.wait(30), "the worker did not stop the cancelled generation"
    assert gate.chunks <= 3  # two before the gate, at most one after it before the worker saw the cancel


def test_client_giving_up_on_a_whole_response_cancels_it(server, http, gate):
    before = metric(http, CANCELLED)
    with httpx.Client(base_url=server.url, timeout=1.0) as client, pytest.raises(httpx.ReadTimeout):
        client.post("/v1/chat/completions", json=body())
    wait_for(lambda: metric(http, CANCELLED) == before + 1)
    gate.release.set()
    assert gate.closed_early.wait(30)
    assert metric(http, 'verispec_http_requests_total{route="/v1/chat/completions",status="499"}') >= 1
