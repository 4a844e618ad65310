"""Many sequences in one llama.cpp context: one decode call advances all of them.

Decoding one token for 16 sequences costs a CPU far less than 16 single steps, because the
weights are read once: 240-270 ms against 31 ms for one token of the 1.5B verifier on the 2-core
development machine, about twice the tokens per second of one sequence. This context holds up to ``sequences`` sequence ids in one unified KV cache, so a sequence
can *fork* another's first positions without copying them (the cells just gain a sequence id):
rollouts that branch from one answer share its prompt and prefix.

It borrows the weights of a :class:`LlamaCppBackend` (a second context on the same model).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from verispec.backends.base import ForwardClock, ForwardOutput
from verispec.backends.llamacpp_backend import LlamaCppBackend, _rows
from verispec.backends.sequences import SequenceInput, check_inputs

MAX_SEQUENCES = 256  # llama.cpp's LLAMA_MAX_SEQ


class LlamaCppSequences:
    """Up to ``sequences`` sequences of one GGUF model, decoded together.

    ``n_ctx`` cells are shared by all sequences (a forked prefix counts once); ``n_batch`` bounds
    the tokens of one :meth:`decode` call.
    """

    def __init__(self, backend: LlamaCppBackend, *, sequences: int = 16, n_ctx: int = 16384, n_batch: int = 4096) -> None:
        if not 1 <= sequences <= MAX_SEQUENCES:
            raise ValueError(f"sequences must be 1 to {MAX_SEQUENCES}, got {sequences}")
        self.backend = backend  # keeps the weights alive
        lib = self._lib = backend._lib
        params = lib.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_seq_max = n_ctx, min(n_batch, n_ctx), sequences
        params.n_threads = params.n_threads_batch = backend.n_threads
        params.kv_unified = True  # forks share cells instead of copying them between streams
        params.embeddings = False
        params.pooling_type = lib.LLAMA_POOLING_TYPE_NONE
        params.no_perf = True
        self._ctx = lib.llama_init_from_model(backend._model, params)
        if not self._ctx:
            raise RuntimeError(f"llama.cpp could not create a {n_ctx}-cell context for {sequences} sequences of {backend.name}")
        self._memory = lib.llama_get_memory(self._ctx)
        self.n_batch = int(lib.llama_n_batch(self._ctx))
        self._batch = lib.llama_batch_init(self.n_batch, 0, 1)
        self.sequences = sequences
        self.max_position = min(n_ctx, backend.max_context)  # no sequence grows past the model's context
        self.vocab_size = backend.vocab_size
        self.clock = ForwardClock()
        self._lengths = [0] * sequences
        self._embeddings = False

    def length(self, seq: int) -> int:
        """How many positions sequence ``seq`` holds."""
        return self._lengths[seq]

    def decode(self, inputs: Sequence[SequenceInput], *, hidden: bool = False) -> list[ForwardOutput]:
        """One ``llama_decode`` over every input's tokens, each appended to its sequence.

        Returns per input its logits (``[k, V]`` or ``[1, V]``) and with ``hidden`` the final-norm
        hidden states of its new positions (llama.cpp then computes every position's logits too).
        """
        lib, batch = self._lib, self._batch
        check_inputs(inputs, self)
        spans: list[tuple[int, int]] = []  # (first output row, rows) per input
        n = rows = 0
        for item in inputs:
            k, start, every = len(item.tokens), self._lengths[item.seq], hidden or item.all_logits
            for j, token in enumerate(item.tokens):
                batch.token[n], batch.pos[n], batch.n_seq_id[n] = token, start + j, 1
                batch.seq_id[n][0] = item.seq
                batch.logits[n] = every or j == k - 1
                n += 1
            spans.append((rows, k if every else 1))
            rows += spans[-1][1]
        batch.n_tokens = n
        if hidden != self._embeddings:
            lib.llama_set_embeddings(self._ctx, hidden)
            self._embeddings = hidden
        with self.clock.measure(n):
            status = lib.llama_decode(self._ctx, batch)
            if status != 0:
                for item in inputs:  # drop whatever part of the batch the cache took
                    lib.llama_memory_seq_rm(self._memory, item.seq, self._lengths[item.seq], -1)
                raise RuntimeError(f"llama_decode failed with status {status} on {n} tokens of {len(inputs)} sequences")
            logits = _rows(lib.llama_get_logits(self._ctx), rows, self.vocab_size)
            states = _rows(lib.llama_get_embeddings(self._ctx), rows, self.backend.hidden_size) if hidden else None
        outputs = []
        for item, (first, count) in zip(inputs, spans):
            self._lengths[item.seq] += len(item.tokens)
            mine = slice(first, first + count)
            kept = logits[mine] if item.all_logits else logits[first + count - 1 : first + count]
            outputs.append(ForwardOutput(kept, states[mine] if states is not None else None))
        return outputs

    def fork(self, source: int, target: int, length: int) -> None:
        """Sequence ``target`` becomes the first ``length`` positions of ``source`` (shared cells, no copy)."""
        if length > self._lengths[source]:
            raise ValueError(f"sequence {source} holds {self._lengths[source]} positions, not {length}")
        self.truncate(target, 0)
        self._lib.llama_memory_seq_cp(self._memory, source, target, 0, length)
        self._lengths[target] = length

    def truncate(self, seq: int, length: int) -> None:
        """Keep the first ``length`` positions of ``seq`` (0 frees it)."""
        if length > self._lengths[seq]:
            raise ValueError(f"sequence {seq} holds {self._lengths[seq]} positions, cannot keep {length}")
        if not self._lib.llama_memory_seq_rm(self._memory, seq, length, -1):
            raise RuntimeError(f"llama.cpp cannot truncate sequence {seq} to {length}")
        self._lengths[seq] = length

    def close(self) -> None:
        """Free the context and batch (the weights belong to the backend)."""
        if self._batch is not None:
            self._lib.llama_batch_free(self._batch)
        if self._ctx:
            self._lib.llama_free(self._ctx)
        self._ctx = self._batch = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: llama_cpp may be gone already
            self.close()
