"""Every AI provider maps into the same result types, and each field means the same thing on every
provider (ports/ai.py): one text analysis, one OCR, one translation, one transcription and one speech
synthesis through each provider that has the operation, the fields compared by meaning, not by type.

The local provider runs its real tools. The clouds answer with recorded response shapes for the same
input, in each SDK's own types: AWS through botocore's Stubber (which checks every request against
the service model), Google Cloud and Azure through their generated clients' types at a fake client
(tests/integration/{gcp,azure}/test_ai_services.py). The text is negative, names a city and is in
English, and each provider answers as its service does for it: a test that accepted any label let
Azure read "The checkout service failed again and customers are angry" as positive 0.90."""

from __future__ import annotations

import io
import json
import shutil
from typing import Any, Callable

import pytest

from skyloop.ports.ai import ENTITY_TYPES, Speech, TextAnalysis
from skyloop.ports.media import wav_bytes

TEXT = "The checkout service in Berlin failed again and customers are angry."
WAV = wav_bytes(b"\x00\x01" * 24_000, 24_000)
LINES = ["TOTAL 12.50", "THANK YOU"]  # a receipt's two printed lines


def _png() -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (900, 300), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(LINES):
        draw.text((40, 40 + i * 110), line, fill="black", font=ImageFont.load_default(size=64))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


# ---- local: the real tools -------------------------------------------------------------------------
def _local(**_: Any) -> Any:
    if not (shutil.which("espeak-ng") and shutil.which("tesseract")):
        pytest.skip("the local provider's tools are not installed (apt-get install tesseract-ocr espeak-ng)")
    pytest.importorskip("vaderSentiment")
    from skyloop.local.ai import LocalAI

    return LocalAI()


# ---- AWS: botocore's Stubber, recorded shapes ----------------------------------------------------
class _Stream:
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, *a: Any) -> bytes:
        return self._data.read()


def _aws(entities: bool = False) -> Any:
    boto3 = pytest.importorskip("boto3")
    from botocore.stub import ANY, Stubber

    from skyloop.clouds.aws.ai import AwsAI
    from skyloop.clouds.aws.config import AwsSettings

    clients, stubs = {}, []
    for service in ("comprehend", "polly", "rekognition", "translate", "transcribe", "s3"):
        c = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        clients[service], stub = c, Stubber(c)
        stubs.append(stub)
    cmp, polly, rek, tr, trs, s3 = stubs
    cmp.add_response("detect_dominant_language", {"Languages": [{"LanguageCode": "en", "Score": 0.99}]})
    if not entities:  # a Stubber answers in order: the one text operation each test asks for
        cmp.add_response("detect_sentiment", {"Sentiment": "NEGATIVE", "SentimentScore": {
            "Positive": 0.0021, "Negative": 0.9897, "Neutral": 0.0079, "Mixed": 0.0003}})
    cmp.add_response("detect_entities", {"Entities": [{"Text": "Berlin", "Type": "LOCATION", "Score": 0.998,
                                                       "BeginOffset": 28, "EndOffset": 34}]})
    polly.add_response("synthesize_speech", {"AudioStream": _Stream(b"\x00\x01" * 16_000), "ContentType": "audio/pcm"})
    box = {"Width": 0.5, "Height": 0.2, "Left": 0.04, "Top": 0.1}
    rek.add_response("detect_text", {"TextDetections": [
        {"DetectedText": LINES[0], "Type": "LINE", "Id": 0, "Confidence": 99.1, "Geometry": {"BoundingBox": box}},
        {"DetectedText": LINES[1], "Type": "LINE", "Id": 1, "Confidence": 98.7, "Geometry": {"BoundingBox": box}},
        {"DetectedText": "TOTAL", "Type": "WORD", "Id": 2, "ParentId": 0, "Confidence": 99.0, "Geometry": {"BoundingBox": box}}]})
    tr.add_response("translate_text", {"TranslatedText": "Der Checkout-Dienst in Berlin ist wieder ausgefallen.",
                                       "SourceLanguageCode": "en", "TargetLanguageCode": "de"})
    job = {"TranscriptionJobName": "skyloop-x", "TranscriptionJobStatus": "COMPLETED", "LanguageCode": "en-US"}
    trs.add_response("get_transcription_job", {"TranscriptionJob": job})
    transcript = {"jobName": "skyloop-x", "results": {"transcripts": [{"transcript": "hello skyloop"}], "items": [
        {"type": "pronunciation", "alternatives": [{"confidence": "0.98", "content": "hello"}]},
        {"type": "pronunciation", "alternatives": [{"confidence": "0.92", "content": "skyloop"}]}]}}
    s3.add_response("get_object", {"Body": _Stream(json.dumps(transcript).encode())}, {"Bucket": ANY, "Key": ANY})
    for stub in stubs:
        stub.activate()
    return AwsAI(AwsSettings(bucket="skyloop-training"), clients)


