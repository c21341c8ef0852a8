"""What every AI provider answers, in one shape, each field meaning the same thing on every provider:
a caller (or a stored ``.skyloop-ai.json``) never learns which provider produced it, except from
``provider``, and never reads a number whose meaning changes with it. What a provider gives beyond
the shared fields stays in ``raw`` (its own response, ``--raw`` on the CLI; not stored with uploads).

- languages are ISO 639-1 codes, lower case (``en``, ``zh``); a transcript's ``locale`` is BCP 47
  with the region upper case (``en-US``);
- confidences are in [0, 1]; ``None`` where the provider gives none (never a made-up 0 or 1);
- a sentiment is one ``score`` in [-1, 1] and a label; class probabilities only where the provider
  gives them;
- an entity's ``type`` is one of ``ENTITY_TYPES``, the provider's own word kept in ``provider_type``;
- OCR ``text`` holds lines as printed, one per line, never paragraphs."""

from __future__ import annotations

import re
from typing import Any, Literal

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


def iso639(code: str | None) -> str | None:
    """A provider's language code as ISO 639-1: ``en-US``, ``en_us`` and ``EN`` are all ``en``."""
    if not code:
        return None
    return re.split(r"[-_]", str(code).strip(), maxsplit=1)[0].lower() or None


def bcp47(code: str | None) -> str | None:
    """A locale in BCP 47's usual case: ``en-us`` -> ``en-US``, ``zh-hant-tw`` -> ``zh-Hant-TW``."""
    if not code:
        return None
    parts = re.split(r"[-_]", str(code).strip())
    out = [parts[0].lower()]
    for p in parts[1:]:
        out.append(p.upper() if len(p) == 2 or p.isdigit() else p.title() if len(p) == 4 else p.lower())
    return "-".join(out)


# One vocabulary of entity types; each provider's own word maps to one (``entity_type``).
ENTITY_TYPES = ("person", "location", "organization", "event", "product", "work", "date", "quantity", "contact", "other")
_ENTITY_WORDS = {
    "person": {"person", "persontype"},
    "location": {"location", "address", "gpe", "geopoliticalentity"},
    "organization": {"organization", "organisation"},
    "event": {"event"},
    "product": {"commercial_item", "consumer_good", "product"},
    "work": {"work_of_art", "title"},
    "date": {"date", "datetime", "time"},
    "quantity": {"quantity", "number", "price", "percentage", "currency"},
    "contact": {"phone_number", "phonenumber", "email", "url", "ip", "address_email"},
}


def entity_type(provider_type: str) -> str:
    word = re.sub(r"[\s-]+", "_", str(provider_type).strip().lower())
    return next((t for t, words in _ENTITY_WORDS.items() if word in words or word.replace("_", "") in words), "other")


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
    confidence: float | None = Field(None, ge=0.0, le=1.0)  # None: the detector gives none (a Haar cascade)
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
    truncated: bool = False  # the provider stopped early (Rekognition's DetectText at 100 words): more text may be there
    raw: dict[str, Any] | None = Field(None, exclude=True, repr=False)

    @property
    def full_text(self) -> str:
        return "\n".join(line.text for line in self.text)


class Sentiment(_Result):
    """How a text feels. ``score`` in [-1, 1], negative to positive: P(positive) - P(negative) where
    the provider gives class probabilities (AWS Comprehend, Azure AI Language), the document score
    where it gives one (Google Natural Language), VADER's compound score locally. ``label`` is the
    provider's own call. ``positive``, ``negative``, ``neutral``, ``mixed``: class probabilities, only
    where the provider gives them (AWS all four; Azure the first three), else None: Google's
    magnitude and VADER's word proportions are not probabilities."""

    label: Literal["positive", "negative", "neutral", "mixed"]
    score: float = Field(ge=-1.0, le=1.0)
    positive: float | None = Field(None, ge=0.0, le=1.0)
    negative: float | None = Field(None, ge=0.0, le=1.0)
    neutral: float | None = Field(None, ge=0.0, le=1.0)
    mixed: float | None = Field(None, ge=0.0, le=1.0)


class Entity(_Result):
    """A named thing in a text: ``type`` from ``ENTITY_TYPES``, the provider's own in ``provider_type``."""

    text: str
    type: str
    provider_type: str
    confidence: float | None = Field(None, ge=0.0, le=1.0)

    @classmethod
    def of(cls, text: str, provider_type: str, confidence: float | None) -> "Entity":
        return cls(text=text, type=entity_type(provider_type), provider_type=str(provider_type),
                   confidence=None if confidence is None else min(1.0, max(0.0, float(confidence))))


class TextAnalysis(_Result):
    provider: str
    language: str | None = None  # ISO 639-1
    language_confidence: float | None = Field(None, ge=0.0, le=1.0)  # None: the provider gives none (Google)
    sentiment: Sentiment | None = None
    entities: list[Entity] = Field(default_factory=list)
    key_phrases: list[str] = Field(default_factory=list)
    raw: dict[str, Any] | None = Field(None, exclude=True, repr=False)


class Transcript(_Result):
    provider: str
    text: str
    language: str | None = None  # ISO 639-1
    locale: str | None = None  # BCP 47, as the provider heard or was told (en-US)
    confidence: float | None = Field(None, ge=0.0, le=1.0)
    job_id: str | None = None  # set while an asynchronous job (long audio) is still running
    raw: dict[str, Any] | None = Field(None, exclude=True, repr=False)

    @classmethod
    def heard(cls, provider: str, text: str, locale: str | None, **kw: Any) -> "Transcript":
        return cls(provider=provider, text=text, language=iso639(locale), locale=bcp47(locale), **kw)


class Translation(_Result):
    provider: str
    text: str
    source_language: str  # ISO 639-1, as detected or given
    target_language: str  # as asked for (a variant such as zh-TW kept)
    raw: dict[str, Any] | None = Field(None, exclude=True, repr=False)


class Speech(_Result):
    provider: str
    audio: bytes = Field(repr=False)
    format: Literal["wav", "mp3", "ogg"]
    sample_rate: int = Field(gt=0)
    voice: str
    duration_seconds: float = Field(ge=0.0)
