"""The playground app: `create_app` loads one checkpoint (`rnnkit.decode.load_backend`) and
mounts `routes`, which read the model, its card and the worker pool from the app's state.

    app = create_app("runs/demo")             # FastAPI app; the checkpoint is loaded once
    app = create_app("export/model.onnx")     # the same app on an ONNX export, without torch

Endpoints (the schema is at `/openapi.json`):

    GET  /                 the playground page (and /app.js, /app.css, shipped in the package)
    GET  /api/model        the model card: corpus, vocabulary, architecture, best ppl, curves
    POST /api/stream       server-sent events: `start`, then one `tokens` per step, then `done`
    POST /api/generate     one-shot JSON: one text per sample (beam search too)
    GET  /api/health       workers busy and requests waiting

Generation runs on a fixed pool of worker threads (`pool.py`), never on the event loop.
Each request draws from its own seeded generator (the seed is reported, so a sample can be
replayed), and a client that goes away stops its generation within one step. No request
names a file: the checkpoint and the page are fixed when the app is built.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from rnnkit._version import __version__
from rnnkit.decode.backend import load_backend
from rnnkit.decode.options import SamplingOptionError
from rnnkit.decode.protocol import LanguageModel
from rnnkit.errors import NumericalError, RnnkitError
from rnnkit.serve.card import model_card
from rnnkit.serve.guard import LOOPBACK_NAMES, Guard
from rnnkit.serve.pool import QueueFullError, WorkerPool
from rnnkit.serve.schemas import (
    MAX_BODY_BYTES,
    GenerateRequest,
    GenerateResponse,
    Health,
    ModelCard,
    StreamRequest,
)
from rnnkit.serve.streaming import (
    GENERATION_FAILED,
    EventStream,
    collect_texts,
    plan_request,
    produce_events,
    sse_events,
    token_stream,
    wait_for_job,
)

log = logging.getLogger("rnnkit.serve")
STATIC = {"app.js": "text/javascript", "app.css": "text/css", "index.html": "text/html"}
ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"description": "request body too large"},
    422: {"description": "invalid options; `error` says which and why"},
    429: {"description": "every worker busy and the waiting line full; retry"},
    500: {"description": "the model failed (e.g. non-finite logits); `error` says why"},
}
STREAM_EVENTS = (
    "events `start` {prefix, seed, num_samples, length, level, unknown}, "
    "`tokens` {step, tokens: one text piece per sample}, then `done` "
    "{steps, elapsed_s, tokens_per_s} or `error` {error}"
)


def create_app(
    checkpoint: str | Path,
    *,
    workers: int = 2,
    queue_size: int = 128,
    device: str = "cpu",
    max_body_bytes: int = MAX_BODY_BYTES,
    allowed_hosts: frozenset[str] | None = LOOPBACK_NAMES,
    backend: str = "auto",
    threads: int = 0,
) -> FastAPI:
    """Build the playground for one checkpoint: a run folder, `.pt` file or ONNX export.

    Args:
        checkpoint: loaded once, here (a `.pt` with `weights_only=True`); no request names one.
        workers: generation threads; at most this many requests generate at once.
        queue_size: requests that may wait for a worker; more get 429 at once.
        device: where the model runs (`cpu`, `cuda`, `auto`; an export runs on the CPU).
        max_body_bytes: larger request bodies get 413.
        allowed_hosts: Host header names served (`None` = any; `run` uses it off loopback).
        backend: `auto`, `torch` or `onnx`, chosen as `rnnkit generate --backend` does.
        threads: onnxruntime threads of an export (0 = its default; `run` sets torch's).
    """
    lm = load_backend(checkpoint, backend, device=device, threads=threads)
    card = model_card(lm)
    app = FastAPI(
        title="rnnkit playground",
        version=__version__,
        description=f"Text from the {card.summary} of run {card.run!r}.",
        docs_url=None,  # the Swagger page loads its code from a CDN; the schema stays
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.add_middleware(Guard, max_body=max_body_bytes, allowed_hosts=allowed_hosts)
    app.state.pool = WorkerPool(workers, queue_size)
    app.state.lm = lm  # a LoadedLM, or an OnnxLM for an export: a LanguageModel either way
    app.state.card = card
    app.exception_handler(RequestValidationError)(_invalid)
    app.exception_handler(RnnkitError)(_user_error)
    app.exception_handler(NumericalError)(_model_error)
    app.exception_handler(QueueFullError)(_busy)
    folder = resources.files("rnnkit.serve") / "static"
    for name, path in (("index.html", "/"), ("app.js", "/app.js"), ("app.css", "/app.css")):
        page = _static_page((folder / name).read_bytes(), f"{STATIC[name]}; charset=utf-8")
        app.get(path, include_in_schema=False)(page)
    app.include_router(routes)
    return app


# The API routes; each reads the app's model, card and pool from `request.app.state`.
routes = APIRouter()


@routes.get("/api/model", response_model=ModelCard)
async def get_model(request: Request) -> ModelCard:
    """The model card: corpus, vocabulary, architecture, parameters, best ppl, curves."""
    card: ModelCard = request.app.state.card
    return card


@routes.get("/api/health", response_model=Health)
async def health(request: Request) -> Health:
    """How many requests are generating and waiting."""
    pool: WorkerPool = request.app.state.pool
    return Health(status="ok", workers=pool.workers, queue_size=pool.queue_size, **pool.stats())


@routes.post(
    "/api/stream",
    response_class=EventStream,
    status_code=200,
    responses={200: {"content": {"text/event-stream": {}}, "description": STREAM_EVENTS}, **ERRORS},
)
async def stream_text(body: StreamRequest, request: Request) -> EventStream:
    """Stream the samples token by token as server-sent events."""
    lm: LanguageModel = request.app.state.lm
    plan = plan_request(lm, body)
    steps = token_stream(lm, plan)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    def emit(kind: str, data: dict[str, Any]) -> None:
        with suppress(RuntimeError):  # the loop closed: the server is going away
            loop.call_soon_threadsafe(queue.put_nowait, (kind, data))

    job = request.app.state.pool.submit(produce_events(steps, plan, emit))
    start = {
        "prefix": plan.prefix,
        "seed": plan.seed,
        "num_samples": plan.num_samples,
        "length": plan.options.length,
        "level": plan.level,
        "unknown": plan.unknown,
    }
    return EventStream(sse_events(start, queue), job)


@routes.post("/api/generate", response_model=GenerateResponse, responses=ERRORS)
async def generate_text(body: GenerateRequest, request: Request) -> Response:
    """Generate every sample at once (beam search when `beam > 0`)."""
    lm: LanguageModel = request.app.state.lm
    plan = plan_request(lm, body)
    work: Callable[[threading.Event], list[str]]
    if plan.options.beam:

        def work(cancel: threading.Event) -> list[str]:
            return lm.generate(options=plan.options)

    else:
        work = collect_texts(token_stream(lm, plan), plan)
    start = time.perf_counter()
    job = request.app.state.pool.submit(work)
    try:
        texts = await wait_for_job(job, request)
    except RnnkitError:
        raise  # the handlers answer 422 (a bad request) or 500 (the model failed)
    except Exception:
        log.exception("generation failed")
        return JSONResponse({"error": GENERATION_FAILED}, status_code=500)
    if texts is None:
        return Response(status_code=499)  # nobody is listening any more
    result = GenerateResponse(
        texts=texts,
        prefix=plan.prefix,
        seed=plan.seed,
        tokens=plan.options.length * len(texts),
        elapsed_s=time.perf_counter() - start,
    )
    return JSONResponse(result.model_dump())


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Nothing to start; on shutdown, stop every generation and let the workers go."""
    yield
    app.state.pool.shutdown()


def _static_page(content: bytes, media_type: str) -> Callable[[], Awaitable[Response]]:
    """A route that answers one of the packaged files (read once, when the app is built)."""

    async def serve_file() -> Response:
        return Response(content, media_type=media_type, headers={"Cache-Control": "no-cache"})

    return serve_file


def _validation_message(errors: list[dict[str, Any]], fields: list[str]) -> str:
    """One line for the page: `length: Input should be a valid integer; ...`."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "extra_forbidden":
            msg += f" (the fields are {', '.join(fields)})"
        parts.append(f"{'.'.join(loc) or 'body'}: {msg}")
    return "; ".join(parts)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with one readable line (`error`) and the pydantic details (`detail`).

    A bad sampling option answers the message of `check_sampling` (the field, its range,
    the value sent), as Python and the command line do; its `detail` points at the field.
    """
    raw = list(exc.errors())
    for err in raw:
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, SamplingOptionError):
            field = {"loc": ["body", cause.option], "msg": str(cause), "type": "value_error"}
            return JSONResponse({"error": str(cause), "detail": [field]}, status_code=422)
    rows = [{k: e.get(k) for k in ("loc", "msg", "type")} for e in raw]
    detail = [{**e, "loc": [str(p) for p in e["loc"] or ()]} for e in rows]
    message = _validation_message(rows, list(GenerateRequest.model_fields))
    return JSONResponse({"error": message, "detail": detail}, status_code=422)


async def _user_error(request: Request, exc: RnnkitError) -> JSONResponse:
    """422 with the library's own message (it says what to change)."""
    return JSONResponse({"error": str(exc)}, status_code=422)


async def _model_error(request: Request, exc: NumericalError) -> JSONResponse:
    """500 with the library's one line: the model itself failed (non-finite logits)."""
    log.warning("generation failed: %s", exc)
    return JSONResponse({"error": str(exc)}, status_code=500)


async def _busy(request: Request, exc: QueueFullError) -> JSONResponse:
    """429 with a Retry-After when every worker is busy and the waiting line is full."""
    pool: WorkerPool = request.app.state.pool
    error = (
        f"the server is busy ({pool.workers} generating, {pool.queue_size} waiting); "
        "retry in a moment"
    )
    return JSONResponse({"error": error}, status_code=429, headers={"Retry-After": "1"})
