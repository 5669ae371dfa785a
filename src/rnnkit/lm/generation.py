"""Stateful text generation from a language model: greedy, sampling, top-k, top-p, beam.

The prefix is fed to the model once (warm-up); after that each new token costs one
single step that carries the recurrent state, so the cost per token does not grow with
the length of the text (architecture contract 5). For an `RNNLM` that step runs through
`rnnkit.lm.stepper.Stepper` (a few tensor operations on the model's weights, equal
to the model's forward call); any other model is called one token at a time::

    prefix  t1 t2 t3 ──warm-up──► logits ─sample─► y1 ─step─► logits ─sample─► y2 ─► ...
                                   state ───────────────────►  state ──────────────►

Several samples advance together as one batch (batch on dim 1 of the state). Every random
draw comes from a private `torch.Generator` (passed in, or seeded per call), never from the
global RNG, so concurrent callers stay reproducible.

Public entry points: `stream` (yields the new tokens step by step) and `generate` (whole
strings, one per sample; `beam > 0` switches to beam search). `sample_next`, `warm_up` and
`beam_search` are the building blocks.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, Protocol, TypeAlias

import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.lm.model import RNNLM
from rnnkit.lm.stepper import Stepper
from rnnkit.text.tokenize import detokenize, tokenize

Level = Literal["char", "word"]
State: TypeAlias = Tensor | tuple[Tensor, ...] | None
DeviceLike: TypeAlias = str | torch.device | None

MAX_LENGTH = 100_000
MAX_SAMPLES = 1024
MAX_BEAM = 1024
_LEVELS = ("char", "word")

__all__ = ["beam_search", "generate", "sample_next", "stream", "warm_up"]


class VocabLike(Protocol):
    """What generation needs from a vocabulary (`rnnkit.text.vocab.Vocab` has it all)."""

    idx_to_token: list[str]
    token_to_idx: dict[str, int]
    counts: list[int]
    unk: int

    def __len__(self) -> int: ...


# --------------------------------------------------------------------------- checks


def _check_int(name: str, value: Any, low: int, high: int, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RnnkitError(f"{name} must be an integer from {low} to {high}, got {value!r}; {fix}")


def _validate(
    length: int,
    level: str,
    temperature: float,
    top_k: int,
    top_p: float,
    num_samples: int,
    beam: int,
    seed: int | None,
    generator: torch.Generator | None,
) -> None:
    """Raise `RnnkitError` on the first bad option (one line: the problem and the fix)."""
    _check_int("length", length, 1, MAX_LENGTH, "ask for fewer tokens or call again")
    if level not in _LEVELS:
        raise RnnkitError(f"unknown level {level!r}; choose one of {', '.join(_LEVELS)}")
    if isinstance(temperature, bool) or not (
        isinstance(temperature, (int, float)) and 0 <= temperature < math.inf
    ):
        raise RnnkitError(
            f"temperature must be a finite number >= 0 (0 = greedy), got {temperature!r}"
        )
    _check_int("top_k", top_k, 0, 2**31 - 1, "use 0 to keep every token")
    if isinstance(top_p, bool) or not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise RnnkitError(f"top_p must be in (0, 1], got {top_p!r}; use 1 to keep every token")
    _check_int("num_samples", num_samples, 1, MAX_SAMPLES, "ask for fewer samples")
    _check_int("beam", beam, 0, MAX_BEAM, "use 0 to sample instead of beam search")
    if beam > 0 and num_samples > beam:
        raise RnnkitError(
            f"num_samples ({num_samples}) exceeds the beam width ({beam}); "
            "ask for at most beam samples or widen the beam"
        )
    if seed is not None and generator is not None:
        raise RnnkitError("pass either seed or generator, not both")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise RnnkitError(f"seed must be an integer, got {seed!r}")


# --------------------------------------------------------------------------- set-up


def _make_generator(seed: int | None, generator: torch.Generator | None) -> torch.Generator:
    """The caller's generator, or a fresh CPU one (seeded from `os.urandom` when seed is None)."""
    if generator is not None:
        return generator
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little")
    return torch.Generator().manual_seed(seed % 2**64)


