"""Collaborative settings side by side: models alone (borrowed across runs), the best one, the deltas."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from test_eval_report import make_record, write_run
from verispec.cli import main
from verispec.errors import ConfigError
from verispec.eval.records import RunManifest, RunSettings, read_records
from verispec.eval.report.settings import compare_settings, load_settings, settings_markdown, settings_plot

TREE = "cosd-tree:tree=trees/s+a.tree.json"


def make_run(root: Path, name: str, draft: str, verifier: str, results: dict[str, str], *,
             assistants: tuple[str, ...] = (), dtype: str = "bf16", answered: dict[str, str] | None = None) -> Path:
    """A run whose ``results`` map each method to the items it got right, out of the items it
    ``answered`` (by default a to d, and any other item a method got right)."""
    every = "".join(sorted({*"abcd", *(i for right in results.values() for i in right)}))
    records = [make_record("math", item, method, correct=item in right, lossless=False)
               for method, right in results.items() for item in (answered or {}).get(method, every)]
    run_dir = write_run(root / name, records)
    settings = RunSettings(draft=draft, verifier=verifier, dtype=dtype, device="cpu", split="eval", seed=0,
                           temperature=0.0, max_new_tokens=None, turns=1, assistants=list(assistants))
    RunManifest(settings, {"math": "math"}, list(results)).save(run_dir / "run.json")
    return run_dir


@pytest.fixture
def runs(tmp_path) -> dict[str, Path]:
    return {
        "two": make_run(tmp_path, "two", "S", "A", {"draft": "a", "verifier": "abc", "cosd-rule": "abcd", TREE: "ab"}),
        "three": make_run(tmp_path, "three", "S", "A", {"draft": "a", "verifier": "abc", "cosd-rule": "abcd"},
                          assistants=("B",)),
        # B alone in a run made in another precision must not stand in for the bf16 settings' B.
        "fp32": make_run(tmp_path, "fp32", "X", "B", {"verifier": ""}, dtype="fp32"),
        "big": make_run(tmp_path, "big", "A", "B", {"verifier": "abcde"}),
    }


def by_setting(rows, setting):
    return {r.row.method: r for r in rows if r.setting == setting}


def test_each_method_is_compared_with_the_settings_best_single_model(runs):
    rows = by_setting(compare_settings(load_settings([runs["two"]])), "two")
    assert list(rows) == ["S alone", "A alone", "cosd-rule", TREE]
    assert [rows[m].best for m in ("S alone", "A alone")] == [False, True]
    assert rows["cosd-rule"].versus_best.difference.estimate == pytest.approx(0.25)
    assert rows[TREE].versus_best.difference.estimate == pytest.approx(-0.25)
    assert rows["A alone"].versus_best is None


def test_a_further_assistant_alone_comes_from_a_comparable_run_on_the_settings_items(runs):
    settings = load_settings([runs["three"], runs["fp32"], runs["big"]])
    rows = by_setting(compare_settings(settings), "three")
    b = rows["B alone"]
    assert (b.source, b.row.items, b.best) == ("big", 4, True)  # item e is not one of this setting's
    assert rows["cosd-rule"].versus_best.difference.estimate == 0.0
    text = settings_markdown(compare_settings(settings), settings)
    assert "- math / three: B alone from big" in text
    assert "| three | B alone | 4 | 100.0% [51.0%, 100.0%] | best single model |" in text
    assert "| three | cosd-rule | 4 | 100.0% [51.0%, 100.0%] | +0.0 [+0.0, +0.0] pp | 1.000 | 10.0 | 1.00× | 1.0 |" in text


def test_every_row_covers_the_items_all_shown_methods_answered(tmp_path):
    answered = {"draft": "abcdef", "verifier": "abcdef", "cosd-rule": "abcd", "sd": "abcde"}
    run = make_run(tmp_path, "one", "S", "A", dict.fromkeys(answered, "a"), answered=answered)
    rows = compare_settings(load_settings([run]))
    assert {r.row.method: r.row.items for r in rows} == {"S alone": 4, "A alone": 4, "cosd-rule": 4, "sd": 4}
    assert {r.row.method: r.row.items for r in compare_settings(load_settings([run]), methods=["sd"])}["A alone"] == 5


def test_of_two_equally_accurate_models_the_faster_is_the_one_to_beat(tmp_path):
    run = make_run(tmp_path, "tie", "S", "A", {"draft": "ab", "verifier": "ab", "cosd-rule": "ab"})
    records = read_records(run / "results.jsonl")
    slower_draft = [replace(r, stats={**r.stats, "total_seconds": 3.0}) if r.method == "draft" else r for r in records]
    write_run(run, slower_draft)
    rows = by_setting(compare_settings(load_settings([run])), "tie")
    assert (rows["S alone"].best, rows["A alone"].best) == (False, True)
    assert (rows["S alone"].row.seconds_per_answer, rows["A alone"].row.seconds_per_answer) == (3.0, 1.0)


def test_a_model_alone_found_nowhere_is_named(runs):
    settings = load_settings([runs["three"]])
    rows = compare_settings(settings)
    assert "B alone" not in by_setting(rows, "three")
    assert "- math / three: no run decoded B alone on these items" in settings_markdown(rows, settings)


def test_methods_narrow_by_label_or_name_and_models_alone_stay(runs):
    settings = load_settings([runs["two"]])
    assert list(by_setting(compare_settings(settings, methods=["cosd-tree"]), "two")) == ["S alone", "A alone", TREE]
    assert list(by_setting(compare_settings(settings, methods=["cosd-rule"]), "two")) == ["S alone", "A alone", "cosd-rule"]
    assert compare_settings(settings, tasks=["code"]) == []


def test_a_run_without_its_manifest_is_refused(runs):
    (runs["two"] / "run.json").unlink()
    with pytest.raises(ConfigError, match="no run.json"):
        load_settings([runs["two"]])


def test_command_prints_and_writes_the_report(runs, tmp_path, capsys):
    out = tmp_path / "settings.md"
    assert main(["report-settings", str(runs["two"]), str(runs["big"]), "--methods", "cosd-rule", "--markdown", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed == out.read_text(encoding="utf-8")
    assert "## math" in printed and "| two | cosd-rule | 4 | 100.0% [51.0%, 100.0%] | +25.0 [" in printed
    assert TREE not in printed


def test_the_plot_draws_every_scored_row_and_skips_unscored_runs(runs, tmp_path):
    pytest.importorskip("matplotlib")
    rows = compare_settings(load_settings([runs["two"], runs["three"], runs["big"]]))
    assert settings_plot(rows, tmp_path / "plots").read_bytes().startswith(b"\x89PNG")
    unscored = [replace(r, row=replace(r.row, accuracy=None)) for r in rows]
    assert settings_plot(unscored, tmp_path / "none") is None
