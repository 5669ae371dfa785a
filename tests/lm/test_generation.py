"""Tests for `rnnkit.lm.generation` and `rnnkit.decode.options`: stateful greedy /
sampling / top-k / top-p / beam search, the options' checks, and joining tokens to a prefix."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import Tensor, nn

import rnnkit
from rnnkit.config import RunConfig
from rnnkit.decode.options import (
    LIMITS,
    Bound,
    SamplingOptionError,
    SamplingOptions,
    check_sampling,
    random_seed,
)
from rnnkit.errors import ConfigError, RnnkitError
from rnnkit.lm.generation import (
    beam_search,
    generate_text,
    join_steps,
    sample_next,
    stream_tokens,
    text_pieces,
    warm_up,
)
from rnnkit.lm.load import LoadedLM
from rnnkit.lm.model import RNNLM
from rnnkit.text.vocab import Vocab

CHARS = list("abcdefgh ")


def generate(
    model: nn.Module,
    vocab: Any,
    prefix: str = "",
    length: int = 100,
    *,
    level: str = "char",
    generator: torch.Generator | None = None,
    device: Any = None,
    **fields: Any,
) -> list[str]:
    """`generate_text` with the options written out as keyword arguments (shorter tests)."""
    options = SamplingOptions(prefix, length, **fields)
    return generate_text(model, vocab, options, level=level, generator=generator, device=device)


def stream(
    model: nn.Module,
    vocab: Any,
    prefix: str = "",
    length: int = 100,
    *,
    level: str = "char",
    generator: torch.Generator | None = None,
    **fields: Any,
) -> Iterator[list[str]]:
    """`stream_tokens` with the options written out as keyword arguments."""
    options = SamplingOptions(prefix, length, **fields)
    return stream_tokens(model, vocab, options, level=level, generator=generator)


class TinyVocab:
    """Stand-in with the `Vocab` API that generation uses (index 0 is `<unk>`)."""

    def __init__(self, tokens: list[str], counts: list[int] | None = None) -> None:
        self.idx_to_token = ["<unk>", *tokens]
        self.token_to_idx = {t: i for i, t in enumerate(self.idx_to_token)}
        self.counts = counts if counts is not None else [0] + [1] * len(tokens)
        self.unk = 0

    def __len__(self) -> int:
        return len(self.idx_to_token)


class TinyLM(nn.Module):
    """Embedding -> GRU or LSTM -> Linear, with `RNNLM`'s forward / begin_state signature."""

    def __init__(self, vocab_size: int, hidden: int = 16, kind: str = "gru", seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.embed = nn.Embedding(vocab_size, 8)
        rnn_cls = nn.GRU if kind == "gru" else nn.LSTM
        self.rnn = rnn_cls(8, hidden, num_layers=2, batch_first=True, dropout=0.5)
        self.head = nn.Linear(hidden, vocab_size)
        self.calls: list[tuple[int, ...]] = []

    def begin_state(self, batch_size: int, device: torch.device) -> Tensor:
        return torch.zeros(2, batch_size, self.rnn.hidden_size, device=device)

    def forward(self, tokens: Tensor, state=None):
        self.calls.append(tuple(tokens.shape))
        out, state = self.rnn(self.embed(tokens), state)  # (B, T, H)
        return self.head(out) * 3.0, state  # (B, T, V): sharper than init gives


class BigramLM(nn.Module):
    """Next-token log-probabilities depend only on the last token; a dummy state (1, B, 1)."""

    def __init__(self, log_probs: Tensor) -> None:
        super().__init__()
        self.table = nn.Parameter(log_probs, requires_grad=False)  # (V, V)

    def forward(self, tokens: Tensor, state=None):
        if state is None:
            state = torch.zeros(1, tokens.size(0), 1)
        return self.table[tokens], state  # (B, T, V)


@pytest.fixture
def vocab() -> TinyVocab:
    return TinyVocab(CHARS)


@pytest.fixture
def model(vocab: TinyVocab) -> TinyLM:
    return TinyLM(len(vocab))


def naive_greedy(model: nn.Module, vocab: TinyVocab, prefix: str, length: int) -> str:
    """Re-run the whole text from scratch for every token: no state carried."""
    ids = [vocab.token_to_idx[c] for c in prefix]
    model.eval()
    with torch.no_grad():
        for _ in range(length):
            logits, _ = model(torch.tensor([ids]), None)
            ids.append(int(logits[0, -1].argmax()))
    return prefix + "".join(vocab.idx_to_token[i] for i in ids[len(prefix) :])


def test_greedy_is_deterministic_and_matches_full_recompute(model, vocab) -> None:
    out = generate(model, vocab, "abc ", 12, temperature=0)
    assert out == generate(model, vocab, "abc ", 12, temperature=0, seed=5)
    assert out == [naive_greedy(model, vocab, "abc ", 12)]
    lstm = TinyLM(len(vocab), kind="lstm", seed=1)
    assert generate(lstm, vocab, "hag", 10, temperature=0) == [naive_greedy(lstm, vocab, "hag", 10)]


def test_seeds_reproduce_and_differ(model, vocab) -> None:
    a = generate(model, vocab, "ab", 30, seed=1, num_samples=3)
    assert a == generate(model, vocab, "ab", 30, seed=1, num_samples=3)
    assert a != generate(model, vocab, "ab", 30, seed=2, num_samples=3)
    assert len(set(a)) > 1  # the samples of one batch differ from each other
    g = torch.Generator().manual_seed(1)
    assert generate(model, vocab, "ab", 30, generator=g, num_samples=3) == a


def test_stream_joined_equals_generate(model, vocab) -> None:
    steps = list(stream(model, vocab, "ab", 15, seed=3, num_samples=2, top_k=4, top_p=0.9))
    assert len(steps) == 15 and all(len(s) == 2 for s in steps)
    joined = ["ab" + "".join(col) for col in zip(*steps, strict=True)]
    assert joined == generate(model, vocab, "ab", 15, seed=3, num_samples=2, top_k=4, top_p=0.9)


def test_top_k_one_and_tiny_top_p_are_greedy(model, vocab) -> None:
    greedy = generate(model, vocab, "ba", 20, temperature=0)
    assert generate(model, vocab, "ba", 20, top_k=1, seed=0) == greedy
    assert generate(model, vocab, "ba", 20, top_p=1e-9, seed=0, temperature=2.0) == greedy


def test_sample_next_filters() -> None:
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0]]).expand(500, 4)  # (N, V)
    g = torch.Generator().manual_seed(0)
    assert set(sample_next(logits, 1.0, 2, 1.0, g).tolist()) == {2, 3}
    # softmax of [0,1,2,3] is [.03, .09, .24, .64]: mass .64 < .8 so the nucleus is {3, 2}.
    assert set(sample_next(logits, 1.0, 0, 0.8, g).tolist()) == {2, 3}
    assert set(sample_next(logits, 1.0, 0, 1.0, g).tolist()) == {0, 1, 2, 3}
    assert sample_next(logits, 0.0, 0, 1.0, None).tolist() == [3] * 500


