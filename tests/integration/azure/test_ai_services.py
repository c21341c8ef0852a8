"""The Azure AI provider (clouds/azure/ai.py) at the transport edge: AI Vision, AI Language,
Translator and Speech have no emulator, so each client is replaced by a fake answering with the
SDK's own result models (the REST shapes the services document); Speech's native synthesizer and
recognizer are replaced by factories that answer with the SDK's own result reasons. Checked: the
calls made and the mapping into Skyloop's result types."""

from __future__ import annotations

import io
from typing import Any

import pytest

pytest.importorskip("azure.ai.vision.imageanalysis")
pytest.importorskip("azure.ai.textanalytics")
pytest.importorskip("azure.ai.translation.text")
sp = pytest.importorskip("azure.cognitiveservices.speech")

from skyloop.ports.media import wav_bytes  # noqa: E402
from skyloop.errors import InvalidRequest, NotSupported, TransientError  # noqa: E402


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(buf, "PNG")
    return buf.getvalue()


def _ai(**clients: Any) -> Any:
    from skyloop.clouds.azure.ai import AzureAI
    from skyloop.clouds.azure.config import AzureSettings

    return AzureAI(AzureSettings(ai_endpoint="https://skyloop-ai.cognitiveservices.azure.com/", ai_region="westeurope"), clients)


class Vision:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    def analyze(self, image_data: bytes, visual_features: list[Any], **kw: Any) -> Any:
        from azure.ai.vision.imageanalysis.models import ImageAnalysisResult

        self.calls.append(sorted(f.value for f in visual_features))
        return ImageAnalysisResult({
            "modelVersion": "2023-10-01", "metadata": {"width": 300, "height": 200},
            "tagsResult": {"values": [{"name": "text", "confidence": 0.93}]},
            "objectsResult": {"values": [{"boundingBox": {"x": 10, "y": 20, "w": 100, "h": 50},
                                          "tags": [{"name": "sign", "confidence": 0.8}]}]},
            "readResult": {"blocks": [{"lines": [{"text": "HELLO SKYLOOP", "boundingPolygon": [
                {"x": 12, "y": 22}, {"x": 108, "y": 22}, {"x": 108, "y": 40}, {"x": 12, "y": 40}],
                "words": [{"text": "HELLO", "confidence": 0.99, "boundingPolygon": []},
                          {"text": "SKYLOOP", "confidence": 0.95, "boundingPolygon": []}]}]}]}})


def test_vision_tags_objects_and_read_lines() -> None:
    vision = Vision()
    out = _ai(vision=vision).analyze_image(_png(), features=("labels", "objects", "text"))
    assert vision.calls == [["objects", "read", "tags"]]
    assert [(lab.name, lab.confidence) for lab in out.labels] == [("text", 0.93)]
    assert [(o.name, o.box.left, o.box.width) for o in out.objects] == [("sign", 10, 100)]
    [line] = out.text
    assert (line.text, line.box.left, line.box.width, line.confidence) == ("HELLO SKYLOOP", 12, 96, pytest.approx(0.97))
    with pytest.raises(NotSupported, match="no faces"):
        _ai(vision=vision).analyze_image(_png(), features=("faces",))


class Language:
    def detect_language(self, docs: list[str], **kw: Any) -> Any:
        from azure.ai.textanalytics import DetectedLanguage, DetectLanguageResult

        return [DetectLanguageResult(id="0", primary_language=DetectedLanguage(name="English", iso6391_name="en",
                                                                              confidence_score=0.99), is_error=False)]

    def analyze_sentiment(self, docs: list[str], language: str | None = None, **kw: Any) -> Any:
        from azure.ai.textanalytics import AnalyzeSentimentResult, SentimentConfidenceScores

        assert language == "en"
        return [AnalyzeSentimentResult(id="0", sentiment="positive", is_error=False,
                                       confidence_scores=SentimentConfidenceScores(positive=0.9, neutral=0.08, negative=0.02))]

    def recognize_entities(self, docs: list[str], language: str | None = None, **kw: Any) -> Any:
        from azure.ai.textanalytics import CategorizedEntity, RecognizeEntitiesResult

        return [RecognizeEntitiesResult(id="0", is_error=False, entities=[
            CategorizedEntity(text="Berlin", category="Location", confidence_score=0.97)])]

    def extract_key_phrases(self, docs: list[str], language: str | None = None, **kw: Any) -> Any:
        from azure.ai.textanalytics import ExtractKeyPhrasesResult

        return [ExtractKeyPhrasesResult(id="0", is_error=False, key_phrases=["the team"])]


