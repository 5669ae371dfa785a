"""The playground's HTTP API on loopback: streaming equals `rnnkit.generate`, validation,
limits, the 429 path, disconnects, Chinese text, the page's assets, and `rnnkit serve`."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the playground needs pip install 'rnnkit[serve]'")
pytest.importorskip("uvicorn", reason="the playground needs pip install 'rnnkit[serve]'")
httpx = pytest.importorskip("httpx", reason="the API tests need httpx")

import rnnkit  # noqa: E402
from rnnkit.cli import main  # noqa: E402
from rnnkit.decode.options import (  # noqa: E402
    LIMITS,
    SamplingOptionError,
    check_sampling,
)
from rnnkit.errors import ConfigError, RnnkitError  # noqa: E402
from rnnkit.serve import create_app, host_warning, run  # noqa: E402
from rnnkit.serve.schemas import PLAYGROUND_LIMITS  # noqa: E402


def parse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Server-sent events as (event, data) pairs, in order; comment lines are skipped."""
    events = []
    for block in text.split("\n\n"):
        kind, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((kind, json.loads("\n".join(data))))
    return events


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `check` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def stream(url: str, **body: Any) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
    """POST /api/stream; the status and the events."""
    res = httpx.post(f"{url}/api/stream", json=body, timeout=30)
    return res.status_code, parse_events(res.text) if res.status_code == 200 else []


