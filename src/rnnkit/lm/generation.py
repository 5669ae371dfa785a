"""Stateful text generation from a language model: greedy, sampling, top-k, top-p, beam.

The prefix is fed to the model once (warm-up); after that each new token costs one
single step that carries the recurrent state, so the cost per token does not grow with
the length of the text. For an `RNNLM` that step runs through
`rnnkit.lm.step.LMStep` (a few tensor operations on the model's weights, equal
to the model's forward call); any other model is called one token at a time::

    prefix  t1 t2 t3 ──warm-up──► logits ─sample─► y1 ─step─► logits ─sample─► y2 ─► ...
                                   state ───────────────────►  state ──────────────►

Several samples advance together as one batch (batch on dim 1 of the state). Every random
draw comes from a private `torch.Generator` (passed in, or seeded per call), never from the
global RNG, so concurrent callers stay reproducible.

Public entry points, on a `LoadedLM` (`rnnkit.generate`, `rnnkit.stream`): `generate`
(whole strings, one per sample; `beam > 0` switches to beam search) and `stream` (the new
tokens step by step). Their options are a `SamplingOptions` (`rnnkit.decode.options`; the
keywords are `SamplingKwargs`). On a bare model and vocabulary: `generate_text` and
`stream_tokens`. `sample_next`, `warm_up` and `beam_search` are the building blocks;
`text_pieces` / `join_steps` (from the torch-free `rnnkit.decode.prefix`, shared with
`rnnkit.runtime`) are the one way new tokens are joined onto a prefix.

Scores that are not finite (inf or NaN logits: weights that overflowed) raise a one-line
`NumericalError` at the step where they arise (`check_scores`: one reduction per step on
what is already there, the probabilities on the generator's device or the logits for greedy
and beam search); `generate` and `stream` on a `LoadedLM` name its checkpoint.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeAlias

import torch
from torch import Tensor, nn

from rnnkit.config.fields import Level
from rnnkit.decode.options import SamplingOptions, options_from_call, random_seed
from rnnkit.decode.prefix import (
    VocabLike,
    join_steps,
    normalize_prefix,
    text_pieces,
    unknown_tokens,
)
from rnnkit.decode.prefix import encode_prefix as _encode_prefix
from rnnkit.errors import ConfigError, NumericalError
from rnnkit.lm.model import RNNLM
from rnnkit.lm.step import Decoding
from rnnkit.nn.state import State, select_rows
from rnnkit.text.tokenize import WordTokenizer, level_of

if TYPE_CHECKING:
    from rnnkit.decode.options import SamplingKwargs
    from rnnkit.lm.load import LoadedLM

    if sys.version_info >= (3, 11):
        from typing import Unpack
    else:
        from typing_extensions import Unpack

DeviceLike: TypeAlias = str | torch.device | None

_LEVELS = ("char", "word")

__all__ = [
    "beam_search",
    "check_scores",
    "generate",
    "generate_text",
    "join_steps",
    "normalize_prefix",
    "sample_next",
    "stream",
    "stream_tokens",
    "text_pieces",
    "unknown_tokens",
    "warm_up",
]


# --------------------------------------------------------------------------- checks


def _check_call(
    options: SamplingOptions, level: str | WordTokenizer, generator: torch.Generator | None
) -> None:
    """What `SamplingOptions` cannot check: the model's level and seed-or-generator."""
    if not isinstance(options, SamplingOptions):
        raise ConfigError(f"options must be a SamplingOptions, got {type(options).__name__}")
    if level_of(level) not in _LEVELS:
        raise ConfigError(f"unknown level {level!r}; choose one of {', '.join(_LEVELS)}")
    if options.seed is not None and generator is not None:
        raise ConfigError("pass either seed or generator, not both")


# The fix a non-finite score calls for: the weights (not the options) are at fault.
OVERFLOW_FIX = (
    "the model's weights overflow: retrain with a smaller train.lr or with clipping (train.clip)"
)


def check_scores(scores: Tensor, what: str = "next-token scores") -> None:
    """Raise `NumericalError` unless every row has a finite maximum (no NaN, no `+inf`, not
    all `-inf`); `-inf` alone marks an impossible token. One reduction and one sync.

    Shape:
        scores (..., V)
    """
    if not bool(torch.isfinite(scores.amax(dim=-1)).all()):
        raise NumericalError(f"the model's {what} are not finite (inf or NaN); {OVERFLOW_FIX}")


# --------------------------------------------------------------------------- set-up


