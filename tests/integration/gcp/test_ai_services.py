"""The Google Cloud AI provider (clouds/gcp/ai.py) at the transport edge: Vision, Natural
Language, Speech-to-Text, Translation and Text-to-Speech have no emulator, so each generated
client is replaced by a fake that takes the library's own request type and answers with its own
response type, shaped as the services document. Checked: the requests sent and the mapping into
Skyloop's result types."""

from __future__ import annotations

import io
from typing import Any

import pytest

vision_v1 = pytest.importorskip("google.cloud.vision_v1")
language_v2 = pytest.importorskip("google.cloud.language_v2")
speech_v1 = pytest.importorskip("google.cloud.speech_v1")
translate_v3 = pytest.importorskip("google.cloud.translate_v3")
tts = pytest.importorskip("google.cloud.texttospeech_v1")

from skyloop.ports.media import wav_bytes  # noqa: E402
from skyloop.errors import InvalidRequest, NotSupported, TransientError  # noqa: E402


def _png(width: int = 400, height: int = 200) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, "PNG")
    return buf.getvalue()


class Fake:
    """One generated client: each method checks its request type and answers the canned response."""

    def __init__(self, **answers: Any) -> None:
        self.answers, self.requests = answers, []

    def __getattr__(self, name: str) -> Any:
        if name not in self.answers:
            raise AttributeError(name)
        kind, answer = self.answers[name]

        def call(request: Any) -> Any:
            assert isinstance(request, kind), (name, type(request))
            self.requests.append(request)
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call


def _ai(**clients: Any) -> Any:
    from skyloop.clouds.gcp.ai import GcpAI
    from skyloop.clouds.gcp.config import GcpSettings

    return GcpAI(GcpSettings(project="skyloop-dev"), clients)


def test_vision_maps_labels_objects_faces_and_lines() -> None:
    V = vision_v1
    Break = V.TextAnnotation.DetectedBreak.BreakType

    def word(text: str, x0: int, x1: int, brk: Any) -> Any:  # Vision's shape: the break on the word's last symbol
        symbols = [V.Symbol(text=c) for c in text]
        symbols[-1].property = V.TextAnnotation.TextProperty(detected_break=V.TextAnnotation.DetectedBreak(type_=brk))
        return V.Word(symbols=symbols, confidence=0.97, bounding_box=V.BoundingPoly(vertices=[
            V.Vertex(x=x0, y=20), V.Vertex(x=x1, y=20), V.Vertex(x=x1, y=50), V.Vertex(x=x0, y=50)]))

    para = V.Paragraph(confidence=0.97, words=[word("HELLO", 10, 50, Break.SPACE), word("SKYLOOP", 56, 110, Break.LINE_BREAK)])
    answer = V.AnnotateImageResponse(
        label_annotations=[V.EntityAnnotation(description="Text", score=0.93)],
        localized_object_annotations=[V.LocalizedObjectAnnotation(name="Sign", score=0.8, bounding_poly=V.BoundingPoly(
            normalized_vertices=[V.NormalizedVertex(x=0.25, y=0.1), V.NormalizedVertex(x=0.75, y=0.6)]))],
        face_annotations=[V.FaceAnnotation(detection_confidence=0.99, bounding_poly=V.BoundingPoly(
            vertices=[V.Vertex(x=5, y=6), V.Vertex(x=45, y=56)]))],
        full_text_annotation=V.TextAnnotation(pages=[V.Page(blocks=[V.Block(paragraphs=[para])])]))
    vision = Fake(annotate_image=(V.AnnotateImageRequest, answer))
    out = _ai(vision=vision).analyze_image(_png(400, 200))
    [req] = vision.requests
    assert req.image.content == _png(400, 200)
    assert [f.type_.name for f in req.features] == ["LABEL_DETECTION", "OBJECT_LOCALIZATION", "FACE_DETECTION", "DOCUMENT_TEXT_DETECTION"]
    assert [(lab.name, lab.confidence) for lab in out.labels] == [("Text", pytest.approx(0.93))]
    [obj] = out.objects
    assert (obj.box.left, obj.box.top, obj.box.width, obj.box.height) == (100, 20, 200, 100)  # normalised -> pixels
    assert (out.faces[0].box.left, out.faces[0].box.width) == (5, 40)
    assert [(line.text, line.box.width) for line in out.text] == [("HELLO SKYLOOP", 100)]
    refused = Fake(annotate_image=(V.AnnotateImageRequest, V.AnnotateImageResponse(error={"code": 3, "message": "Bad image data"})))
    with pytest.raises(InvalidRequest, match="Bad image data"):
        _ai(vision=refused).analyze_image(_png())


