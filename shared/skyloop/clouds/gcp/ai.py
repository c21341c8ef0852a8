"""The ``AIServices`` port on Google Cloud: Vision, Natural Language (v2), Speech-to-Text,
Translation (v3) and Text-to-Speech, through their generated clients.

Mapping into Skyloop's result types (``ports/ai.py``):
- Vision's object boxes are normalised (0-1) and become pixels of the image; face boxes are
  pixels already; OCR lines are the paragraphs of ``full_text_annotation``, each with its box.
- Natural Language's sentiment is a score in [-1, 1] with a magnitude, not probabilities: the
  score's positive and negative parts become ``positive`` and ``negative``, the rest
  ``neutral``, and the label follows the score beyond +/-0.25 (Google's own rule of thumb). An
  entity's confidence is its best mention's probability. There are no key phrases:
  ``NotSupported`` names the providers that have them.
- Speech-to-Text answers short audio (up to a minute of WAV) at once. Longer audio is a
  long-running recognition from Cloud Storage, as Transcribe is on AWS: the audio is copied to
  ``transcribe/<sha256>.wav`` (content-addressed), the operation writes its response to
  ``transcribe/gcp-<hash>.json``, and that object's finalize event is the job's completion
  (``job_of``; ``skyloop.ai.uploads.finish_job``). A retry before then finds the started marker and
  answers with the job id again, never a second operation.
- Text-to-Speech's LINEAR16 is a WAV file already; MP3 is measured frame by frame.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Any, Sequence

from ...ports.ai import (
    Box,
    DetectedObject,
    Entity,
    Face,
    ImageAnalysis,
    Label,
    Sentiment,
    Speech,
    TextAnalysis,
    TextLine,
    Transcript,
    Translation,
)
from ...ports.media import joined_speech, split_text
from ...ports.media import IMAGE_FEATURES, TEXT_FEATURES, check_features, check_speech, image_size, speech, wav_audio
from ...ports.ai import JOBS_PREFIX, iso639, job_output_of
from ...errors import AccessDenied, CloudUnavailable, InvalidRequest, NotSupported, TransientError
from .config import GcpSettings

NAME = "gcp"
SENTIMENT_CUTOFF = 0.25
MAX_SYNC_SECONDS = 60.0  # synchronous recognition; longer audio is a long-running operation from Cloud Storage
MAX_ASYNC_SECONDS = 480 * 60.0  # the long-running recognition's own limit
JOB_NAME = re.compile(r"gcp-[0-9a-f]{40}")
TTS_RATE = 24_000
TTS_BYTES = 5_000  # Text-to-Speech's input limit per request
VISION_FEATURES = {"labels": "LABEL_DETECTION", "objects": "OBJECT_LOCALIZATION", "faces": "FACE_DETECTION",
                  "text": "DOCUMENT_TEXT_DETECTION"}


@lru_cache(maxsize=None)
def _client(kind: str) -> Any:
    from google.cloud import language_v2, speech_v1, texttospeech_v1, translate_v3, vision_v1  # lazy

    from google.auth.exceptions import DefaultCredentialsError

    make = {"vision": vision_v1.ImageAnnotatorClient, "language": language_v2.LanguageServiceClient,
            "speech": speech_v1.SpeechClient, "translate": translate_v3.TranslationServiceClient,
            "tts": texttospeech_v1.TextToSpeechClient}[kind]
    try:
        return make()
    except DefaultCredentialsError:  # the environment's to fix, not a bug and not the input's
        raise CloudUnavailable("no Google Cloud credentials found (the function's service account, or "
                               "`gcloud auth application-default login` where you run it)") from None


def _call(fn: Any, **kwargs: Any) -> Any:
    from google.api_core import exceptions as gexc

    try:
        return fn(**kwargs)
    except (gexc.TooManyRequests, gexc.ServiceUnavailable, gexc.InternalServerError, gexc.DeadlineExceeded) as exc:
        raise TransientError(f"Google Cloud {type(exc).__name__}: try again later") from None
    except (gexc.InvalidArgument, gexc.BadRequest) as exc:
        raise InvalidRequest(f"Google Cloud refused the input: {exc.message}") from None
    except gexc.PermissionDenied as exc:  # a missing role, or the API not enabled in the project
        api = _api(kwargs.get("request"))
        raise AccessDenied(f"Google Cloud denied a call to {api}: {str(exc.message)[:200]}. Enable the API "
                           f"(gcloud services enable {api}) and grant the caller its user role") from None
    except gexc.Unauthenticated:
        raise CloudUnavailable("no Google credentials the API accepts: gcloud auth application-default login, "
                               "or the function's service account") from None
    except gexc.NotFound as exc:
        raise InvalidRequest(f"Google Cloud found no such resource (a voice, a location?): {str(exc.message)[:200]}") from None


# the API a request type's package goes to, for a refusal that names what to enable
APIS = (("texttospeech", "texttospeech.googleapis.com"), ("speech", "speech.googleapis.com"),
        ("vision", "vision.googleapis.com"), ("language", "language.googleapis.com"),
        ("translate", "translate.googleapis.com"))


def _api(request: Any) -> str:
    module = type(request).__module__
    return next((api for part, api in APIS if f"google.cloud.{part}" in module), "the service's API")


def _printed_lines(annotation: Any) -> list[TextLine]:
    """Lines as printed: Vision nests words in paragraphs and marks where a line ends with a detected
    break on a word's last symbol (LINE_BREAK, EOL_SURE_SPACE, or a hyphen at the line's end).
    Taking a paragraph for a line ran a receipt's lines together."""
    from google.cloud import vision_v1

    kind = vision_v1.TextAnnotation.DetectedBreak.BreakType
    ends, spaces = {kind.LINE_BREAK, kind.EOL_SURE_SPACE, kind.HYPHEN}, {kind.SPACE, kind.SURE_SPACE}

    def after(w: Any) -> Any:  # the break Vision detected after a word
        return w.symbols[-1].property.detected_break.type_ if w.symbols else None

    def line(words: list[Any]) -> TextLine:
        text = "".join("".join(sym.text for sym in w.symbols) + (" " if i < len(words) - 1 and after(w) in spaces else "")
                       for i, w in enumerate(words))
        conf = [float(w.confidence) for w in words]
        return TextLine(text=text, confidence=min(1.0, sum(conf) / len(conf)),
                        box=_pixels([v for w in words for v in w.bounding_box.vertices]))

    lines: list[TextLine] = []
    for page in annotation.pages:
        for block in page.blocks:
            for para in block.paragraphs:
                words: list[Any] = []
                for w in para.words:
                    words.append(w)
                    if after(w) in ends:
                        lines.append(line(words))
                        words = []
                if words:
                    lines.append(line(words))
    return [x for x in lines if x.text.strip()]


