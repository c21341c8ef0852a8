"""What every AI provider checks before it calls anything: the features asked for, that an image
is one (its size, for turning a cloud's relative boxes into pixels), and that audio is the WAV a
provider transcribes (its length, for choosing how)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Sequence

from ..errors import InvalidRequest, NotSupported

if TYPE_CHECKING:
    from .results import Speech


def check_features(provider: str, features: Sequence[str], supported: set[str], known: set[str]) -> set[str]:
    """The features wanted; one this provider lacks is ``NotSupported``, one nobody has is refused."""
    wanted = set(features)
    for f in sorted(wanted - supported):
        if f in known:
            raise NotSupported(f"the {provider} provider has no {f}")
        raise InvalidRequest(f"unknown feature {f!r}")
    return wanted


IMAGE_FEATURES = {"labels", "objects", "faces", "text"}
TEXT_FEATURES = {"sentiment", "entities", "key_phrases", "language"}


def image_size(image: bytes) -> tuple[int, int]:
    """(width, height) in pixels; bytes that are no image are the caller's error."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image)) as img:
            return img.size
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidRequest(f"not an image this provider can read: {exc}") from None


def check_speech(provider: str, text: str, audio_format: str, formats: tuple[str, ...] = ("wav", "mp3")) -> None:
    if audio_format not in formats:
        raise NotSupported(f"the {provider} provider writes {' or '.join(formats)}, not {audio_format}")
    if not text.strip():
        raise InvalidRequest("no text to speak")


def wav_audio(provider: str, audio: bytes, media_format: str, takes: str = "WAV") -> tuple[float, int]:
    """(seconds, sample rate) of the WAV file a provider transcribes: another format is
    ``NotSupported`` by the provider's name, bytes that are no WAV file the caller's error."""
    from .audio import wav_duration

    if media_format != "wav":
        raise NotSupported(f"the {provider} provider transcribes {takes}, not {media_format}")
    try:
        return wav_duration(audio)
    except Exception:
        raise InvalidRequest("not a WAV file this provider can read") from None


def speech(provider: str, audio: bytes, audio_format: str, voice: str, mp3_rate: int = 24_000) -> "Speech":
    """A synthesised file as the shared result, its duration measured from the audio itself."""
    from .audio import mp3_duration, wav_duration
    from .results import Speech

    if audio_format == "wav":
        seconds, rate = wav_duration(audio)
        return Speech(provider=provider, audio=audio, format="wav", sample_rate=rate, voice=voice, duration_seconds=seconds)
    return Speech(provider=provider, audio=audio, format="mp3", sample_rate=mp3_rate, voice=voice,
                  duration_seconds=mp3_duration(audio))
