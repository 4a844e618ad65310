"""`verispec report --by-category`: a row per category beside the whole task, categories from the data."""

from __future__ import annotations

from pathlib import Path

import pytest

import verispec.eval.tasks as task_registry
from test_eval_report import make_record, write_run
from verispec.cli import main
from verispec.errors import ConfigError
from verispec.eval.records import RunManifest, RunSettings
from verispec.eval.report import load_report
from verispec.eval.tasks import TaskItem
from verispec.eval.tasks.chat import QuestionsTask

CATEGORIES = {"q1": "writing", "q2": "coding", "q3": "writing", "q4": "coding"}


class CategoryChat(QuestionsTask):
    """Unscored chat whose questions carry a category, like MT-Bench's."""

    name = "fake_categories"
    train_fraction = 0.0

    def question_file(self) -> Path:
        raise AssertionError("items come from _load")

    def _load(self, split):
        return [TaskItem(self.name, i, ("Hi",), None, meta={"category": c}) for i, c in CATEGORIES.items()]


class PlainChat(CategoryChat):
    """The same questions without categories."""

    name = "plain"

    def _load(self, split):
        return [TaskItem(self.name, i, ("Hi",), None) for i in CATEGORIES]


@pytest.fixture(autouse=True)
def category_task(monkeypatch):
    for task in (CategoryChat, PlainChat):
        monkeypatch.setitem(task_registry._TASKS, task.name, task)


def category_run(run_dir: Path, tasks: dict[str, str]) -> Path:
    """Verifier at 10 tokens/s everywhere; sd twice as fast on coding, as fast on writing."""
    records = [
        make_record(task, item, method, tokens=10, correct=None,
                    seconds=0.5 if method == "sd" and CATEGORIES[item] == "coding" else 1.0)
        for task in tasks for item in CATEGORIES for method in ("verifier", "sd")
    ]
    write_run(run_dir, records)
    settings = RunSettings(draft="d", verifier="v", dtype="bf16", device="cpu", split="eval", seed=0,
                           temperature=0.0, max_new_tokens=None, turns=1)
    RunManifest(settings, tasks=tasks, methods=["verifier", "sd"]).save(run_dir / "run.json")
    return run_dir


def test_each_category_gets_rows_after_its_task(tmp_path):
    report = load_report(category_run(tmp_path / "run", {CategoryChat.name: CategoryChat.name}), by_category=True)
    tasks = list(dict.fromkeys(row.task for row in report.rows))
    assert tasks == ["fake_categories", "fake_categories/writing", "fake_categories/coding"]
    speedups = {row.task: row.comparison.speedup for row in report.rows if row.method == "sd"}
    assert speedups["fake_categories/coding"] == pytest.approx(2.0)
    assert speedups["fake_categories/writing"] == pytest.approx(1.0)
    assert speedups["fake_categories"] == pytest.approx(40 / 30)
    assert {row.items for row in report.rows if "/" in row.task} == {2}
    assert len(report.records) == 8  # the token view still shows each sample once


def test_tasks_without_categories_keep_one_row(tmp_path):
    run = category_run(tmp_path / "run", {CategoryChat.name: CategoryChat.name, "plain": "plain"})
    tasks = list(dict.fromkeys(row.task for row in load_report(run, by_category=True).rows))
    assert tasks == ["fake_categories", "fake_categories/writing", "fake_categories/coding", "plain"]


def test_a_run_with_no_categories_says_which_tasks_have_them(tmp_path):
    run = category_run(tmp_path / "run", {"plain": "plain"})
    with pytest.raises(ConfigError, match="no task here has categories.*MT-Bench"):
        load_report(run, by_category=True)
    assert main(["report", str(run), "--by-category"]) == 2


def test_cli_prints_category_rows(tmp_path, capsys):
    run = category_run(tmp_path / "run", {CategoryChat.name: CategoryChat.name})
    assert main(["report", str(run), "--by-category"]) == 0
    assert "| fake_categories/coding | sd |" in capsys.readouterr().out
