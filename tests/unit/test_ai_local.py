"""The local AI provider on real tools, offline: text rendered to an image and read back by
tesseract, speech synthesised by espeak-ng and measured with sox, sentiment by VADER, language
by langid; what the local provider lacks is a typed NotSupported naming where to get it. The
Debian tools are installed by python -m tests.tools (as root); without them these tests skip and say which is missing."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from skyloop.local.ai import LocalAI
from skyloop.bootstrap import ai_provider as provider
from skyloop.ports.ai import ImageAnalysis, Speech, TextAnalysis
from skyloop.errors import CloudUnavailable, InvalidRequest, NotSupported
from skyloop.ports import AIServices


def needs(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (apt-get install {package}; python -m tests.tools does as root)")


def _rendered(text: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (1000, 220), "white")
    ImageDraw.Draw(img).text((30, 70), text, fill="black", font=ImageFont.load_default(size=56))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_the_local_provider_keeps_the_port() -> None:
    assert isinstance(provider("local"), AIServices)


def test_ocr_reads_back_a_rendered_sentence() -> None:
    needs("tesseract", "tesseract-ocr")
    pytest.importorskip("pytesseract")
    result = LocalAI().analyze_image(_rendered("Skyloop closes the loop"))
    assert isinstance(result, ImageAnalysis) and result.provider == "local"
    assert result.full_text == "Skyloop closes the loop"
    [line] = result.text
    assert line.confidence > 0.5 and line.box.width > 300 and line.box.top > 30
    with pytest.raises(InvalidRequest, match="not an image"):
        LocalAI().analyze_image(b"GIF89a-not-really")


def test_sentiment_and_language() -> None:
    pytest.importorskip("vaderSentiment")
    pytest.importorskip("langid")
    ai = LocalAI()
    good = ai.analyze_text("The rollout went perfectly and the team is delighted.")
    bad = ai.analyze_text("The outage was terrible and customers are furious.")
    assert isinstance(good, TextAnalysis)
    assert (good.sentiment.label, bad.sentiment.label) == ("positive", "negative")
    assert good.language == "en" and good.language_confidence > 0.9
    assert ai.analyze_text("Le déploiement s'est très bien passé hier soir.", ["language"]).language == "fr"
    assert ai.analyze_text("Die Bereitstellung ist gestern Abend gut gelaufen.", ["language"]).sentiment is None
    with pytest.raises(InvalidRequest, match="no text"):
        ai.analyze_text("   ")


def test_speech_is_synthesised_and_its_duration_measured_with_sox() -> None:
    needs("espeak-ng", "espeak-ng")
    needs("soxi", "sox")
    short = LocalAI().synthesize("Scaling out the API.")
    long = LocalAI().synthesize("Scaling out the API service because its CPU stayed above ninety percent for ten minutes.")
    assert isinstance(short, Speech) and short.format == "wav" and short.audio[:4] == b"RIFF"
    for speech in (short, long):
        measured = float(subprocess.run(["soxi", "-D", "-"], input=speech.audio, capture_output=True, check=True).stdout)
        assert measured == pytest.approx(speech.duration_seconds, abs=0.05)
    assert long.duration_seconds > 2 * short.duration_seconds > 1.0
    with pytest.raises(NotSupported, match="wav only"):
        LocalAI().synthesize("hi", audio_format="mp3")
    with pytest.raises(InvalidRequest, match="has no voice 'no-such-voice'"):
        LocalAI().synthesize("hi", voice="no-such-voice")  # espeak-ng itself would speak it in English
    assert LocalAI().synthesize("Hallo zusammen.", voice="de").voice == "de"
    assert LocalAI().synthesize("Hello.", voice="en+f3").duration_seconds > 0


@pytest.mark.parametrize("call,what", [
    (lambda ai: ai.translate("hello", "de"), "translate"),
    (lambda ai: ai.analyze_image(b"", ["labels", "text"]), "labels"),
    (lambda ai: ai.analyze_text("hello", ["entities"]), "entities"),
])
def test_what_the_local_provider_lacks_names_who_has_it(call, what: str) -> None:
    with pytest.raises(NotSupported, match=f"the local provider has no {what}; use --provider") as e:
        call(LocalAI())
    assert e.value.code == "not_supported" and "aws" in e.value.reason


def test_a_cloud_provider_without_its_sdk_is_refused_not_faked(monkeypatch: pytest.MonkeyPatch) -> None:
    from skyloop.clouds import CLOUDS, Cloud

    monkeypatch.setitem(CLOUDS, "gcp", Cloud("gcp", "skyloop.clouds.gcp", ("surely_absent_vision_sdk",), "gcp"))
    with pytest.raises(CloudUnavailable, match=r"pip install 'skyloop\[gcp\]'"):
        provider("gcp")
    with pytest.raises(CloudUnavailable, match="unknown AI provider"):
        provider("ibm")


def test_the_cli(tmp_path: Path) -> None:
    needs("espeak-ng", "espeak-ng")
    from typer.testing import CliRunner

    from skyloop.app.cli import app

    text = tmp_path / "note.txt"
    text.write_text("Everything recovered nicely after the restart.", encoding="utf-8")
    res = CliRunner().invoke(app, ["ai", "text", str(text)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["sentiment"]["label"] == "positive" and doc["sentiment"]["score"] > 0 and "raw" not in doc
    res = CliRunner().invoke(app, ["ai", "text", str(text), "--raw"])  # the provider's own answer beside it
    raw = json.loads(res.stdout)["raw"]
    assert raw["langid"]["language"] == "en" and set(raw["vader"]) == {"neg", "neu", "pos", "compound"}
    res = CliRunner().invoke(app, ["ai", "tts", str(text), "--voice", "en"])
    assert res.exit_code == 0 and (tmp_path / "note.wav").read_bytes()[:4] == b"RIFF"
    res = CliRunner().invoke(app, ["ai", "translate", str(text), "--to", "de"])
    assert res.exit_code == 2 and "error [not_supported]" in res.output


@pytest.mark.parametrize("text,language", [
    ("Das Essen war wunderbar, der Service ausgezeichnet. Ich komme gerne wieder!", "de"),
    ("La comida estaba deliciosa y el servicio fue excelente.", "es"),
    ("Обслуживание было отличным, еда вкусной.", "ru"),
    ("料理はとても美味しかったです。", "ja")])
def test_sentiment_of_a_text_that_is_not_english_is_refused_not_guessed(text: str, language: str) -> None:
    """VADER is an English lexicon: the German review came out negative ("war"), the others neutral."""
    pytest.importorskip("vaderSentiment")
    pytest.importorskip("langid")
    with pytest.raises(NotSupported, match=f"English only.*'{language}'.*aws \\(Comprehend\\)"):
        LocalAI().analyze_text(text)
    assert LocalAI().analyze_text(text, features=("language",)).language == language  # language alone still answers
    assert LocalAI().analyze_text("ok").sentiment is not None  # a short English word langid is unsure of


def _image(text: str, mode: str, size: tuple[int, int] = (1000, 220), rotate: int = 0) -> Any:
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new(mode, size, (0, 0, 0, 0) if mode == "RGBA" else "white")
    ImageDraw.Draw(img).text((30, 70), text, fill="black", font=ImageFont.load_default(size=56))
    return img.rotate(rotate, expand=True) if rotate else img


def test_black_text_on_a_transparent_png_is_read() -> None:
    """convert("RGB") turned the transparent background black, and the black text vanished."""
    needs("tesseract", "tesseract-ocr")
    pytest.importorskip("pytesseract")
    buf = io.BytesIO()
    _image("Skyloop closes the loop", "RGBA").save(buf, format="PNG")
    assert LocalAI().analyze_image(buf.getvalue()).full_text == "Skyloop closes the loop"


def test_a_sideways_phone_photo_is_read_upright() -> None:
    """A phone stores the sensor's pixels and an EXIF orientation; 6 means "turn 90° clockwise"."""
    needs("tesseract", "tesseract-ocr")
    pytest.importorskip("pytesseract")
    img = _image("Skyloop closes the loop", "RGB", rotate=90)  # as the sensor saw it
    exif = img.getexif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    assert LocalAI().analyze_image(buf.getvalue()).full_text == "Skyloop closes the loop"