def _model_device(model: nn.Module, device: DeviceLike) -> torch.device:
    """Where the token ids go: the model's device; `device` (other than auto) must agree."""
    param = next(model.parameters(), None)
    home = param.device if param is not None else torch.device("cpu")
    if device is None or device == "auto":
        return home
    try:
        wanted = torch.device(device)
    except (RuntimeError, TypeError):
        raise RnnkitError(f"unknown device {device!r}; use auto, cpu or cuda") from None
    if wanted.type != home.type:
        raise RnnkitError(
            f"the model is on {home} but device {wanted} was asked for; "
            "move the model with model.to(device) or leave device unset"
        )
    return home


def normalize_prefix(prefix: str, mode: str) -> str:
    """Bring a typed prefix into the form the model was trained on (its `data.normalize`).

    Unlike the corpus normalisation this keeps a trailing space, which matters at the end
    of a prefix: `d2l` lower-cases and turns every run of non-letters into one space,
    `newlines` turns line breaks into spaces, `none` keeps the prefix.
    """
    if mode == "d2l":
        return re.sub("[^A-Za-z]+", " ", prefix).lower()
    if mode == "newlines":
        return prefix.replace("\r", " ").replace("\n", " ")
    return prefix


def _encode_prefix(vocab: VocabLike, prefix: str, level: Level) -> list[int]:
    """Token ids of the prefix; unknown tokens warn once (naming them) and become `<unk>`."""
    tokens = tokenize(prefix, level)
    unknown = list(dict.fromkeys(t for t in tokens if t not in vocab.token_to_idx))
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:20])
        more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        warnings.warn(
            f"prefix tokens not in the vocabulary, read as <unk>: {shown}{more}",
            UserWarning,
            stacklevel=3,
        )
    return [vocab.token_to_idx.get(t, vocab.unk) for t in tokens]


def _unigram_logits(vocab: VocabLike) -> Tensor:
    """Log of the training unigram distribution, `-inf` for zero-count tokens. Shape: (V,)."""
    counts = torch.tensor([float(c) for c in vocab.counts], dtype=torch.float64)  # (V,)
    if counts.numel() == 0 or not bool((counts > 0).any()):
        raise RnnkitError(
            "the vocabulary has no token counts to draw a first token from; give a prefix"
        )
    return (counts / counts.sum()).log().float()  # (V,)


def _select(state: State, index: Tensor) -> State:
    """Pick batch rows of a state (`h` or a tuple such as `(h, c)`, batch on dim 1)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.index_select(1, index.to(state.device))
    return tuple(s.index_select(1, index.to(s.device)) for s in state)


def _set_eval(model: nn.Module) -> Callable[[], None]:
    """Put the model in eval mode; returns a function that restores every submodule's mode."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()

    def restore() -> None:
        for module, training in modes:
            module.training = training

    return restore


def _forward(model: nn.Module, ids: Tensor, state: State) -> tuple[Tensor, State]:
    """One no-grad, eval-mode forward call; returns the last position's float logits.

    Eval mode and no-grad are set around the call only, so nothing leaks to the caller's
    code between two yields of `stream`.

    Shape:
        ids (N, T) -> logits (N, V), state batch N
    """
    restore = _set_eval(model)
    try:
        with torch.no_grad():
            logits, state = model(ids, state)  # (N, T, V)
    finally:
        restore()
    return logits[:, -1, :].float(), state  # (N, V)


