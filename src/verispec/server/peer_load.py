"""A server in a process of its own under the load: llama.cpp's ``llama-server`` (the peer), or verispec's.

``benchmarks/build-llama-tools.sh`` builds ``llama-server`` from the source llama-cpp-python
vendors. It runs the verifier's GGUF alone (no draft: its speculative mode needs a draft of the
same vocabulary and is off here, as in its default), with ``--parallel`` slots sharing one KV
cache and the same threads as verispec; the clients are the same waves of streaming chat requests.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from verispec import runinfo
from verispec.bench.llamacpp_tools import build_flags, tool_program
from verispec.server.loadbench import LoadConfig, load_results, run_levels

PROGRAM = "llama-server"
SLOT_CONTEXT = 4096  # cells per parallel slot, as verispec's batch gives each request


def server_program() -> Path:
    """The built ``llama-server``; a ConfigError says how to build it."""
    return tool_program(PROGRAM, "the serving peer")


def run_peer_load(
    gguf: Path, config: LoadConfig, *, threads: int, settings: dict[str, Any] | None = None,
    command: list[str] | None = None,
) -> dict[str, Any]:
    """Start ``llama-server`` on ``gguf`` with ``config.batch_size`` parallel slots, load it like
    verispec's server, stop it, and return results in the same JSON shape."""
    program = server_program()
    port = free_port()
    argv = [str(program), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(port),
            "--parallel", str(config.batch_size), "-c", str(config.batch_size * SLOT_CONTEXT),
            "-t", str(threads), "-tb", str(threads), "--jinja", "--no-webui"]
    settings = {**(settings or {}), "peer": PROGRAM, "argv": argv, "build_flags": build_flags(program)}
    return run_server_process(argv, port, "verifier", config, settings=settings, command=command)


def run_server_process(
    argv: list[str], port: int, model: str, config: LoadConfig, *, settings: dict[str, Any],
    command: list[str] | None,
) -> dict[str, Any]:
    """Start the server ``argv`` (listening on loopback ``port``), wait until it is ready, run the
    load's levels against it (memory: that process's), stop it and return the results JSON."""
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    load_before = runinfo.load_average()
    # Its log goes to a file: a pipe nobody reads would fill up and stall the server.
    with tempfile.TemporaryFile("w+") as log, \
            subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, text=True) as server:
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_ready(base_url, server, log)
            first, levels = run_levels(base_url, model, config, pid=server.pid)
        finally:
            server.terminate()
            server.wait(30)
    return load_results(config, {**settings, "server_process": True}, first, levels, started_at=started_at,
                        command=command, environment=runinfo.environment(load_before, "openai"))


def free_port() -> int:
    """A loopback port free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base_url: str, server: subprocess.Popen[str], log: IO[str], timeout: float = 300.0) -> None:
    """Until ``/health`` answers 200 (the model is loaded); the end of the server's log if it dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{server.args[0]} exited with {server.returncode}: {log.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{server.args[0]} did not become ready in {timeout:.0f} s")
