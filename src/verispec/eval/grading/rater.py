"""A grader model's rating of an answer: its probabilities of "Rating: [[1]]" to "Rating: [[10]]".

MT-Bench's graders write an explanation and then the rating. Here the grader's reply starts at
"Rating: [[", and every rating from 1 to 10 is scored as a continuation: the probability of its
digits, less that of going on into another rating ("1" not followed by the "0" of "10"). The
rating is the expected value under those ten probabilities, renormalised (as G-Eval does): a
forward pass over the prompt and one over "1" instead of a generated explanation, and a graded
score instead of a coarse integer. ``mass`` is the grader's total probability of the ten ratings, a check that it follows
the format at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from jinja2 import TemplateError
from transformers import PreTrainedTokenizerBase

from verispec.backends.base import ModelBackend
from verispec.errors import PromptError
from verispec.tokens import common_prefix_length, encode_prompt

RATINGS = tuple(range(1, 11))
REPLY_START = "Rating: [["

_Memo = dict[tuple[int, ...], torch.Tensor]  # next-token log-probabilities by the tokens read after the prompt


@dataclass(frozen=True)
class Rating:
    """The grader's probability of each rating 1 to 10 (renormalised), their mean, and their raw total."""

    probabilities: tuple[float, ...]
    mass: float

    @property
    def expected(self) -> float:
        return sum(r * p for r, p in zip(RATINGS, self.probabilities))


class Rater:
    """Rates answers with one causal LM and its tokenizer (any chat model: a registry name, path or hub id)."""

    def __init__(self, backend: ModelBackend, tokenizer: PreTrainedTokenizerBase) -> None:
        self.backend = backend
        self.tokenizer = tokenizer
        self._replies = _rating_replies(tokenizer)
        self._shared = _shared_prefix(self._replies)

    def rate(self, messages: Sequence[Mapping[str, str]]) -> Rating:
        """The rating of the answer the messages present."""
        prompt = self._encode(messages) + self._replies[0][: self._shared]
        if len(prompt) + max(map(len, self._replies)) > self.backend.max_context:
            raise PromptError(f"the grading prompt has {len(prompt)} tokens, more than the grader's context of "
                              f"{self.backend.max_context} allows; use a grader with a longer context")
        self.backend.reset()
        after = {(): _log_softmax(self.backend.forward(prompt, last_only=True).logits[-1])}
        tails = [reply[self._shared:] for reply in self._replies]
        log_probs = [self._log_probability(tail, tails, after, len(prompt)) for tail in tails]
        top = max(log_probs)
        weights = [math.exp(lp - top) for lp in log_probs]  # renormalised without underflow
        return Rating(tuple(w / sum(weights) for w in weights), sum(math.exp(lp) for lp in log_probs))

    def _log_probability(self, tokens: list[int], tails: Sequence[list[int]], after: _Memo, prompt_length: int) -> float:
        """log P(the reply goes on with ``tokens`` and not into a longer rating's tokens)."""
        log_prob = sum(float(self._after(tokens[:i], after, prompt_length)[t]) for i, t in enumerate(tokens))
        longer = {t[len(tokens)] for t in tails if len(t) > len(tokens) and t[: len(tokens)] == tokens}
        if longer:
            going_on = float(self._after(tokens, after, prompt_length).exp()[sorted(longer)].sum())
            log_prob += math.log(1.0 - going_on) if going_on < 1.0 else -math.inf
        return log_prob

    def _after(self, read: list[int], after: _Memo, prompt_length: int) -> torch.Tensor:
        """Next-token log-probabilities once ``read`` follows the prompt (memoised)."""
        key = tuple(read)
        if key not in after:
            self.backend.rollback(prompt_length)
            after[key] = _log_softmax(self.backend.forward(read, last_only=True).logits[-1])
        return after[key]

    def _encode(self, messages: Sequence[Mapping[str, str]]) -> list[int]:
        """The prompt through the grader's chat template; a template without a system role gets it in the user turn."""
        try:
            return encode_prompt(self.tokenizer, messages, chat=True)
        except TemplateError:
            return encode_prompt(self.tokenizer, _without_system(messages), chat=True)


def _rating_replies(tokenizer: PreTrainedTokenizerBase) -> list[list[int]]:
    """The tokens of the grader's reply up to and including each rating's digits."""
    return [tokenizer(f"{REPLY_START}{r}", add_special_tokens=False)["input_ids"] for r in RATINGS]


def _log_softmax(logits: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits.float(), dim=-1)


def _shared_prefix(sequences: Sequence[Sequence[int]]) -> int:
    """Tokens every sequence starts with (the reply's opening, read once with the prompt)."""
    return min(common_prefix_length(sequences[0], other) for other in sequences[1:])


def _without_system(messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The system message put before the first user message, for chat templates that refuse a system role."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest:
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    return rest
