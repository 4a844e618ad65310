"""`verispec eval --dry-run`: what a run has done and has left, without loading a model."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

import verispec.eval.tasks as task_registry
from tiny_models import byte_tokenizer, noisy_copy, tiny_model
from verispec.cli import main
from verispec.eval.records import RunSettingsMismatchError
from verispec.eval.remaining import RemainingRow, format_remaining, remaining_work
from verispec.eval.runner import RunConfig, run_eval
from verispec.eval.tasks import Score, TaskItem
from verispec.eval.tasks.base import SingleTurnTask
from verispec.pipeline import Pipeline


class EchoTask(SingleTurnTask):
    """Four items, scored by a deterministic rule on the answer's length."""

    name = "fake_echo"
    kind = "math"
    default_max_new_tokens = 6

    def _load(self, split):
        return [TaskItem(self.name, f"e{i}", (f"Repeat {i}.",), None) for i in range(4)]

    def score(self, item: TaskItem, outputs: Sequence[str]) -> Score:
        return Score(len(outputs[0]) % 2 == 0, None, "even length")


@pytest.fixture(autouse=True)
def echo_task(monkeypatch):
    monkeypatch.setitem(task_registry._TASKS, EchoTask.name, EchoTask)


def config(out: Path, methods: tuple[str, ...] = ("verifier", "sd"), **changes) -> RunConfig:
    settings = dict(tasks=("fake_echo",), methods=methods, out=out, draft="tiny-draft", verifier="tiny-verifier",
                    dtype="fp32", limit=3, warmup_tokens=0, progress=False)
    return RunConfig(**{**settings, **changes})


@pytest.fixture(scope="module")
def pipeline():
    verifier = tiny_model(0)
    return Pipeline(draft=(noisy_copy(verifier, 1, 0.01), byte_tokenizer()), verifier=(verifier, byte_tokenizer()),
                    dtype="fp32")


def test_a_new_run_has_everything_pending_and_nothing_is_written(tmp_path):
    rows = remaining_work(config(tmp_path / "run"))
    assert [(r.method, r.planned, r.done, r.pending, r.seconds_left) for r in rows] == [
        ("verifier", 3, 0, 3, None), ("sd", 3, 0, 3, None)]
    assert not (tmp_path / "run").exists()


def set_timings(run_dir: Path, timings: Sequence[tuple[float, float]]) -> None:
    """Give the run's records these (seconds, others' CPU share), so no test depends on the machine's load."""
    path = run_dir / "results.jsonl"
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for line, (seconds, share) in zip(lines, timings, strict=True):
        line["timing"].update(generate_seconds=seconds, others_cpu_share=share)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def test_done_samples_are_counted_and_time_the_rest(tmp_path, pipeline):
    run_dir = tmp_path / "run"
    run_eval(config(run_dir, methods=("verifier",)), pipeline)
    set_timings(run_dir, [(1.0, 0.0), (2.0, 0.05), (6.0, 0.0)])
    rows = {r.method: r for r in remaining_work(config(run_dir, methods=("verifier", "sd"), limit=4))}
    assert (rows["verifier"].done, rows["verifier"].pending) == (3, 1)
    assert (rows["verifier"].seconds_per_sample, rows["verifier"].seconds_left) == (3.0, 3.0)
    assert (rows["sd"].done, rows["sd"].pending, rows["sd"].seconds_left) == (0, 4, None)


def test_a_packed_run_is_read_as_the_plain_one(tmp_path, pipeline):
    run_dir = tmp_path / "run"
    run_eval(config(run_dir, methods=("verifier",)), pipeline)
    set_timings(run_dir, [(1.0, 0.0), (2.0, 0.0), (6.0, 0.0)])
    results = run_dir / "results.jsonl"
    (run_dir / "results.jsonl.gz").write_bytes(gzip.compress(results.read_bytes()))
    results.unlink()
    row = remaining_work(config(run_dir, methods=("verifier",), limit=4))[0]
    assert (row.done, row.pending, row.seconds_left) == (3, 1, 3.0)


def test_disturbed_samples_do_not_count_for_the_estimate(tmp_path, pipeline):
    run_dir = tmp_path / "run"
    run_eval(config(run_dir, methods=("verifier",)), pipeline)
    set_timings(run_dir, [(1000.0, 0.9), (2.0, 0.0), (4.0, 0.1)])
    assert remaining_work(config(run_dir, methods=("verifier",)))[0].seconds_per_sample == 3.0


def test_samples_to_retime_count_as_pending(tmp_path, pipeline):
    run_dir = tmp_path / "run"
    run_eval(config(run_dir, methods=("verifier",)), pipeline)
    set_timings(run_dir, [(1.0, 0.0), (3.0, 0.5), (2.0, 0.0)])
    assert remaining_work(config(run_dir, methods=("verifier",)))[0].pending == 0
    row = remaining_work(config(run_dir, methods=("verifier",), retime=True))[0]
    assert (row.done, row.pending, row.seconds_left) == (2, 1, 1.5)


def test_other_settings_are_refused_as_a_real_run_would(tmp_path, pipeline):
    run_eval(config(tmp_path / "run", methods=("verifier",)), pipeline)
    with pytest.raises(RunSettingsMismatchError, match="dtype"):
        remaining_work(config(tmp_path / "run", dtype="bf16"))


def test_table_totals_known_time_and_counts_untimed_samples():
    rows = [RemainingRow("t", "verifier", 10, 4, 30.0), RemainingRow("t", "sd", 10, 10, 12.0),
            RemainingRow("t", "judge", 10, 0, None)]
    text = format_remaining(rows)
    assert "3 min 00 s" in text.splitlines()[1]
    assert text.splitlines()[2].split()[-1] == "done"
    assert text.splitlines()[-1] == ("16 samples pending, about 3 min 00 s for the 6 of timed methods, 10 of methods "
                                     "with no timing in this run yet")
    assert format_remaining(rows[1:2]).splitlines()[-1] == "nothing pending"


def test_cli_dry_run_loads_no_model(tmp_path, capsys):
    # The model names do not exist: loading either would fail.
    argv = ["eval", "--tasks", "fake_echo", "--methods", "verifier,sd", "--limit", "2", "--out", str(tmp_path / "run"),
            "--draft", "no-such-draft", "--verifier", "no-such-verifier", "--dry-run"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "4 samples pending" in out and "fake_echo" in out
    assert not (tmp_path / "run").exists()
