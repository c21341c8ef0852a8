"""What every AI provider answers, in one shape: a caller (or a stored ``.skyloop-ai.json``)
never learns which provider produced it, except from ``provider``."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Features = Literal["labels", "objects", "faces", "text"]
TextFeatures = Literal["sentiment", "entities", "key_phrases", "language"]


# Where uploads and results live in a store: the one naming every provider and storage trigger keeps.
AI_PREFIX = "ai/"  # uploads here are analysed, not trained on
AI_RESULT = ".skyloop-ai.json"  # what the analysis writes beside each upload
JOBS_PREFIX = "transcribe/"  # providers' asynchronous working files (audio copies, job outputs): not uploads
KINDS = {**{e: "image" for e in (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")},
         ".txt": "text", **{e: "speech" for e in (".wav", ".mp3", ".flac", ".ogg")}}


def is_media(name: str) -> bool:
    """An upload for the AI services: under ``ai/``, and not a result Skyloop wrote there."""
    return name.startswith(AI_PREFIX) and not name.endswith(AI_RESULT)


def is_job_output(name: str) -> bool:
    """A provider's finished job writing its output (a JSON document under ``transcribe/``)."""
    return name.startswith(JOBS_PREFIX) and name.endswith(".json")


def job_output_of(uri: str, store_root: str, job_name: "re.Pattern[str]") -> str | None:
    """The provider job whose output ``uri`` is (``<store_root>/transcribe/<job>.json``, the job's
    name matching the provider's own pattern), or None: each provider's ``job_of``."""
    prefix = f"{store_root.rstrip('/')}/{JOBS_PREFIX}"
    if not (uri.startswith(prefix) and uri.endswith(".json")):
        return None
    name = uri[len(prefix):-len(".json")]
    return name if job_name.fullmatch(name) else None


def result_uri(uri: str) -> str:
    return uri + AI_RESULT


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
