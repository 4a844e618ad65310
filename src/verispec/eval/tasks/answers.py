"""Reading the final answer out of free-form model output: a number, or an option letter."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from functools import cache

# A number as models write it: a sign attached to it or to its dollar sign (so "5 - 3" is not
# read as -3), thousands separators only in groups of three (so "1,2,3" stays three numbers),
# optional decimals.
_NUMBER = re.compile(r"(?<![\w.])(-)?(?:\$\s?)?(-)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")
# A fraction of two plain numbers, LaTeX or inline: "\frac{3}{4}", "\dfrac{3}{4}", "3/4".
_FRACTION = re.compile(
    r"\\[dt]?frac\s*\{\s*(\d+(?:\.\d+)?)\s*\}\s*\{\s*(\d+(?:\.\d+)?)\s*\}"
    r"|(?<![\w./,])(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)(?![\w/]|[.,]\d)"  # not in "1,000/4" or "3/4/2020"
)
# `####` and what may stand between it and its number on the same line: spaces, bold markers.
_HASHES = re.compile(r"####[ \t*]*")
# "answer is", "Answer:", LaTeX's "\text{Final answer} =".
_ANSWER_PHRASE = re.compile(r"answer\}?\s*(?:is|:|=)", re.IGNORECASE)
# The end of a clause: a line break, or a full stop (not a decimal point: a space or the end follows).
_CLAUSE_END = re.compile(r"\n|[.!?](?=\s|$)")


def canonical_number(text: str) -> str | None:
    """`text` as a canonical number string ("1,234.50" -> "1234.5"), or None if unparsable."""
    cleaned = text.replace(",", "").replace("$", "").strip().rstrip(".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _parse(match: re.Match[str]) -> str | None:
    """The canonical number of a `_NUMBER` match."""
    sign = "-" if match.group(1) or match.group(2) else ""
    return canonical_number(sign + match.group(3) + (match.group(4) or ""))


def _numbers(text: str) -> list[str]:
    """Every number in `text`, canonical, in order of appearance."""
    return [number for match in _NUMBER.finditer(text) if (number := _parse(match)) is not None]


def _fraction_value(match: re.Match[str]) -> str:
    """A `_FRACTION` match written as one decimal number; unchanged when it divides by zero."""
    numerator, denominator = (Decimal(group) for group in match.groups() if group is not None)
    return match.group(0) if denominator == 0 else format((numerator / denominator).normalize(), "f")


def boxed_contents(text: str) -> list[str]:
    r"""The contents of every `\boxed{...}` in `text`, with nested braces balanced."""
    contents = []
    for match in re.finditer(r"\\boxed\s*\{", text):
        depth, start = 1, match.end()
        for end in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                contents.append(text[start:end])
                break
    return contents


def _hashed_numbers(text: str) -> list[str]:
    """The number right after each `####` that has one on its line: "#### 18", "####$1,234"."""
    found = []
    for marks in _HASHES.finditer(text):
        match = _NUMBER.match(text, marks.end())
        if match and (number := _parse(match)) is not None:
            found.append(number)
    return found


def _boxed_numbers(text: str) -> list[str]:
    r"""The numbers in the last `\boxed{}` that holds any."""
    return next((numbers for content in reversed(boxed_contents(text)) if (numbers := _numbers(content))), [])


def _answer_line_numbers(text: str) -> list[str]:
    """The numbers of the first clause with any after the last "answer is" / "answer:".

    A clause ends at a line break or a full stop, so "The answer is 42. Check: 6 * 7 = 42, not 43"
    stops before the check, and "The final answer is:" followed by a display line reads that line.
    """
    phrases = list(_ANSWER_PHRASE.finditer(text))
    if not phrases:
        return []
    clauses = _CLAUSE_END.split(text[phrases[-1].end() :])
    return next((numbers for clause in clauses if (numbers := _numbers(clause))), [])


def extract_number(text: str) -> str | None:
    r"""The final numeric answer in a model's output, read as a person would, canonical, or None.

    In order of precedence:

    1. the number right after the last `####` that has one on its line. Marks without one are
       skipped: a model that echoes the instruction ("write the answer after '####'.") has not
       answered there, and the first number after the echo is usually a step number;
    2. the last number in the last `\boxed{}` that holds one;
    3. the last number of the final answer line, the clause after the last "answer is" /
       "answer:" (see `_answer_line_numbers`): "Answer: 20 - 5 = 15" is 15, the result, not 20;
    4. the last number in the text.

    A fraction of two plain numbers is one number: `\frac{3}{4}` is 0.75, neither 3 nor 4.
    """
    text = _FRACTION.sub(_fraction_value, text)
    for numbers in (_hashed_numbers(text), _boxed_numbers(text), _answer_line_numbers(text), _numbers(text)):
        if numbers:
            return numbers[-1]
    return None


def same_number(extracted: str | None, gold: str) -> bool:
    """True when the extracted answer equals the gold answer numerically."""
    if extracted is None:
        return False
    gold_number = canonical_number(gold)
    return gold_number is not None and Decimal(extracted) == Decimal(gold_number)


def letters(count: int) -> str:
    """The option letters for `count` choices: "ABCD" for four."""
    return "ABCDEFGHIJ"[:count]


# Decoration that may surround a letter: brackets, bold markers, quotes.
_OPEN = r"[\s(\[*\"'`]*"
_OPTION = r"(?i:option|choice)"
_END = r"(?![\w'])"  # "Answer: Because" must not read as B


@cache
def _letter_patterns(valid: str) -> tuple[re.Pattern[str], ...]:
    """Patterns for a chosen letter, most explicit first; each captures the letter."""
    letter = f"([{valid}])"
    return (
        re.compile(rf"(?i:answer)(?:\s+is)?\s*[:-]?{_OPEN}{_OPTION}?\s*{_OPEN}{letter}{_END}"),
        re.compile(rf"\\boxed\s*\{{\s*(?:\\text\{{)?\s*{letter}\s*\}}"),
        re.compile(rf"^{_OPEN}{letter}(?:[).\]:,*\"'`]|\s*$|\s+[-\u2013])"),
        re.compile(rf"\(\s*{letter}\s*\)"),
        re.compile(rf"{_OPTION}\s*{_OPEN}{letter}{_END}"),
    )


def extract_choice(text: str, choices: Sequence[str]) -> str | None:
    """The option letter a model's output chooses among `choices`, or None when unclear.

    Tries, in order: "Answer: X" (the last one), `\\boxed{X}`, an output that starts with the
    letter ("B", "(B)", "B. text"), a parenthesised letter, "option X", and finally the text of
    exactly one option quoted in the output.
    """
    valid = letters(len(choices))
    for pattern in _letter_patterns(valid):
        matches = pattern.findall(text.strip())
        if matches:
            return matches[-1]
    return _choice_by_text(text, choices)


def _choice_by_text(text: str, choices: Sequence[str]) -> str | None:
    """The letter of the only option whose text appears in the output, if exactly one does."""
    lowered = " ".join(text.lower().split())
    quoted = [
        letter
        for letter, choice in zip(letters(len(choices)), choices)
        if len(choice.strip()) > 1 and " ".join(choice.lower().split()).rstrip(".") in lowered
    ]
    return quoted[0] if len(quoted) == 1 else None
