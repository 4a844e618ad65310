"""Collaborative methods in the eval harness: records with authors, assistants in the settings, the report."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import verispec.eval.tasks as task_registry
from tiny_models import byte_tokenizer, noisy_copy, tiny_model
from verispec.eval.records import RunSettingsMismatchError, read_records
from verispec.eval.report import render_html, summarize
from verispec.eval.report.tables import cells, header
from verispec.eval.runner import RunConfig, run_eval
from verispec.eval.tasks import Score, TaskItem
from verispec.eval.tasks.base import SingleTurnTask
from verispec.methods import Method
from verispec.pipeline import Pipeline

ALWAYS = "cosd-rule:alpha=1.0,beta=1e-09"  # every disagreeing assistant token replaces the draft's (a canonical label)
METHODS = ("verifier", "draft", ALWAYS, "avg")


class EchoTask(SingleTurnTask):
    """Three short questions, scored by whether the answer is non-empty."""

    name = "fake_echo"
    kind = "math"
    default_max_new_tokens = 8

    def _load(self, split):
        return [TaskItem(self.name, f"e{i}", (f"Say {i}.",), None) for i in range(3)]

    def score(self, item: TaskItem, outputs: Sequence[str]) -> Score:
        return Score(bool(outputs[0]), None, "non-empty")


@pytest.fixture(scope="module", autouse=True)
def fake_task():
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(task_registry._TASKS, EchoTask.name, EchoTask)
        yield


@pytest.fixture(scope="module")
def pipeline():
    tokenizer = byte_tokenizer()
    verifier = tiny_model(0)
    return Pipeline(draft=(noisy_copy(verifier, 100, 0.05), tokenizer), verifier=(verifier, tokenizer), dtype="fp32")


def config(out, **changes) -> RunConfig:
    settings = dict(tasks=("fake_echo",), methods=METHODS, out=out, draft="tiny-draft", verifier="tiny-verifier",
                    dtype="fp32", warmup_tokens=2, progress=False)
    return RunConfig(**{**settings, **changes})


@pytest.fixture(scope="module")
def records(tmp_path_factory, pipeline):
    out = tmp_path_factory.mktemp("cosd") / "run"
    run_eval(config(out), pipeline)
    return read_records(out / "results.jsonl")


def test_collaborative_records_keep_authors_and_draft_pieces(records):
    assert Method.parse(ALWAYS).label() == ALWAYS
    by_method = {m: [r for r in records if r.method == m] for m in METHODS}
    for record in by_method[ALWAYS] + by_method["avg"]:
        assert len(record.authors) == len(record.token_ids) == len(record.pieces)
        assert "".join(record.pieces) == record.output
    assert all(r.authors is None for r in by_method["verifier"] + by_method["draft"])
    always = {r.item_id: r.token_ids for r in by_method[ALWAYS]}
    assert always == {r.item_id: r.token_ids for r in by_method["verifier"]}  # same vocabulary, always the assistant
    assert any("assistant1" in r.authors for r in by_method[ALWAYS])


def test_report_table_shows_the_assistant_share_for_collaborative_methods_only(records):
    rows = {row.method: cells(row) for row in summarize(records)}
    column = header("verifier").index("written by assistants")
    assert rows["verifier"][column] == "–"
    assert rows[ALWAYS][column].endswith("%")


def test_html_colours_collaborative_samples_by_author_with_a_legend(records):
    page = render_html(summarize(records), records, title="t", baseline="verifier")
    assert 'aria-label="author colours"' in page
    assert 'class="t a-assistant1"' in page and "written by the verifier (assistant 1)" in page
    assert 'class="t p-verifier"' in page  # other methods keep the provenance colours


def test_a_resume_with_other_assistants_is_refused(tmp_path, pipeline):
    out = tmp_path / "run"
    run_eval(config(out, methods=("draft",)), pipeline)
    with pytest.raises(RunSettingsMismatchError, match="assistants: \\[\\] in the run, \\['tiny-third'\\] now"):
        run_eval(config(out, methods=("draft",), assistants=("tiny-third",)), pipeline)


def test_eval_cli_passes_collaborative_methods_and_assistants(monkeypatch, tmp_path):
    from verispec.cli import main

    seen = []
    monkeypatch.setattr("verispec.cli.eval.run_eval", lambda config, argv: seen.append(config) or _Done())
    methods = "verifier,cosd-rule,cosd-tree:tree=runs/t.json,gamma=3,avg,co-llm:classifier=runs/c.json"
    assert main(["eval", "--tasks", "fake_echo", "--methods", methods, "--out", str(tmp_path), "--assistant", "m3"]) == 0
    assert seen[0].methods == ("verifier", "cosd-rule", "cosd-tree:tree=runs/t.json,gamma=3", "avg", "co-llm:classifier=runs/c.json")
    assert seen[0].assistants == ("m3",) and seen[0].settings("torch").assistants == ["m3"]


class _Done:
    generated = resumed = planned = retimed = 0
    out = "out"
