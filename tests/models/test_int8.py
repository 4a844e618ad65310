"""Int8 linear layers: close to the fp32 layer they replace, and a whole model that still decodes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from tiny_models import tiny_model

from verispec.backends.sequences import SequenceInput
from verispec.backends.torch_sequences import TorchSequences
from verispec.backends.transformers_backend import TransformersBackend
from verispec.models import load_model
from verispec.models.int8 import INT8, Bf16Embedding, Int8Linear, is_int8, quantize_int8
from verispec.pipeline import DTYPES


def test_int8_linear_stays_within_the_quantization_error() -> None:
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 48)
    layer = Int8Linear(linear)
    x = torch.randn(2, 7, 64)
    x[0, 3] *= 100  # a token with huge activations must not crush the others' precision
    exact = linear(x)
    error = (layer(x) - exact).abs()
    assert layer(x).shape == (2, 7, 48)
    # Weights round to 1/254 of their row's range, each token to 1/254 of its own range.
    assert error.max() > 0  # it really is quantized
    assert (error / exact.abs().amax(dim=-1, keepdim=True)).max() < 0.05


def test_int8_linear_gives_the_same_result_without_onednn(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(1)
    linear = torch.nn.Linear(32, 16)
    packed = Int8Linear(linear)
    monkeypatch.setattr("verispec.models.int8._onednn_pack", lambda quantized: None)
    plain = Int8Linear(linear)
    assert plain.qweight is not None and (packed.qweight is None) == torch.backends.mkldnn.is_available()
    x = torch.randn(5, 32)
    torch.testing.assert_close(plain(x), packed(x), atol=1e-5, rtol=1e-5)


def test_quantized_model_replaces_every_linear_and_keeps_its_logits_close() -> None:
    model = tiny_model(0, hidden=64, sharpness=4.0)
    int8 = quantize_int8(copy.deepcopy(model))
    assert is_int8(int8) and not is_int8(model)
    assert not any(isinstance(m, torch.nn.Linear) for m in int8.modules())
    ids = torch.randint(0, 256, (1, 64))
    with torch.inference_mode():
        exact, quantized = model(ids).logits[0], int8(ids).logits[0]
    # Random weights have no structure for int8 to keep, so ask for close logits, not equal choices
    # (real models: benchmarks/int8_agreement.py); a broken layer would give unrelated logits.
    assert _correlation(exact, quantized) > 0.95
    assert (exact.argmax(-1) == quantized.argmax(-1)).float().mean() >= 0.7


def test_backend_on_an_int8_model_decodes_with_its_cache_and_keeps_the_full_head() -> None:
    model = quantize_int8(tiny_model(1, hidden=64))
    backend = TransformersBackend(model)
    assert backend.vocab_size == 257
    assert backend.precision().startswith("int8")
    assert not backend.restrict_vocabulary(torch.arange(10))  # the int8 head is used whole
    whole = backend.forward(list(range(20))).logits
    backend.reset()
    backend.forward(list(range(12)))
    stepped = backend.forward(list(range(12, 20))).logits
    # Each token is quantized on its own and the int8 sums are exact, so splitting a forward changes
    # only fp32 rounding elsewhere (attention, norms).
    torch.testing.assert_close(whole[12:], stepped, atol=1e-4, rtol=1e-4)


def test_int8_model_in_a_padded_batch_decodes_as_it_does_alone() -> None:
    """Per-token scales: a sequence's neighbours (and the padding) do not move its linear layers' rounding
    (on a real model, fp32 differences in attention still cross rounding boundaries: docs/int8.md)."""
    model = quantize_int8(tiny_model(2, hidden=64))
    sequences = TorchSequences(TransformersBackend(model), sequences=2, n_ctx=64, n_batch=64)
    batched = sequences.decode([SequenceInput(0, [5, 6, 7, 8]), SequenceInput(1, [40, 41])])
    lone = TransformersBackend(model).forward([5, 6, 7, 8], last_only=True).logits
    torch.testing.assert_close(batched[0].logits[-1], lone[-1], atol=1e-4, rtol=1e-4)


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])


def test_load_model_with_int8(tiny_model_dir: Path) -> None:
    assert DTYPES["int8"] is INT8
    loaded = load_model(str(tiny_model_dir), dtype=INT8)
    assert loaded.dtype == INT8 and is_int8(loaded.model)
    assert loaded.model.dtype == torch.float32  # norms; the model computes in fp32
    table = loaded.model.get_input_embeddings()
    assert isinstance(table, Bf16Embedding) and table.weight.dtype == torch.bfloat16
    assert table(torch.tensor([[1, 2]])).dtype == torch.float32


def test_an_embedding_that_scales_its_rows_stays_as_it_is() -> None:
    class Scaled(torch.nn.Embedding):
        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return super().forward(ids) * 2.0

    model = tiny_model(3, hidden=64)
    model.set_input_embeddings(Scaled(257, 64))
    assert type(quantize_int8(model).get_input_embeddings()) is Scaled
