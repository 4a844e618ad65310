"""Int8 weights for torch on a CPU: every linear layer as an int8 x int8 product.

A decode step on a CPU is bound by reading the weights: a bf16 step of Qwen2.5-1.5B reads 3 GB. With
int8 weights (one scale per output channel) and each input row quantized when it arrives (one scale
per token), the product runs in integers (oneDNN's kernels: AMX or VNNI where the CPU has them)
over half the bytes; every other operation (norms, attention, the key/value cache) stays in fp32,
and the embedding table is stored in bf16. One scale per token matters: Qwen's feed-forward outputs have tokens with huge
activations, and a scale shared by all the tokens of a call crushed the others (greedy agreement
with fp32 on 12 answered items: 96.8% against 99.4% per token). Per token, a layer's result for one
row does not depend on the rows beside it; upstream fp32 rounding (attention) still differs between a
batch and a lone step, and int8 amplifies it (docs/int8.md). Not lossless with respect to the bf16
model: benchmarks/int8_agreement.py measures how often its choice agrees.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

import torch

from verispec.errors import ConfigError

INT8 = torch.qint8  # the dtype that asks for this scheme (``--dtype int8``)


class Int8Linear(torch.nn.Module):
    """A linear layer with int8 weights (one scale per output channel) and int8 inputs (one per row).

    Where torch has oneDNN (x86 builds), the weight is packed once into oneDNN's own layout; torch's
    generic ``_int_mm`` repacks it on every call, which took twice as long (1.5 ms against 0.8 ms
    for 8 rows through 1,536 x 8,960 weights that were not in the cache).
    """

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.register_buffer("weight_scale", (weight.abs().amax(dim=1) / 127).clamp(min=1e-12))
        quantized = (weight / self.weight_scale[:, None]).round_().clamp_(-127, 127).to(torch.int8).contiguous()
        self.register_buffer("bias", linear.bias.detach().float() if linear.bias is not None else None)
        self._packed = _onednn_pack(quantized)
        # Without oneDNN the plain weight is kept: [out, in], whose transpose is _int_mm's fast layout.
        self.register_buffer("qweight", None if self._packed is not None else quantized)
        self.register_buffer("_zero_points", torch.zeros(self.out_features, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).float()
        scale = rows.abs().amax(dim=-1, keepdim=True).clamp_(min=1e-12) / 127
        quantized = (rows / scale).round_()
        if self._packed is not None:
            # Unsigned with zero point 128 and scale 1: the product is the integer sum times the weight
            # scales, and each row's own scale is applied after (oneDNN takes one input scale per call).
            out = torch.ops.onednn.qlinear_pointwise(
                quantized.add_(128).to(torch.uint8), 1.0, 128, self._packed, self.weight_scale, self._zero_points,
                None, 1.0, 0, torch.float32, "none", [], "",
            ).mul_(scale)
        else:
            out = torch._int_mm(quantized.to(torch.int8), self.qweight.t()).float().mul_(scale * self.weight_scale)
        if self.bias is not None:
            out += self.bias
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per channel and token"


def _onednn_pack(quantized: torch.Tensor) -> torch.Tensor | None:
    """``quantized`` in oneDNN's packed layout, or None where this torch has no oneDNN int8 linear."""
    onednn = getattr(torch.ops, "onednn", None)
    if onednn is None or not hasattr(onednn, "qlinear_prepack") or not torch.backends.mkldnn.is_available():
        return None
    return onednn.qlinear_prepack(quantized, None)


class Bf16Embedding(torch.nn.Module):
    """A plain embedding table kept in bf16 that hands out fp32 rows: half the memory of an fp32 table,
    and exact for the embedded models, whose weights are bf16 to begin with."""

    def __init__(self, embedding: torch.nn.Embedding) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = embedding.num_embeddings, embedding.embedding_dim
        self.padding_idx = embedding.padding_idx
        # A buffer, not a parameter: the model's dtype (read from its first parameter) stays fp32.
        self.register_buffer("weight", embedding.weight.detach().to(torch.bfloat16))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.embedding(ids, self.weight).float()


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Replace every ``nn.Linear`` of ``model`` (fp32, on the CPU) by an :class:`Int8Linear`, in place.

    A plain input embedding table is kept in bf16 (:class:`Bf16Embedding`; subclasses that scale
    their rows, as Gemma's does, stay fp32); a tied output layer gets its own int8 copy.
    """
    if next(model.parameters()).device.type != "cpu":
        raise ConfigError("int8 runs on the CPU; on a GPU use --dtype bf16 or fp16")
    if not hasattr(torch, "_int_mm"):
        raise ConfigError("int8 needs torch._int_mm (torch 2.2 or later): use --dtype bf16")
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(module, child_name, Int8Linear(child))
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if type(embeddings) is torch.nn.Embedding:
        model.set_input_embeddings(Bf16Embedding(embeddings))
    _return_freed_memory()
    return model


def _return_freed_memory() -> None:
    """Hand the freed fp32 weights back to the system: glibc keeps freed memory for reuse, and after
    quantizing the Qwen pair that was 1.7 GB of resident memory (5.0 GB, 3.3 GB after trimming)."""
    gc.collect()
    libc = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
    if trim is not None:
        trim(0)


def is_int8(model: torch.nn.Module) -> bool:
    """Whether ``model``'s linear layers run in int8 (:func:`quantize_int8`)."""
    return any(isinstance(m, Int8Linear) for m in model.modules())
