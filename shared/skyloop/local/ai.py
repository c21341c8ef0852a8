"""The local AI provider: real open tools that run offline and download no model at run time.

| operation | tool | notes |
|---|---|---|
| analyze_image, text (OCR) | tesseract (Debian ``tesseract-ocr``) through pytesseract | lines with boxes and confidence |
| analyze_text, sentiment | VADER (``vaderSentiment``) | English; a lexicon, no model file |
| analyze_text, language | ``langid`` | its model ships inside the package |
| synthesize | espeak-ng (Debian) | WAV; a voice is an espeak-ng voice name ("en", "de" ...) |

Everything else (image labels, objects and faces; entities and key phrases; transcription;
translation) raises ``NotSupported`` naming the clouds that provide it. Each tool is imported or
run only by the operation that needs it.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import wave
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from ..errors import InvalidRequest, NotSupported
from ..ports.ai import Box, ImageAnalysis, Sentiment, Speech, TextAnalysis, TextLine
from ..ports.media import open_image

NAME = "local"
ELSEWHERE = {
    "labels": "aws (Rekognition), gcp (Vision), azure (AI Vision)",
    "objects": "aws (Rekognition), gcp (Vision), azure (AI Vision)",
    "faces": "aws (Rekognition), gcp (Vision), azure (AI Vision)",
    "entities": "aws (Comprehend), gcp (Natural Language), azure (AI Language)",
    "key_phrases": "aws (Comprehend), azure (AI Language)",
    "transcribe": "aws (Transcribe), gcp (Speech-to-Text), azure (Speech)",
    "translate": "aws (Translate), gcp (Translation), azure (Translator)",
    "sentiment": "aws (Comprehend), gcp (Natural Language), azure (AI Language)",
}
MAX_TEXT = 100_000  # characters: the clouds' text APIs take far less per call
SENTIMENT_THRESHOLD = 0.05  # VADER's own convention for its compound score
# Sentiment is refused when langid is at least this sure the text is not English. Short English
# texts ("ok", "great") are often given another language with low confidence: those still pass.
NOT_ENGLISH_CONFIDENCE = 0.9


def _unsupported(what: str) -> NotSupported:
    return NotSupported(f"the {NAME} provider has no {what}; use --provider with one of: {ELSEWHERE[what]}")


def _check(features: Sequence[str], supported: set[str]) -> set[str]:
    wanted = set(features)
    for f in sorted(wanted - supported):
        if f in ELSEWHERE:
            raise _unsupported(f)
        raise InvalidRequest(f"unknown feature {f!r}")
    return wanted


def _tool(name: str, package: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise NotSupported(f"the {NAME} provider needs {name} for this: apt-get install {package}")
    return exe


@lru_cache(maxsize=None)
def _voices(exe: str) -> frozenset[str]:
    """Every name espeak-ng takes for -v (language codes, voice names, voice files), lower-cased:
    it falls back to its default on an unknown one with no error, so Skyloop checks first."""
    listing = subprocess.run([exe, "--voices"], capture_output=True, text=True, timeout=30).stdout.splitlines()[1:]
    names = set()
    for row in listing:
        cols = row.split()
        if len(cols) >= 5:
            names.update({cols[1].lower(), cols[3].lower(), cols[4].lower(), cols[4].rsplit("/", 1)[-1].lower()})
    return frozenset(names)


def upright_on_white(image: bytes) -> Any:
    """The image as tesseract reads it best: decoded within the pixel cap, turned upright by its
    EXIF orientation (a phone photo taken sideways), and laid on white. ``convert("RGB")`` alone turns
    a transparent background black, and black text on it vanished."""
    from PIL import Image, ImageOps

    img = open_image(image)
    try:
        img.load()
        img = ImageOps.exif_transpose(img)
    except OSError as exc:  # a truncated file
        raise InvalidRequest(f"not an image this provider can read: {exc}") from None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


@lru_cache(maxsize=1)
def _language_identifier() -> Any:
    """langid's model, built once per process: building it took 1.1-1.5 s, on every call."""
    from langid.langid import LanguageIdentifier, model

    return LanguageIdentifier.from_modelstring(model, norm_probs=True)


def identify_language(text: str) -> tuple[str, float]:
    language, p = _language_identifier().classify(text)
    return str(language), float(p)


