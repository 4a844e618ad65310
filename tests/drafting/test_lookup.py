"""Prompt lookup: what it copies, its one-hot drafts, and greedy output equal to verifier-only (fp32)."""

import pytest
import torch

from test_engine import GREEDY, decode
from tiny_models import byte_tokenizer, tiny_model
from verispec import Pipeline, Provenance
from verispec.drafting import PromptLookupDrafter, find_continuation
from verispec.errors import ConfigError
from verispec.schedule import DraftSchedule


@pytest.mark.parametrize(
    ("context", "limit", "max_ngram", "expected"),
    [
        ([1, 2, 3, 9, 9, 1, 2, 3], 2, 3, [9, 9]),  # the 3-token suffix occurred before: copy what followed
        ([1, 2, 7, 5, 2, 8, 5, 2], 3, 2, [8, 5, 2]),  # the latest earlier occurrence of [5, 2] wins
        ([4, 2, 6, 3, 2, 6, 7, 9, 2, 6], 1, 3, [7]),  # no earlier [9, 2, 6]; the 2-token suffix [2, 6] is latest at 4
        ([1, 2, 3, 4, 1], 10, 3, [2, 3, 4, 1]),  # a copy may run into the suffix itself; limit caps it
        ([1, 2, 3, 4], 5, 3, []),  # nothing recurs
        ([7], 5, 3, []),  # a single token has no earlier occurrence
    ],
)
def test_find_continuation_copies_after_the_longest_latest_match(context, limit, max_ngram, expected):
    assert find_continuation(context, limit, max_ngram) == expected


def test_min_ngram_refuses_short_matches():
    assert find_continuation([5, 1, 2, 3, 5], 3, 3, min_ngram=2) == []
    assert find_continuation([5, 1, 2, 3, 5], 3, 3, min_ngram=1) == [1, 2, 3]


def test_drafts_are_one_hot_and_end_at_a_copied_eos():
    drafter = PromptLookupDrafter(10, max_ngram=2, eos_token_ids=frozenset({9}))
    draft = drafter.propose([3, 4, 5, 9, 6, 3, 4], gamma=4, generator=None)
    assert draft.tokens.tolist() == [5, 9]
    assert draft.logits.shape == (2, 10)
    assert torch.softmax(draft.logits, -1)[torch.arange(2), draft.tokens].tolist() == [1.0, 1.0]
    assert drafter.propose([1, 2, 3], gamma=4, generator=None).length == 0
    with pytest.raises(ValueError, match="min_ngram <= max_ngram"):
        PromptLookupDrafter(10, max_ngram=1, min_ngram=2)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("schedule", [DraftSchedule(gamma=4), DraftSchedule(gamma=2, adaptive=True)], ids=["gamma=4", "adaptive"])
def test_greedy_lookup_equals_verifier_greedy_and_keeps_copies(seed, schedule):
    verifier = tiny_model(seed)
    prompt = [40, 41, 42, 43] * 3
    expected, _, _ = decode(verifier, None, prompt, max_new_tokens=60, schedule=DraftSchedule())
    drafter = PromptLookupDrafter(verifier.config.vocab_size)
    got, provenance, records = decode(verifier, None, prompt, max_new_tokens=60, schedule=schedule, drafter=drafter, params=GREEDY)
    assert got == expected
    assert Provenance.EXACT in provenance  # random models fall into loops, so copies get kept
    assert sum(r.draft_forwards for r in records) == 0  # no draft model ran
    assert sum(1 for r in records if not r.is_prefill) < len(got)


def test_pipeline_drafts_by_lookup_without_loading_the_draft_model():
    tokenizer = byte_tokenizer()
    pipe = Pipeline(draft="no-such-draft-model", verifier=(tiny_model(0), tokenizer), dtype="fp32")
    expected = pipe.generate("abcabcabc", method="verifier", max_new_tokens=30).token_ids
    for method in ["sd:drafter=lookup", "sd:drafter=lookup,ngram=1,gamma=8", "lenient:drafter=lookup,l=1.0"]:
        result = pipe.generate("abcabcabc", method=method, max_new_tokens=30)
        assert result.token_ids == expected
        assert result.stats.draft_forwards == 0


@pytest.mark.parametrize(("method", "match"), [("sd:drafter=ngrams", "drafter must be one of model, lookup"),
                                               ("sd:drafter=lookup,ngram=0", "ngram must be >= 1")])
def test_bad_drafting_options_are_refused(method, match):
    pipe = Pipeline(draft="no-such-draft-model", verifier=(tiny_model(0), byte_tokenizer()), dtype="fp32")
    with pytest.raises(ConfigError, match=match):
        pipe.generate("hi", method=method, max_new_tokens=2)
