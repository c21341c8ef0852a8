"""What every AI provider checks before it calls anything: the features asked for, that an image
is one (its size, for turning a cloud's relative boxes into pixels), and that audio is the WAV a
provider transcribes (its length, for choosing how)."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

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


MAX_PIXELS = 75_000_000  # Google Vision's own limit, the strictest of the clouds: 144 MP took 7 s and 1.5 GB here


def open_image(image: bytes) -> Any:
    """The image, header read, pixels not yet decoded: bytes that are no image, or more pixels than
    ``MAX_PIXELS`` (a 90 kB PNG can state 400 megapixels), are the caller's error, before any decode."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(image))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidRequest(f"the image has more than {MAX_PIXELS // 1_000_000} megapixels; downsize it") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidRequest(f"not an image this provider can read: {exc}") from None
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise InvalidRequest(f"the image is {w}x{h} ({w * h / 1e6:.0f} megapixels), above the "
                             f"{MAX_PIXELS // 1_000_000}-megapixel limit; downsize it")
    return img


def image_size(image: bytes) -> tuple[int, int]:
    """(width, height) in pixels as stored: the clouds' relative boxes are in the stored pixels."""
    with open_image(image) as img:
        return img.size


def split_text(text: str, *, max_bytes: int | None = None, max_chars: int | None = None) -> list[str]:
    """``text`` in pieces a service takes in one call (at most ``max_bytes`` of UTF-8, or
    ``max_chars`` characters), cut at sentence ends, else at spaces, else anywhere: as a user of
    ``translate FILE`` or ``tts FILE`` expects, where one call's limit refused the whole file.
    Joined with nothing between them, the pieces are the text."""
    import re

    def size(piece: str) -> int:
        return len(piece.encode()) if max_bytes is not None else len(piece)

    limit = max_bytes if max_bytes is not None else max_chars
    if limit is None or size(text) <= limit:
        return [text]
    parts: list[str] = []
    for sentence in re.findall(r"[^.!?。！？\n]*(?:[.!?。！？]+|\n+|$)\s*", text):
        while size(sentence) > limit:  # a sentence longer than a call: at a space, else anywhere
            cut = limit
            while size(sentence[:cut]) > limit:
                cut -= 1
            space = sentence.rfind(" ", 0, cut)
            cut = space + 1 if space > 0 else cut
            parts.append(sentence[:cut])
            sentence = sentence[cut:]
        if parts and size(parts[-1] + sentence) <= limit:
            parts[-1] += sentence
        elif sentence:
            parts.append(sentence)
    return [p for p in parts if p]


def joined_speech(pieces: list[bytes], audio_format: str) -> bytes:
    """Several synthesised WAV files as one (their samples in order, under one header: each piece's
    rate is the same), or MP3 streams end to end (frames concatenate)."""
    if audio_format != "wav" or len(pieces) == 1:
        return b"".join(pieces)
    frames, rate = [], 0
    for piece in pieces:
        with wave.open(io.BytesIO(piece)) as w:
            rate = w.getframerate()
            frames.append(w.readframes(w.getnframes()))
    return wav_bytes(b"".join(frames), rate)


def check_speech(provider: str, text: str, audio_format: str, formats: tuple[str, ...] = ("wav", "mp3")) -> None:
    if audio_format not in formats:
        raise NotSupported(f"the {provider} provider writes {' or '.join(formats)}, not {audio_format}")
    if not text.strip():
        raise InvalidRequest("no text to speak")


@dataclass(frozen=True)
class Pcm:
    """Audio as every provider is sent it: signed 16-bit little-endian mono at the file's own rate."""

    pcm: bytes
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.rate

    @property
    def wav(self) -> bytes:
        return wav_bytes(self.pcm, self.rate)


