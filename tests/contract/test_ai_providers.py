"""Every AI provider maps into the same result types: one text analysis and one speech synthesis
through each provider (local for real; AWS with botocore's Stubber; Google Cloud and Azure with
their clients faked as in tests/integration/{gcp,azure}/test_ai_services.py), and the results
compared field by field, not just by class."""

from __future__ import annotations

import io
import shutil
from typing import Any, Callable

import pytest

from skyloop.ports.media import wav_bytes
from skyloop.ports.ai import Speech, TextAnalysis

TEXT = "The checkout service failed again and customers are angry."
WAV = wav_bytes(b"\x00\x01" * 24_000, 24_000)


def _local() -> Any:
    if not (shutil.which("espeak-ng") and shutil.which("tesseract")):
        pytest.skip("the local provider's tools are not installed (apt-get install tesseract-ocr espeak-ng)")
    pytest.importorskip("vaderSentiment")
    from skyloop.local.ai import LocalAI

    return LocalAI()


def _aws() -> Any:
    boto3 = pytest.importorskip("boto3")
    from botocore.stub import Stubber

    from skyloop.clouds.aws.ai import AwsAI
    from skyloop.clouds.aws.config import AwsSettings

    def stubbed(service: str) -> tuple[Any, Any]:
        c = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        return c, Stubber(c)

    cmp, s1 = stubbed("comprehend")
    s1.add_response("detect_dominant_language", {"Languages": [{"LanguageCode": "en", "Score": 0.99}]})
    s1.add_response("detect_sentiment", {"Sentiment": "NEGATIVE", "SentimentScore": {
        "Positive": 0.01, "Negative": 0.95, "Neutral": 0.03, "Mixed": 0.01}})
    polly, s2 = stubbed("polly")
    s2.add_response("synthesize_speech", {"AudioStream": _Stream(b"\x00\x01" * 16_000), "ContentType": "audio/pcm"})
    s1.activate()
    s2.activate()
    return AwsAI(AwsSettings(), {"comprehend": cmp, "polly": polly})


class _Stream:
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self) -> bytes:
        return self._data.read()


def _gcp() -> Any:
    pytest.importorskip("google.cloud.language_v2")
    from google.cloud import language_v2 as L
    from google.cloud import texttospeech_v1 as tts

    from skyloop.clouds.gcp.ai import GcpAI
    from skyloop.clouds.gcp.config import GcpSettings

    from ..integration.gcp.test_ai_services import Fake

    return GcpAI(GcpSettings(), {
        "language": Fake(analyze_sentiment=(L.AnalyzeSentimentRequest, L.AnalyzeSentimentResponse(
            document_sentiment=L.Sentiment(score=-0.7, magnitude=1.4), language_code="en"))),
        "tts": Fake(synthesize_speech=(tts.SynthesizeSpeechRequest, tts.SynthesizeSpeechResponse(audio_content=WAV)))})


def _azure() -> Any:
    sp = pytest.importorskip("azure.cognitiveservices.speech")
    pytest.importorskip("azure.ai.textanalytics")
    from skyloop.clouds.azure.ai import AzureAI
    from skyloop.clouds.azure.config import AzureSettings

    from ..integration.azure.test_ai_services import Language

    class Done:
        reason, audio_data = sp.ResultReason.SynthesizingAudioCompleted, WAV

        def get(self) -> Any:
            return self

    class Synth:
        def speak_text_async(self, text: str) -> Any:
            return Done()

    return AzureAI(AzureSettings(ai_endpoint="https://x.cognitiveservices.azure.com/"), {
        "language": Language(), "synthesizer": lambda config: Synth(),
        "speech_config": lambda: sp.SpeechConfig(subscription="test-only", region="westeurope")})


PROVIDERS: dict[str, Callable[[], Any]] = {"local": _local, "aws": _aws, "gcp": _gcp, "azure": _azure}


@pytest.mark.parametrize("name", PROVIDERS)
def test_text_analysis_has_one_shape(name: str) -> None:
    ai = PROVIDERS[name]()
    out = ai.analyze_text(TEXT, features=("sentiment", "language"))
    assert type(out) is TextAnalysis and out.provider == name == ai.name
    doc = out.model_dump(mode="json")
    assert set(doc) == {"provider", "language", "language_confidence", "sentiment", "entities", "key_phrases"}
    assert out.language == "en" and 0.0 <= (out.language_confidence or 0.0) <= 1.0
    s = out.sentiment
    assert s is not None and s.label in ("negative", "positive")  # the same text reads the same way everywhere
    assert all(0.0 <= v <= 1.0 for v in (s.positive, s.negative, s.neutral, s.mixed))


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
