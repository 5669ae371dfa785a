"""`rnnkit serve`: bind the socket, build the app and serve it with uvicorn until Ctrl-C."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from rnnkit.decode.backend import choose_backend
from rnnkit.errors import ConfigError
from rnnkit.serve.app import create_app
from rnnkit.serve.guard import LOOPBACK_NAMES, host_warning
from rnnkit.serve.schemas import ModelCard


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port`, ready to hand to uvicorn (a clear error if taken)."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is out of range; pick one from 1 to 65535 (0 = any free)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another port "
            "(0 = any free port) or stop what is using it"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run(
    checkpoint: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    workers: int = 2,
    queue_size: int = 128,
    device: str = "cpu",
    threads: int = 1,
    echo: Callable[[str], None] | None = None,
    backend: str = "auto",
) -> None:
    """Serve the playground until Ctrl-C; prints the address (and a warning off loopback).

    `threads` sets torch's intra-op threads for the process, or onnxruntime's for an ONNX
    export (0 keeps the default); one is fastest for small models, whose steps are too
    short to split, and `workers` give the parallelism between requests. `backend` (`auto`,
    `torch`, `onnx`) is chosen as `rnnkit generate --backend` does; an export is served
    without importing torch.
    """
    import uvicorn

    if echo is None:
        echo = partial(print, flush=True)
    chosen = choose_backend(checkpoint, backend)
    if threads and chosen == "torch":  # one step of a small RNN is too short to split
        import torch

        torch.set_num_threads(threads)
    warning = host_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    allowed = None if warning else LOOPBACK_NAMES | {host.lower()}
    app = create_app(
        checkpoint,
        workers=workers,
        queue_size=queue_size,
        device=device,
        allowed_hosts=allowed,
        backend=chosen,
        threads=threads if chosen == "onnx" else 0,
    )
    sock = _bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    card: ModelCard = app.state.card
    echo(
        f"rnnkit serve: {card.summary}, run {card.run!r}; "
        f"open http://{shown}:{sock.getsockname()[1]}/ (Ctrl-C to stop)"
    )
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
