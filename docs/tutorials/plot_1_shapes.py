"""
1. The recurrent layer's shapes
===============================

Before training anything, what goes in and out of a recurrent layer. PyTorch's recurrent
layers are *time-major* by default: an input is ``(steps, batch, features)`` and a state is
``(layers, batch, hidden)``. This tutorial checks each shape, steps a cell by hand, and ends
with rnnkit's scratch cells (written from the equations) matching ``torch.nn`` to 1e-6.
Budget: a second.
"""

import torch
from torch import nn

import rnnkit.nn

torch.manual_seed(0)
torch.set_num_threads(2)

# %%
# ``nn.RNN`` on a sequence
# ------------------------
# Two stacked layers of 20 units read 10 features per step. The input holds 5 steps of a
# batch of 3; the initial state one ``(batch, hidden)`` matrix per layer.

rnn = nn.RNN(10, 20, 2)
x = torch.randn(5, 3, 10)  # (steps, batch, features)
h0 = torch.randn(2, 3, 20)  # (layers, batch, hidden)
output, hn = rnn(x, h0)
print("output", tuple(output.shape), "h_n", tuple(hn.shape))

# %%
# ``output`` is the *last layer's* state at every step; ``h_n`` is *every layer's* state at
# the last step. They meet in one place: the last step of the last layer.

print("output[-1] == h_n[-1]:", torch.allclose(output[-1], hn[-1]))

# %%
# ``nn.LSTM`` carries a pair
# --------------------------
# An LSTM's state is two tensors of the same shape, the hidden state ``h`` and the memory
# cell ``c``; both go in and come out as a tuple.

lstm = nn.LSTM(10, 20, 2)
c0 = torch.randn(2, 3, 20)
output, (hn, cn) = lstm(x, (h0, c0))
print("output", tuple(output.shape), "h_n", tuple(hn.shape), "c_n", tuple(cn.shape))

# %%
# A cell stepped in a loop is the layer
# -------------------------------------
# ``nn.RNNCell`` / ``nn.LSTMCell`` compute one step of one layer. Given the layer's weights,
# a Python loop over the 5 steps reproduces a one-layer ``nn.RNN`` / ``nn.LSTM`` exactly.

layer = nn.RNN(10, 20)
cell = nn.RNNCell(10, 20)
cell.load_state_dict({name[:-3]: value for name, value in layer.state_dict().items()})
h = h0[0]
for step in x:  # step: (batch, features)
    h = cell(step, h)
out, h_layer = layer(x, h0[:1])
print("RNNCell loop == nn.RNN:", torch.allclose(h, h_layer[0], atol=1e-6))

layer = nn.LSTM(10, 20)
cell = nn.LSTMCell(10, 20)
cell.load_state_dict({name[:-3]: value for name, value in layer.state_dict().items()})
h, c = h0[0], c0[0]
for step in x:
    h, c = cell(step, (h, c))
out, (h_layer, c_layer) = layer(x, (h0[:1], c0[:1]))
print("LSTMCell loop == nn.LSTM:", torch.allclose(h, h_layer[0], atol=1e-6))

# %%
# Tokens in: ``nn.Embedding`` feeding an LSTM
# -------------------------------------------
# A language model reads token ids, not features. An embedding turns each id into a vector,
# so ``(steps, batch)`` ids become ``(steps, batch, 16)`` features for the LSTM.

vocab_size = 28
tokens = torch.randint(0, vocab_size, (5, 3))  # (steps, batch) ids
embed = nn.Embedding(vocab_size, 16)
lm_core = nn.LSTM(16, 20)
output, (hn, cn) = lm_core(embed(tokens))
print("ids", tuple(tokens.shape), "->", tuple(embed(tokens).shape), "->", tuple(output.shape))

# %%
# rnnkit's scratch layers are the same layers
# -------------------------------------------
# ``rnnkit.nn.RNN`` / ``GRU`` / ``LSTM`` compute every gate in plain tensor operations, with
# ``torch.nn``'s constructor, parameter names, gate order and shapes, so a ``state_dict``
# moves between them unchanged. Loaded with ``torch.nn``'s weights they give its outputs.

for kind in ("RNN", "GRU", "LSTM"):
    reference = getattr(nn, kind)(10, 20, 2)
    scratch = getattr(rnnkit.nn, kind)(10, 20, 2)
    scratch.load_state_dict(reference.state_dict())
    state = (h0, c0) if kind == "LSTM" else h0
    ref_out, _ = reference(x, state)
    our_out, _ = scratch(x, state)
    diff = (ref_out - our_out).abs().max().item()
    print(f"{kind:4s} scratch vs torch.nn: max |difference| {diff:.1e}, within 1e-6: {diff < 1e-6}")

# %%
# The scratch cells too: one step of ``rnnkit.nn.LSTMCell`` with ``nn.LSTMCell``'s weights.

reference = nn.LSTMCell(10, 20)
scratch = rnnkit.nn.LSTMCell(10, 20)
scratch.load_state_dict(reference.state_dict())
ref_h, ref_c = reference(x[0], (h0[0], c0[0]))
our_h, our_c = scratch(x[0], (h0[0], c0[0]))
print("LSTMCell:", torch.allclose(ref_h, our_h, atol=1e-6), torch.allclose(ref_c, our_c, atol=1e-6))

# %%
# ``rnnkit verify`` runs the same comparison for every kind, 1 to 3 layers and both
# directions, outputs, states and gradients, in float64 (tolerance 1e-10); the first rows:

from rnnkit.nn.parity import verify  # noqa: E402

for row in verify(impls=("scratch",))[:6]:
    print(
        row.kind,
        row.num_layers,
        "bidirectional" if row.bidirectional else "one way",
        f"output {row.output:.1e}",
        "ok" if row.ok() else "FAILED",
    )
