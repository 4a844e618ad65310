"""`verispec judge mine` on tiny GGUF models: every label equals an independent one-sequence rollout."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from tiny_gguf import write_tiny_gguf

import verispec.eval.tasks as task_registry
from verispec.eval.tasks.base import Score, SingleTurnTask, TaskItem
from verispec.training.judge.mining.miner import MineConfig, Miner, Models, code_answer_settled, draft_greedy_along
from verispec.training.judge.mining.records import read_mined

pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (`make llama-cpp`)")

from verispec.backends.llamacpp_sequences import LlamaCppSequences  # noqa: E402
from verispec.models.handles import open_model  # noqa: E402
from verispec.training.judge.mining.batched_greedy import BatchedGreedy  # noqa: E402

BUDGET = 10


class LastLetter(SingleTurnTask):
    """A checkable toy task: the answer is right when its last letter comes before "n"."""

    name = "fake_last_letter"
    kind = "code"  # answers are right or wrong, as code answers pass or fail
    default_max_new_tokens = BUDGET

    def _load(self, split):
        words = ["abc", "dab", "fig", "bed", "cab", "face"] if split == "train" else ["zzz"]
        return [TaskItem(self.name, str(i), (w,), None) for i, w in enumerate(words)]

    def score(self, item, outputs):
        letters = [c for c in outputs[0] if c.isalpha()]
        return Score(bool(letters) and letters[-1] < "n", None, "")


@dataclass
class Pair:
    verifier: object
    draft: object
    paths: tuple[str, str] = ("v", "d")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mine")
    verifier = open_model(str(write_tiny_gguf(folder / "v.gguf", scale=0.5, context=256)), backend="llama.cpp",
                          dtype=torch.float32, device="cpu")
    draft = open_model(str(write_tiny_gguf(folder / "d.gguf", scale=0.5, noise=0.6, context=256)), backend="llama.cpp",
                       dtype=torch.float32, device="cpu")
    return Pair(verifier, draft, (str(folder / "v.gguf"), str(folder / "d.gguf")))


@pytest.fixture(autouse=True)
def toy_task(monkeypatch):
    monkeypatch.setitem(task_registry._TASKS, LastLetter.name, LastLetter)


def mine(pair: Pair, out, **config) -> dict[str, int]:
    models = Models(*pair.paths, "gguf", pair.verifier.tokenizer, pair.verifier.eos_token_ids, pair.draft.backend)
    sequences = LlamaCppSequences(pair.verifier.backend, sequences=8, n_ctx=1024, n_batch=256)
    greedy = BatchedGreedy(sequences, eos=models.eos, width=4, held=2, prefill_per_step=8)
    return Miner(MineConfig(out=out, tasks=(LastLetter.name,), **config), models, greedy, progress=False).run()


def greedy_alone(backend, tokens: list[int], budget: int, eos: frozenset[int]) -> list[int]:
    backend.clear_prefix_cache()
    written, logits = [], backend.forward(tokens, last_only=True).logits[-1]
    while len(written) < budget and (token := int(logits.argmax())) not in eos:
        written.append(token)
        logits = backend.forward([token], last_only=True).logits[-1]
    return written


def test_answers_mismatches_and_labels_match_one_sequence_decoding(pair, tmp_path):
    out = tmp_path / "mined.jsonl"
    added = mine(pair, out)
    data = read_mined(out)
    assert added["items"] == len(data.items) == 6 and added["mismatches"] == data.counts()["mismatches"] > 0
    verifier, eos, task = pair.verifier.backend, pair.verifier.eos_token_ids, LastLetter()
    items = {i.item_id: i for i in task.items("train")}
    decode = pair.verifier.tokenizer.decode
    for mined in data.items.values():
        assert mined.answer_ids == greedy_alone(verifier, mined.prompt_ids, BUDGET, eos)
        drafted = draft_greedy_along(pair.draft.backend, mined.prompt_ids, mined.answer_ids)
        assert mined.positions == [i for i, (a, b) in enumerate(zip(drafted, mined.answer_ids)) if a != b]
        assert set(data.mismatches.get((mined.task, mined.item_id), {})) == set(mined.chosen) == set(mined.positions)
    for mined, label in data.labels():
        prefix = [*mined.answer_ids[: label.position], label.draft_token]
        rest = [] if label.draft_token in eos else greedy_alone(verifier, [*mined.prompt_ids, *prefix], BUDGET - len(prefix), eos)
        right = task.score(items[mined.item_id], [decode([*prefix, *rest], skip_special_tokens=True)]).correct
        assert label.written == len(rest) and label.correct == right
        assert label.important == (right != mined.correct) and label.verifier_token == mined.answer_ids[label.position]


def test_the_data_card_counts_what_the_file_holds(pair, tmp_path):
    import json

    out = tmp_path / "mined.jsonl"
    mine(pair, out)
    data = read_mined(out)
    numbers = json.loads((tmp_path / "mined.card.json").read_text())
    labels = [m for by in data.mismatches.values() for m in by.values()]
    assert numbers["all"]["labelled"] == len(labels) and numbers["all"]["important"] == sum(m.important for m in labels)
    assert numbers["all"]["items"] == 6 and numbers["all"]["mismatches"] == sum(len(i.positions) for i in data.items.values())
    assert f"| {LastLetter.name} | 6 |" in (tmp_path / "mined.card.md").read_text()


def test_reruns_resume_and_a_larger_per_item_adds_a_superset(pair, tmp_path):
    out = tmp_path / "mined.jsonl"
    assert mine(pair, out, per_item=1, time_budget_s=0.0) == {"items": 0, "mismatches": 0, "important": 0}
    first = mine(pair, out, per_item=1)
    chosen = {k: set(v) for k, v in read_mined(out).mismatches.items()}
    assert first["mismatches"] == sum(map(len, chosen.values())) and all(len(v) == 1 for v in chosen.values())
    assert mine(pair, out, per_item=1)["mismatches"] == 0  # nothing left
    more = mine(pair, out, per_item=2)
    after = read_mined(out)
    assert more["items"] == 0 and all(chosen[k] <= set(v) for k, v in after.mismatches.items())
    assert after.counts()["mismatches"] == first["mismatches"] + more["mismatches"]
    assert len(out.read_text().splitlines()) == len(after.items) + after.counts()["mismatches"]  # no duplicates


def test_a_code_answer_settles_at_a_closed_block_defining_the_function():
    assert not code_answer_settled("```python\ndef f(x):\n    return x", "f")  # still open
    assert not code_answer_settled("```python\ndef g(x):\n    return x\n```\n", "f")  # another function
    assert not code_answer_settled("```text\ndef f(x):\n```\n", "f")  # not Python
    assert code_answer_settled("Here:\n```python\ndef f(x):\n    return x\n```\nMore words", "f")


def test_judge_fit_trains_a_head_on_the_mined_file(pair, tmp_path, capsys):
    from verispec.cli import main
    from verispec.judge.head import JudgeHead

    out = tmp_path / "mined.jsonl"
    mine(pair, out)
    head, report = tmp_path / "head.safetensors", tmp_path / "report.json"
    args = ["judge", "fit", str(out), "--out", str(head), "--report", str(report), "--folds", "3", "--no-progress",
            "--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "grouped-CV ROC-AUC" in printed and "look-ahead guard" in printed and report.is_file()
    loaded = JudgeHead.load(head)
    assert loaded.meta.features == ("verifier_hidden", "verifier_context", "logits") and loaded.meta.feature_dtype == "gguf:v.gguf"
    assert loaded.width == 2 * pair.verifier.backend.hidden_size + 7
    assert main([*args[:2], str(tmp_path / "none.jsonl"), *args[3:]]) == 2  # nothing mined: one error line
    assert "holds no mined items" in capsys.readouterr().err
    assert main([*args, "--tasks", "mbpp"]) == 2 and "holds no mined items of mbpp" in capsys.readouterr().err
