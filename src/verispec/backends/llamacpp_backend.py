"""Model backend for GGUF models run by llama.cpp (through ``llama-cpp-python``'s low-level API).

On a CPU, llama.cpp's quantized kernels decode one token several times faster than torch in bf16,
so a llama.cpp verifier or drafter is the fast path on machines without a GPU. The backend drives
one ``llama_context`` with one sequence (id 0) and the raw batch API, so that a forward over k new
tokens is ONE ``llama_decode`` that computes logits only at the positions asked for.

``llama_cpp`` is imported when a backend is created, never when ``verispec`` is imported.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from verispec.backends.base import ForwardClock, ForwardOutput, ModelBackend, ModelIdentity
from verispec.errors import ModelNotFoundError, ModelNotPulledError
from verispec.tokens import common_prefix_length

DEFAULT_CONTEXT = 4096
_SEQ = 0  # the one sequence this backend decodes


def embedded_gguf(name: str) -> Path:
    """The GGUF file of the embedded model ``name`` in the verispec cache.

    ``verispec models pull`` keeps it only with ``--keep-gguf``; raises ModelNotPulledError
    (saying so) when it is not there.
    """
    from verispec.models import cache
    from verispec.models.registry import get_model

    path = cache.model_dir(name) / get_model(name).gguf_file
    if not path.is_file():
        raise ModelNotPulledError(
            f"the GGUF file of {name} is not in the cache ({path}): run "
            f"`verispec models pull --keep-gguf {name}`"
        )
    return path


def import_llama_cpp() -> Any:
    """``llama_cpp`` with a CPU backend registered (a ModuleNotFoundError names the package).

    A build with ``GGML_BACKEND_DL=ON`` (the runtime-dispatched CPU variants) registers no backend
    by itself: ggml must load the best ``libggml-cpu-*.so`` it finds. llama-cpp-python installs
    them next to its own libraries, which is not where ggml looks by default (the directory of the
    python executable and the current directory), so point ggml there. The call must reach the
    libggml that libllama itself uses: the wheel holds ``libggml.so`` and ``libggml.so.0`` as two
    copies, and opening the first by path (as ``llama_cpp._ggml`` does) would load a second ggml
    with its own, separate backend registry.
    """
    try:
        import llama_cpp
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            "the llama.cpp backend needs llama-cpp-python: run `make llama-cpp` "
            "(or `pip install llama-cpp-python==0.3.36`)"
        ) from err
    log = logging.getLogger("llama-cpp-python")  # NOTSET prints every line of llama.cpp's log
    if log.level == logging.NOTSET:
        log.setLevel(logging.CRITICAL)
    bindings = llama_cpp.llama_cpp
    libllama = bindings._lib  # symbols looked up here resolve in libllama's own libggml
    count = libllama.ggml_backend_reg_count
    count.restype = ctypes.c_size_t
    if count() == 0 and hasattr(libllama, "ggml_backend_load_all_from_path"):
        libllama.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
        libllama.ggml_backend_load_all_from_path(str(bindings._base_path).encode())
        if count() == 0:
            raise RuntimeError(f"ggml found no CPU backend it can run in {bindings._base_path}")
    return llama_cpp


def llama_cpp_version() -> str:
    """The installed llama-cpp-python version (its vendored llama.cpp goes with it)."""
    from importlib.metadata import version

    return version("llama-cpp-python")


def cpu_variant() -> str:
    """Which CPU kernels llama.cpp runs, e.g. ``libggml-cpu-zen4.so: CPU : ... AVX512_BF16 = 1 | ...``.

    The features line is ``llama_print_system_info()``; a runtime-dispatched build also names the
    ``libggml-cpu-*`` variant ggml picked (read from the process's memory map, Linux only).
    """
    llama_cpp = import_llama_cpp()
    features = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return features
    loaded = sorted({line.rsplit("/", 1)[-1] for line in maps.splitlines() if "/libggml-cpu-" in line})
    return f"{', '.join(loaded)}: {features}" if loaded else features


class LlamaCppBackend(ModelBackend):
    """A GGUF model in one llama.cpp context (batch size 1, CPU).

    ``n_ctx`` is the context (KV cache) size, capped by the model's training context; it is also
    the batch size, so any ``forward`` (a long prompt included) is a single decode. ``n_threads``
    defaults to torch's thread count, so one setting governs both runtimes. ``flash_attn`` None
    leaves llama.cpp's choice (auto: on for the CPU); it changes the logits in the last bits.

    ``prefix_cache``: ``reset`` keeps the cache, and the next sequence's first forward (a prompt,
    asking for its last logits only) decodes only what differs from the previous sequence's
    tokens. Prompts that share a chat template's system text or a few-shot preamble then skip
    most of their prefill, as llama.cpp's server and ``Llama.generate`` do.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        name: str | None = None,
        n_ctx: int = DEFAULT_CONTEXT,
        n_threads: int | None = None,
        flash_attn: bool | None = None,
        prefix_cache: bool = True,
        verbose: bool = False,
    ) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise ModelNotFoundError(f"no GGUF file at {path}")
        self._lib = lib = import_llama_cpp()
        # llama-cpp-python prints llama.cpp's log through this logger (level NOTSET: everything).
        # Its table maps ggml's WARN to logging.ERROR (ggml renumbered its levels), so only
        # CRITICAL silences the load-time warnings; failures still raise here.
        logging.getLogger("llama-cpp-python").setLevel(logging.DEBUG if verbose else logging.CRITICAL)
        self._model = self._ctx = self._batch = None

        model_params = lib.llama_model_default_params()
        self._model = lib.llama_model_load_from_file(str(path).encode(), model_params)
        if not self._model:
            raise ModelNotFoundError(f"llama.cpp could not load {path} (not a GGUF model it supports)")

        train_context = int(lib.llama_model_n_ctx_train(self._model))
        self.max_context = min(n_ctx, train_context) if train_context > 0 else n_ctx
        threads = n_threads or torch.get_num_threads() or os.cpu_count() or 1
        params = lib.llama_context_default_params()
        params.n_ctx = params.n_batch = self.max_context
        params.n_threads = params.n_threads_batch = threads
        # Per-token hidden states (no pooling); switched on per call by forward(hidden=True).
        params.embeddings = False
        params.pooling_type = lib.LLAMA_POOLING_TYPE_NONE
        params.no_perf = True
        if flash_attn is not None:  # None: llama.cpp decides (on for CPU); Llama() defaults to off
            on, off = lib.LLAMA_FLASH_ATTN_TYPE_ENABLED, lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
            params.flash_attn_type = on if flash_attn else off
        self._ctx = lib.llama_init_from_model(self._model, params)
        if not self._ctx:
            raise RuntimeError(f"llama.cpp could not create a {self.max_context}-token context for {path}")
        self._memory = lib.llama_get_memory(self._ctx)
        self._batch = lib.llama_batch_init(self.max_context, 0, 1)
        self._embeddings = False

        self.name = name or path.stem
        self.path = path
        self.n_threads = threads
        self.device = torch.device("cpu")
        self.vocab_size = int(lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(self._model)))
        self.clock = ForwardClock()
        self._layers = int(lib.llama_model_n_layer(self._model))
        self._hidden = int(lib.llama_model_n_embd_out(self._model))
        self.prefix_cache = prefix_cache
        self._length = 0
        self._tokens: list[int] = []  # what the cache holds, position by position; beyond _length only after reset

    @classmethod
    def embedded(cls, name: str, **kwargs: Any) -> LlamaCppBackend:
        """The embedded model ``name`` (pulled with ``--keep-gguf``), named as the registry names it."""
        return cls(embedded_gguf(name), name=name, **kwargs)

    @property
    def cached_length(self) -> int:
        return self._length

    @property
    def hidden_size(self) -> int:
        return self._hidden

    def identity(self) -> ModelIdentity:
        """Read from the GGUF header (n_vocab, n_embd, n_layer), as llama.cpp loaded it."""
        return ModelIdentity(self.name, self.vocab_size, self._hidden, self._layers)

    def precision(self) -> str:
        """The GGUF file holds the quantization (Q4_K_M etc.); llama.cpp computes from it."""
        return f"gguf:{self.path.name}"

    def tokenize(self, text: str) -> list[int]:
        """llama.cpp's own token ids for ``text`` (no BOS; special tokens parsed), to check a tokenizer against."""
        lib, data = self._lib, text.encode()
        vocab = lib.llama_model_get_vocab(self._model)
        size = len(data) + 8  # never more tokens than bytes
        buffer = (lib.llama_token * size)()
        count = lib.llama_tokenize(vocab, data, len(data), buffer, size, False, True)
        if count < 0:
            raise RuntimeError(f"llama.cpp needs {-count} tokens for {len(data)} bytes")
        return list(buffer[:count])

    def forward(self, tokens: Sequence[int], *, last_only: bool = False, hidden: bool = False) -> ForwardOutput:
        """One ``llama_decode`` over ``tokens``: logits ``[k, V]`` (``[1, V]`` with ``last_only``).

        With ``hidden`` the context outputs embeddings too: llama.cpp then returns the final-norm
        hidden state (what the output layer reads, like transformers' last ``hidden_states``) of
        every new position, ``[k, d]`` even with ``last_only`` as the transformers backend does.
        In that mode llama.cpp computes the logits of every position as well.
        """
        lib = self._lib
        if not tokens:
            raise ValueError("forward needs at least one token")
        if len(self._tokens) > self._length:  # a new sequence after reset: reuse what it shares
            reusable = self.prefix_cache and last_only and not hidden
            self._drop_beyond(self._reused_prefix(tokens) if reusable else 0)
            tokens = tokens[self._length :]
        k = len(tokens)
        if self._length + k > self.max_context:
            raise ValueError(
                f"{self._length} cached + {k} new tokens exceed the {self.max_context}-token context"
            )
        batch = self._batch
        batch.n_tokens = k
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = self._length + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = _SEQ
            batch.logits[i] = not last_only or i == k - 1
        if hidden != self._embeddings:
            lib.llama_set_embeddings(self._ctx, hidden)
            self._embeddings = hidden
        with self.clock.measure(k):
            status = lib.llama_decode(self._ctx, batch)
            if status != 0:
                # The cache may hold part of the batch now; drop it so cached_length stays true.
                lib.llama_memory_seq_rm(self._memory, _SEQ, self._length, -1)
                raise RuntimeError(f"llama_decode failed with status {status} on {k} tokens")
            if last_only:
                logits = _rows(lib.llama_get_logits_ith(self._ctx, k - 1), 1, self.vocab_size)
            else:
                logits = _rows(lib.llama_get_logits(self._ctx), k, self.vocab_size)
            states = _rows(lib.llama_get_embeddings(self._ctx), k, self._hidden) if hidden else None
        self._length += k
        self._tokens.extend(tokens)
        return ForwardOutput(logits=logits, hidden=states)

    def _reused_prefix(self, tokens: Sequence[int]) -> int:
        """How many leading ``tokens`` the cache holds already; the last is always decoded for its logits."""
        shared = common_prefix_length(self._tokens, tokens)
        return min(shared, len(tokens) - 1)

    def _drop_beyond(self, length: int) -> None:
        """Keep the cache's first ``length`` positions only."""
        if length < len(self._tokens):
            if not self._lib.llama_memory_seq_rm(self._memory, _SEQ, length, -1):
                raise RuntimeError(f"llama.cpp cannot drop the cache of {self.name} beyond {length} tokens")
            del self._tokens[length:]
        self._length = length

    def rollback(self, length: int) -> None:
        if length > self._length:
            raise ValueError(f"cannot roll back to {length}: only {self._length} tokens are cached")
        if length < self._length:  # equal: nothing to drop (a kept previous sequence stays reusable)
            self._drop_beyond(length)

    def reset(self) -> None:
        """Start a new sequence; the cache is kept for the next prompt to reuse (see ``prefix_cache``)."""
        if not self.prefix_cache:
            self.clear_prefix_cache()
        self._length = 0

    def clear_prefix_cache(self) -> None:
        self._lib.llama_memory_clear(self._memory, True)
        self._tokens.clear()
        self._length = 0

    def close(self) -> None:
        """Free the context, batch and weights now (also done when the backend is collected)."""
        lib = getattr(self, "_lib", None)
        if lib is None:
            return
        if self._batch is not None:
            lib.llama_batch_free(self._batch)
        if self._ctx:
            lib.llama_free(self._ctx)
        if self._model:
            lib.llama_model_free(self._model)
        self._model = self._ctx = self._batch = None

    def __del__(self) -> None:
        # At interpreter shutdown llama_cpp may be torn down already; nothing is left to free then.
        with contextlib.suppress(Exception):
            self.close()


def _rows(pointer: Any, rows: int, width: int) -> torch.Tensor:
    """Copy ``rows x width`` floats that llama.cpp owns (valid until the next decode) into torch."""
    if not pointer:
        raise RuntimeError("llama.cpp returned no output for this decode")
    return torch.from_numpy(np.ctypeslib.as_array(pointer, shape=(rows, width)).copy())
