"""The arithmetic re-check: which steps it reads, and where it marks the first wrong result."""

from __future__ import annotations

import pytest

from verispec.training.judge.data.arithmetic import check_steps, correct_results, first_error, render


def marked(text: str) -> str | None:
    """The text of the first error's span, or None when the text has no error."""
    finding = first_error(text)
    if finding is None:
        return None
    assert finding.span is not None
    start, end = finding.span
    return text[start:end]


@pytest.mark.parametrize(
    ("text", "number", "mark"),
    [
        ("He has 23 - 6 = 17 apples, then 17 * 2 = 36.", "36", "6"),  # 34 written as 36
        ("So 3 * 4 = 12 + 1 = 14 in all.", "14", "4"),  # chained: 12 is right, 13 is not
        ("Total: 1,250 + 50 = 1,400 dollars", "1,400", "400"),  # thousands separators
        ("It costs $1,200 * 15% = $190.", "190", "90"),  # money and percent
        ("2.5 * 3 = 7.6 kg", "7.6", "6"),  # decimals
        ("5 - 8 = -4", "-4", "4"),  # negative results
        ("\\[ 2 \\text{ h} \\times 7 = 15 \\text{ h} \\]", "15", "5"),  # LaTeX with unit labels
        ("\\( \\frac{12}{4} = 4 \\)", "4", "4"),
        ("- 5 + 3 = 9", "9", "9"),  # a list bullet is not a minus sign
        ("The total is **5 + 3 = 9**.", "9", "9"),  # markdown bold
        ("3 x 4 = 13", "13", "3"),  # 'x' as a times sign; the "1" of 13 is right
        ("He pays 4 * $2.50 = $11.00", "11.00", "1.00"),  # 10.00 is right: "1" holds
    ],
)
def test_first_wrong_result_is_marked_from_its_first_wrong_character(text: str, number: str, mark: str) -> None:
    finding = first_error(text)
    assert finding is not None and finding.span is not None
    number_end = text.rindex(number) + len(number)
    assert finding.span == (number_end - len(mark), number_end)


def test_the_first_of_several_errors_is_reported() -> None:
    text = "First 2 + 2 = 4. Then 10 / 4 = 3. Then 7 * 7 = 48."
    assert [s.correct for s in check_steps(text)] == [True, True, False]  # 10 / 4 = 3 passes as rounded
    assert marked(text) == "8"
    assert marked("First 2 + 2 = 5. Then 7 * 7 = 48.") == "5"


@pytest.mark.parametrize(
    "text",
    [
        "48/2 = 24 and 23 - 6 = 17",
        "10 / 3 = 3.33 and 22 / 7 = 3.14",  # rounded to the digits written
        "7 / 2 = 4 buses are needed",  # rounded up
        "100% - 20% = 80%",  # percent as a unit
        "20 / 100 = 0.2 = 20%",  # percent as /100
        "10 - 2 = 8 / 2 = 4",  # a running calculation
        "60 * 4/5 = 240/5 = 48",  # rewriting the same value
        "$32 - $20 = $12 left",
        "120 \u2013 80 - 15 = 25",  # an en dash used as a minus sign
    ],
)
def test_correct_arithmetic_passes(text: str) -> None:
    assert first_error(text) is None
    assert check_steps(text)  # and it was read, not skipped


@pytest.mark.parametrize(
    "text",
    [
        "20% of 50 = 10",  # the left side is not all there
        "He earns 50 = 10 per hour",  # no operator: a rate, not arithmetic
        "3x + 2 = 11",  # algebra
        "3 * 400,000 = 1.2 million",  # a scale word changes the number
        "x = 10 - 2",  # code, not arithmetic with a result
        "count += 1",
        "Steps: 1, 2, 3",
        "1,5 + 2 = 3,5",  # decimal commas
    ],
)
def test_text_it_cannot_read_for_sure_is_skipped(text: str) -> None:
    assert first_error(text) is None


def test_a_wrong_rewritten_expression_is_found_but_not_located() -> None:
    finding = first_error("60 * 4/5 = 250/5 = 50")
    assert finding is not None and finding.span is None


def test_a_result_missing_digits_is_not_located() -> None:
    finding = first_error("30 * 4 = 12 boxes")  # "12" is a prefix of "120": the error is what is missing
    assert finding is not None and finding.span is None


def test_correct_results_lists_numeric_results_only() -> None:
    text = "2 + 3 = 5, and 60 * 4/5 = 240/5 = 48."
    results = [text[s.written[0] : s.written[1]] for s in correct_results(text)]
    assert results == ["5", "48"]


@pytest.mark.parametrize(
    ("value", "like", "expected"), [(24, "26", "24"), (1200, "1,250", "1,200"), (3.5, "3.25", "3.50"), (-4, "-3", "-4")]
)
def test_render_writes_a_value_like_the_written_number(value: float, like: str, expected: str) -> None:
    from fractions import Fraction

    assert render(Fraction(value), like) == expected
