"""The llama.cpp backend on tiny random GGUF files written in-process: fast enough for every test run.

Needs only llama-cpp-python (``make llama-cpp``); skipped, saying so, without it. The checks: a
rollback leaves no trace in later logits; k tokens at once give the logits of k single steps;
greedy decoding through verispec (verifier alone and every speculative configuration) writes what
llama-cpp-python's own ``Llama.generate`` writes; speculative sampling over 3-token drafts follows
the verifier's law, computed with an independent warp; bad input gives one typed error each.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from reference_sampling import pooled_pvalue, reference_warp
from tiny_gguf import EOS, SMALL_MERGES, SMALL_VOCAB, write_tiny_gguf
from tiny_models import byte_tokenizer

from verispec import Pipeline
from verispec.drafting import ModelDrafter
from verispec.engine import Engine, SpeculativeRounds
from verispec.errors import ModelNotFoundError, PromptError, VocabularyMismatchError
from verispec.rules.exact import ExactRule
from verispec.sampling import SamplingParams
from verispec.schedule import DraftSchedule

llama_cpp = pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (`make llama-cpp`)")

from verispec.backends.llamacpp_backend import LlamaCppBackend, import_llama_cpp  # noqa: E402

PROMPT_TEXT = "abc dab"


@pytest.fixture(scope="module")
def gguf_pair(tmp_path_factory) -> tuple[Path, Path]:
    """(draft, verifier): peaked logits (clear greedy choices), the draft a noisy copy of the verifier."""
    folder = tmp_path_factory.mktemp("tiny-gguf")
    verifier = write_tiny_gguf(folder / "verifier.gguf", scale=0.5)
    draft = write_tiny_gguf(folder / "draft.gguf", scale=0.5, noise=0.35)
    return draft, verifier


@pytest.fixture(scope="module")
def backend(gguf_pair) -> LlamaCppBackend:
    made = LlamaCppBackend(gguf_pair[1], n_threads=1)
    yield made
    made.close()


def test_rollback_leaves_no_trace_and_k_tokens_at_once_match_single_steps(backend):
    prompt, block = [4, 9, 17, 5, 30], [6, 7, 8, 9, 10, 11]
    backend.reset()
    backend.forward(prompt)
    backend.forward([20, 21, 22])  # a draft, rejected
    backend.rollback(len(prompt))
    after = backend.forward(block).logits
    backend.reset()
    backend.forward(prompt)
    fresh = backend.forward(block).logits
    assert torch.equal(after, fresh)
    backend.rollback(len(prompt))
    single = torch.cat([backend.forward([t]).logits for t in block])
    assert torch.allclose(fresh, single, atol=1e-4), float((fresh - single).abs().max())
    assert backend.cached_length == len(prompt) + len(block)


def test_a_new_prompt_reuses_the_cached_prefix_it_shares_and_gets_a_fresh_decodes_logits(gguf_pair):
    cached, fresh = (LlamaCppBackend(gguf_pair[1], n_threads=1, prefix_cache=on) for on in (True, False))
    first, second = [4, 9, 17, 5, 30, 6, 7], [4, 9, 17, 5, 12, 13]  # they share 4 tokens
    for backend in (cached, fresh):
        backend.forward(first, last_only=True)
        backend.forward([20, 21, 22])
        backend.reset()
    decoded = cached.clock.by_length.copy()
    cached.rollback(0)  # a drafter's catch-up after reset: nothing to drop, the cache stays reusable
    reused = cached.forward(second, last_only=True).logits
    assert set(cached.clock.by_length) - set(decoded) == {2}  # only the 2 tokens after the shared 4
    assert torch.allclose(reused, fresh.forward(second, last_only=True).logits, atol=1e-5)
    assert cached.cached_length == fresh.cached_length == len(second)
    assert torch.allclose(cached.forward([8]).logits, fresh.forward([8]).logits, atol=1e-5)
    cached.reset()  # the same prompt again: every token but the last is reused
    assert torch.allclose(cached.forward(second, last_only=True).logits, reused, atol=1e-5)
    assert len(second) not in cached.clock.by_length
    cached.clear_prefix_cache()  # what a benchmark does between runs: the next prompt is decoded whole
    cached.forward(second, last_only=True)
    assert len(second) in cached.clock.by_length
    cached.reset()  # a forward that wants every position's logits decodes them all
    assert cached.forward(second).logits.shape[0] == len(second) and cached.cached_length == len(second)
    for backend in (cached, fresh):
        backend.close()


def test_identity_precision_tokenizer_and_context(backend, gguf_pair):
    identity = backend.identity()
    assert (identity.vocab_size, identity.hidden_size, identity.layers) == (32, 32, 2)
    assert backend.precision() == "gguf:verifier.gguf"
    assert backend.max_context == 128  # the GGUF's training context caps the default 4096
    assert backend.tokenize("ab a") == [4, 5]  # "ab", "Ġa": the GGUF's merges applied
    backend.reset()
    with pytest.raises(ValueError, match="exceed the 128-token context"):
        backend.forward([4] * 129)
    assert backend.cached_length == 0


def llama_greedy(path: Path, prompt: list[int], count: int) -> list[int]:
    """llama-cpp-python's own greedy generation (the independent reference), cut after the end token."""
    reference = import_llama_cpp().Llama(str(path), n_ctx=128, n_threads=1, verbose=False)
    try:
        out: list[int] = []
        for token in reference.generate(prompt, top_k=1, temp=0.0, repeat_penalty=1.0):
            out.append(token)
            if token == EOS or len(out) == count:
                return out
        return out
    finally:
        reference.close()