# ---- Google Cloud: the generated clients' types at a fake client ---------------------------------
def _gcp(**_: Any) -> Any:
    pytest.importorskip("google.cloud.language_v2")
    from google.cloud import language_v2 as L
    from google.cloud import speech_v1 as S
    from google.cloud import texttospeech_v1 as tts
    from google.cloud import translate_v3 as T
    from google.cloud import vision_v1 as V

    from skyloop.clouds.gcp.ai import GcpAI
    from skyloop.clouds.gcp.config import GcpSettings

    from ..integration.gcp.test_ai_services import Fake

    Break = V.TextAnnotation.DetectedBreak.BreakType

    def word(text: str, x: int, y: int, brk: Any) -> Any:
        symbols = [V.Symbol(text=c) for c in text]
        symbols[-1].property = V.TextAnnotation.TextProperty(detected_break=V.TextAnnotation.DetectedBreak(type_=brk))
        return V.Word(symbols=symbols, confidence=0.98, bounding_box=V.BoundingPoly(vertices=[
            V.Vertex(x=x, y=y), V.Vertex(x=x + 120, y=y), V.Vertex(x=x + 120, y=y + 60), V.Vertex(x=x, y=y + 60)]))

    # Vision's shape for a receipt: one paragraph, two printed lines, the line ends marked on the last symbol
    para = V.Paragraph(confidence=0.98, words=[word("TOTAL", 40, 40, Break.SPACE), word("12.50", 180, 40, Break.EOL_SURE_SPACE),
                                               word("THANK", 40, 150, Break.SPACE), word("YOU", 180, 150, Break.LINE_BREAK)])
    ocr = V.AnnotateImageResponse(full_text_annotation=V.TextAnnotation(pages=[V.Page(blocks=[V.Block(paragraphs=[para])])]))
    return GcpAI(GcpSettings(project="skyloop-dev"), {
        "language": Fake(
            analyze_sentiment=(L.AnalyzeSentimentRequest, L.AnalyzeSentimentResponse(
                document_sentiment=L.Sentiment(score=-0.8, magnitude=1.6), language_code="en")),
            analyze_entities=(L.AnalyzeEntitiesRequest, L.AnalyzeEntitiesResponse(entities=[
                L.Entity(name="Berlin", type_=L.Entity.Type.LOCATION, mentions=[L.EntityMention(probability=0.97)])],
                language_code="en"))),
        "vision": Fake(annotate_image=(V.AnnotateImageRequest, ocr)),
        "translate": Fake(translate_text=(T.TranslateTextRequest, T.TranslateTextResponse(translations=[
            T.Translation(translated_text="Der Checkout-Dienst in Berlin ist wieder ausgefallen.", detected_language_code="en")]))),
        "speech": Fake(recognize=(S.RecognizeRequest, S.RecognizeResponse(results=[S.SpeechRecognitionResult(
            alternatives=[S.SpeechRecognitionAlternative(transcript="hello skyloop", confidence=0.95)], language_code="en-us")]))),
        "tts": Fake(synthesize_speech=(tts.SynthesizeSpeechRequest, tts.SynthesizeSpeechResponse(audio_content=WAV)))})


