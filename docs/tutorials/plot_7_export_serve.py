"""
7. Export and serve: generating without torch, and the playground
=================================================================

A trained language model can leave PyTorch behind. ``rnnkit export`` writes one decoding
step as an ONNX graph; ``rnnkit.runtime.onnx_lm``, numpy and onnxruntime alone, generates
from it. ``rnnkit serve`` puts either in a browser page.

Budget: a 5-second training run, the export and a few generations, about 15 s.
"""

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import rnnkit
from rnnkit.cli import main as rnnkit_cli

# %%
# A small model to export
# -----------------------
# The ``d2l-rnn`` preset for 20 epochs (the model of tutorial 2).

cfg = rnnkit.load_preset("d2l-rnn")
cfg.train.epochs = 20
cfg.train.eval_every = 20
cfg.train.threads = 2
work = Path(tempfile.mkdtemp(prefix="rnnkit-export-"))
rnnkit.train_lm(cfg, out=work / "run", quiet=True, echo=lambda line: None)

# %%
# Export
# ------
# ``rnnkit export RUN --out DIR`` (the ``export`` extra) writes ``model.onnx``, ``vocab.json``
# and ``model.json``.

status = rnnkit_cli(["export", str(work / "run"), "--format", "onnx", "--out", str(work / "onnx")])
for file in sorted((work / "onnx").iterdir()):
    print(f"{file.name:12s} {file.stat().st_size:>9,} bytes")
meta = json.loads((work / "onnx" / "model.json").read_text())
print("inputs", meta["inputs"], "outputs", meta["outputs"])

# %%
# Generate without torch
# ----------------------
# A fresh Python process in which ``import torch`` fails loads the export and decodes
# greedily with numpy and onnxruntime; the text equals the torch path's.

script = f"""
import sys
sys.modules["torch"] = None  # any import of torch now raises ImportError
from rnnkit.runtime.onnx_lm import load_onnx, generate
lm = load_onnx({str(work / "onnx")!r}, threads=1)
print(generate(lm, "time traveller", 50, temperature=0)[0])
"""
no_torch = subprocess.run(
    [sys.executable, "-c", script], capture_output=True, text=True, check=True
).stdout.strip()
with_torch = rnnkit.generate(rnnkit.load(work / "run"), "time traveller", 50, temperature=0)[0]
print("onnxruntime:", no_torch)
print("torch:      ", with_torch)
print("identical:", no_torch == with_torch)

# %%
# The playground
# --------------
# ``rnnkit serve --checkpoint DIR`` serves one page (no CDN, works offline) and a small HTTP
# API, on 127.0.0.1 only unless told otherwise. Here it runs on the export (so on
# onnxruntime), on a free port, and is asked for its model card and two samples.

with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
server = subprocess.Popen(
    [
        sys.executable,
        "-m",
        "rnnkit",
        "serve",
        "--checkpoint",
        str(work / "onnx"),
        "--port",
        str(port),
        "--threads",
        "1",
    ],
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
base = f"http://127.0.0.1:{port}"


def ask(path: str, body: dict | None = None) -> dict:
    """GET (or POST `body` as JSON to) the playground; the reply's JSON."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read())


try:
    for _ in range(100):  # wait for the server to answer, at most 20 s
        try:
            ask("/api/health")
            break
        except OSError:
            time.sleep(0.2)
    card = ask("/api/model")
    print("model card:", card["summary"], f"{card['parameters']:,} parameters")
    body = {"prefix": "the time ", "length": 40, "temperature": 0.8, "num_samples": 2, "seed": 0}
    for text in ask("/api/generate", body)["texts"]:
        print(text)
finally:
    server.terminate()
    server.wait(timeout=30)

# %%
# In a terminal, ``rnnkit serve --checkpoint runs/demo`` prints the address to open; the
# page streams the text token by token beside the model card and the training curves. The
# :doc:`deployment guide </guide/deployment>` has the limits, the routes and the speed.