def test_empty_prefix_draws_from_counts(model) -> None:
    only_c = TinyVocab(CHARS, counts=[0, 0, 0, 5, 0, 0, 0, 0, 0, 0])  # only "c" was seen
    for seed in range(5):
        (text,) = generate(model, only_c, "", 3, seed=seed)
        assert text[0] == "c"
    skewed = TinyVocab(CHARS, counts=[0, 1, 9, 2, 0, 0, 0, 0, 0, 0])
    assert generate(model, skewed, "", 1, temperature=0) == ["b"]  # the most frequent
    assert generate(model, skewed, "", 4, beam=2)[0][0] in "ab"


def test_unknown_prefix_token_warns_and_maps_to_unk(model, vocab) -> None:
    with pytest.warns(UserWarning, match=r"'Z'.*'!'"):
        (text,) = generate(model, vocab, "aZb!", 5, temperature=0)
    assert text.startswith("aZb!")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = generate(model, vocab, "a\x00b\x01", 5, temperature=0)  # also unknown
    assert text[4:] == ref[0][4:]


def test_word_level_joins_with_spaces(model) -> None:
    words = TinyVocab(["the", "time", "machine", "traveller", "is", "a", "b", "c"])
    (text,) = generate(model, words, "the time", 4, level="word", temperature=0)
    parts = text.split(" ")
    assert parts[:2] == ["the", "time"] and len(parts) == 6


