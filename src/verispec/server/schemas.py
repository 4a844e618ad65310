"""Request and response bodies of the OpenAI-compatible API, plus the ``verispec`` extension.

Requests follow the OpenAI fields this server honours; OpenAI fields it cannot honour are refused
unless they hold their neutral value, and unknown fields are ignored (as OpenAI clients expect).
Responses are the OpenAI shapes with one extra ``verispec`` field (per-token provenance, method,
statistics) that OpenAI clients keep as an extra attribute.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from verispec.errors import ConfigError
from verispec.methods import Method
from verispec.server.config import ServerConfig
from verispec.server.errors import APIError
from verispec.server.worker import GenerationRequest
from verispec.tokens import is_token_ids

Scalar = str | int | float | bool

# OpenAI request fields this server cannot honour, with the values that mean "not used".
_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "n": (None, 1), "best_of": (None, 1), "echo": (None, False), "suffix": (None, ""),
    "logprobs": (None, False), "top_logprobs": (None, 0), "logit_bias": (None, {}),
    "presence_penalty": (None, 0), "frequency_penalty": (None, 0),
    "tools": (None, []), "functions": (None, []), "tool_choice": (None, "none"),
    "response_format": (None, {"type": "text"}),
}


class VerispecExtension(BaseModel):
    """``{"method": "lenient", "l": 0.5, "gamma": 8}``: the method and its options for one request.

    ``method`` may carry options itself (``"lenient:l=0.5"``); the other keys are method options
    and win over those. Without ``method`` the options apply to the server's default method.
    """

    model_config = ConfigDict(extra="allow")

    method: str | None = None

    @model_validator(mode="after")
    def _options_are_scalars(self) -> VerispecExtension:
        for key, value in (self.model_extra or {}).items():
            if not isinstance(value, Scalar):
                raise ValueError(f"method option {key!r} must be a number, string or boolean, got {value!r}")
        return self

    def resolve(self, default: str) -> Method:
        """The method these fields select, with ``default`` (``name:options``) when none is named."""
        text = self.method or default
        options = ",".join(f"{key}={_option_text(value)}" for key, value in (self.model_extra or {}).items())
        if options:
            text += ("," if ":" in text else ":") + options
        try:
            return Method.parse(text)
        except ConfigError as err:
            raise APIError(400, str(err), param="verispec.method", code="invalid_method") from err


def _option_text(value: Scalar) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class StreamOptions(BaseModel):
    include_usage: bool = False


class GenerationFields(BaseModel):
    """The sampling and streaming fields shared by chat and text completions."""

    model_config = ConfigDict(extra="allow")

    model: str
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    verispec: VerispecExtension | None = None

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage

    def refuse_unsupported(self) -> None:
        """Raise a 400 for an OpenAI feature this server cannot honour, naming the field."""
        for key, value in (self.model_extra or {}).items():
            if key in _NEUTRAL and value not in _NEUTRAL[key]:
                raise APIError(400, f"{key}={value!r} is not supported by this server; leave it out", param=key,
                               code="unsupported_parameter")

    def generation_request(self, config: ServerConfig, prompt: Any, *, chat: bool) -> GenerationRequest:
        """The generation to run, with the server's defaults filled in."""
        self.refuse_unsupported()
        method = (self.verispec or VerispecExtension()).resolve(config.method)
        return GenerationRequest(
            prompt=prompt, chat=chat, method=method, max_new_tokens=self._max_new_tokens(config),
            temperature=1.0 if self.temperature is None else self.temperature,  # OpenAI's default
            top_p=1.0 if self.top_p is None else self.top_p, seed=self.seed,
            stop=[self.stop] if isinstance(self.stop, str) else list(self.stop or []),
        )

    def _requested_max_tokens(self) -> int | None:
        return self.max_tokens

    def _max_new_tokens(self, config: ServerConfig) -> int:
        requested = self._requested_max_tokens()
        if requested is None:
            return config.default_max_tokens
        if requested > config.max_tokens_limit:
            raise APIError(400, f"max_tokens is {requested} but this server allows at most {config.max_tokens_limit}",
                           param="max_tokens", code="invalid_value")
        return requested


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def plain(self) -> dict[str, str]:
        """``{"role", "content"}`` with text parts joined; other parts (images, audio) are refused."""
        if not isinstance(self.content, list):
            return {"role": self.role, "content": self.content or ""}
        kinds = {part.type for part in self.content} - {"text"}
        if kinds:
            raise APIError(400, f"only text content is supported, got {', '.join(sorted(kinds))}", param="messages",
                           code="unsupported_content")
        return {"role": self.role, "content": "".join(part.text or "" for part in self.content)}


class ChatCompletionRequest(GenerationFields):
    """``POST /v1/chat/completions``."""

    messages: list[ChatMessage]
    max_completion_tokens: int | None = Field(None, ge=1)

    def to_generation(self, config: ServerConfig) -> GenerationRequest:
        return self.generation_request(config, [m.plain() for m in self.messages], chat=True)

    def _requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens


class CompletionRequest(GenerationFields):
    """``POST /v1/completions``: one prompt: a string or token ids, alone or as a list of one."""

    prompt: str | list[int] | list[str] | list[list[int]]

    def to_generation(self, config: ServerConfig) -> GenerationRequest:
        prompt = self.prompt
        if isinstance(prompt, list) and not is_token_ids(prompt):  # a batch of prompts
            if len(prompt) != 1:
                raise APIError(400, f"send one prompt per request, got {len(prompt)}", param="prompt",
                               code="unsupported_batch")
            prompt = prompt[0]
        return self.generation_request(config, prompt, chat=False)


class TokenOut(BaseModel):
    """One token's id, text and provenance; ``author`` is the role that wrote it (collaborative methods only)."""

    id: int
    text: str
    provenance: str
    author: str | None = None


class Usage(BaseModel):
    """OpenAI's token counts; ``verispec`` holds the speculative statistics of the generation."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    verispec: dict[str, Any]


class ResultExtension(BaseModel):
    """The ``verispec`` field of responses and chunks: tokens by provenance; method and stats at the end."""

    tokens: list[TokenOut] = Field(default_factory=list)
    method: str | None = None
    stats: dict[str, Any] | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    verispec: ResultExtension


class ChatDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(BaseModel):
    index: int = 0
    delta: ChatDelta
    finish_reason: str | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None
    verispec: ResultExtension | None = None


class CompletionChoice(BaseModel):
    index: int = 0
    text: str
    finish_reason: str | None = None
    logprobs: None = None


class TextCompletion(BaseModel):
    """A text completion, and also each of its stream chunks (OpenAI uses one shape for both)."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    verispec: ResultExtension | None = None


class MethodInfo(BaseModel):
    name: str
    summary: str
    lossless: bool
    options: list[str]


class ModelExtension(BaseModel):
    draft: str
    verifier: str
    default_method: str
    methods: list[MethodInfo]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "verispec"
    verispec: ModelExtension


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
