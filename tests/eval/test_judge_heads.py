"""A resumed run never mixes judge heads: samples record their head file's digest, and a changed file is refused."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
import torch

import verispec.eval.judge_heads as judge_heads
import verispec.judge.head as head_module
import verispec.eval.tasks as task_registry
from tiny_models import byte_tokenizer, noisy_copy, tiny_model
from verispec.eval.records import RunSettingsMismatchError
from verispec.eval.runner import RunConfig, run_eval
from verispec.eval.tasks import Score, TaskItem
from verispec.eval.tasks.base import SingleTurnTask
from verispec.judge.head import HeadMetadata, JudgeHead, VerifierIdentity
from verispec.methods import Method
from verispec.pipeline import Pipeline


class EchoTask(SingleTurnTask):
    name = "fake_echo"
    kind = "math"
    default_max_new_tokens = 6

    def _load(self, split):
        return [TaskItem(self.name, f"e{i}", (f"Say {i}.",), None) for i in range(3)]

    def score(self, item: TaskItem, outputs: Sequence[str]) -> Score:
        return Score(True, None, "any answer")


@pytest.fixture(autouse=True)
def fake_task(monkeypatch):
    monkeypatch.setitem(task_registry._TASKS, EchoTask.name, EchoTask)


@pytest.fixture(scope="module")
def pipeline():
    tokenizer, verifier = byte_tokenizer(), tiny_model(0)
    return Pipeline(draft=(noisy_copy(verifier, 1, 0.05), tokenizer), verifier=(verifier, tokenizer), dtype="fp32")


def write_head(pipeline, path, seed):
    identity = VerifierIdentity.of(pipeline.verifier.backend)
    weight = torch.randn(identity.hidden_size, generator=torch.Generator().manual_seed(seed))
    return JudgeHead(weight, torch.tensor(0.0), HeadMetadata(identity, threshold=0.5)).save(path)


def config(tmp_path, method, limit=1):
    return RunConfig(tasks=("fake_echo",), methods=("verifier", method), out=tmp_path / "run", draft="tiny-draft",
                     verifier="tiny-verifier", dtype="fp32", limit=limit, warmup_tokens=0, progress=False)


def records(tmp_path):
    return [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]


def test_samples_record_their_head_and_a_rewritten_head_is_refused(tmp_path, pipeline):
    head = write_head(pipeline, tmp_path / "head.safetensors", seed=0)
    method = f"judge:gamma=4,head={head}"
    run_eval(config(tmp_path, method), pipeline)
    digests = [r["method_config"].get("head_sha256") for r in records(tmp_path)]
    assert digests == [None, judge_heads.file_digest(head)]  # verifier-only reads no head
    assert run_eval(config(tmp_path, method, limit=2), pipeline).generated == 2  # same head: resumes
    write_head(pipeline, head, seed=1)
    with pytest.raises(RunSettingsMismatchError, match="another judge head file.*another --out"):
        run_eval(config(tmp_path, method, limit=3), pipeline)


def test_records_without_a_digest_resume_only_where_the_method_names_its_head(tmp_path, pipeline, monkeypatch):
    head = write_head(pipeline, tmp_path / "head.safetensors", seed=0)
    monkeypatch.setattr(head_module, "shipped_head_path", lambda verifier: head)  # as if it shipped for the tiny verifier
    named, bare = f"judge:gamma=4,head={head}", "judge:gamma=4"
    run_eval(config(tmp_path, named), pipeline)
    old = []  # as an older verispec wrote them: no digests, and the same samples under the bare label too
    for record in records(tmp_path):
        record["method_config"].pop("head_sha256", None)
        old.append(record)
        if record["method"] == Method.parse(named).label():
            options = {k: v for k, v in record["method_config"]["options"].items() if k != "head"}
            old.append({**record, "method": Method.parse(bare).label(), "method_config": {**record["method_config"], "options": options}})
    (tmp_path / "run" / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    assert run_eval(config(tmp_path, named, limit=2), pipeline).generated == 2
    assert run_eval(config(tmp_path, bare, limit=1), pipeline).generated == 0  # finished: nothing can mix
    with pytest.raises(RunSettingsMismatchError, match="before verispec recorded.*synthetic-head.*head=PATH"):
        run_eval(config(tmp_path, bare, limit=2), pipeline)