def test_beam_one_is_greedy_and_wider_beams_are_exact(model, vocab) -> None:
    greedy = generate(model, vocab, "ab", 8, temperature=0)
    assert generate(model, vocab, "ab", 8, beam=1, temperature=0.5, seed=3) == greedy

    # Greedy takes "a" (.6) then "a" (.3): .18; the beam finds "b" then "c": .4 * 1.0.
    P = torch.tensor(
        [
            [0.0, 0.6, 0.4, 0.0, 0.0],  # from <unk>, the start
            [0.1, 0.3, 0.2, 0.2, 0.2],  # from "a"
            [0.0, 0.0, 0.0, 1.0, 0.0],  # from "b"
            [0.2, 0.2, 0.2, 0.2, 0.2],
            [0.2, 0.2, 0.2, 0.2, 0.2],
        ]
    )
    bigram = BigramLM(P.clamp_min(1e-9).log())
    toks = TinyVocab(list("abcd"))  # index 1 "a", 2 "b", 3 "c", 4 "d"; 0 is the <unk> start
    start = "\x00"  # unknown: read as <unk> (index 0), the bigram's start row
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert generate(bigram, toks, start, 2, temperature=0) == [start + "aa"]
        assert generate(bigram, toks, start, 2, beam=2) == [start + "bc"]

    # With beam >= V ** (length - 1) the search is exhaustive: compare with brute force.
    torch.manual_seed(0)
    rand = BigramLM(torch.randn(5, 5).log_softmax(-1))
    state = torch.zeros(1, 1, 1)
    length, width = 3, 25
    tokens, scores = beam_search(rand, rand.table[0], state, length, width)
    brute = sorted(
        (
            float(rand.table[0, s[0]] + rand.table[s[0], s[1]] + rand.table[s[1], s[2]]),
            s,
        )
        for s in itertools.product(range(5), repeat=3)
    )[::-1][:width]
    assert [tuple(t) for t in tokens.tolist()] == [s for _, s in brute]
    assert scores.tolist() == pytest.approx([sc for sc, _ in brute], abs=1e-5)
    assert generate(model, vocab, "ab", 5, beam=3, num_samples=3) == generate(
        model, vocab, "ab", 5, beam=3, num_samples=3
    )


def test_cost_one_warm_up_then_single_steps(model, vocab) -> None:
    model.calls.clear()
    generate(model, vocab, "abcdefg", 10, num_samples=4, seed=0)
    assert model.calls == [(4, 7)] + [(4, 1)] * 9  # warm-up, then length - 1 steps
    model.calls.clear()
    generate(model, vocab, "abc", 6, beam=3)
    assert model.calls == [(1, 3)] + [(3, 1)] * 5


def test_warm_up_equals_step_by_step(model) -> None:
    ids = torch.tensor([[1, 2, 3, 4]])
    logits, state = warm_up(model, ids)
    step_state = None
    for t in range(4):
        step_logits, step_state = warm_up(model, ids[:, t : t + 1], step_state)
    torch.testing.assert_close(logits, step_logits)
    torch.testing.assert_close(state, step_state)


def test_model_mode_grad_and_global_rng_untouched(model, vocab) -> None:
    model.train()
    rng = torch.get_rng_state()
    it = stream(model, vocab, "ab", 5, seed=0)
    next(it)
    assert model.training and torch.is_grad_enabled()  # nothing leaks between yields
    list(it)
    generate(model, vocab, "", 5, num_samples=2)  # seed None: still a private generator
    generate(model, vocab, "ab", 5, beam=2)
    assert torch.equal(torch.get_rng_state(), rng)
    assert model.training and all(m.training for m in model.modules())
    # dropout is off during generation: greedy in train mode equals greedy in eval mode
    assert generate(model, vocab, "ab", 8, temperature=0) == [naive_greedy(model, vocab, "ab", 8)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"length": 0}, "length"),
        ({"length": 100_001}, "length"),
        ({"length": 2.5}, "length"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": math.nan}, "temperature"),
        ({"top_k": -1}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"num_samples": 0}, "num_samples"),
        ({"num_samples": 1025}, "num_samples"),
        ({"beam": -1}, "beam"),
        ({"beam": 2, "num_samples": 3}, "beam"),
        ({"level": "byte"}, "level"),
        ({"seed": 1, "generator": torch.Generator()}, "seed or generator"),
    ],
)
def test_validation(model, vocab, kwargs, match) -> None:
    with pytest.raises(ConfigError, match=match):
        generate(model, vocab, "ab", **{"length": 3, **kwargs})
    if "beam" not in kwargs:
        with pytest.raises(ConfigError, match=match):
            stream(model, vocab, "ab", **{"length": 3, **kwargs})  # raised on call


