"""Re-checking the arithmetic written in a text: find every `a op b = c` and the first wrong `c`.

Models write arithmetic as plain text ("48 / 2 = 24"), chained ("3 * 4 = 12 + 1 = 13"), with money,
thousands separators, decimals and percentages ("$1,200 * 15% = $180"), or in LaTeX
(`\\( 48 \\div 2 = 24 \\)`, `\\frac{3}{4}`). The checker scans the text into numbers, operators,
brackets and equals signs, evaluates each side exactly (fractions), and compares.

It is built for precision, not recall: a step it cannot read for sure is skipped, and a written
result is accepted under any reasonable reading (rounded or truncated to the digits written,
percent signs read as /100 or as units). A wrong result is marked from its first wrong character
("24" written as "26" marks "6"), so for every tokenizer the first token that overlaps the mark
is the first wrong one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from verispec.training.judge.data.records import Span
from verispec.training.judge.data.spans import first_difference

_NUMBER = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+")
_PERCENTAGE = re.compile(r"((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)\s*(?:\\?%|percent\b)")
_FRACTION = re.compile(r"\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}")
_LATEX_OPERATORS = {"\\times": "*", "\\cdot": "*", "\\div": "/", "\\left(": "(", "\\right)": ")"}
_OPERATORS = {"+": "+", "-": "-", "\u2212": "-", "\u2013": "-", "*": "*", "\u00d7": "*", "\u00b7": "*", "/": "/",
              "\u00f7": "/", "^": "^"}  # fmt: skip
_BULLETS = {"-", "*", "+"}
_MATH_DELIMITERS = ("\\[", "\\]", "\\(", "\\)")
# Words after which a number is a factor of something unseen ("20% of 50 = 10"): a run of
# arithmetic right after them does not start an expression.
_BINDING_WORDS = {"of", "times", "by", "per", "over", "plus", "minus", "than", "x"}
# Skipped like spaces inside a run: markdown bold, LaTeX unit labels and thin spaces.
_SKIPPED = re.compile(r"\*\*|\\(?:text|mathrm|mbox)\{[^{}]*\}|\\[,;! ]")
# A result followed by one of these is not the number it looks like ("= 1.2 million").
_SCALE_WORD = re.compile(r"\s*(?:hundred|thousand|million|billion|trillion|dozen)\b", re.IGNORECASE)
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class Token:
    """A piece of an arithmetic run: a number, an operator, a bracket or '='."""

    kind: str  # "num", "op", "(", ")", "="
    start: int
    end: int
    op: str = ""  # the operator, normalised to + - * / ^
    value: Fraction = Fraction(0)  # a number's value as written, before any percent sign
    percent: bool = False
    numeral: Span = (0, 0)  # a number's digits (no currency sign, no percent sign)


@dataclass(frozen=True)
class Step:
    """One checked equality: the value on the left and what is written on the right.

    `written` is the right side's numeral span when the right side is a number (with its sign),
    or None when it is an expression (a rewriting such as "= 240 / 5").
    """

    start: int
    end: int
    expected: Fraction
    written: Span | None
    correct: bool


@dataclass(frozen=True)
class Finding:
    """The first wrong step of a text, and the span of its first wrong character (None when the
    wrong side is an expression, whose first wrong character cannot be told)."""

    step: Step
    span: Span | None


def check_steps(text: str) -> list[Step]:
    """Every equality the checker can read in `text`, in order, each marked correct or not."""
    steps: list[Step] = []
    for run in _runs(text):
        steps.extend(_check_run(text, run))
    return steps


def first_error(text: str) -> Finding | None:
    """The first wrong step of `text`, or None when every readable step is right."""
    for step in check_steps(text):
        if not step.correct:
            return Finding(step, _wrong_span(text, step))
    return None


def correct_results(text: str) -> list[Step]:
    """The steps whose written result is a number and right: the numbers a corruption may change."""
    return [s for s in check_steps(text) if s.correct and s.written is not None]


def numbers_in(text: str) -> list[Fraction]:
    """The value of every numeral in `text`, in order (percent and currency signs ignored)."""
    return [parse_numeral(match.group()) for match in _NUMBER.finditer(text)]


def percentages_in(text: str) -> list[Fraction]:
    """The value of every numeral written as a percentage ("15%", "15 percent"), without the sign."""
    return [parse_numeral(m.group(1)) for m in _PERCENTAGE.finditer(text)]


def parse_numeral(numeral: str) -> Fraction:
    """The value of a numeral as this module writes and reads them ("-1,234.5")."""
    return Fraction(numeral.replace(",", ""))


def render(value: Fraction, like: str) -> str:
    """`value` written in the style of the numeral `like`: its decimals and thousands separators."""
    decimals = len(like.split(".")[1]) if "." in like else 0
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    body = f"{abs(rounded):,.{decimals}f}" if "," in like else f"{abs(rounded):.{decimals}f}"
    if like.lstrip("-").startswith(".") and body.startswith("0."):
        body = body[1:]
    return ("-" if rounded < 0 else "") + body


def _wrong_span(text: str, step: Step) -> Span | None:
    if step.written is None:
        return None
    start, end = step.written
    written = text[start:end]
    return first_difference(written, start, render(step.expected, written))


# --- scanning ------------------------------------------------------------------------------


def _runs(text: str) -> list[list[Token]]:
    """Maximal sequences of arithmetic tokens; anything else (a word, a newline) ends a run.

    A run glued to what precedes it (a letter or digit right before it, or a binding word such as
    "of") is skipped: its first number belongs to an expression the checker cannot see.
    """
    runs: list[list[Token]] = []
    position = 0
    while position < len(text):
        if text.startswith(_MATH_DELIMITERS, position):
            position += 2  # not brackets: "\\[ 2 + 3 = 5 \\]" holds the run 2 + 3 = 5
            continue
        run, end = _scan_run(text, position)
        if run and _starts_cleanly(text, run[0].start):
            runs.append(run)
        position = max(end, position + 1)
    return runs


def _scan_run(text: str, position: int, stop: int | None = None) -> tuple[list[Token], int]:
    """The run of tokens from `position` up to `stop` at most (possibly empty), and where
    scanning stopped."""
    stop = len(text) if stop is None else stop
    tokens: list[Token] = []
    while position < stop:
        if text[position] in " \t":
            position += 1
            continue
        skipped = _SKIPPED.match(text, position)
        if skipped:
            position = skipped.end()
            continue
        scanned = _scan_token(text, position)
        if scanned is None:
            break
        new_tokens, position = scanned
        tokens.extend(new_tokens)
    return tokens, position


def _scan_token(text: str, i: int) -> tuple[list[Token], int] | None:
    """The token(s) at `i` and the position after them, or None when `i` ends the run."""
    char = text[i]
    if text.startswith(_MATH_DELIMITERS, i):
        return None
    fraction = _FRACTION.match(text, i)
    if fraction:
        return _scan_fraction(text, fraction)
    for latex, op in _LATEX_OPERATORS.items():
        if text.startswith(latex, i):
            kind = op if op in "()" else "op"
            return [Token(kind, i, i + len(latex), op=op)], i + len(latex)
    number = _scan_number(text, i)
    if number is not None:
        return [number], number.end
    if char in _OPERATORS:
        return [Token("op", i, i + 1, op=_OPERATORS[char])], i + 1
    if char in "xX" and _is_times_sign(text, i):
        return [Token("op", i, i + 1, op="*")], i + 1
    if char in "([{":
        return [Token("(", i, i + 1)], i + 1
    if char in ")]}":
        return [Token(")", i, i + 1)], i + 1
    if char == "=":
        return [Token("=", i, i + 1)], i + 1
    return None


def _scan_number(text: str, i: int) -> Token | None:
    """A number at `i`, with an optional currency sign before and percent sign after.

    A number glued to a letter ("3x", "5th", "60g") is not read: it may be algebra.
    """
    start = i
    for sign in ("\\$", "$"):
        if text.startswith(sign, i) and _NUMBER.match(text, i + len(sign)):
            i += len(sign)
            break
    match = _NUMBER.match(text, i)
    if match is None:
        return None
    end = match.end()
    percent = False
    for sign in ("\\%", "%"):
        if text.startswith(sign, end):
            end, percent = end + len(sign), True
            break
    if end < len(text) and (text[end].isalpha() or text[end] == "_"):
        return None
    value = parse_numeral(match.group())
    return Token("num", start, end, value=value, percent=percent, numeral=match.span())


def _scan_fraction(text: str, match: re.Match[str]) -> tuple[list[Token], int] | None:
    """`\\frac{a}{b}` as `(a) / (b)`; None unless both parts are plain arithmetic."""
    parts = []
    for group in (1, 2):
        tokens, end = _scan_run(text, match.start(group), match.end(group))
        if not tokens or end != match.end(group):
            return None
        parts.append(tokens)
    numerator, denominator = parts
    opening, closing = Token("(", match.start(), match.start()), Token(")", match.end(), match.end())
    divide = Token("op", match.end(1), match.end(1), op="/")
    return [opening, *numerator, closing, divide, opening, *denominator, closing], match.end()


def _is_times_sign(text: str, i: int) -> bool:
    """True for an 'x' used as a multiplication sign: a lone x between two numbers."""
    before, after = text[:i].rstrip(" "), text[i + 1 :].lstrip(" ")
    spaced = text[i - 1 : i] == " " and text[i + 1 : i + 2] == " "
    return spaced and bool(before) and before[-1].isdigit() and bool(after) and after[0].isdigit()


def _starts_cleanly(text: str, start: int) -> bool:
    """True when nothing before `start` can be part of the run's first expression."""
    before = text[:start]
    stripped = before.rstrip(" \t")
    if not stripped:
        return True
    glued = len(stripped) == len(before)
    if glued and (stripped[-1].isalnum() or stripped[-2:-1].isdigit() and stripped[-1] in ",."):
        return False  # glued to a word or number: "x2 + 3", a decimal comma "1,5 + 2 = 3,5"
    last_word = re.search(r"([A-Za-z]+)$", stripped)
    return not (last_word and last_word.group(1).lower() in _BINDING_WORDS)


