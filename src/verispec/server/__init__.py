"""An OpenAI-compatible HTTP server over a :class:`~verispec.pipeline.Pipeline`, with a playground page.

``create_app(pipe, ServerConfig(...))`` builds the ASGI application; ``verispec serve`` runs it.
Every registered method is selectable per request through the ``verispec`` request field.
"""

from verispec.server.app import create_app
from verispec.server.background import ServerThread
from verispec.server.config import ServerConfig

__all__ = ["ServerConfig", "ServerThread", "create_app"]
