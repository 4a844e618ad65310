"""The multiple-choice prompt names exactly the letters a question offers."""

from __future__ import annotations

import pytest

from verispec.eval.tasks.choice import format_question


@pytest.mark.parametrize(
    ("options", "named"), [(["x", "y"], "(A or B)"), (["a", "b", "c", "d", "e"], "(A, B, C, D or E)")]
)
def test_letter_only_prompt_lists_the_letters(options: list[str], named: str) -> None:
    prompt = format_question("Which?", options, reasoned=False)
    assert prompt.endswith(f"Reply with only the letter {named} of the correct option. Do not explain.")
    assert prompt.splitlines()[1:1 + len(options)] == [f"{l}. {o}" for l, o in zip("ABCDE", options)]


def test_reasoned_prompt_asks_for_a_final_answer_line() -> None:
    assert format_question("Which?", ["x", "y"], reasoned=True).endswith("where X is the letter of the correct option.")
