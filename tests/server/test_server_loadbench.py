"""The load benchmark on tiny models: every request completes and the JSON holds what the report needs."""

from __future__ import annotations

import json

import pytest

from server_support import tiny_pipeline
from verispec.cli import main
from verispec.errors import ConfigError
from verispec.server.loadbench import LoadConfig, run_load_benchmark


def test_waves_of_concurrent_streaming_clients_all_complete():
    results = run_load_benchmark(tiny_pipeline(), LoadConfig(clients=(1, 3), waves=2, max_tokens=6),
                                 settings={"draft": "tiny"})
    assert [level["clients"] for level in results["levels"]] == [1, 3]
    level = results["levels"][1]
    summary = level["summary"]
    assert (summary["requests"], summary["completed"], summary["failed"]) == (6, 6, 0)
    assert summary["completion_tokens"] == 36
    assert summary["latency_s"]["p50"] <= summary["latency_s"]["p95"] <= summary["latency_s"]["max"]
    assert summary["throughput_tokens_per_s"] > 0 and summary["mean_accepted_length"] > 0
    records = level["requests"]
    assert sorted((r["wave"], r["client"]) for r in records) == [(w, c) for w in range(2) for c in range(3)]
    for record in records:
        assert record["ok"] and record["error"] is None and record["completion_tokens"] == 6
        assert 0 < record["ttft_s"] <= record["latency_s"]
        assert record["stats"]["new_tokens"] == 6
    memory = level["memory"]
    assert list(memory["rss_mib"]) == ["start", "end of wave 1", "end of wave 2"]
    assert memory["peak_rss_mib"] >= memory["rss_mib"]["start"] > 0
    assert results["warm_up"]["ok"] and results["levels"][0]["summary"]["completed"] == 2
    assert list(results["settings"]["clients"]) == [1, 3] and results["settings"]["draft"] == "tiny"
    assert results["settings"]["batched"] is True  # torch models batch too
    assert {"fastapi", "uvicorn", "openai", "torch"} <= results["environment"]["versions"].keys()


def test_load_settings_are_checked():
    with pytest.raises(ConfigError, match="clients must be >= 1"):
        LoadConfig(clients=(4, 0))


def test_serve_bench_command_writes_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("verispec.cli.serve_bench.Pipeline", lambda **kwargs: tiny_pipeline())
    out = tmp_path / "load.json"
    argv = ["serve-bench", "--clients", "1,2", "--waves", "1", "--max-tokens", "4", "--out", str(out)]
    assert main(argv) == 0
    results = json.loads(out.read_text())
    assert results["schema"] == "verispec.server-load/2"
    assert results["command"][:2] == ["verispec", "serve-bench"] and "--clients" in results["command"]
    assert [level["summary"]["completed"] for level in results["levels"]] == [1, 2]
    printed = capsys.readouterr().out
    assert "2 clients: 2/2 requests completed" in printed and f"results: {out}" in printed
    assert results["command"][results["command"].index("--clients") + 1] == "1,2"


def test_serve_bench_runs_the_server_as_a_process_of_its_own(tmp_path):
    from verispec.models import cache

    if not cache.is_complete(cache.model_dir("smollm2-135m-instruct")):
        pytest.skip("needs `verispec models pull smollm2-135m-instruct`")
    out = tmp_path / "load.json"
    argv = ["serve-bench", "--clients", "2", "--waves", "1", "--max-tokens", "4", "--batch-size", "2",
            "--process", "--backend", "torch", "--dtype", "fp32", "--out", str(out)]
    assert main(argv) == 0
    results = json.loads(out.read_text())
    settings = results["settings"]
    assert settings["server_process"] is True and settings["argv"][1:4] == ["-m", "verispec.cli", "serve"]
    assert "--process" in results["command"]
    level = results["levels"][0]
    assert level["summary"]["completed"] == 2 and all(r["completion_tokens"] == 4 for r in level["requests"])
    assert level["memory"]["peak_rss_mib"] > 200  # the server's process, which holds the model, not this one
