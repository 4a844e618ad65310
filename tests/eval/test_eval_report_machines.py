"""The report names the machines that ran a run's samples, and warns when their speeds differ."""

from __future__ import annotations

import dataclasses

from test_eval_report import make_record, write_run

from verispec.eval.records import RunManifest, RunSettings
from verispec.eval.report import load_report, render_html
from verispec.eval.report.machines import alike, machine_notes

SETTINGS = RunSettings(draft="d", verifier="v", dtype="bf16", device="cpu", split="eval", seed=0, temperature=0.0,
                       max_new_tokens=None, turns=1)


def machine(speed: float | None, cpu: str = "Test Xeon") -> dict:
    return {"cpu": cpu, "cores": 2, "torch_threads": 2, "cpu_flags": {"amx_bf16": True, "avx512_bf16": True},
            "cuda": None, **({"bf16_matmul_gflops": speed} if speed else {})}


def manifest(*invocations: tuple[str, dict]) -> RunManifest:
    return RunManifest(SETTINGS, {"math": "math"}, ["verifier"],
                       [{"started_at": started, "machine": m} for started, m in invocations])


def started(item: str, at: str, method: str = "verifier", seconds: float = 1.0):
    record = make_record("math", item, method, seconds=seconds)
    return dataclasses.replace(record, timing={**record.timing, "started_at": at})


def test_each_sample_counts_for_the_machine_of_the_invocation_that_ran_it():
    run = manifest(("2026-01-01T10:00:00+00:00", machine(400.0)), ("2026-01-02T10:00:00+00:00", machine(180.0)))
    records = [started("a", "2026-01-01T10:05:00+00:00"), started("b", "2026-01-01T11:00:00+00:00"),
               started("c", "2026-01-02T10:01:00+00:00")]
    notes = machine_notes(run, records)
    assert notes[:2] == [
        "Test Xeon, 2 cores, 2 torch threads, amx_bf16, avx512_bf16, bf16 matmul 400 GFLOP/s: 2 samples",
        "Test Xeon, 2 cores, 2 torch threads, amx_bf16, avx512_bf16, bf16 matmul 180 GFLOP/s: 1 sample",
    ]
    assert notes[2].startswith("these machines differ 2.2× in measured speed")


def test_one_machine_or_close_speeds_give_no_warning_and_old_runs_say_what_is_unknown():
    run = manifest(("2026-01-01T10:00:00+00:00", machine(400.0)), ("2026-01-02T10:00:00+00:00", machine(350.0)))
    records = [started("a", "2026-01-01T10:05:00+00:00"), started("b", "2026-01-02T10:05:00+00:00")]
    assert len(machine_notes(run, records)) == 2
    old = manifest(("2026-01-01T10:00:00+00:00", machine(None)))
    early = started("c", "2025-12-31T10:00:00+00:00")  # before any recorded invocation
    assert machine_notes(old, [started("a", "2026-01-01T10:05:00+00:00"), early]) == [
        "Test Xeon, 2 cores, 2 torch threads, amx_bf16, avx512_bf16, speed not measured: 1 sample",
        "machine not recorded: 1 sample",
    ]
    assert machine_notes(None, [early]) == []


def test_the_markdown_report_has_a_machines_section(tmp_path):
    run_dir = write_run(tmp_path / "run", [started("a", "2026-01-01T10:05:00+00:00")])
    manifest(("2026-01-01T10:00:00+00:00", machine(400.0))).save(run_dir / "run.json")
    text = load_report(run_dir).markdown()
    assert "## Machines\n\n- Test Xeon, 2 cores, 2 torch threads, amx_bf16, avx512_bf16, bf16 matmul 400 GFLOP/s: 1 sample" in text


def test_the_html_page_lists_the_machines(tmp_path):
    run_dir = write_run(tmp_path / "run", [started("a", "2026-01-01T10:05:00+00:00")])
    report = load_report(run_dir)
    page = render_html(report.rows, report.records, title="t", baseline="verifier", machines=["Xeon <2 cores>: 1 sample"])
    assert "<h3>Machines</h3>" in page and "Xeon &lt;2 cores&gt;: 1 sample" in page
    assert "<h3>Machines</h3>" not in render_html(report.rows, report.records, title="t", baseline="verifier")


def test_machines_are_alike_when_cpu_features_and_measured_speed_agree():
    assert alike(machine(400.0), machine(350.0)) and alike(machine(400.0), machine(None)) and alike({}, machine(1.0))
    assert not alike(machine(400.0), machine(180.0))  # same CPU name, 2.2x apart
    assert not alike(machine(None), machine(None, cpu="AMD EPYC"))
    no_amx = {**machine(400.0), "cpu_flags": {"amx_bf16": False, "avx512_bf16": True}}
    assert not alike(machine(400.0), no_amx)


def test_speedups_pair_only_items_whose_method_and_baseline_ran_on_alike_machines(tmp_path):
    # The verifier ran items a and b on a fast machine; sd was added later, a on the same machine, b on a slow one.
    records = [started("a", "2026-01-01T10:01:00+00:00"), started("b", "2026-01-01T10:02:00+00:00"),
               started("a", "2026-01-01T10:03:00+00:00", "sd", seconds=0.5),
               started("b", "2026-01-02T10:01:00+00:00", "sd", seconds=4.0)]
    run_dir = write_run(tmp_path / "run", records)
    manifest(("2026-01-01T10:00:00+00:00", machine(400.0)), ("2026-01-02T10:00:00+00:00", machine(100.0))
             ).save(run_dir / "run.json")
    report = load_report(run_dir)
    sd = report.rows[1].comparison
    assert (sd.paired, sd.timed, sd.unlike_machines) == (2, 1, 1)
    assert sd.speedup == 2.0  # item a alone; with b's cross-machine timing it would read 0.44x
    assert "math / sd: 1 of 2 items left out of the speedup columns; the method and the baseline ran them on unlike " \
        "machines" in report.markdown()
