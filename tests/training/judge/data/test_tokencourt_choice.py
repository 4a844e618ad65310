"""Multiple-choice samples: the option letter is the token that is right or wrong."""

from __future__ import annotations

import pytest
from tokencourt_fakes import FakeChoice

from verispec.training.judge.data.choice_source import ChoiceSource, locate_letter
from verispec.training.judge.data.records import Dropped, Sample


@pytest.mark.parametrize(
    ("response", "letter", "start"),
    [("B", "B", 0), ("B. Apple", "B", 0), ("(C) Potato", "C", 1), ("The answer is D.", "D", 14),
     ("Answer: **A**", "A", 10), ("I think option C fits", "C", 15)],
)  # fmt: skip
def test_locate_letter_finds_the_chosen_letter(response: str, letter: str, start: int) -> None:
    assert locate_letter(response, letter, "ABCD") == (start, start + 1)


def test_locate_letter_refuses_unclear_answers() -> None:
    assert locate_letter("A or B? The answer is B", "B", "ABCD") is None  # another letter stands before
    assert locate_letter("Bananas are yellow", "B", "ABCD") is None


def test_references_mark_the_wrong_letter() -> None:
    task = FakeChoice()
    source = ChoiceSource([task])
    for task_, item in source.items(None, 0):
        right, wrong = source.reference(task_, item)
        assert isinstance(right, Sample) and isinstance(wrong, Sample)
        assert right.error_spans == [] and right.response[0] == item.reference.letter
        assert wrong.error_spans == [(0, 1)] and wrong.response[0] != item.reference.letter
        assert task_.score(item, [right.response]).correct and not task_.score(item, [wrong.response]).correct


def test_model_answers() -> None:
    task = FakeChoice()
    source = ChoiceSource([task])
    item = task.items("train")[0]  # the right answer is B
    [good] = source.label(task, item, "B. Apple", "m", "greedy")
    assert isinstance(good, Sample) and good.error_spans == []
    [bad] = source.label(task, item, "The answer is C.", "m", "greedy")
    assert isinstance(bad, Sample) and bad.error_spans == [(14, 15)] and bad.labelled_by == "wrong-option"
    [dropped] = source.label(task, item, "I am not sure.", "m", "greedy")
    assert isinstance(dropped, Dropped)
