"""A model that produces non-finite logits: the playground answers 500 with one JSON line
(`error`), or an SSE `error` event when streaming, never a stack trace; and it keeps serving."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the playground needs pip install 'rnnkit[serve]'")
pytest.importorskip("uvicorn", reason="the playground needs pip install 'rnnkit[serve]'")
httpx = pytest.importorskip("httpx", reason="the API tests need httpx")

import torch  # noqa: E402

from rnnkit.serve import create_app  # noqa: E402


def events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Server-sent events as (event, data) pairs, in order."""
    out = []
    for block in text.split("\n\n"):
        kind, data = "message", ""
        for line in block.splitlines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
        if data:
            out.append((kind, json.loads(data)))
    return out


@pytest.fixture
def served(en_run: Path, start_server: Callable[[Any], str]) -> tuple[str, Any]:
    """A live playground of the English model (one worker), and the app (to break and mend
    its model)."""
    app = create_app(en_run, workers=1)
    return start_server(app), app


@contextmanager
def broken_logits(app: Any) -> Iterator[None]:
    """One NaN in the model's output layer while inside: every logit row holds a NaN."""
    weight = app.state.lm.model.head.weight
    saved = weight.detach().clone()
    with torch.no_grad():
        weight[3, 0] = float("nan")
    try:
        yield
    finally:
        with torch.no_grad():
            weight.copy_(saved)


def assert_one_line(error: str) -> None:
    assert "\n" not in error and "Traceback" not in error
    assert "not finite" in error and "train.lr" in error


@pytest.mark.parametrize(
    "body",
    [{"temperature": 1.0}, {"temperature": 0.0}, {"beam": 2}],
    ids=["sample", "greedy", "beam"],
)
def test_generate_answers_500_with_one_line_and_keeps_serving(
    served: tuple[str, Any], body: dict[str, Any]
) -> None:
    url, app = served
    request = {"prefix": "the time ", "length": 6, "seed": 1, **body}
    with broken_logits(app):
        res = httpx.post(f"{url}/api/generate", json=request, timeout=20)
    assert res.status_code == 500
    assert res.headers["content-type"].startswith("application/json")
    assert_one_line(res.json()["error"])
    assert str(app.state.lm.path) in res.json()["error"]
    # the same server, the same worker, the model mended: serving goes on
    assert httpx.get(f"{url}/api/health", timeout=20).status_code == 200
    again = httpx.post(f"{url}/api/generate", json=request, timeout=20)
    assert again.status_code == 200 and again.json()["texts"][0].startswith("the time ")


def test_stream_ends_with_an_error_event_and_keeps_serving(served: tuple[str, Any]) -> None:
    url, app = served
    request = {"prefix": "the time ", "length": 6, "seed": 1}
    with broken_logits(app):
        res = httpx.post(f"{url}/api/stream", json=request, timeout=20)
    assert res.status_code == 200  # the stream had started: the failure is its last event
    got = events(res.text)
    assert got[0][0] == "start" and got[-1][0] == "error"
    assert_one_line(got[-1][1]["error"])
    ok = events(httpx.post(f"{url}/api/stream", json=request, timeout=20).text)
    assert ok[-1][0] == "done" and len([e for e in ok if e[0] == "tokens"]) == 6


def test_an_unexpected_failure_is_500_json_without_a_trace(
    served: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = served
    import rnnkit

    def explode(*args: object, **kwargs: object) -> list[str]:
        raise RuntimeError("a bug, with\na multi-line message")

    monkeypatch.setattr(rnnkit.LoadedLM, "generate", explode)
    res = httpx.post(f"{url}/api/generate", json={"prefix": "the ", "beam": 2}, timeout=20)
    assert res.status_code == 500
    assert res.json() == {"error": "generation failed; the server log has the details"}
    monkeypatch.undo()
    assert httpx.post(f"{url}/api/generate", json={"prefix": "the "}, timeout=20).is_success
