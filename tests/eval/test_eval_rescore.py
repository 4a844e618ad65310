"""`verispec rescore`: stale scores brought up to date from the stored text, nothing else touched."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from test_eval_report import make_record

import verispec.eval.tasks as task_registry
from verispec.cli import main
from verispec.errors import ConfigError
from verispec.eval.records import RESULTS_FILE, RunManifest, RunSettings, SampleRecord, read_records
from verispec.eval.rescore import RunChangedError, rescore_run
from verispec.eval.tasks import Score, TaskItem
from verispec.eval.tasks.gsm8k import Gsm8k

GOLD = {"a": "15", "b": "7", "c": "3"}


class TinyGsm8k(Gsm8k):
    """GSM8K's scorer on three hand-made items, so no data package is needed."""

    name = "tiny_gsm8k"

    def _load(self, split):
        return [TaskItem(self.name, item_id, (f"Question {item_id}",), gold) for item_id, gold in GOLD.items()]


class TurnCount(TinyGsm8k):
    """Correct when the scorer is given the answers of both turns."""

    name = "turn_count"

    def score(self, item: TaskItem, outputs: Sequence[str]) -> Score:
        return Score(len(outputs) == 2, str(len(outputs)), " | ".join(outputs))


@pytest.fixture(autouse=True)
def tiny_tasks(monkeypatch):
    for task in (TinyGsm8k, TurnCount):
        monkeypatch.setitem(task_registry._TASKS, task.name, task)


def answer(item_id: str, text: str, stored: dict | None, method: str = "verifier", task: str = "tiny_gsm8k") -> SampleRecord:
    """A record of `text` with the score an older scorer stored for it."""
    return dataclasses.replace(make_record(task, item_id, method), output=text, score=stored)


def make_run(run_dir: Path, lines: list[str], tasks: Sequence[str] = ("tiny_gsm8k",)) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = RunSettings(draft="d", verifier="v", dtype="fp32", device="cpu", split="eval", seed=0,
                           temperature=0.0, max_new_tokens=None, turns=1)
    RunManifest(settings, tasks={name: name for name in tasks}).save(run_dir / "run.json")
    (run_dir / RESULTS_FILE).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return run_dir


# Scores as the scorer before this one stored them: the first number of "Answer: 20 - 5 = 15".
STALE = answer("a", "Answer: 20 - 5 = 15", {"correct": False, "extracted": "20", "detail": "20 vs gold 15"})
CURRENT = answer("b", "#### 7", {"correct": True, "extracted": "7", "detail": "7 vs gold 7"})
UNSCORED = answer("c", "no score kept", None)


def test_rescore_rewrites_only_the_stale_scores(tmp_path):
    broken = '{"task": "tiny_gsm8k", "half-writ'
    run = make_run(tmp_path / "run", [STALE.to_json(), broken, CURRENT.to_json(), UNSCORED.to_json()])
    before = (run / RESULTS_FILE).read_text(encoding="utf-8").split("\n")

    result = rescore_run(run)

    after = (run / RESULTS_FILE).read_text(encoding="utf-8").split("\n")
    assert result.written and result.scored == 2 and len(result.changes) == 1 and len(result.flips) == 1
    assert result.changes[0].after == {"correct": True, "extracted": "15", "detail": "15 vs gold 15"}
    assert len(after) == len(before) and after[1:] == before[1:]  # the broken line and the others, byte for byte
    assert json.loads(after[0]) == {**json.loads(before[0]), "score": result.changes[0].after}
    with pytest.warns(UserWarning, match="broken record"):
        records = read_records(run / RESULTS_FILE)
    assert [(r.item_id, r.correct) for r in records] == [("a", True), ("b", True), ("c", None)]
    assert sorted(p.name for p in run.iterdir()) == ["results.jsonl", "run.json"]  # no temporary file left