# --- checking ------------------------------------------------------------------------------


def _check_run(text: str, run: list[Token]) -> list[Step]:
    """The equalities of one run, checked left to right; stops at the first it cannot read.

    "a = b = c" compares neighbours. A side that starts from the previous side's value and goes
    on ("10 - 2 = 8 / 2 = 4", a running calculation) takes over as the new value.
    """
    run = _without_bullet(text, run)
    sides = _split(run, "=")
    if len(sides) < 2 or not sides[0] or not any(t.kind == "op" for t in sides[0]):
        return []  # "50 = 10" (a rate, a unit conversion) is no arithmetic to check
    if sides[0][0].kind == "op" and not _is_sign(text, sides[0][0]):
        return []  # starts with an operator: continues an expression the checker cannot see
    steps = []
    previous = _values(sides[0])
    for side in sides[1:]:
        values = _values(side)
        if not previous or not values:
            break
        step = _compare(text, previous, side)
        if step is None:
            break
        steps.append(step)
        if not step.correct:
            break
        previous = values
    return steps


def _without_bullet(text: str, run: list[Token]) -> list[Token]:
    """The run without a leading list bullet ("- 5 + 3 = 8" is the step 5 + 3 = 8)."""
    first = run[0]
    line_start = text.rfind("\n", 0, first.start) + 1
    is_bullet = (
        first.kind == "op"
        and text[first.start] in _BULLETS
        and not text[line_start : first.start].strip()
        and text[first.end : first.end + 1] == " "
    )
    return run[1:] if is_bullet and len(run) > 1 else run