def test_language_sentiment_entities_key_phrases() -> None:
    out = _ai(language=Language()).analyze_text("Skyloop shipped in Berlin and the team loves it.")
    assert (out.language, out.language_confidence, out.sentiment.label) == ("en", 0.99, "positive")  # type: ignore[union-attr]
    assert [(e.text, e.type) for e in out.entities] == [("Berlin", "location")] and out.key_phrases == ["the team"]

    class Refusing(Language):
        def detect_language(self, docs: list[str], **kw: Any) -> Any:
            from azure.ai.textanalytics import DocumentError, TextAnalyticsError

            return [DocumentError(id="0", error=TextAnalyticsError(code="InvalidDocument", message="Document text is empty."))]

    with pytest.raises(InvalidRequest, match="Document text is empty"):
        _ai(language=Refusing()).analyze_text("x")

    class Throttled(Language):
        def detect_language(self, docs: list[str], **kw: Any) -> Any:
            from azure.core.exceptions import HttpResponseError

            raise HttpResponseError(message="Too many requests", response=_Response(429))

    with pytest.raises(TransientError, match="429"):
        _ai(language=Throttled()).analyze_text("hello")


class _Response:
    def __init__(self, status: int) -> None:
        self.status_code, self.reason, self.headers = status, "x", {}

    def text(self) -> str:
        return ""


def test_translator() -> None:
    from azure.ai.translation.text.models import TranslatedTextItem

    class Translator:
        def translate(self, body: list[str], to_language: list[str], **kw: Any) -> Any:
            assert body == ["Hello world"] and to_language == ["de"]
            return [TranslatedTextItem({"detectedLanguage": {"language": "en", "score": 1.0},
                                        "translations": [{"text": "Hallo Welt", "to": "de"}]})]

    out = _ai(translator=Translator()).translate("Hello world", "de")
    assert (out.text, out.source_language, out.target_language) == ("Hallo Welt", "en", "de")


class _Signal:
    def __init__(self) -> None:
        self.slots: list[Any] = []

    def connect(self, cb: Any) -> None:
        self.slots.append(cb)

    def fire(self, evt: Any) -> None:
        for cb in self.slots:
            cb(evt)


class _Recognizer:
    """The Speech SDK's continuous recognition, as its recognizer behaves: callbacks on the SDK's
    own thread, one ``recognized`` per utterance, then ``canceled`` (EndOfStream, or Error with a
    code) and ``session_stopped``. The SDK's event-args types wrap native handles and cannot be
    built here: the events are plain objects with their attributes."""

    def __init__(self, utterances: list[tuple[Any, str]], error: Any = None) -> None:
        self.recognized, self.canceled, self.session_stopped = _Signal(), _Signal(), _Signal()
        self.utterances, self.error, self.stopped = utterances, error, False

    def start_continuous_recognition(self) -> None:
        import threading
        from types import SimpleNamespace as NS

        def run() -> None:
            for reason, text in self.utterances:
                self.recognized.fire(NS(result=NS(reason=reason, text=text)))
            why = sp.CancellationReason.Error if self.error else sp.CancellationReason.EndOfStream
            self.canceled.fire(NS(cancellation_details=NS(reason=why, code=self.error, error_details="from the test")))
            self.session_stopped.fire(NS())

        threading.Thread(target=run).start()

    def stop_continuous_recognition(self) -> None:
        self.stopped = True


@pytest.mark.parametrize("code,error", [("BadRequest", "InvalidRequest"), ("AuthenticationFailure", "CloudUnavailable"),
                                        ("ServiceTimeout", "TransientError")])
def test_a_cancelled_recognition_is_typed_by_its_code(code: str, error: str) -> None:
    import skyloop.errors

    rec = _Recognizer([(sp.ResultReason.RecognizedSpeech, "partial")], error=getattr(sp.CancellationErrorCode, code))
    ai = _ai(recognizer=lambda config, pcm, rate: rec,
             speech_config=lambda: sp.SpeechConfig(subscription="test-only", region="westeurope"))
    with pytest.raises(getattr(skyloop.errors, error), match=code):
        ai.transcribe(wav_bytes(b"\x00\x00" * 16_000, 16_000))
    assert rec.stopped


