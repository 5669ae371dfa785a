"""The playground: a FastAPI app that streams generated text to a page served offline.

Needs the `serve` extra (FastAPI, uvicorn).
"""

from rnnkit.serve.app import create_app
from rnnkit.serve.guard import host_warning
from rnnkit.serve.server import run

__all__ = ["create_app", "host_warning", "run"]
