"""A grader model's rating of an answer: its probabilities of "Rating: [[1]]" to "Rating: [[10]]".

MT-Bench's graders write an explanation and then the rating. By default the grader's reply starts
at "Rating: [[" (no explanation: one forward pass over the prompt, which suits small graders and
CPUs); with ``explain_tokens`` it first writes its explanation greedily, as MT-Bench's graders do,
and the rating follows that. Either way every rating from 1 to 10 is scored as a continuation:
the probability of its digits, less that of going on into another rating ("1" not followed by the
"0" of "10"). The rating is the expected value under those ten probabilities, renormalised (as
G-Eval does): a graded score instead of a coarse integer. ``mass`` is the grader's total
probability of the ten ratings, a check that it follows the format at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from jinja2 import TemplateError
from transformers import PreTrainedTokenizerBase

from verispec.backends.base import ModelBackend
from verispec.errors import ConfigError, PromptError
from verispec.tokens import common_prefix_length, encode_prompt

RATINGS = tuple(range(1, 11))
REPLY_START = "Rating: [["

_Memo = dict[tuple[int, ...], torch.Tensor]  # next-token log-probabilities by the tokens read after the prompt


@dataclass(frozen=True)
class Rating:
    """The grader's probability of each rating 1 to 10 (renormalised), their raw total, and its explanation."""

    probabilities: tuple[float, ...]
    mass: float
    explanation: str = ""

    @property
    def expected(self) -> float:
        return sum(r * p for r, p in zip(RATINGS, self.probabilities))


class Rater:
    """Rates answers with one causal LM and its tokenizer (any chat model: a registry name, path or hub id).

    ``explain_tokens`` > 0: the grader first writes up to that many tokens of explanation (greedy,
    until it writes "Rating: [[" or one of ``end_ids``), and rates after it.
    """

    def __init__(self, backend: ModelBackend, tokenizer: PreTrainedTokenizerBase, *,
                 explain_tokens: int = 0, end_ids: frozenset[int] = frozenset()) -> None:
        self.backend = backend
        self.tokenizer = tokenizer
        self.explain_tokens = explain_tokens
        self.end_ids = end_ids
        self._cached: list[int] = []  # the tokens in the backend's cache

    def rate(self, messages: Sequence[Mapping[str, str]]) -> Rating:
        """The rating of the answer the messages present."""
        prompt = self._encode(messages)
        explanation = self._explain(prompt) if self.explain_tokens else ""
        replies = [self.tokenizer(f"{explanation}{REPLY_START}{r}", add_special_tokens=False)["input_ids"] for r in RATINGS]
        _check_distinct(replies, self.tokenizer)
        shared = _shared_prefix(replies)
        prompt += replies[0][:shared]
        self._check_context(len(prompt) + max(map(len, replies)) - shared)
        tails = [reply[shared:] for reply in replies]
        after: _Memo = {}
        log_probs = [self._log_probability(tail, tails, after, prompt) for tail in tails]
        top = max(log_probs)
        weights = [math.exp(lp - top) for lp in log_probs]  # renormalised without underflow
        return Rating(tuple(w / sum(weights) for w in weights), sum(math.exp(lp) for lp in log_probs), explanation)

    def _explain(self, prompt: list[int]) -> str:
        """The grader's greedy explanation, up to where it starts its rating."""
        self._check_context(len(prompt) + self.explain_tokens)
        written: list[int] = []
        while len(written) < self.explain_tokens and (token := int(self._read(prompt + written).argmax())) not in self.end_ids:
            written.append(token)
            text = self.tokenizer.decode(written)
            if REPLY_START in text:
                return text[: text.index(REPLY_START)]
        return self.tokenizer.decode(written)

    def _read(self, tokens: list[int]) -> torch.Tensor:
        """The next-token logits after ``tokens``, reading only what the cache does not hold yet."""
        keep = min(common_prefix_length(self._cached, tokens), len(tokens) - 1)  # the last token gives the logits
        self.backend.rollback(keep)
        self._cached = list(tokens)
        return self.backend.forward(tokens[keep:], last_only=True).logits[-1]

    def _check_context(self, tokens: int) -> None:
        if tokens > self.backend.max_context:
            raise PromptError(f"grading needs {tokens} tokens, more than the grader's context of "
                              f"{self.backend.max_context}; use a grader with a longer context (or fewer explanation tokens)")

    def _log_probability(self, tokens: list[int], tails: Sequence[list[int]], after: _Memo, prompt: list[int]) -> float:
        """log P(the reply goes on with ``tokens`` and not into a longer rating's tokens)."""
        log_prob = sum(float(self._after(tokens[:i], after, prompt)[t]) for i, t in enumerate(tokens))
        longer = {t[len(tokens)] for t in tails if len(t) > len(tokens) and t[: len(tokens)] == tokens}
        if longer:
            going_on = float(self._after(tokens, after, prompt).exp()[sorted(longer)].sum())
            log_prob += math.log(1.0 - going_on) if going_on < 1.0 else -math.inf
        return log_prob

    def _after(self, read: list[int], after: _Memo, prompt: list[int]) -> torch.Tensor:
        """Next-token log-probabilities once ``read`` follows the prompt (memoised)."""
        key = tuple(read)
        if key not in after:
            after[key] = _log_softmax(self._read(prompt + read))
        return after[key]

    def _encode(self, messages: Sequence[Mapping[str, str]]) -> list[int]:
        """The prompt through the grader's chat template; a template without a system role gets it in the user turn."""
        try:
            return encode_prompt(self.tokenizer, messages, chat=True)
        except TemplateError:
            return encode_prompt(self.tokenizer, _without_system(messages), chat=True)


def _log_softmax(logits: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits.float(), dim=-1)


def _check_distinct(replies: Sequence[list[int]], tokenizer: PreTrainedTokenizerBase) -> None:
    """Ratings the tokenizer cannot tell apart (digits it drops) would all get the same probability."""
    if len(set(map(tuple, replies))) < len(replies):
        raise ConfigError(f"the grader's tokenizer ({type(tokenizer).__name__}) gives the same tokens for two ratings "
                          f"{REPLY_START}N]]: it cannot write the digits 1 to 10; use another grader")


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
