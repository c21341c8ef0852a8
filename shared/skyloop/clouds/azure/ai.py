"""The ``AIServices`` port on Azure: AI Vision image analysis 4.0, AI Language (Text Analytics),
Translator and Speech, with the function's managed identity (no key in configuration).

Mapping into Skyloop's result types (``ports/ai.py``):
- Vision 4.0 answers tags (labels), objects and read lines with pixel boxes. It has no face
  detection (Azure's Face API is a separate, gated service): ``faces`` is ``NotSupported``.
- AI Language's sentiment comes with confidence scores per class; a document error (an
  unsupported language, an empty text) is the caller's, with its message.
- Speech synthesises RIFF 24 kHz 16-bit PCM (a WAV file) or 48 kbit/s MP3, and recognises WAV
  by continuous recognition, every utterance to the end of the file (``recognize_once`` stops at
  the first pause and would silently drop the rest), up to ``MAX_CONTINUOUS_SECONDS`` (five
  minutes) of audio, inside a function's time; longer audio would need batch transcription from Blob Storage (not built:
  refused as ``NotSupported``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Sequence

from ...ports.media import IMAGE_FEATURES, TEXT_FEATURES, check_features, check_speech, image_size, speech, wav_audio
from ...ports.ai import (
    Box,
    DetectedObject,
    Entity,
    ImageAnalysis,
    Label,
    Sentiment,
    Speech,
    TextAnalysis,
    TextLine,
    Transcript,
    Translation,
    iso639,
)
from ...errors import AccessDenied, CloudUnavailable, InvalidRequest, NotSupported, TransientError
from .config import AzureSettings

NAME = "azure"
MAX_TEXT = 5_120  # characters per AI Language document
# Audio recognised in one call, and the longest wait for it: both inside host.json's 10-minute
# functionTimeout, so a slow session is a typed transient error, never a killed function
MAX_CONTINUOUS_SECONDS = 300.0
MAX_WAIT_SECONDS = 540.0
VISION = {"labels": "TAGS", "objects": "OBJECTS", "text": "READ"}


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    try:
        return fn(*args, **kwargs)
    except ClientAuthenticationError as exc:  # the environment's to fix, not a bug and not the input's
        raise CloudUnavailable(f"no Azure credential the AI services accept (the function's managed identity, "
                               f"or `az login` where you run it): {str(exc)[:200]}") from None
    except ServiceRequestError as exc:
        raise TransientError(f"Azure AI services unreachable: {exc}") from None
    except HttpResponseError as exc:
        if exc.status_code in (429, 500, 502, 503, 504):
            raise TransientError(f"Azure AI services answered {exc.status_code}: try again later") from None
        if exc.status_code in (400, 413, 415):
            raise InvalidRequest(f"Azure AI services refused the input: {exc.message}") from None
        if exc.status_code in (401, 403):  # a missing role assignment, or a network rule
            raise AccessDenied(f"Azure AI services answered {exc.status_code}: the caller needs the Cognitive Services "
                               f"User role on the AI services account ({str(exc.message)[:200]})") from None
        if exc.status_code == 404:
            raise InvalidRequest(f"Azure AI services found no such resource (the endpoint, a model version?): "
                                 f"{str(exc.message)[:200]}") from None
        raise


def _plain(obj: Any) -> Any:
    """An SDK model as plain JSON-able data, for ``raw``: the AI Language models are DictMixins, the
    Vision and Translator results mappings."""
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    if hasattr(obj, "as_dict"):
        return _plain(obj.as_dict())
    if hasattr(obj, "items"):
        return {str(k): _plain(v) for k, v in obj.items()}
    return str(obj)


def _box(points: Any) -> Box:
    xs, ys = [p["x"] for p in points] or [0], [p["y"] for p in points] or [0]
    return Box(left=max(0, min(xs)), top=max(0, min(ys)), width=max(xs) - min(xs), height=max(ys) - min(ys))


def _document(results: list[Any]) -> Any:
    [doc] = results
    if getattr(doc, "is_error", False):
        raise InvalidRequest(f"AI Language refused the text: {doc.error.message}")
    return doc


class AzureAI:
    name = NAME

    def __init__(self, azure: AzureSettings, clients: dict[str, Any] | None = None) -> None:
        self.azure = azure
        self._clients = dict(clients or {})

    def _c(self, kind: str) -> Any:
        if kind not in self._clients:
            if not self.azure.ai_endpoint:
                raise CloudUnavailable("SKYLOOP_AZURE_AI_ENDPOINT is not set (the Azure AI services resource's endpoint)")
            self._clients[kind] = _client(kind, self.azure.ai_endpoint, self.azure.ai_region, self.azure.ai_resource_id)
        return self._clients[kind]

    def analyze_image(self, image: bytes, features: Sequence[str] = ("labels", "objects", "text")) -> ImageAnalysis:
        from azure.ai.vision.imageanalysis.models import VisualFeatures

        wanted = check_features(NAME, features, IMAGE_FEATURES - {"faces"}, IMAGE_FEATURES)
        image_size(image)
        r = _call(self._c("vision").analyze, image_data=image,
                  visual_features=[getattr(VisualFeatures, VISION[f]) for f in sorted(wanted)])
        labels = [Label(name=t["name"], confidence=float(t["confidence"])) for t in ((r.tags or {}).get("values") or [])]
        objects = [DetectedObject(name=o["tags"][0]["name"], confidence=float(o["tags"][0]["confidence"]),
                                  box=Box(left=o["boundingBox"]["x"], top=o["boundingBox"]["y"], width=o["boundingBox"]["w"],
                                          height=o["boundingBox"]["h"]))
                   for o in ((r.objects or {}).get("values") or []) if o.get("tags")]
        lines = []
        for block in ((r.read or {}).get("blocks") or []):
            for line in block.get("lines", []):
                words = line.get("words") or []
                conf = sum(float(w["confidence"]) for w in words) / len(words) if words else 0.0
                lines.append(TextLine(text=line["text"], confidence=conf, box=_box(line["boundingPolygon"])))
        return ImageAnalysis(provider=NAME, labels=labels, objects=objects, text=lines, raw=_plain(r))

    def analyze_text(self, text: str, features: Sequence[str] = ("sentiment", "entities", "key_phrases", "language")) -> TextAnalysis:
        wanted = check_features(NAME, features, TEXT_FEATURES, TEXT_FEATURES)
        if not text.strip():
            raise InvalidRequest("no text to analyse")
        if len(text) > MAX_TEXT:
            raise InvalidRequest(f"text of {len(text):,} characters is above AI Language's {MAX_TEXT:,} per document")
        c = self._c("language")
        lang = _document(_call(c.detect_language, [text])).primary_language
        code = lang.iso6391_name
        sentiment, entities, phrases = None, [], []
        raw: dict[str, Any] = {"detect_language": _plain(lang)}
        if "sentiment" in wanted:
            s = _document(_call(c.analyze_sentiment, [text], language=code))
            raw["analyze_sentiment"] = _plain(s)
            sc = s.confidence_scores
            # AI Language's document label may be "mixed", but it scores three classes: no mixed probability
            sentiment = Sentiment(label=s.sentiment, score=max(-1.0, min(1.0, float(sc.positive) - float(sc.negative))),
                                  positive=sc.positive, negative=sc.negative, neutral=sc.neutral)
        if "entities" in wanted:
            found = _document(_call(c.recognize_entities, [text], language=code))
            raw["recognize_entities"] = _plain(found)
            entities = [Entity.of(e.text, str(e.category), e.confidence_score) for e in found.entities]
        if "key_phrases" in wanted:
            kp = _document(_call(c.extract_key_phrases, [text], language=code))
            raw["extract_key_phrases"] = _plain(kp)
            phrases = list(kp.key_phrases)
        return TextAnalysis(provider=NAME, language=iso639(code) if "language" in wanted else None,
                            language_confidence=float(lang.confidence_score) if "language" in wanted else None,
                            sentiment=sentiment, entities=entities, key_phrases=phrases, raw=raw)

    def translate(self, text: str, target_language: str, *, source_language: str | None = None) -> Translation:
        if not text.strip():
            raise InvalidRequest("no text to translate")
        [item] = _call(self._c("translator").translate, body=[text], to_language=[target_language],
                       **({"from_language": source_language} if source_language else {}))
        detected = item.detected_language.language if item.detected_language else source_language
        return Translation(provider=NAME, text=item.translations[0].text, source_language=iso639(detected) or "",
                           target_language=target_language, raw=_plain(item))

    def synthesize(self, text: str, *, voice: str | None = None, audio_format: str = "wav") -> Speech:
        import azure.cognitiveservices.speech as sp

        check_speech(NAME, text, audio_format)
        voice = voice or "en-US-JennyNeural"
        config = self._speech_config()
        config.speech_synthesis_voice_name = voice
        config.set_speech_synthesis_output_format(sp.SpeechSynthesisOutputFormat.Riff24Khz16BitMonoPcm if audio_format == "wav"
                                                  else sp.SpeechSynthesisOutputFormat.Audio24Khz48KBitRateMonoMp3)
        result = self._c_speech("synthesizer")(config).speak_text_async(text).get()
        if result.reason != sp.ResultReason.SynthesizingAudioCompleted:
            raise TransientError(f"Speech synthesis did not complete: {result.reason}")
        return speech(NAME, bytes(result.audio_data), audio_format, voice)

    def transcribe(self, audio: bytes, *, language: str | None = None, media_format: str = "wav") -> Transcript:
        sound = wav_audio(NAME, audio, media_format)
        seconds = sound.seconds
        if seconds > MAX_CONTINUOUS_SECONDS:
            raise NotSupported(f"the {NAME} provider recognises up to {MAX_CONTINUOUS_SECONDS:.0f} s of audio in one call, "
                               f"not {seconds:.0f} s (batch transcription from Blob Storage is not built)")
        config = self._speech_config()
        config.speech_recognition_language = language or "en-US"
        return Transcript.heard(NAME, _recognise_all(self._c_speech("recognizer")(config, sound.pcm, sound.rate), seconds),
                                language or "en-US")

    # -- Speech SDK: a native client, built per call from a config --------------------------------
    def _speech_config(self) -> Any:
        import azure.cognitiveservices.speech as sp

        if "speech_config" in self._clients:
            return self._clients["speech_config"]()
        if not self.azure.ai_endpoint:
            raise CloudUnavailable("SKYLOOP_AZURE_AI_ENDPOINT is not set (the Azure AI services resource's endpoint)")
        from .storage import _credential

        return sp.SpeechConfig(endpoint=self.azure.ai_endpoint, token_credential=_credential())

    def _c_speech(self, kind: str) -> Callable[..., Any]:
        if kind in self._clients:
            factory: Callable[..., Any] = self._clients[kind]
            return factory
        import azure.cognitiveservices.speech as sp

        if kind == "synthesizer":
            return lambda config: sp.SpeechSynthesizer(speech_config=config, audio_config=None)

        def recognizer(config: Any, pcm: bytes, rate: int) -> Any:
            # The stream's format said, and the samples alone: with no format the SDK takes 16 kHz
            # 16-bit mono, and heard every other file at the wrong speed, its header as noise.
            fmt = sp.audio.AudioStreamFormat(samples_per_second=rate, bits_per_sample=16, channels=1)
            stream = sp.audio.PushAudioInputStream(stream_format=fmt)
            stream.write(pcm)
            stream.close()
            return sp.SpeechRecognizer(speech_config=config, audio_config=sp.audio.AudioConfig(stream=stream))

        return recognizer


@lru_cache(maxsize=None)
def _client(kind: str, endpoint: str, region: str, resource_id: str = "") -> Any:
    from .storage import _credential

    if kind == "vision":
        from azure.ai.vision.imageanalysis import ImageAnalysisClient

        return ImageAnalysisClient(endpoint=endpoint, credential=_credential())
    if kind == "language":
        from azure.ai.textanalytics import TextAnalyticsClient

        return TextAnalyticsClient(endpoint=endpoint, credential=_credential())
    from azure.ai.translation.text import TextTranslationClient

    # With an Entra token, Translator needs the region and the resource's id together (SDK 2.x raises
    # ValueError on a region alone); the resource's own endpoint needs neither.
    if region and resource_id:
        return TextTranslationClient(credential=_credential(), endpoint=endpoint, region=region, resource_id=resource_id)
    return TextTranslationClient(credential=_credential(), endpoint=endpoint)


def _recognise_all(recognizer: Any, seconds: float) -> str:
    """Every utterance of the file, in order: continuous recognition until the end of the stream.

    The SDK calls back on its own thread: ``recognized`` per utterance, then ``canceled`` with
    ``EndOfStream`` (or ``Error``) and ``session_stopped``. Waiting is bounded by the audio's
    length plus a margin (at most ``MAX_WAIT_SECONDS``), so a lost session is a transient error,
    never a hung function."""
    import threading

    import azure.cognitiveservices.speech as sp

    texts: list[str] = []
    failed: list[Any] = []
    done = threading.Event()

    def recognized(evt: Any) -> None:
        if evt.result.reason == sp.ResultReason.RecognizedSpeech and evt.result.text:
            texts.append(evt.result.text)

    def canceled(evt: Any) -> None:
        details = evt.cancellation_details
        if details.reason == sp.CancellationReason.Error:
            failed.append(details)
        done.set()

    recognizer.recognized.connect(recognized)
    recognizer.canceled.connect(canceled)
    recognizer.session_stopped.connect(lambda evt: done.set())
    recognizer.start_continuous_recognition()
    try:
        finished = done.wait(timeout=min(60.0 + 2.0 * seconds, MAX_WAIT_SECONDS))
    finally:
        recognizer.stop_continuous_recognition()
    if failed:
        code, why = failed[0].code, f"Speech recognition was cancelled: {failed[0].code.name}: {failed[0].error_details}"
        if code == sp.CancellationErrorCode.BadRequest:
            raise InvalidRequest(why)
        if code in (sp.CancellationErrorCode.AuthenticationFailure, sp.CancellationErrorCode.Forbidden):
            raise CloudUnavailable(why + " (the identity's Cognitive Services User role on the AI services account)")
        raise TransientError(why)
    if not finished:
        raise TransientError(f"Speech recognition did not finish within {min(60.0 + 2.0 * seconds, MAX_WAIT_SECONDS):.0f} s")
    return " ".join(texts)
