"""Choosing a backend per model: ``auto``'s rule, explicit choices, per-role mappings, and typed errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from tiny_models import byte_tokenizer, tiny_model

from verispec import Pipeline
from verispec.errors import ConfigError
from verispec.models import cache, handles
from verispec.models.handles import LLAMA_CPP, TORCH, choose_backend, open_model
from verispec.models.registry import DEFAULT_VERIFIER, get_model


@pytest.fixture
def embedded_entry(cache_dir: Path) -> Path:
    """A cache entry for the default verifier (marker only: nothing is loaded)."""
    entry = cache.model_dir(DEFAULT_VERIFIER)
    entry.mkdir(parents=True)
    cache.write_marker(entry, {})
    return entry


@pytest.fixture
def with_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend llama-cpp-python is installed (choose_backend only asks whether it can be found)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(handles.importlib.util, "find_spec", lambda name: object() if name == "llama_cpp" else real(name))


def test_auto_picks_llama_cpp_for_an_embedded_model_with_its_gguf_on_cpu(embedded_entry, with_llama_cpp):
    assert choose_backend(DEFAULT_VERIFIER, "auto", device="cpu", dtype_given=False) == TORCH  # no GGUF kept yet
    (embedded_entry / get_model(DEFAULT_VERIFIER).gguf_file).write_bytes(b"GGUF")
    assert choose_backend(DEFAULT_VERIFIER, "auto", device="cpu", dtype_given=False) == LLAMA_CPP
    # A torch dtype or a GPU asks for torch; an explicit choice is kept as it is.
    assert choose_backend(DEFAULT_VERIFIER, "auto", device="cpu", dtype_given=True) == TORCH
    assert choose_backend(DEFAULT_VERIFIER, "auto", device="cuda", dtype_given=False) == TORCH
    assert choose_backend(DEFAULT_VERIFIER, "torch", device="cpu", dtype_given=False) == TORCH


def test_auto_picks_llama_cpp_for_a_gguf_path_and_torch_for_a_directory(tmp_path, tiny_model_dir, with_llama_cpp):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    assert choose_backend(str(gguf), "auto", device="cpu", dtype_given=False) == LLAMA_CPP
    assert choose_backend(str(tiny_model_dir), "auto", device="cpu", dtype_given=False) == TORCH


def test_auto_is_torch_without_llama_cpp(tmp_path, monkeypatch):
    monkeypatch.setattr(handles.importlib.util, "find_spec", lambda name: None)
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    assert choose_backend(str(gguf), "auto", device="cpu", dtype_given=False) == TORCH


def test_unknown_backend_and_roles_are_typed_errors():
    with pytest.raises(ConfigError, match="backend must be one of auto, torch, llama.cpp"):
        Pipeline(backend="vllm")
    with pytest.raises(ConfigError, match="backend given for drafter"):
        Pipeline(backend={"drafter": "torch"})


def test_llama_cpp_refuses_models_that_are_not_gguf(tiny_model_dir):
    with pytest.raises(ConfigError, match="runs GGUF files.*--backend torch"):
        open_model(str(tiny_model_dir), backend=LLAMA_CPP, dtype=None, device="cpu")
    with pytest.raises(ConfigError, match="runs on the CPU"):
        open_model(str(tiny_model_dir), backend=LLAMA_CPP, dtype=None, device="cuda")


def test_in_memory_models_run_on_torch():
    tokenizer, model = byte_tokenizer(), tiny_model(0)
    pipe = Pipeline(draft=(model, tokenizer), verifier=(model, tokenizer))
    assert pipe.backend_label() == "torch"
    assert pipe.runtime() == {"backend": "torch", "dtype": "bf16", "device": "cpu"}
    with pytest.raises(ConfigError, match="in memory; it cannot run on llama.cpp"):
        Pipeline(draft=(model, tokenizer), verifier=(model, tokenizer), backend="llama.cpp").backend_of("draft")


def test_a_mixed_pipeline_names_each_roles_backend(tiny_model_dir, tmp_path):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    pipe = Pipeline(draft=str(gguf), verifier=str(tiny_model_dir), backend={"draft": "llama.cpp", "verifier": "torch"})
    assert pipe.backend_label() == "draft=llama.cpp,verifier=torch"
