"""The playground on an ONNX export: the same card, routes and answers as on the checkpoint,
and `rnnkit serve` on an export never imports torch."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the playground needs pip install 'rnnkit[serve]'")
pytest.importorskip("uvicorn", reason="the playground needs pip install 'rnnkit[serve]'")
httpx = pytest.importorskip("httpx", reason="the API tests need httpx")
pytest.importorskip("onnxruntime", reason="serving an ONNX export needs onnxruntime")
pytest.importorskip("onnxscript", reason="exporting the test model needs onnxscript")


import rnnkit  # noqa: E402
from conftest import BLOCK_TORCH  # noqa: E402
from rnnkit.decode.backend import load_backend  # noqa: E402
from rnnkit.decode.options import SamplingOptionError, check_sampling  # noqa: E402
from rnnkit.decode.prefix import join_steps  # noqa: E402
from rnnkit.errors import ConfigError  # noqa: E402
from rnnkit.serve import create_app  # noqa: E402
from rnnkit.serve.card import model_card  # noqa: E402
from rnnkit.serve.schemas import PLAYGROUND_LIMITS  # noqa: E402

Start = Callable[[Any], str]


@pytest.fixture(scope="module")
def export(en_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The English model of `en_run`, exported to ONNX once."""
    from rnnkit.lm.export import export_onnx

    folder = tmp_path_factory.mktemp("serve-onnx") / "export"
    export_onnx(en_run, folder)
    return folder


@pytest.fixture(scope="module")
def lm(en_run: Path) -> rnnkit.LoadedLM:
    """The checkpoint the export came from, for the torch answers."""
    return rnnkit.load(en_run)


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Server-sent events as (event, data) pairs."""
    found = []
    for block in text.split("\n\n"):
        kind = re.search(r"^event: (.*)$", block, re.M)
        data = re.search(r"^data: (.*)$", block, re.M)
        if kind and data:
            found.append((kind.group(1), json.loads(data.group(1))))
    return found


def test_the_card_is_the_checkpoints(export: Path, en_run: Path, start_server: Start) -> None:
    url = start_server(create_app(export / "model.onnx"))
    card = httpx.get(f"{url}/api/model").json()
    torch_card = model_card(load_backend(en_run)).model_dump()
    assert card["run"] == "export" and card["checkpoint"] == "model.onnx"
    same = {k: v for k, v in card.items() if k not in ("run", "checkpoint")}
    assert same == {k: v for k, v in torch_card.items() if k not in ("run", "checkpoint")}
    assert [c["epoch"] for c in card["curves"]] == [1, 2]  # model.json's history
    assert card["parameters"] == rnnkit.info(en_run)["parameters"]


def test_generate_equals_the_torch_path(
    export: Path, lm: rnnkit.LoadedLM, start_server: Start
) -> None:
    url = start_server(create_app(export, backend="onnx"))

    def post(**body: Any) -> dict[str, Any]:
        res = httpx.post(f"{url}/api/generate", json=body, timeout=30)
        assert res.status_code == 200, res.text
        return res.json()

    greedy = post(prefix="The Time ", length=30, temperature=0, num_samples=2)
    assert greedy["texts"] == rnnkit.generate(lm, "The Time ", 30, temperature=0, num_samples=2)
    assert greedy["prefix"] == "the time " and greedy["tokens"] == 60
    beam = post(prefix="the ", length=8, beam=3, num_samples=2)
    assert beam["texts"] == rnnkit.generate(lm, "the ", 8, beam=3, num_samples=2)
    assert beam["seed"] is None
    sampled = post(prefix="the ", length=20, num_samples=2, seed=7)
    again = post(prefix="the ", length=20, num_samples=2, seed=7)
    assert sampled["seed"] == 7 and sampled["texts"] == again["texts"]  # numpy draws replay
    assert all(text.startswith("the ") and len(text) == 24 for text in sampled["texts"])


def test_stream_events_and_errors(export: Path, lm: rnnkit.LoadedLM, start_server: Start) -> None:
    url = start_server(create_app(export))
    res = httpx.post(f"{url}/api/stream", json={"prefix": "the ", "length": 12, "seed": 3})
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/event-stream")
    events = _events(res.text)
    kinds = [kind for kind, _ in events]
    assert kinds == ["start", *["tokens"] * 12, "done"]
    start = events[0][1]
    assert start == {
        "prefix": "the ",
        "seed": 3,
        "num_samples": 1,
        "length": 12,
        "level": "char",
        "unknown": [],
    }
    streamed = "the " + "".join(data["tokens"][0] for kind, data in events if kind == "tokens")
    one_shot = httpx.post(f"{url}/api/generate", json={"prefix": "the ", "length": 12, "seed": 3})
    assert [streamed] == one_shot.json()["texts"]
    greedy = httpx.post(
        f"{url}/api/stream", json={"prefix": "the ", "length": 15, "temperature": 0}
    )
    steps = [data["tokens"] for kind, data in _events(greedy.text) if kind == "tokens"]
    assert join_steps("the ", steps, "char", 1) == rnnkit.generate(lm, "the ", 15, temperature=0)

    bad = httpx.post(f"{url}/api/generate", json={"prefix": "the ", "temperature": -1})
    with pytest.raises(SamplingOptionError) as expected:
        check_sampling({"temperature": -1}, PLAYGROUND_LIMITS)
    assert bad.status_code == 422 and bad.json()["error"] == str(expected.value)
    no_beam = httpx.post(f"{url}/api/stream", json={"prefix": "the ", "beam": 2})
    assert no_beam.status_code == 422 and "beam" in no_beam.json()["error"]
    assert httpx.get(f"{url}/api/health").json()["status"] == "ok"


def test_backend_choice_and_its_errors(export: Path, en_run: Path) -> None:
    from rnnkit.runtime.onnx_lm import OnnxLM

    assert isinstance(load_backend(export), OnnxLM)
    assert isinstance(load_backend(en_run), rnnkit.LoadedLM)
    with pytest.raises(ConfigError, match="runs on the CPU"):
        create_app(export, device="cuda")
    with pytest.raises(ConfigError, match="unknown backend 'tf'"):
        create_app(export, backend="tf")


def test_cli_serves_an_export_without_torch(export: Path, lm: rnnkit.LoadedLM) -> None:
    script = (
        f"{BLOCK_TORCH}\nfrom rnnkit.cli import main\n"
        f"sys.exit(main(['serve', '--checkpoint', {str(export / 'model.onnx')!r}, "
        "'--port', '0', '--backend', 'auto']))"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"open (http://127\.0\.0\.1:\d+)/", line)
        assert match, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        url = match.group(1)
        assert "GRU, 1 layer × 24 hidden" in line and "'export'" in line
        card = _get_when_up(f"{url}/api/model")
        assert card["checkpoint"] == "model.onnx" and card["curves"]
        res = httpx.post(
            f"{url}/api/generate", json={"prefix": "the ", "length": 20, "temperature": 0}
        )
        assert res.json()["texts"] == rnnkit.generate(lm, "the ", 20, temperature=0)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert out.splitlines()[-1:] == ["TORCH False False"], err


def _get_when_up(url: str, timeout: float = 20.0) -> dict[str, Any]:
    """GET `url` as JSON, retrying until the server answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=1).json()
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