# ---- Azure: the SDKs' own models at a fake client --------------------------------------------------
def _azure(**_: Any) -> Any:
    sp = pytest.importorskip("azure.cognitiveservices.speech")
    pytest.importorskip("azure.ai.textanalytics")
    from azure.ai.textanalytics import (AnalyzeSentimentResult, CategorizedEntity, RecognizeEntitiesResult,
                                        SentimentConfidenceScores)
    from azure.ai.translation.text.models import TranslatedTextItem
    from azure.ai.vision.imageanalysis.models import ImageAnalysisResult

    from skyloop.clouds.azure.ai import AzureAI
    from skyloop.clouds.azure.config import AzureSettings

    from ..integration.azure.test_ai_services import Language, _Recognizer

    class Negative(Language):  # AI Language's answer for this text
        def analyze_sentiment(self, docs: list[str], language: str | None = None, **kw: Any) -> Any:
            return [AnalyzeSentimentResult(id="0", sentiment="negative", is_error=False,
                                           confidence_scores=SentimentConfidenceScores(positive=0.01, neutral=0.03, negative=0.96))]

        def recognize_entities(self, docs: list[str], language: str | None = None, **kw: Any) -> Any:
            return [RecognizeEntitiesResult(id="0", is_error=False, entities=[
                CategorizedEntity(text="Berlin", category="Location", confidence_score=0.99)])]

    class Vision:
        def analyze(self, image_data: bytes, visual_features: list[Any], **kw: Any) -> Any:
            poly = [{"x": 40, "y": 40}, {"x": 300, "y": 40}, {"x": 300, "y": 100}, {"x": 40, "y": 100}]
            return ImageAnalysisResult({"modelVersion": "2023-10-01", "metadata": {"width": 900, "height": 300},
                                        "readResult": {"blocks": [{"lines": [
                                            {"text": t, "boundingPolygon": poly,
                                             "words": [{"text": w, "confidence": 0.99, "boundingPolygon": poly} for w in t.split()]}
                                            for t in LINES]}]}})

    class Translator:
        def translate(self, body: list[str], to_language: list[str], **kw: Any) -> Any:
            return [TranslatedTextItem({"detectedLanguage": {"language": "en", "score": 1.0},
                                        "translations": [{"text": "Der Checkout-Dienst in Berlin ist wieder ausgefallen.",
                                                          "to": to_language[0]}]})]

    class Done:
        reason, audio_data = sp.ResultReason.SynthesizingAudioCompleted, WAV

        def get(self) -> Any:
            return self

    class Synth:
        def speak_text_async(self, text: str) -> Any:
            return Done()

    return AzureAI(AzureSettings(ai_endpoint="https://x.cognitiveservices.azure.com/"), {
        "language": Negative(), "vision": Vision(), "translator": Translator(), "synthesizer": lambda config: Synth(),
        "recognizer": lambda config, pcm, rate: _Recognizer([(sp.ResultReason.RecognizedSpeech, "hello skyloop")]),
        "speech_config": lambda: sp.SpeechConfig(subscription="test-only", region="westeurope")})


PROVIDERS: dict[str, Callable[..., Any]] = {"local": _local, "aws": _aws, "gcp": _gcp, "azure": _azure}
CLOUDS = ["aws", "gcp", "azure"]
# which class probabilities each provider gives: the rest must be None, never a made-up number
PROBABILITIES = {"local": set(), "aws": {"positive", "negative", "neutral", "mixed"}, "gcp": set(),
                 "azure": {"positive", "negative", "neutral"}}


@pytest.mark.parametrize("name", PROVIDERS)
def test_sentiment_and_language_mean_the_same_everywhere(name: str) -> None:
    ai = PROVIDERS[name]()
    out = ai.analyze_text(TEXT, features=("sentiment", "language"))
    assert type(out) is TextAnalysis and out.provider == name == ai.name
    assert set(out.model_dump(mode="json")) == {"provider", "language", "language_confidence", "sentiment", "entities",
                                                "key_phrases"}  # raw is kept on the object, not in the stored result
    assert out.language == "en"  # ISO 639-1 everywhere
    if name == "gcp":
        assert out.language_confidence is None  # Natural Language gives none: never made up
    else:
        assert 0.5 <= (out.language_confidence or 0.0) <= 1.0
    s = out.sentiment
    assert s is not None and s.label == "negative" and -1.0 <= s.score < -0.3  # one scale: negative is below 0
    given = {k for k in ("positive", "negative", "neutral", "mixed") if getattr(s, k) is not None}
    assert given == PROBABILITIES[name], given
    if given:  # class probabilities: they add up, and the negative class carries it
        assert sum(getattr(s, k) for k in given) == pytest.approx(1.0, abs=0.02)
        assert s.negative is not None and s.negative > 0.9 and s.score == pytest.approx((s.positive or 0) - s.negative)
    assert out.raw  # the provider's own answer stays available (--raw)


