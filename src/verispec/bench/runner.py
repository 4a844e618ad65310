"""The benchmark loop: every method back to back on each prompt, after one warm-up per method."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from tqdm import tqdm

from verispec import runinfo
from verispec.bench.llamacpp_peer import LlamaPeers
from verispec.bench.llamacpp_tools import LLAMA_SPECULATIVE, program_info, run_speculative
from verispec.bench.methods import DEFAULT_METHODS, HF_ASSISTED, LLAMA_PEERS, BenchMethod, parse_methods
from verispec.bench.peer import assistant_settings, run_peer
from verispec.bench.prompts import PROMPTS, WARMUP_PROMPT, BenchPrompt, select_prompts
from verispec.bench.records import RunContext, RunRecord, compare_with_baseline, from_result
from verispec.bench.summary import BenchSummary, summarize_runs
from verispec.errors import ConfigError
from verispec.models.handles import LLAMA_CPP
from verispec.pipeline import ModelSource, Pipeline
from verispec.tokens import encode_prompt

# The default run (12 prompts x 4 methods) must finish in under 10 minutes on a 2-core CPU without
# AMX, where the 1.5B verifier takes ~0.33 s per token and ~2.3 s to read a prompt: with 32 new
# tokens it took 506 s there; 64 would take about 16 minutes.
DEFAULT_MAX_NEW_TOKENS = 32


@dataclass(frozen=True)
class BenchConfig:
    """What to run. Decoding is greedy, so every method's output can be compared token by token.

    ``methods`` are method specs (``"sd:gamma=5"``, ``"hf-assisted"``) and must include
    ``"verifier"``. ``categories`` and ``limit`` choose prompts (see :func:`select_prompts`).
    ``warmup_tokens`` is the length of the one untimed generation per method before timing.
    """

    methods: tuple[str, ...] = DEFAULT_METHODS
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    categories: tuple[str, ...] = ()
    limit: int | None = None
    warmup: bool = True
    warmup_tokens: int = 8
    repeats: int = 1

    def __post_init__(self) -> None:
        for name in ("max_new_tokens", "warmup_tokens", "repeats"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class PromptInfo:
    """A benchmarked prompt as the models saw it."""

    id: str
    category: str
    text: str
    prompt_tokens: int


@dataclass(frozen=True)
class BenchResult:
    """Everything a benchmark measured, with the settings and environment that produced it.

    ``wall_seconds`` is the whole benchmark, model loading (``load_seconds``) and warm-up included.
    """

    config: BenchConfig
    method_settings: dict[str, dict[str, Any]]
    prompts: list[PromptInfo]
    runs: list[RunRecord]
    summary: BenchSummary
    models: dict[str, Any]
    environment: dict[str, Any]
    started_at: str
    load_seconds: float
    wall_seconds: float
    command: list[str] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: settings, environment, per-prompt per-method runs and the summary."""
        return {
            "schema": "verispec.bench/1",
            "started_at": self.started_at,
            "load_seconds": self.load_seconds,
            "wall_seconds": self.wall_seconds,
            "command": self.command,
            "settings": {
                **asdict(self.config),
                "decoding": "greedy",
                "prompt_order": "round-robin over categories",
                "method_order": "rotated by one position per prompt, back to back",
                "methods": self.method_settings,
            },
            "models": self.models,
            "environment": self.environment,
            "definitions": DEFINITIONS,
            "prompts": [asdict(p) for p in self.prompts],
            "runs": [r.to_dict() for r in self.runs],
            "summary": self.summary.to_dict(),
        }


DEFINITIONS = {
    "tokens_per_second": "new tokens (up to and including the first end token) / wall seconds of the generate call",
    "speedup": "median over prompts of (method tokens/s / verifier-only tokens/s on the same prompt, same run)",
    "mean_accepted_length": "pooled: new tokens / verifier forward passes that produced them (one per round)",
    "acceptance_rate": "pooled: kept draft tokens / proposed draft tokens",
    "hf_assisted_counting": "forward hooks on both models: rounds = verifier passes (the first also reads the "
                            "prompt); proposed = draft tokens the verifier read; accepted = new tokens - rounds",
    "identical": "token ids equal to verifier-only greedy on the same prompt and repeat (bf16 may differ at near-ties)",
    "matching_prefix": "number of leading tokens shared with verifier-only greedy",
    "overhead_fraction": "1 - seconds inside model forward passes / wall seconds",
    "cost_ratio": "c = median over prompts of draft-only seconds per token / verifier-only seconds per token",
    "ceiling": "1 / c: no draft-model method can exceed this speedup over verifier-only",
}


