"""`rnnkit serve`: a local web playground that streams text from one trained language model.

    app = create_app("runs/demo")             # FastAPI app; the checkpoint is loaded once
    run("runs/demo", port=8000)               # serve it with uvicorn on 127.0.0.1

Endpoints (the schema is at `/openapi.json`):

    GET  /                 the playground page (and /app.js, /app.css, shipped in the package)
    GET  /api/model        the model card: corpus, vocabulary, architecture, best ppl, curves
    POST /api/stream       server-sent events: `start`, then one `tokens` per step, then `done`
    POST /api/generate     one-shot JSON: one text per sample (beam search too)
    GET  /api/health       workers busy and requests waiting

Generation runs on a fixed pool of worker threads, never on the event loop. At most
`workers` requests generate at once and `queue_size` more wait; beyond that a request gets
429 at once. Each request draws from its own seeded generator (the seed is reported, so a
sample can be replayed), and a client that goes away stops its generation within one step.
No request names a file: the checkpoint and the page are fixed when the app is built.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

import rnnkit
from rnnkit.errors import RnnkitError
from rnnkit.lm.generation import normalize_prefix

log = logging.getLogger("rnnkit.serve")
T = TypeVar("T")
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_LENGTH = 2000  # tokens per sample
MAX_SAMPLES = 8  # columns on the page
MAX_PREFIX_CHARS = 2000
MAX_TEMPERATURE = 10.0
MAX_TOP_K = 100_000
MAX_BEAM = 16
MAX_SEED = 2**53 - 1  # a seed survives a round trip through a JavaScript number
MAX_BODY_BYTES = 32 * 1024
KEEPALIVE_S = 15.0
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
STATIC = {"app.js": "text/javascript", "app.css": "text/css", "index.html": "text/html"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


# --------------------------------------------------------------------------- requests


class StreamRequest(BaseModel):
    """What to generate. Every field is bounded; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prefix: str = Field("", max_length=MAX_PREFIX_CHARS, description="text to continue")
    length: int = Field(200, ge=1, le=MAX_LENGTH, description="new tokens per sample")
    temperature: float = Field(
        1.0, ge=0, le=MAX_TEMPERATURE, allow_inf_nan=False, description="0 = greedy"
    )
    top_k: int = Field(0, ge=0, le=MAX_TOP_K, description="keep the k most likely (0 = all)")
    top_p: float = Field(1.0, gt=0, le=1, allow_inf_nan=False, description="nucleus mass")
    num_samples: int = Field(1, ge=1, le=MAX_SAMPLES, description="samples side by side")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="omit for a random seed")


class GenerateRequest(StreamRequest):
    """A one-shot request; `beam > 0` runs beam search (deterministic, no seed)."""

    beam: int = Field(0, ge=0, le=MAX_BEAM, description="beam width (0 = sample)")

    @model_validator(mode="after")
    def _samples_fit_beam(self) -> GenerateRequest:
        if self.beam and self.num_samples > self.beam:
            raise ValueError(
                f"num_samples ({self.num_samples}) exceeds beam ({self.beam}); "
                "ask for at most beam samples or widen the beam"
            )
        return self


class GenerateResponse(BaseModel):
    """One text per sample, each the (normalised) prefix followed by the new tokens."""

    texts: list[str]
    prefix: str
    seed: int | None
    tokens: int
    elapsed_s: float


class ModelCard(BaseModel):
    """What the page shows beside the text: the facts of the run and its curves."""

    run: str
    checkpoint: str
    corpus: dict[str, Any]
    level: str
    normalize: str
    vocab_size: int
    architecture: dict[str, Any]
    summary: str
    parameters: int
    best: dict[str, Any]
    curves: list[dict[str, float]]
    defaults: dict[str, Any]
    limits: dict[str, Any]


class Health(BaseModel):
    """The generation pool right now."""

    status: str
    workers: int
    queue_size: int
    running: int
    waiting: int


# --------------------------------------------------------------------------- worker pool


class QueueFullError(Exception):
    """Every worker is busy and the waiting line is full."""


@dataclass(eq=False)  # jobs are kept in a set by identity
class Job:
    """A submitted generation: its future and the flag that asks it to stop."""

    future: Future[Any]
    cancel: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        """Ask the work to stop after its current step (or never start)."""
        self.cancel.set()
        self.future.cancel()


