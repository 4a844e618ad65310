"""``verispec bench``: table on stdout, JSON file, method selection and one-line errors."""

import json

import pytest

from verispec.cli import main


@pytest.fixture
def tiny(monkeypatch, make_pipe):
    """Make the CLI build its Pipeline from tiny in-process models instead of loading by name."""
    monkeypatch.setattr("verispec.cli.bench.Pipeline", lambda **kwargs: make_pipe())


def test_prints_table_and_writes_json(tiny, tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["bench", "--limit", "2", "--max-new-tokens", "6", "--out", str(out), "--quiet", "--no-warmup"]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert stdout.splitlines()[0].split()[:3] == ["method", "tok/s", "speedup"]
    assert "ceiling 1/c" in stdout and "2 prompts x 1 repeat(s)" in stdout and f"results: {out}" in stdout
    payload = json.loads(out.read_text())
    assert payload["command"][:2] == ["verispec", "bench"] and "--limit" in payload["command"]
    # In-memory models have no GGUF file, so llama.cpp's own decoding is not among the defaults.
    assert [m["method"] for m in payload["summary"]["methods"]] == ["verifier", "draft", "sd", "sd:drafter=lookup", "hf-assisted"]
    assert payload["settings"]["warmup"] is False


def test_no_peer_and_method_specs(tiny, tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["bench", "--methods", "verifier,sd:gamma=3,hf-assisted,hf-assisted@draft=x", "--no-peer",
            "--categories", "code", "--limit", "1", "--max-new-tokens", "4", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    payload = json.loads(out.read_text())
    assert [m["method"] for m in payload["summary"]["methods"]] == ["verifier", "sd:gamma=3"]
    assert [p["category"] for p in payload["prompts"]] == ["code"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "--methods", "sd"], "must include 'verifier'"),
        (["bench", "--max-new-tokens", "0"], "max_new_tokens must be >= 1"),
        (["bench", "--categories", "poetry"], "unknown prompt categories"),
    ],
)
def test_bad_input_exits_2_with_one_line(tiny, tmp_path, capsys, argv, message):
    assert main([*argv, "--out", str(tmp_path / "r.json"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not (tmp_path / "r.json").exists()


def test_busy_machine_warning_discounts_the_runs_own_threads():
    from verispec.cli.bench import _busy_note

    assert _busy_note({"before": [0.1, 0, 0], "after": [2.3, 0, 0]}, cores=2, threads=2) is None
    assert "timings are skewed" in _busy_note({"before": [3.9, 0, 0], "after": [2.3, 0, 0]}, cores=2, threads=2)
    assert "timings are skewed" in _busy_note({"before": [0.0, 0, 0], "after": [4.2, 0, 0]}, cores=2, threads=2)
    assert _busy_note({"before": None, "after": None}, cores=2, threads=2) is None