def run_bench(
    pipe: Pipeline,
    config: BenchConfig = BenchConfig(),
    *,
    prompts: Sequence[BenchPrompt] = PROMPTS,
    progress: bool = True,
    drafts: Mapping[str, ModelSource] | None = None,
) -> BenchResult:
    """Run every method on every chosen prompt and summarize; nothing is written to disk.

    ``drafts`` names draft models that methods placed ``@draft=NAME`` use (models in memory, for
    example); a name not in it is loaded like ``Pipeline``'s draft (registry name, path or id).
    """
    methods = parse_methods(config.methods)
    chosen = select_prompts(prompts, categories=config.categories, limit=config.limit)
    runner = _Runner(pipe, drafts or {})
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start, load_before = time.perf_counter(), runinfo.load_average()
    _load_models(runner, methods)
    load_seconds = time.perf_counter() - start
    warmups = len(methods) if config.warmup else 0
    runs: list[RunRecord] = []
    pairs = counterparts(methods, pipe.backend_label())
    with tqdm(total=warmups + len(chosen) * len(methods) * config.repeats, unit="run", disable=not progress) as bar:
        if config.warmup:
            _warm_up(runner, methods, config.warmup_tokens, bar)
        for block, (repeat, prompt) in enumerate((r, p) for r in range(config.repeats) for p in chosen):
            order = _rotated(methods, block)
            runs.extend(_run_block(runner, order, pairs.baselines, prompt, repeat, config.max_new_tokens, bar))
    runner.llama_peers.close()
    return BenchResult(
        config=config, runs=runs,
        prompts=[PromptInfo(p.id, p.category, p.text, len(runner.prompt_ids(p))) for p in chosen],
        summary=summarize_runs(runs, [m.label for m in methods], **asdict(pairs)),
        method_settings=_method_settings(runner, methods), models=_models(runner),
        environment=runinfo.environment(load_before), started_at=started,
        load_seconds=load_seconds, wall_seconds=time.perf_counter() - start,
    )


def _load_models(runner: _Runner, methods: Sequence[BenchMethod]) -> None:
    """Load every model now: a pipeline loads on first use, which would land inside a timed run."""
    for pipe in {id(p): p for p in (runner.pipeline_for(m) for m in methods)}.values():
        for handle in (pipe.verifier, pipe.draft):
            _ = handle.backend


def _warm_up(runner: _Runner, methods: Sequence[BenchMethod], max_new_tokens: int, bar: tqdm) -> None:
    """One untimed generation per method: brings kernels, allocators and caches to a steady state."""
    for method in methods:
        bar.set_postfix_str(f"warm-up {method.label}")
        runner.run(method, WARMUP_PROMPT, RunContext("warmup", "warmup", method.label, 0, 0), max_new_tokens)
        bar.update()


def counterparts(methods: Sequence[BenchMethod], own_backend: str) -> Counterparts:
    """Each method's verifier-only run (on its backend) and draft-only run (its draft, its backend)."""
    labels = [m.label for m in methods]
    return Counterparts(
        baselines={m.label: m.baseline(labels) for m in methods},
        drafts={m.label: d for m in methods if m.uses_draft_model and (d := m.draft_only(labels, own_backend))},
    )


def _run_block(
    runner: _Runner, order: Sequence[BenchMethod], baselines: dict[str, str], prompt: BenchPrompt, repeat: int,
    max_new_tokens: int, bar: tqdm,
) -> list[RunRecord]:
    """All methods back to back on one prompt, then each compared with its verifier-only run."""
    block = {}
    for position, method in enumerate(order):
        bar.set_postfix_str(f"{prompt.id} {method.label}")
        ctx = RunContext(prompt.id, prompt.category, method.label, repeat, position)
        block[method.label] = runner.run(method, prompt, ctx, max_new_tokens)
        bar.update()
    return [
        r if baselines[label] == label else compare_with_baseline(r, block[baselines[label]])
        for label, r in block.items()
    ]


def _rotated(methods: Sequence[BenchMethod], shift: int) -> list[BenchMethod]:
    """The methods starting at ``shift``: no method always runs first (cold caches) or last."""
    k = shift % len(methods)
    return [*methods[k:], *methods[:k]]


@dataclass(frozen=True)
class Counterparts:
    """Per method label: the label of its verifier-only run and of its draft-only run."""

    baselines: dict[str, str]
    drafts: dict[str, str]


