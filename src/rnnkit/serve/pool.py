"""The generation pool: a fixed set of worker threads and a bounded waiting line.

At most `workers` requests generate at once and `queue_size` more wait; beyond that
`submit` raises `QueueFullError` at once (the app answers 429). Each job carries an event
that asks its work to stop after the current step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rnnkit.errors import ConfigError

T = TypeVar("T")


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
            raise ConfigError(
                f"need workers >= 1 and queue_size >= 0, got {workers} and {queue_size}; "
                "use 1 worker or more and a queue size of 0 or more"
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
