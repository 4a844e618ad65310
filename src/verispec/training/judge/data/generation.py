"""Model responses for the data set: one model writes alone (no drafting), greedy or sampled."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

SAMPLE_TEMPERATURE = 0.8


@dataclass(frozen=True)
class Decoding:
    """How one response is drawn: greedy, or sampled at a temperature with a seed."""

    temperature: float = 0.0
    seed: int = 0

    @property
    def variant(self) -> str:
        """The part of a sample id that names this decoding."""
        return "greedy" if self.temperature == 0 else f"t{self.temperature:g}-s{self.seed}"


def decodings(samples_per_item: int, temperature: float = SAMPLE_TEMPERATURE) -> list[Decoding]:
    """Greedy first, then `samples_per_item - 1` sampled responses with seeds 1, 2, ..."""
    return [Decoding()] + [Decoding(temperature, seed) for seed in range(1, samples_per_item)]


class Generator(Protocol):
    """Writes a response to chat messages."""

    name: str

    def generate(self, messages: Sequence[dict[str, str]], max_new_tokens: int, decoding: Decoding) -> str:
        """The model's answer to `messages`."""
        ...


class PipelineGenerator:
    """A verispec Pipeline decoding with one model only (the `verifier` method), so the model
    writes every token: what a verifier sees when it reads another model's draft."""

    def __init__(self, name: str, model: str | tuple[Any, Any] | None = None, dtype: str = "bf16") -> None:
        from verispec.pipeline import Pipeline  # torch loads only when a model is used

        self.name = name
        self.pipeline = Pipeline(verifier=model if model is not None else name, dtype=dtype)

    def generate(self, messages: Sequence[dict[str, str]], max_new_tokens: int, decoding: Decoding) -> str:
        """The model's answer, up to `max_new_tokens` tokens."""
        result = self.pipeline.generate(
            list(messages),
            method="verifier",
            max_new_tokens=max_new_tokens,
            temperature=decoding.temperature,
            seed=decoding.seed if decoding.temperature > 0 else None,
        )
        return result.text


class ResponseCache:
    """Every model response generated for a data set, kept next to it (JSONL).

    Labelling is cheap and generating is not: with the raw responses kept, a data set can be
    rebuilt with a changed labeller (delete it and rerun) without generating again.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._responses: dict[tuple[str, int], str] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    self._responses[(record["id"], record["max_new_tokens"])] = record["response"]

    def get(self, id_: str, max_new_tokens: int) -> str | None:
        """The response generated for `id_` with this length limit, if any."""
        return self._responses.get((id_, max_new_tokens))

    def put(self, id_: str, max_new_tokens: int, response: str) -> None:
        """Keep a new response."""
        self._responses[(id_, max_new_tokens)] = response
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"id": id_, "max_new_tokens": max_new_tokens, "response": response}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def cache_path(data: Path) -> Path:
    """Where the raw responses of the data set at `data` are kept."""
    return data.with_name(data.stem + ".responses.jsonl")
