"""Which machines a run's samples ran on, from ``run.json``'s invocations and each sample's start time.

A long run is resumed many times, sometimes on another machine. Every method of an item runs back
to back in one invocation, so per-item ratios pair like with like; but summed tokens per second mix
machines, and two machines with the same CPU name can differ twofold. The report names each machine
with its samples and measured speed, and says when the speeds differ.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from verispec.eval.records import RunManifest, SampleRecord

# Measured speeds further apart than this make the run's absolute timings a mix of machines.
SPEED_SPREAD = 1.25


def machine_notes(manifest: RunManifest | None, records: Sequence[SampleRecord]) -> list[str]:
    """One line per machine that ran some of ``records``, and a warning when their speeds differ."""
    if manifest is None or not manifest.invocations:
        return []
    machines = _machines_of(manifest.invocations, records)
    counts = Counter(_describe(machine) for machine in machines)
    notes = [f"{description}: {count} sample{'' if count == 1 else 's'}" for description, count in counts.items()]
    speeds = [speed for machine in machines if (speed := machine.get("bf16_matmul_gflops"))]
    if speeds and max(speeds) > SPEED_SPREAD * min(speeds):
        notes.append(f"these machines differ {max(speeds) / min(speeds):.1f}× in measured speed: each item's "
                     "methods ran back to back on one machine (unless re-timed), so per-item speedups compare like with "
                     "like, but tokens/s and summed speedups mix machines")
    return notes


def _machines_of(invocations: Sequence[dict[str, Any]], records: Sequence[SampleRecord]) -> list[dict[str, Any]]:
    """Per record, the machine of the last invocation that started before it (runs into one directory go one at a
    time); {} where none is known."""
    started = sorted(((time, invocation.get("machine") or {}) for invocation in invocations
                      if (time := _time(invocation.get("started_at")))), key=lambda pair: pair[0])
    times = [time for time, _ in started]
    machines = []
    for record in records:
        moment = _time(record.timing.get("started_at"))
        position = bisect.bisect_right(times, moment) - 1 if moment else -1
        machines.append(started[position][1] if position >= 0 else {})
    return machines


def _describe(machine: dict[str, Any]) -> str:
    if not machine:
        return "machine not recorded"
    flags = [flag for flag in ("amx_bf16", "avx512_bf16") if machine.get("cpu_flags", {}).get(flag)]
    speed = machine.get("bf16_matmul_gflops")
    parts = [str(machine.get("cpu", "unknown CPU")), f"{machine.get('cores')} cores",
             f"{machine.get('torch_threads')} torch threads", ", ".join(flags) or "no AMX or AVX-512 bf16",
             f"bf16 matmul {speed:.0f} GFLOP/s" if speed else "speed not measured"]
    if machine.get("cuda"):
        parts.insert(1, str(machine["cuda"]))
    return ", ".join(parts)


def _time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
