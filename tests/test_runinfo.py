"""Run metadata: versions, commit, machine facts, and how much of the CPU other processes used."""

import os
import shutil
import subprocess
import time

import pytest

from verispec import runinfo
from verispec.runinfo import LoadSnapshot, others_share, snapshot


def test_versions_name_python_the_libraries_and_extra_packages():
    versions = runinfo.versions("numpy")
    assert {"python", "torch", "transformers", "verispec", "numpy"} == versions.keys()
    assert all(isinstance(v, str) and v for v in versions.values())


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_commit_is_the_git_head_with_dirty_when_tracked_files_changed(tmp_path):
    assert runinfo.git_state(tmp_path) is None and runinfo.commit(tmp_path) is None  # outside git
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f.txt").write_text("one")
    subprocess.run([*git, "add", "f.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    (tmp_path / "untracked.txt").write_text("not part of the code")
    assert runinfo.git_state(tmp_path) == {"commit": head, "dirty": False} and runinfo.commit(tmp_path) == head
    (tmp_path / "f.txt").write_text("two")
    assert runinfo.commit(tmp_path) == f"{head}-dirty"


def test_machine_names_the_cpu_its_speed_flags_cores_and_threads():
    machine = runinfo.machine()
    assert machine["cpu"] and machine["cores"] == os.cpu_count() and machine["torch_threads"] >= 1
    assert {"platform", "processor", "memory_gib", "cuda"} <= machine.keys()
    assert set(machine["cpu_flags"]) in (set(), set(runinfo.CPU_FLAGS))
    assert machine["bf16_matmul_gflops"] > 0


def test_the_speed_probe_runs_once_per_process(monkeypatch):
    runinfo.bf16_matmul_gflops()
    monkeypatch.setattr(runinfo, "_PROBE_SECONDS", 60.0)  # a second measurement would take a minute
    assert runinfo.bf16_matmul_gflops() == runinfo.machine()["bf16_matmul_gflops"]


def test_cpu_flags_come_from_the_first_processor(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 amx_tile\n\nprocessor\t: 1\nflags : avx512f\n")
    monkeypatch.setattr(runinfo, "_CPUINFO", cpuinfo)
    machine = runinfo.machine()
    assert machine["cpu"] == "Test CPU"
    assert machine["cpu_flags"] == {"avx2": True, "avx512f": False, "avx512_bf16": False, "amx_bf16": False,
                                    "amx_tile": True}


def test_environment_holds_versions_git_machine_and_load_before_and_after():
    environment = runinfo.environment([1.0, 2.0, 3.0], "numpy")
    assert environment.keys() == {"versions", "git", "machine", "load_average"}
    assert "numpy" in environment["versions"] and environment["load_average"]["before"] == [1.0, 2.0, 3.0]


def test_others_share_is_busy_time_minus_our_own_over_capacity():
    before = LoadSnapshot(busy_seconds=100.0, own_seconds=5.0, wall_seconds=10.0)
    after = LoadSnapshot(busy_seconds=106.0, own_seconds=7.0, wall_seconds=12.0)
    # 6 busy seconds on 4 CPUs over 2 s, 2 of them ours: others used 4 of 8 CPU-seconds.
    assert others_share(before, after, cpus=4) == pytest.approx(0.5)
    quiet = LoadSnapshot(busy_seconds=101.99, own_seconds=7.0, wall_seconds=12.0)
    assert others_share(LoadSnapshot(100.0, 5.0, 10.0), quiet, cpus=2) == 0.0  # tick rounding, not negative


def test_missing_counters_give_no_share(tmp_path):
    assert snapshot(tmp_path / "missing") is None
    (tmp_path / "stat").write_text("intr 1 2 3\n")
    assert snapshot(tmp_path / "stat") is None
    assert others_share(None, LoadSnapshot(1.0, 1.0, 1.0)) is None
    assert others_share(LoadSnapshot(1.0, 1.0, 1.0), LoadSnapshot(1.0, 1.0, 1.0)) is None  # no time passed


def test_snapshot_reads_the_aggregate_cpu_line(tmp_path):
    stat = tmp_path / "stat"
    hz = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    stat.write_text(f"cpu  {hz} {hz} {hz} {50 * hz} {9 * hz} {hz} {hz} {hz} 0 0\ncpu0 1 2 3 4\n")
    assert snapshot(stat).busy_seconds == pytest.approx(6.0)


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc/stat")
def test_our_own_work_is_not_counted_as_others():
    before = snapshot()
    deadline = time.perf_counter() + 0.5
    while time.perf_counter() < deadline:  # busy on one CPU ourselves
        pass
    after = snapshot()
    own, wall = after.own_seconds - before.own_seconds, after.wall_seconds - before.wall_seconds
    # The machine's busy seconds include ours (same units), and ours are not the others' share:
    # together they fit in the machine's capacity.
    assert after.busy_seconds - before.busy_seconds >= 0.9 * own > 0.05
    share = others_share(before, after)
    assert share is not None and share + own / (wall * (os.cpu_count() or 1)) < 1.05
    assert runinfo.DISTURBED_SHARE == 0.10