@pytest.fixture(scope="module")
def pipe(gguf_pair) -> Pipeline:
    draft, verifier = gguf_pair
    return Pipeline(draft=str(draft), verifier=str(verifier), backend="llama.cpp")


@pytest.mark.parametrize(
    "method",
    # Cost-aware drafting is llama.cpp's default and may stop drafting here (the tiny draft costs what
    # the verifier does), so fixed draft lengths turn it off to make sure long drafts are verified.
    ["verifier", "sd", "sd:gamma=1,cost_aware=false", "sd:gamma=4,stop_below=0,cost_aware=false",
     "sd:gamma=8,stop_below=0,cost_aware=false", "sd:adaptive=true", "sd:drafter=lookup,gamma=4",
     "sd:drafter=lookup,adaptive=true"],
)
def test_greedy_decoding_writes_what_llama_cpp_generate_writes(pipe, gguf_pair, method):
    prompt = pipe.verifier.tokenizer(PROMPT_TEXT).input_ids
    expected = llama_greedy(gguf_pair[1], prompt, 60)
    result = pipe.generate(prompt, method=method, max_new_tokens=60)
    assert pipe.backend_label() == "llama.cpp"
    assert result.token_ids == expected
    if method.startswith("sd:gamma"):
        assert result.stats.accepted > 0  # drafts were checked and kept, not only decoded token by token


def test_speculative_sampling_over_3_token_drafts_follows_the_verifiers_law(tmp_path):
    verifier_path = write_tiny_gguf(tmp_path / "v.gguf", scale=0.3, vocab=SMALL_VOCAB, merges=SMALL_MERGES)
    draft_path = write_tiny_gguf(tmp_path / "d.gguf", scale=0.3, noise=0.15, vocab=SMALL_VOCAB, merges=SMALL_MERGES)
    verifier, draft = LlamaCppBackend(verifier_path, n_threads=1), LlamaCppBackend(draft_path, n_threads=1)
    prompt, length, n = [3, 4, 6, 7], 3, 3000
    warp = {"temperature": 0.8, "top_k": 6, "top_p": 0.95}
    counts, kept = np.zeros((8,) * length), Counter()
    for seed in range(n):
        params = SamplingParams(**warp, seed=seed)
        drafter = ModelDrafter(draft, params, vocab_size=8, schedule=DraftSchedule(gamma=3))
        engine = Engine(SpeculativeRounds(verifier, drafter, ExactRule()), eos_token_ids=frozenset())
        records = list(engine.rounds(prompt, max_new_tokens=length + 1, params=params, generator=params.generator(torch.device("cpu"))))
        tokens = [t for r in records for t in r.tokens][:length]
        counts[tuple(tokens)] += 1
        kept.update(r.accepted for r in records if not r.is_prefill)
    assert kept[0] > 50 and kept[3] > 50, f"drafts were not both rejected and kept whole: {kept}"
    law = exact_joint(verifier, prompt, length, warp)
    p_value = pooled_pvalue(counts, law)
    assert p_value > 1e-3, f"the first {length} tokens do not follow the verifier's law (p = {p_value:.3g})"
    assert pooled_pvalue(counts, exact_joint(draft, prompt, length, warp)) < 1e-8  # the test can tell laws apart


