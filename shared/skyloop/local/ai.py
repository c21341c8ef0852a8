"""The local AI provider: real open tools that run offline and download no model at run time.

| operation | tool | notes |
|---|---|---|
| analyze_image, text (OCR) | tesseract (Debian ``tesseract-ocr``) through pytesseract | lines with boxes and confidence; a photographed page binarised first when plain reading is unsure |
| analyze_image, faces | OpenCV's shipped frontal-face Haar cascade (``opencv-python-headless``) | boxes; no confidence (None) |
| analyze_text, sentiment | VADER (``vaderSentiment``) | English only: another language is refused |
| analyze_text, language | ``langid`` | its model ships inside the package, built once per process |
| analyze_text, key_phrases | ``yake`` | statistical, no model file; the detected language's stop words |
| transcribe | ``pocketsphinx`` | English, its model in the wheel; draft quality (raw says so) |
| synthesize | espeak-ng (Debian) | WAV; a voice is an espeak-ng voice name ("en", "de" ...) |

Everything else (image labels and objects, named entities, translation) raises ``NotSupported``
naming the clouds that provide it: nothing well-kept ships their weights. Each tool is imported or
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
from ..ports.ai import Box, Face, ImageAnalysis, Sentiment, Speech, TextAnalysis, TextLine, Transcript, iso639
from ..ports.media import open_image

NAME = "local"
ELSEWHERE = {
    "labels": "aws (Rekognition), gcp (Vision), azure (AI Vision)",
    "objects": "aws (Rekognition), gcp (Vision), azure (AI Vision)",
    "entities": "aws (Comprehend), gcp (Natural Language), azure (AI Language)",
    "transcribe": "aws (Transcribe), gcp (Speech-to-Text), azure (Speech)",
    "translate": "aws (Translate), gcp (Translation), azure (Translator)",
    "sentiment": "aws (Comprehend), gcp (Natural Language), azure (AI Language)",
}
MAX_TEXT = 100_000  # characters: the clouds' text APIs take far less per call
SENTIMENT_THRESHOLD = 0.05  # VADER's own convention for its compound score
# Sentiment is refused when langid is at least this sure the text is not English. Short English
# texts ("ok", "great") are often given another language with low confidence: those still pass.
NOT_ENGLISH_CONFIDENCE = 0.9
UNEVEN_BACKGROUND = 25.0  # grey levels of background spread above which a page is read binarised too
SPHINX_RATE = 16_000  # pocketsphinx's en-us model is trained on 16 kHz audio
DRAFT = "pocketsphinx, offline: draft quality (word error 0.33-0.75 on synthetic speech here); a cloud provider for anything that matters"


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


def _ocr(page: Any) -> tuple[list[TextLine], dict[str, Any]]:
    """tesseract's lines. A photographed page (its background uneven: a shadow, a curl, the lamp's
    fall-off) is read twice, as it is and binarised (OpenCV's adaptive threshold), and the reading
    with more text read surely is kept: on scikit-image's scanned ``page`` this took character errors
    from 120% (whole words lost) to 18%, on shadowed renders from 13% to 0.9%; an even page is read once."""
    _tool("tesseract", "tesseract-ocr")
    import pytesseract

    data = pytesseract.image_to_data(page, output_type=pytesseract.Output.DICT)
    how, unevenness = "plain", _unevenness(page)
    if unevenness > UNEVEN_BACKGROUND:
        again = pytesseract.image_to_data(_binarised(page), output_type=pytesseract.Output.DICT)
        if _sure_characters(again) > _sure_characters(data):
            data, how = again, "binarised"
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
    return out, {"tesseract": {"read": how, "background_unevenness": round(unevenness, 1)}}


def _sure_characters(data: dict[str, Any]) -> int:
    """How much text a reading holds that tesseract is sure of (word confidence 60 or more)."""
    return sum(len(str(w).strip()) for w, c in zip(data["text"], data["conf"]) if str(w).strip() and float(c) >= 60)


def _unevenness(page: Any) -> float:
    """The spread of the page's background brightness (5th to 95th percentile of a heavy blur, in
    grey levels): about 0 for a scan or a render, tens for a photo lit from one side."""
    import numpy as np

    cv2 = _cv2()
    gray = np.asarray(page.convert("L"))
    k = max(31, (min(gray.shape) // 8) | 1)
    background = cv2.medianBlur(cv2.resize(gray, None, fx=0.25, fy=0.25) if min(gray.shape) > 400 else gray, min(k, 255) | 1)
    lo, hi = np.percentile(background, [5, 95])
    return float(hi - lo)


def _binarised(page: Any) -> Any:
    import numpy as np
    from PIL import Image

    cv2 = _cv2()
    gray = np.asarray(page.convert("L"))
    block = max(15, (min(gray.shape) // 20) | 1)  # odd, about a text line's height
    return Image.fromarray(cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 15))


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise NotSupported(f"the {NAME} provider needs OpenCV for this: pip install 'skyloop[ai]'") from None
    return cv2


def _faces(page: Any) -> list[Face]:
    """Frontal faces with the Haar cascade OpenCV ships: boxes in the upright image; a cascade gives
    no confidence, so none is given."""
    import numpy as np

    cv2 = _cv2()
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    gray = cv2.equalizeHist(np.asarray(page.convert("L")))
    side = max(24, min(gray.shape) // 20)
    found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
    return [Face(confidence=None, box=Box(left=int(x), top=int(y), width=int(w), height=int(h))) for x, y, w, h in found]


def _key_phrases(text: str, language: str, top: int = 10) -> list[str]:
    """Key phrases with YAKE (statistical: no model file), with the language's stop words where it
    has them, most relevant first."""
    try:
        import yake
    except ImportError:
        raise NotSupported(f"the {NAME} provider needs yake for key phrases: pip install 'skyloop[ai]'") from None
    extractor = yake.KeywordExtractor(lan=language or "en", n=3, top=top, dedupLim=0.7)
    return [str(phrase) for phrase, _ in extractor.extract_keywords(text)]


@lru_cache(maxsize=1)
def _sphinx() -> Any:
    """pocketsphinx's decoder with the en-us model its wheel carries, loaded once per process."""
    try:
        from pocketsphinx import Config, Decoder
    except ImportError:
        raise NotSupported(f"the {NAME} provider needs pocketsphinx for this: pip install 'skyloop[ai]'") from None

    config = Config(samprate=SPHINX_RATE, loglevel="FATAL")
    return Decoder(config)