def test_empty_prefix_without_counts_is_an_error(model) -> None:
    no_counts = TinyVocab(CHARS, counts=[0] * 10)
    with pytest.raises(RnnkitError, match="prefix"):
        generate(model, no_counts, "", 3)


def test_device_argument(model, vocab) -> None:
    assert generate(model, vocab, "ab", 3, temperature=0, device="cpu") == generate(
        model, vocab, "ab", 3, temperature=0, device=torch.device("cpu")
    )
    with pytest.raises(RnnkitError, match="device"):
        generate(model, vocab, "ab", 3, device="tpu")


@pytest.mark.parametrize(("kind", "input_mode"), [("lstm", "onehot"), ("gru", "embedding")])
def test_real_rnnlm_and_vocab(kind: str, input_mode: str) -> None:
    language_model = pytest.importorskip("rnnkit.lm.model")
    vocab_module = pytest.importorskip("rnnkit.text.vocab")
    real_vocab = vocab_module.Vocab.build("the time traveller ")
    torch.manual_seed(0)
    lm = language_model.RNNLM(
        len(real_vocab), kind=kind, hidden_size=8, num_layers=2, input_mode=input_mode
    )
    greedy = generate(lm, real_vocab, "the t", 8, temperature=0)
    assert greedy == [naive_greedy(lm, real_vocab, "the t", 8)]
    assert generate(lm, real_vocab, "the t", 8, beam=1) == greedy
    samples = generate(lm, real_vocab, "", 8, num_samples=3, seed=0)
    assert samples == generate(lm, real_vocab, "", 8, num_samples=3, seed=0)
    assert all(s[0] in "the imrvl" for s in samples)  # first tokens: counted ones only


# --------------------------------------------------------------------------- SamplingOptions


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"length": 0}, "length must be an integer in [1, 100000], got 0"),
        ({"length": 2.5}, "length must be an integer in [1, 100000], got 2.5"),
        ({"length": True}, "length must be an integer in [1, 100000], got True"),
        (
            {"temperature": -0.1},
            "temperature must be a number in [0, inf), got -0.1 (0 = greedy)",
        ),
        ({"temperature": math.inf}, "temperature must be a number in [0, inf), got inf"),
        ({"top_k": -1}, "top_k must be an integer in [0, 2147483647], got -1"),
        ({"top_p": 0.0}, "top_p must be a number in (0, 1], got 0.0 (1 keeps every token)"),
        ({"top_p": "1"}, "top_p must be a number in (0, 1], got '1'"),
        ({"num_samples": -3}, "num_samples must be an integer in [1, 1024], got -3"),
        ({"beam": 1025}, "beam must be an integer in [0, 1024], got 1025"),
        (
            {"beam": 2, "num_samples": 3},
            "num_samples must be an integer in [1, 2] when beam is 2, got 3",
        ),
        ({"seed": 1.0}, "seed must be an integer or None, got 1.0"),
        ({"prefix": None}, "prefix must be a string, got None"),
    ],
)
def test_bad_options_name_the_option_its_range_and_the_value(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(SamplingOptionError) as info:
        SamplingOptions(**fields)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ConfigError) and "\n" not in str(info.value)
    assert info.value.option == ("num_samples" if len(fields) > 1 else next(iter(fields)))


