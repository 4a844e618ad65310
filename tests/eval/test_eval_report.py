"""Report numbers from hand-made records: intervals, tests, speedup pairing, tables, HTML, plots."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from verispec.cli import main
from verispec.eval.records import BrokenRecordWarning, SampleRecord
from verispec.eval.report import (
    PlotDependencyError,
    check_targets,
    load_report,
    markdown_report,
    mcnemar_exact,
    option_sweeps,
    paired_bootstrap_difference,
    render_html,
    summarize,
    wilson_interval,
    write_plots,
)
from verispec.eval.report.categories import whole_tasks
from verispec.eval.report.plots import (
    pyplot,
    accuracy_vs_speedup,
    sweep_curve,
    beside_curve,
    histograms_by_method,
    label_offsets,
    short_label,
)
from verispec.methods import Method


def make_record(
    task: str,
    item_id: str,
    method: str,
    *,
    tokens: int = 10,
    seconds: float = 1.0,
    correct: bool | None = True,
    token_ids: list[int] | None = None,
    provenance: list[str] | None = None,
    pieces: list[str] | None = None,
    turn: int = 0,
    rounds: int | None = None,
    accepted: int = 0,
    proposed: int = 0,
    histogram: list[int] | None = None,
    lossless: bool | None = None,
) -> SampleRecord:
    """A record as the runner writes it, with only the numbers a test cares about chosen."""
    token_ids = token_ids if token_ids is not None else list(range(tokens))
    rounds = rounds if rounds is not None else len(token_ids)
    pieces = pieces if pieces is not None else [f"t{t} " for t in token_ids]
    return SampleRecord(
        task=task, item_id=item_id, turn=turn, method=method,
        method_config={"name": method.partition(":")[0], "options": {},
                       "lossless": method in ("verifier", "sd") if lossless is None else lossless},
        generation={"max_new_tokens": 64, "temperature": 0.0, "seed": 1},
        prompt=[{"role": "user", "content": f"Question {item_id}?"}],
        output="".join(pieces), token_ids=token_ids, pieces=pieces,
        provenance=provenance or ["verifier"] * len(token_ids), finish_reason="eos",
        stats={"prompt_tokens": 5, "new_tokens": len(token_ids), "rounds": rounds, "proposed": proposed,
               "accepted": accepted, "total_seconds": seconds, "mean_accepted_length": len(token_ids) / rounds if rounds else 0.0,
               "acceptance_rate": accepted / proposed if proposed else None,
               "tokens_per_second": len(token_ids) / seconds, "accepted_histogram": histogram or []},
        timing={"started_at": "2026-01-01T00:00:00+00:00", "generate_seconds": seconds, "score_seconds": 0.0,
                "others_cpu_share": 0.0},
        score=None if correct is None else {"correct": correct, "extracted": None, "detail": "hand-made"},
    )


def write_run(run_dir: Path, records: list[SampleRecord]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.jsonl").write_text("".join(r.to_json() + "\n" for r in records), encoding="utf-8")
    return run_dir


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [(8, 10, 0.4902, 0.9433), (0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (50, 100, 0.4038, 0.5962), (1, 1, 0.2065, 1.0)],
)
def test_wilson_interval_matches_published_values(k, n, low, high):
    interval = wilson_interval(k, n)
    assert interval.estimate == k / n
    assert interval.low == pytest.approx(low, abs=1e-4) and interval.high == pytest.approx(high, abs=1e-4)


def test_wilson_interval_of_nothing_is_none():
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


@pytest.mark.parametrize(("b", "c", "p"), [(0, 0, 1.0), (0, 5, 0.0625), (1, 9, 22 / 1024), (5, 5, 1.0), (3, 1, 0.625)])
def test_exact_mcnemar(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p)


def test_paired_bootstrap_is_exact_when_methods_agree_and_reproducible():
    same = paired_bootstrap_difference([True, False, True], [True, False, True])
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    first, second = [True] * 30 + [False] * 10, [True] * 20 + [False] * 20
    diff = paired_bootstrap_difference(first, second)
    assert diff.estimate == pytest.approx(0.25)
    assert 0.0 < diff.low < 0.25 < diff.high < 0.5
    assert diff == paired_bootstrap_difference(first, second)


def speed_records() -> list[SampleRecord]:
    """Verifier on items a, b, c; sd on a and b only (c unfinished), twice as fast on a and 4× on b."""
    return [
        make_record("math", "a", "verifier", seconds=1.0, correct=True),
        make_record("math", "b", "verifier", seconds=1.0, correct=False),
        make_record("math", "c", "verifier", seconds=2.0, correct=True),
        make_record("math", "a", "sd", seconds=0.5, correct=True, rounds=5, accepted=6, proposed=8, histogram=[1, 2, 2]),
        make_record("math", "b", "sd", seconds=0.25, correct=False, token_ids=[9] * 10, rounds=2, accepted=8, proposed=8,
                    histogram=[0, 0, 0, 0, 2]),
    ]


def test_speedup_pairs_items_both_methods_completed():
    verifier, sd = summarize(speed_records())
    assert (verifier.method, sd.method) == ("verifier", "sd")
    assert verifier.comparison is None and verifier.tokens_per_second == pytest.approx(30 / 4)
    c = sd.comparison
    assert c.paired == 2
    assert c.speedup == pytest.approx((20 / 0.75) / (20 / 2.0))  # item c is left out of the pairing
    assert c.median_speedup == pytest.approx(3.0)  # per item 2× and 4×
    assert sd.tokens_per_second == pytest.approx(20 / 0.75)


def test_acceptance_numbers_add_up_over_samples():
    sd = summarize(speed_records())[1]
    assert sd.mean_accepted_length == pytest.approx(20 / 7)  # 20 tokens over 5 + 2 verifier passes
    assert sd.acceptance_rate == pytest.approx(14 / 16)
    assert sd.accepted_histogram == [1, 2, 2, 0, 2]
    assert sd.mean_new_tokens == 10
    assert sd.mean_rounds == pytest.approx(7 / 2)


def test_relaxed_rules_report_which_test_alone_kept_tokens():
    def judged(item_id, accepted, relaxed, exact_only, stopped_by):
        record = make_record("gsm8k", item_id, "judge", accepted=accepted, proposed=accepted + 2)
        stats = {**record.stats, "provenance_counts": {"exact": accepted - relaxed, "relaxed": relaxed},
                 "exact_only": exact_only, "stopped_by": stopped_by}
        return replace(record, stats=stats)

    older = judged("c", 10, 0, 0, {})
    del older.stats["stopped_by"]  # written before rejections were recorded
    records = [judged("a", 10, 4, 1, {"score": 3, "gate": 1}), judged("b", 30, 6, 0, {"score": 4}), older, *speed_records()]
    rows = {row.method: row for row in summarize(records)}
    assert rows["judge"].disagreement.kept == 50
    assert rows["judge"].disagreement.rule_only == pytest.approx(10 / 50)
    assert rows["judge"].disagreement.exact_only == pytest.approx(1 / 50)
    assert rows["judge"].disagreement.stopped_by == {"score": 7, "gate": 1}
    assert rows["sd"].disagreement is None  # no relaxed test, no column value
    report = markdown_report(list(rows.values()), "verifier", "t")
    assert "| 20.0% / 2.0% |" in report
    assert ("gsm8k / judge: 8 drafted tokens rejected in the 2 of 3 answers that recorded it; first failed check: "
            "score below θ 87.5%, the familiarity gate 12.5%.") in report


def test_disturbed_timings_leave_the_speed_columns_and_are_named():
    def timed(record, share):
        return replace(record, timing={**record.timing, "others_cpu_share": share})

    def unmeasured(record):  # as an older runner wrote it
        return replace(record, timing={k: v for k, v in record.timing.items() if k != "others_cpu_share"})

    records = [
        timed(make_record("gsm8k", "a", "verifier", seconds=2.0), 0.0),
        timed(make_record("gsm8k", "a", "sd", seconds=1.0), 0.02),
        timed(make_record("gsm8k", "b", "verifier", seconds=2.0), 0.0),
        timed(make_record("gsm8k", "b", "sd", seconds=10.0), 0.45),  # another job shared the CPU
        unmeasured(make_record("gsm8k", "c", "verifier", seconds=2.0)),  # no load measurement: kept
        unmeasured(make_record("gsm8k", "c", "sd", seconds=1.0)),
    ]
    verifier, sd = summarize(records)
    assert (sd.disturbed, sd.load_unmeasured, verifier.disturbed) == (1, 1, 0)
    assert sd.tokens_per_second == pytest.approx(20 / 2.0) and sd.comparison.timed == 2
    assert sd.seconds_per_answer == pytest.approx(1.0) and verifier.seconds_per_answer == pytest.approx(2.0)
    assert sd.comparison.speedup == pytest.approx(2.0) and sd.comparison.paired == 3
    report = markdown_report([verifier, sd], "verifier", "t")
    assert "gsm8k / sd: 1 of 3 items left out of the speed columns" in report
    assert "gsm8k / sd: 1 of 3 items were timed without a measurement" in report


def test_retimed_items_are_counted_with_those_whose_tokens_changed():
    def retimed(record, same_tokens):
        replaced = {"started_at": "2025-12-31T00:00:00+00:00", "generate_seconds": 9.0, "others_cpu_share": 0.5,
                    "same_tokens": same_tokens}
        return replace(record, timing={**record.timing, "replaces": replaced})

    records = [make_record("gsm8k", "a", "verifier"), retimed(make_record("gsm8k", "a", "sd"), True),
               make_record("gsm8k", "b", "verifier"), retimed(make_record("gsm8k", "b", "sd"), False),
               make_record("gsm8k", "c", "verifier"), make_record("gsm8k", "c", "sd")]
    verifier, sd = summarize(records)
    assert (verifier.retimed, sd.retimed, sd.retimed_changed) == (0, 2, 1)
    report = markdown_report([verifier, sd], "verifier", "t")
    assert "gsm8k / sd: 2 of 3 items were run again for a clean timing" in report
    assert "1 of them gave other tokens the second time" in report
    assert "gsm8k / verifier: 0 of" not in report


def test_accuracy_identical_outputs_and_differences():
    sd = summarize(speed_records())[1]
    assert (sd.scored, sd.correct) == (2, 1)
    assert sd.accuracy.low == pytest.approx(wilson_interval(1, 2).low)
    c = sd.comparison
    assert (c.identical, c.differing_items) == (1, ("b",))
    assert (c.identical_scored, c.identical_correct, c.identical_baseline_correct) == (1, 1, 1)
    assert c.scored_pairs == 2 and c.difference.estimate == 0.0 and c.mcnemar_p == 1.0


def test_multi_turn_items_fold_their_turns():
    records = [
        make_record("chat", "x", "verifier", turn=0, seconds=1.0, correct=None),
        make_record("chat", "x", "verifier", turn=1, seconds=1.0, correct=None),
        make_record("chat", "x", "sd", turn=0, seconds=0.5, correct=None),
        make_record("chat", "x", "sd", turn=1, seconds=0.5, correct=None),
        make_record("chat", "y", "verifier", turn=0, correct=None),
        make_record("chat", "y", "sd", turn=0, correct=None),
        make_record("chat", "y", "sd", turn=1, correct=None),  # the verifier's turn 1 is missing: not paired
    ]
    verifier, sd = summarize(records)
    assert verifier.accuracy is None and verifier.mean_new_tokens == 15
    assert sd.comparison.paired == 1 and sd.comparison.speedup == pytest.approx(2.0)


def test_differing_items_are_named_in_natural_order():
    records = [make_record("chat", i, m, token_ids=[1] if m == "sd" else [2], correct=None)
               for i in ("100", "81", "9") for m in ("verifier", "sd")]
    assert summarize(records)[1].comparison.differing_items == ("9", "81", "100")


def test_every_task_gets_its_own_rows_in_the_given_order():
    records = speed_records() + [make_record("code", "z", m) for m in ("sd", "verifier")]
    rows = summarize(records, tasks=["code", "math"], methods=["verifier", "sd"])
    assert [(r.task, r.method) for r in rows] == [("code", "verifier"), ("code", "sd"), ("math", "verifier"), ("math", "sd")]


def test_markdown_has_a_row_per_task_and_method_and_names_differing_samples():
    text = markdown_report(summarize(speed_records()), "verifier", "title")
    assert "| math | verifier | 3 | 66.7% [20.8%, 93.9%] | – |" in text
    assert ("| math | sd | 2 | 50.0% [9.5%, 90.5%] | +0.0 [+0.0, +0.0] pp | 1.000 | 1/2 | 100.0% "
            "| 26.7 | 2.67× | 3.00× | 2.86 | 87.5% | 10.0 |") in text
    assert "math / sd: 1 of 2 items differ from verifier (items b)" in text


def test_columns_without_a_value_in_any_row_are_left_out():
    unscored = [replace(r, score=None) for r in speed_records()]
    text = markdown_report(summarize(unscored), "verifier", "t")
    head = text.splitlines()[2]
    assert "accuracy" not in head and "McNemar" not in head and "written by assistants" not in head
    assert head.startswith("| task | method | n | identical | tokens/s |")
    assert "math / sd: 1 of 2 items differ from verifier (items b)." in text  # no accuracy to name
    assert "n: items; identical: items whose tokens equal verifier's; speedup:" in text  # notes on shown columns only
    assert "Wilson" not in text and "McNemar" not in text
    assert "accuracy [95% CI]" in markdown_report(summarize(speed_records()), "verifier", "t")


def test_sampled_lossless_methods_are_not_listed_as_differing():
    records = [replace(r, generation={**r.generation, "temperature": 0.8}) for r in speed_records()]
    text = markdown_report(summarize(records), "verifier", "t")
    assert "math / sd: sampled, so outputs may differ" in text and "(items b)" not in text


def test_lossy_methods_are_not_listed_as_differing():
    records = speed_records() + [make_record("math", "a", "lenient", token_ids=[7] * 10)]
    assert "lenient" not in markdown_report(summarize(records), "verifier", "t").split("## Lossless")[-1]


def test_missing_baseline_is_said():
    text = markdown_report(summarize([make_record("math", "a", "sd")]), "verifier", "t")
    assert "No samples of the baseline 'verifier'" in text


def test_html_shows_tokens_legend_score_and_escapes_text():
    records = [
        make_record("math", "a", "verifier", pieces=["<script>", "alert(1)", "</script>"], token_ids=[1, 2, 3]),
        make_record("math", "a", "sd", pieces=["x & y", " ok", "\n"], token_ids=[4, 5, 6],
                    provenance=["exact", "replaced", "bonus"], correct=False),
    ]
    page = render_html(summarize(records), records, title="Run <1>", baseline="verifier", settings={"dtype": "bf16"})
    assert "<script>" not in page and "&lt;script&gt;" in page and "Run &lt;1&gt;" in page
    assert '<span class="t p-exact" title="#0 id 4: exact">x &amp; y</span>' in page
    assert '<span class="t p-replaced"' in page and '<span class="t p-bonus"' in page
    for label in ("kept by the exact check", "kept only by a judge or rule", "replaced by the verifier", "bonus token"):
        assert label in page
    assert "✓ correct" in page and "✗ wrong" in page and "dtype: bf16" in page


def test_html_chooses_the_same_items_for_every_method_and_prefers_disagreements():
    records = [make_record("math", str(i), m, correct=True) for i in range(6) for m in ("verifier", "sd")]
    records.append(make_record("math", "6", "verifier", correct=True))
    records.append(make_record("math", "6", "sd", correct=False))
    page = render_html(summarize(records), records, title="t", baseline="verifier", samples=2)
    assert page.count("math · item ") == 2 and "math · item 6" in page
    assert page == render_html(summarize(records), records, title="t", baseline="verifier", samples=2)


def test_html_shows_category_rows_in_the_table_and_their_samples_once_under_the_task():
    records = speed_records()
    categories = [replace(r, task="math/algebra") for r in records]
    page = render_html(summarize([*records, *categories]), records, title="t", baseline="verifier", samples=2)
    assert "math/algebra" in page
    assert page.count("<h2>Samples: ") == 1 and page.count("math · item ") == 2


def test_report_skips_a_broken_line_with_a_warning(tmp_path):
    run = write_run(tmp_path / "run", speed_records())
    with open(run / "results.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"task": "math", "item_id": "c", "met')
    with pytest.warns(BrokenRecordWarning, match=r"results.jsonl:6"):
        report = load_report(run)
    assert len(report.records) == 5 and report.manifest is None


def test_report_of_a_directory_without_results_says_so(tmp_path):
    assert main(["report", str(tmp_path)]) == 2


def test_plots_are_written(tmp_path):
    pytest.importorskip("matplotlib")
    paths = write_plots(summarize(speed_records()), tmp_path / "plots", "verifier")
    assert [p.name for p in paths] == ["accuracy_vs_speedup_math.png", "speedup_by_task.png", "accepted_lengths.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)


def test_category_rows_do_not_count_twice_in_the_accepted_length_histogram():
    whole = summarize(speed_records())
    categories = summarize([replace(r, task="math/algebra") for r in speed_records()])
    rows = whole_tasks([*whole, *categories])
    assert [r.task for r in rows] == ["math", "math"]
    assert histograms_by_method(rows)["sd"] == histograms_by_method(whole)["sd"]


def test_one_option_swept_over_values_makes_a_curve(tmp_path):
    pytest.importorskip("matplotlib")
    sweep = [make_record("math", "a", f"judge:threshold={t}", lossless=False) for t in (0.5, 0.05, 0.2)]
    others = [make_record("math", "a", m, lossless=False) for m in ("lenient:l=0.5", "judge:gamma=4,threshold=0.2", "judge")]
    rows = summarize(speed_records() + sweep + others)
    sweeps = option_sweeps(rows)
    assert list(sweeps) == [("math", "judge", "threshold")]  # one value of l, one of gamma: no curves
    assert [value for value, _ in sweeps[("math", "judge", "threshold")]] == [0.05, 0.2, 0.5]
    paths = write_plots(rows, tmp_path / "plots", "verifier")
    assert "sweep_math_judge_threshold.png" in [p.name for p in paths]


def test_a_sweep_marks_the_baseline_on_each_points_own_items(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    plt = pyplot()
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    verifier = [r for r in speed_records() if r.method == "verifier"]  # right on a and c, wrong on b
    judge = [make_record("math", i, "judge:threshold=0.5", correct=True) for i in ("a", "b")]
    judge += [make_record("math", "a", "judge:threshold=0.2", correct=False)]
    rows = summarize(verifier + judge)
    points = option_sweeps(rows)[("math", "judge", "threshold")]
    sweep_curve(plt, "math", "judge", "threshold", points, rows, tmp_path, "verifier")
    ax = figures[0].axes[0]
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert [list(line.get_ydata()) for line in crosses] == [[100.0, 50.0]]  # θ 0.2 ran on a only, 0.5 on a and b
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "verifier, all 3 items (95% CI band)" in labels and "verifier on the same items as each point" in labels


def test_many_methods_get_a_legend_instead_of_crowded_labels(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    plt = pyplot()
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    methods = ["sd", *(f"judge:threshold=0.{k}" for k in range(1, 10))]
    records = speed_records() + [replace(r, method=m) for m in methods[1:] for r in speed_records() if r.method == "sd"]
    accuracy_vs_speedup(plt, summarize(records), tmp_path, "verifier")
    legend = figures[0].axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["verifier", *methods]
    assert not figures[0].axes[0].texts  # no labels beside the points


def test_a_sweep_curve_is_drawn_beside_its_default_and_the_sd_variants():
    rows = summarize([make_record("math", "a", m, lossless=False)
                      for m in ("verifier", "sd", "sd:gamma=8", "judge", "judge:head=x/h.safetensors", "lenient")])
    swept = Method.parse("judge:threshold=0.9")
    assert [r.method for r in rows if beside_curve(r, swept, "threshold", "verifier")] == ["sd", "sd:gamma=8", "judge"]


def test_plot_labels_shorten_file_paths_to_their_stem():
    assert short_label("judge:head=benchmarks/results/judge/head-without-code.safetensors,threshold=0.9") == (
        "judge:head=head-without-code,threshold=0.9")
    assert short_label("sd:adaptive=true,gamma=8") == "sd:adaptive=true,gamma=8"
    assert short_label("verifier") == "verifier"


def test_labels_of_coinciding_points_take_both_sides_then_stack_instead_of_overprinting():
    xy = [(16.5, 71.1), (16.5, 71.1), (16.4, 71.1), (13.6, 80.5)]
    offsets = label_offsets(xy, ["judge", "sd", "lenient", "x"], AXES, AXES_SIZE)
    assert offsets == [(6, 4), (-6, 4), (6, -6), (6, 4)]  # the fourth point is far from the others


def test_a_label_moves_only_where_another_label_reaches_and_stays_inside_the_axes():
    xy = [(16.8, 51.2), (17.6, 51.2), (17.8, 50.0), (4.2, 51.2), (4.2, 51.2)]
    labels = ["threshold=0.9", "judge (default threshold)", "threshold=0.2", "sd", "sd:gamma=8"]
    # 0.8 apart on a 14-wide axis is 23 points, less than the first label's width, and the second
    # label is too wide for the gap on its left: it goes a line lower. The third (8 points lower)
    # fits left of its point. At the left edge, labels never go left.
    assert label_offsets(xy, labels, AXES, AXES_SIZE) == [(6, 4), (6, -6), (-6, 4), (6, 4), (6, -6)]
    assert label_offsets(xy[:2], ["a", "b"], AXES, AXES_SIZE) == [(6, 4), (6, 4)]  # short labels clear


AXES = ((4.0, 18.0), (36.0, 85.0))  # data limits and size in points of a typical plot's axes
AXES_SIZE = (400.0, 330.0)


def test_plots_without_matplotlib_say_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(PlotDependencyError, match="verispec\\[report\\]"):
        write_plots(summarize(speed_records()), tmp_path, "verifier")


def target_records() -> list[SampleRecord]:
    """Math: judge keeps 5 tokens per pass against sd's 2 and is right as often as verifier; code: judge is always wrong."""
    records = []
    for item, correct in (("a", True), ("b", False)):
        records += [
            make_record("math", item, "verifier", seconds=1.0, correct=correct),
            make_record("math", item, "draft", seconds=0.25, correct=False),
            make_record("math", item, "sd", seconds=0.5, correct=correct, rounds=5),
            make_record("math", item, "judge", seconds=0.4, correct=correct, rounds=2, lossless=False),
        ]
    for item in "abcde":
        records += [make_record("code", item, "verifier", correct=True),
                    make_record("code", item, "judge", correct=False, lossless=False)]
    return records


