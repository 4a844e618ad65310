"""The options every model-running command shares: which backend, torch dtype and device."""

from __future__ import annotations

import argparse
from typing import Any

from verispec.models.handles import AUTO, BACKENDS, LLAMA_CPP, TORCH
from verispec.pipeline import DTYPES


def add_runtime_options(
    parser: argparse.ArgumentParser, *, backends: tuple[str, ...] = BACKENDS, draft: bool = True
) -> None:
    """Add ``--backend``, ``--draft-backend`` (with a ``draft`` model), ``--dtype`` and ``--device``."""
    parser.add_argument(
        "--backend", choices=backends, default=backends[0],
        help=f"{TORCH} (transformers), {LLAMA_CPP} (GGUF files, fast on CPU) or {AUTO}: {LLAMA_CPP} on a CPU "
             f"for models with a GGUF file when it is installed and no --dtype is given (default: %(default)s)",
    )
    if draft and len(backends) > 1:
        parser.add_argument("--draft-backend", choices=backends, help="the draft's backend, if not --backend's")
    parser.add_argument("--dtype", choices=list(DTYPES),
                        help="torch precision (default: bf16; selects torch under auto). int8: int8 weights and "
                             "per-token int8 inputs in every linear layer, fp32 elsewhere (CPU; docs/int8.md)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, ... (default: %(default)s)")


def runtime_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``Pipeline`` keyword arguments for the parsed runtime options."""
    backend: str | dict[str, str] = args.backend
    draft_backend = getattr(args, "draft_backend", None)
    if draft_backend and draft_backend != args.backend:
        backend = {"*": args.backend, "draft": draft_backend}
    return {"backend": backend, "dtype": args.dtype, "device": args.device}


def runtime_argv(args: argparse.Namespace) -> list[str]:
    """The runtime options as command-line arguments, for a results file's reproducing command."""
    argv = ["--backend", args.backend]
    if getattr(args, "draft_backend", None):
        argv += ["--draft-backend", args.draft_backend]
    if args.dtype:
        argv += ["--dtype", args.dtype]
    return [*argv, "--device", args.device]