def test_language_maps_sentiment_entities_and_language() -> None:
    L = language_v2
    language = Fake(
        analyze_sentiment=(L.AnalyzeSentimentRequest, L.AnalyzeSentimentResponse(
            document_sentiment=L.Sentiment(score=0.8, magnitude=1.6), language_code="en")),
        analyze_entities=(L.AnalyzeEntitiesRequest, L.AnalyzeEntitiesResponse(entities=[
            L.Entity(name="Berlin", type_=L.Entity.Type.LOCATION, mentions=[L.EntityMention(probability=0.91)])],
            language_code="en")))
    out = _ai(language=language).analyze_text("Skyloop shipped in Berlin and the team loves it.")
    assert (out.language, out.sentiment.label) == ("en", "positive")  # type: ignore[union-attr]
    assert out.sentiment.score == pytest.approx(0.8)  # type: ignore[union-attr]
    # no class probabilities: Google gives a score and a magnitude, neither one
    assert (out.sentiment.positive, out.sentiment.negative, out.sentiment.neutral) == (None, None, None)  # type: ignore[union-attr]
    assert [(e.text, e.type, e.confidence) for e in out.entities] == [("Berlin", "location", pytest.approx(0.91))]
    assert language.requests[0].document.type_ == L.Document.Type.PLAIN_TEXT
    with pytest.raises(NotSupported, match="the gcp provider has no key_phrases"):
        _ai(language=language).analyze_text("x", features=("key_phrases",))
    from google.api_core import exceptions as gexc

    busy = Fake(analyze_sentiment=(L.AnalyzeSentimentRequest, gexc.TooManyRequests("quota")))
    with pytest.raises(TransientError):
        _ai(language=busy).analyze_text("hello", features=("sentiment",))


def test_translation_and_speech() -> None:
    T = translate_v3
    translate = Fake(translate_text=(T.TranslateTextRequest, T.TranslateTextResponse(translations=[
        T.Translation(translated_text="Hallo Welt", detected_language_code="en")])))
    out = _ai(translate=translate).translate("Hello world", "de")
    assert (out.text, out.source_language, out.target_language) == ("Hallo Welt", "en", "de")
    assert translate.requests[0].parent == "projects/skyloop-dev/locations/global"

    wav = wav_bytes(b"\x00\x01" * 24_000, 24_000)  # one second, as LINEAR16 comes: with its header
    speech = Fake(synthesize_speech=(tts.SynthesizeSpeechRequest, tts.SynthesizeSpeechResponse(audio_content=wav)))
    said = _ai(tts=speech).synthesize("Hello", voice="en-GB-Standard-A")
    assert (said.format, said.sample_rate, said.duration_seconds) == ("wav", 24_000, pytest.approx(1.0))
    req = speech.requests[0]
    assert (req.voice.language_code, req.voice.name, req.audio_config.audio_encoding) == (
        "en-GB", "en-GB-Standard-A", tts.AudioEncoding.LINEAR16)

    S = speech_v1
    heard = Fake(recognize=(S.RecognizeRequest, S.RecognizeResponse(results=[S.SpeechRecognitionResult(
        alternatives=[S.SpeechRecognitionAlternative(transcript="hello skyloop", confidence=0.9)], language_code="en-us")])))
    out2 = _ai(speech=heard).transcribe(wav_bytes(b"\x00\x00" * 16_000, 16_000))
    assert (out2.text, out2.confidence) == ("hello skyloop", pytest.approx(0.9))
    assert heard.requests[0].config.sample_rate_hertz == 16_000
    # above a minute it is a long-running recognition from the training bucket (tests/integration/gcp/
    # test_functions.py runs it on fake-gcs-server); a provider built without the bucket says so
    with pytest.raises(NotSupported, match="gcp provider needs the training bucket for audio above 60 s"):
        _ai(speech=heard).transcribe(wav_bytes(b"\x00\x00" * 16_000 * 61, 16_000))
    with pytest.raises(NotSupported, match="gcp provider recognises up to 480 min"):
        _ai(speech=heard).transcribe(wav_bytes(b"\x00\x00" * 100 * 60 * 481, 100))


