"""Fused recurrent cores for training speed: `FusedRNN`, `FusedGRU`, `FusedLSTM` (`impl="fused"`).

Drop-in twins of `torch.nn.RNN/GRU/LSTM` (same constructor arguments, parameter names,
shapes, gate order and initialisation, so a `state_dict` moves between them unchanged) that
run each layer as one custom `torch.autograd.Function` with a hand-written
backpropagation through time:

- forward: the input projection of all steps is one product `(B*T, I) x (I, G*H)` or, for
  token ids, a row lookup in `W_ih^T` (a one-hot row times `W_ih^T` is a row of it); then
  a time loop does only the recurrent product per step, in place, into buffers allocated
  once per call, with no host synchronisation;
- backward: per step only the small product `dGates_{t+1} W_hh` and a few in-place
  element-wise updates; the local derivatives that do not depend on the incoming gradient
  are computed for all steps at once before the loop, and the weight gradients are one
  large product over all steps after it (`dGates^T (G*H, B*T) x (B*T, H)`), token ids
  scattering their rows with one `index_add_`.

Per-step work is what costs: a Python-level op costs a few microseconds, and on CPU
`torch.tanh` of a (32, 256) float tensor takes about 5x a `torch.sigmoid`. So the loops
use `tanh(a) = 2 sigmoid(2a) - 1` with the factor 2 folded into the weights (a power of
two, exact), and the Elman RNN carries `s = (h + 1) / 2` instead of h, which makes its step
two ops: `s_t = sigmoid(2 (x_t W_ih^T + b - W_hh 1) + s_{t-1} (4 W_hh)^T)`. Results equal
torch's to rounding (float64 ~1e-15; float32 ~1e-6, as far from float64 as torch's own).

The buffers follow the caller's layout, batch-first or time-major, so nothing is
transposed; a step is a (B, H) slice with a row stride, which BLAS takes as it is. The
reverse direction of a bidirectional core runs on the time-flipped sequence. A packed
(variable-length) batch runs the same layers on the padded batch, each sequence reversed on
its own steps for the reverse direction, and takes each final state at the sequence's last
step (an LSTM layer then returns the cells of every step, whose gradients its backward
adds). Dropout between layers draws its mask as torch does, so one seed gives the same mask.
`bias=False` and `proj_size` are refused. Works on any device (nothing in it is CPU-only;
on CUDA the `index_add_` of token-id gradients is not bitwise deterministic). Importing this
module registers it as `IMPLS["fused"]`, which `build_rnn(kind, impl="fused")` does on first use.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnnkit.nn.recurrent import IMPLS
from rnnkit.nn.stack import GRUKind, LayerState, LSTMKind, RNNKind, StackBase, last_steps
from rnnkit.nn.state import State, map_parts

# ---------------------------------------------------------------------------------------
# shared pieces: input projection, gradients of the input side and of W_hh
# ---------------------------------------------------------------------------------------


def _gate_scale(hidden_size: int, gates: tuple[float, ...], like: Tensor) -> Tensor:
    """A per-row scale of the stacked gate weights, e.g. (1, 1, 2, 1) for LSTM's i, f, g, o.

    Built with fills on the device (a tensor from a Python list would wait on a copy).

    Shape:
        Returns (G*H,).
    """
    scale = torch.ones(len(gates) * hidden_size, dtype=like.dtype, device=like.device)
    for j, factor in enumerate(gates):
        if factor != 1.0:
            scale[j * hidden_size : (j + 1) * hidden_size] = factor
    return scale  # (G*H,)


def _project(x: Tensor, ids: bool, w_ih: Tensor, bias: Tensor, scale: Tensor) -> Tensor:
    """The scaled input projection of every step at once: `(x W_ih^T) * scale + bias`.

    `bias` comes already scaled. For token ids the projection is a row lookup in the table
    `W_ih^T * scale + bias`: a one-hot row times `W_ih^T` is a row of it.

    Shape:
        x: (N1, N2, I) floats or (N1, N2) ids. w_ih: (G*H, I). bias, scale: (G*H,).
        Returns (N1, N2, G*H), contiguous.
    """
    gates = w_ih.shape[0]
    if ids:
        flat_ids = x.reshape(-1)  # (N,)
        if w_ih.shape[1] <= flat_ids.shape[0]:
            table = torch.empty(w_ih.shape[1], gates, dtype=w_ih.dtype, device=w_ih.device)
            torch.addcmul(bias, w_ih.t(), scale, out=table)  # (V, G*H)
            return F.embedding(x, table)  # (N1, N2, G*H)
        # Fewer tokens than vocabulary entries (sampling): gather columns, build no table.
        columns = w_ih.index_select(1, flat_ids)  # (G*H, N)
        out = torch.empty(flat_ids.shape[0], gates, dtype=w_ih.dtype, device=w_ih.device)
        torch.addcmul(bias, columns.t(), scale, out=out)  # (N, G*H)
        return out.view(*x.shape, gates)  # (N1, N2, G*H)
    w_scaled = w_ih * scale.unsqueeze(1)  # (G*H, I)
    flat = x.reshape(-1, x.shape[2])  # (N1*N2, I)
    return torch.addmm(bias, flat, w_scaled.t()).view(*x.shape[:2], gates)  # (N1, N2, G*H)


def _input_grads(
    x: Tensor, ids: bool, w_ih: Tensor, dgates: Tensor, need_x: bool, need_w: bool
) -> tuple[Tensor | None, Tensor | None]:
    """Gradients of the input and of `W_ih`, each one product over all steps.

    Shape:
        x: (N1, N2, I) floats or (N1, N2) ids. w_ih: (G*H, I). dgates: (N1, N2, G*H),
        contiguous. Returns dx (N1, N2, I) or None, and dW_ih (G*H, I) or None.
    """
    gates = dgates.shape[2]
    flat = dgates.view(-1, gates)  # (N, G*H)
    dx = dw_ih = None
    if ids:
        if need_w:
            # Each token id adds its rows of dgates into one row of dW_ih^T.
            dw_t = torch.zeros(w_ih.shape[1], gates, dtype=flat.dtype, device=flat.device)
            dw_ih = dw_t.index_add_(0, x.reshape(-1), flat).t()  # (G*H, V)
        return None, dw_ih
    if need_x:
        dx = torch.mm(flat, w_ih).view(*x.shape)  # (N1, N2, I)
    if need_w:
        dw_ih = torch.mm(flat.t(), x.reshape(-1, x.shape[2]))  # (G*H, I)
    return dx, dw_ih


def _hidden_weight_grad(dgates: Tensor, hs: Tensor, h0: Tensor | None, tdim: int) -> Tensor:
    """`dW_hh`, the sum over steps t and the batch of `dgates_t^T h_{t-1}`, as one product.

    Each row of `dgates` meets the row of `hs` one step earlier through an offset in the
    flattened buffers: B rows time-major; 1 row batch-first, where the B - 1 pairs that
    cross from one sequence into the next are taken back out with a small product.

    Shape:
        dgates: (T, B, G*H) if tdim == 0 else (B, T, G*H), contiguous. hs: the outputs
        h_0..h_{T-1} in the same layout, (.., H). h0: (B, H) or None (zeros).
        Returns (G*H, H).
    """
    gates, hidden = dgates.shape[2], hs.shape[2]
    flat_g = dgates.view(-1, gates)  # (N, G*H)
    flat_h = hs.view(-1, hidden)  # (N, H)
    offset = dgates.shape[1] if tdim == 0 else 1
    dw = torch.mm(flat_g[offset:].t(), flat_h[: flat_h.shape[0] - offset])  # (G*H, H)
    if tdim == 1 and dgates.shape[0] > 1:
        dw.addmm_(dgates[1:, 0].t(), hs[:-1, -1], alpha=-1.0)  # (G*H, B-1) x (B-1, H)
    if h0 is not None:
        dw.addmm_(dgates.select(tdim, 0).t(), h0)  # (G*H, B) x (B, H)
    return dw


def _with_first(first: Tensor | None, rest: Tensor, tdim: int) -> Tensor:
    """`[first, rest_0, ..., rest_{T-2}]` along time: the values one step earlier.

    Shape:
        first: (B, H) or None (zeros). rest: (T, B, H) if tdim == 0 else (B, T, H).
        Returns the layout of rest.
    """
    steps = rest.shape[tdim]
    if first is None:
        first = rest.new_zeros(rest.shape[1 - tdim], rest.shape[2])  # (B, H)
    return torch.cat([first.unsqueeze(tdim), rest.narrow(tdim, 0, steps - 1)], tdim)


def _minus_one(like: Tensor) -> Tensor:
    """-1 as a 0-dim tensor, for the one-op `2 s - 1 = torch.add(-1, s, alpha=2)`."""
    return torch.full((), -1.0, dtype=like.dtype, device=like.device)


# ---------------------------------------------------------------------------------------
# Elman RNN layer
# ---------------------------------------------------------------------------------------


class _RNNLayer(torch.autograd.Function):
    """One Elman layer: `h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`.

    Shape:
        x: (B, T, I) floats or (B, T) ids if tdim == 1, else (T, B, ...). h0: (B, H) or
        None (zeros). Returns output (.., H) in the layout of x and h_n (B, H).
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        h0: Tensor | None,
        w_ih: Tensor,
        w_hh: Tensor,
        b_ih: Tensor,
        b_hh: Tensor,
        ids: bool,
        tdim: int,
        relu: bool,
    ) -> tuple[Tensor, Tensor]:
        batch, hidden = x.shape[1 - tdim], w_hh.shape[1]
        if relu:
            out = _project(x, ids, w_ih, b_ih + b_hh, torch.ones_like(b_ih))  # (.., H)
            w_t = w_hh.t().contiguous()  # (H, H)
            prev = h0 if h0 is not None else out.new_zeros(batch, hidden)  # (B, H)
            for h in out.unbind(tdim):
                h.addmm_(prev, w_t).relu_()
                prev = h
            s_all = None
        else:
            # Carry s = (h + 1) / 2; with tanh(a) = 2 sigmoid(2a) - 1 a step is two ops:
            # s_t = sigmoid(2 (x_t W_ih^T + b - W_hh 1) + s_{t-1} (4 W_hh)^T).
            bias = (b_ih + b_hh - w_hh.sum(1)) * 2.0  # (H,)
            s_all = _project(x, ids, w_ih, bias, torch.full_like(b_ih, 2.0))  # (.., H)
            w4_t = (w_hh * 4.0).t().contiguous()  # (H, H): a plain (NN) product
            prev = (  # (B, H)
                (h0 + 1.0) * 0.5 if h0 is not None else s_all.new_full((batch, hidden), 0.5)
            )
            for s in s_all.unbind(tdim):
                s.addmm_(prev, w4_t).sigmoid_()
                prev = s
            out = torch.add(_minus_one(s_all), s_all, alpha=2.0)  # (.., H): h = 2 s - 1
        ctx.ids, ctx.tdim, ctx.s_all = ids, tdim, s_all
        ctx.save_for_backward(x, h0, w_ih, w_hh, out)
        return out, out.select(tdim, -1).clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor, grad_hn: Tensor) -> tuple[Tensor | None, ...]:
        x, h0, w_ih, w_hh, out = ctx.saved_tensors
        tdim, s = ctx.tdim, ctx.s_all
        if s is None:
            deriv = (out > 0).to(out.dtype)  # (.., H): relu'
        else:
            deriv = torch.addcmul(s, s, s, value=-1.0).mul_(4.0)  # 4 s (1 - s) = 1 - h^2
        da = torch.empty_like(out)  # (.., H): dL/da_t, a_t the pre-activation
        da_steps = da.unbind(tdim)
        da.copy_(grad_out)  # dL/dh_t from above, every step in one copy
        d_steps = deriv.unbind(tdim)
        da_steps[-1].add_(grad_hn).mul_(d_steps[-1])
        for da_t, da_next, d_t in zip(
            da_steps[-2::-1], da_steps[:0:-1], d_steps[-2::-1], strict=True
        ):
            # dL/da_t = (dL/dh_t from above + dL/da_{t+1} W_hh) act'(a_t)
            da_t.addmm_(da_next, w_hh).mul_(d_t)
        need = ctx.needs_input_grad
        dh0 = torch.mm(da_steps[0], w_hh) if need[1] else None  # (B, H)
        dx, dw_ih = _input_grads(x, ctx.ids, w_ih, da, need[0], need[2])
        dw_hh = _hidden_weight_grad(da, out, h0, tdim) if need[3] else None  # (H, H)
        db = da.view(-1, da.shape[2]).sum(0)  # (H,)
        return dx, dh0, dw_ih, dw_hh, db, db.clone(), None, None, None


