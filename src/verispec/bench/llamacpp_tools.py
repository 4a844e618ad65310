"""llama.cpp's own draft-model speculative decoding as a benchmark peer (``llama-speculative``).

``benchmarks/build-llama-tools.sh`` builds ``llama-speculative-simple`` from the source that
llama-cpp-python vendors, so it runs the same llama.cpp as verispec's backend. Each run is one
process on the verifier's and the draft's GGUF files, greedy, with the benchmark's thread count.
Its own timers give the time (prompt and generation, not loading the models), its log the
drafted and accepted counts. It prints text, not token ids, so a record's ids are the verifier
tokenizer's ids of that text; it may decode a few tokens past the budget (the last draft), and
counts them, as its timer does.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from verispec.bench.llamacpp_peer import CONTEXT, gguf_of
from verispec.bench.records import RunContext, RunRecord
from verispec.errors import ConfigError
from verispec.models.handles import ModelHandle

LLAMA_SPECULATIVE = "llama-speculative"
# Options map to the program's flags; unset ones keep llama.cpp's defaults (3, 0 and 0.0 here).
SPECULATIVE_FLAGS: dict[str, tuple[str, type]] = {
    "draft_max": ("--spec-draft-n-max", int),
    "draft_min": ("--spec-draft-n-min", int),
    "p_min": ("--spec-draft-p-min", float),
}
PROGRAM = "llama-speculative-simple"
TIMEOUT_SECONDS = 600

_TIMES = re.compile(r"(encoded|decoded)\s+(\d+) tokens in\s+([\d.]+) seconds")
_COUNTS = re.compile(r"\b(n_predict|n_drafted|n_accept)\s*=\s*(\d+)")  # log lines start with a timestamp


def tools_dir() -> Path:
    """Where ``build-llama-tools.sh`` puts the programs for the installed llama-cpp-python."""
    from verispec.backends.llamacpp_backend import llama_cpp_version
    from verispec.models.cache import cache_root

    return cache_root() / "llama-tools" / llama_cpp_version()


def tool_program(program: str, user: str) -> Path:
    """A program ``build-llama-tools.sh`` built; a ConfigError names ``user`` (what needs it) and how to build it."""
    path = tools_dir() / program
    if not path.is_file():
        raise ConfigError(f"{user} needs llama.cpp's {program} in {path.parent}: run `benchmarks/build-llama-tools.sh`")
    return path


def speculative_program() -> Path:
    """The built ``llama-speculative-simple``; a ConfigError says how to build it."""
    return tool_program(PROGRAM, LLAMA_SPECULATIVE)


def build_flags(program: Path) -> list[str] | None:
    """The cmake flags ``program`` was built with (None where the build left no record)."""
    flags = program.parent / "build-flags.txt"
    return flags.read_text().split() if flags.is_file() else None


def program_info() -> dict[str, Any]:
    """Which program ran and how it was built, for the results file."""
    program = speculative_program()
    return {"path": str(program), "build_flags": build_flags(program)}


def run_speculative(
    ctx: RunContext, options: dict[str, Any], verifier: ModelHandle, draft: ModelHandle,
    prompt_ids: Sequence[int], max_new_tokens: int,
) -> RunRecord:
    """One greedy generation by llama.cpp's speculative program, recorded like verispec's runs."""
    import torch

    threads = str(torch.get_num_threads())
    prompt = verifier.tokenizer.decode(list(prompt_ids), skip_special_tokens=False)
    command = [
        str(speculative_program()), "-m", str(gguf_of(verifier)), "-md", str(gguf_of(draft)), "-p", prompt,
        "-n", str(max_new_tokens), "--temp", "0", "--top-k", "1", "-t", threads, "-td", threads,
        "-c", str(CONTEXT), "-fa", "on", "--spec-type", "draft-simple",
    ]
    for name, value in options.items():
        command += [SPECULATIVE_FLAGS[name][0], str(value)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{PROGRAM} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    log = done.stdout + done.stderr
    times = {kind: (int(n), float(s)) for kind, n, s in _TIMES.findall(log)}
    counts = {name: int(n) for name, n in _COUNTS.findall(log)}
    if set(times) != {"encoded", "decoded"} or "n_predict" not in counts:
        raise RuntimeError(f"{PROGRAM} printed no timings; its log ends: {log.strip()[-500:]}")
    text = _generated_text(done.stdout, prompt)
    tokens = verifier.tokenizer.encode(text, add_special_tokens=False)[:max_new_tokens]  # the end token prints as text
    eos = verifier.eos_token_ids
    accepted = counts.get("n_accept", 0)
    rounds = max(0, counts["n_predict"] - accepted)  # each verification commits the kept draft and one token
    return RunRecord(
        prompt_id=ctx.prompt_id, category=ctx.category, method=ctx.method, repeat=ctx.repeat, position=ctx.position,
        prompt_tokens=len(prompt_ids), new_tokens=counts["n_predict"],
        wall_seconds=times["encoded"][1] + times["decoded"][1], rounds=rounds,
        proposed=counts.get("n_drafted", 0), accepted=accepted,
        draft_forwards=0, verifier_forwards=rounds + 1, draft_seconds=0.0, verifier_seconds=0.0,
        finish_reason="eos" if tokens and tokens[-1] in eos else "length", token_ids=tokens, text=text,
        details={"prompt_tokens_read": times["encoded"][0], "encode_seconds": times["encoded"][1],
                 "decode_seconds": times["decoded"][1],
                 "token_ids_from": "the verifier tokenizer's encoding of the printed text"},
    )


def _generated_text(stdout: str, prompt: str) -> str:
    """The program prints the prompt, then the generated text, then two newlines."""
    start = stdout.find(prompt)
    text = stdout[start + len(prompt):] if start >= 0 else stdout
    return text[:-2] if text.endswith("\n\n") else text