def test_targets_check_length_against_sd_speed_against_draft_and_accuracy_against_verifier_ci():
    math, code = check_targets(target_records(), "judge")
    assert (math.task, math.items) == ("math", 2)
    assert math.length_ratio == pytest.approx(5 / 2) and math.length_met
    assert math.speedup == pytest.approx(2.5) and math.ceiling_speedup == pytest.approx(4.0)
    assert math.ceiling_share == pytest.approx(2.5 / 4.0)
    assert math.accuracy_met and math.difference.estimate == 0.0
    assert code.reference_accepted_length is None and code.length_met is None and code.ceiling_share is None
    assert code.accuracy.estimate == 0.0 and code.baseline_accuracy.low > 0.5 and code.accuracy_met is False
    assert check_targets(target_records(), "lenient") == []


def test_targets_compare_the_items_the_method_completed():
    """A run under way: judge has done item a only, where verifier is right and sd keeps 5 tokens a pass."""
    records = [make_record("math", "a", "verifier", correct=True), make_record("math", "a", "sd", rounds=2),
               make_record("math", "a", "judge", rounds=1, lossless=False)]
    records += [r for item in "bcd" for r in (make_record("math", item, "verifier", correct=False),
                                              make_record("math", item, "sd", rounds=10))]
    (check,) = check_targets(records, "judge")
    assert check.items == 1 and check.baseline_accuracy.estimate == 1.0
    assert check.length_ratio == pytest.approx(10 / 5)


