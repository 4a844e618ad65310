"""The rater's rating distribution on a tiny random model, checked against full forward passes."""

from __future__ import annotations

import math

import pytest
import torch

from tiny_models import byte_tokenizer, tiny_model
from verispec.backends import TransformersBackend
from verispec.errors import PromptError
from verispec.eval.grading.rater import RATINGS, REPLY_START, Rater
from verispec.tokens import encode_prompt

MESSAGES = [{"role": "system", "content": "Grade it."}, {"role": "user", "content": "Q: 2+2? A: 4"}]


@pytest.fixture(scope="module")
def model():
    return tiny_model(3, sharpness=0.3)


@pytest.fixture
def rater(model):
    return Rater(TransformersBackend(model, name="tiny"), byte_tokenizer())


def next_log_probs(model, ids: list[int]) -> torch.Tensor:
    """log P(next token | ids) from one uncached forward pass over the whole sequence."""
    with torch.no_grad():
        return torch.log_softmax(model(torch.tensor([ids])).logits[0, -1].float(), dim=-1)


def brute_force(model, tokenizer, messages) -> list[float]:
    """Each rating's probability by uncached passes: its digits, and for "1" not the "0" of "10"."""
    prompt = encode_prompt(tokenizer, messages, chat=True) + tokenizer(REPLY_START, add_special_tokens=False)["input_ids"]
    probabilities = []
    for rating in RATINGS:
        ids = list(prompt)
        log_prob = 0.0
        for token in tokenizer(str(rating), add_special_tokens=False)["input_ids"]:
            log_prob += float(next_log_probs(model, ids)[token])
            ids.append(token)
        if rating == 1:
            zero = tokenizer("0", add_special_tokens=False)["input_ids"][0]
            log_prob += math.log(1 - math.exp(float(next_log_probs(model, ids)[zero])))
        probabilities.append(math.exp(log_prob))
    return probabilities


def test_ratings_match_uncached_forward_passes(model, rater):
    expected = brute_force(model, byte_tokenizer(), MESSAGES)
    rating = rater.rate(MESSAGES)
    assert rating.mass == pytest.approx(sum(expected), rel=1e-4)
    assert rating.probabilities == pytest.approx([p / sum(expected) for p in expected], rel=1e-4)
    assert sum(rating.probabilities) == pytest.approx(1.0)
    assert rating.expected == pytest.approx(sum(r * p for r, p in zip(RATINGS, rating.probabilities)))
    assert 1 <= rating.expected <= 10


def test_rating_again_gives_the_same_and_other_answers_differ(rater):
    first = rater.rate(MESSAGES)
    assert rater.rate(MESSAGES) == first  # the cache is reset between answers
    other = rater.rate([MESSAGES[0], {"role": "user", "content": "Q: 2+2? A: 5, since 2+2 is 5"}])
    assert other.probabilities != first.probabilities


def test_a_template_without_a_system_role_reads_it_in_the_user_turn(model):
    tokenizer = byte_tokenizer()
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
        "<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    folded = [{"role": "user", "content": "Grade it.\n\nQ: 2+2? A: 4"}]
    rating = Rater(TransformersBackend(model, name="tiny"), tokenizer).rate(MESSAGES)
    assert rating.probabilities == pytest.approx(
        [p / sum(brute_force(model, tokenizer, folded)) for p in brute_force(model, tokenizer, folded)], rel=1e-4)


def test_a_prompt_longer_than_the_context_is_refused(rater):
    with pytest.raises(PromptError, match="longer context"):
        rater.rate([{"role": "user", "content": "x" * 600}])