class LocalAI:
    name = NAME

    def analyze_image(self, image: bytes, features: Sequence[str] = ("text",)) -> ImageAnalysis:
        _check(features, {"text"})
        _tool("tesseract", "tesseract-ocr")
        import pytesseract

        data = pytesseract.image_to_data(upright_on_white(image), output_type=pytesseract.Output.DICT)
        lines: dict[tuple[int, int, int], list[int]] = {}
        for i, word in enumerate(data["text"]):
            if word.strip() and float(data["conf"][i]) >= 0:
                lines.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(i)
        out = []
        for idx in lines.values():
            left = min(data["left"][i] for i in idx)
            top = min(data["top"][i] for i in idx)
            right = max(data["left"][i] + data["width"][i] for i in idx)
            bottom = max(data["top"][i] + data["height"][i] for i in idx)
            conf = sum(float(data["conf"][i]) for i in idx) / len(idx) / 100.0
            out.append(TextLine(text=" ".join(data["text"][i] for i in idx), confidence=min(1.0, conf),
                                box=Box(left=left, top=top, width=right - left, height=bottom - top)))
        return ImageAnalysis(provider=NAME, text=out)

    def analyze_text(self, text: str, features: Sequence[str] = ("sentiment", "language")) -> TextAnalysis:
        wanted = _check(features, {"sentiment", "language"})
        if not text.strip():
            raise InvalidRequest("no text to analyse")
        if len(text) > MAX_TEXT:
            raise InvalidRequest(f"text of {len(text):,} characters is above the {MAX_TEXT:,}-character limit")
        sentiment = language = confidence = None
        raw: dict[str, Any] = {}
        if "language" in wanted or "sentiment" in wanted:
            language, confidence = identify_language(text)
            raw["langid"] = {"language": language, "probability": confidence}
        if "sentiment" in wanted:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            if language != "en" and (confidence or 0.0) >= NOT_ENGLISH_CONFIDENCE:
                # VADER is an English lexicon: a glowing German review read as negative ("war"), and
                # Spanish, Russian, Japanese as neutral 1.00. Refused, never guessed.
                raise NotSupported(f"the {NAME} provider's sentiment is English only, and this text reads as "
                                   f"{language!r}; use --provider with one of: {ELSEWHERE['sentiment']}")

            s = SentimentIntensityAnalyzer().polarity_scores(text)
            label = ("positive" if s["compound"] >= SENTIMENT_THRESHOLD else
                     "negative" if s["compound"] <= -SENTIMENT_THRESHOLD else "neutral")
            # VADER's pos/neu/neg are the shares of words of each kind, not probabilities: kept in raw only
            sentiment = Sentiment(label=label, score=max(-1.0, min(1.0, float(s["compound"]))))
            raw["vader"] = s
        if "language" not in wanted:
            language = confidence = None
        return TextAnalysis(provider=NAME, sentiment=sentiment, language=language, language_confidence=confidence, raw=raw)

    def transcribe(self, audio: bytes, *, language: str | None = None, media_format: str = "wav") -> Any:
        raise _unsupported("transcribe")

    def translate(self, text: str, target_language: str, *, source_language: str | None = None) -> Any:
        raise _unsupported("translate")

    def synthesize(self, text: str, *, voice: str | None = None, audio_format: str = "wav") -> Speech:
        if audio_format != "wav":
            raise NotSupported(f"the {NAME} provider writes wav only, not {audio_format}")
        if not text.strip():
            raise InvalidRequest("no text to speak")
        if len(text) > MAX_TEXT:
            raise InvalidRequest(f"text of {len(text):,} characters is above the {MAX_TEXT:,}-character limit")
        exe = _tool("espeak-ng", "espeak-ng")
        voice = voice or "en"
        if voice.split("+", 1)[0].lower() not in _voices(exe):  # "en+f3": a voice and its variant
            raise InvalidRequest(f"espeak-ng has no voice {voice!r} (espeak-ng --voices lists them)")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "speech.wav"
            # the text goes on stdin, never on the command line
            run = subprocess.run([exe, "-v", voice, "-w", str(out), "--stdin"], input=text.encode(),
                                 capture_output=True, timeout=120)
            if run.returncode != 0 or not out.exists():
                raise InvalidRequest(f"espeak-ng failed: {run.stderr.decode(errors='replace')[:200]}")
            audio = out.read_bytes()
        with wave.open(io.BytesIO(audio)) as w:
            rate, frames = w.getframerate(), w.getnframes()
        return Speech(provider=NAME, audio=audio, format="wav", sample_rate=rate, voice=voice,
                      duration_seconds=frames / rate)
