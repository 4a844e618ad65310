"""Helpers for the CoSD tests: a second byte-level tokenizer with merges, handles, real tokenizers."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import pytest
import torch
from tiny_models import tiny_model
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from verispec.backends.base import ForwardClock, ForwardOutput, ModelBackend, ModelIdentity
from verispec.errors import ConfigError
from verispec.models import cache
from verispec.pipeline import ModelHandle

# Byte-level merges (Ġ is a space): words, doubled spaces and tabs, digits, "é", and the first two
# bytes of "😀" so that some tokens end inside a multi-byte character.
MERGES = [
    ("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("l", "l"), ("Ġ", "Ġ"), ("ĠĠ", "ĠĠ"), ("ĉ", "ĉ"), ("1", "2"),
    ("Ã", "©"), ("ð", "Ł"), ("e", "r"), ("Ġ", "a"), ("i", "n"), ("o", "n"), ("Ġ", "w"), ("Ċ", "Ġ"),
]


def merged_tokenizer() -> PreTrainedTokenizerFast:
    """A lossless byte-level BPE tokenizer that merges differently from ``tiny_models.byte_tokenizer``."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    for left, right in MERGES:
        vocab[left + right] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=MERGES))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<eos>")
    tokenizer.add_special_tokens({"eos_token": "<eos>"})
    tokenizer.chat_template = (
        "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant] {% endif %}"
    )
    return tokenizer


def handle(name: str, seed: int, tokenizer: PreTrainedTokenizerBase, **model_options: object) -> ModelHandle:
    """A tiny random model sized for ``tokenizer``, with ``<eos>`` as its EOS."""
    eos = tokenizer.eos_token_id
    model = tiny_model(seed, vocab=len(tokenizer), eos=eos, **model_options)
    return ModelHandle(name, model, tokenizer)


REAL_MODELS = ("qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct", "gemma-3-270m")


def real_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """The tokenizer of a pulled embedded model (no weights loaded); skips the test when not pulled."""
    path = cache.model_dir(name)
    if not cache.is_complete(path):
        pytest.skip(f"needs the tokenizer of {name}: run `verispec models pull {name}`")
    return _load_tokenizer(str(path))


@functools.cache
def _load_tokenizer(path: str) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(path)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte → printable character table (the alphabet of byte-level BPE tokens)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars)}


_BYTE_OF = {ch: b for b, ch in _bytes_to_unicode().items()}


def token_bytes(tokenizer: PreTrainedTokenizerBase, token_id: int) -> bytes:
    """The bytes a byte-level token stands for (nothing for special tokens)."""
    if token_id in tokenizer.all_special_ids:
        return b""
    return bytes(_BYTE_OF[ch] for ch in tokenizer.convert_ids_to_tokens(token_id))


class ScriptedBackend(ModelBackend):
    """A fake model that wants to write one of its ``scripts`` (prompt included), for byte-level tokenizers.

    Its top token, with probability ``confidence``, is the longest token spelling the next bytes of
    the first script the text so far begins; once the text has left every script, or finished one,
    its top token is EOS (with probability ``lost``, default ``confidence``).
    """

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, scripts: str | tuple[str, ...], confidence: float,
        name: str = "scripted", lost: float | None = None,
    ) -> None:
        self.name = name
        self.vocab_size = len(tokenizer)
        self.max_context = 4096
        self.device = torch.device("cpu")
        self.clock = ForwardClock()
        self.tokenizer = tokenizer
        self.scripts = [t if isinstance(t, bytes) else t.encode() for t in ((scripts,) if isinstance(scripts, (str, bytes)) else scripts)]
        self.confidence = confidence
        self.lost = confidence if lost is None else lost
        self.eos = tokenizer.eos_token_id
        self._spellings = sorted(
            ((token_bytes(tokenizer, i), i) for i in range(self.vocab_size) if i not in tokenizer.all_special_ids),
            key=lambda item: -len(item[0]),
        )
        self._ids: list[int] = []

    @property
    def cached_length(self) -> int:
        return len(self._ids)

    @property
    def hidden_size(self) -> int:
        return 0  # a scripted model has no hidden states

    def identity(self) -> ModelIdentity:
        return ModelIdentity(self.name, self.vocab_size, self.hidden_size, 0)

    def forward(self, tokens, *, last_only=False, hidden=False) -> ForwardOutput:
        rows = []
        with self.clock.measure(len(tokens)):
            for token in tokens:
                self._ids.append(token)
                rows.append(self._logits())
        logits = torch.stack(rows)
        return ForwardOutput(logits[-1:] if last_only else logits)

    def _logits(self) -> torch.Tensor:
        written = b"".join(token_bytes(self.tokenizer, i) for i in self._ids)
        script = next((s for s in self.scripts if s.startswith(written) and len(written) < len(s)), None)
        top, confidence = self.eos, self.lost
        if script is not None:
            rest, confidence = script[len(written) :], self.confidence
            top = next(i for spelling, i in self._spellings if rest.startswith(spelling))
        logits = torch.full((self.vocab_size,), math.log((1 - confidence) / (self.vocab_size - 1)))
        logits[top] = math.log(confidence)
        return logits

    def rollback(self, length: int) -> None:
        del self._ids[length:]

    def reset(self) -> None:
        self._ids = []


@dataclass
class ScriptedHandle:
    """A model handle around a :class:`ScriptedBackend`."""

    name: str
    tokenizer: PreTrainedTokenizerBase
    backend: ScriptedBackend

    @property
    def eos_token_ids(self) -> frozenset[int]:
        return frozenset({self.tokenizer.eos_token_id})


def scripted(
    name: str, tokenizer: PreTrainedTokenizerBase, scripts: str | tuple[str, ...], confidence: float, lost: float | None = None
) -> ScriptedHandle:
    return ScriptedHandle(name, tokenizer, ScriptedBackend(tokenizer, scripts, confidence, name, lost))


def fuse_stream(strategy, prompt, *, chat=None, max_new_tokens=256, temperature=0.0, seed=None, stop=()):
    """The chunks of a collaborative round strategy's generation, run as the pipeline runs it."""
    from verispec.pipeline import stream_rounds
    from verispec.sampling import SamplingParams

    if max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    prompt_ids = strategy.read_prompt(prompt, chat=not isinstance(prompt, str) if chat is None else chat)
    return list(stream_rounds(
        strategy, strategy.members[0].tokenizer, prompt_ids, eos_token_ids=strategy.end_ids,
        max_new_tokens=max_new_tokens, params=SamplingParams(temperature=temperature, seed=seed), stop=stop,
        label=strategy.label(), roles=strategy.roles,
    ))


def fuse(strategy, prompt, **options):
    """The :class:`~verispec.pipeline.GenerationResult` of :func:`fuse_stream`."""
    return fuse_stream(strategy, prompt, **options)[-1].result
