"""``verispec serve``: an OpenAI-compatible API over a draft and a verifier, with a playground page."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from verispec.cli.runtime import add_runtime_options, runtime_kwargs
from verispec.errors import VerispecError
from verispec.methods import available_methods
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER
from verispec.pipeline import Pipeline

API_KEY_ENV = "VERISPEC_API_KEY"


class ServerDependencyError(VerispecError, ImportError):
    """A package the server needs (the ``serve`` extra, or openai for its load benchmark) is missing."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` command."""
    parser = subparsers.add_parser(
        "serve", help="serve an OpenAI-compatible API (and a playground page at /)",
        description=(
            "Loads both models once and serves GET /v1/models, POST /v1/chat/completions and POST /v1/completions "
            "(streaming too), GET /health, GET /metrics (Prometheus) and a playground at /. Each request may choose "
            'its method with the extension field {"verispec": {"method": NAME, OPTION: VALUE, ...}}.'
        ),
    )
    parser.add_argument("--draft", default=DEFAULT_DRAFT, help="draft model: registry name, local path or hub id")
    parser.add_argument("--verifier", default=DEFAULT_VERIFIER,
                        help="verifier model: registry name, local path or hub id")
    parser.add_argument("--method", default="sd",
                        help=f"default method for requests that name none: one of {', '.join(available_methods())}, "
                             "options as NAME:key=value,... (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="(default: %(default)s)")
    parser.add_argument("--api-key", default=os.environ.get(API_KEY_ENV),
                        help=f"require 'Authorization: Bearer KEY' on /v1/* and /metrics (default: ${API_KEY_ENV})")
    parser.add_argument("--model-id", default="verispec", help="the model name clients send (default: %(default)s)")
    parser.add_argument("--max-tokens", type=int, default=256,
                        help="max_tokens for requests that give none (default: %(default)s)")
    parser.add_argument("--queue-size", type=int, default=64,
                        help="requests that may wait behind the running ones; more get 429 (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="requests generated together, batched per decode (llama.cpp and torch; 1: one at "
                             "a time) (default: %(default)s)")
    parser.add_argument("--draft-up-to", type=int, default=2,
                        help="speculative methods draft while at most this many requests run; above, each round "
                             "verifies one token (a crowded batch gains nothing from drafting) (default: %(default)s)")
    add_runtime_options(parser)
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the models, then serve until interrupted."""
    try:
        import uvicorn

        from verispec.server import ServerConfig, create_app
    except ImportError as error:
        raise ServerDependencyError(
            f"verispec serve needs fastapi and uvicorn, but {error.name} is not installed: "
            "pip install 'verispec[serve]'"
        ) from error

    config = ServerConfig(model_id=args.model_id, method=args.method, default_max_tokens=args.max_tokens,
                          queue_size=args.queue_size, api_key=args.api_key, batch_size=args.batch_size,
                          draft_up_to=args.draft_up_to)
    if not is_loopback(args.host) and config.api_key is None:
        print(f"warning: serving on {args.host} without an API key: anyone who can reach this port can use it; "
              f"set --api-key or ${API_KEY_ENV}", file=sys.stderr)
    pipe = Pipeline(draft=args.draft, verifier=args.verifier, **runtime_kwargs(args))
    app = create_app(pipe, config)
    print(f"verispec: {pipe.draft.name} drafting for {pipe.verifier.name}, default method {config.method}; "
          f"playground at http://{args.host}:{args.port}/, API at http://{args.host}:{args.port}/v1", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
