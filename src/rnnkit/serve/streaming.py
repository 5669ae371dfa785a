"""From a validated request to text: the sample plan, the worker bodies and the SSE glue.

A worker body runs on the pool's threads and checks its `cancel` event once per step;
the event loop only moves the worker's events to the client (`sse_events`) or waits for
its result (`wait_for_job`), stopping the job when the client goes away.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from itertools import takewhile
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from rnnkit.decode.options import SamplingOptions, normalized, random_seed
from rnnkit.decode.prefix import StepJoiner, join_steps, unknown_tokens
from rnnkit.decode.protocol import LanguageModel
from rnnkit.errors import NumericalError, RnnkitError
from rnnkit.serve.pool import Job
from rnnkit.serve.schemas import StreamRequest
from rnnkit.text.tokenize import WordTokenizer

log = logging.getLogger("rnnkit.serve")
KEEPALIVE_S = 15.0
Emit = Callable[[str, dict[str, Any]], None]
GENERATION_FAILED = "generation failed; the server log has the details"


@dataclass
class SamplePlan:
    """A validated request turned into what the workers need."""

    options: SamplingOptions  # prefix normalised once, as the model reads it; the seed drawn
    level: str
    unknown: list[str]
    tokenizer: str | WordTokenizer = "char"  # how the prefix was split (the model's)

    @property
    def prefix(self) -> str:
        """The request's prefix, normalised as the training text was."""
        return self.options.prefix

    @property
    def seed(self) -> int | None:
        """The seed the samples are drawn with (None for beam search)."""
        return self.options.seed

    @property
    def num_samples(self) -> int:
        """Columns on the page."""
        return self.options.num_samples


def plan_request(lm: LanguageModel, req: StreamRequest) -> SamplePlan:
    """Pick the seed (none for beam search), normalise the prefix (once: the model's calls
    take it as it is) and find unknown tokens."""
    options = req.options(req.seed)
    if options.beam:
        options = replace(options, seed=None)  # beam search draws nothing
    elif options.seed is None:
        options = replace(options, seed=random_seed())  # reported, so the sample replays
    options = normalized(options, lm.normalize)
    unknown = unknown_tokens(lm.vocab, options.prefix, lm.tokenizer)
    return SamplePlan(options, lm.level, unknown, lm.tokenizer)


def token_stream(lm: LanguageModel, plan: SamplePlan) -> Iterator[list[str]]:
    """Check the options and set up the sampler (cheap: no forward call happens yet)."""
    return lm.stream(options=plan.options)


def produce_events(
    steps: Iterator[list[str]], plan: SamplePlan, emit: Emit
) -> Callable[[threading.Event], None]:
    """Worker body for the event stream: one `tokens` event per step, checking `cancel`."""

    def work(cancel: threading.Event) -> None:
        start, step = time.perf_counter(), 0
        joiner = StepJoiner(plan.prefix, plan.tokenizer, plan.num_samples)
        try:
            while not cancel.is_set():
                try:
                    tokens = next(steps)
                except StopIteration:
                    elapsed = time.perf_counter() - start
                    rate = step * plan.num_samples / elapsed if elapsed > 0 else 0.0
                    emit("done", {"steps": step, "elapsed_s": elapsed, "tokens_per_s": rate})
                    return
                pieces = joiner.pieces(tokens)
                emit("tokens", {"step": step, "tokens": pieces})
                step += 1
        except RnnkitError as exc:  # a NumericalError too: the model's logits overflowed
            if isinstance(exc, NumericalError):
                log.warning("generation failed: %s", exc)
            emit("error", {"error": str(exc)})
        except Exception:
            log.exception("generation failed")
            emit("error", {"error": GENERATION_FAILED})
        finally:
            _close(steps)

    return work


def _close(steps: Iterator[list[str]]) -> None:
    """Close the sampler's generator so its frames (and state tensors) go at once."""
    close = getattr(steps, "close", None)
    if close is not None:
        close()


def collect_texts(
    steps: Iterator[list[str]], plan: SamplePlan
) -> Callable[[threading.Event], list[str]]:
    """Worker body for one-shot sampling: the same steps, joined into one text per sample."""

    def work(cancel: threading.Event) -> list[str]:
        try:
            going = takewhile(lambda _: not cancel.is_set(), steps)
            return join_steps(plan.prefix, going, plan.tokenizer, plan.num_samples)
        finally:
            _close(steps)

    return work


def _sse(event: str, data: dict[str, Any]) -> str:
    """One server-sent event: its name and its data as one line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class EventStream(StreamingResponse):
    """An event-stream response that stops its job however the response ends."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[str], job: Job) -> None:
        super().__init__(content, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self.job = job

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the response; stop the job whether it ended, failed or the client left."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.job.stop()


async def sse_events(start: dict[str, Any], queue: asyncio.Queue) -> AsyncIterator[str]:
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


async def wait_for_job(job: Job, request: Request) -> Any:
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
