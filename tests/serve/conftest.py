"""Fixtures for the playground tests: two tiny trained runs and live servers on loopback.

The servers are real uvicorn servers in a background thread, bound to 127.0.0.1 on a free
port, so the tests speak HTTP (streaming, disconnects, 429s) exactly as a browser would.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from rnnkit.config import RunConfig, apply_overrides
from rnnkit.lm.train import train_lm

EN_TEXT = (
    "The time traveller (for so it will be convenient to speak of him) was expounding a "
    "recondite matter to us. His grey eyes shone and twinkled, and his usually pale face "
    "was flushed and animated.\n"
) * 14

ZH_TEXT = (
    "春天的风吹过小河，河边的柳树发出新芽。\n"
    "我们在山上看日出，天空慢慢变成金色。\n"
    "晚上的城市很安静，路灯照着回家的人。\n"
    "她在窗前写信，窗外下着小雨。\n"
    "时间走得很快，我们要好好学习。\n"
) * 16


def _train(folder: Path, text: str, *overrides: str) -> Path:
    """Train a model small enough to fit in a second or two; returns its run folder."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "corpus.txt"
    source.write_text(text, encoding="utf-8")
    cfg = RunConfig()
    apply_overrides(
        cfg,
        [
            f"data.source={source}",
            "data.batch_size=4",
            "data.num_steps=16",
            "model.kind=gru",
            "model.hidden_size=24",
            "model.embedding_dim=8",
            "train.epochs=2",
            "train.optimizer=adam",
            "train.lr=0.01",
            "train.threads=1",
            "generate.length=10",
            *overrides,
        ],
    )
    train_lm(cfg, out=folder / "run", quiet=True, echo=lambda _: None)
    return folder / "run"


@pytest.fixture(scope="session")
def en_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An English character model trained on d2l-normalised text (lower case, letters)."""
    folder = tmp_path_factory.mktemp("serve-en")
    return _train(folder, EN_TEXT, "data.normalize=d2l", "generate.prefixes=['the time ']")


@pytest.fixture(scope="session")
def zh_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Chinese character model (line breaks read as spaces, as for the Jay Chou lyrics)."""
    folder = tmp_path_factory.mktemp("serve-zh")
    return _train(folder, ZH_TEXT, "data.normalize=newlines", "generate.prefixes=['我们']")


@pytest.fixture(scope="session")
def word_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An English word-level model (words joined by spaces)."""
    folder = tmp_path_factory.mktemp("serve-word")
    return _train(folder, EN_TEXT, "data.level=word", "data.num_steps=8")


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run `app` with uvicorn on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    config.timeout_graceful_shutdown = 1
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def en_url(en_run: Path) -> Iterator[str]:
    """A live playground for the English model (default workers and queue)."""
    from rnnkit.serve import create_app

    with serving(create_app(en_run)) as url:
        yield url


@pytest.fixture(scope="module")
def word_url(word_run: Path) -> Iterator[str]:
    """A live playground for the word-level model."""
    from rnnkit.serve import create_app

    with serving(create_app(word_run)) as url:
        yield url


@pytest.fixture(scope="module")
def zh_url(zh_run: Path) -> Iterator[str]:
    """A live playground for the Chinese model."""
    from rnnkit.serve import create_app

    with serving(create_app(zh_run)) as url:
        yield url


@pytest.fixture
def start_server() -> Iterator[Callable[[Any], str]]:
    """A factory: `start_server(app)` serves `app` until the test ends; returns its URL."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(serving(app))
