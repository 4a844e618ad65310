"""Rollout labels: the draft's token at each disagreement is bad exactly when it changes the answer."""

from __future__ import annotations

import pytest
import torch

from tiny_models import byte_tokenizer, tiny_model
from verispec import Pipeline
from verispec.errors import ConfigError, VocabularyMismatchError
from verispec.eval.tasks.base import Score, TaskItem
from verispec.training.judge.data.records import read_dropped, read_samples
from verispec.training.judge.data.rollouts import CHANGED, KEPT, RolloutConfig, choose_positions, mine_rollouts
from verispec.training.judge.labels import label_tokens
from verispec.training.judge.samples import read_samples as read_judge_samples

ANSWER_TOKENS = 12
RIGHT_CHARS = 6  # the fake task grades an answer by its first characters


def printable_only(model):
    """Only printable ASCII can win the argmax, so every greedy token is one character of text."""
    tokenizer = byte_tokenizer()
    printable = set(tokenizer("".join(map(chr, range(32, 127))), add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        model.lm_head.weight[[i for i in range(model.lm_head.weight.shape[0]) if i not in printable]] = 0.0
        model.lm_head.weight[list(printable)] *= 4.0
    return model


class PrefixTask:
    """Right when the answer starts with ``right_start``, so the answer depends on its first characters only."""

    name = "fake_prefix"
    default_max_new_tokens = ANSWER_TOKENS

    def __init__(self, right_start: str) -> None:
        self.right_start = right_start

    def messages(self, item: TaskItem, turn: int = 0, history=()) -> list[dict[str, str]]:
        return [{"role": "user", "content": item.turns[0]}]

    def score(self, item: TaskItem, outputs) -> Score:
        return Score(outputs[-1].startswith(self.right_start), outputs[-1][:RIGHT_CHARS], "")


class PrefixSource:
    source = "math"
    max_new_tokens = ANSWER_TOKENS

    def __init__(self, task: PrefixTask) -> None:
        self.task = task

    def items(self, limit, seed):
        return [(self.task, TaskItem(self.task.name, f"t{i}", (f"question {i}",), None)) for i in range(2)][:limit]


@pytest.fixture(scope="module")
def pipe():
    tokenizer = byte_tokenizer()
    return Pipeline(draft=(printable_only(tiny_model(1)), tokenizer), verifier=(printable_only(tiny_model(0)), tokenizer), dtype="fp32")


def verifier_answer(pipe, question):
    return pipe.generate([{"role": "user", "content": question}], method="verifier", max_new_tokens=ANSWER_TOKENS).text


def test_a_disagreement_is_bad_exactly_when_it_changes_the_answer(pipe, tmp_path):
    answer = verifier_answer(pipe, "question 0")
    task = PrefixTask(answer[:RIGHT_CHARS])
    config = RolloutConfig(out=tmp_path / "r.jsonl", items=1, mismatches_per_item=ANSWER_TOKENS)
    report = mine_rollouts(config, pipe, sources=[PrefixSource(task)], progress=False)
    assert report.written == len(report.samples) > 0 and report.dropped == 0
    for sample in report.samples:
        position = sample.labels_from
        assert sample.response[:position] == answer[:position] and sample.response[position] != answer[position]
        assert len(sample.response) == position + 1  # one drafted character after the verifier's text
        changed = position < RIGHT_CHARS
        assert sample.labelled_by == (CHANGED if changed else KEPT)
        assert sample.error_spans == ([(position, position + 1)] if changed else [])
    assert {s.labelled_by for s in report.samples} == {KEPT, CHANGED}  # both kinds occur with these seeds
    (card,) = [p for p in tmp_path.iterdir() if p.name == "r.card.md"]
    assert "rollout:answer-changed" in card.read_text()


def test_only_the_drafted_token_is_labelled_when_training_reads_the_samples(pipe, tmp_path):
    task = PrefixTask(verifier_answer(pipe, "question 0")[:RIGHT_CHARS])
    config = RolloutConfig(out=tmp_path / "r.jsonl", items=1, mismatches_per_item=3)
    mine_rollouts(config, pipe, sources=[PrefixSource(task)], progress=False)
    for sample in read_judge_samples([config.out]):
        labels = label_tokens(pipe.verifier.tokenizer, sample.response, sample.error_start, sample.labels_from)
        assert labels.context == sample.labels_from and labels.good == [sample.error_start is None]


def test_a_rerun_skips_mined_items_and_wrong_answers_are_dropped(pipe, tmp_path):
    config = RolloutConfig(out=tmp_path / "r.jsonl", items=2, mismatches_per_item=2)
    wrong = PrefixTask("\u2603")  # no answer of printable ASCII starts with a snowman
    first = mine_rollouts(config, pipe, sources=[PrefixSource(wrong)], progress=False)
    assert first.written == 0 and first.dropped == 2
    assert {d["reason"] for d in read_dropped(config.out)} == {"the verifier's own answer is wrong"}
    again = mine_rollouts(config, pipe, sources=[PrefixSource(wrong)], progress=False)
    assert again.written == again.dropped == 0 and read_samples(config.out) == []


def test_sources_take_turns_so_a_short_run_has_some_of_each(pipe, tmp_path):
    math, code = PrefixSource(PrefixTask("\u2603")), PrefixSource(PrefixTask("\u2603"))
    code.source, code.task.name = "code", "fake_code"
    mine_rollouts(RolloutConfig(out=tmp_path / "r.jsonl", items=2), pipe, sources=[math, code], progress=False)
    assert [(d["source"], d["id"].split("::")[1]) for d in read_dropped(tmp_path / "r.jsonl")] == [
        ("math", "t0"), ("code", "t0"), ("math", "t1"), ("code", "t1"),
    ]


def test_the_time_budget_leaves_items_for_the_next_run(pipe, tmp_path):
    config = RolloutConfig(out=tmp_path / "r.jsonl", items=2, time_budget_s=0)
    report = mine_rollouts(config, pipe, sources=[PrefixSource(PrefixTask(""))], progress=False)
    assert report.items_left == 2 and report.written == 0


def test_bad_configurations_are_refused(pipe, tmp_path):
    with pytest.raises(ConfigError, match="choose sources from math, code"):
        RolloutConfig(sources=("choice",))
    with pytest.raises(ConfigError, match="at least 1"):
        RolloutConfig(mismatches_per_item=0)
    other = byte_tokenizer()
    other.add_tokens(["<extra>"])
    mixed = Pipeline(draft=(tiny_model(1), other), verifier=(tiny_model(0), byte_tokenizer()), dtype="fp32")
    with pytest.raises(VocabularyMismatchError, match="must share one vocabulary"):
        mine_rollouts(RolloutConfig(out=tmp_path / "r.jsonl"), mixed, sources=[], progress=False)


def test_positions_are_a_stable_choice_in_order():
    chosen = choose_positions(range(100), 5, "seed:task:item")
    assert chosen == sorted(chosen) == choose_positions(range(100), 5, "seed:task:item") and len(set(chosen)) == 5
    assert choose_positions([3, 1], 5, "k") == [1, 3]
