"""The rater's rating distribution on a tiny random model, checked against full forward passes."""

from __future__ import annotations

import math

import pytest
import torch

from tiny_models import EOS_ID, byte_tokenizer, tiny_model
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


def brute_force(model, tokenizer, messages, explanation: str = "") -> list[float]:
    """Each rating's probability by uncached passes after the reply's opening: its digits, and for "1"
    not the "0" of "10" (byte tokens: the opening is everything before the digits)."""
    opening = tokenizer(explanation + REPLY_START, add_special_tokens=False)["input_ids"]
    prompt = encode_prompt(tokenizer, messages, chat=True) + opening
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


def greedy_explanation(model, tokenizer, messages, tokens: int) -> str:
    """The grader's first ``tokens`` greedy tokens by uncached passes, stopping at EOS."""
    ids = encode_prompt(tokenizer, messages, chat=True)
    written = []
    for _ in range(tokens):
        token = int(next_log_probs(model, ids + written).argmax())
        if token == EOS_ID:
            break
        written.append(token)
    return tokenizer.decode(written)


def normalised(probabilities: list[float]) -> list[float]:
    return [p / sum(probabilities) for p in probabilities]


def test_ratings_match_uncached_forward_passes(model, rater):
    expected = brute_force(model, byte_tokenizer(), MESSAGES)
    rating = rater.rate(MESSAGES)
    assert rating.mass == pytest.approx(sum(expected), rel=1e-4)
    assert rating.probabilities == pytest.approx(normalised(expected), rel=1e-4)
    assert sum(rating.probabilities) == pytest.approx(1.0)
    assert rating.expected == pytest.approx(sum(r * p for r, p in zip(RATINGS, rating.probabilities)))
    assert 1 <= rating.expected <= 10


def test_the_cache_carries_over_between_answers_without_changing_ratings(model, rater):
    other = [MESSAGES[0], {"role": "user", "content": "Q: 2+2? A: 5, since 2+2 is 5"}]
    first = rater.rate(MESSAGES)
    again = rater.rate(MESSAGES)  # reads all but the last token from the cache
    assert again.probabilities == pytest.approx(first.probabilities, rel=1e-5) and again.mass == pytest.approx(first.mass, rel=1e-5)
    second = rater.rate(other)  # shares the opening of the prompt with the first
    assert second.probabilities == pytest.approx(normalised(brute_force(model, byte_tokenizer(), other)), rel=1e-4)
    assert second.probabilities != pytest.approx(first.probabilities, rel=1e-3)


def test_with_an_explanation_the_rating_follows_it(model):
    tokenizer = byte_tokenizer()
    rater = Rater(TransformersBackend(model, name="tiny"), tokenizer, explain_tokens=12, end_ids=frozenset({EOS_ID}))
    rating = rater.rate(MESSAGES)
    explanation = greedy_explanation(model, tokenizer, MESSAGES, 12)
    assert rating.explanation == explanation and explanation
    assert rating.probabilities == pytest.approx(normalised(brute_force(model, tokenizer, MESSAGES, explanation)), rel=1e-4)
    assert rating.probabilities != pytest.approx(normalised(brute_force(model, tokenizer, MESSAGES)), rel=1e-3)


def test_a_template_without_a_system_role_reads_it_in_the_user_turn(model):
    tokenizer = byte_tokenizer()
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
        "<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    folded = [{"role": "user", "content": "Grade it.\n\nQ: 2+2? A: 4"}]
    rating = Rater(TransformersBackend(model, name="tiny"), tokenizer).rate(MESSAGES)
    assert rating.probabilities == pytest.approx(normalised(brute_force(model, tokenizer, folded)), rel=1e-4)


def test_a_prompt_longer_than_the_context_is_refused(rater):
    with pytest.raises(PromptError, match="longer context"):
        rater.rate([{"role": "user", "content": "x" * 600}])


class ScriptedRater(Rater):
    """A grader that writes a fixed reply token by token, whatever it reads after the prompt."""

    def __init__(self, reply: str, explain_tokens: int) -> None:
        super().__init__(TransformersBackend(tiny_model(0), name="tiny"), byte_tokenizer(),
                         explain_tokens=explain_tokens, end_ids=frozenset({EOS_ID}))
        self.reply = self.tokenizer(reply, add_special_tokens=False)["input_ids"]
        self.prompt_length = len(encode_prompt(self.tokenizer, MESSAGES, chat=True))

    def _read(self, tokens):
        position = len(tokens) - self.prompt_length
        logits = torch.full((257,), -30.0)
        logits[self.reply[position] if position < len(self.reply) else EOS_ID] = 0.0
        return logits


def test_the_explanation_ends_where_the_grader_starts_its_rating():
    rating = ScriptedRater("Clear and right. Rating: [[7]]", explain_tokens=100).rate(MESSAGES)
    assert rating.explanation == "Clear and right. "
    assert rating.expected == pytest.approx(7.0) and rating.mass == pytest.approx(1.0, abs=1e-6)


def test_an_explanation_cut_short_is_followed_by_the_rating():
    rating = ScriptedRater("Clear and right. Rating: [[7]]", explain_tokens=5).rate(MESSAGES)
    assert rating.explanation == "Clear"
    assert rating.mass < 1e-6  # the scripted grader would not rate there