class WorkerPool:
    """`workers` generation threads and a waiting line of at most `queue_size` requests."""

    def __init__(self, workers: int, queue_size: int) -> None:
        if workers < 1 or queue_size < 0:
            raise RnnkitError(
                f"need workers >= 1 and queue_size >= 0, got {workers} and {queue_size}; "
                "pass --workers 1 or more and --queue-size 0 or more"
            )
        self.workers = workers
        self.queue_size = queue_size
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="rnnkit-generate")
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0
        self._jobs: set[Job] = set()

    def submit(self, work: Callable[[threading.Event], T]) -> Job:
        """Queue `work(cancel)`; raises `QueueFullError` when workers and line are all taken."""
        with self._lock:
            if self._admitted >= self.workers + self.queue_size:
                raise QueueFullError
            self._admitted += 1
        cancel = threading.Event()

        def task() -> T | None:
            with self._lock:
                self._running += 1
            try:
                return None if cancel.is_set() else work(cancel)
            finally:
                with self._lock:
                    self._running -= 1

        job = Job(self._executor.submit(task), cancel)
        with self._lock:
            self._jobs.add(job)
        job.future.add_done_callback(lambda _: self._release(job))
        return job

    def _release(self, job: Job) -> None:
        with self._lock:
            self._admitted -= 1
            self._jobs.discard(job)

    def stats(self) -> dict[str, int]:
        """Requests generating now and requests waiting for a worker."""
        with self._lock:
            return {"running": self._running, "waiting": self._admitted - self._running}

    def shutdown(self) -> None:
        """Stop every job and let the threads go."""
        with self._lock:
            jobs = list(self._jobs)
        for job in jobs:
            job.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)


# --------------------------------------------------------------------------- generation


@dataclass
class Plan:
    """A validated request turned into what the workers need."""

    prefix: str  # normalised as the training text was
    seed: int | None
    num_samples: int
    level: str
    unknown: list[str]

    def pieces(self, step: int, tokens: list[str]) -> list[str]:
        """The text each column grows by: the token, after a space between words."""
        if self.level != "word":
            return tokens
        space = step > 0 or (bool(self.prefix) and not self.prefix[-1].isspace())
        return [(" " + t) if space else t for t in tokens]


def _plan(lm: rnnkit.LoadedLM, req: StreamRequest, beam: int = 0) -> Plan:
    prefix = normalize_prefix(req.prefix, lm.config.data.normalize)
    tokens = prefix.split() if lm.level == "word" else list(prefix)
    known = lm.vocab.token_to_idx
    seed = None if beam else req.seed
    if seed is None and not beam:
        seed = int.from_bytes(os.urandom(8), "little") & MAX_SEED
    unknown = list(dict.fromkeys(t for t in tokens if t not in known))
    return Plan(prefix, seed, req.num_samples, lm.level, unknown)


def _token_stream(lm: rnnkit.LoadedLM, req: StreamRequest, plan: Plan) -> Iterator[list[str]]:
    """Check the options and set up the sampler (cheap: no forward call happens yet)."""
    return rnnkit.stream(
        lm,
        req.prefix,
        req.length,
        temperature=req.temperature,
        top_k=req.top_k,
        top_p=req.top_p,
        num_samples=req.num_samples,
        seed=plan.seed,
    )


def _produce(
    steps: Iterator[list[str]], plan: Plan, emit: Callable[[str, dict[str, Any]], None]
) -> Callable[[threading.Event], None]:
    """Worker body for the event stream: one `tokens` event per step, checking `cancel`."""

    def work(cancel: threading.Event) -> None:
        start, step = time.perf_counter(), 0
        try:
            while not cancel.is_set():
                try:
                    tokens = next(steps)
                except StopIteration:
                    elapsed = time.perf_counter() - start
                    rate = step * plan.num_samples / elapsed if elapsed > 0 else 0.0
                    emit("done", {"steps": step, "elapsed_s": elapsed, "tokens_per_s": rate})
                    return
                emit("tokens", {"step": step, "tokens": plan.pieces(step, tokens)})
                step += 1
        except RnnkitError as exc:
            emit("error", {"error": str(exc)})
        except Exception:
            log.exception("generation failed")
            emit("error", {"error": "generation failed; the server log has the details"})
        finally:
            _close(steps)

    return work


