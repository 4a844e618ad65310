"""Load benchmark: many concurrent streaming clients against a server on loopback.

Waves of ``clients`` concurrent streaming chat requests (the official ``openai`` client) go to a
server started in this process, at each concurrency level in turn (1, 4, 8, 20 clients ...).
Every request's latency, time to first token and tokens are recorded, with p50/p95, throughput and
the process's resident memory sampled throughout: its value at the end of each wave shows whether
memory stays bounded as requests keep coming.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import openai
import psutil

try:  # openai's HTTP client: httpx2 for openai 3, httpx before
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

from verispec import runinfo
from verispec.bench.prompts import PROMPTS, BenchPrompt
from verispec.errors import ConfigError
from verispec.pipeline import Pipeline
from verispec.server.app import create_app
from verispec.server.background import ServerThread
from verispec.server.config import ServerConfig

SCHEMA = "verispec.server-load/2"
_MIB = 2**20


@dataclass(frozen=True)
class LoadConfig:
    """How hard to load the server: at each level of ``clients``, ``waves`` rounds of that many
    concurrent streaming requests; the server batches up to ``batch_size`` of them."""

    clients: tuple[int, ...] = (20,)
    waves: int = 2
    max_tokens: int = 32
    method: str = "sd"
    temperature: float = 0.0
    sample_seconds: float = 0.05
    batch_size: int = 8

    def __post_init__(self) -> None:
        if not self.clients or min(self.clients) < 1:
            raise ConfigError(f"clients must be >= 1 at every level, got {self.clients}")
        for name in ("waves", "max_tokens", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be >= 1, got {getattr(self, name)}")

    @property
    def queue_size(self) -> int:
        """The server's queue limit under this load: room for every client of the largest level."""
        return max(64, *self.clients)


@dataclass(frozen=True)
class RequestRecord:
    """One client request as the client saw it; ``stats`` are the server's verispec statistics."""

    wave: int
    client: int
    prompt_id: str
    ok: bool
    latency_s: float
    ttft_s: float | None
    completion_tokens: int
    content_chunks: int
    error: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)


class MemorySampler:
    """Samples a process's resident memory (default: this one) on a thread; ``mark`` notes the current value by name."""

    def __init__(self, interval: float, pid: int | None = None) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.peak = self.rss()
        self.marks: dict[str, int] = {}

    def rss(self) -> int:
        return int(self._process.memory_info().rss)

    def mark(self, name: str) -> None:
        self.marks[name] = self.rss()

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self.rss())


async def _request(
    client: openai.AsyncOpenAI, model: str, prompt: BenchPrompt, config: LoadConfig, wave: int, index: int
) -> RequestRecord:
    """One streaming chat request, timed from before the call to the last chunk."""
    start, ttft, chunks, usage = time.perf_counter(), None, 0, None
    try:
        stream = await client.chat.completions.create(
            model=model, messages=prompt.messages(), max_tokens=config.max_tokens, temperature=config.temperature,
            stream=True, stream_options={"include_usage": True}, extra_body={"verispec": {"method": config.method}},
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                ttft = time.perf_counter() - start if ttft is None else ttft
                chunks += 1
            usage = chunk.usage or usage
    except openai.OpenAIError as err:
        return RequestRecord(wave, index, prompt.id, False, time.perf_counter() - start, ttft, 0, chunks,
                             error=f"{type(err).__name__}: {err}")
    latency = time.perf_counter() - start
    if usage is None:
        return RequestRecord(wave, index, prompt.id, False, latency, ttft, 0, chunks,
                             error="the stream had no usage chunk")
    stats = dict((usage.model_extra or {}).get("verispec") or {})
    return RequestRecord(wave, index, prompt.id, True, latency, ttft, usage.completion_tokens, chunks, stats=stats)


def _client(base_url: str) -> openai.AsyncOpenAI:
    # No retries: a refused or failed request must show in the results, not be hidden by a retry.
    # No kept-alive connections: a single client's next request took the connection of its last one,
    # which llama-server had closed by then, and failed in 2 ms (a client's fault, not the server's).
    fresh = openai.DefaultAsyncHttpxClient(limits=httpx.Limits(max_connections=None, max_keepalive_connections=0))
    return openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=3600,
                              http_client=fresh)


async def warm_up(base_url: str, model: str, config: LoadConfig) -> RequestRecord:
    """One request before timing, so that first-call costs (kernels, allocator) stay out of the numbers."""
    async with _client(base_url) as client:
        return await _request(client, model, PROMPTS[0], config, wave=0, index=0)


async def run_waves(
    base_url: str, model: str, config: LoadConfig, clients: int, prompts: Sequence[BenchPrompt],
    sampler: MemorySampler,
) -> tuple[list[RequestRecord], float]:
    """Every wave's requests (all clients at once, waves one after another) and the wall time of all waves."""
    records: list[RequestRecord] = []
    start = time.perf_counter()
    async with _client(base_url) as client:
        for wave in range(config.waves):
            records += await asyncio.gather(*(
                _request(client, model, prompts[i % len(prompts)], config, wave, i) for i in range(clients)
            ))
            sampler.mark(f"end of wave {wave + 1}")
    return records, time.perf_counter() - start


