"""``verispec generate``: output forms and one-line errors with a non-zero exit."""

import json

import pytest

from tiny_models import byte_tokenizer, noisy_copy, tiny_model
from verispec import pipeline as pipeline_module
from verispec.cli import main


@pytest.fixture
def tiny_pipeline(monkeypatch):
    """Make the CLI build its Pipeline from tiny in-process models instead of loading by name."""
    tokenizer = byte_tokenizer()
    verifier = tiny_model(0)
    draft = noisy_copy(verifier, 1, 0.002)
    real = pipeline_module.Pipeline

    def fake(draft_name=None, verifier_name=None, **kwargs):
        return real(draft=(draft, tokenizer), verifier=(verifier, tokenizer), dtype="fp32")

    monkeypatch.setattr("verispec.cli.generate.Pipeline", fake)


def test_json_output_has_text_tokens_and_stats(tiny_pipeline, capsys):
    assert main(["generate", "hello", "--json", "--max-new-tokens", "12", "--raw"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["token_ids"]) == 12
    assert {"mean_accepted_length", "acceptance_rate", "tokens_per_second"} <= payload["stats"].keys()


def test_streamed_text_and_summary(tiny_pipeline, capsys):
    assert main(["generate", "hello", "--max-new-tokens", "8", "--method", "verifier"]) == 0
    captured = capsys.readouterr()
    assert "[verifier] 8 tokens" in captured.err


def test_show_tokens_colours_by_provenance(tiny_pipeline, capsys):
    assert main(["generate", "hello", "--show-tokens", "--max-new-tokens", "8"]) == 0
    captured = capsys.readouterr()
    assert "\033[30;48;5;" in captured.out
    assert "kept by the exact check" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "hello", "--gamma", "0"], "gamma (draft length) must be >= 1"),
        (["generate", "hello", "--max-new-tokens", "0"], "max_new_tokens must be >= 1"),
        (["generate", "", "--raw"], "prompt is empty"),
        (["generate", "hello", "--method", "magic"], "unknown method 'magic'"),
    ],
)
def test_bad_input_exits_2_with_one_line(tiny_pipeline, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_unknown_model_name_says_what_exists(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["generate", "hello", "--verifier", "no-such-model-xyz", "--method", "verifier"]) == 2
    err = capsys.readouterr().err
    assert "qwen2.5-coder-1.5b-instruct" in err


def test_collaborative_methods_run_from_generate_with_their_authors(tiny_pipeline, capsys):
    assert main(["generate", "hello", "--json", "--max-new-tokens", "6", "--raw", "--method", "cosd-rule:alpha=1"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["method"] == "cosd-rule:alpha=1.0"
    assert len(payload["authors"]) == len(payload["token_ids"]) == 6
    assert main(["generate", "hello", "--max-new-tokens", "6", "--raw", "--method", "avg"]) == 0
    assert "written by: " in capsys.readouterr().err


def test_assistants_reach_the_pipeline(monkeypatch):
    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr("verispec.cli.generate.Pipeline", fake)
    with pytest.raises(SystemExit):
        main(["generate", "hi", "--method", "cosd-rule", "--assistant", "a2", "--assistant", "a3"])
    assert seen["assistants"] == ["a2", "a3"]
