"""Generation from an exported language model with numpy and onnxruntime only (no torch).

An export folder holds `model.onnx` (one decoding step: `tokens` int64 (B, 1), `h` (L, B, H)
and for an LSTM `c` -> `logits` (B, V), `h_out`, `c_out`), `vocab.json` and `model.json`
(format `rnnkit-onnx`, the resolved config, the metrics). `load_onnx` reads it as an `OnnxLM`
(a `rnnkit.decode.LanguageModel`, as the torch path's `LoadedLM`); `generate` and `stream`
(also its methods) mirror `rnnkit.generate` / `rnnkit.stream`:

    prefix --normalize, tokenize, <unk> warning--> ids --one step per token--> logits
    logits --greedy | temperature, top-k, top-p (numpy Generator) | beam--> token --step--> ...

Same `SamplingOptions` (and messages), prefix normalisation, word joining, empty prefix drawn
from the training unigram counts, and `NumericalError` (naming the model file) on non-finite
scores. Greedy and beam search give what the torch path gives for the same model; seeded
samples are reproducible but drawn by numpy, so they differ from torch's draws.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnkit.config import RunConfig
from rnnkit.decode.options import SamplingOptions, options_from_call, random_seed
from rnnkit.decode.prefix import encode_prefix, join_steps
from rnnkit.errors import CheckpointError, ConfigError, NumericalError
from rnnkit.text.tokenize import WordTokenizer
from rnnkit.text.vocab import Vocab

if TYPE_CHECKING:
    from rnnkit.decode.options import SamplingKwargs

    if sys.version_info >= (3, 11):
        from typing import Unpack
    else:
        from typing_extensions import Unpack

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "OnnxLM",
    "generate",
    "load_onnx",
    "parameter_count",
    "sample_next",
    "stream",
]

FORMAT = "rnnkit-onnx"
FORMAT_VERSION = 1
_LEVELS = ("char", "word")
# The same fix `rnnkit.lm.generation` names: the weights, not the options, are at fault.
_OVERFLOW_FIX = (
    "the model's weights overflow: retrain with a smaller train.lr or with clipping (train.clip)"
)

State = tuple[np.ndarray, ...]  # (h,) or (h, c), each (L, B, H) float32


# --------------------------------------------------------------------------- loading


@dataclass
class OnnxLM:
    """An exported language model ready to sample: `session` (onnxruntime), `vocab`, `config`,
    `meta` (model.json), `metrics`, `best` (best validation row), `corpus`, `path` (model.onnx)."""

    session: Any
    vocab: Vocab
    config: RunConfig
    meta: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)
    corpus: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def level(self) -> str:
        """`char` or `word`: how generated tokens are joined."""
        return str(self.meta.get("level", self.config.data.level))

    @property
    def tokenizer(self) -> str | WordTokenizer:
        """How a prefix is split: "char", or the `WordTokenizer` the model was trained with."""
        return "char" if self.level == "char" else WordTokenizer.from_data(self.config.data)

    @property
    def normalize(self) -> str:
        """The training text's `data.normalize`, applied to every prefix."""
        return str(self.meta.get("normalize", self.config.data.normalize))

    @property
    def parameters(self) -> int | None:
        """The number of weights (`parameter_count`; None without `onnx` to count them)."""
        return parameter_count(self)

    @property
    def history(self) -> list[dict[str, Any]]:
        """The metrics rows of training, from model.json (empty when it has none)."""
        rows = self.meta.get("history")
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def generate(
        self,
        prefix: str = "",
        length: int = 100,
        *,
        rng: np.random.Generator | None = None,
        options: SamplingOptions | None = None,
        **kwargs: Unpack[SamplingKwargs],
    ) -> list[str]:
        """The module's `generate` on this model: one string (prefix included) per sample."""
        return generate(self, prefix, length, rng=rng, options=options, **kwargs)

    def stream(
        self,
        prefix: str = "",
        length: int = 100,
        *,
        rng: np.random.Generator | None = None,
        options: SamplingOptions | None = None,
        **kwargs: Unpack[SamplingKwargs],
    ) -> Iterator[list[str]]:
        """The module's `stream` on this model: the new tokens of every sample, step by step."""
        return stream(self, prefix, length, rng=rng, options=options, **kwargs)

    @property
    def has_cell(self) -> bool:
        """Whether the state is (h, c) (an LSTM) rather than h."""
        return "c" in {i.name for i in self.session.get_inputs()}

    def begin_state(self, batch: int) -> State:
        """Zeros, (L, batch, H) each."""
        shape = (int(self.meta["num_layers"]), batch, int(self.meta["hidden_size"]))
        h = np.zeros(shape, dtype=np.float32)
        return (h, h.copy()) if self.has_cell else (h,)

    def step(self, tokens: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """One decoding step of every sequence.

        Shape:
            tokens (B,) -> logits (B, V) float32; state (L, B, H) each, in and out
        """
        feed = {"tokens": tokens.astype(np.int64).reshape(-1, 1), "h": state[0]}
        if self.has_cell:
            feed["c"] = state[1]
        names = ["logits", "h_out", "c_out"] if self.has_cell else ["logits", "h_out"]
        logits, *new_state = self.session.run(names, feed)
        return np.asarray(logits, dtype=np.float32), tuple(new_state)


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(
            f"{file} is missing; an export folder holds model.onnx, model.json and vocab.json"
        ) from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {file}: {exc}") from None


def load_onnx(path: str | Path, threads: int = 0) -> OnnxLM:
    """Load an export folder (or its `model.onnx`) for CPU inference with onnxruntime.

    Args:
        path: the export folder, or the `model.onnx` inside it (model.json and vocab.json
            are read next to it).
        threads: onnxruntime intra-op threads (0 = its default).
    """
    path = Path(path)
    folder, onnx_file = (path, path / "model.onnx") if path.is_dir() else (path.parent, path)
    if not onnx_file.is_file():
        raise CheckpointError(
            f"{onnx_file} does not exist; pass an export folder or its model.onnx"
        )
    meta = _read_json(folder / "model.json")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{folder / 'model.json'} is not an rnnkit export (format {FORMAT})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{folder / 'model.json'} has export format {meta.get('format_version')!r}, this "
            f"rnnkit reads format {FORMAT_VERSION}; export again with this rnnkit"
        )
    if meta.get("task") != "lm":
        raise CheckpointError(f"{folder} holds a {meta.get('task')!r} export, not a language model")
    try:
        vocab = Vocab.from_dict(_read_json(folder / "vocab.json"))
    except ConfigError as exc:
        raise CheckpointError(f"{folder / 'vocab.json'}: {exc}") from None
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError(
            "reading an ONNX export needs onnxruntime; install it with `pip install onnxruntime`"
        ) from None
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for broken files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"cannot read {onnx_file}: {first}") from None
    _check_graph(session, meta, len(vocab), folder / "model.json")
    return OnnxLM(
        session=session,
        vocab=vocab,
        config=RunConfig.from_dict(meta.get("config", {})),
        meta=meta,
        metrics=meta.get("metrics") or {},
        best=meta.get("best_metrics") or {},
        corpus=meta.get("corpus") or {},
        path=onnx_file,
    )


