"""The models taking part in a collaborative generation, and their KV caches kept in step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from transformers import PreTrainedTokenizerBase

from verispec.backends.base import ModelBackend
from verispec.errors import ConfigError, PromptError
from verispec.tokens import Prompt, common_prefix_length, encode_prompt


class ModelLike(Protocol):
    """What CoSD needs of a model: ``verispec.pipeline.ModelHandle`` has all of it."""

    @property
    def name(self) -> str: ...

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase: ...

    @property
    def backend(self) -> ModelBackend: ...

    @property
    def eos_token_ids(self) -> frozenset[int]: ...


@dataclass
class Scorer:
    """A backend plus the ids it has read, so each call feeds only what the cache lacks.

    The tokens a model must read change from round to round in ways a plain "append, roll back"
    does not cover (a re-encoded tail, a replacement), so the cache is matched against the new
    sequence and rolled back to the longest prefix they share.
    """

    backend: ModelBackend
    fed: list[int] = field(default_factory=list)

    def reset(self) -> None:
        self.backend.reset()
        self.fed = []

    def prefill(self, ids: Sequence[int]) -> None:
        """Read all of ``ids`` but the last token (the first round reads it and gets its logits)."""
        self.reset()
        if len(ids) > 1:
            self.backend.forward(list(ids[:-1]), last_only=True)
            self.fed = list(ids[:-1])

    def score(self, ids: Sequence[int], start: int) -> torch.Tensor:
        """Logits after each token from ``ids[start]`` on: row ``r`` predicts ``ids[start + r + 1]``.

        The last row predicts what follows ``ids``. ``start`` must be at least 0.
        """
        common = min(common_prefix_length(self.fed, ids), start)
        self.backend.rollback(common)
        del self.fed[common:]
        out = self.backend.forward(list(ids[common:]))
        self.fed.extend(ids[common:])
        return out.logits[start - common :]


@dataclass
class Member:
    """One model in a collaboration: its handle, its prompt ids and the ids that end its text.

    ``end_ids``: the model's EOS ids and every other special token. A special token has no text,
    so across tokenizers it can only mean "stop here".
    """

    handle: ModelLike
    scorer: Scorer
    end_ids: frozenset[int]
    prompt_ids: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, handle: ModelLike) -> Member:
        end = frozenset(handle.eos_token_ids) | frozenset(handle.tokenizer.all_special_ids)
        return cls(handle, Scorer(handle.backend), end)

    @property
    def name(self) -> str:
        return self.handle.name

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.handle.tokenizer

    @property
    def backend(self) -> ModelBackend:
        return self.handle.backend

    def read_prompt(self, prompt: Prompt, *, chat: bool, role: str) -> None:
        """Encode ``prompt`` with this model's tokenizer (and chat template when ``chat``)."""
        if chat and self.tokenizer.chat_template is None:
            raise PromptError(
                f"the {role} {self.name!r} has no chat template, so it cannot read chat messages. Pass the "
                "prompt as raw text that every model can continue (chat=False; CLI: --raw), or choose an "
                "instruct model with a chat template"
            )
        self.prompt_ids = encode_prompt(self.tokenizer, prompt, chat=chat)


def members_of(handles: Sequence[ModelLike]) -> list[Member]:
    """One member per handle (the draft first), refusing a handle given twice: each needs its own KV cache."""
    seen: dict[int, int] = {}
    for position, h in enumerate(handles):
        if id(h.backend) in seen:
            roles = ["the draft" if p == 0 else f"assistant {p}" for p in (seen[id(h.backend)], position)]
            raise ConfigError(
                f"{roles[0]} and {roles[1]} are the same model handle {h.name!r}, but each needs its own KV "
                "cache: pass separate handles (e.g. two ModelHandle objects around the same loaded model)"
            )
        seen[id(h.backend)] = position
    return [Member.of(h) for h in handles]
