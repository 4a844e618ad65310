"""Helpers shared by the server tests: tiny models, a gated stream, reading metrics, waiting on other threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx2 as httpx

from tiny_models import byte_tokenizer, noisy_copy, tiny_model
from verispec import Pipeline, StreamChunk

MODEL = "verispec"


def tiny_pipeline() -> Pipeline:
    """A draft that mostly agrees with its verifier, both on the byte tokenizer (it has a chat template)."""
    tokenizer = byte_tokenizer()
    verifier = tiny_model(0)
    return Pipeline(draft=(noisy_copy(verifier, 1, 0.002), tokenizer), verifier=(verifier, tokenizer), dtype="fp32")


class GatedStream:
    """Stands in for ``Pipeline.stream``: each generation stops after ``after`` chunks until ``release`` is set.

    Notes when the first generation reaches the gate (``waiting``) and when one is closed before its
    end (``closed_early``), so tests can follow a generation without timing it.
    """

    def __init__(self, real: Callable[..., Iterator[StreamChunk]], after: int = 1) -> None:
        self.real = real
        self.after = after
        self.release = threading.Event()
        self.waiting = threading.Event()
        self.closed_early = threading.Event()
        self.chunks = 0

    def __call__(self, *args: object, **kwargs: object) -> Iterator[StreamChunk]:
        return self._gated(self.real(*args, **kwargs))

    def _gated(self, inner: Iterator[StreamChunk]) -> Iterator[StreamChunk]:
        done = False
        try:
            for index, chunk in enumerate(inner):
                if index == self.after:
                    self.waiting.set()
                    assert self.release.wait(60), "the test never released the gate"
                self.chunks += 1
                yield chunk
            done = True
        finally:
            if not done:
                self.closed_early.set()


def metric(http: httpx.Client, sample: str) -> float:
    """The value of one sample line of ``/metrics`` (``name{labels}``), 0 when absent."""
    for line in http.get("/metrics").text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0


def wait_for(condition: Callable[[], bool], attempts: int = 600) -> None:
    """Poll ``condition`` every 50 ms, up to 30 s: the state it waits for comes from another thread."""
    pause = threading.Event()
    for _ in range(attempts):
        if condition():
            return
        pause.wait(0.05)
    raise AssertionError("the condition never held")
