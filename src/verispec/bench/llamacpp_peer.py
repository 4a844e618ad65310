"""The llama.cpp peers: llama-cpp-python's own greedy decoding and prompt-lookup decoding, timed like verispec's methods.

``llama-plain`` is ``Llama.generate`` (top-k 1, temperature 0) on the verifier's GGUF file, tuned
as a user would run it on a CPU: every core for decoding and prompt reading, flash attention on,
logits kept for the last position only. ``llama-lookup`` is the same with llama-cpp-python's
``LlamaPromptLookupDecoding`` as its draft model (``num_pred_tokens`` drafted per round, 2 by
default, which was its fastest setting on this machine class; its own default is 10). Each peer
keeps one loaded ``Llama`` for the whole benchmark. Forward passes are counted by wrapping the
instance's ``eval``: the first reads the prompt, each later one is a round.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verispec.bench.records import RunContext, RunRecord
from verispec.errors import ConfigError, ModelNotPulledError
from verispec.models.handles import ModelHandle

LLAMA_PLAIN = "llama-plain"
LLAMA_LOOKUP = "llama-lookup"
LOOKUP_OPTIONS: dict[str, type] = {"num_pred_tokens": int, "max_ngram_size": int}
LOOKUP_DEFAULTS: dict[str, Any] = {"num_pred_tokens": 2, "max_ngram_size": 3}
CONTEXT = 4096


@dataclass
class EvalCounter:
    """Tokens per ``Llama.eval`` call and the seconds inside them."""

    lengths: list[int] = field(default_factory=list)
    seconds: float = 0.0


class LlamaPeers:
    """One loaded ``Llama`` per (GGUF file, peer, options), reused across prompts."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str, tuple], Any] = {}

    def run(
        self, ctx: RunContext, peer: str, options: dict[str, Any], verifier: ModelHandle,
        prompt_ids: Sequence[int], max_new_tokens: int,
    ) -> RunRecord:
        """Generate greedily with llama-cpp-python and return a record counted like verispec's."""
        model = self._model(gguf_of(verifier), peer, options)
        counter = EvalCounter()
        eos = verifier.eos_token_ids
        tokens: list[int] = []
        model.reset()  # start cold, like every benchmark run: no prompt prefix reused from the last one
        with counting_evals(model, counter):
            start = time.perf_counter()
            for token in model.generate(list(prompt_ids), top_k=1, temp=0.0, repeat_penalty=1.0, reset=True):
                tokens.append(token)
                if token in eos or len(tokens) == max_new_tokens:
                    break
            wall = time.perf_counter() - start
        rounds = max(0, len(counter.lengths) - 1)  # the first eval reads the prompt
        lookup = peer == LLAMA_LOOKUP
        proposed = sum(n - 1 for n in counter.lengths[1:]) if lookup else 0
        return RunRecord(
            prompt_id=ctx.prompt_id, category=ctx.category, method=ctx.method, repeat=ctx.repeat, position=ctx.position,
            prompt_tokens=len(prompt_ids), new_tokens=len(tokens), wall_seconds=wall, rounds=rounds,
            proposed=proposed, accepted=max(0, len(tokens) - rounds) if lookup else 0,
            draft_forwards=0, verifier_forwards=len(counter.lengths), draft_seconds=0.0,
            verifier_seconds=counter.seconds, finish_reason="eos" if tokens and tokens[-1] in eos else "length",
            token_ids=tokens, text=verifier.tokenizer.decode(tokens, skip_special_tokens=True),
            details={"eval_lengths": counter.lengths},
        )

    def _model(self, path: Path, peer: str, options: dict[str, Any]) -> Any:
        key = (str(path), peer, tuple(sorted(options.items())))
        if key not in self._models:
            self._models[key] = load_llama(path, draft=peer == LLAMA_LOOKUP, options=options)
        return self._models[key]

    def close(self) -> None:
        for model in self._models.values():
            model.close()
        self._models.clear()


def load_llama(path: Path, *, draft: bool, options: dict[str, Any]) -> Any:
    """A ``Llama`` on ``path`` with the tuned CPU settings, with prompt lookup as its draft if asked."""
    import torch

    from verispec.backends.llamacpp_backend import import_llama_cpp

    llama_cpp = import_llama_cpp()
    threads = torch.get_num_threads()
    extra: dict[str, Any] = {}
    if draft:
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

        extra["draft_model"] = LlamaPromptLookupDecoding(**{**LOOKUP_DEFAULTS, **options})
    return llama_cpp.Llama(
        str(path), n_ctx=CONTEXT, n_threads=threads, n_threads_batch=threads, flash_attn=True, logits_all=False,
        verbose=False, **extra,
    )


def gguf_of(model: ModelHandle) -> Path:
    """The GGUF file a model runs on llama.cpp, or the embedded model's kept GGUF."""
    path = getattr(model.backend, "path", None) if model.runtime != "torch" else None
    if path is not None:
        return Path(path)
    from verispec.backends.llamacpp_backend import embedded_gguf
    from verispec.models.registry import REGISTRY

    if model.name not in REGISTRY:
        raise ConfigError(f"the llama.cpp peers need their models as GGUF files; {model.name!r} is not one")
    return embedded_gguf(model.name)


def has_gguf(verifier: ModelHandle) -> bool:
    """Whether llama-cpp-python is installed and has a GGUF file of the verifier to run."""
    from importlib.util import find_spec

    if find_spec("llama_cpp") is None:
        return False
    try:
        gguf_of(verifier)
    except (ConfigError, ModelNotPulledError):
        return False
    return True


class counting_evals:  # noqa: N801 - used as a context manager, like contextlib's
    """Wrap ``model.eval`` for one block: each call's token count and time go to ``counter``."""

    def __init__(self, model: Any, counter: EvalCounter) -> None:
        self.model, self.counter = model, counter

    def __enter__(self) -> None:
        original = type(self.model).eval

        def timed(tokens: Sequence[int]) -> None:
            start = time.perf_counter()
            original(self.model, tokens)
            self.counter.seconds += time.perf_counter() - start
            self.counter.lengths.append(len(tokens))

        self.model.eval = timed

    def __exit__(self, *exc: object) -> None:
        del self.model.eval