def summarize(records: Sequence[RequestRecord], wall_seconds: float) -> dict[str, Any]:
    """Completion counts, latency and time-to-first-token percentiles, throughput."""
    done = [r for r in records if r.ok]
    tokens = sum(r.completion_tokens for r in done)
    tau = [r.stats["mean_accepted_length"] for r in done if r.stats.get("mean_accepted_length")]
    return {
        "requests": len(records),
        "completed": len(done),
        "failed": len(records) - len(done),
        "wall_seconds": round(wall_seconds, 3),
        "completion_tokens": tokens,
        "throughput_tokens_per_s": round(tokens / wall_seconds, 3) if wall_seconds > 0 else None,
        "requests_per_s": round(len(done) / wall_seconds, 4) if wall_seconds > 0 else None,
        "latency_s": _percentiles([r.latency_s for r in done]),
        "ttft_s": _percentiles([r.ttft_s for r in done if r.ttft_s is not None]),
        "mean_accepted_length": round(statistics.fmean(tau), 3) if tau else None,
    }


def _percentiles(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    p50, p95 = np.percentile(values, [50, 95])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "mean": round(statistics.fmean(values), 3),
            "max": round(max(values), 3)}


def run_load_benchmark(
    pipe: Pipeline, config: LoadConfig, *, settings: dict[str, Any] | None = None, command: list[str] | None = None
) -> dict[str, Any]:
    """Serve ``pipe`` on loopback, warm it up, run the waves of every level and return the JSON-ready
    results: per level of concurrency its summary, memory and requests.

    ``settings`` (models, dtype, ...) are stored alongside the load settings.
    """
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    load_before = runinfo.load_average()
    server_config = ServerConfig(method=config.method, queue_size=config.queue_size,
                                 batch_size=config.batch_size)
    app = create_app(pipe, server_config)
    with ServerThread(app) as server:
        first, levels = run_levels(server.url, server_config.model_id, config)
    settings = {**(settings or {}), "batched": app.state.verispec.batched is not None}
    return load_results(config, settings, first, levels, started_at=started_at, command=command,
                        environment=runinfo.environment(load_before, "fastapi", "uvicorn", "openai"))


def load_results(
    config: LoadConfig, settings: dict[str, Any], first: RequestRecord, levels: list[dict[str, Any]], *,
    started_at: str, command: list[str] | None, environment: dict[str, Any],
) -> dict[str, Any]:
    """The JSON of a load benchmark, verispec's server or a peer's: settings, warm-up and every level."""
    return {
        "schema": SCHEMA,
        "started_at": started_at,
        "command": command,
        "settings": {**asdict(config), **settings, "prompts": [p.id for p in PROMPTS]},
        "environment": environment,
        "warm_up": {"ok": first.ok, "error": first.error, "latency_s": round(first.latency_s, 3)},
        "levels": levels,
    }


def run_levels(
    base_url: str, model: str, config: LoadConfig, *, pid: int | None = None
) -> tuple[RequestRecord, list[dict[str, Any]]]:
    """The warm-up request, then per level of clients its waves: summary, memory (of process ``pid``,
    default this one) and every request."""
    first = asyncio.run(warm_up(base_url, model, config))
    levels = []
    for clients in config.clients:
        with MemorySampler(config.sample_seconds, pid) as sampler:  # the peak under load, not of model loading
            sampler.mark("start")
            records, wall = asyncio.run(run_waves(base_url, model, config, clients, PROMPTS, sampler))
        levels.append({"clients": clients, "summary": summarize(records, wall), "memory": _memory(sampler),
                       "requests": [asdict(r) for r in records]})
        _report(levels[-1])
    return first, levels


def _report(level: dict[str, Any]) -> None:
    """One line per finished level on stderr: a long load shows how far it got."""
    summary = level["summary"]
    latency = (summary["latency_s"] or {}).get("p50")
    print(f"{level['clients']} clients: {summary['completed']} of {summary['requests']} completed, "
          f"{summary['throughput_tokens_per_s']} tokens/s, latency p50 {latency} s", file=sys.stderr, flush=True)


def _memory(sampler: MemorySampler) -> dict[str, Any]:
    marks = {name: round(value / _MIB, 1) for name, value in sampler.marks.items()}
    waves = [v for name, v in marks.items() if name.startswith("end of wave")]
    return {
        "note": "resident memory of the server's process (verispec's also runs the clients)",
        "rss_mib": marks,
        "peak_rss_mib": round(sampler.peak / _MIB, 1),
        "growth_mib_first_to_last_wave": round(waves[-1] - waves[0], 1) if waves else None,
    }