def test_the_pixel_cap_holds_before_any_decode() -> None:
    """A 90 kB PNG stating 400 megapixels was an internal error (DecompressionBombError), and below
    Pillow's limit nothing bounded pixels (144 MP took 7 s and 1.5 GB)."""
    from PIL import Image

    from skyloop.ports.media import MAX_PIXELS, image_size

    for side in (20_000, 12_000):  # 400 MP: Pillow's bomb; 144 MP: below Pillow's limit, above the cap
        buf = io.BytesIO()
        Image.new("1", (side, side), 1).save(buf, format="PNG", optimize=True)
        assert len(buf.getvalue()) < 200_000
        with pytest.raises(InvalidRequest, match="megapixel"):
            LocalAI().analyze_image(buf.getvalue())
        with pytest.raises(InvalidRequest, match="megapixel"):
            image_size(buf.getvalue())
    assert MAX_PIXELS == 75_000_000


def test_language_identification_builds_its_model_once() -> None:
    pytest.importorskip("langid")
    from skyloop.local import ai as local_ai

    local_ai._language_identifier.cache_clear()
    for text in ("one text to identify", "zwei Texte", "trois textes"):
        LocalAI().analyze_text(text, features=("language",))
    assert local_ai._language_identifier.cache_info().misses == 1


