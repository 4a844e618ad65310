"""How much of the machine other processes used while we measured, to flag disturbed timings.

A timing taken while another job shares the CPU is slower for reasons that have nothing to do with
the method, and on a small machine the effect is large (a 2-core machine with one other busy process
halves decoding speed). Linux counts every CPU's busy time in ``/proc/stat``; subtracting this
process's own CPU time leaves what everything else used, stolen time of a virtual machine included.
Elsewhere no share is measured (``None``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_PROC_STAT = Path("/proc/stat")
# Fields of the aggregate "cpu" line that count as busy: user, nice, system, irq, softirq, steal
# (idle and iowait are not; guest time is already inside user and nice).
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)
DISTURBED_SHARE = 0.10  # others used more than a tenth of the machine: the timing is not clean


@dataclass(frozen=True)
class LoadSnapshot:
    """Machine-wide busy CPU seconds, this process's CPU seconds, and the wall clock, at one moment."""

    busy_seconds: float
    own_seconds: float
    wall_seconds: float


def snapshot(stat_path: Path = _PROC_STAT) -> LoadSnapshot | None:
    """The current counters; None where the machine's busy time cannot be read."""
    try:
        first = stat_path.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if first[0] != "cpu":
        return None
    ticks = [int(v) for v in first[1:]]
    busy = sum(ticks[i] for i in _BUSY_FIELDS if i < len(ticks)) / os.sysconf("SC_CLK_TCK")
    return LoadSnapshot(busy, time.process_time(), time.perf_counter())


def others_share(before: LoadSnapshot | None, after: LoadSnapshot | None, cpus: int | None = None) -> float | None:
    """The share of the machine's CPU capacity that other processes used between two snapshots.

    0 is a quiet machine, 1 every CPU busy with other work. Clock-tick rounding makes tiny
    negative values possible; they read as 0.
    """
    if before is None or after is None:
        return None
    wall = after.wall_seconds - before.wall_seconds
    if wall <= 0:
        return None
    others = (after.busy_seconds - before.busy_seconds) - (after.own_seconds - before.own_seconds)
    # /proc/stat sums every CPU of the machine, so the capacity is all of them, not our affinity.
    return max(0.0, others / (wall * (cpus or os.cpu_count() or 1)))
