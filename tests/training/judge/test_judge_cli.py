"""`verispec judge train` and `verispec judge evaluate` on a tiny local verifier and a synthetic data set."""

import importlib
import json
import random

import pytest

from tiny_models import byte_tokenizer, tiny_model
from verispec.cli import build_parser, main
from verispec.judge.head import JudgeHead


@pytest.fixture(scope="module")
def verifier_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-verifier")
    tiny_model(0).save_pretrained(path)
    byte_tokenizer().save_pretrained(path)
    return path


@pytest.fixture
def data(make_record, write_jsonl):
    """60 responses of random words, each with an error span after a few characters."""
    rng = random.Random(0)
    words = ["two", "plus", "is", "four", "five", "so", "the", "answer"]
    records = []
    for i in range(60):
        response = " ".join(rng.choice(words) for _ in range(8))
        start = rng.randrange(6, len(response) - 1)
        records.append(make_record(f"{i}-q", response, spans=[(start, start + 1)], content=f"Question {i}?"))
    return write_jsonl("judge.jsonl", records)


def test_train_then_evaluate(verifier_dir, data, tmp_path, capsys):
    head_path, cache = tmp_path / "heads" / "tiny.safetensors", tmp_path / "cache"
    common = ["--dtype", "fp32", "--cache-dir", str(cache)]
    code = main(["judge", "train", str(data), "--verifier", str(verifier_dir), "--out", str(head_path), "--epochs", "30", "--target-recall", "0.8", *common])
    assert code == 0
    out = capsys.readouterr().out
    assert f"wrote {head_path}" in out and "θ =" in out and "judge bad recall" in out
    meta = JudgeHead.load(head_path).meta
    assert meta.verifier.name == str(verifier_dir) and meta.verifier.hidden_size == 32
    assert meta.training["data"]["samples"] == 60 and meta.training["data"]["files"][0]["name"] == "judge.jsonl"
    assert meta.metrics["validation"]["at_threshold"]["bad_recall"] >= 0.8
    assert len(list(cache.iterdir())) == 1

    metrics_path = tmp_path / "metrics.json"
    assert main(["judge", "evaluate", str(head_path), str(data), "--out", str(metrics_path), *common]) == 0
    report = json.loads(metrics_path.read_text())
    assert report["threshold"] == meta.threshold and report["split"] == "all"
    assert report["metrics"]["bad"] == 60 and 0 <= report["metrics"]["roc_auc"] <= 1
    assert len(report["metrics"]["curve"]) == 51 and "judge_only" in report["metrics"]["agreement"]
    assert len(list(cache.iterdir())) == 1  # the features came from the cache

    assert main(["judge", "evaluate", str(head_path), str(data), "--split", "validation", "--out", str(metrics_path), *common]) == 0
    validation_report = json.loads(metrics_path.read_text())
    assert validation_report["data"]["samples"] == meta.training["validation"]["samples"] < 60
    validation = validation_report["metrics"]
    assert validation["tokens"] == meta.metrics["validation"]["tokens"] < report["metrics"]["tokens"]
    assert validation["roc_auc"] == pytest.approx(meta.metrics["validation"]["roc_auc"])


def test_a_head_trained_without_a_source_is_evaluated_on_it_from_the_same_cache(verifier_dir, data, tmp_path):
    """The out-of-distribution experiment: train without code, evaluate on code only, one extraction."""
    records = [json.loads(line) for line in data.read_text().splitlines()]
    for record in records[::3]:
        record["source"] = "code"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    head_path, cache = tmp_path / "no-code.safetensors", tmp_path / "cache"
    common = ["--dtype", "fp32", "--cache-dir", str(cache)]
    train = ["judge", "train", str(data), "--verifier", str(verifier_dir), "--out", str(head_path), "--epochs", "30"]
    assert main([*train, "--target-recall", "0.8", "--exclude-source", "code", *common]) == 0
    meta = JudgeHead.load(head_path).meta
    assert meta.training["data"]["by_source"] == {"math": 40} and meta.training["data"]["excluded_sources"] == ["code"]

    metrics_path = tmp_path / "code.json"
    assert main(["judge", "evaluate", str(head_path), str(data), "--source", "code", "--out", str(metrics_path), *common]) == 0
    report = json.loads(metrics_path.read_text())
    assert report["data"]["by_source"] == {"code": 20} and report["metrics"]["bad"] == 20
    assert len(list(cache.iterdir())) == 1


def test_missing_data_is_one_error_line(verifier_dir, tmp_path, capsys):
    code = main(["judge", "train", str(tmp_path / "none.jsonl"), "--verifier", str(verifier_dir), "--out", str(tmp_path / "h.safetensors"), "--dtype", "fp32"])
    assert code == 2
    assert "error: the data set" in capsys.readouterr().err


@pytest.mark.parametrize(("command", "module"), [("build-data", "build")])
def test_data_commands_are_wired_to_their_builders(capsys, command, module):
    try:
        importlib.import_module(f"verispec.training.judge.data.{module}")
    except ModuleNotFoundError:
        assert main(["judge", command]) == 2
        assert "judge data builder (verispec.training.judge.data) is not in this installation" in capsys.readouterr().err
        return
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["judge", command, "--help"])
    assert exit_info.value.code == 0


def test_a_head_trains_and_evaluates_on_llama_cpp_hidden_states(make_record, write_jsonl, tmp_path, capsys):
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (`make llama-cpp`)")
    from tiny_gguf import write_tiny_gguf

    verifier = write_tiny_gguf(tmp_path / "verifier.gguf", scale=0.5)
    rng = random.Random(1)
    words = ["ab", "cab", "dead", "bed", "face", "fig"]  # the tiny GGUF's vocabulary: lower case letters
    records = []
    for i in range(40):
        response = " ".join(rng.choice(words) for _ in range(6))
        start = rng.randrange(4, len(response) - 1)
        records.append(make_record(f"{i}-q", response, spans=[(start, start + 1)], content="what is it"))
    data = write_jsonl("judge.jsonl", records)
    head_path, common = tmp_path / "head.safetensors", ["--backend", "llama.cpp", "--cache-dir", str(tmp_path / "cache")]
    train = ["judge", "train", str(data), "--verifier", str(verifier), "--out", str(head_path), "--epochs", "30"]
    assert main([*train, "--target-recall", "0.8", *common]) == 0
    meta = JudgeHead.load(head_path).meta
    assert meta.verifier.hidden_size == 32 and meta.feature_dtype == "gguf:verifier.gguf"
    assert meta.training["data"]["samples"] == 40
    out = tmp_path / "metrics.json"
    assert main(["judge", "evaluate", str(head_path), str(data), "--verifier", str(verifier), "--out", str(out), *common]) == 0
    assert json.loads(out.read_text())["metrics"]["bad"] == 40
