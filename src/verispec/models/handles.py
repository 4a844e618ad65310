"""A loaded model on a chosen backend: torch (transformers) or llama.cpp (GGUF), behind one handle.

Every backend reads and writes text with the model's Hugging Face tokenizer, so token ids, chat
templates and end tokens are the same whichever runtime computes the logits. ``"auto"`` picks
llama.cpp on a CPU for a model that has a GGUF file (the embedded models, or a ``.gguf`` path)
when llama-cpp-python is installed and no torch dtype was asked for; torch otherwise.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from verispec.backends import ModelBackend, TransformersBackend
from verispec.errors import ConfigError, VerispecError, VocabularyMismatchError
from verispec.models.loading import ModelSource, load_model, load_tokenizer, resolve
from verispec.tokens import end_token_ids

TORCH = "torch"
LLAMA_CPP = "llama.cpp"
AUTO = "auto"
BACKENDS = (AUTO, TORCH, LLAMA_CPP)

# Text on which a GGUF's own tokenizer must give the Hugging Face tokenizer's ids: code, digits,
# CJK, emoji, whitespace runs; a file converted with another vocabulary differs at once.
_PROBE = "def f(x):\n    return x ** 2  # 12345 你好 😀 café\t  end"


@dataclass
class ModelHandle:
    """A loaded causal LM: its tokenizer, end tokens and backend.

    ``model`` is the torch module on the torch backend (its backend is built on first use) and
    None on llama.cpp, whose backend is given. ``generation_config`` supplies end tokens where
    there is no torch module.
    """

    name: str
    model: PreTrainedModel | None
    tokenizer: PreTrainedTokenizerBase
    _backend: ModelBackend | None = field(default=None, repr=False)
    generation_config: GenerationConfig | None = field(default=None, repr=False)
    _eos: frozenset[int] | None = field(default=None, repr=False)

    @property
    def backend(self) -> ModelBackend:
        if self._backend is None:
            assert self.model is not None, "a handle without a torch model is built with its backend"
            self._backend = TransformersBackend(self.model, name=self.name)
        return self._backend

    @property
    def runtime(self) -> str:
        """``"torch"`` or ``"llama.cpp"``."""
        return TORCH if self.model is not None else LLAMA_CPP

    @property
    def eos_token_ids(self) -> frozenset[int]:
        if self._eos is None:
            config = self.model.generation_config if self.model is not None else self.generation_config
            self._eos = end_token_ids(config, self.tokenizer)
        return self._eos


def check_backend(name: str) -> str:
    """``name`` if it is a backend verispec has, else a ConfigError listing them."""
    if name not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    return name


def choose_backend(name_or_path: str, requested: str, *, device: str, dtype_given: bool) -> str:
    """The backend ``requested`` resolves to for this model (``"auto"`` decides; see the module doc)."""
    check_backend(requested)
    if requested != AUTO:
        return requested
    if device != "cpu" or dtype_given or importlib.util.find_spec("llama_cpp") is None:
        return TORCH
    try:
        source = resolve(name_or_path)
    except VerispecError:  # loading will say what is wrong; choosing a backend must not
        return TORCH
    return LLAMA_CPP if gguf_path(source) is not None else TORCH


def gguf_path(source: ModelSource) -> Path | None:
    """The GGUF file llama.cpp runs for ``source``: the file itself, or an embedded model's kept GGUF."""
    if source.kind == "gguf":
        return Path(source.location)
    if source.kind == "embedded":
        from verispec.models.registry import get_model

        path = Path(source.location) / get_model(source.name).gguf_file
        return path if path.is_file() else None
    return None


def open_model(
    name_or_path: str,
    *,
    backend: str,
    dtype: torch.dtype,
    device: str,
    tokenizer: PreTrainedTokenizerBase | None = None,
) -> ModelHandle:
    """Load ``name_or_path`` on ``backend`` (``"torch"`` or ``"llama.cpp"``, already chosen).

    ``tokenizer`` overrides the model's own on llama.cpp (a GGUF with a separately kept tokenizer);
    it must tokenize as the GGUF does.
    """
    if backend == TORCH:
        loaded = load_model(name_or_path, dtype=dtype, device=device)
        return ModelHandle(loaded.name, loaded.model, loaded.tokenizer)
    return _open_gguf(name_or_path, device=device, tokenizer=tokenizer)


def _open_gguf(name_or_path: str, *, device: str, tokenizer: PreTrainedTokenizerBase | None) -> ModelHandle:
    from verispec.backends.llamacpp_backend import LlamaCppBackend, embedded_gguf

    if device != "cpu":
        raise ConfigError(f"the llama.cpp backend runs on the CPU here; for device {device!r} use backend='torch'")
    source = resolve(name_or_path)
    if source.kind == "embedded":
        path = embedded_gguf(source.name)  # raises, saying how to keep the file, when it is missing
    elif source.kind == "gguf":
        path = Path(source.location)
    else:
        raise ConfigError(
            f"the llama.cpp backend runs GGUF files, and {name_or_path!r} is a {source.kind} model: pass an "
            "embedded model name or a .gguf path, or use backend='torch' (--backend torch)"
        )
    model = LlamaCppBackend(path, name=source.name)  # first: it says clearly when a file is no GGUF
    own_tokenizer, config = load_tokenizer(source)
    check_same_tokens(model, tokenizer or own_tokenizer, path)
    return ModelHandle(source.name, None, tokenizer or own_tokenizer, _backend=model, generation_config=config)


def check_same_tokens(backend: ModelBackend, tokenizer: PreTrainedTokenizerBase, path: Path) -> None:
    """Raise VocabularyMismatchError unless llama.cpp's tokenizer for ``path`` gives ``tokenizer``'s ids."""
    ours = tokenizer(_PROBE, add_special_tokens=False).input_ids
    theirs = backend.tokenize(_PROBE)  # type: ignore[attr-defined]
    if ours != theirs or len(tokenizer) > backend.vocab_size:
        raise VocabularyMismatchError(
            f"the GGUF file {path} does not use this tokenizer ({len(tokenizer)} tokens; the GGUF has "
            f"{backend.vocab_size}, and tokenizes a probe text differently): pass the tokenizer that was "
            "converted with this GGUF, or the GGUF of this model"
        )
