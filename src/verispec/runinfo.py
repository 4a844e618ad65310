"""Where and with what a run ran: versions, commit, machine and how busy it was, for results files.

Every timing verispec writes (``verispec bench``, ``verispec eval``, the server's load benchmark)
names the code (git commit, library versions) and the machine (CPU model, the instruction sets
that decide bf16 speed, cores, threads), so a number can be traced and compared. One module
computes these facts so that every results file describes its run the same way.

Other work on the machine slows a timing for reasons that have nothing to do with the method,
and on a small machine the effect is large (a 2-core machine with one other busy process halves
decoding speed). Linux counts every CPU's busy time in ``/proc/stat``; subtracting this process's
own CPU time leaves what everything else used, stolen time of a virtual machine included.
Elsewhere no share is measured (``None``).
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
import transformers

# CPU features that decide bf16 matmul speed on x86 (AMX makes k-token verification nearly free).
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
DISTURBED_SHARE = 0.10  # others used more than a tenth of the machine: the timing is not clean

_SOURCE = Path(__file__).resolve().parent
_PROC_STAT = Path("/proc/stat")
_CPUINFO = Path("/proc/cpuinfo")
# Fields of the aggregate "cpu" line that count as busy: user, nice, system, irq, softirq, steal
# (idle and iowait are not; guest time is already inside user and nice).
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)
# The speed probe: 16 rows (a verification pass's width) through a 1536 x 8960 weight, the shape of
# a Qwen2.5 1.5B MLP projection, in bf16, for at least this long.
_PROBE_ROWS, _PROBE_IN, _PROBE_OUT = 16, 1536, 8960
_PROBE_SECONDS = 0.2


def versions(*packages: str) -> dict[str, str]:
    """Versions of Python and the libraries that decide speed and output, plus installed ``packages``."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "verispec": metadata.version("verispec"),
        **{name: metadata.version(name) for name in packages},
    }


def git_state(path: Path = _SOURCE) -> dict[str, Any] | None:
    """The commit of the checkout holding ``path`` and whether tracked files changed; None outside git."""
    try:
        commit = _git(path, "rev-parse", "HEAD")
        dirty = bool(_git(path, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def commit(path: Path = _SOURCE) -> str | None:
    """The commit as one string, ``-dirty`` appended when tracked files changed; None outside git."""
    state = git_state(path)
    return None if state is None else state["commit"] + ("-dirty" if state["dirty"] else "")


def machine() -> dict[str, Any]:
    """CPU model and its speed-relevant flags, core count, torch threads, memory, accelerator and measured speed."""
    cpu = _cpuinfo()
    flags = set(cpu.get("flags", "").split())
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu": cpu.get("model name") or _lscpu_model() or platform.processor() or platform.machine(),
        "cpu_flags": {flag: flag in flags for flag in CPU_FLAGS} if flags else {},
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": _memory_gib(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "bf16_matmul_gflops": bf16_matmul_gflops(),
    }


@functools.cache
def bf16_matmul_gflops() -> float:
    """This process's bf16 matmul speed in GFLOP/s on the CPU, measured once (about 0.2 s).

    Machines of one kind can report the same CPU name and flags and still differ twofold in speed
    (seen between two 2-core Xeon VMs here), so timings carry a measured speed beside the name.
    """
    generator = torch.Generator().manual_seed(0)
    rows = torch.randn(_PROBE_ROWS, _PROBE_IN, generator=generator).to(torch.bfloat16)
    weight = torch.randn(_PROBE_IN, _PROBE_OUT, generator=generator).to(torch.bfloat16)
    with torch.inference_mode():
        rows @ weight  # the first call pays for kernel selection and page faults
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < _PROBE_SECONDS:
            rows @ weight
            calls += 1
    return round(2 * _PROBE_ROWS * _PROBE_IN * _PROBE_OUT * calls / elapsed / 1e9, 1)


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages: other work on the machine skews every timing."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def environment(load_before: list[float] | None, *packages: str) -> dict[str, Any]:
    """A benchmark's ``environment`` block: versions (with ``packages``), git, machine, load before and now."""
    return {
        "versions": versions(*packages), "git": git_state(), "machine": machine(),
        "load_average": {"before": load_before, "after": load_average()},
    }


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


def _git(where: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, check=True, timeout=10)
    return done.stdout.strip()


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields from /proc/cpuinfo (empty where there is none)."""
    try:
        text = _CPUINFO.read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _lscpu_model() -> str | None:
    """``lscpu``'s model name: on ARM, /proc/cpuinfo names no model."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name" and value.strip():
            return value.strip()
    return None


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None
