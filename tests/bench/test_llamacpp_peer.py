"""The llama.cpp peers and ``@backend`` methods of the benchmark: parsing, errors, and a whole run on tiny GGUF files."""

from __future__ import annotations

import pytest
from tiny_gguf import write_tiny_gguf
from tiny_models import byte_tokenizer, tiny_model

from verispec import Pipeline
from verispec.bench import BenchConfig, run_bench
from verispec.bench.llamacpp_peer import gguf_of
from verispec.bench.methods import parse_method, parse_methods
from verispec.errors import ConfigError


def test_peer_and_backend_specs_parse_with_their_defaults():
    plain, lookup, tuned = parse_methods(["verifier", "llama-plain", "llama-lookup", "llama-lookup:num_pred_tokens=10"])[1:]
    assert (plain.peer, plain.speculative) == ("llama-plain", False)
    assert lookup.peer_options == {"num_pred_tokens": 2, "max_ngram_size": 3} and lookup.speculative
    assert tuned.label == "llama-lookup:num_pred_tokens=10" and tuned.peer_options["num_pred_tokens"] == 10
    assert lookup.settings()["kind"] == "llama-cpp-python"
    speculative, tuned_speculative = (
        parse_method(spec) for spec in ("llama-speculative", "llama-speculative:draft_max=8,p_min=0.75")
    )
    assert speculative.peer_options == {} and speculative.speculative  # llama.cpp's own defaults
    assert tuned_speculative.peer_options == {"draft_max": 8, "p_min": 0.75}
    assert speculative.settings()["kind"] == "llama.cpp"
    on_torch = parse_method("sd:gamma=4@torch")
    assert (on_torch.label, on_torch.backend, on_torch.method.label()) == ("sd:gamma=4@torch", "torch", "sd:gamma=4")
    assert parse_method("sd").backend is None


@pytest.mark.parametrize(
    ("spec", "match"),
    [("llama-plain:x=1", "takes no options"), ("llama-lookup:num_pred_tokens=0", "must be >= 1"),
     ("llama-lookup:depth=2", "bad option"), ("sd@vllm", "runs @torch or @llama.cpp"),
     ("llama-speculative:draft_max=0", "need draft_max >= 1"), ("llama-speculative:p_min=2", "0 <= p_min <= 1")],
)
def test_bad_specs_are_typed_errors(spec, match):
    with pytest.raises(ConfigError, match=match):
        parse_method(spec)


FAKE_PROGRAM = """#!/usr/bin/env bash
printf '%s\\n' "$@" > "$(dirname "$0")/argv.txt"
while [ "$1" != "-p" ]; do shift; done
printf '%s' "$2"; printf ' the answer is 42\\n\\n'
echo "0.03.809.806 I encoded   20 tokens in    0.250 seconds, speed:   80.000 t/s" >&2
echo "0.03.809.827 I decoded   12 tokens in    0.750 seconds, speed:   16.000 t/s" >&2
printf '0.03.8 I n_draft   = 3\\n0.03.8 I n_predict = 12\\n0.03.8 I n_drafted = 9\\n0.03.8 I n_accept  = 6\\n' >&2
"""


def test_llama_cpps_speculative_program_runs_greedy_and_its_log_becomes_a_record(tmp_path, monkeypatch):
    from verispec.bench import llamacpp_tools
    from verispec.bench.records import RunContext

    program = tmp_path / llamacpp_tools.PROGRAM
    program.write_text(FAKE_PROGRAM)
    program.chmod(0o755)
    monkeypatch.setattr(llamacpp_tools, "tools_dir", lambda: tmp_path)
    monkeypatch.setattr(llamacpp_tools, "gguf_of", lambda model: tmp_path / f"{id(model)}.gguf")
    pipe = Pipeline(draft=(tiny_model(0), byte_tokenizer()), verifier=(tiny_model(1), byte_tokenizer()))
    prompt_ids = pipe.verifier.tokenizer.encode("Say: ")
    ctx = RunContext("p", "math", "llama-speculative:draft_max=8", 0, 0)
    record = llamacpp_tools.run_speculative(ctx, {"draft_max": 8}, pipe.verifier, pipe.draft, prompt_ids, 12)
    argv = (tmp_path / "argv.txt").read_text().split("\n")
    assert argv[argv.index("--spec-draft-n-max") + 1] == "8" and argv[argv.index("--top-k") + 1] == "1"
    assert argv[argv.index("-p") + 1] == "Say: " and argv[argv.index("-n") + 1] == "12"
    assert record.text == " the answer is 42" and record.token_ids == pipe.verifier.tokenizer.encode(record.text)[:12]
    assert (record.new_tokens, record.wall_seconds, record.tokens_per_second) == (12, 1.0, 12.0)
    assert (record.proposed, record.accepted, record.rounds) == (9, 6, 6)
    assert record.overhead_fraction is None  # the program times itself only
    monkeypatch.setattr(llamacpp_tools, "tools_dir", lambda: tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="build-llama-tools.sh"):
        llamacpp_tools.run_speculative(ctx, {}, pipe.verifier, pipe.draft, prompt_ids, 12)


def test_the_peers_need_the_verifiers_gguf():
    pipe = Pipeline(draft=(tiny_model(0), byte_tokenizer()), verifier=(tiny_model(0), byte_tokenizer()))
    with pytest.raises(ConfigError, match="need their models as GGUF files"):
        gguf_of(pipe.verifier)


def test_a_benchmark_on_gguf_files_runs_verispec_on_both_backends_and_llama_cpps_own_decoding(tmp_path):
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (`make llama-cpp`)")
    verifier = write_tiny_gguf(tmp_path / "verifier.gguf", scale=0.5, context=2048)  # room for the bench prompts
    draft = write_tiny_gguf(tmp_path / "draft.gguf", scale=0.5, noise=0.35, context=2048)
    pipe = Pipeline(draft=str(draft), verifier=str(verifier), backend="llama.cpp")
    methods = ("verifier", "sd", "sd:drafter=lookup", "llama-plain", "llama-lookup", "verifier@torch")
    result = run_bench(pipe, BenchConfig(methods=methods, max_new_tokens=16, limit=2, warmup_tokens=4), progress=False)
    runs = {(r.prompt_id, r.method): r for r in result.runs}
    for prompt in {r.prompt_id for r in result.runs}:
        reference = runs[(prompt, "verifier")].token_ids
        assert reference and runs[(prompt, "llama-plain")].token_ids == reference  # greedy is greedy
        assert runs[(prompt, "sd")].token_ids == reference
        assert runs[(prompt, "llama-plain")].verifier_forwards == len(reference)  # the prompt, then one per token
    assert result.method_settings["verifier@torch"]["ran_on"] == "torch"
    assert result.method_settings["sd"]["cost_aware"] is True  # llama.cpp's default
    assert set(result.models["backends"]) == {"llama.cpp", "torch"}
    assert "CPU :" in result.models["backends"]["llama.cpp"]["cpu_kernels"]  # llama.cpp's system info