def _close(steps: Iterator[list[str]]) -> None:
    """Close the sampler's generator so its frames (and state tensors) go at once."""
    close = getattr(steps, "close", None)
    if close is not None:
        close()


def _collect(steps: Iterator[list[str]], plan: Plan) -> Callable[[threading.Event], list[str]]:
    """Worker body for one-shot sampling: the same steps, joined into one text per sample."""

    def work(cancel: threading.Event) -> list[str]:
        columns = [[plan.prefix] for _ in range(plan.num_samples)]
        try:
            for step, tokens in enumerate(steps):
                if cancel.is_set():
                    break
                for column, piece in zip(columns, plan.pieces(step, tokens), strict=True):
                    column.append(piece)
        finally:
            _close(steps)
        return ["".join(column) for column in columns]

    return work


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class EventStream(StreamingResponse):
    """An event-stream response that stops its job however the response ends."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[str], job: Job) -> None:
        super().__init__(content, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self.job = job

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.job.stop()


async def _events(start: dict[str, Any], queue: asyncio.Queue) -> AsyncIterator[str]:
    """`start`, then the worker's events as they come (several per chunk when they pile up)."""
    yield _sse("start", start)
    while True:
        try:
            kind, data = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
        except asyncio.TimeoutError:
            yield ": waiting\n\n"  # a comment line keeps proxies (and disconnect checks) awake
            continue
        chunk = [_sse(kind, data)]
        while kind == "tokens" and not queue.empty():
            kind, data = queue.get_nowait()
            chunk.append(_sse(kind, data))
        yield "".join(chunk)
        if kind != "tokens":
            return


async def _wait(job: Job, request: Request) -> Any:
    """The job's result, or None when the client leaves first (the job is then stopped)."""
    result = asyncio.wrap_future(job.future)
    try:
        while True:
            done, _ = await asyncio.wait({result}, timeout=0.2)
            if done:
                return result.result()
            if await request.is_disconnected():
                return None
    finally:
        if not result.done():
            job.stop()


# --------------------------------------------------------------------------- the card


def _read_curves(run_dir: Path, fallback: dict[str, Any]) -> list[dict[str, float]]:
    """The numeric columns of `metrics.jsonl` (or the checkpoint's own row without it)."""
    keys = ("epoch", "step", "train_loss", "train_ppl", "val_loss", "val_ppl", "val_bpc")
    rows: list[dict[str, Any]] = []
    path = run_dir / "metrics.jsonl"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by an interrupted run
    elif fallback:
        rows = [fallback]
    return [
        {k: float(r[k]) for k in keys if isinstance(r.get(k), (int, float))}
        for r in rows
        if isinstance(r, dict)
    ]


def model_card(lm: rnnkit.LoadedLM) -> ModelCard:
    """The facts the page shows, read from the loaded model and its run folder."""
    m = lm.config.model
    path = lm.path or Path("checkpoint.pt")
    arch = {
        "kind": m.kind,
        "impl": m.impl,
        "num_layers": m.num_layers,
        "hidden_size": m.hidden_size,
        "embedding_dim": m.embedding_dim or m.hidden_size,
        "input_mode": m.input_mode,
        "dropout": m.dropout,
        "tie_weights": m.tie_weights,
    }
    layers = f"{m.num_layers} layer{'s' if m.num_layers > 1 else ''}"
    inputs = "one-hot" if m.input_mode == "onehot" else f"embedding {arch['embedding_dim']}"
    g = lm.config.generate
    best_keys = ("epoch", "step", "train_ppl", "val_ppl", "val_bpc")
    return ModelCard(
        run=path.parent.name,
        checkpoint=path.name,
        corpus={k: v for k, v in lm.corpus.items() if k in ("name", "sha1", "num_tokens")},
        level=lm.level,
        normalize=lm.config.data.normalize,
        vocab_size=len(lm.vocab),
        architecture=arch,
        summary=f"{m.kind.upper()}, {layers} × {m.hidden_size} hidden, {inputs}",
        parameters=sum(p.numel() for p in lm.model.parameters()),
        best={k: lm.best[k] for k in best_keys if k in lm.best},
        curves=_read_curves(path.parent, lm.metrics),
        defaults={
            "prefix": g.prefixes[0] if g.prefixes else "",
            "length": min(g.length, MAX_LENGTH),
            "temperature": g.temperature,
            "top_k": g.top_k,
            "top_p": g.top_p,
        },
        limits={
            "length": MAX_LENGTH,
            "num_samples": MAX_SAMPLES,
            "prefix_chars": MAX_PREFIX_CHARS,
            "temperature": MAX_TEMPERATURE,
            "top_k": MAX_TOP_K,
            "beam": MAX_BEAM,
        },
    )


