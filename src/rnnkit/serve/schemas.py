"""The playground's request and response models, and the bounds every request must keep."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_LENGTH = 2000  # tokens per sample
MAX_SAMPLES = 8  # columns on the page
MAX_PREFIX_CHARS = 2000
MAX_TEMPERATURE = 10.0
MAX_TOP_K = 100_000
MAX_BEAM = 16
MAX_SEED = 2**53 - 1  # a seed survives a round trip through a JavaScript number
MAX_BODY_BYTES = 32 * 1024


class StreamRequest(BaseModel):
    """What to generate. Every field is bounded; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prefix: str = Field("", max_length=MAX_PREFIX_CHARS, description="text to continue")
    length: int = Field(200, ge=1, le=MAX_LENGTH, description="new tokens per sample")
    temperature: float = Field(
        1.0, ge=0, le=MAX_TEMPERATURE, allow_inf_nan=False, description="0 = greedy"
    )
    top_k: int = Field(0, ge=0, le=MAX_TOP_K, description="keep the k most likely (0 = all)")
    top_p: float = Field(1.0, gt=0, le=1, allow_inf_nan=False, description="nucleus mass")
    num_samples: int = Field(1, ge=1, le=MAX_SAMPLES, description="samples side by side")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="omit for a random seed")


class GenerateRequest(StreamRequest):
    """A one-shot request; `beam > 0` runs beam search (deterministic, no seed)."""

    beam: int = Field(0, ge=0, le=MAX_BEAM, description="beam width (0 = sample)")

    @model_validator(mode="after")
    def _samples_fit_beam(self) -> GenerateRequest:
        if self.beam and self.num_samples > self.beam:
            raise ValueError(
                f"num_samples ({self.num_samples}) exceeds beam ({self.beam}); "
                "ask for at most beam samples or widen the beam"
            )
        return self


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
    parameters: int
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
