"""Which machines a run's samples ran on, from ``run.json``'s invocations and each sample's start time.

A long run is resumed many times, sometimes on another machine, and a method added later runs its items
long after the baseline ran them. Two machines with the same CPU name can differ twofold. The report
names each machine with its samples and measured speed and says when the speeds differ; speedups pair
an item's method and baseline only where they ran on alike machines (:func:`alike`).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from verispec.eval.records import RunManifest, SampleRecord

# Measured speeds further apart than this make two machines unlike, and a run's absolute timings a mix.
SPEED_SPREAD = 1.25

BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # the CPU features that set the cost of a bf16 forward
Machine = dict[str, Any]  # runinfo.machine() as an invocation recorded it; {} where none is known
MachineOf = Callable[[SampleRecord], Machine]  # which machine ran a record (see machine_lookup)


def machine_notes(manifest: RunManifest | None, records: Sequence[SampleRecord]) -> list[str]:
    """One line per machine that ran some of ``records``, and a warning when their speeds differ."""
    if manifest is None or not manifest.invocations:
        return []
    machine_of = machine_lookup(manifest)
    machines = [machine_of(record) for record in records]
    counts = Counter(_describe(machine) for machine in machines)
    notes = [f"{description}: {count} sample{'' if count == 1 else 's'}" for description, count in counts.items()]
    speeds = [speed for machine in machines if (speed := machine.get("bf16_matmul_gflops"))]
    if speeds and max(speeds) > SPEED_SPREAD * min(speeds):
        notes.append(f"these machines differ {max(speeds) / min(speeds):.1f}× in measured speed: tokens/s mixes "
                     "machines; speedups pair an item's method and baseline only where both ran on alike machines")
    return notes


def machine_lookup(manifest: RunManifest | None) -> MachineOf:
    """A function giving each record the machine of the last invocation that started before it (runs into one
    directory go one at a time); {} where none is known."""
    invocations = manifest.invocations if manifest else []
    started = sorted(((time, invocation.get("machine") or {}) for invocation in invocations
                      if (time := _time(invocation.get("started_at")))), key=lambda pair: pair[0])
    times = [time for time, _ in started]

    def machine_of(record: SampleRecord) -> Machine:
        moment = _time(record.timing.get("started_at"))
        position = bisect.bisect_right(times, moment) - 1 if moment else -1
        return started[position][1] if position >= 0 else {}

    return machine_of


def alike(first: Machine, second: Machine) -> bool:
    """Whether timings on the two machines compare: same CPU, bf16 features and GPU, and measured speeds (where both
    were measured) within :data:`SPEED_SPREAD`. An unknown machine is taken as alike: nothing says otherwise."""
    if not first or not second:
        return True
    if first.get("cpu") != second.get("cpu") or first.get("cuda") != second.get("cuda") \
            or _bf16_flags(first) != _bf16_flags(second):
        return False
    speeds = [first.get("bf16_matmul_gflops"), second.get("bf16_matmul_gflops")]
    return not all(speeds) or max(speeds) <= SPEED_SPREAD * min(speeds)


def _describe(machine: dict[str, Any]) -> str:
    if not machine:
        return "machine not recorded"
    flags = _bf16_flags(machine)
    speed = machine.get("bf16_matmul_gflops")
    parts = [str(machine.get("cpu", "unknown CPU")), f"{machine.get('cores')} cores",
             f"{machine.get('torch_threads')} torch threads", ", ".join(flags) or "no AMX or AVX-512 bf16",
             f"bf16 matmul {speed:.0f} GFLOP/s" if speed else "speed not measured"]
    if machine.get("cuda"):
        parts.insert(1, str(machine["cuda"]))
    return ", ".join(parts)


def _bf16_flags(machine: Machine) -> list[str]:
    return [flag for flag in BF16_FLAGS if (machine.get("cpu_flags") or {}).get(flag)]


def _time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