def joined(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Each column's text as the page shows it: the start prefix, then every piece."""
    start = events[0][1]
    texts = [start["prefix"]] * start["num_samples"]
    for kind, data in events:
        if kind == "tokens":
            texts = [t + p for t, p in zip(texts, data["tokens"], strict=True)]
    return texts


def health(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/api/health").json()


class Gate:
    """Wraps `LoadedLM.stream` so a test decides when (and how slowly) each step happens."""

    def __init__(self, delay: float = 0.0, is_open: bool = True) -> None:
        self.delay = delay
        self.open = threading.Event()
        if is_open:
            self.open.set()
        self.steps = 0
        self.closed = 0

    def wrap(self, real: Callable[..., Iterator[list[str]]]) -> Callable[..., Iterator[list[str]]]:
        def gated(*args: Any, **kwargs: Any) -> Iterator[list[str]]:
            inner = real(*args, **kwargs)  # checks the options now, as the real one does

            def steps() -> Iterator[list[str]]:
                try:
                    for tokens in inner:
                        assert self.open.wait(20), "the test never opened the gate"
                        time.sleep(self.delay)
                        self.steps += 1
                        yield tokens
                finally:
                    self.closed += 1

            return steps()

        return gated


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Gate]:
    def install(delay: float = 0.0, is_open: bool = True) -> Gate:
        g = Gate(delay, is_open)
        monkeypatch.setattr(rnnkit.LoadedLM, "stream", g.wrap(rnnkit.LoadedLM.stream))
        return g

    return install


# --------------------------------------------------------------------------- content


@pytest.mark.parametrize(
    "options",
    [
        {"temperature": 0.8, "top_k": 5, "top_p": 0.9, "num_samples": 3, "seed": 7},
        {"temperature": 0.0, "num_samples": 1, "seed": 0},
        {"temperature": 1.3, "num_samples": 2, "seed": 2**53 - 1},
    ],
)
def test_stream_equals_generate(en_url: str, en_run: Path, options: dict[str, Any]) -> None:
    prefix = "The  Time-Traveller "  # normalised (d2l) to "the time traveller "
    status, events = stream(en_url, prefix=prefix, length=40, **options)
    assert status == 200
    kinds = [k for k, _ in events]
    assert kinds == ["start"] + ["tokens"] * 40 + ["done"]
    assert [d["step"] for k, d in events if k == "tokens"] == list(range(40))
    start = events[0][1]
    assert start["prefix"] == "the time traveller " and start["seed"] == options["seed"]
    assert start["length"] == 40 and start["num_samples"] == options["num_samples"]
    assert events[-1][1]["steps"] == 40
    lm = rnnkit.load(en_run)
    gen_options = {k: v for k, v in options.items() if k != "seed"}
    expected = rnnkit.generate(lm, prefix, 40, seed=options["seed"], **gen_options)
    assert joined(events) == expected
    res = httpx.post(f"{en_url}/api/generate", json={"prefix": prefix, "length": 40, **options})
    assert res.status_code == 200 and res.json()["texts"] == expected


@pytest.mark.parametrize("prefix", ["The time", "The time ", ""])
def test_word_level_pieces_join_like_generate(word_url: str, word_run: Path, prefix: str) -> None:
    status, events = stream(word_url, prefix=prefix, length=12, num_samples=2, seed=4)
    assert status == 200
    expected = rnnkit.generate(rnnkit.load(word_run), prefix, 12, num_samples=2, seed=4)
    assert joined(events) == expected
    words = rnnkit.load(word_run).tokenizer  # punctuation and line breaks are tokens too
    added = [t[len(prefix) :].replace("<unk>", "unk") for t in expected]
    assert all(len(words.tokenize(text)) == 12 for text in added)
    body = {"prefix": prefix, "length": 12, "num_samples": 2, "seed": 4}
    assert httpx.post(f"{word_url}/api/generate", json=body).json()["texts"] == expected


def test_one_shot_beam_search_equals_generate(en_url: str, en_run: Path) -> None:
    body = {"prefix": "the ", "length": 12, "beam": 4, "num_samples": 2}
    res = httpx.post(f"{en_url}/api/generate", json=body)
    assert res.status_code == 200
    lm = rnnkit.load(en_run)
    assert res.json()["texts"] == rnnkit.generate(lm, "the ", 12, beam=4, num_samples=2)
    assert res.json()["seed"] is None


def test_without_a_seed_the_reported_seed_replays(en_url: str) -> None:
    status, first = stream(en_url, prefix="the ", length=30, num_samples=2)
    assert status == 200
    seed = first[0][1]["seed"]
    assert isinstance(seed, int) and 0 <= seed < 2**53
    _, again = stream(en_url, prefix="the ", length=30, num_samples=2, seed=seed)
    assert joined(again) == joined(first)
    _, other = stream(en_url, prefix="the ", length=30, num_samples=2)
    assert other[0][1]["seed"] != seed


def test_empty_prefix_starts_from_unigrams(en_url: str, en_run: Path) -> None:
    status, events = stream(en_url, prefix="", length=20, seed=5)
    assert status == 200
    assert joined(events) == rnnkit.generate(rnnkit.load(en_run), "", 20, seed=5)


def test_concurrent_requests_each_keep_their_seed(en_url: str, en_run: Path) -> None:
    def one(seed: int) -> list[str]:
        body = {"prefix": "his ", "length": 60, "num_samples": 2, "seed": seed}
        return httpx.post(f"{en_url}/api/generate", json=body, timeout=30).json()["texts"]

    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(one, range(6)))
    lm = rnnkit.load(en_run)
    assert got == [rnnkit.generate(lm, "his ", 60, num_samples=2, seed=s) for s in range(6)]


def test_chinese_prefix_streams_utf8(zh_url: str, zh_run: Path) -> None:
    prefix = "我们在\n山上"  # the line break is read as a space, as in training
    res = httpx.post(
        f"{zh_url}/api/stream", json={"prefix": prefix, "length": 30, "num_samples": 2, "seed": 3}
    )
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/event-stream")
    assert "我们" in res.content.decode("utf-8")  # raw UTF-8, not \u escapes
    events = parse_events(res.text)
    assert events[0][1]["prefix"] == "我们在 山上"
    texts = joined(events)
    assert texts == rnnkit.generate(rnnkit.load(zh_run), prefix, 30, num_samples=2, seed=3)
    assert all(re.search("[\u4e00-\u9fff]", t[len("我们在 山上") :]) for t in texts)


@pytest.mark.filterwarnings("ignore:prefix tokens not in the vocabulary")
def test_unknown_prefix_tokens_are_reported(zh_url: str) -> None:
    status, events = stream(zh_url, prefix="我们龘", length=5, seed=1)
    assert status == 200 and events[0][1]["unknown"] == ["龘"]


# --------------------------------------------------------------------------- validation


