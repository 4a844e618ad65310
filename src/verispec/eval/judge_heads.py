"""Which judge head file each judge method of a run reads, so that a resumed run never mixes heads.

A bare ``judge`` reads the head shipped for the verifier, and a newer verispec may ship another
one; a head given as ``head=PATH`` may be rewritten in place. Each judge sample therefore records
the sha256 of the head file that wrote it, and a run resumes an unfinished judge method only with
that file (a finished one writes nothing, so it is not checked).
Records from before digests were kept are trusted only where the method names its file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from verispec.eval.records import RunSettingsMismatchError, SampleRecord
from verispec.judge.head import head_path_for
from verispec.methods import Method

HEAD_DIGEST = "head_sha256"  # the key in a judge sample's ``method_config``
FIRST_SHIPPED_HEAD = "benchmarks/results/judge/synthetic-head.safetensors"  # in the verispec repository


def head_file(method: Method, verifier: str) -> Path | None:
    """The head file a judge method reads for this verifier (None: not a judge method, or no file to read)."""
    if method.name != "judge":
        return None
    path = head_path_for(verifier, method.options.get("head"))
    return path if path is not None and path.is_file() else None  # a missing file fails later, saying what to do


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def judge_head_digests(methods: Sequence[Method], verifier: str, done: Iterable[SampleRecord], run_dir: Path) -> dict[str, str]:
    """Per judge method label, the digest of the head it reads now; raises RunSettingsMismatchError
    when the run's records of that method were written by another head file."""
    records = list(done)
    digests = {}
    for method in methods:
        path = head_file(method, verifier)
        if path is None:
            continue
        digest = digests[method.label()] = file_digest(path)
        recorded = {r.method_config.get(HEAD_DIGEST) for r in records if r.method == method.label()}
        if recorded - {digest, None}:
            raise RunSettingsMismatchError(
                f"{method.label()} in {run_dir} was run with another judge head file than {path} is now "
                f"(sha256 {digest[:12]}); choose another --out, or pass the head the run used as head=PATH")
        if None in recorded and "head" not in method.options:
            raise RunSettingsMismatchError(
                f"{method.label()} in {run_dir} was run before verispec recorded which judge head wrote a sample, "
                f"and it reads the shipped head, which has changed since (the first one is {FIRST_SHIPPED_HEAD} in the verispec repository); "
                f"choose another --out, or name the head with head=PATH (a new method in this run)")
    return digests
