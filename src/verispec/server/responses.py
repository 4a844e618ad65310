"""Building chat and text completion bodies (whole responses and stream chunks) from generation events."""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence

from pydantic import BaseModel

from verispec.pipeline import GenerationResult
from verispec.server.pieces import TokenPiece
from verispec.server.schemas import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatDelta,
    CompletionChoice,
    ResultExtension,
    TextCompletion,
    TokenOut,
    Usage,
)

# The pipeline's finish reasons in OpenAI's words: EOS and stop strings both end the answer.
_FINISH = {"eos": "stop", "stop": "stop", "length": "length"}


def finish_reason(result: GenerationResult) -> str:
    return _FINISH.get(result.finish_reason, "stop")


def usage(result: GenerationResult) -> Usage:
    """OpenAI token counts plus every speculative statistic of the generation."""
    stats = result.stats
    return Usage(
        prompt_tokens=stats.prompt_tokens, completion_tokens=stats.new_tokens,
        total_tokens=stats.prompt_tokens + stats.new_tokens, verispec=stats.to_dict(),
    )


def extension(tokens: Sequence[TokenPiece], result: GenerationResult | None = None) -> ResultExtension:
    """The ``verispec`` field: tokens with provenance (and author), and the method and statistics once finished."""
    out = [TokenOut(id=t.id, text=t.text, provenance=t.provenance.value, author=t.author) for t in tokens]
    if result is None:
        return ResultExtension(tokens=out)
    return ResultExtension(tokens=out, method=result.method, stats=result.stats.to_dict())


class ResponseFormat(ABC):
    """One response's id and timestamps, and its bodies in the shape of its endpoint."""

    prefix: str

    def __init__(self, model_id: str) -> None:
        self.id = f"{self.prefix}-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model_id

    def opening(self) -> list[BaseModel]:
        """Chunks sent before the first text (none by default)."""
        return []

    @abstractmethod
    def delta(self, text: str, tokens: Sequence[TokenPiece]) -> BaseModel:
        """A stream chunk with new text."""

    @abstractmethod
    def finish(self, result: GenerationResult) -> BaseModel:
        """The stream chunk with the finish reason, method and statistics."""

    @abstractmethod
    def usage_chunk(self, result: GenerationResult) -> BaseModel:
        """The extra last chunk asked for by ``stream_options.include_usage``: no choices, usage."""

    @abstractmethod
    def complete(self, result: GenerationResult, tokens: Sequence[TokenPiece]) -> BaseModel:
        """The whole response of a non-streaming request."""


class ChatFormat(ResponseFormat):
    """``chat.completion`` and ``chat.completion.chunk`` bodies."""

    prefix = "chatcmpl"

    def _chunk(self, choices: list[ChatChunkChoice], **fields: object) -> ChatCompletionChunk:
        return ChatCompletionChunk(id=self.id, created=self.created, model=self.model, choices=choices, **fields)

    def opening(self) -> list[BaseModel]:
        return [self._chunk([ChatChunkChoice(delta=ChatDelta(role="assistant", content=""))])]

    def delta(self, text: str, tokens: Sequence[TokenPiece]) -> BaseModel:
        return self._chunk([ChatChunkChoice(delta=ChatDelta(content=text))], verispec=extension(tokens))

    def finish(self, result: GenerationResult) -> BaseModel:
        choice = ChatChunkChoice(delta=ChatDelta(), finish_reason=finish_reason(result))
        return self._chunk([choice], verispec=extension([], result))

    def usage_chunk(self, result: GenerationResult) -> BaseModel:
        return self._chunk([], usage=usage(result))

    def complete(self, result: GenerationResult, tokens: Sequence[TokenPiece]) -> BaseModel:
        choice = ChatChoice(message=AssistantMessage(content=result.text), finish_reason=finish_reason(result))
        return ChatCompletion(
            id=self.id, created=self.created, model=self.model, choices=[choice], usage=usage(result),
            verispec=extension(tokens, result),
        )


class CompletionFormat(ResponseFormat):
    """``text_completion`` bodies (one shape for responses and chunks)."""

    prefix = "cmpl"

    def _body(self, choices: list[CompletionChoice], **fields: object) -> TextCompletion:
        return TextCompletion(id=self.id, created=self.created, model=self.model, choices=choices, **fields)

    def delta(self, text: str, tokens: Sequence[TokenPiece]) -> BaseModel:
        return self._body([CompletionChoice(text=text)], verispec=extension(tokens))

    def finish(self, result: GenerationResult) -> BaseModel:
        choice = CompletionChoice(text="", finish_reason=finish_reason(result))
        return self._body([choice], verispec=extension([], result))

    def usage_chunk(self, result: GenerationResult) -> BaseModel:
        return self._body([], usage=usage(result))

    def complete(self, result: GenerationResult, tokens: Sequence[TokenPiece]) -> BaseModel:
        choice = CompletionChoice(text=result.text, finish_reason=finish_reason(result))
        return self._body([choice], usage=usage(result), verispec=extension(tokens, result))