# --------------------------------------------------------------------------- the guard


def _host_name(value: str) -> str:
    """`[::1]:8000` -> `::1`, `localhost:8000` -> `localhost`."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """ASGI middleware: known Host headers only, bounded bodies, strict security headers.

    The Host check stops DNS-rebinding pages from reading a loopback server; bodies are read
    (up to `max_body` bytes) before the app sees them, so an oversized one is a 413.
    """

    def __init__(self, app: Any, max_body: int, allowed_hosts: frozenset[str] | None) -> None:
        self.app = app
        self.max_body = max_body
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = _host_name(headers.get("host", ""))
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            names = ", ".join(sorted(self.allowed_hosts))
            await _reply(send, 400, f"unknown Host {host!r}; open the page through {names}")
            return
        declared = headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > self.max_body:
            await _reply(send, 413, f"request bodies are limited to {self.max_body} bytes")
            return
        body = b""
        more = scope["method"] in ("POST", "PUT", "PATCH")
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                await _reply(send, 413, f"request bodies are limited to {self.max_body} bytes")
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
            await send(message)

        await self.app(scope, replay, send_with_headers)


async def _reply(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------- the app


def _validation_message(errors: list[dict[str, Any]], fields: list[str]) -> str:
    """One line for the page: `length: Input should be less than or equal to 2000; ...`."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "extra_forbidden":
            msg += f" (the fields are {', '.join(fields)})"
        parts.append(f"{'.'.join(loc) or 'body'}: {msg}")
    return "; ".join(parts)


