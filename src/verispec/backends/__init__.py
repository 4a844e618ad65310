"""Model backends: a causal LM with a KV cache that grows by k tokens and rolls back."""

from verispec.backends.base import ForwardClock, ForwardOutput, ModelBackend, ModelIdentity
from verispec.backends.transformers_backend import TransformersBackend

__all__ = ["ForwardClock", "ForwardOutput", "ModelBackend", "ModelIdentity", "TransformersBackend"]
