"""Many sequences of one transformers model, decoded together: one padded forward per decode.

On a CPU with AMX a bf16 forward over 16 sequences of one token costs what one costs (the
weights are read once; docs/batching.md), and on a GPU the same holds for far more. So each
sequence owns a row of a key/value buffer per layer, with its own length; a decode stacks the new
tokens of its sequences, left-padded to the longest, writes each one's keys and values at its own
length, and attends through a mask that shows each query its own sequence's past (and, on
sliding-window layers, only the window). Rolling a sequence back only moves its length: what lies
beyond is masked, and overwritten by the next tokens.

Left padding puts every sequence's last new token in the last column, so the model's own forward
computes logits for the last columns only (soft-capping and scaling included). Inputs of very
different lengths (a prompt beside one-token steps) run as separate forwards, so a step is never
padded to a prompt's length.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers.cache_utils import Cache

from verispec.backends.base import ForwardClock, ForwardOutput
from verispec.backends.sequences import SequenceInput, check_inputs
from verispec.backends.transformers_backend import TransformersBackend
from verispec.errors import ConfigError

_MASKS = {"sdpa", "eager"}  # attention implementations that take our 4-D mask as it is
_LAYER_TYPES = {"full_attention", "sliding_attention"}


@dataclass(frozen=True)
class _Placement:
    """Where one forward's inputs go: rows of the buffers, their lengths before it, their new tokens.

    ``targets`` (buffer row, position) and ``sources`` (input row, column) index every new token, so
    each layer writes its keys with one indexed copy, not one slice per sequence (with 20 sequences
    of a small model those slices were a tenth of a step).
    """

    rows: list[int]
    starts: list[int]
    counts: list[int]
    targets: tuple[torch.Tensor, torch.Tensor]
    sources: tuple[torch.Tensor, torch.Tensor]

    @classmethod
    def of(cls, rows: list[int], starts: list[int], counts: list[int], device: torch.device) -> _Placement:
        width = max(counts)
        token_rows = [i for i, k in enumerate(counts) for _ in range(k)]
        offsets = [j for k in counts for j in range(k)]
        index = functools.partial(torch.tensor, dtype=torch.long, device=device)
        targets = (index([rows[i] for i in token_rows]), index([starts[i] + j for i, j in zip(token_rows, offsets)]))
        sources = (index(token_rows), index([width - counts[i] + j for i, j in zip(token_rows, offsets)]))
        return cls(rows, starts, counts, targets, sources)

    @property
    def span(self) -> int:
        """Key positions the forward attends over: the longest sequence after it."""
        return max(s + k for s, k in zip(self.starts, self.counts, strict=True))

    def write(self, buffer: torch.Tensor, states: torch.Tensor) -> None:
        """Copy each input's new ``states`` ``[n, heads, width, d]`` (left-padded) into its row of ``buffer``."""
        buffer[self.targets[0], :, self.targets[1]] = states[self.sources[0], :, self.sources[1]]

    def select(self, buffer: torch.Tensor) -> torch.Tensor:
        """The placed rows of ``buffer`` up to the span: a view when they are consecutive."""
        first = self.rows[0]
        if self.rows == list(range(first, first + len(self.rows))):
            return buffer[first : first + len(self.rows), :, : self.span]
        return buffer[torch.tensor(self.rows, device=buffer.device), :, : self.span]