def create_app(
    checkpoint: str | Path,
    *,
    workers: int = 2,
    queue_size: int = 128,
    device: str = "cpu",
    max_body_bytes: int = MAX_BODY_BYTES,
    allowed_hosts: frozenset[str] | None = LOOPBACK_NAMES,
) -> FastAPI:
    """Build the playground for one checkpoint (a run folder or a `.pt` file).

    Args:
        checkpoint: loaded once, here, with `weights_only=True`; requests cannot name another.
        workers: generation threads; at most this many requests generate at once.
        queue_size: requests that may wait for a worker; more get 429 at once.
        device: where the model runs (`cpu`, `cuda`, `auto`).
        max_body_bytes: larger request bodies get 413.
        allowed_hosts: Host header names served (`None` = any; `run` uses it off loopback).

    Small models generate fastest with `torch.set_num_threads(1)`, which `run` sets; the
    app leaves that process-wide setting to whoever serves it.
    """
    lm = rnnkit.load(checkpoint, device=device)
    card = model_card(lm)
    pool = WorkerPool(workers, queue_size)
    folder = resources.files("rnnkit.serve") / "static"
    static = {name: (folder / name).read_bytes() for name in STATIC}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        pool.shutdown()

    app = FastAPI(
        title="rnnkit playground",
        version=rnnkit.__version__,
        description=f"Text from the {card.summary} of run {card.run!r}.",
        docs_url=None,  # the Swagger page loads its code from a CDN; the schema stays
        redoc_url=None,
        lifespan=lifespan,
    )
    app.add_middleware(Guard, max_body=max_body_bytes, allowed_hosts=allowed_hosts)
    app.state.pool = pool
    app.state.lm = lm
    app.state.card = card
    fields = list(GenerateRequest.model_fields)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: e.get(k) for k in ("loc", "msg", "type")} for e in exc.errors()]
        detail = [{**e, "loc": [str(p) for p in e["loc"] or ()]} for e in errors]
        return JSONResponse(
            {"error": _validation_message(errors, fields), "detail": detail}, status_code=422
        )

    @app.exception_handler(RnnkitError)
    async def _user_error(request: Request, exc: RnnkitError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=422)

    @app.exception_handler(QueueFullError)
    async def _busy(request: Request, exc: QueueFullError) -> JSONResponse:
        error = (
            f"the server is busy ({pool.workers} generating, {pool.queue_size} waiting); "
            "retry in a moment"
        )
        return JSONResponse({"error": error}, status_code=429, headers={"Retry-After": "1"})

    def page(name: str) -> Callable[[], Awaitable[Response]]:
        async def serve_file() -> Response:
            media = f"{STATIC[name]}; charset=utf-8"
            return Response(static[name], media_type=media, headers={"Cache-Control": "no-cache"})

        return serve_file

    app.get("/", include_in_schema=False)(page("index.html"))
    app.get("/app.js", include_in_schema=False)(page("app.js"))
    app.get("/app.css", include_in_schema=False)(page("app.css"))

    errors = {
        413: {"description": "request body too large"},
        422: {"description": "invalid options; `error` says which and why"},
        429: {"description": "every worker busy and the waiting line full; retry"},
    }

    @app.get("/api/model", response_model=ModelCard)
    async def get_model() -> ModelCard:
        """The model card: corpus, vocabulary, architecture, parameters, best ppl, curves."""
        return card

    @app.get("/api/health", response_model=Health)
    async def health() -> Health:
        """How many requests are generating and waiting."""
        return Health(status="ok", workers=workers, queue_size=queue_size, **pool.stats())

    @app.post(
        "/api/stream",
        response_class=EventStream,
        status_code=200,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "events `start` {prefix, seed, num_samples, length, level, "
                "unknown}, "
                "`tokens` {step, tokens: one text piece per sample}, then `done` "
                "{steps, elapsed_s, tokens_per_s} or `error` {error}",
            },
            **errors,
        },
    )
    async def stream_text(body: StreamRequest) -> EventStream:
        """Stream the samples token by token as server-sent events."""
        plan = _plan(lm, body)
        steps = _token_stream(lm, body, plan)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

        def emit(kind: str, data: dict[str, Any]) -> None:
            with suppress(RuntimeError):  # the loop closed: the server is going away
                loop.call_soon_threadsafe(queue.put_nowait, (kind, data))

        job = pool.submit(_produce(steps, plan, emit))
        start = {
            "prefix": plan.prefix,
            "seed": plan.seed,
            "num_samples": plan.num_samples,
            "length": body.length,
            "level": plan.level,
            "unknown": plan.unknown,
        }
        return EventStream(_events(start, queue), job)

    @app.post("/api/generate", response_model=GenerateResponse, responses=errors)
    async def generate_text(body: GenerateRequest, request: Request) -> Response:
        """Generate every sample at once (beam search when `beam > 0`)."""
        plan = _plan(lm, body, body.beam)
        work: Callable[[threading.Event], list[str]]
        if body.beam:
            options = body.model_dump(exclude={"prefix", "length", "seed"})

            def work(cancel: threading.Event) -> list[str]:
                return rnnkit.generate(lm, body.prefix, body.length, **options)

        else:
            work = _collect(_token_stream(lm, body, plan), plan)
        start = time.perf_counter()
        texts = await _wait(pool.submit(work), request)
        if texts is None:
            return Response(status_code=499)  # nobody is listening any more
        result = GenerateResponse(
            texts=texts,
            prefix=plan.prefix,
            seed=plan.seed,
            tokens=body.length * len(texts),
            elapsed_s=time.perf_counter() - start,
        )
        return JSONResponse(result.model_dump())

    return app


# --------------------------------------------------------------------------- run


def host_warning(host: str) -> str | None:
    """A warning when `host` is reachable from other machines, else None."""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        if host.lower() == "localhost":
            return None
    return (
        f"warning: binding {host} makes the playground reachable from other machines; "
        "anyone who can reach it can use this computer's CPU. Use --host 127.0.0.1 to keep it local"
    )


def _bind(host: str, port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise RnnkitError(f"port {port} is out of range; pick one from 1 to 65535 (0 = any free)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RnnkitError(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port "
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
) -> None:
    """Serve the playground until Ctrl-C; prints the address (and a warning off loopback).

    `threads` sets torch's intra-op threads for the process (0 keeps torch's default); one
    is fastest for small models, whose steps are too short to split, and `workers` give
    the parallelism between requests.
    """
    import uvicorn

    if echo is None:
        echo = partial(print, flush=True)
    if threads:  # one step of a small RNN is too short to share between threads
        import torch

        torch.set_num_threads(threads)
    warning = host_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    allowed = None if warning else LOOPBACK_NAMES | {host.lower()}
    app = create_app(
        checkpoint, workers=workers, queue_size=queue_size, device=device, allowed_hosts=allowed
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