def _is_sign(text: str, token: Token) -> bool:
    """True for a minus sign glued to the number after it ("-5")."""
    return token.op == "-" and text[token.end : token.end + 1].isdigit()


def _compare(text: str, expected: list[Fraction], side: list[Token]) -> Step | None:
    """Check one right-hand side against the value(s) the left-hand side may have; None when
    the side cannot be read for sure."""
    start, end = side[0].start, side[-1].end
    number = _as_number(text, side)
    if number is not None:
        numeral, percent = number
        if _SCALE_WORD.match(text, end):
            return None
        written = text[numeral[0] : numeral[1]]
        correct = any(_matches(written, percent, e) for e in expected)
        return Step(start, end, expected[0], numeral, correct)
    values = _values(side)
    rewriting = any(v == e for v in values for e in expected)
    first = side[0]
    running = first.kind == "num" and any(
        _matches(text[first.numeral[0] : first.numeral[1]], first.percent, e) for e in expected
    )
    return Step(start, end, expected[0], None, rewriting or running)


def _as_number(text: str, side: list[Token]) -> tuple[Span, bool] | None:
    """The numeral span (with a glued minus sign) and percent flag of a side that is one number."""
    if len(side) == 1 and side[0].kind == "num":
        return side[0].numeral, side[0].percent
    if len(side) == 2 and side[0].kind == "op" and side[1].kind == "num" and _is_sign(text, side[0]):
        return (side[0].start, side[1].numeral[1]), side[1].percent
    return None