def test_cli_adds_a_targets_table_and_names_what_exists(tmp_path, capsys):
    run = write_run(tmp_path / "run", target_records())
    assert main(["report", str(run), "--targets", "judge"]) == 0
    section = capsys.readouterr().out.split("## Targets: judge against sd\n")[1]
    math_row, code_row = [line for line in section.splitlines() if line.startswith(("| math", "| code"))]
    assert "2.50× (≥ 1.5×: met)" in math_row and math_row.endswith("| met |")
    assert "– (≥ 1.5×: –)" in code_row and code_row.endswith("| missed |")
    assert main(["report", str(run), "--methods", "judge", "--targets", "judge"]) == 0
    shown, section = capsys.readouterr().out.split("## Targets: judge against sd\n")
    assert "| math | sd |" not in shown
    assert "| 2.50× | 4.00× | 62% |" in section  # sd and draft are read from the run, not from the table
    assert main(["report", str(run), "--targets", "lenient"]) == 2
    assert "--targets: no method 'lenient' in this run; it has: verifier, draft, sd, judge" in capsys.readouterr().err
    assert main(["report", str(run), "--targets", "judge", "--targets-reference", "draft", "--targets-reference", "sd"]) == 0
    out = capsys.readouterr().out
    assert "## Targets: judge against draft" in out and "## Targets: judge against sd" in out and "| τ draft |" in out
    long_sd = [make_record("math", i, "sd:adaptive=true,gamma=8", rounds=4) for i in "ab"]
    write_run(run, target_records() + long_sd)
    assert main(["report", str(run), "--targets", "judge", "--targets-reference", "sd:gamma=8,adaptive=true"]) == 0
    assert "## Targets: judge against sd:adaptive=true,gamma=8" in capsys.readouterr().out  # options in any order
    assert main(["report", str(run), "--targets", "judge", "--targets-reference", "sd:gamma=8"]) == 2
    assert "--targets-reference: no method 'sd:gamma=8' in this run" in capsys.readouterr().err


