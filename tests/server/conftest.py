"""A live server on loopback over tiny in-process models, shared by the server tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest
from openai import OpenAI

from server_support import tiny_pipeline
from verispec import Pipeline
from verispec.server import ServerConfig, ServerThread, create_app


@pytest.fixture(scope="session")
def pipe() -> Pipeline:
    return tiny_pipeline()


@pytest.fixture(scope="session")
def server(pipe: Pipeline) -> Iterator[ServerThread]:
    with ServerThread(create_app(pipe, ServerConfig(method="sd:gamma=4", default_max_tokens=16))) as running:
        yield running


@pytest.fixture
def client(server: ServerThread) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.fixture
def http(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as session:
        yield session