# ---------------------------------------------------------------------------------------
# GRU layer
# ---------------------------------------------------------------------------------------


class _GRULayer(torch.autograd.Function):
    """One GRU layer (gate order r, z, n), as `torch.nn.GRU` computes it.

    Shape:
        x: (B, T, I) floats or (B, T) ids if tdim == 1, else (T, B, ...). h0: (B, H) or
        None (zeros). Returns output (.., H) in the layout of x and h_n (B, H).
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        h0: Tensor | None,
        w_ih: Tensor,
        w_hh: Tensor,
        b_ih: Tensor,
        b_hh: Tensor,
        ids: bool,
        tdim: int,
    ) -> tuple[Tensor, Tensor]:
        batch, hidden = x.shape[1 - tdim], w_hh.shape[1]
        two = 2 * hidden
        # n = tanh(a_n) is computed as 2 sigmoid(2 a_n) - 1, so n's rows are doubled (exact).
        scale = _gate_scale(hidden, (1.0, 1.0, 2.0), b_ih)  # (3H,)
        bias = b_ih.clone()  # (3H,)
        bias[:two] += b_hh[:two]
        pre = _project(x, ids, w_ih, bias * scale, scale)  # (.., 3H): [a_r, a_z, 2 xn]
        xn = pre[..., two:].clone()  # (.., H): 2 (x W_in^T + b_in)
        # From here `pre` holds [x-parts of a_r, a_z | 2 b_hn], so that one addmm_ per step
        # gives [a_r, a_z, 2 (h W_hn^T + b_hn)].
        pre[..., two:] = b_hh[two:] * 2.0
        w_t = (w_hh * scale.unsqueeze(1)).t()  # (H, 3H)
        out = torch.empty_like(xn)  # (.., H)
        minus_one = _minus_one(out)
        prev = h0 if h0 is not None else out.new_zeros(batch, hidden)  # (B, H)
        for p, rz, r, z, ghn, n, h in zip(
            pre.unbind(tdim),
            pre[..., :two].unbind(tdim),
            pre[..., :hidden].unbind(tdim),
            pre[..., hidden:two].unbind(tdim),
            pre[..., two:].unbind(tdim),
            xn.unbind(tdim),
            out.unbind(tdim),
            strict=True,
        ):
            p.addmm_(prev, w_t)
            rz.sigmoid_()  # r, z
            n.addcmul_(r, ghn).sigmoid_()  # sigmoid(2 a_n)
            torch.add(minus_one, n, alpha=2.0, out=n)  # n = tanh(a_n)
            torch.lerp(n, prev, z, out=h)  # (1 - z) n + z h_{t-1}
            prev = h
        ctx.ids, ctx.tdim, ctx.gates, ctx.n = ids, tdim, pre, xn
        ctx.save_for_backward(x, h0, w_ih, w_hh, out)
        return out, out.select(tdim, -1).clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor, grad_hn: Tensor) -> tuple[Tensor | None, ...]:
        x, h0, w_ih, w_hh, out = ctx.saved_tensors
        tdim, pre, n = ctx.tdim, ctx.gates, ctx.n  # pre (.., 3H): [r, z, 2 ghn]; n (.., H)
        hidden = out.shape[2]
        two = 2 * hidden
        r, z = pre[..., :hidden], pre[..., hidden:two]  # (.., H) each
        h_prev = _with_first(h0, out, tdim)  # (.., H)

        # Local derivatives of all steps at once, per unit of dL/dh_t.
        one = torch.ones((), dtype=out.dtype, device=out.device)
        dn = torch.addcmul(one, n, n, value=-1.0)  # (.., H): 1 - n^2
        dn.addcmul_(z, dn, value=-1.0)  # d a_n: (1 - z) (1 - n^2)
        rz = pre[..., :two]
        coef = torch.addcmul(rz, rz, rz, value=-1.0).unflatten(-1, (2, hidden))  # (.., 2, H)
        coef[..., 0, :].mul_(dn).mul_(pre[..., two:]).mul_(0.5)  # d a_r: r' d a_n ghn
        coef[..., 1, :].mul_(h_prev - n)  # d a_z: z' (h_{t-1} - n)
        dghn = dn * r  # (.., H): d (h_{t-1} W_hn^T + b_hn)

        dh = torch.empty_like(out)  # (.., H): dL/dh_t
        dgh = torch.empty_like(pre)  # (.., 3H): dL/d(h_{t-1} W_hh^T + b_hh)
        dh_steps, dgh_steps = dh.unbind(tdim), dgh.unbind(tdim)
        dh_wide = dh.unsqueeze(-2).unbind(tdim)  # (B, 1, H) each
        dgh_rz = dgh[..., :two].unflatten(-1, (2, hidden)).unbind(tdim)  # (B, 2, H) each
        dgh_n = dgh[..., two:].unbind(tdim)
        g_steps, z_steps = grad_out.unbind(tdim), z.unbind(tdim)
        coef_steps, dghn_steps = coef.unbind(tdim), dghn.unbind(tdim)
        last = len(dh_steps) - 1
        for t in range(last, -1, -1):
            if t == last:
                torch.add(g_steps[t], grad_hn, out=dh_steps[t])
            else:  # dL/dh_t = from above + via z_{t+1} + via the gates of step t+1
                torch.addcmul(g_steps[t], dh_steps[t + 1], z_steps[t + 1], out=dh_steps[t])
                dh_steps[t].addmm_(dgh_steps[t + 1], w_hh)
            torch.mul(dh_wide[t], coef_steps[t], out=dgh_rz[t])
            torch.mul(dh_steps[t], dghn_steps[t], out=dgh_n[t])

        need = ctx.needs_input_grad
        dh0 = None
        if need[1]:
            dh0 = torch.addmm(dh_steps[0] * z_steps[0], dgh_steps[0], w_hh)  # (B, H)
        dgi = dgh.clone()  # (.., 3H): the input side differs only in the n part
        torch.mul(dh, dn, out=dgi[..., two:])
        dx, dw_ih = _input_grads(x, ctx.ids, w_ih, dgi, need[0], need[2])
        dw_hh = None
        if need[3]:
            dw_hh = torch.mm(dgh.view(-1, 3 * hidden).t(), h_prev.view(-1, hidden))  # (3H, H)
        db_ih = dgi.view(-1, 3 * hidden).sum(0)  # (3H,)
        db_hh = dgh.view(-1, 3 * hidden).sum(0)  # (3H,)
        return dx, dh0, dw_ih, dw_hh, db_ih, db_hh, None, None


# ---------------------------------------------------------------------------------------
# LSTM layer
# ---------------------------------------------------------------------------------------


class _LSTMLayer(torch.autograd.Function):
    """One LSTM layer (gate order i, f, g, o), as `torch.nn.LSTM` computes it.

    Shape:
        x: (B, T, I) floats or (B, T) ids if tdim == 1, else (T, B, ...). h0, c0: (B, H) or
        None (zeros). Returns output (.., H) in the layout of x, h_n and c_n (B, H).
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        h0: Tensor | None,
        c0: Tensor | None,
        w_ih: Tensor,
        w_hh: Tensor,
        b_ih: Tensor,
        b_hh: Tensor,
        ids: bool,
        tdim: int,
        all_cells: bool = False,
    ) -> tuple[Tensor, Tensor, Tensor]:
        batch, hidden = x.shape[1 - tdim], w_hh.shape[1]
        # g = tanh(a_g) = 2 sigmoid(2 a_g) - 1: g's rows doubled, one sigmoid for all gates.
        scale = _gate_scale(hidden, (1.0, 1.0, 2.0, 1.0), b_ih)  # (4H,)
        pre = _project(x, ids, w_ih, (b_ih + b_hh) * scale, scale)  # (.., 4H)
        w_t = (w_hh * scale.unsqueeze(1)).t()  # (H, 4H)
        # The cell is carried doubled, k = 2 c, so that tanh(c) = 2 sigmoid(k) - 1.
        k = pre.new_empty(*pre.shape[:2], hidden)  # (.., H)
        u = torch.empty_like(k)  # sigmoid(k)
        out = torch.empty_like(k)  # h
        minus_one = _minus_one(out)
        h_prev = h0 if h0 is not None else out.new_zeros(batch, hidden)  # (B, H)
        k_prev = c0 * 2.0 if c0 is not None else out.new_zeros(batch, hidden)  # (B, H)
        gates = pre.unflatten(-1, (4, hidden))  # (.., 4, H)
        for p, i, f, s, o, k_t, u_t, h in zip(
            pre.unbind(tdim),
            *(gates[..., j, :].unbind(tdim) for j in range(4)),
            k.unbind(tdim),
            u.unbind(tdim),
            out.unbind(tdim),
            strict=True,
        ):
            p.addmm_(h_prev, w_t).sigmoid_()  # i, f, s = sigmoid(2 a_g), o
            torch.mul(f, k_prev, out=k_t)
            k_t.addcmul_(i, s, value=4.0).sub_(i, alpha=2.0)  # 2 c_t = f 2 c_{t-1} + 2 i (2 s - 1)
            torch.sigmoid(k_t, out=u_t)
            torch.add(minus_one, u_t, alpha=2.0, out=h).mul_(o)  # h = o tanh(c_t)
            h_prev, k_prev = h, k_t
        ctx.ids, ctx.tdim, ctx.gates, ctx.k, ctx.u = ids, tdim, pre, k, u
        ctx.all_cells = all_cells
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, out)
        cells = k * 0.5 if all_cells else k.select(tdim, -1) * 0.5  # (.., H) or (B, H)
        return out, out.select(tdim, -1).clone(), cells

    @staticmethod
    @once_differentiable
    def backward(
        ctx: Any, grad_out: Tensor, grad_hn: Tensor, grad_cn: Tensor
    ) -> tuple[Tensor | None, ...]:
        x, h0, c0, w_ih, w_hh, out = ctx.saved_tensors
        tdim, pre, k, u = ctx.tdim, ctx.gates, ctx.k, ctx.u
        hidden = out.shape[2]
        i, f, s, o = pre.unflatten(-1, (4, hidden)).unbind(-2)  # (.., H) each; s = sigmoid(2 a_g)
        minus_one = _minus_one(out)

        # Local derivatives of all steps at once: first sigma' = sigma (1 - sigma) of the
        # four gates, then per gate the factor that turns dL/dc_t (i, f, g) or dL/dh_t (o)
        # into dL/da; tanh(x) = 2 sigmoid(2x) - 1 has the derivative 4 sigmoid'(2x).
        coef = torch.addcmul(pre, pre, pre, value=-1.0)  # (.., 4H)
        parts = coef.unflatten(-1, (4, hidden))  # (.., 4, H)
        parts[..., 0, :].mul_(torch.add(minus_one, s, alpha=2.0))  # d a_i: sigma_i' g
        k_prev = _with_first(None if c0 is None else c0 * 2.0, k, tdim)  # (.., H): 2 c_{t-1}
        parts[..., 1, :].mul_(k_prev).mul_(0.5)  # d a_f: sigma_f' c_{t-1}
        parts[..., 2, :].mul_(i).mul_(4.0)  # d a_g: (1 - g^2) i
        parts[..., 3, :].mul_(torch.add(minus_one, u, alpha=2.0))  # d a_o: sigma_o' tanh(c)
        dc_dh = torch.addcmul(u, u, u, value=-1.0).mul_(o).mul_(4.0)  # (.., H): o tanh'(c)

        dh_t = torch.empty_like(grad_hn, memory_format=torch.contiguous_format)  # (B, H)
        # dL/dc_t, carried back; with all cells returned, each step adds its own gradient.
        grad_cells = grad_cn.unbind(tdim) if ctx.all_cells else None
        start = grad_cn.select(tdim, -1) if grad_cells is not None else grad_cn
        dc = start.clone(memory_format=torch.contiguous_format)  # (B, H)
        dc_wide = dc.unsqueeze(1)  # (B, 1, H)
        dgates = torch.empty_like(pre)  # (.., 4H)
        dg_view = dgates.unflatten(-1, (4, hidden))  # (.., 4, H)
        dg_steps = dgates.unbind(tdim)
        dg_ifg = dg_view[..., :3, :].unbind(tdim)  # (B, 3, H) each
        dg_o = dg_view[..., 3, :].unbind(tdim)  # (B, H) each
        g_steps, f_steps, dc_dh_steps = grad_out.unbind(tdim), f.unbind(tdim), dc_dh.unbind(tdim)
        coef_steps, do_steps = parts[..., :3, :].unbind(tdim), parts[..., 3, :].unbind(tdim)
        last = len(dg_steps) - 1
        for t in range(last, -1, -1):
            if t == last:
                torch.add(g_steps[t], grad_hn, out=dh_t)
            else:  # dL/dh_t = from above + via the gates of step t+1
                torch.addmm(g_steps[t], dg_steps[t + 1], w_hh, out=dh_t)
                if grad_cells is not None:
                    dc.add_(grad_cells[t])
            dc.addcmul_(dh_t, dc_dh_steps[t])
            torch.mul(dc_wide, coef_steps[t], out=dg_ifg[t])  # d a_i, d a_f, d a_g
            torch.mul(dh_t, do_steps[t], out=dg_o[t])  # d a_o
            dc.mul_(f_steps[t])  # on to dL/dc_{t-1}

        need = ctx.needs_input_grad
        dh0 = torch.mm(dg_steps[0], w_hh) if need[1] else None  # (B, H)
        dc0 = dc if need[2] else None  # (B, H)
        dx, dw_ih = _input_grads(x, ctx.ids, w_ih, dgates, need[0], need[3])
        dw_hh = _hidden_weight_grad(dgates, out, h0, tdim) if need[4] else None  # (4H, H)
        db = dgates.view(-1, 4 * hidden).sum(0)  # (4H,)
        return dx, dh0, dc0, dw_ih, dw_hh, db, db.clone(), None, None, None


