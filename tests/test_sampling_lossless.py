"""Speculative sampling is lossless over multi-token drafts: the joint law of the first tokens is the verifier's.

For each case, ``N`` generations through the public :class:`~verispec.Pipeline` (fixed seeds
0..N-1, so the test is deterministic) give the empirical joint law of the first ``LENGTH`` committed
tokens. The expected law is computed exactly by enumerating every sequence with the verifier's fp32
logits and an independent warp (``reference_sampling``), and the two are compared by a chi-square
test at ``ALPHA`` = 1e-3 (a correct engine fails a random seed schedule 0.1% of the time).

The drafts are several tokens long (the first round drafts 3 or more tokens; the engine drafts at
most ``max_new_tokens - 1``) and the draft differs enough from the verifier that every branch of a
round happens: rejection at each draft position, and a fully kept draft with its bonus token. Each
test asserts that coverage, and that the same samples reject deliberately wrong laws (the draft
model's own law, the verifier at another temperature, the verifier without the warp), so the
chi-square test has the power to notice a wrong sampler.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pytest
from reference_sampling import exact_joint, pooled_pvalue
from tiny_models import byte_tokenizer, noisy_copy, tiny_model

from verispec import Pipeline, Provenance

VOCAB = 8
LENGTH = 4  # tokens in the joint law: 8**4 cells, the rare ones pooled
N = 3000
ALPHA = 1e-3
WRONG_ALPHA = 1e-8  # the same samples must reject a wrong law far below ALPHA
MIN_BRANCH = 15  # rounds needed per branch (rejection at draft position 0, 1, 2; 3+ drafted tokens kept)

MODEL_PROMPT = [1, 4, 2]
# The verifier's own sample after [5, 3, 5] with its first tokens repeated at the end: the suffix
# [5, 5, 6] occurred before, followed by [1, 1, 1], so the first round drafts 3 copied tokens that
# the verifier often keeps; later rounds find shorter matches (the run of 1s, [6, 2], ...).
LOOKUP_PROMPT = [5, 3, 5, 5, 6, 1, 1, 1, 1, 1, 6, 2, 5, 5, 6]


@dataclass(frozen=True)
class Case:
    """One configuration: a method string, its warp, and its prompt."""

    method: str
    warp: dict = field(default_factory=dict)
    prompt: tuple[int, ...] = tuple(MODEL_PROMPT)
    max_new_tokens: int = LENGTH

    @property
    def uses_draft_model(self) -> bool:
        return "drafter=lookup" not in self.method


CASES = {
    "model, t=1": Case("sd:gamma=3,stop_below=0", {"temperature": 1.0}),
    "model, t=0.7, top-k=4": Case("sd:gamma=3,stop_below=0", {"temperature": 0.7, "top_k": 4}),
    "model, t=1.3, top-p=0.8": Case("sd:gamma=3,stop_below=0", {"temperature": 1.3, "top_p": 0.8}),
    # The first draft (4 tokens) is longer than the joint; all three warps at once.
    "model, gamma=5, t=0.9, top-k=6, top-p=0.9": Case(
        "sd:gamma=5,stop_below=0", {"temperature": 0.9, "top_k": 6, "top_p": 0.9}, max_new_tokens=LENGTH + 1
    ),
    # The default method: drafts end early where the draft's confidence drops below stop_below=0.3.
    "model, sd defaults, t=0.7": Case("sd", {"temperature": 0.7}, max_new_tokens=LENGTH + 1),
    "lookup, t=1": Case("sd:drafter=lookup,gamma=3", {"temperature": 1.0}, tuple(LOOKUP_PROMPT)),
    "lookup, t=0.8, top-k=5, top-p=0.9": Case(
        "sd:drafter=lookup,gamma=3", {"temperature": 0.8, "top_k": 5, "top_p": 0.9}, tuple(LOOKUP_PROMPT)
    ),
}


@pytest.fixture(scope="module")
def models():
    """A verifier, and a draft that differs from it enough to be rejected about half the time."""
    verifier = tiny_model(7, vocab=VOCAB, eos=None, layers=1)
    draft = noisy_copy(verifier, 5, 0.05)
    return verifier, draft


@dataclass
class Samples:
    """What ``N`` generations produced: joint counts of the first tokens and how their rounds ended."""

    counts: np.ndarray
    branches: Counter  # (how the round ended, drafted tokens it kept) -> rounds
    proposed: int = 0
    accepted: int = 0


def round_endings(provenance: list[Provenance]) -> list[tuple[Provenance, int]]:
    """Each round's last provenance (REPLACED, BONUS, VERIFIER) and how many drafted tokens it kept before."""
    endings, kept = [], 0
    for p in provenance:
        if p.accepted_draft:
            kept += 1
        else:
            endings.append((p, kept))
            kept = 0
    return endings


