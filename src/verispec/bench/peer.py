"""The peer: Hugging Face transformers' own generation, timed and counted like verispec's methods.

Forward hooks on both models count forward passes, the time inside them and the tokens each pass
reads. From those, for assisted generation: ``rounds`` = verifier forward passes (the first one
reads the prompt and the first draft together, so there is no separate prefill); ``proposed`` =
draft tokens the verifier read (the first pass's length minus the prompt, then each pass's length
minus the one token committed last round); ``accepted`` = new tokens − rounds (each round commits
its kept draft tokens plus one verifier token). Prompt lookup counts the same way, with no draft
model forwards. A draft with another tokenizer runs as transformers' universal assisted generation
(``tokenizer`` and ``assistant_tokenizer`` given), counted the same way in the verifier's tokens.
"""

from __future__ import annotations

import copy
import importlib.util
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import GenerationConfig, PreTrainedModel

from verispec.bench.methods import HF_ASSISTED, HF_LOOKUP, BenchMethod
from verispec.bench.records import RunContext, RunRecord
from verispec.pipeline import ModelHandle
from verispec.tokens import same_vocabulary


@dataclass
class ForwardCounter:
    """Forward calls of one model: how many, the seconds inside them and each call's input length."""

    calls: int = 0
    seconds: float = 0.0
    input_lengths: list[int] = field(default_factory=list)
    _synchronize: bool = False
    _start: float = 0.0

    def before(self, module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            ids = kwargs["inputs_embeds"]
        self.input_lengths.append(int(ids.shape[1]))
        self._start = time.perf_counter()

    def after(self, module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
        if self._synchronize:
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - self._start
        self.calls += 1


@contextmanager
def counting(model: PreTrainedModel) -> Iterator[ForwardCounter]:
    """Count ``model``'s forward passes while the block runs; the hooks are removed afterwards."""
    counter = ForwardCounter(_synchronize=model.device.type == "cuda")
    handles = [
        model.register_forward_pre_hook(counter.before, with_kwargs=True),
        model.register_forward_hook(counter.after, with_kwargs=True),
    ]
    try:
        yield counter
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def assistant_config(draft: PreTrainedModel, options: dict[str, Any]) -> Iterator[GenerationConfig]:
    """Apply assistant options to the draft's generation config for one call, then restore it.

    transformers reads the assistant settings from the assistant model's generation config, and
    its "heuristic" schedule and confidence threshold persist there across calls; restoring the
    original after every call keeps each prompt independent of the ones before it.
    """
    original = draft.generation_config
    draft.generation_config = copy.deepcopy(original)
    draft.generation_config.update(**options)
    try:
        yield draft.generation_config
    finally:
        draft.generation_config = original


def assistant_settings(draft: PreTrainedModel, options: dict[str, Any]) -> dict[str, Any]:
    """The assistant settings transformers will use: the draft's config, then its global defaults."""
    config = copy.deepcopy(draft.generation_config)
    config.update(**options)
    config.update(**config._get_default_generation_params(), defaults_only=True)
    return {
        "num_assistant_tokens": config.num_assistant_tokens,
        "num_assistant_tokens_schedule": config.num_assistant_tokens_schedule,
        "assistant_confidence_threshold": config.assistant_confidence_threshold,
        # Without scikit-learn transformers keeps the confidence threshold fixed instead of tuning it per round.
        "confidence_threshold_adapted": importlib.util.find_spec("sklearn") is not None,
        "reset_before_each_call": True,
    }


def run_peer(
    ctx: RunContext,
    method: BenchMethod,
    verifier: ModelHandle,
    draft: ModelHandle,
    prompt_ids: Sequence[int],
    max_new_tokens: int,
) -> RunRecord:
    """Generate greedily with transformers and return a record counted like verispec's."""
    eos = verifier.eos_token_ids
    model = verifier.model
    inputs = torch.tensor([list(prompt_ids)], dtype=torch.long, device=model.device)
    kwargs = _generate_kwargs(max_new_tokens, eos)
    assisted = method.speculative
    assistant_options: dict[str, Any] = {}
    if method.peer == HF_ASSISTED:
        kwargs["assistant_model"] = draft.model
        assistant_options = method.peer_options
        if not same_vocabulary(draft.tokenizer, verifier.tokenizer):
            # Universal assisted generation: transformers re-tokenizes the draft's text itself.
            kwargs.update(tokenizer=verifier.tokenizer, assistant_tokenizer=draft.tokenizer)
    elif method.peer == HF_LOOKUP:
        kwargs.update(method.peer_options)
    with assistant_config(draft.model, assistant_options), counting(model) as vc, counting(draft.model) as dc:
        start = time.perf_counter()
        output = model.generate(inputs, attention_mask=torch.ones_like(inputs), **kwargs)
        wall = time.perf_counter() - start
    tokens = _cut_after_eos(output[0, len(prompt_ids):].tolist(), eos)
    proposed = _proposed(vc.input_lengths, len(prompt_ids)) if assisted else 0
    return RunRecord(
        prompt_id=ctx.prompt_id, category=ctx.category, method=ctx.method, repeat=ctx.repeat, position=ctx.position,
        prompt_tokens=len(prompt_ids), new_tokens=len(tokens), wall_seconds=wall, rounds=vc.calls,
        proposed=proposed, accepted=max(0, len(tokens) - vc.calls) if assisted else 0,
        draft_forwards=dc.calls, verifier_forwards=vc.calls, draft_seconds=dc.seconds, verifier_seconds=vc.seconds,
        finish_reason="eos" if tokens and tokens[-1] in eos else "length", token_ids=tokens,
        text=verifier.tokenizer.decode(tokens, skip_special_tokens=True),
        details={"verifier_input_lengths": vc.input_lengths},
    )


def _generate_kwargs(max_new_tokens: int, eos: frozenset[int]) -> dict[str, Any]:
    """Plain greedy decoding that stops at the same end tokens as verispec.

    Explicit values override whatever the model's own generation config sets (some instruct
    models ship a repetition penalty or sampling defaults, which would change the output).
    """
    ids = sorted(eos)
    return {
        "do_sample": False,
        "max_new_tokens": max_new_tokens,
        "min_new_tokens": None,
        "eos_token_id": ids,
        "pad_token_id": ids[0],
        "repetition_penalty": 1.0,
        "temperature": None,
        "top_p": None,
        "top_k": None,
    }


def _proposed(input_lengths: Sequence[int], prompt_tokens: int) -> int:
    """Draft tokens the verifier read: see the module docstring."""
    if not input_lengths:
        return 0
    first, *rest = input_lengths
    return (first - prompt_tokens) + sum(n - 1 for n in rest)


def _cut_after_eos(tokens: list[int], eos: frozenset[int]) -> list[int]:
    for i, token in enumerate(tokens):
        if token in eos:
            return tokens[: i + 1]
    return tokens