DATA = Path(__file__).resolve().parents[1] / "data" / "images"  # provenance: tests/data/images/README.md


def test_key_phrases_offline_with_yake() -> None:
    pytest.importorskip("yake")
    out = LocalAI().analyze_text("The checkout service failed again overnight and customers are angry about the "
                                 "payment errors.", features=("key_phrases",))
    assert "payment errors" in out.key_phrases and out.key_phrases[0].startswith("checkout service")
    assert out.language is None and out.sentiment is None  # only what was asked for


def test_a_face_is_found_offline_with_the_shipped_cascade() -> None:
    pytest.importorskip("cv2")
    out = LocalAI().analyze_image((DATA / "astronaut.jpg").read_bytes(), features=("faces",))
    [face] = out.faces  # Eileen Collins, NASA's public-domain portrait, at 256 x 256
    assert face.confidence is None  # a cascade gives no confidence: none is made up
    assert 70 <= face.box.left <= 100 and 15 <= face.box.top <= 45 and 40 <= face.box.width <= 80


def test_a_photographed_page_is_binarised_and_read() -> None:
    """scikit-image's scanned page, lit unevenly: read as it is, tesseract lost whole words (120%
    character errors); binarised first, 18%."""
    needs("tesseract", "tesseract-ocr")
    pytest.importorskip("cv2")
    import difflib

    truth = ("Let us first determine markers of the coins and the\nbackground. These markers are pixels that we can "
             "label\nunambiguously as either object or background. Here,\nthe markers are found at the two extreme "
             "parts of the")
    out = LocalAI().analyze_image((DATA / "page.png").read_bytes())
    assert out.raw and out.raw["tesseract"]["read"] == "binarised"
    got = "\n".join(line.text for line in out.text[1:5])
    assert difflib.SequenceMatcher(None, got, truth).ratio() > 0.95, got


def test_english_speech_is_transcribed_offline_as_a_draft() -> None:
    needs("espeak-ng", "espeak-ng")
    pytest.importorskip("pocketsphinx")
    ai = LocalAI()
    speech = ai.synthesize("please restart the checkout service")  # espeak-ng writes 22,050 Hz: resampled to 16 kHz
    out = ai.transcribe(speech.audio)
    assert out.text.strip() and (out.language, out.locale) == ("en", "en-US")
    assert out.raw and "draft" in out.raw["quality"]
    with pytest.raises(NotSupported, match="English only"):
        ai.transcribe(speech.audio, language="de-DE")


def test_split_text_cuts_at_sentence_ends_within_the_limit() -> None:
    from skyloop.ports.media import split_text

    sentences = "Ärger im Dienst. Alles läuft wieder! Warum? " * 50
    text = sentences + "ein sehr langer Satz ohne Ende " * 40
    for limit in (60, 200, 1000):
        pieces = split_text(text, max_bytes=limit)
        assert "".join(pieces) == text and all(len(p.encode()) <= limit for p in pieces)
        done, inside = 0, []
        for p in pieces:  # the pieces wholly within the sentences end at a sentence's end
            done += len(p)
            if done <= len(sentences):
                inside.append(p)
        assert inside and all(p.rstrip().endswith((".", "!", "?")) for p in inside)
    assert split_text("short", max_chars=10) == ["short"]
    assert all(len(p) <= 7 for p in split_text("abcdefghijklmnopqrstuvwxyz", max_chars=7))  # no space: cut anywhere
