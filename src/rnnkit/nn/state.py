"""The recurrent state and its helpers: one `State` alias for every core, model and loop.

A state is `h`, or the pair `(h, c)` for an LSTM, each part shaped `(D*L, B, H)` (layers
times directions, batch, hidden size), so the batch is dimension 1 of every part. The
helpers work part by part and pass `None` (a fresh zero state) through unchanged:

- `detach`: cut the graph behind a carried state (truncated backpropagation through time);
- `select_rows`: keep some batch rows, e.g. the surviving beams of a beam search;
- `repeat_rows`: tile the batch, e.g. one copy of the state per sampled path;
- `to_list` / `from_list`: a plain list of CPU tensors for a checkpoint, and back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias, overload

import torch
from torch import Tensor

State: TypeAlias = Tensor | tuple[Tensor, Tensor]
"""`h`, or `(h, c)` for an LSTM; each part (D*L, B, H)."""


def parts(state: State) -> tuple[Tensor, ...]:
    """The parts of a state as a tuple: `(h,)` or `(h, c)`."""
    return (state,) if isinstance(state, Tensor) else tuple(state)


def from_parts(items: Sequence[Tensor]) -> State:
    """Inverse of `parts`: one tensor gives `h`, two give `(h, c)`."""
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return items[0], items[1]
    raise ValueError(f"a state has 1 part (h) or 2 parts (h, c), got {len(items)}")


@overload
def map_parts(state: None, fn: Callable[[Tensor], Tensor]) -> None: ...
@overload
def map_parts(state: State, fn: Callable[[Tensor], Tensor]) -> State: ...
def map_parts(state: State | None, fn: Callable[[Tensor], Tensor]) -> State | None:
    """`fn` applied to every part of `state`, keeping its form (`None` stays `None`)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    return tuple(fn(part) for part in state)  # type: ignore[return-value]


@overload
def detach(state: None) -> None: ...
@overload
def detach(state: State) -> State: ...
def detach(state: State | None) -> State | None:
    """Cut the graph behind a state (truncated backpropagation through time).

    Shape:
        state: h or (h, c), each (D*L, B, H), or None. Returns the same, detached.
    """
    return map_parts(state, Tensor.detach)


@overload
def select_rows(state: None, index: Tensor) -> None: ...
@overload
def select_rows(state: State, index: Tensor) -> State: ...
def select_rows(state: State | None, index: Tensor) -> State | None:
    """The batch rows `index` of a state, in that order (rows may repeat).

    Shape:
        state: parts (D*L, B, H), or None. index: (N,) integers in [0, B), on any device.
        Returns parts (D*L, N, H).
    """
    return map_parts(state, lambda part: part.index_select(1, index.to(part.device)))


@overload
def repeat_rows(state: None, times: int) -> None: ...
@overload
def repeat_rows(state: State, times: int) -> State: ...
def repeat_rows(state: State | None, times: int) -> State | None:
    """The whole batch tiled `times` times: rows `[0..B), [0..B), ...`, as `Tensor.repeat`.

    Shape:
        state: parts (D*L, B, H), or None. Returns parts (D*L, times*B, H).
    """
    return map_parts(state, lambda part: part.repeat(1, times, 1))


def to_list(state: State | None) -> list[Tensor]:
    """A state as a plain list of detached CPU tensors (checkpoint friendly); None gives []."""
    if state is None:
        return []
    return [part.detach().cpu() for part in parts(state)]


def from_list(items: Sequence[Tensor], device: torch.device | str) -> State | None:
    """Inverse of `to_list`, the parts moved to `device`; [] gives None."""
    if not items:
        return None
    return from_parts([item.to(device) for item in items])