class _SlotCache(Cache):
    """Per layer one ``[sequences, kv_heads, capacity, head_dim]`` key and value buffer.

    The model calls :meth:`update` once per layer; the current forward's placement says where each
    input's new keys go. Capacity grows by doubling, up to ``limit`` positions.
    """

    def __init__(self, sequences: int, limit: int) -> None:
        super().__init__(layers=[])
        self.sequences, self.limit = sequences, limit
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.placement: _Placement | None = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args: object,
               **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
        place = self.placement
        assert place is not None, "a forward without a placement"
        keys, values = self._buffers(layer_idx, key_states, place.span)
        place.write(keys, key_states)
        place.write(values, value_states)
        return place.select(keys), place.select(values)

    def _buffers(self, layer: int, like: torch.Tensor, needed: int) -> tuple[torch.Tensor, torch.Tensor]:
        if layer == len(self.keys):
            shape = (self.sequences, like.shape[1], 0, like.shape[3])
            self.keys.append(like.new_zeros(shape))
            self.values.append(like.new_zeros(shape))
        if self.keys[layer].shape[2] < needed:
            capacity = min(self.limit, max(needed, 2 * self.keys[layer].shape[2], 64))
            self.keys[layer] = _grown(self.keys[layer], capacity)
            self.values[layer] = _grown(self.values[layer], capacity)
        return self.keys[layer], self.values[layer]

    def copy_rows(self, source: int, target: int, length: int) -> None:
        for buffer in (*self.keys, *self.values):
            buffer[target, :, :length] = buffer[source, :, :length]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.placement.span if self.placement is not None else 0


def _grown(buffer: torch.Tensor, capacity: int) -> torch.Tensor:
    bigger = buffer.new_zeros((*buffer.shape[:2], capacity, buffer.shape[3]))
    bigger[:, :, : buffer.shape[2]] = buffer
    return bigger


