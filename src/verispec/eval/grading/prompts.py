"""What a grader reads: MT-Bench's single-answer grading prompts (FastChat's llm_judge), filled in.

The prompts ship with the MT-Bench data package. Math, reasoning and coding answers are graded
against a reference answer, as MT-Bench does; every other answer on its own. A grader reads at
most two turns, as MT-Bench's multi-turn prompts do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from verispec.errors import ConfigError
from verispec.eval.data import MT_BENCH, package_path, read_jsonl

_PROMPTS_FILE = "fastchat/fastchat/llm_judge/data/judge_prompts.jsonl"
REFERENCE_CATEGORIES = frozenset({"math", "reasoning", "coding"})


@dataclass(frozen=True)
class GradingPrompt:
    """One of MT-Bench's single-answer grading prompts: a system message and a user-message template."""

    name: str
    system: str
    template: str


@dataclass(frozen=True)
class Conversation:
    """The user's questions and the model's answers up to the graded (last) answer, and what grading needs."""

    questions: tuple[str, ...]
    answers: tuple[str, ...]
    category: str | None = None
    references: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.questions or len(self.questions) != len(self.answers):
            raise ConfigError(f"a graded conversation needs one answer per question, got "
                              f"{len(self.questions)} questions and {len(self.answers)} answers")
        if len(self.questions) > 2:
            raise ConfigError(f"graders read at most two turns (MT-Bench's prompts); got {len(self.questions)}")

    @property
    def graded_against_reference(self) -> bool:
        return self.category in REFERENCE_CATEGORIES and bool(self.references) and len(self.references) >= len(self.questions)


@lru_cache(maxsize=1)
def grading_prompts() -> dict[str, GradingPrompt]:
    """MT-Bench's single-answer grading prompts by name (``single-v1``, ``single-math-v1``, their multi-turn forms)."""
    records = read_jsonl(package_path(MT_BENCH, _PROMPTS_FILE))
    return {r["name"]: GradingPrompt(r["name"], r["system_prompt"], r["prompt_template"])
            for r in records if r["type"] == "single"}


def prompt_for(conversation: Conversation) -> GradingPrompt:
    """The prompt MT-Bench grades this conversation with."""
    name = "single-math-v1" if conversation.graded_against_reference else "single-v1"
    if len(conversation.questions) > 1:
        name += "-multi-turn"
    return grading_prompts()[name]


def grading_messages(conversation: Conversation, prompt: GradingPrompt | None = None) -> list[dict[str, str]]:
    """The chat messages a grader reads for the conversation's last answer."""
    prompt = prompt or prompt_for(conversation)
    return [{"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.template.format(**_fields(conversation))}]


def _fields(conversation: Conversation) -> dict[str, str]:
    """Every placeholder the prompts use; a template takes the ones it names."""
    fields = {"question": conversation.questions[0], "answer": conversation.answers[0]}
    fields.update(_numbered("question", conversation.questions))
    fields.update(_numbered("answer", conversation.answers))
    fields.update(_numbered("ref_answer", conversation.references or ()))
    return fields


def _numbered(name: str, values: Sequence[str]) -> dict[str, str]:
    return {f"{name}_{n}": value for n, value in enumerate(values, start=1)}