def sample(pipe: Pipeline, case: Case) -> Samples:
    """Generate with seeds 0..N-1 and tally the first ``LENGTH`` tokens and the rounds that wrote them."""
    samples = Samples(np.zeros((VOCAB,) * LENGTH), Counter())
    for seed in range(N):
        result = pipe.generate(
            list(case.prompt), method=case.method, max_new_tokens=case.max_new_tokens, seed=seed, **case.warp
        )
        assert len(result.token_ids) == case.max_new_tokens  # no end token in this vocabulary
        samples.counts[tuple(result.token_ids[:LENGTH])] += 1
        samples.branches.update(round_endings(result.provenance[:LENGTH]))
        samples.proposed += result.stats.proposed
        samples.accepted += result.stats.accepted
    return samples


def assert_every_branch_ran(samples: Samples) -> None:
    """Drafts of 3+ tokens were proposed, rejected at each of their first 3 positions, and kept 3 long.

    A rejection at position 2 needs a draft of 3+ tokens; so does keeping 3 drafted tokens (then
    the round ends with the bonus token, or with a rejection further on in a longer draft).
    """
    rejected_at = Counter({kept: n for (p, kept), n in samples.branches.items() if p is Provenance.REPLACED})
    long_kept = sum(n for (p, kept), n in samples.branches.items() if kept >= 3)
    for position in range(3):
        assert rejected_at[position] >= MIN_BRANCH, f"too few rejections at draft position {position}: {samples.branches}"
    assert long_kept >= MIN_BRANCH, f"too few rounds that kept 3+ drafted tokens: {samples.branches}"
    assert 0.05 < samples.accepted / samples.proposed < 0.95


def wrong_laws(case: Case, verifier, draft) -> dict[str, np.ndarray]:
    """Laws that differ from the verifier's warped law, which a powerful test must reject."""
    prompt = list(case.prompt)
    hotter = {**case.warp, "temperature": case.warp["temperature"] * 1.5}
    laws = {"verifier at 1.5x the temperature": exact_joint(verifier, prompt, LENGTH, **hotter)}
    if case.uses_draft_model:
        laws["the draft model's law"] = exact_joint(draft, prompt, LENGTH, **case.warp)
    if set(case.warp) != {"temperature"}:
        unwarped = {"temperature": case.warp["temperature"]}
        laws["verifier without top-k/top-p"] = exact_joint(verifier, prompt, LENGTH, **unwarped)
    return laws


@pytest.mark.parametrize("name", CASES)
def test_joint_law_of_first_tokens_is_the_verifiers(models, name):
    case = CASES[name]
    verifier, draft = models
    tokenizer = byte_tokenizer()
    pipe = Pipeline(draft=(draft, tokenizer), verifier=(verifier, tokenizer), dtype="fp32")
    samples = sample(pipe, case)
    assert_every_branch_ran(samples)
    p_value = pooled_pvalue(samples.counts, exact_joint(verifier, list(case.prompt), LENGTH, **case.warp))
    assert p_value > ALPHA, f"the first {LENGTH} tokens do not follow the verifier's law (p = {p_value:.3g})"
    for law_name, law in wrong_laws(case, verifier, draft).items():
        p_wrong = pooled_pvalue(samples.counts, law)
        assert p_wrong < WRONG_ALPHA, f"the test cannot tell {law_name} apart (p = {p_wrong:.3g})"


