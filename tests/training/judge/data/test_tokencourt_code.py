"""Code samples: single-token edits, corruptions kept only when the tests fail, repairs."""

from __future__ import annotations

import pytest
from tokencourt_fakes import CLIP, CLIP_TESTS, FakeMbpp

from verispec.eval.tasks.base import TaskItem
from verispec.eval.tasks.code import CodeReference
from verispec.training.judge.data.code_source import CodeSource, clean_solution, fenced, run_tests
from verispec.training.judge.data.mutations import identifier_mutations, mutations
from verispec.training.judge.data.records import Sample

SOURCE = """def f(a, b):
    if a <= b and a is not None:
        return (a + 1) * b
    return a // b if a not in [10, 0] else True
"""


def test_mutations_change_exactly_their_span() -> None:
    found = mutations(SOURCE)
    kinds = {m.kind for m in found}
    assert kinds == {"operator", "comparison", "constant"}
    for mutation in found:
        edited = mutation.apply(SOURCE)
        start, end = mutation.planted_span()
        assert edited[:start] == SOURCE[:start]  # nothing before the span changed
        assert edited[mutation.start + len(mutation.replacement) :] == SOURCE[mutation.end :]
        edit_end = mutation.start + len(mutation.replacement)
        # the span lies in the edit, or is the character right after a shortened one ("is not" -> "is")
        assert mutation.start <= start < end <= edit_end or (start, end) == (edit_end, edit_end + 1)


@pytest.mark.parametrize(
    ("original", "replacement", "marked"),
    [("<=", "<", "<"), ("+", "-", "-"), ("and", "or", "or"), ("is not", "is", " "), ("10", "11", "1"),
     ("10", "9", "9"), ("//", "/", "/"), ("True", "False", "False"), ("not in", "in", "in")],
)  # fmt: skip
def test_each_edit_marks_its_first_wrong_character(original: str, replacement: str, marked: str) -> None:
    [mutation] = [m for m in mutations(SOURCE) if (m.original, m.replacement) == (original, replacement)][:1]
    start, end = mutation.planted_span()
    assert mutation.apply(SOURCE)[start:end] == marked
    # the repair of the edited text marks the same characters
    repair = next(m for m in mutations(mutation.apply(SOURCE)) if m.start == mutation.start and m.replacement == original)
    assert repair.repaired_span() == (start, end)


def test_unparsable_code_has_no_mutations() -> None:
    assert mutations("def f(:\n") == []


def test_clean_solution_normalises_line_ends_tabs_and_trailing_spaces() -> None:
    assert clean_solution("def f():\r\n\treturn 1  \r\n") == "def f():\n    return 1"


def test_only_corruptions_that_fail_the_tests_are_kept() -> None:
    task = FakeMbpp()
    [item] = task.items("train")
    source = CodeSource([task], corruptions_per_item=10, max_tries=50)
    outcomes = list(source.reference(task, item))
    samples = [o for o in outcomes if isinstance(o, Sample)]
    good = [s for s in samples if not s.is_bad]
    bad = [s for s in samples if s.is_bad]
    assert [s.response for s in good] == [fenced(CLIP)]
    assert bad, "clip has edits that break its tests"
    for sample in bad:
        assert run_tests(sample.response, item.reference, source.limits) == "failed"
        start, _ = sample.error_spans[0]
        assert sample.response[:start] == fenced(CLIP)[:start]  # the text before the span is the reference's
        assert sample.labelled_by.startswith("corruption:")
    # Edits that keep the tests passing exist and were never kept.
    passing = [m for m in mutations(CLIP) if run_tests(fenced(m.apply(CLIP)), item.reference, source.limits) == "passed"]
    assert passing
    assert {fenced(m.apply(CLIP)) for m in passing}.isdisjoint(s.response for s in bad)
    assert len(outcomes) == 12  # the good one, and one sample or drop per corruption slot (10 + 1 identifier)
    assert len(source.reference_ids(task, item)) == 12
    dropped = [o for o in outcomes if not isinstance(o, Sample)]  # 10 slots are more than clip's failing edits
    assert any(o.id.endswith("::identifier-1") for o in dropped)  # clip reads only x, too short to misspell


def test_a_misspelled_variable_that_fails_the_tests_is_a_sample() -> None:
    task = FakeMbpp()
    code = "def clip(value):\n    if value < 10:\n        return value\n    return 10"
    item = TaskItem(task.name, "8", ("Write clip(value).",), CodeReference("clip", "", "", CLIP_TESTS, code))
    source = CodeSource([task], corruptions_per_item=0)
    [good, identifier] = source.reference(task, item)
    assert isinstance(identifier, Sample) and identifier.labelled_by == "corruption:identifier"
    assert run_tests(identifier.response, item.reference, source.limits) == "failed"
    start, end = identifier.error_spans[0]
    assert identifier.response[:start] == fenced(code)[:start] and identifier.response[start:end] == "laue"  # "vlaue"


SUMS = """def sum_product(numbers):
    sum_of_numbers = sum(numbers)
    for number in numbers:
        sum_of_numbers += number
    return sum_of_numbers
"""


@pytest.mark.parametrize(
    ("original", "replacement", "marked"),
    [("sum_of_numbers", "sum_ofNumbers", "Numbers"), ("number", "numbers", "s"), ("numbers", "number", "number"),
     ("number", "nubmer", "bmer")],
)  # fmt: skip
def test_identifier_edits_misspell_a_read_or_read_the_neighbouring_variable(original, replacement, marked) -> None:
    found = [m for m in identifier_mutations(SUMS) if (m.original, m.replacement) == (original, replacement)]
    assert found and all(m.kind == "identifier" for m in found)
    for mutation in found:
        edited = mutation.apply(SUMS)
        start, end = mutation.planted_span()
        assert edited[start:end] == marked and edited[:start] == SUMS[:start]


def test_identifier_edits_leave_bindings_builtins_and_short_names_alone() -> None:
    found = identifier_mutations(SUMS)
    assert {m.original for m in found} == {"numbers", "number", "sum_of_numbers"}  # not sum, not a name being bound
    assert all(SUMS[m.start : m.end] == m.original for m in found)
    assert not any(SUMS[: m.start].endswith(("for ", "    ")) and SUMS[m.end :].startswith(" =") for m in found)
    assert identifier_mutations("def f(:\n") == []


def test_a_failing_answer_is_marked_at_its_earliest_repair() -> None:
    task = FakeMbpp()
    [item] = task.items("train")
    source = CodeSource([task])
    answer = "Here it is:\n\n```python\ndef clip(x):\n    if x < 10:\n        return x\n    return 11\n```\n"
    [sample] = source.label(task, item, answer, "m", "greedy")
    assert isinstance(sample, Sample) and sample.labelled_by == "repair:constant"
    start, end = sample.error_spans[0]
    assert answer[start:end] == "1" and answer[start - 12 : end] == "    return 11"  # 11 -> 10: the 2nd "1"


def test_passing_and_hopeless_answers() -> None:
    task = FakeMbpp()
    [item] = task.items("train")
    source = CodeSource([task])
    [good] = source.label(task, item, fenced(CLIP), "m", "greedy")
    assert isinstance(good, Sample) and good.error_spans == [] and good.labelled_by == "tests-pass"
    [dropped] = source.label(task, item, "```python\ndef clip(x):\n    return 'no'\n```", "m", "greedy")
    assert not isinstance(dropped, Sample) and "no single edit" in dropped.reason