def _check_graph(session: Any, meta: dict[str, Any], vocab_size: int, meta_file: Path) -> None:
    """Refuse (one line) a model.json that disagrees with its model.onnx: the state inputs
    must be `(num_layers, batch, hidden_size)` and the logits `(batch, vocab size)`, as the
    graph declares them (a symbolic batch dimension matches anything)."""
    layers, hidden = meta.get("num_layers"), meta.get("hidden_size")
    want = {name: [layers, None, hidden] for name in ("h", "c")}
    declared = {i.name: list(i.shape) for i in session.get_inputs()}
    declared |= {o.name: list(o.shape) for o in session.get_outputs() if o.name == "logits"}
    want["logits"] = [None, vocab_size]
    for name, shape in declared.items():
        expected = want.get(name)
        if expected is None or len(expected) != len(shape):
            continue
        clash = [
            (w, d)
            for w, d in zip(expected, shape, strict=True)
            if isinstance(d, int) and w is not None and d != w
        ]
        if clash:
            raise CheckpointError(
                f"{meta_file} does not match its model.onnx: the graph's {name} is {shape}, "
                f"model.json and vocab.json say num_layers {layers}, hidden_size {hidden}, "
                f"vocabulary {vocab_size}; export the run again (or restore model.json)"
            )


def parameter_count(lm: OnnxLM) -> int | None:
    """The model's weights: model.json's `parameters` if it has one, else the elements of the
    floating-point, non-scalar initializers of model.onnx, counted with `onnx` (None without
    it). That is the torch count, except that a one-hot model's input bias is folded into
    its input table."""
    given = lm.meta.get("parameters")
    if isinstance(given, int) and not isinstance(given, bool):
        return given
    if lm.path is None:
        return None
    try:
        import onnx
    except ImportError:  # the runtime needs only onnxruntime: no count without onnx
        return None

    try:
        graph = onnx.load(str(lm.path), load_external_data=False).graph
    except Exception:  # a file onnxruntime reads but this onnx cannot: no count, no failure
        return None
    floats = {
        onnx.TensorProto.FLOAT,
        onnx.TensorProto.FLOAT16,
        onnx.TensorProto.BFLOAT16,
        onnx.TensorProto.DOUBLE,
    }
    weights = [t for t in graph.initializer if t.data_type in floats and len(t.dims) > 0]
    return sum(math.prod(t.dims) for t in weights)  # scalars are the graph's own constants