# A draft of another tokenizer (see verispec.drafting.cross_tokenizer): it spells the verifier's 8
# one-character tokens with the same ids and has 4 two-character merges of its own.
CROSS_MERGES = [("!", '"'), ("#", "$"), ("%", "&"), ("'", "(")]
CROSS_CASES = {
    # Token-level intersection: the draft samples from the 8 shared tokens, q renormalised there.
    "shared tokens, t=1": Case("sd:gamma=3,stop_below=0,bridge=shared", {"temperature": 1.0}),
    # String level: drafted merges become two verifier tokens, each a point proposal, kept with
    # probability p(x) only (the verifier here is sharper, so that 3-token runs are kept often enough).
    "text, t=1": Case("sd:gamma=3,stop_below=0,bridge=text", {"temperature": 1.0}),
    "text, t=0.8, top-k=5, top-p=0.9": Case(
        "sd:gamma=3,stop_below=0,bridge=text", {"temperature": 0.8, "top_k": 5, "top_p": 0.9}
    ),
}


def cross_tokenizer():
    """Byte-level BPE whose ids 0..7 spell what the verifier's ids 0..7 spell, merges at 8..11."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    first = alphabet[:VOCAB]
    ordered = first + [a + b for a, b in CROSS_MERGES] + alphabet[VOCAB:]
    core = Tokenizer(models.BPE(vocab={piece: i for i, piece in enumerate(ordered)}, merges=CROSS_MERGES))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<eos>")
    tokenizer.add_special_tokens({"eos_token": "<eos>"})
    return tokenizer


def widened_copy(verifier, seed: int, noise: float):
    """A draft over 12 tokens: the verifier's weights with noise; a merge's rows copy its first character's."""
    import torch

    draft = tiny_model(seed, vocab=VOCAB + len(CROSS_MERGES), eos=None, layers=1)
    first_chars = [2 * k for k in range(len(CROSS_MERGES))]  # "!", "#", "%", "'" are ids 0, 2, 4, 6
    with torch.no_grad():
        for mine, theirs in zip(draft.parameters(), verifier.parameters()):
            if mine.shape != theirs.shape:  # the embedding and the output layer: one row per token
                theirs = torch.cat([theirs, theirs[first_chars]])
            mine.copy_(theirs + torch.randn_like(theirs) * noise)
    return draft


@pytest.mark.parametrize("name", CROSS_CASES)
def test_cross_tokenizer_joint_law_of_first_tokens_is_the_verifiers(name):
    case = CROSS_CASES[name]
    verifier = tiny_model(7, vocab=VOCAB, eos=None, layers=1, sharpness=2.5)
    draft = widened_copy(verifier, 9, 0.01)
    pipe = Pipeline(draft=(draft, cross_tokenizer()), verifier=(verifier, byte_tokenizer()), dtype="fp32")
    samples = sample(pipe, case)
    assert_every_branch_ran(samples)
    p_value = pooled_pvalue(samples.counts, exact_joint(verifier, list(case.prompt), LENGTH, **case.warp))
    assert p_value > ALPHA, f"the first {LENGTH} tokens do not follow the verifier's law (p = {p_value:.3g})"
    hotter = {**case.warp, "temperature": case.warp["temperature"] * 1.5}
    p_wrong = pooled_pvalue(samples.counts, exact_joint(verifier, list(case.prompt), LENGTH, **hotter))
    assert p_wrong < WRONG_ALPHA, f"the test cannot tell the verifier at 1.5x the temperature apart (p = {p_wrong:.3g})"