SEED_RANGE = "[0, 9007199254740991]"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"length": 0}, "length must be an integer in [1, 2000], got 0"),
        ({"length": 10**6}, "length must be an integer in [1, 2000], got 1000000"),
        ({"length": "50"}, "length must be an integer in [1, 2000], got '50'"),
        ({"length": 5.5}, "length must be an integer in [1, 2000], got 5.5"),
        ({"temperature": -0.1}, "temperature must be a number in [0, 10], got -0.1 (0 = greedy)"),
        ({"temperature": 11}, "temperature must be a number in [0, 10], got 11 (0 = greedy)"),
        ({"top_k": -1}, "top_k must be an integer in [0, 100000], got -1 (0 keeps every token)"),
        ({"top_p": 0}, "top_p must be a number in (0, 1], got 0 (1 keeps every token)"),
        ({"top_p": 1.5}, "top_p must be a number in (0, 1], got 1.5 (1 keeps every token)"),
        ({"num_samples": 0}, "num_samples must be an integer in [1, 8], got 0"),
        ({"num_samples": 9}, "num_samples must be an integer in [1, 8], got 9"),
        ({"seed": -1}, f"seed must be an integer in {SEED_RANGE} or None, got -1"),
        ({"seed": True}, f"seed must be an integer in {SEED_RANGE} or None, got True"),
        ({"seed": 2**53}, f"seed must be an integer in {SEED_RANGE} or None, got {2**53}"),
        (
            {"prefix": "x" * 2001},
            "prefix must be a string of at most 2000 characters, got 2001 characters",
        ),
        ({"prefix": 12}, "prefix must be a string of at most 2000 characters, got 12"),
    ],
)
@pytest.mark.parametrize("endpoint", ["stream", "generate"])
def test_bad_options_are_clear_422s(
    en_url: str, endpoint: str, body: dict[str, Any], message: str
) -> None:
    res = httpx.post(f"{en_url}/api/{endpoint}", json={"prefix": "the ", **body})
    assert res.status_code == 422
    assert res.json()["error"] == message
    field = next(iter(body))
    assert res.json()["detail"] == [{"loc": ["body", field], "msg": message, "type": "value_error"}]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"checkpoint": "/etc/passwd"}, "checkpoint", "the fields are prefix, length"),
        ({"path": "../../secret.pt"}, "path", "Extra inputs are not permitted"),
    ],
)
@pytest.mark.parametrize("endpoint", ["stream", "generate"])
def test_unknown_fields_are_clear_422s(
    en_url: str, endpoint: str, body: dict[str, Any], field: str, words: str
) -> None:
    res = httpx.post(f"{en_url}/api/{endpoint}", json={"prefix": "the ", **body})
    assert res.status_code == 422
    error = res.json()["error"]
    assert error.startswith(f"{field}: ") and words in error
    assert "\n" not in error
    assert res.json()["detail"][0]["loc"] == ["body", field]