def test_audio_beyond_one_calls_reach_is_refused_by_name() -> None:
    from skyloop.clouds.azure.ai import MAX_CONTINUOUS_SECONDS

    ai = _ai(recognizer=lambda config, pcm, rate: pytest.fail("no recognition started"),
             speech_config=lambda: sp.SpeechConfig(subscription="test-only", region="westeurope"))
    long = wav_bytes(b"\x00\x00" * int(8_000 * (MAX_CONTINUOUS_SECONDS + 1)), 8_000)
    with pytest.raises(NotSupported, match="azure provider recognises up to"):
        ai.transcribe(long)


def test_speech_synthesis_and_recognition() -> None:
    wav = wav_bytes(b"\x00\x01" * 24_000, 24_000)
    made: list[Any] = []

    class Done:
        def __init__(self, **kw: Any) -> None:
            self.__dict__.update(kw)

        def get(self) -> Any:
            return self

    def synthesizer(config: Any) -> Any:
        made.append(config)

        class S:
            def speak_text_async(self, text: str) -> Any:
                return Done(reason=sp.ResultReason.SynthesizingAudioCompleted, audio_data=wav)

        return S()

    def recognizer(config: Any, pcm: bytes, rate: int) -> Any:
        assert config.speech_recognition_language == "de-DE"
        return _Recognizer([(sp.ResultReason.RecognizedSpeech, "Hallo Skyloop."), (sp.ResultReason.NoMatch, ""),
                            (sp.ResultReason.RecognizedSpeech, "Alles gut.")])

    def config() -> Any:
        return sp.SpeechConfig(subscription="test-only", region="westeurope")

    ai = _ai(synthesizer=synthesizer, recognizer=recognizer, speech_config=config)
    out = ai.synthesize("Hello", voice="en-GB-RyanNeural")
    assert (out.format, out.sample_rate, out.duration_seconds, out.voice) == ("wav", 24_000, pytest.approx(1.0), "en-GB-RyanNeural")
    assert made[0].speech_synthesis_voice_name == "en-GB-RyanNeural"
    heard = ai.transcribe(wav_bytes(b"\x00\x00" * 16_000, 16_000), language="de-DE")
    assert (heard.text, heard.language, heard.locale) == ("Hallo Skyloop. Alles gut.", "de", "de-DE")  # every utterance
    with pytest.raises(NotSupported, match="wav or mp3"):
        ai.synthesize("x", audio_format="ogg")


def test_the_provider_name_builds_it() -> None:
    from skyloop.bootstrap import ai_provider as provider

    assert provider("azure").name == "azure"


def test_missing_credentials_are_the_environments_to_fix() -> None:
    from azure.core.exceptions import ClientAuthenticationError

    from skyloop.errors import CloudUnavailable

    class NoIdentity(Language):
        def detect_language(self, docs: list[str], **kw: Any) -> Any:
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")

    with pytest.raises(CloudUnavailable, match="no Azure credential"):
        _ai(language=NoIdentity()).analyze_text("hello")


def _wav(rate: int, channels: int, bits: int, encoding: str = "signed-integer") -> bytes:
    """A second of a 440 Hz tone written by sox, as phones and espeak-ng write files."""
    import shutil
    import subprocess

    if shutil.which("sox") is None:
        pytest.skip("sox is not installed")
    args = ["sox", "-n", "-r", str(rate), "-c", str(channels), "-e", encoding]
    args += ["-b", str(bits)] if bits else []
    return subprocess.run(args + ["-t", "wav", "-", "synth", "1", "sine", "440", "vol", "0.5"],
                          capture_output=True, check=True).stdout


@pytest.mark.parametrize("rate,channels,bits,encoding", [(22_050, 1, 16, "signed-integer"), (48_000, 2, 24, "signed-integer"),
                                                         (44_100, 2, 32, "floating-point"), (8_000, 1, 0, "mu-law")])
