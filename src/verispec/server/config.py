"""Server settings: defaults that requests may override, limits, and access."""

from __future__ import annotations

from dataclasses import dataclass

from verispec.errors import ConfigError
from verispec.methods import Method

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServerConfig:
    """How the server answers requests.

    ``method`` (``name[:key=value,...]``) is used when a request names none in its ``verispec``
    extension; ``default_max_tokens`` when it gives no ``max_tokens``. Up to ``batch_size``
    requests generate together (continuous batching, on llama.cpp and torch; 1: one at a time), and
    they draft only while at most ``draft_up_to`` of them run;
    at most ``queue_size`` more wait, and beyond that requests are refused with 429.
    ``api_key``, when set, is required as ``Authorization: Bearer <key>`` on ``/v1/*`` and ``/metrics``.
    """

    model_id: str = "verispec"
    method: str = "sd"
    default_max_tokens: int = 256
    max_tokens_limit: int = 4096
    queue_size: int = 64
    api_key: str | None = None
    batch_size: int = 8
    draft_up_to: int = 2

    def __post_init__(self) -> None:
        Method.parse(self.method)  # an unknown default method fails at start-up, not on the first request
        if not 1 <= self.default_max_tokens <= self.max_tokens_limit:
            raise ConfigError(
                f"default max tokens must be in [1, {self.max_tokens_limit}], got {self.default_max_tokens}"
            )
        if not 1 <= self.batch_size <= 256:
            raise ConfigError(f"batch size must be 1 to 256, got {self.batch_size}")
        if self.draft_up_to < 0:
            raise ConfigError(f"draft_up_to must be >= 0, got {self.draft_up_to}")
        if self.queue_size < 1:
            raise ConfigError(f"queue size must be >= 1, got {self.queue_size}")
        if self.api_key is not None and not self.api_key.strip():
            raise ConfigError("the API key is empty: pass a non-empty key or none")
