"""The files of a run directory: ``results.jsonl`` (one record per sample) and ``run.json``.

``results.jsonl`` is append-only: every finished sample is one JSON line, written in one call and
flushed to disk before the next sample starts, so an interrupted run loses at most the sample in
flight. A sample is re-timed (``verispec eval --retime``) by appending a new record that names the
one it replaces in ``timing["replaces"]``; readers keep the newer. A line that cannot be read
(half-written by a crash, edited by hand) is skipped with a :class:`BrokenRecordWarning`; its
sample counts as not run, so a resumed run generates it again instead of scoring a guess.

``run.json`` holds the settings that make samples comparable (models, dtype, decoding). A rerun
into the same directory resumes only when they match; tasks and methods may be added.

A finished run may be *packed*: ``gzip -9 RUN/results.jsonl`` leaves ``results.jsonl.gz`` (about an
eighth of the size), which every reader reads as it would the plain file; rerunning a finished step
into it reads it and generates nothing. Adding samples or rescoring needs the plain file back
(``gunzip RUN/results.jsonl.gz``).
"""

from __future__ import annotations

import gzip
import json
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar

from verispec.errors import ConfigError
from verispec.runinfo import DISTURBED_SHARE

Parsed = TypeVar("Parsed")

RESULTS_FILE = "results.jsonl"
PACKED_RESULTS_FILE = RESULTS_FILE + ".gz"
MANIFEST_FILE = "run.json"
RECORD_FORMAT = 1

RecordKey = tuple[str, str, str, int]  # (task, item id, method label, turn)


class BrokenRecordWarning(UserWarning):
    """A line of ``results.jsonl`` could not be read and was skipped."""


class RunSettingsMismatchError(ConfigError):
    """A run directory was made with other settings than the command asks for."""


@dataclass(frozen=True)
class SampleRecord:
    """One generated answer to one turn of one task item, with everything needed to report on it.

    ``method`` is the method's canonical label (the resume key); ``method_config`` holds its name,
    options and whether it is lossless. ``pieces`` is the text each token added (for token views
    without loading a tokenizer). ``stats`` is :meth:`GenerationStats.to_dict`; ``timing`` holds
    the start time and wall seconds of generation and scoring; ``score`` is None for unscored tasks.
    ``authors`` (collaborative methods only) is the model role that wrote each token.
    """

    task: str
    item_id: str
    turn: int
    method: str
    method_config: dict[str, Any]
    generation: dict[str, Any]
    prompt: list[dict[str, str]]
    output: str
    token_ids: list[int]
    pieces: list[str]
    provenance: list[str]
    finish_reason: str
    stats: dict[str, Any]
    timing: dict[str, Any]
    score: dict[str, Any] | None
    format: int = RECORD_FORMAT
    authors: list[str] | None = None
    rule_scores: list[float | None] | None = None  # the judge's score of each kept (or replaced) drafted token
    rule_stops: list[str | None] | None = None  # at a replaced token: the judge's check that rejected the draft

    @property
    def key(self) -> RecordKey:
        return (self.task, self.item_id, self.method, self.turn)

    @property
    def correct(self) -> bool | None:
        """The score's verdict, None when the task is not scored."""
        return None if self.score is None else bool(self.score["correct"])

    @property
    def disturbed(self) -> bool:
        """Other processes used more than :data:`DISTURBED_SHARE` of the CPU while it ran."""
        return (self.timing.get("others_cpu_share") or 0.0) > DISTURBED_SHARE

    @property
    def timed_quietly(self) -> bool:
        """Its timing is known to be clean: the rest of the machine was measured and stayed quiet."""
        return self.timing.get("others_cpu_share") is not None and not self.disturbed

    def replaces(self, other: SampleRecord) -> bool:
        """Whether this record is the re-timing of ``other`` (same sample, names its start time)."""
        replaced = self.timing.get("replaces") or {}
        return self.key == other.key and replaced.get("started_at") == other.timing.get("started_at")

    def to_json(self) -> str:
        """One line of JSON (no newline inside: strings are escaped)."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SampleRecord:
        """Build a record from parsed JSON; ValueError names the first missing or mistyped field."""
        record = cls(**field_values(cls, data))
        _check_types(record)
        return record


def field_values(cls: type, data: Any) -> dict[str, Any]:
    """The values of dataclass ``cls``'s fields in parsed JSON; ValueError when it is not an object or lacks a required field."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    missing = [f.name for f in fields(cls) if f.name not in data and f.default is MISSING]
    if missing:
        raise ValueError(f"missing fields: {', '.join(missing)}")
    return {f.name: data[f.name] for f in fields(cls) if f.name in data}


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "task": str, "item_id": str, "turn": int, "method": str, "method_config": dict, "generation": dict,
    "prompt": list, "output": str, "token_ids": list, "pieces": list, "provenance": list,
    "finish_reason": str, "stats": dict, "timing": dict, "score": (dict, type(None)), "authors": (list, type(None)),
    "rule_scores": (list, type(None)), "rule_stops": (list, type(None)),
}


