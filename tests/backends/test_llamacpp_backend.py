"""The llama.cpp backend against itself and against llama-cpp-python's own high-level API.

Needs ``llama-cpp-python`` (``make llama-cpp``) and the GGUF files of the Qwen pair in the cache
(``verispec models pull --keep-gguf``); each test is skipped, saying which, when either is missing.
The checks: rolling back gives the logits of a fresh decode; k tokens at once give what k single
tokens give; greedy decoding through the backend writes what ``Llama.generate`` writes; hidden
states are per token and do not depend on how tokens are batched; the Hugging Face tokenizer that
the pipeline uses and llama.cpp's tokenizer give the same ids.
"""

from __future__ import annotations

import ctypes
import os
import random
import subprocess
import sys

import pytest
import torch

from verispec.backends.llamacpp_backend import LlamaCppBackend, embedded_gguf, import_llama_cpp
from verispec.errors import ModelNotPulledError
from verispec.models import cache
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER

THREADS = os.cpu_count() or 1
GREEDY_TOKENS = 64
PROMPTS = [
    "Write a Python function `is_palindrome(s)` that ignores case and non-letters.",
    "A baker makes 24 muffins and sells them in boxes of 4. Each box costs $6. How much money does he make?",
    "Give three tips for writing a clear email to a busy colleague.",
]


def gguf_or_skip(name: str):
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (`make llama-cpp`)")
    try:
        return embedded_gguf(name)
    except ModelNotPulledError as err:
        pytest.skip(str(err))


def hf_tokenizer(name: str):
    """The tokenizer the pipeline uses for an embedded model (as ``verispec.models.loading`` loads it)."""
    from transformers import AutoTokenizer

    path = cache.model_dir(name)
    if not cache.is_complete(path):
        pytest.skip(f"needs `verispec models pull {name}`")
    return AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def backend():
    path = gguf_or_skip(DEFAULT_VERIFIER)
    made = LlamaCppBackend(path, name=DEFAULT_VERIFIER, n_threads=THREADS, flash_attn=True)
    yield made
    made.close()


@pytest.fixture(scope="module")
def chat_prompts():
    tokenizer = hf_tokenizer(DEFAULT_VERIFIER)
    return [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True)["input_ids"]
        for p in PROMPTS
    ]


def greedy(backend, prompt: list[int], count: int) -> list[int]:
    """``count`` greedy tokens after ``prompt``, one forward per token (prompt in one forward)."""
    backend.reset()
    logits = backend.forward(prompt, last_only=True).logits[-1]
    out = []
    for _ in range(count):
        out.append(int(logits.argmax()))
        logits = backend.forward(out[-1:], last_only=True).logits[-1]
    return out


def margin(logits: torch.Tensor) -> float:
    top = torch.topk(logits, 2).values
    return float(top[0] - top[1])