def test_beam_rules_and_malformed_bodies(en_url: str) -> None:
    res = httpx.post(f"{en_url}/api/generate", json={"beam": 2, "num_samples": 3})
    assert res.status_code == 422
    assert res.json()["error"] == (
        "num_samples must be an integer in [1, 2] when beam is 2, got 3 (at most one per beam)"
    )
    res = httpx.post(f"{en_url}/api/stream", json={"beam": 2})
    assert res.status_code == 422 and res.json()["error"].startswith("beam: Extra inputs")
    res = httpx.post(f"{en_url}/api/stream", json={"beam": 2, "num_samples": 3})
    assert res.status_code == 422 and res.json()["error"].startswith("beam: Extra inputs")
    res = httpx.post(f"{en_url}/api/generate", json={"beam": 17})
    assert res.status_code == 422
    assert res.json()["error"] == (
        "beam must be an integer in [0, 16], got 17 (0 samples instead of beam search)"
    )
    bad_json = httpx.post(
        f"{en_url}/api/stream", content=b'{"length": ', headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 422 and "JSON" in bad_json.json()["error"]
    not_object = httpx.post(f"{en_url}/api/stream", json=[1, 2])
    assert not_object.status_code == 422
    nan = httpx.post(
        f"{en_url}/api/stream",
        content=b'{"temperature": NaN}',
        headers={"content-type": "application/json"},
    )
    assert nan.status_code == 422
    assert nan.json()["error"] == "temperature must be a number in [0, 10], got nan (0 = greedy)"


MESSAGE = re.compile(
    r"(?P<name>[-\w]+) must be (?P<what>an integer|a number) in (?P<range>.+?)"
    r"(?: when (?:--)?beam is \d+)?, got (?P<got>\S+)(?: \((?P<hint>.+)\))?"
)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("length", 0),
        ("length", 200_000),
        ("temperature", -0.5),
        ("top_k", -1),
        ("top_p", 1.5),
        ("num_samples", -3),
        ("num_samples", 2000),
        ("beam", -1),
        ("beam", 3),  # with num_samples 4: at most one sample per beam
    ],
)
def test_a_bad_option_reads_the_same_everywhere(
    en_url: str, en_run: Path, capsys: pytest.CaptureFixture[str], field: str, value: Any
) -> None:
    """Python, `rnnkit generate` and the playground: one check, one message format; only the
    spelling of the name and the range (the playground's is tighter) differ."""
    bad = {field: value, "num_samples": 4} if field == "beam" and value > 0 else {field: value}
    with pytest.raises(ConfigError) as python:
        rnnkit.generate(rnnkit.load(en_run), "the ", **{"length": 5, **bad})
    flags = [f"--{name.replace('_', '-')}={v}" for name, v in bad.items()]
    assert main(["generate", "--checkpoint", str(en_run), "--length", "5", *flags]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("rnnkit: error: ") and err.count("\n") == 1
    cli = err.removeprefix("rnnkit: error: ").rstrip("\n")
    for endpoint in ("generate",) if "beam" in bad else ("generate", "stream"):
        res = httpx.post(f"{en_url}/api/{endpoint}", json={"prefix": "the ", "length": 5, **bad})
        assert res.status_code == 422
        web = res.json()["error"]
        bad_field = "num_samples" if len(bad) > 1 else field
        assert res.json()["detail"][0]["loc"] == ["body", bad_field]
        expected = [
            (str(python.value), check(bad, LIMITS)),
            (cli, check(bad, LIMITS, lambda name: "--" + name.replace("_", "-"))),
            (web, check(bad, PLAYGROUND_LIMITS)),
        ]
        parts = []
        for got, want in expected:
            assert got == want
            match = MESSAGE.fullmatch(got)
            assert match, got
            parts.append(match.groupdict())
        assert parts[0]["name"] == parts[2]["name"] == bad_field
        assert parts[1]["name"] == "--" + bad_field.replace("_", "-")
        assert len({(p["what"], p["got"], p["hint"]) for p in parts}) == 1
        assert parts[0]["range"] == parts[1]["range"]  # the playground's may be tighter


def check(values: dict[str, Any], limits: Any, spell: Callable[[str], str] = str) -> str:
    """The message `check_sampling` gives for `values`."""
    with pytest.raises(SamplingOptionError) as info:
        check_sampling(values, limits, spell)
    return str(info.value)


def test_body_size_limit(en_url: str) -> None:
    big = {"prefix": "a" * 40_000}
    res = httpx.post(f"{en_url}/api/stream", json=big)
    assert res.status_code == 413 and "limited to 32768 bytes" in res.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts as it reads
        yield b'{"prefix": "'
        for _ in range(40):
            yield b"a" * 1000
        yield b'"}'

    res = httpx.post(
        f"{en_url}/api/generate", content=chunks(), headers={"content-type": "application/json"}
    )
    assert res.status_code == 413


def test_unknown_host_header_is_refused(en_url: str) -> None:
    # A DNS-rebinding page reaches 127.0.0.1 under its own name; the Host header gives it away.
    res = httpx.get(f"{en_url}/api/model", headers={"Host": "attacker.example:8000"})
    assert res.status_code == 400 and "unknown Host" in res.json()["error"]
    port = en_url.rsplit(":", 1)[1]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert httpx.get(f"{en_url}/api/health", headers={"Host": host}).status_code == 200


# --------------------------------------------------------------------------- card, page, schema


def test_model_card(en_url: str, en_run: Path) -> None:
    card = httpx.get(f"{en_url}/api/model").json()
    lm = rnnkit.load(en_run)
    facts = rnnkit.info(en_run)
    assert card["vocab_size"] == len(lm.vocab) == facts["vocab_size"]
    assert card["parameters"] == facts["parameters"]
    assert card["corpus"]["sha1"] == facts["corpus_sha1"]
    assert card["level"] == "char" and card["normalize"] == "d2l"
    assert card["architecture"]["kind"] == "gru" and card["architecture"]["hidden_size"] == 24
    assert card["summary"].startswith("GRU, 1 layer × 24 hidden")
    assert card["best"]["val_ppl"] == pytest.approx(facts["best_val_ppl"])
    rows = [json.loads(line) for line in (en_run / "metrics.jsonl").read_text().splitlines()]
    assert [c["epoch"] for c in card["curves"]] == [r["epoch"] for r in rows] == [1, 2]
    assert [c["val_ppl"] for c in card["curves"]] == pytest.approx([r["val_ppl"] for r in rows])
    assert card["defaults"]["prefix"] == "the time "
    assert card["limits"]["length"] == 2000 and card["limits"]["num_samples"] == 8


def test_page_and_assets_are_served_locally(en_url: str) -> None:
    page = httpx.get(f"{en_url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        res = httpx.get(f"{en_url}/{name}")
        assert res.status_code == 200 and res.headers["content-type"].startswith(kind)
        assert f'"/{name}"' in page.text
    everything = (
        page.text + httpx.get(f"{en_url}/app.js").text + httpx.get(f"{en_url}/app.css").text
    )
    urls = set(re.findall(r"https?://[^\s\"'`)]+", everything))
    assert urls <= {"http://www.w3.org/2000/svg"}  # an XML namespace, never fetched
    assert "@import" not in everything and "@font-face" not in everything
    for path in ("/docs", "/redoc", "/static/../serve.py", "/app.js/../../serve.py"):
        assert httpx.get(f"{en_url}{path}").status_code == 404


def test_openapi_schema(en_url: str) -> None:
    schema = httpx.get(f"{en_url}/openapi.json").json()
    paths = schema["paths"]
    assert {"/api/stream", "/api/generate", "/api/model", "/api/health"} <= set(paths)
    assert "text/event-stream" in paths["/api/stream"]["post"]["responses"]["200"]["content"]
    assert "429" in paths["/api/generate"]["post"]["responses"]
    fields = schema["components"]["schemas"]["GenerateRequest"]["properties"]
    assert fields["length"]["maximum"] == 2000 and fields["num_samples"]["maximum"] == 8
    assert not any("path" in name or "file" in name for name in fields)


# --------------------------------------------------------------------------- workers and queue


def test_queue_full_gives_429_and_only_then(
    en_run: Path, start_server: Callable[[Any], str], gate: Callable[..., Gate]
) -> None:
    g = gate(is_open=False)
    url = start_server(create_app(en_run, workers=1, queue_size=1))
    body = {"prefix": "the ", "length": 5, "seed": 1}
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", f"{url}/api/stream", json=body) as first,
    ):
        assert first.status_code == 200
        assert wait_for(lambda: health(url)["running"] == 1)
        with (
            httpx.Client(timeout=30) as other,
            other.stream("POST", f"{url}/api/stream", json=body) as second,
        ):
            assert second.status_code == 200
            assert wait_for(lambda: health(url)["waiting"] == 1)
            for endpoint in ("stream", "generate"):
                busy = httpx.post(f"{url}/api/{endpoint}", json=body)
                assert busy.status_code == 429
                assert busy.headers["retry-after"] == "1"
                assert "busy" in busy.json()["error"]
            g.open.set()
            assert [k for k, _ in parse_events(second.read().decode())][-1] == "done"
        assert [k for k, _ in parse_events(first.read().decode())][-1] == "done"
    assert wait_for(lambda: health(url)["running"] == health(url)["waiting"] == 0)
    assert httpx.post(f"{url}/api/generate", json=body).status_code == 200


def test_default_queue_holds_128(en_run: Path) -> None:
    app = create_app(en_run)
    pool = app.state.pool
    assert pool.workers >= 1 and pool.queue_size == 128
    with pytest.raises(RnnkitError, match="workers >= 1"):
        create_app(en_run, workers=0)


def test_long_generation_does_not_block_the_loop(
    en_run: Path, start_server: Callable[[Any], str], gate: Callable[..., Gate]
) -> None:
    gate(delay=0.01)
    url = start_server(create_app(en_run, workers=2))
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", f"{url}/api/stream", json={"length": 2000}) as slow,
    ):
        assert slow.status_code == 200
        t = time.perf_counter()
        assert httpx.get(f"{url}/api/model").status_code == 200
        quick = httpx.post(f"{url}/api/generate", json={"length": 3, "seed": 1}, timeout=30)
        assert quick.status_code == 200
        assert time.perf_counter() - t < 5  # the slow one still has ~15 s to go


