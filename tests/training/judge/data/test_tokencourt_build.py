"""The builder end to end on tiny in-memory tasks: what it writes, resuming, the card, leaks."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from tokencourt_fakes import CLIP, FakeChoice, FakeGsm8k, FakeMbpp, ScriptedModel

from verispec.errors import JudgeDataError
from verispec.training.judge.data.build import BuildConfig, build, check_no_eval_items
from verispec.training.judge.data.card import card_paths
from verispec.training.judge.data.chat_source import ChatSource
from verispec.training.judge.data.choice_source import ChoiceSource
from verispec.training.judge.data.code_source import CodeSource, fenced
from verispec.training.judge.data.generation import cache_path
from verispec.training.judge.data.math_source import MathSource
from verispec.training.judge.data.records import Sample, read_dropped, read_samples

PROMPTS = [("hello", "Say hello."), ("sum", "What is 2 + 2?")]


def answer(prompt: str) -> str:
    """A scripted model: right on one math problem, a slip on the other, and so on."""
    if "lollipops" in prompt:
        return "30 - 2 = 28 lollipops, and 28 / 2 = 14 bags.\n#### 14"
    if "pen costs" in prompt:
        return "4 * 3 = 13 dollars.\n#### 13"
    if "clip" in prompt:
        return fenced(CLIP)
    if "fruit" in prompt or "colour" in prompt:
        return "C"
    if "2 + 2" in prompt:
        return "Sure: 2 + 2 = 5."
    return "Hello there!"


def sources() -> list:
    return [
        MathSource(task=FakeGsm8k()),
        CodeSource([FakeMbpp()], corruptions_per_item=1),
        ChoiceSource([FakeChoice()]),
        ChatSource(prompts=PROMPTS),
    ]


def config(tmp_path, **options) -> BuildConfig:
    every = {"math": None, "code": None, "choice": None, "chat": None}
    defaults = {"out": tmp_path / "d.jsonl", "models": ("scripted",), "model_items": every}
    defaults["hand_checked"] = tmp_path / "none.jsonl"
    return BuildConfig(**{**defaults, **options})


def test_build_writes_every_source_resumes_and_counts_right(tmp_path) -> None:
    model = ScriptedModel("scripted", answer)
    report = build(config(tmp_path), sources(), [model], progress=False)
    samples = read_samples(tmp_path / "d.jsonl")
    assert len({s.id for s in samples}) == len(samples) == report.written
    labels = Counter((s.model, s.labelled_by) for s in samples)
    assert labels[("reference", "final-answer-correct")] == 2 and labels[("reference", "corruption:number")] == 2
    assert labels[("scripted", "final-answer-correct")] == 1 and labels[("scripted", "arithmetic-recheck")] == 2
    assert labels[("reference", "tests-pass")] == 1 and labels[("scripted", "tests-pass")] == 1
    assert labels[("scripted", "wrong-option")] == 2 and labels[("scripted", "chat-model-response")] == 1
    pen = next(s for s in samples if s.model == "scripted" and "pen" in s.messages[0]["content"])
    assert pen.response[slice(*pen.error_spans[0])] == "3"  # 13 for 12: the "1" is right
    assert model.calls == 2 + 1 + 2 + 2  # every item answered once

    again = build(config(tmp_path), sources(), [model], progress=False)
    assert (again.written, again.dropped, again.responses, model.calls) == (0, 0, 0, 7)
    assert read_samples(tmp_path / "d.jsonl") == samples

    # The card counts what the files hold.
    card = json.loads(card_paths(tmp_path / "d.jsonl")[1].read_text())
    assert card["samples"] == len(samples) and card["bad"] == sum(s.is_bad for s in samples)
    assert sum(row["count"] for row in card["by_label"]) == len(samples)
    dropped = read_dropped(tmp_path / "d.jsonl")
    assert sum(row["count"] for row in card["dropped"]) == len(dropped)
    for source in ("math", "code", "choice", "chat"):
        mine = [s for s in samples if s.source == source]
        assert card["by_source"][source]["samples"] == len(mine)
        assert card["by_source"][source]["bad"] == sum(s.is_bad for s in mine)
        assert card["by_source"][source]["dropped"] == sum(d["source"] == source for d in dropped)
    assert "# Data card: d.jsonl" in card_paths(tmp_path / "d.jsonl")[0].read_text()


def test_a_rebuild_takes_responses_from_the_cache(tmp_path) -> None:
    build(config(tmp_path), sources(), [ScriptedModel("scripted", answer)], progress=False)
    first = read_samples(tmp_path / "d.jsonl")
    (tmp_path / "d.jsonl").unlink()
    (tmp_path / "d.dropped.jsonl").unlink(missing_ok=True)
    model = ScriptedModel("scripted", lambda prompt: "never asked")
    build(config(tmp_path), sources(), [model], progress=False)
    assert model.calls == 0 and cache_path(tmp_path / "d.jsonl").exists()
    assert sorted(first, key=lambda s: s.id) == sorted(read_samples(tmp_path / "d.jsonl"), key=lambda s: s.id)


def test_a_spent_time_budget_stops_generation_but_not_references(tmp_path) -> None:
    model = ScriptedModel("scripted", answer)
    report = build(config(tmp_path, time_budget_s=-1.0), sources(), [model], progress=False)
    assert model.calls == 0 and report.jobs_left == 7
    assert {s.model for s in read_samples(tmp_path / "d.jsonl")} == {"reference"}
    assert "time budget" in card_paths(tmp_path / "d.jsonl")[0].read_text()


def test_no_models_and_item_limits(tmp_path) -> None:
    limits = {"math": 1, "code": 1, "choice": 1, "chat": 0}
    report = build(config(tmp_path, models=(), reference_items=limits), sources(), [], progress=False)
    assert report.responses == 0
    assert Counter(s.source for s in report.samples) == {"math": 2, "code": 2, "choice": 2}


def test_the_trainer_reads_the_records(tmp_path) -> None:
    samples_module = pytest.importorskip("verispec.training.judge.samples")
    build(config(tmp_path), sources(), [ScriptedModel("scripted", answer)], progress=False)
    mine = {s.id: s for s in read_samples(tmp_path / "d.jsonl")}
    for read in samples_module.read_samples([tmp_path / "d.jsonl"]):
        expected = mine[read.id].error_spans[0][0] if mine[read.id].is_bad else None
        assert read.error_start == expected and read.response == mine[read.id].response


def test_tiny_real_model_generates_through_the_pipeline(tmp_path) -> None:
    from tiny_models import byte_tokenizer, tiny_model

    from verispec.training.judge.data.generation import PipelineGenerator

    generator = PipelineGenerator("tiny", model=(tiny_model(0), byte_tokenizer()), dtype="fp32")
    cfg = config(tmp_path, models=("tiny",), sources=("chat",), max_new_tokens={"chat": 8})
    report = build(cfg, [ChatSource(max_new_tokens=8, prompts=PROMPTS)], [generator], progress=False)
    assert report.responses == 2
    assert all(s.model == "tiny" and s.source == "chat" for s in report.samples)


@pytest.mark.data
def test_an_evaluation_item_is_refused() -> None:
    from verispec.eval import get_task

    def sample(item_id: str) -> Sample:
        return Sample(item_id, "math", "gsm8k", item_id, [{"role": "user", "content": "q"}], "a", "m", [], "t")

    check_no_eval_items([sample("not-an-item")])
    eval_id = get_task("gsm8k").items("eval", limit=1)[0].item_id
    with pytest.raises(JudgeDataError, match="evaluation split"):
        check_no_eval_items([sample(eval_id)])


@pytest.mark.data
def test_a_real_build_uses_training_items_only_with_the_tasks_prompts(tmp_path) -> None:
    from verispec.eval import get_task

    limits = {"math": 4, "code": 2, "choice": 3, "chat": 0}
    cfg = config(tmp_path, models=(), reference_items=limits, corruptions_per_code_item=1)
    report = build(cfg, None, [], progress=False)
    assert {s.task for s in report.samples} == {"gsm8k", "mbpp", "mmlu", "arc_challenge"}
    for task_name in ("gsm8k", "mbpp", "mmlu", "arc_challenge"):
        task = get_task(task_name)
        train = {i.item_id: i for i in task.items("train")}
        evaluation = {i.item_id for i in task.items("eval")}
        used = [s for s in report.samples if s.task == task_name]
        assert {s.item_id for s in used} <= set(train) and evaluation.isdisjoint(s.item_id for s in used)
        assert all(s.messages == task.messages(train[s.item_id]) for s in used)
