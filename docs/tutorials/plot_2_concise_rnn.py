"""
2. The concise RNN language model (8.6)
=======================================

The book's section 8.6 trains a one-hot RNN of 256 units on the first 10,000 characters of
H. G. Wells' *The Time Machine* (lower-cased letters and spaces, 28 tokens) with SGD at
learning rate 1 and gradient clipping at 1, and reports the *training* perplexity. The
``d2l-rnn`` preset is that experiment; rnnkit also scores the text that *follows* the
10,000 training characters, which the model never saw.

Budget: the preset runs 500 epochs (38 s on one thread); here 100 epochs and 5 evaluations,
about 25 s at two threads.
"""

import json
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import rnnkit

cfg = rnnkit.load_preset("d2l-rnn")
cfg.train.epochs = 100  # the book's 500 take about four times as long
cfg.train.eval_every = 20
cfg.train.threads = 2
print(
    cfg.data.source,
    cfg.data.max_tokens,
    "tokens;",
    cfg.model.kind,
    cfg.model.hidden_size,
    cfg.model.input_mode,
    "; SGD lr",
    cfg.train.lr,
    "clip",
    cfg.train.clip,
)

# %%
# Train
# -----
# ``rnnkit.train_lm`` writes a run folder (``config.json``, ``metrics.jsonl``, ``best.pt``,
# ``last.pt``, ``curves.png``, ``samples.txt``) and returns the history of its evaluations.

run_dir = Path(tempfile.mkdtemp(prefix="rnnkit-8.6-"))
result = rnnkit.train_lm(cfg, out=run_dir, quiet=True, echo=lambda line: None)
last = result.history[-1]
print(f"stopped by {result.stopped_by} after {last['epoch']} epochs, {last['elapsed_s']:.1f} s")

# %%
# Held-out perplexity beside the training figure
# ----------------------------------------------
# The training perplexity is the book's number. The validation part is the text after the
# first 10,000 characters; ``rnnkit.evaluate`` scores the best checkpoint on it.

lm = rnnkit.load(run_dir)  # best.pt: the lowest validation loss
held_out = rnnkit.evaluate(lm, split="val")
print(f"training perplexity (last epoch): {last['train_ppl']:.2f}")
print(f"held-out perplexity (best checkpoint): {held_out['ppl']:.2f}")

epochs = [row["epoch"] for row in result.history]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(epochs, [row["train_ppl"] for row in result.history], "o-", label="training")
ax.plot(epochs, [row["val_ppl"] for row in result.history], "s-", label="held out")
ax.set(xlabel="epoch", ylabel="perplexity", yscale="log", title="d2l-rnn, 100 epochs")
ax.legend()
fig.tight_layout()

# %%
# The training perplexity keeps falling towards 1: the model memorises 10,000 characters.
# The held-out perplexity reaches its best early and then rises: from there on the model
# overfits, which the book's figure cannot show.
#
# Greedy and sampled continuations
# --------------------------------
# Greedy decoding (``temperature=0``) is the book's ``predict_ch8``; a temperature below 1
# samples from a sharpened distribution (``seed`` makes it repeatable).

print(rnnkit.generate(lm, "time traveller", 50, temperature=0)[0])
for text in rnnkit.generate(lm, "time traveller", 50, temperature=0.8, num_samples=3, seed=0):
    print(text)

# %%
# The same run from the command line is
# ``rnnkit train --preset d2l-rnn --set train.epochs=100`` and then
# ``rnnkit generate --checkpoint RUN --prefix "time traveller" --greedy``.
# The held-out perplexity is also written for the documentation's own test:

results = Path(os.environ.get("RNNKIT_DOCS_RESULTS", tempfile.gettempdir()))
results.mkdir(parents=True, exist_ok=True)
(results / "concise_rnn.json").write_text(
    json.dumps({"perplexity": round(held_out["ppl"], 2), "epochs": last["epoch"]})
)
