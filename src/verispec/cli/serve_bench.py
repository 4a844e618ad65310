"""``verispec serve-bench``: many concurrent streaming clients against the server, results as JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from verispec.cli.runtime import add_runtime_options, runtime_argv, runtime_kwargs
from verispec.cli.serve import ServerDependencyError
from verispec.pipeline import Pipeline

SMALL_MODEL = "smollm2-135m-instruct"
DEFAULT_OUT = Path("benchmarks") / "results" / "server-load.json"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve-bench`` command."""
    parser = subparsers.add_parser(
        "serve-bench", help="load-test the server: concurrent streaming clients, latency, throughput, memory",
        description=(
            "Starts the server on loopback in this process, sends one warm-up request, then WAVES waves of CLIENTS "
            "concurrent streaming chat requests (the openai client) on the built-in benchmark prompts. Writes "
            "every request's latency and time to first token, p50/p95, throughput and resident memory to JSON."
        ),
    )
    parser.add_argument("--draft", default=SMALL_MODEL, help="draft model (default: %(default)s)")
    parser.add_argument("--verifier", default=SMALL_MODEL, help="verifier model (default: %(default)s)")
    parser.add_argument("--method", default="sd", help="method of every request (default: %(default)s)")
    parser.add_argument("--clients", type=_levels, default=(20,),
                        help="concurrent streaming clients, or levels run in turn: 1,4,8,20 (default: 20)")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="requests the server batches together (default: %(default)s)")
    parser.add_argument("--waves", type=int, default=2, help="rounds of concurrent requests (default: %(default)s)")
    parser.add_argument("--max-tokens", type=int, default=32, help="per request (default: %(default)s)")
    parser.add_argument("--temperature", type=float, default=0.0, help="(default: %(default)s, greedy)")
    parser.add_argument("--peer", choices=["llama-server"], default=None,
                        help="load llama.cpp's own llama-server (continuous batching, --batch-size parallel slots) "
                             "on the verifier's GGUF instead of verispec (build it: benchmarks/build-llama-tools.sh)")
    parser.add_argument("--process", action="store_true",
                        help="run verispec's server as a process of its own (`verispec serve`), as the peer runs, "
                             "so that the clients do not share its Python interpreter")
    add_runtime_options(parser)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the load benchmark; exit 1 if any request failed."""
    try:
        from verispec.server.loadbench import LoadConfig, run_load_benchmark
    except ImportError as error:
        raise ServerDependencyError(
            f"verispec serve-bench needs fastapi, uvicorn and openai, but {error.name} is not installed: "
            "pip install 'verispec[serve]'"
        ) from error

    config = LoadConfig(clients=args.clients, waves=args.waves, max_tokens=args.max_tokens, method=args.method,
                        temperature=args.temperature, batch_size=args.batch_size)
    args.out.parent.mkdir(parents=True, exist_ok=True)  # fail now rather than after the run
    if args.peer:
        results = _run_peer(_pipeline(args), config, args)
    elif args.process:
        results = _run_server_process(config, args)
    else:
        pipe = _pipeline(args)
        settings = {"draft": args.draft, "verifier": args.verifier, **pipe.runtime()}
        results = run_load_benchmark(pipe, config, settings=settings, command=_command(args))
    _write(results, args.out)
    print(_report(results))
    print(f"results: {args.out}")
    return 0 if all(level["summary"]["failed"] == 0 for level in results["levels"]) else 1


def _pipeline(args: argparse.Namespace) -> Pipeline:
    return Pipeline(draft=args.draft, verifier=args.verifier, **runtime_kwargs(args))


def _run_peer(pipe: Pipeline, config: Any, args: argparse.Namespace) -> dict[str, Any]:
    """llama-server on the verifier's GGUF, with the threads verispec's llama.cpp backend uses."""
    from verispec.bench.llamacpp_peer import gguf_of
    from verispec.server.peer_load import run_peer_load

    verifier = pipe.verifier
    threads = getattr(verifier.backend, "n_threads", None) or os.cpu_count() or 1
    settings = {"verifier": args.verifier, "gguf": str(gguf_of(verifier))}
    return run_peer_load(gguf_of(verifier), config, threads=threads, settings=settings, command=_command(args))


def _run_server_process(config: Any, args: argparse.Namespace) -> dict[str, Any]:
    """``verispec serve`` in a process of its own, with this command's models and runtime options."""
    from verispec.server.peer_load import free_port, run_server_process

    port = free_port()
    argv = [sys.executable, "-m", "verispec.cli", "serve", "--draft", args.draft, "--verifier", args.verifier,
            "--method", args.method, "--batch-size", str(args.batch_size),
            "--queue-size", str(config.queue_size), "--port", str(port), "--log-level", "warning",
            *runtime_argv(args)]
    settings = {"draft": args.draft, "verifier": args.verifier, "argv": argv, "batched": args.batch_size > 1}
    return run_server_process(argv, port, "verispec", config, settings=settings, command=_command(args))


def _levels(text: str) -> tuple[int, ...]:
    """``"20"`` or ``"1,4,8,20"``: the numbers of concurrent clients, each level in turn."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"clients must be a number or a comma list of numbers, got {text!r}") from None


def _report(results: dict[str, Any]) -> str:
    return "\n".join(_level_report(level) for level in results["levels"])


def _level_report(level: dict[str, Any]) -> str:
    s, memory = level["summary"], level["memory"]
    latency, ttft = s["latency_s"] or {}, s["ttft_s"] or {}
    return (
        f"{level['clients']} clients: {s['completed']}/{s['requests']} requests completed in {s['wall_seconds']:.1f} s; "
        f"latency p50 {latency.get('p50')} s, p95 {latency.get('p95')} s; "
        f"first token p50 {ttft.get('p50')} s, p95 {ttft.get('p95')} s; "
        f"{s['throughput_tokens_per_s']} tokens/s; peak RSS {memory['peak_rss_mib']} MiB "
        f"(growth first to last wave {memory['growth_mib_first_to_last_wave']} MiB)"
    )


def _write(results: dict[str, Any], path: Path) -> None:
    """Write the JSON in one step: readers see the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _command(args: argparse.Namespace) -> list[str]:
    """The command that reproduces these numbers, every setting spelled out."""
    return [
        "verispec", "serve-bench", "--draft", args.draft, "--verifier", args.verifier, "--method", args.method,
        "--clients", ",".join(map(str, args.clients)), "--batch-size", str(args.batch_size),
        "--waves", str(args.waves), "--max-tokens", str(args.max_tokens),
        "--temperature", str(args.temperature), *(["--peer", args.peer] if args.peer else []),
        *(["--process"] if args.process else []),
        *runtime_argv(args), "--out", str(args.out),
    ]