def wav_audio(provider: str, audio: bytes, media_format: str, takes: str = "WAV") -> Pcm:
    """The WAV file a provider transcribes, as 16-bit mono at its own rate: another format is
    ``NotSupported`` by the provider's name, bytes that are no WAV file the caller's error. Phones
    record 24-bit or float stereo at 44.1 or 48 kHz, telephony µ-law: each is converted, because a
    provider told "16 kHz, 16-bit mono" (Azure's default stream) hears anything else at the wrong
    speed, and Google refuses a stereo file whose request names no channel count."""

    if media_format.lower() != "wav":
        raise NotSupported(f"the {provider} provider transcribes {takes}, not {media_format}")
    try:
        return read_wav(audio)
    except InvalidRequest:
        raise
    except Exception:
        raise InvalidRequest("not a WAV file this provider can read") from None


_PCM, _FLOAT, _ALAW, _MULAW, _EXTENSIBLE = 1, 3, 6, 7, 0xFFFE


def read_wav(data: bytes) -> Pcm:
    """A RIFF/WAVE file's samples as 16-bit mono: integer PCM of 8 to 32 bits, IEEE float, A-law
    and µ-law (and their WAVE_FORMAT_EXTENSIBLE spelling), channels averaged. The standard
    library's ``wave`` reads 8/16/32-bit integer PCM only, which is why this reads the header."""
    import struct

    import numpy as np

    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise InvalidRequest("not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int] | None = None
    body: bytes | None = None
    i = 12
    while i + 8 <= len(data):
        cid, size = data[i:i + 4], struct.unpack_from("<I", data, i + 4)[0]
        chunk = data[i + 8:i + 8 + size]
        if cid == b"fmt ":
            if len(chunk) < 16:
                raise InvalidRequest("WAV file's format chunk is cut short")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", chunk)
            if tag == _EXTENSIBLE and len(chunk) >= 26:
                tag = struct.unpack_from("<H", chunk, 24)[0]  # the sub-format GUID's first two bytes
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            body = chunk  # a streamed file may state a size beyond its end: take what is there
            break
        i += 8 + size + (size & 1)
    if fmt is None or body is None:
        raise InvalidRequest("not a WAV file (no format or data chunk)")
    tag, channels, rate, bits = fmt
    if channels < 1 or rate < 1:
        raise InvalidRequest(f"WAV file states {channels} channels at {rate} Hz")
    width = bits // 8
    usable = len(body) - len(body) % (width * channels) if width else 0
    raw = body[:usable]
    if tag == _PCM and bits in (8, 16, 24, 32):
        if bits == 8:  # unsigned
            x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
        elif bits == 24:
            b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
            x = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8).astype(np.float32) / 8388608.0
        else:
            x = np.frombuffer(raw, "<i2" if bits == 16 else "<i4").astype(np.float64) / (2.0 ** (bits - 1))
    elif tag == _FLOAT and bits in (32, 64):
        x = np.nan_to_num(np.frombuffer(raw, "<f4" if bits == 32 else "<f8").astype(np.float64))
    elif tag in (_MULAW, _ALAW) and bits == 8:
        x = (_mulaw if tag == _MULAW else _alaw)(np.frombuffer(raw, np.uint8))
    else:
        raise InvalidRequest(f"WAV encoding {tag:#06x} at {bits} bits is not one Skyloop reads "
                             "(integer PCM, float, A-law, µ-law)")
    mono = np.asarray(x, np.float64).reshape(-1, channels).mean(axis=1)
    pcm = (np.clip(mono, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()
    return Pcm(pcm=pcm, rate=rate)


def _mulaw(u: Any) -> Any:
    """G.711 µ-law bytes to samples in [-1, 1]."""
    import numpy as np

    u = ~u.astype(np.int32) & 0xFF
    mag = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - mag, mag - 0x84).astype(np.float64) / 32768.0


def _alaw(a: Any) -> Any:
    """G.711 A-law bytes to samples in [-1, 1]."""
    import numpy as np

    a = a.astype(np.int32) ^ 0x55
    seg, mant = (a & 0x70) >> 4, a & 0x0F
    mag = np.where(seg == 0, (mant << 4) + 8, ((mant << 4) + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, mag, -mag).astype(np.float64) / 32768.0


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