def _check_types(record: SampleRecord) -> None:
    for name, kind in _FIELD_TYPES.items():
        if not isinstance(getattr(record, name), kind):
            raise ValueError(f"field {name!r} has the wrong type")
    if not len(record.token_ids) == len(record.pieces) == len(record.provenance):
        raise ValueError("token_ids, pieces and provenance differ in length")
    if record.authors is not None and len(record.authors) != len(record.token_ids):
        raise ValueError("token_ids and authors differ in length")
    for name in ("rule_scores", "rule_stops"):
        values = getattr(record, name)
        if values is not None and len(values) != len(record.token_ids):
            raise ValueError(f"token_ids and {name} differ in length")


def read_records(path: Path) -> list[SampleRecord]:
    """The readable records of a results file, in file order; none when the file does not exist.

    A re-timed record takes the place of the record it replaces. Other repeated keys and
    unreadable lines are skipped with a :class:`BrokenRecordWarning` (the first record of a key
    wins, as the runner writes a key again only to re-time it).
    """
    records: dict[RecordKey, SampleRecord] = {}
    consequence = "half-written or edited? Skipped: its sample counts as not run, and a rerun generates it again"
    for number, record in parsed_lines(path, SampleRecord.from_dict, kind="record", consequence=consequence):
        earlier = records.get(record.key)
        if earlier is not None and not record.replaces(earlier):
            _warn(path, number, f"repeats the sample {record.key}; skipped, the first record of it is kept")
            continue
        records[record.key] = record  # a replacement keeps the place of the record it replaces
    return list(records.values())