def test_the_provider_name_builds_it() -> None:
    from skyloop.bootstrap import ai_provider as provider

    assert provider("gcp").name == "gcp"


def test_missing_credentials_are_the_environments_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    from skyloop.clouds.gcp import ai as gcp_ai
    from skyloop.errors import CloudUnavailable

    def nothing(*a: Any, **k: Any) -> Any:
        raise DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", nothing)
    gcp_ai._client.cache_clear()
    with pytest.raises(CloudUnavailable, match="no Google Cloud credentials"):
        _ai().analyze_text("hello", features=("sentiment",))
    gcp_ai._client.cache_clear()


@pytest.mark.parametrize("name,rate", [("ZOOM0001.WAV", 48_000), ("call.wav", 8_000)])
def test_stereo_24_bit_and_mu_law_files_reach_speech_as_16_bit_mono(name: str, rate: int) -> None:
    """A phone's 48 kHz 24-bit stereo file (upper-case extension, as Zoom recorders name them) and
    a telephony µ-law file: the request is LINEAR16, one channel, at the file's own rate, and its
    content a 16-bit mono WAV. Before, a stereo file was sent with no channel count (refused by the
    service) and 24-bit or µ-law files were "not a WAV"."""
    import shutil
    import subprocess
    import wave

    if shutil.which("sox") is None:
        pytest.skip("sox is not installed")
    args = ["-c", "2", "-b", "24"] if rate == 48_000 else ["-c", "1", "-e", "mu-law"]
    audio = subprocess.run(["sox", "-n", "-r", str(rate), *args, "-t", "wav", "-", "synth", "2", "sine", "440"],
                           capture_output=True, check=True).stdout
    S = speech_v1
    heard = Fake(recognize=(S.RecognizeRequest, S.RecognizeResponse(results=[])))
    _ai(speech=heard).transcribe(audio, media_format=name.rsplit(".", 1)[1])
    config, content = heard.requests[0].config, heard.requests[0].audio.content
    assert (config.sample_rate_hertz, config.audio_channel_count, config.encoding) == (
        rate, 1, S.RecognitionConfig.AudioEncoding.LINEAR16)
    with wave.open(io.BytesIO(content)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, rate, 2 * rate)


@pytest.mark.parametrize("raised,error,match", [
    ("PermissionDenied", "AccessDenied", "denied a call to vision.googleapis.com.*gcloud services enable vision"),
    ("Unauthenticated", "CloudUnavailable", "no Google credentials"),
    ("NotFound", "InvalidRequest", "found no such resource"),
    ("BadRequest", "InvalidRequest", "refused the input"),
])
def test_the_first_errors_a_new_user_meets_say_what_to_fix(raised: str, error: str, match: str) -> None:
    """Each was "internal_error ... (a bug)": the API not enabled, no role, no credentials."""
    from google.api_core import exceptions as gexc
    from google.cloud import vision_v1

    import skyloop.errors

    vision = Fake(annotate_image=(vision_v1.AnnotateImageRequest, getattr(gexc, raised)("from the service")))
    with pytest.raises(getattr(skyloop.errors, error), match=match) as caught:
        _ai(vision=vision).analyze_image(_png(), features=("labels",))
    assert not caught.value.retryable


def test_speech_above_one_requests_limit_is_made_in_pieces_and_joined() -> None:
    """Text-to-Speech takes 5,000 bytes a request: the pieces, cut at sentence ends, give one WAV file."""
    piece = wav_bytes(b"\x00\x01" * 12_000, 24_000)  # half a second, with its header, as LINEAR16 comes
    speech = Fake(synthesize_speech=(tts.SynthesizeSpeechRequest, tts.SynthesizeSpeechResponse(audio_content=piece)))
    out = _ai(tts=speech).synthesize("The canary passed its checks. " * 400)  # 12,000 bytes
    assert len(speech.requests) == 3 and all(len(r.input.text.encode()) <= 5_000 for r in speech.requests)
    assert "".join(r.input.text for r in speech.requests) == "The canary passed its checks. " * 400
    assert out.duration_seconds == pytest.approx(1.5) and out.audio.count(b"RIFF") == 1  # one header
