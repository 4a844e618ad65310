"""The grading prompts: MT-Bench's own, chosen by category and turns, filled in verbatim."""

from __future__ import annotations

import pytest

from verispec.errors import ConfigError
from verispec.eval.grading import Conversation, grading_messages, prompt_for
from verispec.eval.tasks import get_task

pytestmark = pytest.mark.data


def user_text(conversation: Conversation) -> str:
    messages = grading_messages(conversation)
    assert [m["role"] for m in messages] == ["system", "user"]
    return messages[1]["content"]


def test_a_general_answer_is_graded_on_its_own():
    conversation = Conversation(("Write a haiku.",), ("Leaves fall {slowly}.",), category="writing")
    assert prompt_for(conversation).name == "single-v1"
    text = user_text(conversation)
    assert "[Question]\nWrite a haiku." in text
    assert "[The Start of Assistant's Answer]\nLeaves fall {slowly}.\n[The End of Assistant's Answer]" in text
    assert "Rating: [[5]]" in text  # the format the rater continues


def test_math_is_graded_against_its_reference_when_there_is_one():
    with_reference = Conversation(("2+2?",), ("5",), category="math", references=("4", "8"))
    assert prompt_for(with_reference).name == "single-math-v1"
    assert "[The Start of Reference Answer]\n4\n[The End of Reference Answer]" in user_text(with_reference)
    without = Conversation(("2+2?",), ("5",), category="math")
    assert prompt_for(without).name == "single-v1"
    assert prompt_for(Conversation(("Hi",), ("Hello",), category="writing", references=("Hey",))).name == "single-v1"


def test_a_second_turn_is_graded_in_its_conversation():
    conversation = Conversation(("2+2?", "And times 3?"), ("4", "12"), category="math", references=("4", "12"))
    assert prompt_for(conversation).name == "single-math-v1-multi-turn"
    messages = grading_messages(conversation)
    assert "second" in messages[0]["content"]  # the instruction is the system message in multi-turn prompts
    text = messages[1]["content"]
    assert "### User:\nAnd times 3?\n\n### Assistant A:\n12" in text
    assert "### Reference answer:\n12" in text


def test_bad_conversations_are_refused():
    with pytest.raises(ConfigError, match="one answer per question"):
        Conversation(("a", "b"), ("x",))
    with pytest.raises(ConfigError, match="at most two turns"):
        Conversation(("a", "b", "c"), ("x", "y", "z"))


def test_mt_bench_references_are_gpt4_answers_for_math_reasoning_and_coding():
    task = get_task("mt_bench")
    items = {item.item_id: item for item in task.items()}
    math = next(i for i in items.values() if i.meta["category"] == "math")
    writing = next(i for i in items.values() if i.meta["category"] == "writing")
    references = task.grading_reference(math)
    assert references is not None and len(references) == 2 and all(references)
    assert task.grading_reference(writing) is None
    with_reference = [i for i in items.values() if task.grading_reference(i)]
    assert {i.meta["category"] for i in with_reference} == {"math", "reasoning", "coding"}
    assert len(with_reference) == 30