def test_importing_verispec_does_not_import_llama_cpp():
    code = (
        "import sys, verispec, verispec.backends, verispec.backends.llamacpp_backend\n"
        "assert 'llama_cpp' not in sys.modules, 'llama_cpp imported'\n"
        "assert verispec.backends.__all__.count('LlamaCppBackend') == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.integration
def test_shape_identity_clock_and_errors(backend):
    backend.reset()
    before = backend.clock.count
    out = backend.forward([9707, 11, 1879], last_only=True)
    assert out.logits.shape == (1, backend.vocab_size) and out.logits.dtype == torch.float32
    assert out.hidden is None
    out = backend.forward([0, 1], hidden=True, last_only=True)
    assert out.logits.shape == (1, backend.vocab_size)
    assert out.hidden.shape == (2, backend.hidden_size)  # every new position, like the transformers backend
    assert backend.clock.count == before + 2 and set(backend.clock.by_length) >= {2, 3}
    assert backend.cached_length == 5
    identity = backend.identity()
    assert (identity.name, identity.vocab_size, identity.hidden_size, identity.layers) == (
        DEFAULT_VERIFIER, 151936, 1536, 28,
    )
    assert backend.max_context == 4096 and backend.device == torch.device("cpu")
    with pytest.raises(ValueError, match="cannot roll back"):
        backend.rollback(6)
    with pytest.raises(ValueError, match="exceed"):
        backend.forward([0] * backend.max_context)
    assert backend.cached_length == 5


@pytest.mark.integration
def test_rollback_then_extend_matches_a_fresh_decode(backend, chat_prompts):
    prompt = chat_prompts[0]
    continuation = greedy(backend, prompt, 8)
    rejected = [continuation[0], 1234, 5678, 91011]
    accepted = continuation[1:8]
    backend.reset()
    backend.forward(prompt)
    backend.forward(rejected)
    backend.rollback(len(prompt))  # drop the whole draft
    assert backend.cached_length == len(prompt)
    after = backend.forward(accepted).logits
    backend.reset()
    backend.forward(prompt)
    fresh = backend.forward(accepted).logits
    # Same tokens in the same batches: the dropped entries leave no trace at all.
    assert torch.equal(after, fresh)

    backend.forward(rejected)
    backend.rollback(len(prompt) + len(accepted) + 1)  # keep the first drafted token, drop three
    after = backend.forward(accepted).logits
    backend.reset()
    fresh = backend.forward(prompt + accepted + rejected[:1] + accepted).logits[-len(accepted):]
    # Batched differently (one decode of everything): llama.cpp's kernels depend on the batch
    # size (quantized activations, other matmul paths), so only the argmax must agree.
    diff = float((after - fresh).abs().max())
    print(f"rollback vs one-batch fresh decode: max |logit diff| {diff:.3e} over {len(accepted)} positions")
    assert torch.equal(after.argmax(-1), fresh.argmax(-1))
    assert diff < 1.0


@pytest.mark.integration
def test_k_tokens_at_once_give_the_argmax_of_one_at_a_time(backend, chat_prompts):
    prompt, k = chat_prompts[1], 16
    block = greedy(backend, prompt, k)
    backend.reset()
    backend.forward(prompt)
    at_once = backend.forward(block).logits
    backend.reset()
    backend.forward(prompt)
    single = torch.cat([backend.forward([t]).logits for t in block])
    assert at_once.shape == single.shape == (k, backend.vocab_size)
    differ = [
        f"position {i}: {int(at_once[i].argmax())} vs {int(single[i].argmax())}, margin {margin(single[i]):.3f}"
        for i in range(k)
        if at_once[i].argmax() != single[i].argmax()
    ]
    diff = float((at_once - single).abs().max())
    print(f"k={k} at once vs one at a time: max |logit diff| {diff:.3e}; argmax differs at {differ or 'no position'}")
    assert not differ
    # The greedy tokens were chosen one at a time, so they are the argmax of the single-token logits.
    assert single.argmax(-1).tolist()[:-1] == block[1:]


@pytest.mark.integration
def test_greedy_decoding_equals_llama_generate(backend, chat_prompts):
    # Same settings as the backend: Llama() turns flash attention off by default, and with it off
    # on one side the 1.5B picks another token at a near-tie (top-2 margin 0.17) after 33 tokens.
    reference = import_llama_cpp().Llama(
        str(backend.path), n_ctx=1024, n_threads=THREADS, n_threads_batch=THREADS, flash_attn=True, verbose=False
    )
    try:
        for prompt in chat_prompts:
            expected = []
            for token in reference.generate(prompt, top_k=1, temp=0.0, repeat_penalty=1.0):
                expected.append(token)
                if len(expected) == GREEDY_TOKENS:
                    break
            got = greedy(backend, prompt, GREEDY_TOKENS)
            first = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), None)
            assert got == expected, f"first difference at token {first}: {got[first:][:4]} vs {expected[first:][:4]}"
    finally:
        reference.close()


@pytest.mark.integration
def test_hidden_states_do_not_depend_on_batching(backend, chat_prompts):
    prompt, k = chat_prompts[2], 8
    block = greedy(backend, prompt, k)
    backend.reset()
    backend.forward(prompt)
    plain = backend.forward(block).logits
    backend.rollback(len(prompt))
    out = backend.forward(block, hidden=True)
    assert out.hidden.shape == (k, backend.hidden_size) and out.hidden.dtype == torch.float32
    assert torch.isfinite(out.hidden).all()
    # Switching embeddings on changes what is copied out, not what is computed.
    assert torch.equal(out.logits, plain)
    backend.rollback(len(prompt))
    single = torch.cat([backend.forward([t], hidden=True).hidden for t in block])
    diff = float((out.hidden - single).abs().max())
    scale = float(single.abs().max())
    relative = float(((out.hidden - single).norm(dim=-1) / single.norm(dim=-1)).max())
    print(f"hidden k={k} at once vs one at a time: max |diff| {diff:.3e} (max |h| {scale:.1f}), "
          f"worst row relative {relative:.2e}")
    assert relative < 0.05
    assert torch.allclose(out.hidden, single, rtol=1e-2, atol=1e-2 * scale)


def tokenizer_strings() -> list[str]:
    """About two hundred strings where byte-level BPE tokenizers tend to disagree."""
    base = [
        "def f(x):\n    return x ** 2  # square\n",
        "for (int i = 0; i < n; ++i) { sum += a[i]; }",
        "const add = (a, b) => a + b;\n\nconsole.log(add(1, 2));",
        "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;",
        "<div class=\"x\">&nbsp;</div>",
        "    indented\tand\ttabbed\r\nline",
        "trailing spaces   ",
        "\n\n\n",
        "   ",
        " leading space",
        "a  b   c    d",
        "12345678901234567890",
        "3.14159 2.71828 -0.5 1e-9 0x1F 1_000_000",
        "$1,234.56 and 99% of 7/8",
        "2024-01-31T23:59:59Z",
        "你好，世界！今天天气很好。",
        "日本語のテキストとカタカナ、ひらがな。",
        "한국어 문장입니다.",
        "混合 mixed 文本 text 123",
        "😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇯🇵 ❤️",
        "emoji in code: print('🎉')",
        "café naïve résumé Ångström",
        "Привет, мир! Ελληνικά",
        "مرحبا بالعالم שלום עולם",
        "∀x ∈ ℝ: x² ≥ 0 ⇒ √(x²) = |x|",
        "https://example.com/path?query=1&b=two#frag",
        "user@example.org",
        "I'm, you're, they'll, we'd, it's, ISN'T",
        "CamelCaseIdentifier snake_case_identifier kebab-case",
        "!!!???...,,,;;;",
        "\u200b zero\u200bwidth \u00a0nbsp",
        "ﬁ ligature and ｆｕｌｌｗｉｄｔｈ",
        "Tab\tseparated\tvalues\t1\t2",
        "A baker makes 24 muffins and sells them in boxes of 4.",
        "<|im_start|>user\nhello<|im_end|>",
    ]
    rng = random.Random(0)
    mixed = [rng.choice(base) + rng.choice(["", " ", "\n", "\t", "  "]) + rng.choice(base) for _ in range(130)]
    pieces = [" ", "\n", "x", "1", "你", "😀", "é", "  ", "_", ".", "\t", "A", "ß", "0"]
    noise = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 24))) for _ in range(40)]
    return base + mixed + noise


