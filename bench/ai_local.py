"""The local AI provider's offline additions (issue 35): quality and time on this machine.

- OCR of photographed pages: scikit-image's scanned ``page`` (uneven light) and a rendered receipt
  with a shadow laid across it at three strengths, character error rate against the known text,
  read as it is and as the provider reads it (binarised when the background is uneven);
- faces: NASA's portrait of Eileen Collins (tests/data/images), found or not, and the time;
- key phrases (YAKE): the time per text;
- English transcription (pocketsphinx): word error rate on espeak-ng's speech of ten operations
  sentences, and the time per second of audio. Synthetic speech is not a person on a phone: the
  number says "draft", no more.
"""

from __future__ import annotations

import difflib
import io
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from bench.common import write  # noqa: E402

IMAGES = Path(__file__).resolve().parents[1] / "tests" / "data" / "images"
PAGE_TRUTH = ("Region-based segmentation\nLet us first determine markers of the coins and the\nbackground. These "
              "markers are pixels that we can label\nunambiguously as either object or background. Here,\nthe "
              "markers are found at the two extreme parts of the\nhistogram of grey values:")
RECEIPT = ["Skyloop closes the loop on", "models in the cloud: train,", "deploy, detect and remediate.",
           "Invoice 4471 total 128.40 EUR"]
SENTENCES = ["the service is down", "please restart the checkout service", "scale out the api cluster",
             "the database is out of memory", "roll back the last deployment", "latency is high on the api",
             "clear the cache on every node", "the canary failed its checks", "approve version three",
             "page the on call engineer"]


def _edits(got: list[str] | str, want: list[str] | str) -> float:
    ops = difflib.SequenceMatcher(None, got, want).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in ops if op != "equal") / len(want)


def _shadowed(strength: float) -> bytes:
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    img = Image.new("L", (1400, 700), 235)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(RECEIPT):
        draw.text((60, 60 + i * 150), line, fill=40, font=ImageFont.load_default(size=64))
    a = np.asarray(img).astype(float)
    yy, xx = np.mgrid[0:a.shape[0], 0:a.shape[1]]
    a = a * (1.0 - strength * (xx / a.shape[1]) * (yy / a.shape[0]) ** 0.5) + np.random.default_rng(1).normal(0, 12, a.shape)
    out = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def ocr() -> list[dict[str, Any]]:
    import pytesseract

    from skyloop.local.ai import LocalAI, upright_on_white

    ai, rows = LocalAI(), []
    cases = [("scikit-image page (scan, uneven light)", (IMAGES / "page.png").read_bytes(), PAGE_TRUTH, 6)]
    cases += [(f"rendered receipt, shadow {s}", _shadowed(s), "\n".join(RECEIPT), 4) for s in (0.0, 0.5, 0.8)]
    for name, data, truth, n in cases:
        plain = "\n".join([x for x in pytesseract.image_to_string(upright_on_white(data)).splitlines() if x.strip()][:n])
        t0 = time.perf_counter()
        out = ai.analyze_image(data)
        seconds = time.perf_counter() - t0
        rows.append({"image": name, "cer_plain": round(_edits(plain, truth), 3),
                     "cer_provider": round(_edits("\n".join(x.text for x in out.text[:n]), truth), 3),
                     "read": (out.raw or {}).get("tesseract", {}).get("read"), "seconds": round(seconds, 2)})
    return rows


def faces() -> dict[str, Any]:
    from skyloop.local.ai import LocalAI

    t0 = time.perf_counter()
    out = LocalAI().analyze_image((IMAGES / "astronaut.jpg").read_bytes(), features=("faces",))
    return {"image": "astronaut.jpg (256 x 256, one face)", "found": len(out.faces),
            "seconds": round(time.perf_counter() - t0, 3)}


def key_phrases() -> dict[str, Any]:
    from skyloop.local.ai import LocalAI

    text = ("The checkout service failed again overnight and customers are angry about the payment errors. "
            "The on-call engineer rolled back the deployment and latency returned to normal.")
    ai = LocalAI()
    ai.analyze_text(text, features=("key_phrases",))  # warm: the first call imports
    t0 = time.perf_counter()
    out = ai.analyze_text(text, features=("key_phrases",))
    return {"phrases": out.key_phrases[:5], "seconds": round(time.perf_counter() - t0, 3)}


def transcription() -> dict[str, Any]:
    from skyloop.local.ai import LocalAI

    ai, errors, audio_s, spent = LocalAI(), [], 0.0, 0.0
    for sentence in SENTENCES:
        speech = ai.synthesize(sentence)
        t0 = time.perf_counter()
        heard = ai.transcribe(speech.audio)
        spent += time.perf_counter() - t0
        audio_s += speech.duration_seconds
        errors.append(_edits(heard.text.split(), sentence.split()))
    return {"sentences": len(SENTENCES), "voice": "espeak-ng en, 22,050 Hz", "wer_mean": round(sum(errors) / len(errors), 2),
            "wer_min": round(min(errors), 2), "wer_max": round(max(errors), 2), "seconds_per_audio_second": round(spent / audio_s, 3)}


def main() -> None:
    doc = {"ocr": ocr(), "faces": faces(), "key_phrases": key_phrases(), "transcription": transcription()}
    for k, v in doc.items():
        print(k, v)
    write("ai_local", doc)


if __name__ == "__main__":
    main()