def test_entry_points_tighten_the_limits_and_spell_the_names() -> None:
    tight = LIMITS.tighten(length=2000, prefix=10, seed=Bound(0, 99), top_p=5.0)
    assert tight.length == Bound(1, 2000) and tight.prefix == Bound(None, 10)
    assert tight.top_p == LIMITS.top_p  # a wider bound leaves the range as it was
    flag = lambda name: "--" + name.replace("_", "-")  # noqa: E731
    cases = [
        ({"length": 2001}, tight, str, "length must be an integer in [1, 2000], got 2001"),
        ({"seed": -1}, tight, str, "seed must be an integer in [0, 99] or None, got -1"),
        ({"prefix": "x" * 11}, tight, str, "prefix must be a string of at most 10 characters"),
        ({"num_samples": -3}, LIMITS, flag, "--num-samples must be an integer in [1, 1024]"),
        ({"beam": 2, "num_samples": 3}, LIMITS, flag, "--num-samples must be an integer in [1, 2]"),
    ]
    for values, limits, spell, message in cases:
        with pytest.raises(SamplingOptionError, match=message.replace("[", r"\[")):
            check_sampling(values, limits, spell)
    options = SamplingOptions.checked({"length": 2000, "seed": 5}, tight)
    assert options == SamplingOptions(length=2000, seed=5)
    with pytest.raises(TypeError, match="no sampling option named 'lenght'"):
        LIMITS.tighten(lenght=5)


def test_options_are_frozen_and_random_seeds_fit_json() -> None:
    options = SamplingOptions("ab", 5)
    with pytest.raises(AttributeError):
        options.length = 6  # type: ignore[misc]
    seeds = {random_seed() for _ in range(20)}
    assert len(seeds) == 20 and all(0 <= s < 2**53 for s in seeds)


# --------------------------------------------------------------------------- joining


def test_text_pieces_put_one_space_between_words() -> None:
    assert text_pieces("ab", 0, ["c", "d"], "char") == ["c", "d"]
    assert text_pieces("the", 0, ["time"], "word") == [" time"]
    assert text_pieces("the ", 0, ["time"], "word") == ["time"]
    assert text_pieces("", 0, ["time"], "word") == ["time"]
    assert text_pieces("", 1, ["time"], "word") == [" time"]
    steps = [("time", "a"), ("machine", "b")]
    assert join_steps("the", steps, "word", 2) == ["the time machine", "the a b"]
    assert join_steps("the\n", steps, "word", 2) == ["the\ntime machine", "the\na b"]
    assert join_steps("ab", [("c",), ("d",)], "char", 1) == ["abcd"]
    assert join_steps("ab", [], "char", 2) == ["ab", "ab"]


# --------------------------------------------------------------------------- on a LoadedLM


@pytest.fixture
def loaded() -> LoadedLM:
    """A LoadedLM without training: d2l-normalised characters."""
    vocab = Vocab.build("the time traveller ")
    config = RunConfig()
    config.data.normalize = "d2l"
    torch.manual_seed(0)
    model = RNNLM(len(vocab), kind="gru", hidden_size=8, num_layers=1).eval()
    return LoadedLM(model=model, vocab=vocab, config=config)


def test_public_generate_and_stream_take_keywords_or_options(loaded: LoadedLM) -> None:
    assert rnnkit.generate is rnnkit.lm.generation.generate
    texts = rnnkit.generate(loaded, "The  Time", 12, num_samples=3, seed=4, top_k=5)
    assert all(t.startswith("the time") for t in texts)  # normalised as in training
    options = SamplingOptions("The  Time", 12, num_samples=3, seed=4, top_k=5)
    assert rnnkit.generate(loaded, options=options) == texts
    steps = list(rnnkit.stream(loaded, options=options))
    assert join_steps("the time", steps, "char", 3) == texts
    beams = rnnkit.generate(loaded, "the", 6, beam=3, num_samples=2)
    options = SamplingOptions("the", 6, beam=3, num_samples=2)
    assert rnnkit.generate(loaded, options=options) == beams


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda lm: rnnkit.generate(lm, "x", options=SamplingOptions()), "not both .*prefix"),
        (lambda lm: rnnkit.stream(lm, seed=1, options=SamplingOptions()), "not both .*seed"),
        (lambda lm: rnnkit.generate(lm, options={"length": 3}), "must be a SamplingOptions"),
        (lambda lm: rnnkit.stream(lm, options=SamplingOptions(beam=2)), "beam search"),
        (lambda lm: rnnkit.stream(lm, seed=1, generator=torch.Generator()), "seed or generator"),
        (lambda lm: rnnkit.generate(lm, num_samples=-3), r"num_samples .* \[1, 1024\], got -3"),
        (lambda lm: rnnkit.stream(lm, top_p=2), r"top_p must be a number in \(0, 1\], got 2"),
    ],
)
def test_public_api_errors(loaded: LoadedLM, call: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call(loaded)
