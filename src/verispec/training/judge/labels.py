"""Token labels from a character span: which response tokens are good, and the one bad token.

Tokens that end at or before the first error's start are good; the first token that ends after it
(the one that overlaps the start) is bad; later tokens are not labelled, as in the paper: after an
error, what is "right" is no longer defined. A sample may also mark its first characters as context
(``labels_from``): tokens that end there or before are read but not labelled, so that a sample can
judge one drafted token after a prefix whose tokens other samples already label.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class TokenLabels:
    """A response's token ids; ``good[i]`` labels ``token_ids[context + i]``.

    The first ``context`` tokens are context only; tokens from ``end`` on are not labelled.
    """

    token_ids: list[int]
    good: list[bool]
    context: int = 0

    @property
    def labelled(self) -> int:
        return len(self.good)

    @property
    def end(self) -> int:
        return self.context + len(self.good)


def label_tokens(
    tokenizer: PreTrainedTokenizerBase, response: str, error_start: int | None, labels_from: int = 0
) -> TokenLabels:
    """Tokenize ``response`` on its own (as the verifier would write it) and label its tokens.

    Tokens that end at or before character ``labels_from`` are context (0: none).
    """
    ids, ends = token_ends(tokenizer, response)
    context = bisect_right(ends, labels_from) if labels_from else 0
    return TokenLabels(ids, labels_from_ends(ends[context:], error_start), context)


def token_ends(tokenizer: PreTrainedTokenizerBase, response: str) -> tuple[list[int], list[int]]:
    """Response token ids and the character offset where each ends.

    Fast tokenizers give offsets; others fall back to decoding every prefix.
    """
    if tokenizer.is_fast:
        encoded = tokenizer(response, add_special_tokens=False, return_offsets_mapping=True)
        return list(encoded["input_ids"]), [end for _, end in encoded["offset_mapping"]]
    ids = list(tokenizer(response, add_special_tokens=False)["input_ids"])
    return ids, incremental_ends(ids, lambda prefix: tokenizer.decode(prefix, clean_up_tokenization_spaces=False))


def incremental_ends(ids: Sequence[int], decode: Callable[[Sequence[int]], str]) -> list[int]:
    """Where each token ends: the length of the decoded prefix up to it.

    A token that stops inside a multi-byte character decodes with a replacement character in that
    character's place, so it ends after the character, as fast tokenizers' offsets say too.
    """
    return [len(decode(ids[: i + 1])) for i in range(len(ids))]


def labels_from_ends(ends: Sequence[int], error_start: int | None) -> list[bool]:
    """Good up to the error's start, then one bad token, then nothing."""
    if error_start is None:
        return [True] * len(ends)
    labels: list[bool] = []
    for end in ends:
        labels.append(end <= error_start)
        if not labels[-1]:
            break
    return labels
