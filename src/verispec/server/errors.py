"""Errors in the OpenAI shape ``{"error": {"message", "type", "param", "code"}}``, and their handlers.

Every failure a request can cause ends here as a JSON answer with a 4xx or 5xx status; none of
them reaches the server loop, so a bad request never takes the server down.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from verispec.errors import ConfigError, PromptError, VerispecError, VocabularyMismatchError

log = logging.getLogger("verispec.server")

INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"

# Typed library errors are the caller's fault (bad options, prompt, model pairing): 400 with a code.
_VERISPEC_CODES: tuple[tuple[type[VerispecError], str, str | None], ...] = (
    (VocabularyMismatchError, "vocabulary_mismatch", "verispec.method"),
    (PromptError, "invalid_prompt", None),
    (ConfigError, "invalid_value", None),
)


class APIError(Exception):
    """An error answered as ``{"error": {...}}`` with an HTTP status."""

    def __init__(
        self, status: int, message: str, *, type: str = INVALID_REQUEST, param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        """The JSON body, also sent as a server-sent event when a stream fails midway."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status)


def from_exception(err: BaseException) -> APIError:
    """The API error for any exception: typed library errors are 400, anything else 500."""
    if isinstance(err, APIError):
        return err
    if isinstance(err, VerispecError):
        for kind, code, param in _VERISPEC_CODES:
            if isinstance(err, kind):
                return APIError(400, str(err), param=param, code=code)
        return APIError(400, str(err), code="invalid_request")
    log.error("generation failed", exc_info=err)
    return APIError(
        500, f"internal error: {type(err).__name__}: {err}. The server keeps running; the server log has the details.",
        type=SERVER_ERROR, code="internal_error",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error raised while handling a request in the OpenAI shape."""
    for kind in (APIError, VerispecError, Exception):
        app.add_exception_handler(kind, _any_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)


async def _any_error(request: Request, err: Exception) -> JSONResponse:
    return from_exception(err).response()


async def _validation_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)
    return validation_error(err.errors()).response()


async def _http_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, HTTPException)
    message = {404: f"no route {request.url.path}; see GET /v1/models, POST /v1/chat/completions, POST /v1/completions",
               405: f"{request.method} is not allowed on {request.url.path}"}.get(err.status_code, str(err.detail))
    return APIError(err.status_code, message, code="not_found" if err.status_code == 404 else None).response()


def validation_error(errors: Sequence[Mapping[str, Any]]) -> APIError:
    """A 400 naming the field at fault as ``param`` and saying what each problem there is.

    A field that fits no member of a union (``prompt`` is a string or a list of strings) gives one
    error per member; ``param`` is then the part of their locations they share.
    """
    if errors and errors[0].get("type") == "json_invalid":
        detail = (errors[0].get("ctx") or {}).get("error", "")
        return APIError(400, f"the request body is not valid JSON ({detail}); send a JSON object", code="invalid_json")
    locations = [tuple(str(part) for part in e.get("loc", ()) if part != "body") for e in errors]
    shared = os.path.commonprefix(locations) if locations else ()
    details = []
    for error, location in zip(errors, locations):
        rest = ".".join(location[len(shared):])
        details.append(f"{rest}: {error.get('msg')}" if rest else str(error.get("msg")))
    param = ".".join(shared) or None
    return APIError(400, f"{param or 'request body'}: {'; '.join(dict.fromkeys(details))}", param=param,
                    code="invalid_value")
