"""Where an error starts when written text departs from the right text.

A span starts at the first character that differs ("24" written for "21" marks "4"), so the first
token of any tokenizer that overlaps it is the first token that cannot continue the right text:
a tokenizer that splits digits marks "4", one that merges them marks "24".
"""

from __future__ import annotations

from verispec.training.judge.data.records import Span


def first_difference(written: str, start: int, correct: str) -> Span | None:
    """From the first character where `written` (found at `start`) departs from `correct` to
    its end; None when `written` is a prefix of `correct` (the error is what is missing)."""
    common = 0
    while common < min(len(written), len(correct)) and written[common] == correct[common]:
        common += 1
    if common == len(written):
        return None
    return (start + common, start + len(written))


def change_span(written: str, start: int, correct: str) -> Span:
    """Like `first_difference`, for an edit of one operator or constant whose `written` text
    stops short of `correct`:

    - when `correct` goes on with another word ("is" for "is not"), the first wrong token is the
      one after `written`, so the character after it is marked;
    - otherwise ("<" for "<="), common tokenizers read `correct` as one token, so `written`,
      a different token, is marked whole.
    """
    if written == correct:
        raise ValueError(f"no change to mark: {written!r} is the right text")
    span = first_difference(written, start, correct)
    if span is not None:
        return span
    end = start + len(written)
    return (end, end + 1) if correct[len(written)].isspace() else (start, end)
