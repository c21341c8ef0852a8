"""What every AI provider checks before it calls anything: the features asked for, that an image
is one (its size, for turning a cloud's relative boxes into pixels), and that audio is the WAV a
provider transcribes (its length, for choosing how)."""

from __future__ import annotations

import io
import wave
from typing import TYPE_CHECKING, Sequence

from ..errors import InvalidRequest, NotSupported

if TYPE_CHECKING:
    from .ai import Speech


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

    if media_format != "wav":
        raise NotSupported(f"the {provider} provider transcribes {takes}, not {media_format}")
    try:
        return wav_duration(audio)
    except Exception:
        raise InvalidRequest("not a WAV file this provider can read") from None


def speech(provider: str, audio: bytes, audio_format: str, voice: str, mp3_rate: int = 24_000) -> "Speech":
    """A synthesised file as the shared result, its duration measured from the audio itself."""
    from .ai import Speech

    if audio_format == "wav":
        seconds, rate = wav_duration(audio)
        return Speech(provider=provider, audio=audio, format="wav", sample_rate=rate, voice=voice, duration_seconds=seconds)
    return Speech(provider=provider, audio=audio, format="mp3", sample_rate=mp3_rate, voice=voice,
                  duration_seconds=mp3_duration(audio))


# ---- audio the providers hand back, made into files and measured: PCM wrapped as WAV, and an MP3
# stream's duration counted frame by frame (a bitrate guess is wrong for VBR) ----
def wav_bytes(pcm: bytes, rate: int) -> bytes:
    """Signed 16-bit little-endian mono PCM as a WAV file."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


def wav_duration(data: bytes) -> tuple[float, int]:
    """(seconds, sample rate) of a WAV file."""
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate(), w.getframerate()


def mp3_duration(data: bytes) -> float:
    """Seconds of an MPEG-1/2 Layer III stream, counted frame by frame."""
    bitrates = {1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
                2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]}
    rates = {3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000]}
    i, samples, rate = 0, 0, 0
    if data[:3] == b"ID3" and len(data) >= 10:  # skip an ID3v2 tag
        i = 10 + ((data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F))
    while i + 4 <= len(data):
        if data[i] != 0xFF or (data[i + 1] & 0xE0) != 0xE0:
            i += 1
            continue
        version = (data[i + 1] >> 3) & 0x03  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
        b, s, pad = data[i + 2] >> 4, (data[i + 2] >> 2) & 0x03, (data[i + 2] >> 1) & 0x01
        if version == 1 or b in (0, 15) or s == 3:
            i += 1
            continue
        rate = rates[version][s]
        kbps = bitrates[1 if version == 3 else 2][b]
        per_frame = 1152 if version == 3 else 576
        length = (144 if version == 3 else 72) * kbps * 1000 // rate + pad
        samples += per_frame
        i += max(length, 1)
    return samples / rate if rate else 0.0
