"""Model backend for any Hugging Face ``transformers`` causal LM (CPU or CUDA, any dtype)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from transformers import DynamicCache, PreTrainedModel
from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

from verispec.backends.base import ForwardClock, ForwardOutput, ModelBackend, ModelIdentity
from verispec.models.int8 import is_int8


class TransformersBackend(ModelBackend):
    """Wraps a ``PreTrainedModel`` and one ``DynamicCache`` (batch size 1)."""

    def __init__(self, model: PreTrainedModel, name: str = "model") -> None:
        self.model = model.eval()
        self.name = name
        self.device = next(model.parameters()).device
        head = model.get_output_embeddings()
        self.vocab_size = int(getattr(head, "out_features", None) or head.weight.shape[0])
        self.max_context = int(getattr(model.config, "max_position_embeddings", None) or 2**31 - 1)
        self.clock = ForwardClock(_synchronize=self.device.type == "cuda")
        self._cache = _rollback_cache(model.config)
        self._length = 0
        self._head: tuple[torch.Tensor, torch.Tensor] | None = None
        dense_output_layer_input(model)

    @property
    def cached_length(self) -> int:
        return self._length

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.get_text_config().hidden_size)

    def identity(self) -> ModelIdentity:
        config = self.model.config.get_text_config()
        return ModelIdentity(self.name, self.vocab_size, self.hidden_size, int(config.num_hidden_layers))

    def precision(self) -> str:
        if is_int8(self.model):
            return "int8 linear layers, float32 otherwise"
        return str(next(self.model.parameters()).dtype)

    def restrict_vocabulary(self, token_ids: torch.Tensor | None) -> bool:
        """Compute logits only for ``token_ids`` (the rest read -inf); ``None`` restores the full head.

        The output layer of a small model is a large share of its cost (a fifth of the weights
        of Qwen2.5-0.5B), so a drafter that only proposes frequent tokens runs faster. Returns False,
        changing nothing, for models whose logits are more than a plain linear map of the last
        hidden state (logit soft-capping, scaling), and for an int8 output layer (already cheap, and
        its rows would be dequantized to fp32).
        """
        head = self.model.get_output_embeddings()
        plain = isinstance(head, torch.nn.Linear) and head.bias is None and not any(
            getattr(self.model.config, attr, None) for attr in ("final_logit_softcapping", "logit_scale")
        )
        if token_ids is None or not plain:
            self._head = None
            return token_ids is None
        ids = token_ids.to(self.device)
        self._head = (ids, head.weight.index_select(0, ids))
        return True

    @torch.inference_mode()
    def forward(self, tokens: Sequence[int], *, last_only: bool = False, hidden: bool = False) -> ForwardOutput:
        ids = torch.tensor([list(tokens)], dtype=torch.long, device=self.device)
        with self.clock.measure(len(tokens)):
            if self._head is not None and not hidden:
                logits = self._restricted_forward(ids, last_only)
                states = None
            else:
                out = self.model(
                    input_ids=ids,
                    past_key_values=self._cache,
                    use_cache=True,
                    logits_to_keep=1 if last_only else 0,
                    output_hidden_states=hidden,
                )
                logits, states = out.logits[0], (out.hidden_states[-1][0] if hidden else None)
        self._length += ids.shape[1]
        return ForwardOutput(logits=logits, hidden=states)

    def _restricted_forward(self, ids: torch.Tensor, last_only: bool) -> torch.Tensor:
        assert self._head is not None
        token_ids, weight = self._head
        states = self.model.base_model(input_ids=ids, past_key_values=self._cache, use_cache=True).last_hidden_state[0]
        if last_only:
            states = states[-1:]
        logits = torch.full((states.shape[0], self.vocab_size), float("-inf"), dtype=states.dtype, device=self.device)
        logits[:, token_ids] = torch.nn.functional.linear(states, weight)
        return logits

    def rollback(self, length: int) -> None:
        drop = self._length - length
        if drop < 0:
            raise ValueError(f"cannot roll back to {length}: only {self._length} tokens are cached")
        if drop:
            _crop(self._cache, drop)
            self._length = length

    def reset(self) -> None:
        """Empty the cache and restore the full vocabulary (a new sequence, maybe another role)."""
        self._cache = _rollback_cache(self.model.config)
        self._length = 0
        self._head = None


def dense_output_layer_input(model: PreTrainedModel) -> None:
    """Give the output layer its input with plain strides (once per model).

    Asking for the last position's logits hands the output layer a ``[b, 1, d]`` slice of ``[b, k, d]``;
    torch 2.13's matmul does not fold that into one matrix product but copies the whole transposed
    weight for a batched product: 1.3 s per prompt for Qwen2.5-1.5B's 151,936 x 1,536 head on a CPU,
    against 25 ms with plain strides (copying the small slice instead).
    """
    head = model.get_output_embeddings()
    if head is not None and not getattr(head, "_verispec_dense_input", False):
        head.register_forward_pre_hook(_dense_input)
        head._verispec_dense_input = True


def _dense_input(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    states, *rest = args
    plain = tuple(math.prod(states.shape[i + 1 :]) for i in range(states.dim()))
    if states.stride() != plain:  # even a "contiguous" [1, 1, d] slice of [1, k, d]
        states = torch.empty(states.shape, dtype=states.dtype, device=states.device).copy_(states)
    return (states, *rest)


def _rollback_cache(config: object) -> DynamicCache:
    """A ``DynamicCache`` whose sliding-window layers (Gemma 3, Mistral, ...) can roll back at any length.

    A sliding-window layer normally keeps only its last ``window - 1`` tokens, so once a sequence is
    longer than the window, dropping tokens from the end would need keys it has already thrown away
    (transformers then refuses to crop). Recording the past keeps every token (the memory of a
    full-attention layer); attention still reads only the window.
    """
    cache = DynamicCache(config=config)
    for layer in cache.layers:
        if isinstance(layer, DynamicSlidingWindowLayer):
            layer.activate_past_recording()
    return cache


def _crop(cache: DynamicCache, drop: int) -> None:
    """Drop the last ``drop`` tokens from every layer."""
    for layer in cache.layers:
        if isinstance(layer, DynamicSlidingWindowLayer) and layer.is_initialized:
            # Its own crop trims the history back to the window, which would break the next rollback.
            DynamicLayer.crop(layer, -drop)
            layer.cumulative_length -= drop
        else:
            layer.crop(-drop)
