"""Math samples: worked answers, corruptions of one computed result, model answers."""

from __future__ import annotations

import random

from tokencourt_fakes import FakeGsm8k

from verispec.training.judge.data.arithmetic import first_error
from verispec.training.judge.data.math_source import MathSource, corrupt_result, is_grounded, reference_response
from verispec.training.judge.data.records import Dropped, Sample

SOLUTION = "Jean has 30 - 2 = <<30-2=28>>28 lollipops\nShe fills 28 / 2 = <<28/2=14>>14 bags\n#### 14"


def source_and_items() -> tuple[MathSource, FakeGsm8k, list]:
    task = FakeGsm8k()
    return MathSource(task=task), task, task.items("train")


def test_reference_response_drops_calculator_annotations() -> None:
    assert reference_response(SOLUTION) == "Jean has 30 - 2 = 28 lollipops\nShe fills 28 / 2 = 14 bags\n#### 14"


def test_a_corruption_changes_one_result_and_marks_exactly_the_change() -> None:
    text = reference_response(SOLUTION)
    changed = set()
    for seed in range(20):
        corruption = corruption_of(text, seed)
        at, old, new = corruption.position, corruption.original, corruption.replacement
        assert corruption.text == text[:at] + new + text[at + len(old) :]  # one number changed, nothing else
        assert text[at : at + len(old)] == old and new != old
        start, end = corruption.span
        assert at <= start < end <= at + len(new)  # the span lies in the new number...
        assert corruption.text[at:start] == old[: start - at]  # ...from its first wrong character
        assert first_error(corruption.text).span == corruption.span
        changed.add(old)
    assert changed == {"28", "14"}  # either computed result may be chosen


def corruption_of(text: str, seed: int):
    corruption = corrupt_result(text, random.Random(seed))
    assert corruption is not None
    return corruption


def test_a_text_with_an_error_is_not_corrupted() -> None:
    assert corrupt_result("2 + 2 = 5, then 3 + 3 = 6", random.Random(0)) is None
    assert corrupt_result("No arithmetic here.", random.Random(0)) is None


def test_references_give_a_good_and_a_corrupted_sample_with_the_task_prompt() -> None:
    source, task, items = source_and_items()
    good, bad = source.reference(task, items[0])
    assert isinstance(good, Sample) and isinstance(bad, Sample)
    assert good.error_spans == [] and good.labelled_by == "final-answer-correct"
    assert bad.labelled_by == "corruption:number" and len(bad.error_spans) == 1
    assert good.messages == task.messages(items[0]) and "####" in good.messages[0]["content"]
    assert [good.id, bad.id] == source.reference_ids(task, items[0])


def test_model_answers_are_graded_and_located() -> None:
    source, task, items = source_and_items()
    right = "30 - 2 = 28 lollipops. 28 / 2 = 14 bags.\n#### 14"
    outcomes = list(source.label(task, items[0], right, "m", "greedy"))
    assert [o.labelled_by for o in outcomes] == ["final-answer-correct", "corruption:number"]
    assert outcomes[1].id.endswith("::greedy+corruption")

    slip = "30 - 2 = 28 lollipops. 28 / 2 = 15 bags.\n#### 15"
    [sample] = source.label(task, items[0], slip, "m", "greedy")
    start, end = sample.error_spans[0]
    assert sample.labelled_by == "arithmetic-recheck" and slip[start:end] == "5" and slip[start - 1] == "1"

    lost = "30 + 2 = 32 lollipops. 32 / 2 = 17 bags.\n#### 17"  # 32 is in neither problem nor solution
    [dropped] = source.label(task, items[0], lost, "m", "greedy")
    assert isinstance(dropped, Dropped) and "not in the problem" in dropped.reason

    no_slip = "30 + 2 = 32 lollipops. 32 / 2 = 16 bags.\n#### 16"
    [dropped] = source.label(task, items[0], no_slip, "m", "greedy")
    assert isinstance(dropped, Dropped) and "no arithmetic error" in dropped.reason


def test_grounding_accepts_numbers_from_the_problem_the_solution_and_percentages() -> None:
    assert is_grounded("He pays 20% so 0.2 * 50 = 10 and 28", "Pay 20% of 50", "50 * 0.2 = 10, 28")
    assert not is_grounded("He has 31 apples", "He has 30 apples", "30")


def test_grounding_does_not_scale_every_number_by_100() -> None:
    # Found in the hand check: "400" passed as "4 * 100" although the solution never computes it.
    question = "In the first 4 days, he traveled 200 kilometers every day; then 30% of that."
    solution = "In the first four days, Tom made 4 * 200 = 800 kilometers. 30/100 * 800 = 240"
    assert not is_grounded("So 2 * 200 = 400 kilometers. 400 + 300 = ", question, solution)
    assert is_grounded("So 4 * 200 = 800 and 0.3 * 800 = ", question, solution)


def test_a_right_number_found_only_as_the_last_number_is_not_a_right_answer() -> None:
    # Found in the hand check: "24 years until Adam is 4 feet tall" was graded right (gold 4).
    source, task, items = source_and_items()
    lucky = "Each bag holds 2, so 2 x 12 = 24 bags are needed for 14"  # last number 14 = gold
    assert task.score(items[0], [lucky]).correct
    [dropped] = source.label(task, items[0], lucky, "m", "greedy")
    assert isinstance(dropped, Dropped) and "no stated final answer" in dropped.reason