# ---------------------------------------------------------------------------------------
# the modules
# ---------------------------------------------------------------------------------------


class FusedRecurrent(StackBase):
    """The fused implementation: each layer is one hand-written autograd `Function`.

    The parameters, checks and the layers x directions loop are `StackBase`'s; the kind
    (`RNNKind`, `GRUKind`, `LSTMKind`) gives `step`, used for single steps without
    autograd, and the subclass the layer `Function` (`_function`). `bias` must be True.
    The layers work in the caller's layout; the reverse direction runs on the time-flipped
    sequence.

    Shape:
        input: (B, T, I) floats or (B, T) token ids in [0, I) (time-major without
        batch_first), or unbatched (T, I) floats. hx: h, or (h, c) for LSTM, each
        (D*L, B, H), zeros when omitted. Returns output (B, T, D*H), contiguous
        ((T, B, D*H) without batch_first), and the final state shaped like hx.
    """

    bias_optional = False
    _function: type[torch.autograd.Function]
    weight_hh_l0: Tensor  # registered by StackBase.__init__

    def _forward(
        self, input: Tensor, hx: State | None, lengths: Tensor | None
    ) -> tuple[Tensor, State]:
        where = input.device.type
        if not torch.is_autocast_enabled(where):
            return super()._forward(input, hx, lengths)
        # Under autocast (train.precision = "bf16") the fused layers keep to the weights'
        # dtype: their hand-written products need one dtype throughout.
        dtype = self.weight_hh_l0.dtype
        if input.is_floating_point():
            input = input.to(dtype)
        hx = map_parts(hx, lambda part: part.to(dtype))
        with torch.autocast(where, enabled=False):
            return super()._forward(input, hx, lengths)

    def _layer(
        self,
        x: Tensor,
        state: LayerState,
        index: tuple[int, int],
        ids: bool,
        lengths: Tensor | None,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        tdim = 1 if self.batch_first else 0
        if x.shape[tdim] == 1 and not torch.is_grad_enabled():
            # One step without autograd (sampling, token by token): the plain cell update
            # costs less than setting up a fused layer.
            return self._stepwise(x, state, index, ids, tdim, lengths)
        weights = self.layer_weights(*index)
        options = self._options(masked=lengths is not None)
        if lengths is not None:  # forwards; each final state at the sequence's last step
            out, *rest = self._function.apply(x, *state, *weights, ids, tdim, *options)
            finals = [out, *rest[1:]]  # h and, for an LSTM, the cells of every step
            return out, tuple(last_steps(part, lengths, tdim) for part in finals)
        reverse = index[1] == 1
        seq = x.flip(tdim) if reverse else x
        out, *final = self._function.apply(seq, *state, *weights, ids, tdim, *options)
        return (out.flip(tdim) if reverse else out), tuple(final)

    def _options(self, masked: bool) -> tuple[bool, ...]:
        """The arguments of `_function` after `ids, tdim`; `masked`: variable lengths."""
        return ()

    def _check_input(self, x: Tensor, ids: bool) -> Tensor:
        """Refuse an empty batch, float input of the wrong width or dtype and token ids
        outside [0, input_size); returns the input contiguous (ids as int64).

        The range check of ids runs on CPU only: on an accelerator it would wait for the
        device.
        """
        tdim = 1 if self.batch_first else 0
        if x.shape[1 - tdim] == 0:
            raise RuntimeError(f"{type(self).__name__} got an empty batch (B = 0)")
        if not ids:
            super()._check_input(x, ids)
            weight = self.weight_ih_l0
            if x.dtype != weight.dtype:
                raise ValueError(
                    f"{type(self).__name__} has {weight.dtype} weights but got {x.dtype} "
                    f"input; convert one of them (e.g. core.to({x.dtype}))"
                )
            return x.contiguous()
        x = x.long().contiguous()
        if x.device.type == "cpu":
            low, high = (int(v) for v in torch.aminmax(x))
            if low < 0 or high >= self.input_size:
                raise RuntimeError(
                    f"token ids must be in [0, {self.input_size}) (input_size), got ids from "
                    f"{low} to {high}"
                )
        return x


class FusedRNN(RNNKind, FusedRecurrent):
    """Fused multi-layer Elman RNN, a drop-in twin of `torch.nn.RNN` for training speed.

    Each layer runs `h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`, act = tanh or relu.

    Shape:
        input: (B, T, I) floats or (B, T) ids (time-major without batch_first).
        hx: (D*L, B, H). Returns output (B, T, D*H) and h_n (D*L, B, H).
    """

    _function = _RNNLayer

    def _options(self, masked: bool) -> tuple[bool, ...]:
        return (self.nonlinearity == "relu",)


class FusedGRU(GRUKind, FusedRecurrent):
    """Fused multi-layer GRU (gate order r, z, n), a drop-in twin of `torch.nn.GRU`.

    Shape:
        input: (B, T, I) floats or (B, T) ids (time-major without batch_first).
        hx: (D*L, B, H). Returns output (B, T, D*H) and h_n (D*L, B, H).
    """

    _function = _GRULayer


class FusedLSTM(LSTMKind, FusedRecurrent):
    """Fused multi-layer LSTM (gate order i, f, g, o), a drop-in twin of `torch.nn.LSTM`.

    No `proj_size`.

    Shape:
        input: (B, T, I) floats or (B, T) ids (time-major without batch_first).
        hx: (h_0, c_0), each (D*L, B, H). Returns output (B, T, D*H) and (h_n, c_n), each
        (D*L, B, H).
    """

    _function = _LSTMLayer

    def _options(self, masked: bool) -> tuple[bool, ...]:
        return (masked,)  # all_cells: the final cell of each sequence is taken from them


IMPLS["fused"] = {"rnn": FusedRNN, "gru": FusedGRU, "lstm": FusedLSTM}