def parsed_lines(path: Path, parse: Callable[[Any], Parsed], *, kind: str, consequence: str) -> Iterator[tuple[int, Parsed]]:
    """``(line number, parse(JSON of the line))`` for each readable line of a JSON Lines file (none when it
    does not exist). A line that does not parse is skipped with a :class:`BrokenRecordWarning`:
    "broken KIND (why), CONSEQUENCE"."""
    if not path.exists():
        return
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            parsed = parse(json.loads(raw.decode("utf-8")))
        except (ValueError, TypeError, KeyError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            _warn(path, number, f"broken {kind} ({_short(error)}), {consequence}")
            continue
        yield number, parsed


def _warn(path: Path, number: int, problem: str) -> None:
    warnings.warn(BrokenRecordWarning(f"{path}:{number}: {problem}"), stacklevel=3)


def _short(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= 80 else text[:77] + "..."


class JsonLine(Protocol):
    """A record that writes itself as one line of JSON."""

    def to_json(self) -> str: ...


class RecordWriter:
    """Appends records (samples, grades) to a JSON Lines file, one whole line per write, synced to disk.

    The file is opened for each record, not held open: a run lasts days, and a file replaced
    meanwhile (a git checkout or stash of a committed run, a sync tool) must receive the next
    records, not an unlinked copy of itself. A torn last line (no final newline) is ended with a
    newline first, so that new records never glue onto it; the torn line itself is kept, as the
    file is append-only, and readers skip it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: JsonLine) -> None:
        with open(self.path, "a+b") as handle:  # writes append; reads see the current last byte
            mend = b"\n" if _last_line_torn(handle) else b""
            handle.write(mend + record.to_json().encode("utf-8") + b"\n")
            handle.flush()
            os.fsync(handle.fileno())


def _last_line_torn(handle: BinaryIO) -> bool:
    """Whether the file is non-empty and lacks a final newline."""
    size = handle.seek(0, os.SEEK_END)
    if size == 0:
        return False
    handle.seek(size - 1)
    return handle.read(1) != b"\n"


@dataclass(frozen=True)
class RunSettings:
    """What must stay the same for samples of one run to be comparable (and resumable)."""

    draft: str
    verifier: str
    dtype: str
    device: str
    split: str
    seed: int
    temperature: float
    max_new_tokens: int | None  # None: each task's default
    turns: int
    assistants: list[str] = field(default_factory=list)  # extra assistants of collaborative methods
    backend: str = "torch"  # as Pipeline.backend_label() says; runs made before llama.cpp ran on torch

    def differences(self, other: RunSettings) -> list[str]:
        """``name: ours vs theirs`` for every field that differs."""
        return [
            f"{f.name}: {getattr(self, f.name)!r} in the run, {getattr(other, f.name)!r} now"
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]


@dataclass
class RunManifest:
    """``run.json``: fixed settings, the tasks and methods run so far, and each invocation."""

    settings: RunSettings
    tasks: dict[str, str] = field(default_factory=dict)  # task name -> the spec that built it
    methods: list[str] = field(default_factory=list)  # method labels, in first-run order
    invocations: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> RunManifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(RunSettings(**data["settings"]), data["tasks"], data["methods"], data["invocations"])
        except (ValueError, TypeError, KeyError) as error:
            raise ConfigError(f"{path} is not a verispec run manifest ({_short(error)}); choose another --out") from error

    def save(self, path: Path) -> None:
        """Write atomically: a crash leaves the old file or the new one, never half of one."""
        data = {"format": RECORD_FORMAT, "settings": asdict(self.settings), "tasks": self.tasks,
                "methods": self.methods, "invocations": self.invocations}
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(temporary, path)

    def merge(self, tasks: dict[str, str], methods: list[str], invocation: dict[str, Any]) -> None:
        """Add tasks, methods and an invocation; a task already run with other options is refused."""
        for name, spec in tasks.items():
            if self.tasks.get(name, spec) != spec:
                raise RunSettingsMismatchError(
                    f"task {name!r} was run as {self.tasks[name]!r}, not {spec!r}; "
                    "give the same task options, or choose another --out"
                )
            self.tasks.setdefault(name, spec)
        self.methods += [m for m in methods if m not in self.methods]
        self.invocations.append(invocation)


def open_manifest(run_dir: Path, settings: RunSettings) -> RunManifest:
    """The run's manifest: a new one, or the existing one when its settings match ``settings``.

    A directory without results starts afresh (a run that failed before its first sample, say on
    a mistyped model name, must not lock its settings). Raises RunSettingsMismatchError listing
    every differing setting.
    """
    path = run_dir / MANIFEST_FILE
    results = results_file(run_dir)
    has_results = results.exists() and results.stat().st_size > 0
    if not path.exists() or not has_results:
        if has_results:
            raise RunSettingsMismatchError(
                f"{run_dir} has {RESULTS_FILE} but no {MANIFEST_FILE}, so its settings are unknown; choose another --out"
            )
        return RunManifest(settings)
    manifest = RunManifest.load(path)
    differences = manifest.settings.differences(settings)
    if differences:
        raise RunSettingsMismatchError(
            f"{run_dir} was run with other settings ({'; '.join(differences)}). A run resumes only with the "
            "same models, backend, dtype, device, split, seed and decoding settings (tasks and methods may be added); "
            "choose another --out for new settings"
        )
    return manifest


def load_run(run_dir: Path) -> tuple[RunManifest | None, list[SampleRecord]]:
    """A run directory's manifest (None when absent) and readable records, packed or not."""
    results = results_file(run_dir)
    if not results.exists():
        raise ConfigError(f"{run_dir} holds no {RESULTS_FILE}; is it the --out directory of `verispec eval`?")
    manifest_path = run_dir / MANIFEST_FILE
    manifest = RunManifest.load(manifest_path) if manifest_path.exists() else None
    return manifest, read_records(results)


def results_file(run_dir: Path) -> Path:
    """The run's results: ``results.jsonl``, or ``results.jsonl.gz`` once the run was packed."""
    packed = run_dir / PACKED_RESULTS_FILE
    return packed if packed.exists() and not (run_dir / RESULTS_FILE).exists() else run_dir / RESULTS_FILE


def refuse_packed(run_dir: Path, action: str) -> None:
    """ConfigError when ``run_dir``'s results are packed: appending to or rewriting them needs the plain file."""
    packed = run_dir / PACKED_RESULTS_FILE
    if packed.exists():
        raise ConfigError(f"{run_dir} is packed ({PACKED_RESULTS_FILE}); to {action}, unpack it first: gunzip {packed}")