def test_a_second_rescore_changes_nothing(tmp_path):
    run = make_run(tmp_path / "run", [STALE.to_json(), CURRENT.to_json()])
    rescore_run(run)
    content = (run / RESULTS_FILE).read_bytes()
    result = rescore_run(run)
    assert not result.changes and not result.written and (run / RESULTS_FILE).read_bytes() == content


def test_dry_run_reports_and_writes_nothing(tmp_path):
    run = make_run(tmp_path / "run", [STALE.to_json()])
    content = (run / RESULTS_FILE).read_bytes()
    result = rescore_run(run, dry_run=True)
    assert len(result.changes) == 1 and not result.written
    assert (run / RESULTS_FILE).read_bytes() == content


def test_only_the_tasks_asked_for_are_rescored(tmp_path):
    other = answer("a", "Answer: 20 - 5 = 15", {"correct": False, "extracted": "1", "detail": "x"}, task="turn_count")
    run = make_run(tmp_path / "run", [STALE.to_json(), other.to_json()], tasks=("tiny_gsm8k", "turn_count"))
    result = rescore_run(run, ["turn_count"])
    assert [(c.task, c.after["detail"]) for c in result.changes] == [("turn_count", "Answer: 20 - 5 = 15")]
    assert read_records(run / RESULTS_FILE)[0].score == STALE.score


def test_later_turns_are_scored_with_the_answers_in_their_prompt(tmp_path):
    second = dataclasses.replace(
        answer("a", "second answer", {"correct": False, "extracted": "1", "detail": "?"}, task="turn_count"),
        turn=1, prompt=[{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "first answer"},
                        {"role": "user", "content": "Q2"}],
    )
    run = make_run(tmp_path / "run", [second.to_json()], tasks=("turn_count",))
    assert rescore_run(run).changes[0].after == {"correct": True, "extracted": "2", "detail": "first answer | second answer"}


def test_a_file_that_grows_meanwhile_is_not_replaced(tmp_path, monkeypatch):
    run = make_run(tmp_path / "run", [STALE.to_json()])
    late = CURRENT.to_json() + "\n"
    score = TinyGsm8k.score

    def score_while_a_run_appends(self, item, outputs):
        with open(run / RESULTS_FILE, "a", encoding="utf-8") as handle:  # what a running `verispec eval` does
            handle.write(late)
        return score(self, item, outputs)

    monkeypatch.setattr(TinyGsm8k, "score", score_while_a_run_appends)
    with pytest.raises(RunChangedError, match="changed while it was rescored"):
        rescore_run(run)
    assert (run / RESULTS_FILE).read_text(encoding="utf-8") == STALE.to_json() + "\n" + late
    assert sorted(p.name for p in run.iterdir()) == ["results.jsonl", "run.json"]


def test_a_run_without_manifest_or_task_is_refused(tmp_path):
    run = make_run(tmp_path / "run", [STALE.to_json()])
    with pytest.raises(ConfigError, match="no task 'mmlu'"):
        rescore_run(run, ["mmlu"])
    (run / "run.json").unlink()
    with pytest.raises(ConfigError, match="no run.json"):
        rescore_run(run)


def test_an_item_the_task_no_longer_has_is_an_error(tmp_path):
    run = make_run(tmp_path / "run", [answer("zz", "#### 1", {"correct": True, "extracted": "1", "detail": ""}).to_json()])
    with pytest.raises(ConfigError, match="no item 'zz'"):
        rescore_run(run)


def test_cli_prints_each_change(tmp_path, capsys):
    run = make_run(tmp_path / "run", [STALE.to_json(), CURRENT.to_json()])
    assert main(["rescore", str(run), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert out == "tiny_gsm8k a verifier: '20' wrong -> '15' correct\n"
    assert "2 samples scored again; 1 scores would change (dry run), 1 of them" in err
    assert main(["rescore", str(run)]) == 0
    assert read_records(run / RESULTS_FILE)[0].correct is True