# --------------------------------------------------------------------------- disconnects


def test_closing_the_stream_stops_generation(
    en_run: Path, start_server: Callable[[Any], str], gate: Callable[..., Gate]
) -> None:
    g = gate(delay=0.005)
    url = start_server(create_app(en_run))
    seen = 0
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", f"{url}/api/stream", json={"length": 2000}) as res,
    ):
        for chunk in res.iter_text():
            seen += chunk.count("event: tokens")
            if seen >= 5:
                break
    assert wait_for(lambda: health(url)["running"] == 0, timeout=5)
    assert wait_for(lambda: g.closed == 1, timeout=5)
    stopped_at = g.steps
    time.sleep(0.2)
    assert g.steps == stopped_at < 2000


def test_leaving_a_one_shot_request_stops_generation(
    en_run: Path, start_server: Callable[[Any], str], gate: Callable[..., Gate]
) -> None:
    g = gate(delay=0.005)
    url = start_server(create_app(en_run))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}/api/generate", json={"length": 2000}, timeout=0.5)
    assert wait_for(lambda: health(url)["running"] == 0, timeout=5)
    assert wait_for(lambda: g.closed == 1, timeout=5)
    assert g.steps < 2000


def test_a_request_that_leaves_while_waiting_never_runs(
    en_run: Path, start_server: Callable[[Any], str], gate: Callable[..., Gate]
) -> None:
    g = gate(is_open=False)
    url = start_server(create_app(en_run, workers=1, queue_size=4))
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", f"{url}/api/stream", json={"length": 3}) as first,
    ):
        assert wait_for(lambda: health(url)["running"] == 1)
        with (
            httpx.Client(timeout=30) as other,
            other.stream("POST", f"{url}/api/stream", json={"length": 3}) as second,
        ):
            assert second.status_code == 200
            assert wait_for(lambda: health(url)["waiting"] == 1)
        assert wait_for(lambda: health(url)["waiting"] == 0, timeout=5)
        g.open.set()
        first.read()
    assert g.steps == 3  # only the first request generated


