"""Load a causal LM and its tokenizer by registry name, GGUF file, local directory or Hugging Face hub id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from verispec.errors import ModelNotFoundError, ModelNotPulledError, ModelPackageError
from verispec.models import cache
from verispec.models.int8 import INT8, quantize_int8
from verispec.models.registry import REGISTRY, model_names

SourceKind = Literal["embedded", "gguf", "local", "hub"]

# What from_pretrained raises for a missing or unusable model: OSError for absent files or repos
# (hub errors subclass it), ValueError for malformed ids and unknown architectures.
_LOAD_ERRORS = (OSError, ValueError, KeyError)


@dataclass(frozen=True)
class ModelSource:
    """Where a model name points: a converted cache entry, a GGUF file, a local directory or a hub id."""

    name: str
    location: str
    kind: SourceKind

    def pretrained_args(self) -> tuple[str, dict[str, str]]:
        """``from_pretrained``'s directory or id, and its ``gguf_file`` for a GGUF file."""
        if self.kind == "gguf":
            path = Path(self.location)
            return str(path.parent), {"gguf_file": path.name}
        return self.location, {}


@dataclass
class LoadedModel:
    """A model in eval mode without gradients, its tokenizer, and where they came from."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    name: str
    source: str
    dtype: torch.dtype
    device: torch.device


def resolve(name_or_path: str) -> ModelSource:
    """Say where ``name_or_path`` will be loaded from, without loading it.

    Order: a registry name (its cache entry, which must be pulled), then an existing ``.gguf``
    file or local directory, then anything else as a hub id. Raises ModelNotPulledError for an embedded model
    that is not in the cache yet.
    """
    if name_or_path in REGISTRY:
        path = cache.model_dir(name_or_path)
        if not cache.is_complete(path):
            raise ModelNotPulledError(
                f"the embedded model {name_or_path} is not in the cache ({path}) yet: "
                f"run `verispec models pull {name_or_path}`"
            )
        return ModelSource(name_or_path, str(path), "embedded")
    path = Path(name_or_path).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelNotFoundError(f"no GGUF file at {path}: check the path")
        return ModelSource(name_or_path, str(path.resolve()), "gguf")
    if path.is_dir():
        return ModelSource(name_or_path, str(path.resolve()), "local")
    if "/" not in name_or_path:
        # Not a hub id (owner/name) either: fail now instead of after the hub's network retries.
        raise ModelNotFoundError(
            f"{name_or_path!r} is not an embedded model name nor an existing directory. Embedded models: "
            f"{', '.join(REGISTRY)}; otherwise pass a GGUF file, a local model directory or a hub id (owner/name)"
        )
    return ModelSource(name_or_path, name_or_path, "hub")


def load_model(
    name_or_path: str, *, dtype: torch.dtype = torch.bfloat16, device: str = "cpu"
) -> LoadedModel:
    """Load a causal LM and its tokenizer, in eval mode with gradients off, onto ``device``.

    ``dtype`` ``verispec.models.int8.INT8`` loads fp32 weights and quantizes the linear layers to int8.

    Raises ModelNotPulledError (embedded model not pulled), ModelNotFoundError (nothing loadable
    under that name) or ModelPackageError (a cache entry that no longer loads).
    """
    source = resolve(name_or_path)
    location, gguf = source.pretrained_args()
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **gguf)
        model = AutoModelForCausalLM.from_pretrained(location, dtype=torch.float32 if dtype == INT8 else dtype, **gguf)
    except _LOAD_ERRORS as err:
        raise _load_error(source, err) from err
    target = torch.device(device)
    model.to(target)
    model.eval()
    model.requires_grad_(False)
    if dtype == INT8:
        quantize_int8(model)
    return LoadedModel(model, tokenizer, source.name, source.location, dtype, target)


def load_tokenizer(source: ModelSource) -> tuple[PreTrainedTokenizerBase, GenerationConfig | None]:
    """The tokenizer and generation config (None where there is none) of ``source``, without its weights.

    A runtime other than torch (llama.cpp) runs the weights; verispec still reads and writes text
    with the Hugging Face tokenizer, so that every backend sees the same token ids.
    """
    location, gguf = source.pretrained_args()
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, **gguf)
    except _LOAD_ERRORS as err:
        raise _load_error(source, err) from err
    if gguf:  # a GGUF file carries no generation config; its end tokens come from the tokenizer
        return tokenizer, None
    try:
        return tokenizer, GenerationConfig.from_pretrained(location)
    except OSError:  # a model directory without generation_config.json
        return tokenizer, None


def _load_error(source: ModelSource, err: Exception) -> Exception:
    """The typed error for a failed load, naming what was tried and what to do."""
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if source.kind == "embedded":
        return ModelPackageError(
            f"the cache entry {source.location} of {source.name} does not load ({reason}): "
            f"delete that directory and rerun `verispec models pull {source.name}`"
        )
    if source.kind == "gguf":
        return ModelNotFoundError(f"{source.location} is a GGUF file that transformers cannot load ({reason})")
    if source.kind == "local":
        return ModelNotFoundError(
            f"{source.location} is a directory but not a loadable causal LM ({reason})"
        )
    return ModelNotFoundError(
        f"{source.name!r} is not an embedded model name, not an existing directory, and did not "
        f"load as a Hugging Face hub id ({reason}). Embedded models: {', '.join(model_names())}; "
        "otherwise pass a local model directory or a hub id"
    )