def _resampled(pcm: bytes, rate: int, to: int) -> bytes:
    """16-bit mono samples at another rate (linear interpolation: enough for speech recognition)."""
    if rate == to:
        return pcm
    import numpy as np

    x = np.frombuffer(pcm, "<i2").astype(np.float64)
    n = max(1, int(round(len(x) * to / rate)))
    y = np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x)
    return np.clip(np.round(y), -32768, 32767).astype("<i2").tobytes()


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
        wanted = _check(features, {"text", "faces"})
        page = upright_on_white(image)
        lines, raw = _ocr(page) if "text" in wanted else ([], {})
        faces = _faces(page) if "faces" in wanted else []
        return ImageAnalysis(provider=NAME, text=lines, faces=faces, raw=raw)

    def analyze_text(self, text: str, features: Sequence[str] = ("sentiment", "language")) -> TextAnalysis:
        wanted = _check(features, {"sentiment", "language", "key_phrases"})
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
        phrases: list[str] = []
        if "key_phrases" in wanted:
            phrases = _key_phrases(text, language or identify_language(text)[0])
        if "language" not in wanted:
            language = confidence = None
        return TextAnalysis(provider=NAME, sentiment=sentiment, language=language, language_confidence=confidence,
                            key_phrases=phrases, raw=raw)

    def transcribe(self, audio: bytes, *, language: str | None = None, media_format: str = "wav") -> Transcript:
        """English speech, offline, with pocketsphinx's own model: a draft, and said to be one."""
        from ..ports.media import wav_audio

        if language and iso639(language) != "en":
            raise NotSupported(f"the {NAME} provider transcribes English only, not {language!r}; use --provider with "
                               f"one of: {ELSEWHERE['transcribe']}")
        sound = wav_audio(NAME, audio, media_format)
        decoder = _sphinx()
        decoder.start_utt()
        decoder.process_raw(_resampled(sound.pcm, sound.rate, SPHINX_RATE), full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return Transcript.heard(NAME, hyp.hypstr if hyp is not None else "", language or "en-US",
                                raw={"engine": "pocketsphinx", "quality": DRAFT})

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
