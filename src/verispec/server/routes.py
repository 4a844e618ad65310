"""The HTTP routes: the OpenAI-compatible API, health, metrics and the playground page."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

from verispec.server import metrics
from verispec.server.completions import serve_completion
from verispec.server.errors import APIError
from verispec.server.page import render_page
from verispec.server.responses import ChatFormat, CompletionFormat
from verispec.server.schemas import ChatCompletionRequest, CompletionRequest, ModelCard, ModelList
from verispec.server.state import ServerState, server_state


async def require_api_key(request: Request) -> None:
    """When the server has an API key, every guarded route needs ``Authorization: Bearer <key>``."""
    key = server_state(request).config.api_key
    if key is None:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
        raise APIError(401, "missing or wrong API key: send the header 'Authorization: Bearer <key>' with the "
                            "key the server was started with", code="invalid_api_key")


public = APIRouter()
guarded = APIRouter(dependencies=[Depends(require_api_key)])


@public.get("/", response_class=HTMLResponse)
async def playground(request: Request) -> HTMLResponse:
    state = server_state(request)
    return HTMLResponse(render_page(
        model_id=state.config.model_id, draft=state.pipe.draft.name, verifier=state.pipe.verifier.name,
        default_method=state.config.method, api_key_required=state.config.api_key is not None,
    ))


@public.get("/health")
async def health(request: Request) -> dict[str, object]:
    state = server_state(request)
    return {"status": "ok", "model": state.config.model_id, "queue_depth": state.worker.depth}


@guarded.get("/metrics", response_class=PlainTextResponse)
async def prometheus_metrics(request: Request) -> PlainTextResponse:
    state = server_state(request)
    gauges = {
        "verispec_queue_depth": ("Generations waiting or running", lambda: state.worker.depth),
        "verispec_batch_size": ("Generations running now (decoding together when batched)", lambda: state.worker.running),
    }
    return PlainTextResponse(state.metrics.render(gauges), media_type=metrics.CONTENT_TYPE)


@guarded.get("/v1/models")
async def list_models(request: Request) -> ModelList:
    return ModelList(data=[server_state(request).model_card()])


@guarded.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> ModelCard:
    state = server_state(request)
    _check_model(state, model_id)
    return state.model_card()


@guarded.post("/v1/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    state = server_state(request)
    _check_model(state, body.model)
    return await serve_completion(
        request, state, body.to_generation(state.config), ChatFormat(state.config.model_id), endpoint="chat",
        stream=body.stream, include_usage=body.include_usage,
    )


@guarded.post("/v1/completions")
async def completions(body: CompletionRequest, request: Request) -> Response:
    state = server_state(request)
    _check_model(state, body.model)
    return await serve_completion(
        request, state, body.to_generation(state.config), CompletionFormat(state.config.model_id),
        endpoint="completions", stream=body.stream, include_usage=body.include_usage,
    )


def _check_model(state: ServerState, model: str) -> None:
    if model != state.config.model_id:
        raise APIError(404, f"the model {model!r} does not exist; this server serves {state.config.model_id!r} "
                            "(choose the method with the 'verispec' field)", param="model", code="model_not_found")
