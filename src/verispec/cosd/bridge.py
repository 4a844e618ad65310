"""The token bridge: the same text seen through two tokenizers.

CoSD works in text space when its models tokenize differently. The committed output is text, and
every model keeps its own token sequence for it. These functions, which need tokenizers only, do
the conversions:

- where each token of a sequence starts and ends in the decoded text, and whether it starts on a
  whole character (byte-level tokens may cut a multi-byte character in two);
- which of an assistant's tokens for ``committed + drafted`` text lie fully inside the drafted part
  (only those are compared: a token straddling the boundary depends on text already decided);
- the text an assistant's replacement token adds;
- the draft's new token ids after a replacement: its own tokens for the text it keeps, and the rest
  re-encoded with its tokenizer, so that its ids always decode to the committed text.

All texts here are decoded without special tokens and without a cut character at the end
(:func:`clean`), so they only ever hold whole characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

INCOMPLETE = "\ufffd"  # what a tokenizer prints for a cut multi-byte character


def decode(tokenizer: PreTrainedTokenizerBase, ids: Sequence[int]) -> str:
    """The text of ``ids``, special tokens left out."""
    return tokenizer.decode(list(ids), skip_special_tokens=True)


def clean(text: str) -> str:
    """``text`` without the cut multi-byte character that may end it."""
    return text.rstrip(INCOMPLETE)


def encode(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of ``text`` as a continuation (no BOS or other added special tokens)."""
    return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


@dataclass(frozen=True)
class Position:
    """A token of a sequence that begins on a whole character.

    ``index`` is the token's position in its sequence; ``start`` the character offset in the
    decoded text where it begins.
    """

    index: int
    start: int


def text_boundary(tokenizer: PreTrainedTokenizerBase, ids: Sequence[int]) -> tuple[int, bool]:
    """Length of the clean text of ``ids`` and whether that text ends on a whole character."""
    raw = decode(tokenizer, ids)
    text = clean(raw)
    return len(text), len(text) == len(raw)


def positions_from(tokenizer: PreTrainedTokenizerBase, ids: Sequence[int], offset: int) -> list[Position]:
    """The tokens of ``ids`` that begin on a whole character at or after character ``offset``.

    Tokens that add no text (special tokens) are left out: there is nothing of them to compare.
    """
    first = _first_token_reaching(tokenizer, ids, offset)
    found: list[Position] = []
    start, whole = text_boundary(tokenizer, ids[:first])
    for index in range(first, len(ids)):
        end, whole_after = text_boundary(tokenizer, ids[: index + 1])
        if whole and start >= offset and (end > start or not whole_after):
            found.append(Position(index, start))
        start, whole = end, whole_after
    return found


def _first_token_reaching(tokenizer: PreTrainedTokenizerBase, ids: Sequence[int], offset: int) -> int:
    """The first index whose prefix ``ids[:index + 1]`` decodes to more than ``offset`` characters.

    Every token before it lies inside the first ``offset`` characters. Binary search: the length
    of a prefix's clean text only grows with the prefix.
    """
    low, high = 0, len(ids)
    while low < high:
        mid = (low + high) // 2
        if text_boundary(tokenizer, ids[: mid + 1])[0] > offset:
            high = mid
        else:
            low = mid + 1
    return low


def added_text(tokenizer: PreTrainedTokenizerBase, prefix: Sequence[int], tokens: Sequence[int]) -> tuple[str, bool]:
    """The text ``tokens`` add after ``prefix`` (which ends on a whole character), and whether it is whole.

    A byte-level token can end inside a multi-byte character; then the text is cut before that
    character and ``False`` says more tokens are needed to finish it.
    """
    before = len(decode(tokenizer, prefix))
    raw = decode(tokenizer, [*prefix, *tokens])[before:]
    text = clean(raw)
    return text, len(text) == len(raw)


def reencode_after(
    tokenizer: PreTrainedTokenizerBase, committed: Sequence[int], drafted: Sequence[int], keep_chars: int, new_text: str
) -> tuple[int, list[int]]:
    """The draft's token ids for its text cut at ``keep_chars`` characters, followed by ``new_text``.

    ``committed`` are the ids of text already committed (they stay); ``drafted`` the ids drafted
    after them; ``keep_chars`` counts characters of the drafted text to keep. Returns how many
    drafted tokens stay as they are and the ids that follow them.

    The last drafted token that fits is re-encoded together with what follows, so a word the
    replacement completes (``" understand"`` + ``"ing"``) gets the tokenizer's own merge instead of
    an odd split. Ids decode to exactly the kept text plus ``new_text``.
    """
    base = len(decode(tokenizer, committed))
    whole_prefixes = [0]
    for n in range(1, len(drafted) + 1):
        length, whole = text_boundary(tokenizer, [*committed, *drafted[:n]])
        if length - base > keep_chars:
            break
        if whole:
            whole_prefixes.append(n)
    keep = whole_prefixes[-2] if len(whole_prefixes) > 1 else 0
    kept_chars = len(decode(tokenizer, [*committed, *drafted[:keep]])) - base
    full = decode(tokenizer, [*committed, *drafted])[base:]
    return keep, encode(tokenizer, full[kept_chars:keep_chars] + new_text)