def _make_generator(seed: int | None, generator: torch.Generator | None) -> torch.Generator:
    """The caller's generator, or a fresh CPU one (seeded by `random_seed` when seed is None)."""
    if generator is not None:
        return generator
    if seed is None:
        seed = random_seed()
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
        raise ConfigError(f"unknown device {device!r}; use auto, cpu or cuda") from None
    if wanted.type != home.type:
        raise ConfigError(
            f"the model is on {home} but device {wanted} was asked for; "
            "move the model with model.to(device) or leave device unset"
        )
    return home


def _unigram_logits(vocab: VocabLike) -> Tensor:
    """Log of the training unigram distribution, `-inf` for zero-count tokens. Shape: (V,)."""
    counts = torch.tensor([float(c) for c in vocab.counts], dtype=torch.float64)  # (V,)
    if counts.numel() == 0 or not bool((counts > 0).any()):
        raise ConfigError(
            "the vocabulary has no token counts to draw a first token from; give a prefix"
        )
    return (counts / counts.sum()).log().float()  # (V,)


def _set_eval(model: nn.Module) -> Callable[[], None]:
    """Put the model in eval mode; returns a function that restores every submodule's mode."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()

    def restore() -> None:
        for module, training in modes:
            module.training = training

    return restore


def _forward(model: nn.Module, ids: Tensor, state: State | None) -> tuple[Tensor, State | None]:
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
        best, token = logits.max(dim=-1)  # (N,), (N,): NaN propagates into `best`
        if not all(map(math.isfinite, best.tolist())):  # the sync the caller makes anyway
            raise NumericalError(
                f"the model's next-token scores are not finite (inf or NaN); {OVERFLOW_FIX}"
            )
        return token
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
    if probs.device.type != "cpu":  # a device-side assert would not be catchable
        check_scores(probs, "next-token probabilities")
    try:  # on CPU, multinomial itself refuses inf / NaN: no extra pass over V per token
        picked = torch.multinomial(probs, 1, generator=generator)  # (N, 1)
    except RuntimeError as exc:
        if "probability tensor" not in str(exc):
            raise
        raise NumericalError(
            f"the model's next-token probabilities are not finite (inf or NaN); {OVERFLOW_FIX}"
        ) from None
    return picked.squeeze(1).to(logits.device)  # (N,)


def warm_up(
    model: nn.Module, ids: Tensor, state: State | None = None
) -> tuple[Tensor, State | None]:
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
    state: State | None,
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
    check_scores(first, "first-token log-probabilities")
    width = min(beam, int(torch.isfinite(first).sum()))
    scores, tokens = first.topk(width)  # (K,), (K,)
    history = tokens.unsqueeze(1)  # (K, 1)
    state = select_rows(state, torch.zeros(width, dtype=torch.long))
    device = _state_device(state, model)
    stepper = Decoding(model, state, width) if isinstance(model, RNNLM) else None
    vocab_size = first.numel()
    for _ in range(length - 1):
        last = history[:, -1].to(device)  # (K,)
        if stepper is not None:
            with torch.no_grad():
                logits = stepper.step(last).float()  # (K, V)
        else:
            logits, state = _forward(model, last.unsqueeze(1), state)  # (K, V)
        log_probs = logits.cpu().log_softmax(dim=-1)  # (K, V)
        check_scores(log_probs, "next-token log-probabilities")
        total = (scores.unsqueeze(1) + log_probs).reshape(-1)  # (K * V,)
        width = min(beam, int(torch.isfinite(total).sum()))
        scores, flat = total.topk(width)  # (K,)
        parent = flat // vocab_size  # (K,)
        token = flat % vocab_size  # (K,)
        history = torch.cat([history[parent], token.unsqueeze(1)], dim=1)  # (K, t + 1)
        if stepper is not None:
            stepper.select(parent.to(device))
        else:
            state = select_rows(state, parent)
    return history, scores


def _state_device(state: State | None, model: nn.Module) -> torch.device:
    if isinstance(state, Tensor):
        return state.device
    if isinstance(state, tuple) and state:
        return state[0].device
    return _model_device(model, None)


# --------------------------------------------------------------------------- on a model


def _first_step(
    model: nn.Module,
    ids: list[int],
    batch: int,
    device: torch.device,
) -> tuple[Tensor | None, State | None]:
    """Warm up on the prefix (repeated over `batch` rows); logits (batch, V) or None if empty."""
    if not ids:
        return None, None
    prefix = torch.tensor(ids, dtype=torch.long, device=device)  # (P,)
    return warm_up(model, prefix.unsqueeze(0).repeat(batch, 1), None)  # (B, V)


def stream_tokens(
    model: nn.Module,
    vocab: VocabLike,
    options: SamplingOptions,
    *,
    level: Level | WordTokenizer = "char",
    generator: torch.Generator | None = None,
    device: DeviceLike = None,
) -> Iterator[list[str]]:
    """Generate text token by token, yielding the new tokens of every sample at each step.

    The prefix (`options.prefix`, as the model reads it: already normalised) is fed once;
    then each step is one single-token forward call carrying the state, all samples
    advancing as one batch. An empty prefix starts from a token drawn from the training
    unigram distribution (`vocab.counts`, zero-count specials excluded; temperature and the
    filters apply to it as to any step, so greedy takes the most frequent token). Prefix
    tokens missing from the vocabulary trigger a warning naming them and are read as
    `<unk>`. Everything is checked on the call, before the first token. The model is in
    eval mode and under no-grad only during its own forward calls.

    Args:
        model: `forward(tokens (B, T), state) -> (logits (B, T, V), state)`.
        vocab: the training vocabulary (`token_to_idx`, `idx_to_token`, `counts`, `unk`).
        options: what to generate; `beam` must be 0 (beam search is `generate_text`).
        level: `"char"`, `"word"` (split at whitespace) or the model's `WordTokenizer`, as
            the model was trained (`LoadedLM.tokenizer`).
        generator: a generator to draw from instead of one seeded by `options.seed`.
        device: where the token ids go; defaults to the model's device, which must match.

    Yields:
        `options.length` lists, each with one new token per sample.

    Raises:
        RnnkitError: a bad option, or an empty prefix with a vocabulary without counts.
        NumericalError: (while iterating) the model's scores became inf or NaN.
    """
    _check_call(options, level, generator)
    if options.beam:
        raise ConfigError(
            f"stream does not run beam search (beam is {options.beam}); "
            "use generate for beam > 0, or beam 0 to stream samples"
        )
    rng = _make_generator(options.seed, generator)
    where = _model_device(model, device)
    ids = _encode_prefix(vocab, options.prefix, level)
    unigram = None if ids else _unigram_logits(vocab)
    return _sample_steps(model, vocab, ids, unigram, options, rng, where)


def _sample_steps(
    model: nn.Module,
    vocab: VocabLike,
    ids: list[int],
    unigram: Tensor | None,
    options: SamplingOptions,
    rng: torch.Generator,
    device: torch.device,
) -> Iterator[list[str]]:
    """The sampling loop behind `stream_tokens` and `generate_text`, once everything is checked."""
    batch = options.num_samples
    logits, state = _first_step(model, ids, batch, device)
    if logits is None:
        assert unigram is not None
        logits = unigram.expand(batch, -1)  # (B, V)
    # An RNNLM steps through `LMStep` (plain tensor ops, no module calls); other models
    # through their forward call, one token at a time.
    stepper = Decoding(model, state, batch) if isinstance(model, RNNLM) else None
    idx_to_token = vocab.idx_to_token
    for step in range(options.length):
        token = sample_next(logits, options.temperature, options.top_k, options.top_p, rng)  # (B,)
        yield [idx_to_token[i] for i in token.tolist()]
        if step + 1 < options.length:
            token = token.to(device)
            if stepper is not None:
                with torch.no_grad():
                    logits = stepper.step(token).float()  # (B, V)
            else:
                logits, state = _forward(model, token.unsqueeze(1), state)  # (B, V)


def generate_text(
    model: nn.Module,
    vocab: VocabLike,
    options: SamplingOptions,
    *,
    level: Level | WordTokenizer = "char",
    generator: torch.Generator | None = None,
    device: DeviceLike = None,
) -> list[str]:
    """Continue `options.prefix` by `options.length` tokens; one string per sample.

    Without beam search this is exactly what `stream_tokens` yields with the same
    arguments, joined by `join_steps`: the prefix verbatim, then the new tokens (with
    spaces at word level). With `options.beam > 0` it runs a deterministic beam search of
    that width over `length`-token continuations, scored by total log-probability, and
    returns the best `num_samples` beams, best first; temperature, top-k, top-p, seed and
    generator are then ignored. An empty prefix starts the beams from the most frequent
    training tokens, scored by their unigram log-probability.

    Args:
        model: `forward(tokens (B, T), state) -> (logits (B, T, V), state)`.
        vocab: the training vocabulary.
        options: what to generate; `options.prefix` as the model reads it (normalised).
        level: as `stream_tokens`.
        generator: a generator to draw from instead of one seeded by `options.seed`.
        device: see `stream_tokens`.

    Returns:
        `options.num_samples` strings (beam search gives fewer only when fewer distinct
        continuations exist, e.g. `length=1` over a tiny vocabulary).

    Raises:
        RnnkitError: a bad option, or an empty prefix with a vocabulary without counts.
    """
    _check_call(options, level, generator)
    where = _model_device(model, device)
    ids = _encode_prefix(vocab, options.prefix, level)
    if options.beam == 0:
        # The very loop `stream_tokens` runs, so the two agree token for token.
        unigram = None if ids else _unigram_logits(vocab)
        rng = _make_generator(options.seed, generator)
        steps = _sample_steps(model, vocab, ids, unigram, options, rng, where)
        return join_steps(options.prefix, steps, level, options.num_samples)

    logits, state = _first_step(model, ids, 1, where)
    first = _unigram_logits(vocab) if logits is None else logits[0].log_softmax(dim=-1)  # (V,)
    beams, _ = beam_search(model, first, state, options.length, options.beam)  # (K, length)
    best = beams[: options.num_samples]  # (K', length), best first
    columns = [[vocab.idx_to_token[i] for i in column] for column in best.T.tolist()]
    return join_steps(options.prefix, columns, level, best.size(0))


# --------------------------------------------------------------------------- on a LoadedLM


def generate(
    lm: LoadedLM,
    prefix: str = "",
    length: int = 100,
    *,
    generator: torch.Generator | None = None,
    options: SamplingOptions | None = None,
    **kwargs: Unpack[SamplingKwargs],
) -> list[str]:
    """Continue `prefix` by `length` tokens; one string (prefix included) per sample.

    The prefix is normalised as the training text was (`data.normalize`). The keyword
    arguments (`SamplingKwargs`: temperature, top_k, top_p, num_samples, beam, seed) are the
    fields of `SamplingOptions` (which checks them); or pass one as `options` instead.
    `beam > 0` runs beam search (see `generate_text`).

        rnnkit.generate(lm, "The ", 200, temperature=0.8, seed=0)     # -> list[str]
        rnnkit.generate(lm, options=SamplingOptions("The ", 200, beam=4, num_samples=2))

    Args:
        lm: a model from `rnnkit.load`.
        generator: a generator to draw from instead of one seeded by `seed`.
        options: all the other arguments at once (leave those at their defaults).

    Raises:
        ConfigError: a bad option (the message names it, its range and the value given).
        NumericalError: the model's scores became inf or NaN (the message names the checkpoint).
    """
    checked = options_from_call(options, prefix, length, kwargs, lm.normalize)
    try:
        return generate_text(
            lm.model, lm.vocab, checked, level=lm.tokenizer, generator=generator, device=lm.device
        )
    except NumericalError as exc:
        raise _named(lm, exc) from None


def stream(
    lm: LoadedLM,
    prefix: str = "",
    length: int = 100,
    *,
    generator: torch.Generator | None = None,
    options: SamplingOptions | None = None,
    **kwargs: Unpack[SamplingKwargs],
) -> Iterator[list[str]]:
    """Yield the new tokens of every sample (a list of `num_samples` strings) step by step.

    Joined with `join_steps`, the steps give what `generate` returns for the same
    arguments. Options are checked on the call, before the first token; see `generate`
    (`beam` must be 0).

        for tokens in rnnkit.stream(lm, "The ", seed=0): ...

    Raises:
        NumericalError: (while iterating) the model's scores became inf or NaN (the message
            names the checkpoint).
    """
    checked = options_from_call(options, prefix, length, kwargs, lm.normalize)
    steps = stream_tokens(
        lm.model, lm.vocab, checked, level=lm.tokenizer, generator=generator, device=lm.device
    )
    return _naming_errors(lm, steps)


def _named(lm: LoadedLM, exc: NumericalError) -> NumericalError:
    """The same error, naming the checkpoint the model came from (when it is known)."""
    if lm.path is None:
        return exc
    return NumericalError(f"checkpoint {lm.path}: {exc}")


def _naming_errors(lm: LoadedLM, steps: Iterator[list[str]]) -> Iterator[list[str]]:
    """`steps`, with a `NumericalError` re-raised naming the checkpoint; closing this
    generator closes `steps` (`yield from`)."""
    try:
        yield from steps
    except NumericalError as exc:
        raise _named(lm, exc) from None