# --------------------------------------------------------------------------- building blocks


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw one token per row from logits, after temperature, top-k and top-p filtering.

    `temperature == 0` is greedy (argmax, the filters are moot). Top-k keeps the `top_k`
    largest logits (0 = all); top-p keeps the smallest set of most likely tokens whose
    probability reaches `top_p` (the most likely token always stays). The draw happens on
    the generator's device (CPU by default), so results do not depend on the model's device.

    Args:
        logits: unnormalised scores; `-inf` marks impossible tokens.
        temperature: divides the logits; below 1 sharpens, above 1 flattens.
        top_k: how many of the largest logits to keep (0 = all).
        top_p: nucleus mass in (0, 1] (1 = all).
        generator: the source of randomness; `None` uses a fresh unseeded one, never the
            global RNG.

    Returns:
        the chosen token ids.

    Shape:
        logits (N, V) -> (N,)
    """
    if temperature == 0:
        return logits.argmax(dim=-1)  # (N,)
    if generator is None:
        generator = _make_generator(None, None)
    scores = logits.detach().to(generator.device, torch.float32) / temperature  # (N, V)
    vocab_size = scores.size(-1)
    if 0 < top_k < vocab_size:
        kth = scores.topk(top_k, dim=-1).values[:, -1:]  # (N, 1)
        scores = scores.masked_fill(scores < kth, -math.inf)  # (N, V)
    if top_p < 1:
        sorted_scores, order = scores.sort(dim=-1, descending=True, stable=True)  # (N, V)
        probs = sorted_scores.softmax(dim=-1)  # (N, V)
        mass_before = probs.cumsum(dim=-1) - probs  # (N, V)
        drop = mass_before >= top_p  # (N, V); never the first column
        sorted_scores = sorted_scores.masked_fill(drop, -math.inf)
        scores = torch.full_like(scores, -math.inf).scatter(-1, order, sorted_scores)  # (N, V)
    probs = scores.softmax(dim=-1)  # (N, V)
    picked = torch.multinomial(probs, 1, generator=generator)  # (N, 1)
    return picked.squeeze(1).to(logits.device)  # (N,)


def warm_up(model: nn.Module, ids: Tensor, state: State = None) -> tuple[Tensor, State]:
    """Feed a whole prefix in one forward call (eval mode, no grad).

    Args:
        model: `forward(tokens (N, T), state) -> (logits (N, T, V), state)`.
        ids: the prefix token ids, one row per sample.
        state: the state to start from; `None` lets the model begin from zeros.

    Returns:
        the logits for the token after the prefix, and the state after it.

    Shape:
        ids (N, P) -> logits (N, V), state with batch N
    """
    return _forward(model, ids, state)


def beam_search(
    model: nn.Module,
    first_log_probs: Tensor,
    state: State,
    length: int,
    beam: int,
) -> tuple[Tensor, Tensor]:
    """Beam search for the `length` tokens after a warmed-up prefix, scored by log-probability.

    All beams have the same length, so the sum of log-probabilities needs no length
    normalisation. Deterministic: no randomness, no temperature.

    Args:
        model: `forward(tokens (N, 1), state) -> (logits (N, 1, V), state)`.
        first_log_probs: log-probabilities of the first new token.
        state: the state after the prefix, batch 1 (`None` when there was no prefix).
        length: how many tokens each beam holds.
        beam: the beam width.

    Returns:
        the beams' token ids and their total log-probabilities, best first.

    Shape:
        first_log_probs (V,) -> tokens (K, length), scores (K,), K = min(beam, #finite)
    """
    first = first_log_probs.float().cpu()  # (V,)
    width = min(beam, int(torch.isfinite(first).sum()))
    scores, tokens = first.topk(width)  # (K,), (K,)
    history = tokens.unsqueeze(1)  # (K, 1)
    state = _select(state, torch.zeros(width, dtype=torch.long))
    device = _state_device(state, model)
    stepper = Stepper(model, state, width) if isinstance(model, RNNLM) else None
    vocab_size = first.numel()
    for _ in range(length - 1):
        last = history[:, -1].to(device)  # (K,)
        if stepper is not None:
            with torch.no_grad():
                logits = stepper.step(last).float()  # (K, V)
        else:
            logits, state = _forward(model, last.unsqueeze(1), state)  # (K, V)
        log_probs = logits.cpu().log_softmax(dim=-1)  # (K, V)
        total = (scores.unsqueeze(1) + log_probs).reshape(-1)  # (K * V,)
        width = min(beam, int(torch.isfinite(total).sum()))
        scores, flat = total.topk(width)  # (K,)
        parent = flat // vocab_size  # (K,)
        token = flat % vocab_size  # (K,)
        history = torch.cat([history[parent], token.unsqueeze(1)], dim=1)  # (K, t + 1)
        if stepper is not None:
            stepper.select(parent.to(device))
        else:
            state = _select(state, parent)
    return history, scores


def _state_device(state: State, model: nn.Module) -> torch.device:
    if isinstance(state, Tensor):
        return state.device
    if isinstance(state, tuple) and state:
        return state[0].device
    return _model_device(model, None)


# --------------------------------------------------------------------------- public API


def _first_step(
    model: nn.Module,
    ids: list[int],
    batch: int,
    device: torch.device,
) -> tuple[Tensor | None, State]:
    """Warm up on the prefix (repeated over `batch` rows); logits (batch, V) or None if empty."""
    if not ids:
        return None, None
    prefix = torch.tensor(ids, dtype=torch.long, device=device)  # (P,)
    return warm_up(model, prefix.unsqueeze(0).repeat(batch, 1), None)  # (B, V)


def stream(
    model: nn.Module,
    vocab: VocabLike,
    prefix: str = "",
    length: int = 100,
    *,
    level: Level = "char",
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    num_samples: int = 1,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    device: DeviceLike = None,
) -> Iterator[list[str]]:
    """Generate text token by token, yielding the new tokens of every sample at each step.

    The prefix is fed once; then each step is one single-token forward call carrying the
    state, all samples advancing as one batch. An empty prefix starts from a token drawn
    from the training unigram distribution (`vocab.counts`, zero-count specials excluded;
    temperature and the filters apply to it as to any step, so greedy takes the most
    frequent token). Prefix tokens missing from the vocabulary trigger a warning naming
    them and are read as `<unk>`. Options are checked when `stream` is called, before the
    first token. The model is in eval mode and under no-grad only during its own forward
    calls; its previous mode is restored after each.

    Args:
        model: `forward(tokens (B, T), state) -> (logits (B, T, V), state)`.
        vocab: the training vocabulary (`token_to_idx`, `idx_to_token`, `counts`, `unk`).
        prefix: text to continue; tokenized at `level`.
        length: how many new tokens, 1 to 100,000.
        level: `"char"` or `"word"`, as the model was trained.
        temperature: 0 = greedy (d2l's `predict_ch8`); otherwise divides the logits.
        top_k: keep only the `top_k` most likely tokens (0 = all).
        top_p: nucleus sampling mass in (0, 1] (1 = all).
        num_samples: samples drawn side by side, 1 to 1024.
        seed: seeds a private generator; `None` seeds it from `os.urandom`.
        generator: a generator to draw from instead (not together with `seed`).
        device: where the token ids go; defaults to the model's device, which must match.

    Yields:
        `length` lists, each with one new token per sample.

    Raises:
        RnnkitError: a bad option, or an empty prefix with a vocabulary without counts.
    """
    _validate(length, level, temperature, top_k, top_p, num_samples, 0, seed, generator)
    rng = _make_generator(seed, generator)
    where = _model_device(model, device)
    ids = _encode_prefix(vocab, prefix, level)
    unigram = None if ids else _unigram_logits(vocab)
    return _stream(
        model, vocab, ids, unigram, length, temperature, top_k, top_p, num_samples, rng, where
    )


def _stream(
    model: nn.Module,
    vocab: VocabLike,
    ids: list[int],
    unigram: Tensor | None,
    length: int,
    temperature: float,
    top_k: int,
    top_p: float,
    num_samples: int,
    rng: torch.Generator,
    device: torch.device,
) -> Iterator[list[str]]:
    """The sampling loop behind `stream`, once the options are checked."""
    logits, state = _first_step(model, ids, num_samples, device)
    if logits is None:
        assert unigram is not None
        logits = unigram.expand(num_samples, -1)  # (B, V)
    # An RNNLM steps through `Stepper` (plain tensor ops, no module calls); other models
    # through their forward call, one token at a time.
    stepper = Stepper(model, state, num_samples) if isinstance(model, RNNLM) else None
    idx_to_token = vocab.idx_to_token
    for step in range(length):
        token = sample_next(logits, temperature, top_k, top_p, rng)  # (B,)
        yield [idx_to_token[i] for i in token.tolist()]
        if step + 1 < length:
            token = token.to(device)
            if stepper is not None:
                with torch.no_grad():
                    logits = stepper.step(token).float()  # (B, V)
            else:
                logits, state = _forward(model, token.unsqueeze(1), state)  # (B, V)


def _join(prefix: str, new_tokens: Sequence[str], level: Level) -> str:
    """The user's prefix, verbatim, followed by the new tokens (spaces between words)."""
    text = detokenize(new_tokens, level)
    if level == "word" and prefix and text and not prefix[-1].isspace():
        return f"{prefix} {text}"
    return prefix + text


def generate(
    model: nn.Module,
    vocab: VocabLike,
    prefix: str = "",
    length: int = 100,
    *,
    level: Level = "char",
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    num_samples: int = 1,
    beam: int = 0,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    device: DeviceLike = None,
) -> list[str]:
    """Continue `prefix` by `length` tokens; one string per sample, the prefix included.

    Without `beam` this is exactly what `stream` yields with the same arguments, joined:
    the prefix verbatim, then the new tokens (with spaces at word level). With `beam > 0`
    it runs a deterministic beam search of that width over `length`-token continuations,
    scored by total log-probability, and returns the best `num_samples` beams, best first
    (`num_samples <= beam`); temperature, top-k, top-p, seed and generator are then
    ignored. An empty prefix starts the beams from the most frequent training tokens,
    scored by their unigram log-probability.

    Args:
        model: `forward(tokens (B, T), state) -> (logits (B, T, V), state)`.
        vocab: the training vocabulary.
        prefix: text to continue.
        length: how many new tokens, 1 to 100,000.
        level: `"char"` or `"word"`.
        temperature: 0 = greedy; see `stream`.
        top_k: see `stream`.
        top_p: see `stream`.
        num_samples: how many strings, 1 to 1024.
        beam: beam width (0 = sample; 1 = greedy by beam search), up to 1024.
        seed: seeds a private generator.
        generator: a generator to draw from instead.
        device: see `stream`.

    Returns:
        `num_samples` strings (beam search gives fewer only when fewer distinct
        continuations exist, e.g. `length=1` over a tiny vocabulary).

    Raises:
        RnnkitError: a bad option, or an empty prefix with a vocabulary without counts.
    """
    _validate(length, level, temperature, top_k, top_p, num_samples, beam, seed, generator)
    where = _model_device(model, device)
    ids = _encode_prefix(vocab, prefix, level)
    if beam == 0:
        # The very loop `stream` runs, so the two agree token for token.
        unigram = None if ids else _unigram_logits(vocab)
        rng = _make_generator(seed, generator)
        columns = _stream(
            model, vocab, ids, unigram, length, temperature, top_k, top_p, num_samples, rng, where
        )
        per_sample: list[list[str]] = [[] for _ in range(num_samples)]
        for step_tokens in columns:
            for tokens, token in zip(per_sample, step_tokens, strict=True):
                tokens.append(token)
        return [_join(prefix, tokens, level) for tokens in per_sample]

    logits, state = _first_step(model, ids, 1, where)
    first = _unigram_logits(vocab) if logits is None else logits[0].log_softmax(dim=-1)  # (V,)
    beams, _ = beam_search(model, first, state, length, beam)  # (K, length)
    best = beams[:num_samples].tolist()
    return [_join(prefix, [vocab.idx_to_token[i] for i in row], level) for row in best]