def test_recognition_streams_the_files_own_rate_as_16_bit_mono_without_its_header(
        monkeypatch: pytest.MonkeyPatch, rate: int, channels: int, bits: int, encoding: str) -> None:
    """The SDK's own recognizer factory (not a test double) with the stream classes spied on: the
    stream states the file's rate, 16 bits, one channel, and receives samples only. Before, no format
    was given (the SDK's 16 kHz 16-bit mono) and the whole file, header included, was written."""
    formats: list[dict[str, int]] = []
    written: list[bytes] = []
    real_format, real_stream = sp.audio.AudioStreamFormat, sp.audio.PushAudioInputStream

    def spy_format(**kw: int) -> Any:
        formats.append(kw)
        return real_format(**kw)

    class SpyStream(real_stream):  # type: ignore[misc, valid-type]
        def write(self, buffer: bytes) -> None:
            written.append(bytes(buffer))
            super().write(buffer)

    monkeypatch.setattr(sp.audio, "AudioStreamFormat", spy_format)
    monkeypatch.setattr(sp.audio, "PushAudioInputStream", SpyStream)
    ai = _ai(speech_config=lambda: sp.SpeechConfig(subscription="test-only", region="westeurope"))
    factory = ai._c_speech("recognizer")
    monkeypatch.setitem(ai._clients, "recognizer", lambda config, pcm, rate: (factory(config, pcm, rate),
                                                                             _Recognizer([(sp.ResultReason.RecognizedSpeech, "ok")]))[1])
    assert ai.transcribe(_wav(rate, channels, bits, encoding)).text == "ok"
    assert formats == [{"samples_per_second": rate, "bits_per_sample": 16, "channels": 1}]
    assert len(b"".join(written)) == rate * 2  # one second of 16-bit mono samples, no RIFF header
    assert not b"".join(written).startswith(b"RIFF")


def _bicep_ai_settings() -> dict[str, str]:
    """The SKYLOOP_AZURE_AI_* settings infra/azure/main.bicep gives the apps, with values of the
    shape the deployment resolves them to (the resource's endpoint, its region, its id)."""
    import re
    from pathlib import Path

    bicep = (Path(__file__).resolve().parents[3] / "infra" / "azure" / "main.bicep").read_text()
    names = re.findall(r"name: '(SKYLOOP_AZURE_AI_[A-Z_]+)'", bicep)
    shaped = {"SKYLOOP_AZURE_AI_ENDPOINT": "https://skyloop-ai-x1.cognitiveservices.azure.com/",
              "SKYLOOP_AZURE_AI_REGION": "westeurope",
              "SKYLOOP_AZURE_AI_RESOURCE_ID": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/skyloop"
                                              "/providers/Microsoft.CognitiveServices/accounts/skyloop-ai-x1"}
    assert set(names) <= set(shaped), f"a new AI setting in the Bicep: {set(names) - set(shaped)}"
    return {n: shaped[n] for n in names}


@pytest.mark.parametrize("kind", ["vision", "language", "translation"])
def test_each_client_builds_from_the_settings_the_bicep_gives_it(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """The real constructors, with the managed identity's credential type: the Bicep set a region, and
    azure-ai-translation-text 2.x refuses a token credential with a region but no resource id
    (ValueError), which the faked clients above never reached."""
    from skyloop.clouds.azure import ai as azure_ai
    from skyloop.clouds.azure.config import AzureSettings

    for name, value in _bicep_ai_settings().items():
        monkeypatch.setenv(name, value)
    settings = AzureSettings()
    assert settings.ai_region and settings.ai_resource_id  # what the Bicep deploys
    azure_ai._client.cache_clear()
    client = azure_ai.AzureAI(settings)._c(kind)  # raised ValueError for translation, as deployed
    assert type(client).__module__.startswith("azure.ai.")
    azure_ai._client.cache_clear()


@pytest.mark.parametrize("status,error,match", [(403, "AccessDenied", "Cognitive Services User role"),
                                                (404, "InvalidRequest", "no such resource")])
def test_a_403_or_404_says_what_to_fix(status: int, error: str, match: str) -> None:
    """A 403 (no role assignment) was "internal_error ... (a bug)", and retried in uploads."""
    from azure.core.exceptions import HttpResponseError

    import skyloop.errors

    class Refusing:
        def analyze(self, **kw: Any) -> Any:
            exc = HttpResponseError(message=f"({status}) from the service")
            exc.status_code = status
            raise exc

    with pytest.raises(getattr(skyloop.errors, error), match=match) as caught:
        _ai(vision=Refusing()).analyze_image(_png(), features=("labels",))
    assert not caught.value.retryable