def _matches(written: str, percent: bool, expected: Fraction) -> bool:
    """True when the numeral `written` is `expected` as a person would write it: exactly, or
    rounded or cut to the decimals written (a percentage read as /100 or as a unit)."""
    decimals = len(written.split(".")[1]) if "." in written else 0
    for scale in (Fraction(1, 100), Fraction(1)) if percent else (Fraction(1),):
        value = parse_numeral(written) * scale
        # Within one unit of the last digit written: rounded, cut, or rounded up ("7 / 2 = 4 buses").
        if value == expected or abs(value - expected) < scale / 10**decimals:
            return True
    return False


def _split(tokens: list[Token], kind: str) -> list[list[Token]]:
    sides: list[list[Token]] = [[]]
    for token in tokens:
        if token.kind == kind:
            sides.append([])
        else:
            sides[-1].append(token)
    return sides


def _values(side: list[Token]) -> list[Fraction]:
    """The side's value under each reading of its percent signs (/100, or a unit); [] if unreadable."""
    readings = [True, False] if any(t.percent for t in side) else [False]
    values = []
    for scale_percent in readings:
        value = _Evaluator(side, scale_percent).evaluate()
        if value is not None and value not in values:
            values.append(value)
    return values


class _Evaluator:
    """Recursive descent over one side: + - * / ^, unary minus, brackets; exact fractions."""

    def __init__(self, tokens: list[Token], scale_percent: bool) -> None:
        self.tokens = tokens
        self.scale_percent = scale_percent
        self.position = 0

    def evaluate(self) -> Fraction | None:
        """The side's value, or None when it does not parse or divides by zero."""
        try:
            value = self._sum()
        except (_Unreadable, ZeroDivisionError, OverflowError):
            return None
        return value if self.position == len(self.tokens) else None

    def _peek(self, *ops: str) -> bool:
        token = self.tokens[self.position] if self.position < len(self.tokens) else None
        return token is not None and token.kind == "op" and token.op in ops

    def _sum(self) -> Fraction:
        value = self._product()
        while self._peek("+", "-"):
            op = self.tokens[self.position].op
            self.position += 1
            value = value + self._product() if op == "+" else value - self._product()
        return value

    def _product(self) -> Fraction:
        value = self._unary()
        while self._peek("*", "/"):
            op = self.tokens[self.position].op
            self.position += 1
            value = value * self._unary() if op == "*" else value / self._unary()
        return value

    def _unary(self) -> Fraction:
        if self._peek("-", "+"):
            negative = self.tokens[self.position].op == "-"
            self.position += 1
            value = self._unary()
            return -value if negative else value
        return self._power()

    def _power(self) -> Fraction:
        base = self._atom()
        if self._peek("^"):
            self.position += 1
            exponent = self._unary()
            if exponent.denominator != 1 or abs(exponent) > _MAX_EXPONENT:
                raise _Unreadable
            return base ** int(exponent)
        return base

    def _atom(self) -> Fraction:
        if self.position >= len(self.tokens):
            raise _Unreadable
        token = self.tokens[self.position]
        self.position += 1
        if token.kind == "num":
            return token.value / 100 if token.percent and self.scale_percent else token.value
        if token.kind == "(":
            value = self._sum()
            if self.position >= len(self.tokens) or self.tokens[self.position].kind != ")":
                raise _Unreadable
            self.position += 1
            return value
        raise _Unreadable


class _Unreadable(Exception):
    """A side that is not a complete arithmetic expression."""