def _pixels(vertices: Any, scale: tuple[int, int] = (1, 1)) -> Box:
    xs = [float(v.x) * scale[0] for v in vertices] or [0.0]
    ys = [float(v.y) * scale[1] for v in vertices] or [0.0]
    return Box(left=max(0, round(min(xs))), top=max(0, round(min(ys))), width=max(0, round(max(xs) - min(xs))),
               height=max(0, round(max(ys) - min(ys))))


class GcpAI:
    name = NAME

    def __init__(self, gcp: GcpSettings, clients: dict[str, Any] | None = None, store: Any = None) -> None:
        self.gcp = gcp
        self._clients = dict(clients or {})
        self.store = store  # the training bucket: long audio's copy, marker and result live there

    def job_of(self, uri: str) -> str | None:
        """The long-running recognition whose response this object is (``transcribe/gcp-<hash>.json``)."""
        return job_output_of(uri, f"gs://{self.gcp.bucket}", JOB_NAME)

    def _c(self, kind: str) -> Any:
        if kind not in self._clients:
            self._clients[kind] = _client(kind)
        return self._clients[kind]

    def analyze_image(self, image: bytes, features: Sequence[str] = ("labels", "objects", "faces", "text")) -> ImageAnalysis:
        from google.cloud import vision_v1

        check_features(NAME, features, IMAGE_FEATURES, IMAGE_FEATURES)
        width, height = image_size(image)
        request = vision_v1.AnnotateImageRequest(
            image=vision_v1.Image(content=image),
            features=[vision_v1.Feature(type_=getattr(vision_v1.Feature.Type, VISION_FEATURES[f])) for f in features])
        r = _call(self._c("vision").annotate_image, request=request)
        if r.error.code:
            raise InvalidRequest(f"Vision refused the image: {r.error.message}")
        labels = [Label(name=a.description, confidence=min(1.0, a.score)) for a in r.label_annotations]
        objects = [DetectedObject(name=o.name, confidence=min(1.0, o.score),
                                  box=_pixels(o.bounding_poly.normalized_vertices, (width, height)))
                   for o in r.localized_object_annotations]
        faces = [Face(confidence=min(1.0, f.detection_confidence), box=_pixels(f.bounding_poly.vertices))
                 for f in r.face_annotations]
        return ImageAnalysis(provider=NAME, labels=labels, objects=objects, faces=faces,
                             text=_printed_lines(r.full_text_annotation), raw=type(r).to_dict(r))

    def analyze_text(self, text: str, features: Sequence[str] = ("sentiment", "entities", "language")) -> TextAnalysis:
        from google.cloud import language_v2

        check_features(NAME, features, TEXT_FEATURES - {"key_phrases"}, TEXT_FEATURES)  # Natural Language has no key phrases
        if not text.strip():
            raise InvalidRequest("no text to analyse")
        document = language_v2.Document(content=text, type_=language_v2.Document.Type.PLAIN_TEXT)
        sentiment, entities, language = None, [], None
        raw: dict[str, Any] = {}
        if "sentiment" in features or "language" in features:
            s = _call(self._c("language").analyze_sentiment, request=language_v2.AnalyzeSentimentRequest(document=document))
            raw["analyzeSentiment"] = type(s).to_dict(s)
            language = s.language_code or None
            score = max(-1.0, min(1.0, float(s.document_sentiment.score)))
            label = "positive" if score >= SENTIMENT_CUTOFF else "negative" if score <= -SENTIMENT_CUTOFF else "neutral"
            sentiment = Sentiment(label=label, score=score)  # no class probabilities: magnitude is not one
        if "entities" in features:
            e = _call(self._c("language").analyze_entities, request=language_v2.AnalyzeEntitiesRequest(document=document))
            raw["analyzeEntities"] = type(e).to_dict(e)
            language = language or e.language_code or None
            entities = [Entity.of(x.name, x.type_.name, max((m.probability for m in x.mentions), default=None))
                        for x in e.entities]
        # Natural Language gives no confidence for its language: language_confidence stays None
        return TextAnalysis(provider=NAME, language=iso639(language) if "language" in features else None,
                            sentiment=sentiment if "sentiment" in features else None, entities=entities, raw=raw)

    def translate(self, text: str, target_language: str, *, source_language: str | None = None) -> Translation:
        from google.cloud import translate_v3

        if not text.strip():
            raise InvalidRequest("no text to translate")
        request = translate_v3.TranslateTextRequest(
            parent=f"projects/{self.gcp.project}/locations/global", contents=[text], mime_type="text/plain",
            target_language_code=target_language, source_language_code=source_language or "")
        out = _call(self._c("translate").translate_text, request=request)
        [t] = out.translations
        return Translation(provider=NAME, text=t.translated_text, source_language=iso639(source_language or t.detected_language_code) or "",
                           target_language=target_language, raw=type(out).to_dict(out))

    def synthesize(self, text: str, *, voice: str | None = None, audio_format: str = "wav") -> Speech:
        from google.cloud import texttospeech_v1 as tts

        check_speech(NAME, text, audio_format)
        voice = voice or "en-US-Standard-C"
        language = "-".join(voice.split("-")[:2])
        encoding = tts.AudioEncoding.LINEAR16 if audio_format == "wav" else tts.AudioEncoding.MP3
        pieces = [_call(self._c("tts").synthesize_speech, request=tts.SynthesizeSpeechRequest(
            input=tts.SynthesisInput(text=piece), voice=tts.VoiceSelectionParams(language_code=language, name=voice),
            audio_config=tts.AudioConfig(audio_encoding=encoding, sample_rate_hertz=TTS_RATE))).audio_content
            for piece in split_text(text, max_bytes=TTS_BYTES)]  # Text-to-Speech takes 5,000 bytes a call
        # LINEAR16 comes with its WAV header: the pieces' samples are joined under one
        return speech(NAME, joined_speech(pieces, audio_format), audio_format, voice, TTS_RATE)

    def transcribe(self, audio: bytes, *, language: str | None = None, media_format: str = "wav") -> Transcript:
        from google.cloud import speech_v1

        sound = wav_audio(NAME, audio, media_format, takes="WAV (LINEAR16)")
        audio, seconds = sound.wav, sound.seconds  # 16-bit mono: what LINEAR16 with one channel means
        if seconds > MAX_ASYNC_SECONDS:
            raise NotSupported(f"the {NAME} provider recognises up to {MAX_ASYNC_SECONDS / 60:.0f} min of audio, "
                               f"not {seconds / 60:.0f} min")
        config = speech_v1.RecognitionConfig(encoding=speech_v1.RecognitionConfig.AudioEncoding.LINEAR16,
                                             sample_rate_hertz=sound.rate, audio_channel_count=1,
                                             language_code=language or "en-US")
        if seconds > MAX_SYNC_SECONDS:
            return self._long(audio, config, language)
        r = _call(self._c("speech").recognize, request=speech_v1.RecognizeRequest(
            config=config, audio=speech_v1.RecognitionAudio(content=audio)))
        return self._transcript(r.results, language)

    def _transcript(self, results: Any, language: str | None) -> Transcript:
        best = [res.alternatives[0] for res in results if res.alternatives]
        conf = [a.confidence for a in best if a.confidence]
        return Transcript.heard(NAME, " ".join(a.transcript.strip() for a in best),
                                results[0].language_code if results and results[0].language_code else language,
                                confidence=sum(conf) / len(conf) if conf else None)

    def _long(self, audio: bytes, config: Any, language: str | None) -> Transcript:
        """A long-running recognition from Cloud Storage, started once per audio content and
        language; once it has finished, its response is read from the object it wrote."""
        from google.cloud import speech_v1

        if self.store is None:
            raise NotSupported(f"the {NAME} provider needs the training bucket for audio above "
                               f"{MAX_SYNC_SECONDS:.0f} s (long-running recognition reads it from Cloud Storage)")
        digest = hashlib.sha256(audio + b"\0" + (language or "").encode()).hexdigest()
        job = f"gcp-{digest[:40]}"
        output = f"gs://{self.gcp.bucket}/{JOBS_PREFIX}{job}.json"
        if self.store.exists(output):
            doc = speech_v1.LongRunningRecognizeResponse.from_json(self.store.get(output), ignore_unknown_fields=True)
            return self._transcript(doc.results, language)
        marker = f"{JOBS_PREFIX}{job}.started"
        if not self.store.exists(f"gs://{self.gcp.bucket}/{marker}"):
            source = self.store.put(f"{JOBS_PREFIX}{hashlib.sha256(audio).hexdigest()}.wav", audio)
            op = _call(self._c("speech").long_running_recognize, request=speech_v1.LongRunningRecognizeRequest(
                config=config, audio=speech_v1.RecognitionAudio(uri=source),
                output_config=speech_v1.TranscriptOutputConfig(gcs_uri=output)))
            name = getattr(getattr(op, "operation", None), "name", "") or ""
            self.store.put(marker, json.dumps({"operation": name, "output": output}).encode())
        return Transcript.heard(NAME, "", language, job_id=job)
