"""Model backends: a causal LM with a KV cache that grows by k tokens and rolls back."""

from typing import Any

from verispec.backends.base import ForwardClock, ForwardOutput, ModelBackend, ModelIdentity
from verispec.backends.transformers_backend import TransformersBackend

__all__ = ["ForwardClock", "ForwardOutput", "LlamaCppBackend", "ModelBackend", "ModelIdentity", "TransformersBackend"]


def __getattr__(name: str) -> Any:
    """``LlamaCppBackend`` on first use, so that importing verispec never needs llama_cpp.

    (The module itself imports llama_cpp only when a backend is created.)
    """
    if name == "LlamaCppBackend":
        from verispec.backends.llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