# --------------------------------------------------------------------------- building blocks


def _check_scores(scores: np.ndarray, what: str = "next-token scores") -> None:
    """`NumericalError` unless every row has a finite maximum. Shape: scores (..., V)."""
    if not bool(np.isfinite(scores.max(axis=-1)).all()):
        raise NumericalError(f"the model's {what} are not finite (inf or NaN); {_OVERFLOW_FIX}")


def _softmax(scores: np.ndarray) -> np.ndarray:
    """Row softmax; a row of only `-inf` gives NaN (as torch's). Shape: (N, V) -> (N, V)."""
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = scores - scores.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(scores: np.ndarray) -> np.ndarray:
    """Row log-softmax in the scores' dtype. Shape: (..., V) -> (..., V)."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        shifted = scores - scores.max(axis=-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` largest values, largest first (ties: lower index first)."""
    return np.argsort(-values, kind="stable")[:k]


def sample_next(
    logits: np.ndarray,
    temperature: float,
    top_k: int,
    top_p: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw one token per row after temperature, top-k and top-p filtering (as torch's
    `sample_next`; `temperature == 0` is argmax).

    Shape:
        logits (N, V) -> (N,) int64
    """
    if temperature == 0:
        _check_scores(logits)
        return logits.argmax(axis=-1)
    scores = logits.astype(np.float32) / np.float32(temperature)  # (N, V)
    vocab_size = scores.shape[-1]
    if 0 < top_k < vocab_size:
        kth = -np.sort(-scores, axis=-1)[:, top_k - 1 : top_k]  # (N, 1)
        scores = np.where(scores < kth, -np.inf, scores).astype(np.float32)
    if top_p < 1:
        order = np.argsort(-scores, axis=-1, kind="stable")  # (N, V)
        sorted_scores = np.take_along_axis(scores, order, axis=-1)
        probs = _softmax(sorted_scores)
        mass_before = probs.cumsum(axis=-1) - probs  # (N, V)
        sorted_scores = np.where(mass_before >= top_p, -np.inf, sorted_scores)
        scores = np.full_like(scores, -np.inf)
        np.put_along_axis(scores, order, sorted_scores.astype(np.float32), axis=-1)
    probs = _softmax(scores).astype(np.float64)  # (N, V)
    _check_scores(probs, "next-token probabilities")
    cumulative = probs.cumsum(axis=-1)  # (N, V)
    draws = rng.random(scores.shape[0]) * cumulative[:, -1]  # (N,)
    picked = (cumulative <= draws[:, None]).sum(axis=-1)  # (N,)
    return np.minimum(picked, vocab_size - 1).astype(np.int64)


def _unigram_logits(vocab: Vocab) -> np.ndarray:
    """Log of the training unigram distribution, `-inf` for zero counts. Shape: (V,)."""
    counts = np.asarray([float(c) for c in vocab.counts], dtype=np.float64)
    if counts.size == 0 or not bool((counts > 0).any()):
        raise ConfigError(
            "the vocabulary has no token counts to draw a first token from; give a prefix"
        )
    with np.errstate(divide="ignore"):
        return np.log(counts / counts.sum()).astype(np.float32)


def _warm_up(lm: OnnxLM, ids: list[int], batch: int) -> tuple[np.ndarray, State]:
    """Feed the prefix one step at a time (batch rows alike). Shape: -> logits (batch, V)."""
    state = lm.begin_state(batch)
    logits = np.zeros((batch, len(lm.vocab)), dtype=np.float32)
    for token in ids:
        logits, state = lm.step(np.full(batch, token, dtype=np.int64), state)
    return logits, state


def _beam_search(lm: OnnxLM, first: np.ndarray, state: State, length: int, beam: int) -> np.ndarray:
    """Beam search as torch's `beam_search`. Shape: first (V,) -> tokens (K, length), best first."""
    _check_scores(first, "first-token log-probabilities")
    width = min(beam, int(np.isfinite(first).sum()))
    tokens = _top(first, width)  # (K,)
    scores = first[tokens]  # (K,)
    history = tokens[:, None]  # (K, 1)
    state = tuple(s[:, np.zeros(width, dtype=np.int64)] for s in state)
    vocab_size = first.size
    for _ in range(length - 1):
        logits, state = lm.step(history[:, -1], state)  # (K, V)
        log_probs = _log_softmax(logits)
        _check_scores(log_probs, "next-token log-probabilities")
        total = (scores[:, None] + log_probs).reshape(-1)  # (K * V,)
        width = min(beam, int(np.isfinite(total).sum()))
        flat = _top(total, width)  # (K,)
        scores = total[flat]
        parent, token = flat // vocab_size, flat % vocab_size
        history = np.concatenate([history[parent], token[:, None]], axis=1)  # (K, t + 1)
        state = tuple(s[:, parent] for s in state)
    return history


# --------------------------------------------------------------------------- the loops


def _sample_steps(
    lm: OnnxLM, ids: list[int], options: SamplingOptions, rng: np.random.Generator
) -> Iterator[list[str]]:
    """The sampling loop behind `stream` and `generate`, once everything is checked."""
    batch = options.num_samples
    if ids:
        logits, state = _warm_up(lm, ids, batch)
    else:
        logits = np.broadcast_to(_unigram_logits(lm.vocab), (batch, len(lm.vocab)))
        state = lm.begin_state(batch)
    idx_to_token = lm.vocab.idx_to_token
    for step in range(options.length):
        token = sample_next(logits, options.temperature, options.top_k, options.top_p, rng)
        yield [idx_to_token[i] for i in token.tolist()]
        if step + 1 < options.length:
            logits, state = lm.step(token, state)


def _options(
    lm: OnnxLM,
    options: SamplingOptions | None,
    call: tuple[str, int, Mapping[str, Any]],
    rng: np.random.Generator | None,
) -> SamplingOptions:
    """The call's options (`call`: its prefix, length and keywords; or `options=`, never
    both), prefix normalised."""
    if lm.level not in _LEVELS:
        raise ConfigError(f"unknown level {lm.level!r}; choose one of {', '.join(_LEVELS)}")
    resolved = options_from_call(options, *call, lm.normalize)
    if resolved.seed is not None and rng is not None:
        raise ConfigError("pass either seed or rng, not both")
    return resolved


def _rng(options: SamplingOptions, rng: np.random.Generator | None) -> np.random.Generator:
    if rng is not None:
        return rng
    seed = random_seed() if options.seed is None else options.seed
    return np.random.default_rng(seed % 2**64)


def _named(lm: OnnxLM, exc: NumericalError) -> NumericalError:
    return exc if lm.path is None else NumericalError(f"model {lm.path}: {exc}")


def generate(
    lm: OnnxLM,
    prefix: str = "",
    length: int = 100,
    *,
    rng: np.random.Generator | None = None,
    options: SamplingOptions | None = None,
    **kwargs: Unpack[SamplingKwargs],
) -> list[str]:
    """Continue `prefix` by `length` tokens; one string (prefix included) per sample.

    As `rnnkit.generate` (same options, checks and joining; `beam > 0` is beam search),
    with a numpy `rng` in place of a torch generator.

    Raises:
        ConfigError: a bad option.
        NumericalError: the model's scores became inf or NaN (the message names the file).
    """
    checked = _options(lm, options, (prefix, length, kwargs), rng)
    ids = encode_prefix(lm.vocab, checked.prefix, lm.tokenizer)
    try:
        if checked.beam == 0:
            if not ids:
                _unigram_logits(lm.vocab)  # an error now, before any step
            steps = _sample_steps(lm, ids, checked, _rng(checked, rng))
            return join_steps(checked.prefix, steps, lm.tokenizer, checked.num_samples)
        if ids:
            logits, state = _warm_up(lm, ids, 1)
            first = _log_softmax(logits[0])
        else:
            first, state = _unigram_logits(lm.vocab), lm.begin_state(1)
        beams = _beam_search(lm, first, state, checked.length, checked.beam)
    except NumericalError as exc:
        raise _named(lm, exc) from None
    best = beams[: checked.num_samples]  # (K', length), best first
    columns = [[lm.vocab.idx_to_token[i] for i in column] for column in best.T.tolist()]
    return join_steps(checked.prefix, columns, lm.tokenizer, best.shape[0])


def stream(
    lm: OnnxLM,
    prefix: str = "",
    length: int = 100,
    *,
    rng: np.random.Generator | None = None,
    options: SamplingOptions | None = None,
    **kwargs: Unpack[SamplingKwargs],
) -> Iterator[list[str]]:
    """Yield the new tokens of every sample step by step (as `rnnkit.stream`); joined with
    `join_steps` they give what `generate` returns. Options are checked on the call."""
    checked = _options(lm, options, (prefix, length, kwargs), rng)
    if checked.beam:
        raise ConfigError(
            f"stream does not run beam search (beam is {checked.beam}); "
            "use generate for beam > 0, or beam 0 to stream samples"
        )
    generator = _rng(checked, rng)
    ids = encode_prefix(lm.vocab, checked.prefix, lm.tokenizer)
    if not ids:
        _unigram_logits(lm.vocab)
    return _naming_errors(lm, _sample_steps(lm, ids, checked, generator))


def _naming_errors(lm: OnnxLM, steps: Iterator[list[str]]) -> Iterator[list[str]]:
    """`steps`, with a `NumericalError` re-raised naming the model file."""
    try:
        yield from steps
    except NumericalError as exc:
        raise _named(lm, exc) from None
