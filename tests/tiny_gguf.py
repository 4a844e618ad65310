"""Tiny random Qwen2 GGUF files written in-process: for the pull tests and the llama.cpp backend tests.

F32 tensors, a small byte-level BPE vocabulary, 2 layers of width 32. ``scale`` sets how peaked
the logits are (the default 0.02 gives nearly uniform ones; tests of greedy decoding want clear
argmaxes), ``noise`` perturbs every tensor of the ``seed`` model by that share, so that a draft
is a noisy copy of its verifier.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHAT_TEMPLATE = "{% for m in messages %}<|im_start|>{{ m['content'] }}<|im_end|>{% endfor %}"
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
VOCAB = [*SPECIALS, "Ġ", "ab", "Ġa", *(chr(c) for c in range(ord("a"), ord("z") + 1))]
MERGES = ["a b", "Ġ a"]
# Eight tokens, for exact joint laws over several tokens (8**4 sequences).
SMALL_VOCAB = [*SPECIALS, "a", "b", "ab", "c", "d"]
SMALL_MERGES = ["a b"]
EOS = 2  # <|im_end|>


def write_tiny_gguf(
    path: Path,
    *,
    chat_template: str | None = CHAT_TEMPLATE,
    seed: int = 0,
    scale: float = 0.02,
    noise: float = 0.0,
    noise_seed: int = 1,
    context: int = 128,
    vocab: list[str] = VOCAB,
    merges: list[str] = MERGES,
) -> Path:
    """Write a tiny random Qwen2 GGUF to ``path`` and return it."""
    import gguf

    hidden, layers, ffn, heads, kv_heads = 32, 2, 64, 4, 2
    kv_dim = kv_heads * hidden // heads
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_context_length(context)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(vocab)
    writer.add_token_types([3] * len(SPECIALS) + [1] * (len(vocab) - len(SPECIALS)))
    writer.add_token_merges(merges)
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(EOS)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    rng, perturb = np.random.default_rng(seed), np.random.default_rng(noise_seed)
    for name, shape in _matrix_shapes(len(vocab), hidden, layers, ffn, kv_dim).items():
        weights = rng.standard_normal(shape)
        if noise:
            weights = weights + noise * perturb.standard_normal(shape)
        writer.add_tensor(name, (weights * scale).astype(np.float32))
    norms = ["output_norm.weight"] + [f"blk.{i}.{n}_norm.weight" for i in range(layers) for n in ("attn", "ffn")]
    for name in norms:
        writer.add_tensor(name, np.ones(hidden, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _matrix_shapes(vocab: int, hidden: int, layers: int, ffn: int, kv_dim: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {"token_embd.weight": (vocab, hidden), "output.weight": (vocab, hidden)}
    for i in range(layers):
        shapes |= {
            f"blk.{i}.attn_q.weight": (hidden, hidden),
            f"blk.{i}.attn_q.bias": (hidden,),
            f"blk.{i}.attn_k.weight": (kv_dim, hidden),
            f"blk.{i}.attn_k.bias": (kv_dim,),
            f"blk.{i}.attn_v.weight": (kv_dim, hidden),
            f"blk.{i}.attn_v.bias": (kv_dim,),
            f"blk.{i}.attn_output.weight": (hidden, hidden),
            f"blk.{i}.ffn_gate.weight": (ffn, hidden),
            f"blk.{i}.ffn_up.weight": (ffn, hidden),
            f"blk.{i}.ffn_down.weight": (hidden, ffn),
        }
    return shapes