# --------------------------------------------------------------------------- rnnkit serve


def test_host_warning() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert host_warning(host) is None
    for host in ("0.0.0.0", "192.168.1.10", "::", "example.com"):
        warning = host_warning(host)
        assert warning is not None and host in warning and "--host 127.0.0.1" in warning


def test_run_refuses_a_busy_port(en_run: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(RnnkitError, match=f"cannot listen on 127.0.0.1:{port}.*another port"):
            run(en_run, port=port, echo=lambda _: None, threads=0)
    with pytest.raises(RnnkitError, match="port 70000 is out of range"):
        run(en_run, port=70000, echo=lambda _: None, threads=0)


def test_cli_without_the_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a)
    )
    assert main(["serve", "--checkpoint", "nowhere"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "rnnkit: error: rnnkit serve needs uvicorn; install them with pip install 'rnnkit[serve]'"
    )


def test_cli_serve_prints_its_address_and_serves(en_run: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "rnnkit", "serve", "--checkpoint", str(en_run), "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"open (http://127\.0\.0\.1:\d+)/", line)
        assert match, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        url = match.group(1)
        assert wait_for(lambda: _up(url), timeout=20)
        res = httpx.post(f"{url}/api/generate", json={"prefix": "the ", "length": 5, "seed": 0})
        assert res.json()["texts"] == rnnkit.generate(rnnkit.load(en_run), "the ", 5, seed=0)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, 130, -signal.SIGINT)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
