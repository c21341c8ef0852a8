"""What every AI provider answers, in one shape: a caller (or a stored ``.skyloop-ai.json``)
never learns which provider produced it, except from ``provider``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Features = Literal["labels", "objects", "faces", "text"]
TextFeatures = Literal["sentiment", "entities", "key_phrases", "language"]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Box(_Result):
    """A region in pixels from the image's top-left corner."""

    left: int = Field(ge=0)
    top: int = Field(ge=0)
    width: int = Field(ge=0)
    height: int = Field(ge=0)


class Label(_Result):
    name: str
    confidence: float = Field(ge=0.0, le=1.0)


class DetectedObject(_Result):
    name: str
    confidence: float = Field(ge=0.0, le=1.0)
    box: Box


class Face(_Result):
    confidence: float = Field(ge=0.0, le=1.0)
    box: Box


class TextLine(_Result):
    text: str
    confidence: float = Field(ge=0.0, le=1.0)
    box: Box


class ImageAnalysis(_Result):
    provider: str
    labels: list[Label] = Field(default_factory=list)
    objects: list[DetectedObject] = Field(default_factory=list)
    faces: list[Face] = Field(default_factory=list)
    text: list[TextLine] = Field(default_factory=list)

    @property
    def full_text(self) -> str:
        return "\n".join(line.text for line in self.text)


class Sentiment(_Result):
    label: Literal["positive", "negative", "neutral", "mixed"]
    positive: float = Field(ge=0.0, le=1.0)
    negative: float = Field(ge=0.0, le=1.0)
    neutral: float = Field(ge=0.0, le=1.0)
    mixed: float = Field(0.0, ge=0.0, le=1.0)


class Entity(_Result):
    text: str
    type: str
    confidence: float = Field(ge=0.0, le=1.0)


class TextAnalysis(_Result):
    provider: str
    language: str | None = None  # ISO 639-1
    language_confidence: float | None = Field(None, ge=0.0, le=1.0)
    sentiment: Sentiment | None = None
    entities: list[Entity] = Field(default_factory=list)
    key_phrases: list[str] = Field(default_factory=list)


class Transcript(_Result):
    provider: str
    text: str
    language: str | None = None
    confidence: float | None = Field(None, ge=0.0, le=1.0)
    job_id: str | None = None  # set while an asynchronous job (long audio) is still running


class Translation(_Result):
    provider: str
    text: str
    source_language: str
    target_language: str


class Speech(_Result):
    provider: str
    audio: bytes = Field(repr=False)
    format: Literal["wav", "mp3", "ogg"]
    sample_rate: int = Field(gt=0)
    voice: str
    duration_seconds: float = Field(ge=0.0)
