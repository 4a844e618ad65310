"""What every route shares: the pipeline, settings, the generation worker and the metrics."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from verispec.batching import BatchedPipeline
from verispec.methods import available_methods, get_method_spec
from verispec.pipeline import Pipeline
from verispec.server.config import ServerConfig
from verispec.server.metrics import ServerMetrics
from verispec.server.schemas import MethodInfo, ModelCard, ModelExtension
from verispec.server.worker import GenerationWorker


@dataclass
class ServerState:
    """The server's long-lived parts, kept on ``app.state.verispec``."""

    pipe: Pipeline
    config: ServerConfig
    worker: GenerationWorker
    metrics: ServerMetrics
    started_at: int
    batched: BatchedPipeline | None = None  # None: one generation at a time

    def model_card(self) -> ModelCard:
        """The one served model, with the models behind it and every registered method."""
        methods = [
            MethodInfo(name=spec.name, summary=spec.summary, lossless=spec.lossless,
                       options=sorted(spec.allowed_options()))
            for spec in map(get_method_spec, available_methods())
        ]
        extension = ModelExtension(
            draft=self.pipe.draft.name, verifier=self.pipe.verifier.name, default_method=self.config.method,
            methods=methods,
        )
        return ModelCard(id=self.config.model_id, created=self.started_at, verispec=extension)


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.verispec
    return state
