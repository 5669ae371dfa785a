"""The playground's request and response models, and the bounds every request must keep.

The request fields are those of `rnnkit.decode.options.SamplingOptions`. A request is
checked by its `check_sampling` with the playground's tighter `PLAYGROUND_LIMITS` (before
pydantic's type checks), so a bad option reads as it does in Python and on the command
line. The OpenAPI schema's minimum / maximum come from the same limits.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rnnkit.decode.options import (
    LIMITS,
    MAX_RANDOM_SEED,
    Bound,
    SamplingOptions,
    check_sampling,
)

MAX_LENGTH = 2000  # tokens per sample
MAX_SAMPLES = 8  # columns on the page
MAX_PREFIX_CHARS = 2000
MAX_TEMPERATURE = 10.0
MAX_TOP_K = 100_000
MAX_BEAM = 16
MAX_SEED = MAX_RANDOM_SEED  # a seed survives a round trip through a JavaScript number
MAX_BODY_BYTES = 32 * 1024

PLAYGROUND_LIMITS = LIMITS.tighten(
    prefix=MAX_PREFIX_CHARS,
    length=MAX_LENGTH,
    temperature=MAX_TEMPERATURE,
    top_k=MAX_TOP_K,
    num_samples=MAX_SAMPLES,
    beam=MAX_BEAM,
    seed=Bound(0, MAX_SEED),
)


def _option(name: str, default: Any, description: str) -> Any:
    """A request field whose documented range is the playground's limit for `name`."""
    bound: Bound = getattr(PLAYGROUND_LIMITS, name)
    schema: dict[str, Any] = {}
    if name == "prefix":
        schema["maxLength"] = bound.high
    else:
        if bound.low is not None:
            schema["exclusiveMinimum" if bound.low_open else "minimum"] = bound.low
        if bound.high is not None:
            schema["maximum"] = bound.high
    return Field(default, description=description, json_schema_extra=schema)


class StreamRequest(BaseModel):
    """What to generate: every field bounded by `PLAYGROUND_LIMITS`, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prefix: str = _option("prefix", "", "text to continue")
    length: int = _option("length", 200, "new tokens per sample")
    temperature: float = _option("temperature", 1.0, "0 = greedy")
    top_k: int = _option("top_k", 0, "keep the k most likely (0 = all)")
    top_p: float = _option("top_p", 1.0, "nucleus mass")
    num_samples: int = _option("num_samples", 1, "samples side by side")
    seed: int | None = _option("seed", None, "omit for a random seed")

    @model_validator(mode="before")
    @classmethod
    def _check_options(cls, data: Any) -> Any:
        """`check_sampling` with the playground's limits, on the fields as sent."""
        if isinstance(data, dict):
            sent = {k: v for k, v in data.items() if k in cls.model_fields}
            check_sampling(sent, PLAYGROUND_LIMITS)
        return data

    def options(self, seed: int | None) -> SamplingOptions:
        """The request as library options, with `seed` (the one drawn when none was sent)."""
        return SamplingOptions(**{**self.model_dump(), "seed": seed})


class GenerateRequest(StreamRequest):
    """A one-shot request; `beam > 0` runs beam search (deterministic, no seed)."""

    beam: int = _option("beam", 0, "beam width (0 = sample)")


class GenerateResponse(BaseModel):
    """One text per sample, each the (normalised) prefix followed by the new tokens."""

    texts: list[str]
    prefix: str
    seed: int | None
    tokens: int
    elapsed_s: float


class ModelCard(BaseModel):
    """What the page shows beside the text: the facts of the run and its curves."""

    run: str
    checkpoint: str
    corpus: dict[str, Any]
    level: str
    normalize: str
    vocab_size: int
    architecture: dict[str, Any]
    summary: str
    parameters: int | None  # None: an export whose weights cannot be counted without `onnx`
    best: dict[str, Any]
    curves: list[dict[str, float]]
    defaults: dict[str, Any]
    limits: dict[str, Any]


class Health(BaseModel):
    """The generation pool right now."""

    status: str
    workers: int
    queue_size: int
    running: int
    waiting: int