def test_cli_writes_markdown_html_and_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run = write_run(tmp_path / "run", speed_records())
    args = ["report", str(run), "--markdown", str(tmp_path / "r.md"), "--html", str(tmp_path / "r.html"),
            "--plots", str(tmp_path / "plots")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out == (tmp_path / "r.md").read_text()
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["accepted_lengths.png", "accuracy_vs_speedup_math.png", "speedup_by_task.png"]


def test_cli_narrows_to_tasks_and_methods_keeping_the_baseline(tmp_path, capsys):
    extra = [make_record("code", "a", "sd"), make_record("code", "a", "verifier"), make_record("math", "a", "lenient:l=0.5")]
    run = write_run(tmp_path / "run", speed_records() + extra)
    assert main(["report", str(run), "--tasks", "math", "--methods", "lenient:l=0.5"]) == 0
    rows = [line.split(" | ")[:2] for line in capsys.readouterr().out.splitlines() if line.startswith("| math")]
    assert rows == [["| math", "verifier"], ["| math", "lenient:l=0.5"]]
    assert main(["report", str(run), "--methods", "judge"]) == 2
    assert "no method 'judge' in this run; it has: verifier, sd, lenient:l=0.5" in capsys.readouterr().err


def test_cli_prints_a_broken_line_as_one_warning_line(tmp_path, capsys):
    run = write_run(tmp_path / "run", speed_records())
    with open(run / "results.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"task": "math"\n')
    assert main(["report", str(run)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and "results.jsonl:6: broken record" in err and err.count("\n") == 1


def test_html_shows_the_judges_score_on_hover_and_records_keep_it(tmp_path):
    judged = replace(make_record("math", "a", "judge", pieces=["x", "y", "z"], token_ids=[4, 5, 6],
                                 provenance=["relaxed", "exact", "replaced"]), rule_scores=[0.8125, 0.25, None])
    page = render_html(summarize([judged]), [judged], title="t", baseline="judge")
    assert 'title="#0 id 4: relaxed, judge score 0.812"' in page and 'title="#2 id 6: replaced">' in page
    assert SampleRecord.from_dict(json.loads(judged.to_json())).rule_scores == [0.8125, 0.25, None]
    with pytest.raises(ValueError, match="rule_scores differ"):
        SampleRecord.from_dict({**json.loads(judged.to_json()), "rule_scores": [0.5]})


def test_html_shows_why_the_judge_rejected_the_drafted_token_a_replaced_one_replaced():
    stopped = replace(make_record("math", "a", "judge", pieces=["x", "y"], token_ids=[4, 6], provenance=["exact", "replaced"]),
                      rule_scores=[0.5, 0.375], rule_stops=[None, "gate"])
    page = render_html(summarize([stopped]), [stopped], title="t", baseline="judge")
    assert 'title="#1 id 6: replaced, the drafted token here scored 0.375, rejected by the judge\'s gate"' in page
    assert SampleRecord.from_dict(json.loads(stopped.to_json())).rule_stops == [None, "gate"]
    with pytest.raises(ValueError, match="rule_stops differ"):
        SampleRecord.from_dict({**json.loads(stopped.to_json()), "rule_stops": ["score"]})