@pytest.mark.integration
@pytest.mark.parametrize("name", [DEFAULT_DRAFT, DEFAULT_VERIFIER])
def test_hugging_face_and_llama_cpp_tokenizers_agree(name):
    path = gguf_or_skip(name)
    llama_cpp = import_llama_cpp()
    tokenizer = hf_tokenizer(name)
    vocab_only = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    try:
        strings = tokenizer_strings()
        mismatches = []
        for text in strings:
            expected = tokenizer(text, add_special_tokens=False).input_ids
            got = vocab_only.tokenize(text.encode(), add_bos=False, special=True)
            if got != expected:
                mismatches.append(f"{text!r}: llama.cpp {got} vs HF {expected}")
        print(f"{name}: {len(strings)} strings, {len(mismatches)} mismatches")
        assert not mismatches, "\n".join(mismatches[:10])
        # Each id is the same token: llama.cpp's piece is HF's token string, byte-decoded. The
        # vocabulary is padded to the output layer's 151,936 rows with "[PAD<id>]" tokens that
        # llama.cpp marks unused (empty piece); a trained model never writes them.
        byte_of = {ch: b for b, ch in _bytes_to_unicode().items()}
        special = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
        wrong, padding = [], 0
        vocab = llama_cpp.llama_model_get_vocab(vocab_only.model)
        buffer = ctypes.create_string_buffer(256)  # Llama.detokenize gives b"" for pieces over 32 bytes
        for i, token in enumerate(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))):
            length = llama_cpp.llama_token_to_piece(vocab, i, buffer, len(buffer), 0, True)
            piece = buffer.raw[:length]
            if token == f"[PAD{i}]" and piece == b"":
                padding += 1
                continue
            hf = token.encode() if i in special else bytes(byte_of[c] for c in token)
            if piece != hf:
                wrong.append(f"{i}: {piece!r} vs {hf!r}")
        print(f"{name}: {len(tokenizer) - padding} ids compared ({padding} padding ids skipped), {len(wrong)} differ")
        assert not wrong, "\n".join(wrong[:10])
    finally:
        vocab_only.close()


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-character table, which byte-level BPE vocabularies (Qwen's) are written in."""
    visible = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = visible[:]
    extra = 0
    for b in range(256):
        if b not in visible:
            visible.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(visible, map(chr, chars), strict=True))


@pytest.mark.integration
@pytest.mark.proof  # loads the verifier twice (2 minutes): `make proofs`
def test_a_judge_head_scores_llama_cpp_hidden_states_as_it_scores_torchs(backend, chat_prompts):
    """The synthetic head (shipped first) was trained on torch bf16 hidden states alone; on llama.cpp's
    (same GGUF weights, other kernels) its scores and its decisions at θ must agree, or a head would
    need recalibrating for the other backend."""
    from pathlib import Path

    from verispec.judge.head import load_head_for
    from verispec.models.loading import load_model

    loaded = load_model(DEFAULT_VERIFIER)
    from verispec.backends import TransformersBackend

    torch_backend = TransformersBackend(loaded.model, name=DEFAULT_VERIFIER)
    head = load_head_for(backend, Path(__file__).parents[2] / "benchmarks/results/judge/synthetic-head.safetensors")
    gaps, agree, total = [], 0, 0
    for prompt in chat_prompts:
        ids = prompt + greedy(backend, prompt, 48)
        scores = []
        for model in (backend, torch_backend):
            model.reset()
            scores.append(head.scores(model.forward(ids, hidden=True).hidden[len(prompt):].float()))
        gaps.append(float((scores[0] - scores[1]).abs().max()))
        decisions = [s >= head.meta.threshold for s in scores]
        agree += int((decisions[0] == decisions[1]).sum())
        total += len(decisions[0])
    print(f"judge scores llama.cpp vs torch bf16 over {total} tokens: max |diff| {max(gaps):.4f}, "
          f"same decision at θ={head.meta.threshold:.3f} for {agree}/{total}")
    assert max(gaps) < 0.1 and agree >= 0.97 * total  # measured here: 0.050 and 143/144
