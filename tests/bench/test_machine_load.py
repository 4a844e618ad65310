"""Measuring how much of the CPU other processes used, from /proc/stat-style counters."""

import os
import time

import pytest

from verispec.bench import machine_load
from verispec.bench.machine_load import LoadSnapshot, others_share, snapshot


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
    assert machine_load.DISTURBED_SHARE == 0.10