@pytest.mark.parametrize("name", CLOUDS)
def test_entities_share_one_vocabulary_and_keep_the_providers_own(name: str) -> None:
    out = PROVIDERS[name](entities=True).analyze_text(TEXT, features=("entities",))
    [berlin] = out.entities
    assert (berlin.text, berlin.type) == ("Berlin", "location") and berlin.type in ENTITY_TYPES
    assert berlin.provider_type.lower() == "location" and 0.9 <= (berlin.confidence or 0) <= 1.0


@pytest.mark.parametrize("name", PROVIDERS)
def test_ocr_lines_are_printed_lines(name: str) -> None:
    """Google's OCR "lines" were paragraphs: a receipt's lines ran together."""
    ai = PROVIDERS[name]()
    if name == "local":
        pytest.importorskip("pytesseract")
    out = ai.analyze_image(_png(), features=("text",))
    assert [line.text for line in out.text] == LINES
    assert all(0.0 <= line.confidence <= 1.0 and line.box.width > 0 for line in out.text)


@pytest.mark.parametrize("name", CLOUDS)
def test_translation_names_languages_as_iso_639_1(name: str) -> None:
    out = PROVIDERS[name]().translate(TEXT, "de")
    assert (out.source_language, out.target_language) == ("en", "de") and "Berlin" in out.text and out.raw


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_transcript_has_a_language_and_a_locale(name: str) -> None:
    """en-US on some providers and en-us on others: now ``en`` and ``en-US`` on all. The local one
    hears espeak-ng's speech with pocketsphinx: a draft, so only its shape is held to."""
    ai = PROVIDERS[name]()
    if name == "local":
        pytest.importorskip("pocketsphinx")
        out = ai.transcribe(ai.synthesize("hello skyloop").audio)
        assert out.text.strip() and (out.language, out.locale) == ("en", "en-US") and out.confidence is None
        return
    out = ai.transcribe(wav_bytes(b"\x00\x00" * 16_000, 16_000))
    assert (out.text, out.language, out.locale) == ("hello skyloop", "en", "en-US")
    assert out.confidence is None or 0.0 <= out.confidence <= 1.0


@pytest.mark.parametrize("name", PROVIDERS)
def test_speech_has_one_shape(name: str) -> None:
    import wave

    ai = PROVIDERS[name]()
    out = ai.synthesize("Hello from Skyloop", audio_format="wav")
    assert type(out) is Speech and out.provider == name and out.format == "wav"
    with wave.open(io.BytesIO(out.audio)) as w:  # a real WAV file, whatever made it
        assert w.getframerate() == out.sample_rate
        assert out.duration_seconds == pytest.approx(w.getnframes() / w.getframerate())
    assert out.duration_seconds > 0


def test_entity_types_map_every_providers_words() -> None:
    from skyloop.ports.ai import entity_type

    for word, shared in [("PERSON", "person"), ("PersonType", "person"), ("LOCATION", "location"), ("Address", "location"),
                         ("ORGANIZATION", "organization"), ("COMMERCIAL_ITEM", "product"), ("CONSUMER_GOOD", "product"),
                         ("Product", "product"), ("WORK_OF_ART", "work"), ("TITLE", "work"), ("DATE", "date"),
                         ("DateTime", "date"), ("QUANTITY", "quantity"), ("PRICE", "quantity"), ("PHONE_NUMBER", "contact"),
                         ("PhoneNumber", "contact"), ("Email", "contact"), ("EVENT", "event"), ("Skill", "other"),
                         ("UNKNOWN", "other")]:
        assert entity_type(word) == shared, word
