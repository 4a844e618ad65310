"""A live server on loopback over tiny in-process models, shared by the server tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from openai import OpenAI

from server_support import tiny_pipeline
from verispec import Pipeline
from verispec.batching import BatchedPipeline
from verispec.server import ServerConfig, ServerThread, create_app


@pytest.fixture(scope="session")
def pipe() -> Pipeline:
    return tiny_pipeline()


@pytest.fixture(scope="session")
def app(pipe: Pipeline) -> FastAPI:
    return create_app(pipe, ServerConfig(method="sd:gamma=4", default_max_tokens=16))


@pytest.fixture(scope="session")
def server(app: FastAPI) -> Iterator[ServerThread]:
    with ServerThread(app) as running:
        yield running


@pytest.fixture
def generator(app: FastAPI) -> Pipeline | BatchedPipeline:
    """What the server's worker streams from: its batch (torch models batch too), else the pipeline."""
    state = app.state.verispec
    return state.batched or state.pipe


@pytest.fixture
def client(server: ServerThread) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.fixture
def http(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as session:
        yield session