class TorchSequences:
    """Up to ``sequences`` sequences of ``backend``'s model, each up to ``n_ctx`` positions, decoded together.

    ``n_batch`` bounds the tokens of one :meth:`decode` call. The model must use ``sdpa`` or
    ``eager`` attention, with full or sliding-window layers (most decoder-only LMs).
    """

    def __init__(
        self, backend: TransformersBackend, *, sequences: int = 16, n_ctx: int = 4096, n_batch: int = 4096
    ) -> None:
        if not 1 <= sequences <= 256:
            raise ValueError(f"sequences must be 1 to 256, got {sequences}")
        self.backend = backend
        self.model = backend.model
        self._config = self.model.config.get_text_config()
        self._layer_types = frozenset(getattr(self._config, "layer_types", None) or ["full_attention"])
        self._attention = self._check_attention()
        self.sequences = sequences
        self.n_batch = n_batch
        self.max_position = min(n_ctx, backend.max_context)
        self.vocab_size = backend.vocab_size
        self.clock = ForwardClock(_synchronize=backend.device.type == "cuda")
        self._cache = _SlotCache(sequences, self.max_position)
        self._lengths = [0] * sequences

    def _check_attention(self) -> str:
        attention = getattr(self.model.config, "_attn_implementation", None) or "eager"
        if attention not in _MASKS or not self._layer_types <= _LAYER_TYPES:
            raise ConfigError(
                f"{self.backend.name} uses {attention} attention with {sorted(self._layer_types)} layers; batching on "
                "torch needs sdpa or eager attention over full or sliding-window layers: load it with "
                "attn_implementation='sdpa', or generate one request at a time"
            )
        return attention

    def length(self, seq: int) -> int:
        """How many positions sequence ``seq`` holds."""
        return self._lengths[seq]

    @torch.inference_mode()
    def decode(self, inputs: Sequence[SequenceInput], *, hidden: bool = False) -> list[ForwardOutput]:
        """Append every input's tokens to its sequence, in as few padded forwards as their lengths allow."""
        check_inputs(inputs, self)
        outputs: dict[int, ForwardOutput] = {}
        with self.clock.measure(sum(len(i.tokens) for i in inputs)):
            for group in _groups(inputs):
                group.sort(key=lambda i: inputs[i].seq)  # rows in order: the buffers' rows are read as a view
                for index, output in zip(group, self._forward([inputs[i] for i in group], hidden), strict=True):
                    outputs[index] = output
        return [outputs[i] for i in range(len(inputs))]

    def _forward(self, inputs: list[SequenceInput], hidden: bool) -> list[ForwardOutput]:
        device, width = self.backend.device, max(len(i.tokens) for i in inputs)
        place = _Placement.of(
            [i.seq for i in inputs], [self._lengths[i.seq] for i in inputs], [len(i.tokens) for i in inputs], device
        )
        ids = torch.tensor([[0] * (width - len(i.tokens)) + list(i.tokens) for i in inputs], device=device)
        starts = torch.tensor(place.starts, device=device)[:, None]
        padding = width - torch.tensor(place.counts, device=device)[:, None]
        positions = starts + torch.arange(width, device=device) - padding
        keep = max(len(i.tokens) if i.all_logits else 1 for i in inputs)
        self._cache.placement = place
        try:
            out = self.model(
                input_ids=ids, attention_mask=self._masks(positions, starts, place.span),
                position_ids=positions.clamp(min=0), past_key_values=self._cache, use_cache=True,
                logits_to_keep=keep, output_hidden_states=hidden,
            )
        finally:
            self._cache.placement = None
        results = []
        for row, item in enumerate(inputs):
            k = len(item.tokens)
            self._lengths[item.seq] += k
            logits = out.logits[row, keep - k :] if item.all_logits else out.logits[row, -1:]
            results.append(ForwardOutput(logits, out.hidden_states[-1][row, width - k :] if hidden else None))
        return results

    def _masks(
        self, positions: torch.Tensor, starts: torch.Tensor, span: int
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        """``[b, 1, width, span]``: a query sees its sequence's keys up to its own position; padding sees key 0."""
        keys = torch.arange(span, device=positions.device)[None, None, :]
        query = positions[:, :, None]
        padding = query < starts[:, :, None]
        full = (keys <= query) & ~padding | (keys == 0) & padding
        if self._layer_types == {"full_attention"}:
            return self._format(full)
        window = int(self._config.sliding_window)
        sliding = full & ((keys > query - window) | padding)
        return {"full_attention": self._format(full), "sliding_attention": self._format(sliding)}

    def _format(self, allowed: torch.Tensor) -> torch.Tensor:
        allowed = allowed[:, None]
        if self._attention == "sdpa":
            return allowed
        dtype = self.model.dtype
        additive = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
        return additive.masked_fill(~allowed, torch.finfo(dtype).min)

    @torch.inference_mode()
    def fork(self, source: int, target: int, length: int) -> None:
        """Sequence ``target`` becomes a copy of the first ``length`` positions of ``source``."""
        if length > self._lengths[source]:
            raise ValueError(f"sequence {source} holds {self._lengths[source]} positions, not {length}")
        self._cache.copy_rows(source, target, length)
        self._lengths[target] = length

    def truncate(self, seq: int, length: int) -> None:
        """Keep the first ``length`` positions of ``seq`` (0 frees it)."""
        if length > self._lengths[seq]:
            raise ValueError(f"sequence {seq} holds {self._lengths[seq]} positions, cannot keep {length}")
        self._lengths[seq] = length

    def close(self) -> None:
        """Free the key/value buffers (the weights belong to the backend)."""
        self._cache = _SlotCache(self.sequences, self.max_position)
        self._lengths = [0] * self.sequences


def _groups(inputs: Sequence[SequenceInput]) -> list[list[int]]:
    """Input indices in forwards of similar lengths: padding adds at most a quarter to a forward's tokens
    (+16, which short steps may fill for free).

    Shortest first; a long prompt beside one-token steps gets a forward of its own. Twenty prompts of
    40 to 166 tokens read in 5.5 s this way (3 forwards) on the 2-core Xeon with AMX, against 10.7 s
    padded to the longest in one forward and 5.8 s one length class per forward (Qwen2.5-1.5B, bf16).
    """
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i].tokens))
    groups: list[list[int]] = []
    tokens = 0
    for index in order:
        k = len(inputs[index].tokens)
        if groups and (len(groups[-1]) + 1) * k <= 1.25 * (tokens + k) + 16:
            groups[-1].append(index)
            tokens += k
        else:
            groups.append([index])
            tokens = k
    return groups
