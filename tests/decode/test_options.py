"""`rnnkit.decode.options`: the sampling keywords are declared once (`SamplingKwargs`) and
every `generate` / `stream` takes exactly them; a prefix is normalised once per call."""

from __future__ import annotations

import inspect
from dataclasses import fields, replace
from typing import Any, get_type_hints

import pytest

import rnnkit
from rnnkit.decode import options as options_module
from rnnkit.decode.options import (
    OPTION_NAMES,
    SAMPLING_KEYWORDS,
    SamplingKwargs,
    SamplingOptions,
    normalized,
    options_from_call,
)
from rnnkit.decode.protocol import LanguageModel
from rnnkit.lm import generation
from rnnkit.lm.load import LoadedLM


def _calls() -> list[Any]:
    calls: list[Any] = [generation.generate, generation.stream, LoadedLM.generate, LoadedLM.stream]
    calls += [LanguageModel.generate, LanguageModel.stream]
    from rnnkit.runtime import onnx_lm  # numpy only: onnxruntime is imported when loading

    onnx = onnx_lm.OnnxLM
    return [*calls, onnx_lm.generate, onnx_lm.stream, onnx.generate, onnx.stream]


def test_the_keywords_are_the_options_fields_after_prefix_and_length() -> None:
    annotations = get_type_hints(SamplingOptions)
    assert tuple(f.name for f in fields(SamplingOptions)) == OPTION_NAMES
    assert OPTION_NAMES[:2] == ("prefix", "length")
    assert OPTION_NAMES[2:] == SAMPLING_KEYWORDS
    keywords = get_type_hints(SamplingKwargs)
    assert keywords == {k: annotations[k] for k in SAMPLING_KEYWORDS}
    assert SamplingKwargs.__total__ is False


@pytest.mark.parametrize("call", _calls(), ids=lambda c: c.__qualname__)
def test_every_generate_and_stream_spells_no_keyword_itself(call: Any) -> None:
    params = inspect.signature(call).parameters
    assert [p for p in params if p in OPTION_NAMES] == ["prefix", "length"]
    assert params["kwargs"].kind is inspect.Parameter.VAR_KEYWORD
    assert params["kwargs"].annotation == "Unpack[SamplingKwargs]"
    assert params["options"].kind is inspect.Parameter.KEYWORD_ONLY


def test_a_keyword_that_is_no_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'tempreature'"):
        options_from_call(None, "", 10, {"tempreature": 0.5}, "none")
    built = options_from_call(None, "ab", 7, {"top_k": 3, "seed": 1}, "none")
    assert built == SamplingOptions("ab", 7, top_k=3, seed=1)


def test_the_prefix_is_normalised_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = options_module.normalize_prefix

    def counting(prefix: str, mode: str) -> str:
        seen.append(prefix)
        return real(prefix, mode)

    monkeypatch.setattr(options_module, "normalize_prefix", counting)
    once = normalized(SamplingOptions("The  Time!", 5), "d2l")
    assert once.prefix == "the time " and once == SamplingOptions("the time ", 5)
    assert normalized(once, "d2l") is once
    assert options_from_call(once, "", 100, {}, "d2l") is once
    assert seen == ["The  Time!"]
    assert normalized(once, "none") is not once  # another model's rule: applied again
    assert normalized(replace(once, prefix="A b"), "d2l").prefix == "a b"


def test_public_names_still_resolve() -> None:
    assert rnnkit.SamplingOptions is SamplingOptions
