"""
3. Deep recurrent networks (9.3)
================================

Section 9.3 stacks recurrent layers: layer *l* reads, at every step, the hidden state that
layer *l - 1* produced at that step. This tutorial shows what passes between the layers,
then trains one and two LSTM layers side by side on the ``d2l-deep-lstm`` setting (one-hot
input, 256 units, SGD at learning rate 2, clipping at 1, the first 10,000 characters of
*The Time Machine*).

Budget: the preset runs 500 epochs (276 s on one thread); here 20 epochs per model, about
25 s for both at two threads.
"""

import tempfile

import matplotlib.pyplot as plt
import torch
from torch import nn

import rnnkit

torch.manual_seed(0)
torch.set_num_threads(2)

# %%
# What each layer passes to the next
# ----------------------------------
# A two-layer ``nn.LSTM`` is two one-layer LSTMs in a row: the second reads the first one's
# *output sequence* (its ``h`` at every step), not its final state. Copy the weights of
# each layer into its own one-layer LSTM and the chain gives the same numbers.

deep = nn.LSTM(10, 20, num_layers=2)
first, second = nn.LSTM(10, 20), nn.LSTM(20, 20)
weights = deep.state_dict()
first.load_state_dict({k.replace("_l0", "_l0"): v for k, v in weights.items() if k.endswith("l0")})
second.load_state_dict({k.replace("_l1", "_l0"): v for k, v in weights.items() if k.endswith("l1")})

x = torch.randn(5, 3, 10)  # (steps, batch, features)
out_deep, (h_deep, c_deep) = deep(x)
between, (h1, c1) = first(x)  # (5, 3, 20): layer 1's h at every step
out_chain, (h2, c2) = second(between)
print("layer 1 hands on", tuple(between.shape), "; the stack's output", tuple(out_deep.shape))
print("chain == stack:", torch.allclose(out_chain, out_deep, atol=1e-6))
print(
    "h_n of the stack is [layer 1's h, layer 2's h]:",
    torch.allclose(h_deep, torch.cat([h1, h2]), atol=1e-6),
)

# %%
# Each layer keeps its own state (``h_n`` and ``c_n`` hold one row per layer); only the
# hidden states travel upwards, the memory cells stay inside their layer.
#
# One layer against two
# ---------------------
# The same preset with ``model.num_layers`` set to 1 and to 2; everything else as the book.


def run(num_layers: int) -> list[dict]:
    cfg = rnnkit.load_preset("d2l-deep-lstm")
    cfg.model.num_layers = num_layers
    cfg.train.epochs = 20
    cfg.train.eval_every = 5
    cfg.train.threads = 2
    result = rnnkit.train_lm(cfg, out=tempfile.mkdtemp(), quiet=True, echo=lambda line: None)
    return result.history


histories = {layers: run(layers) for layers in (1, 2)}
for layers, history in histories.items():
    last = history[-1]
    best = min(row["val_ppl"] for row in history)
    print(
        f"{layers} layer(s): train ppl {last['train_ppl']:.2f}, held-out ppl {last['val_ppl']:.2f}"
        f" (best {best:.2f}), {last['elapsed_s']:.1f} s"
    )

fig, ax = plt.subplots(figsize=(6, 3.5))
for layers, history in histories.items():
    epochs = [row["epoch"] for row in history]
    ax.plot(
        epochs, [row["train_ppl"] for row in history], "o-", label=f"{layers} layer(s), training"
    )
    ax.plot(
        epochs, [row["val_ppl"] for row in history], "s--", label=f"{layers} layer(s), held out"
    )
ax.set(xlabel="epoch", ylabel="perplexity", yscale="log", title="LSTM 256, 20 epochs")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# The second layer doubles the cost of a step. Over the book's 500 epochs both reach a
# training perplexity near 1 (1.025 for two layers, see the :doc:`benchmarks page
# </guide/benchmarks>`); on the held-out text both overfit long before that.