class _Runner:
    """Runs one method on one prompt with the pipeline's models and returns its record."""

    def __init__(self, pipe: Pipeline, drafts: Mapping[str, ModelSource]) -> None:
        self.pipe = pipe
        self.drafts = drafts
        self._prompt_ids: dict[str, list[int]] = {}
        self._siblings: dict[str, Pipeline] = {}
        self.llama_peers = LlamaPeers()

    def pipeline_for(self, method: BenchMethod) -> Pipeline:
        """The benchmark's pipeline, or the same verifier on the backend the method names
        (transformers' peers need torch models) with the draft it names; the verifier of one
        backend is loaded once for all drafts."""
        backend = method.runs_on if method.runs_on != self.pipe.backend_label() else None
        if backend is None and method.draft is None:
            return self.pipe
        return self._sibling(backend, method.draft)

    def _sibling(self, backend: str | None, draft: str | None) -> Pipeline:
        """The pipeline on ``backend`` (None: the benchmark's) with ``draft`` (None: the benchmark's)."""
        key = ",".join(p for p in (backend, draft and f"draft={draft}") if p)
        if key not in self._siblings:
            base = self._sibling(backend, None) if backend and draft else self.pipe
            if draft:
                self._siblings[key] = base.with_draft(self.drafts.get(draft, draft))
            else:
                assert backend is not None
                self._siblings[key] = base.on_backend(backend)
        return self._siblings[key]

    def pipelines(self) -> dict[str, Pipeline]:
        """Every pipeline used so far: by backend label, then by backend and draft where a method named one."""
        return {self.pipe.backend_label(): self.pipe, **self._siblings}

    def prompt_ids(self, prompt: BenchPrompt) -> list[int]:
        if prompt.id not in self._prompt_ids:
            self._prompt_ids[prompt.id] = encode_prompt(self.pipe.verifier.tokenizer, prompt.messages(), chat=True)
        return self._prompt_ids[prompt.id]

    def run(self, method: BenchMethod, prompt: BenchPrompt, ctx: RunContext, max_new_tokens: int) -> RunRecord:
        """One generation, started cold: no prompt prefix is reused from an earlier run."""
        pipe = self.pipeline_for(method)
        pipe.clear_prefix_caches()
        if method.peer == LLAMA_SPECULATIVE:
            return run_speculative(
                ctx, method.peer_options, pipe.verifier, pipe.draft, self.prompt_ids(prompt), max_new_tokens
            )
        if method.peer in LLAMA_PEERS:
            return self.llama_peers.run(
                ctx, method.peer, method.peer_options, pipe.verifier, self.prompt_ids(prompt), max_new_tokens
            )
        if method.method is None:
            return run_peer(ctx, method, pipe.verifier, pipe.draft, self.prompt_ids(prompt), max_new_tokens)
        start = time.perf_counter()
        result = pipe.generate(prompt.messages(), method=method.method, max_new_tokens=max_new_tokens, chat=True)
        wall = time.perf_counter() - start
        return from_result(ctx, result, wall)


def _models(runner: _Runner) -> dict[str, Any]:
    pipe = runner.pipe
    return {
        "draft": pipe.draft.name, "verifier": pipe.verifier.name, **pipe.runtime(),
        "eos_token_ids": sorted(pipe.verifier.eos_token_ids),
        "backends": {label: _runtime_details(p) for label, p in runner.pipelines().items()},
    }


def _runtime_details(pipe: Pipeline) -> dict[str, Any]:
    """Where a pipeline's models ran: backend, dtype and device; for llama.cpp its version and CPU kernels."""
    details = pipe.runtime()
    if LLAMA_CPP in details["backend"]:
        from verispec.backends.llamacpp_backend import cpu_variant, llama_cpp_version

        details |= {"llama_cpp_python": llama_cpp_version(), "cpu_kernels": cpu_variant()}
    return details


def _method_settings(runner: _Runner, methods: Sequence[BenchMethod]) -> dict[str, dict[str, Any]]:
    """Each method's resolved settings: the backend it ran on, whether its draft length was
    cost-aware there, and for assisted generation the assistant settings transformers used."""
    settings = {m.label: m.settings() for m in methods}
    for m in methods:
        pipe = runner.pipeline_for(m)
        settings[m.label]["ran_on"] = pipe.backend_label()
        if m.uses_draft_model:
            settings[m.label]["draft"] = pipe.draft.name
        if m.method is not None and m.method.spec.speculative:
            settings[m.label]["cost_aware"] = m.method.cost_aware(default=pipe.verifier.runtime == LLAMA_CPP)
        if m.peer == HF_ASSISTED:
            settings[m.label]["assistant"] = assistant_settings(pipe.draft.model, m.peer_options)
        if m.peer == LLAMA_SPECULATIVE:
            settings[m.label]["program"] = program_info()
    return settings