def exact_joint(backend: LlamaCppBackend, prompt: list[int], length: int, warp: dict) -> np.ndarray:
    """P(first ``length`` tokens) under ``backend``'s logits and the reference warp, by enumeration."""
    vocab = backend.vocab_size
    joint = np.zeros((vocab,) * length)
    for index in np.ndindex(*joint.shape):
        probability = 1.0
        for depth in range(length):
            backend.reset()
            logits = backend.forward(prompt + list(index[:depth]), last_only=True).logits[-1]
            probability *= reference_warp(logits.double().numpy(), **warp)[index[depth]]
            if probability == 0:
                break
        joint[index] = probability
    return joint


def test_bad_input_gives_one_typed_error_each(gguf_pair, tmp_path):
    draft, verifier = gguf_pair
    with pytest.raises(ModelNotFoundError, match="missing.gguf"):
        Pipeline(verifier=str(tmp_path / "missing.gguf"), backend="llama.cpp").verifier
    with pytest.raises(VocabularyMismatchError, match="does not use this tokenizer"):
        Pipeline(verifier=(str(verifier), byte_tokenizer()), backend="llama.cpp").verifier
    pipe = Pipeline(draft=str(draft), verifier=str(verifier), backend="llama.cpp")
    with pytest.raises(PromptError, match="context of 128"):
        pipe.generate("ab " * 200, method="sd", max_new_tokens=4)


def test_the_cli_runs_gguf_files_and_reports_bad_ones_in_one_line(gguf_pair, tmp_path):
    draft, verifier = gguf_pair
    run = [sys.executable, "-m", "verispec.cli", "generate", "--draft", str(draft), "--verifier", str(verifier),
           "--backend", "llama.cpp", "--raw", "--max-new-tokens", "8", "--json", "abc"]
    done = subprocess.run(run, capture_output=True, text=True, check=True)
    assert '"token_ids"' in done.stdout
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF not really")
    failed = subprocess.run([*run[:7], str(bad), *run[8:]], capture_output=True, text=True)
    assert failed.returncode == 2
    assert failed.stderr.strip().startswith("error:") and len(failed.stderr.strip().splitlines()) == 1, failed.stderr


def test_every_method_family_runs_on_llama_cpp(pipe, tmp_path):
    from verispec.judge.head import HeadMetadata, JudgeHead, VerifierIdentity

    prompt = PROMPT_TEXT  # text: collaborative methods read it with each model's own tokenizer
    verifier_only = pipe.generate(prompt, chat=False, method="verifier", max_new_tokens=24).token_ids
    identity = VerifierIdentity.of(pipe.verifier.backend)
    # A head that scores every token ~0: it never relaxes, so the judge keeps what the exact check keeps.
    never = JudgeHead(torch.zeros(identity.hidden_size), torch.tensor(-20.0), HeadMetadata(identity, 0.5))
    head = never.save(tmp_path / "never.safetensors")
    always_replace = "cosd-rule:alpha=1,beta=1e-9"  # the assistant (the verifier) overrules every disagreement
    for method in ("lenient:l=0.5", "typical", "cosd-rule", "avg", f"judge:head={head},gamma=4,cost_aware=false",
                   always_replace):
        result = pipe.generate(prompt, chat=False, method=method, max_new_tokens=24)
        assert result.token_ids and len(result.provenance) == len(result.token_ids) == result.stats.new_tokens, method
        if method.startswith("judge") or method == always_replace:
            assert result.token_ids == verifier_only, method
