"""The ``AIServices`` port on AWS: Rekognition, Comprehend, Transcribe, Translate and Polly (boto3).

Every answer is mapped into Skyloop's result types (``ports/ai.py``): confidences from AWS's
0-100 to 0-1, Rekognition's boxes from ratios to pixels of the image, Comprehend's sentiment labels
to lowercase. Transcription is an asynchronous job on audio in S3: the first call uploads the audio
(content-addressed, so a retry starts the same job) and answers with ``job_id`` while it runs; a
call once it has finished reads the transcript. The job's output object is its completion event
(``job_of`` recognises it). Polly's PCM becomes a WAV file; MP3 is passed
through with its duration counted from its frames.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
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
from ...ports.media import split_text, wav_bytes
from ...ports.media import IMAGE_FEATURES, TEXT_FEATURES, check_features, check_speech, image_size, speech
from ...ports.ai import JOBS_PREFIX, iso639, job_output_of
from ...errors import AccessDenied, CloudUnavailable, InvalidRequest, NotSupported, TransientError
from .config import AwsSettings
from .session import client, error_code

NAME = "aws"
MAX_TEXT = 5_000  # bytes per Comprehend real-time call (UTF-8)
TRANSLATE_BYTES = 10_000  # Translate's limit per call: a longer text goes in pieces cut at sentence ends
POLLY_CHARS = 3_000  # Polly's billed-character limit per call, likewise
REKOGNITION_BYTES = 5 * 1024 * 1024  # Rekognition takes image bytes up to 5 MB, PNG or JPEG only
DETECT_TEXT_WORDS = 100  # DetectText stops at 100 words: a result that reached it is marked truncated
PCM_RATE = 16_000
# Transcribe's input copy and its output, outside ai/ so that neither is taken for a new upload;
# the output landing there is the job's completion event (skyloop.ai.uploads.finish_job)
TRANSCRIBE_PREFIX = JOBS_PREFIX
JOB_NAME = re.compile(r"skyloop-[0-9a-f]{40}")
THROTTLED = {"ThrottlingException", "ProvisionedThroughputExceededException", "TooManyRequestsException",
             "ServiceUnavailableException", "InternalServerError", "LimitExceededException"}
REFUSED = {"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException", "TextSizeLimitExceededException",
           "InvalidRequestException", "DetectedLanguageLowConfidenceException", "ValidationException",
           "TextLengthExceededException", "InvalidSampleRateException", "BadRequestException"}
# what the service lacks: not the input's fault, not worth a retry; said as such
LACKS = {"UnsupportedLanguageException", "UnsupportedLanguagePairException", "EngineNotSupportedException",
         "LanguageNotSupportedException", "UnsupportedDisplayLanguageCodeException"}
# the caller's identity may not make the call: a grant is missing
DENIED = {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidSignatureException",
          "ExpiredTokenException", "UnauthorizedOperation", "InvalidClientTokenId"}


def _call(fn: Any, **kwargs: Any) -> Any:
    """One AWS call: throttling is transient (retried later), a refused input is the caller's."""
    from botocore.exceptions import NoCredentialsError

    try:
        return fn(**kwargs)
    except NoCredentialsError:  # the environment's to fix, not a bug and not the input's
        raise CloudUnavailable("no AWS credentials found (the function's role, or AWS_PROFILE / "
                               "AWS_ACCESS_KEY_ID where you run it)") from None
    except Exception as exc:
        code = error_code(exc)
        if code in THROTTLED:
            raise TransientError(f"AWS {code}: try again later") from None
        if code in REFUSED:
            raise InvalidRequest(f"AWS refused the input ({code}): {str(exc)[:300]}") from None
        if code in LACKS:
            raise NotSupported(f"the {NAME} provider does not support this ({code}): {_message(exc)}") from None
        if code in DENIED:
            raise AccessDenied(f"AWS denied {_action(fn, exc)} ({code}): grant it to the role you run as") from None
        raise


def _spaced(translated: str, source_piece: str) -> str:
    """A piece's translation with the whitespace its source piece ended with (the services trim it)."""
    tail = source_piece[len(source_piece.rstrip()):]
    return translated.rstrip() + tail


def rekognition_image(image: bytes) -> bytes:
    """The image as Rekognition takes it: PNG or JPEG, at most 5 MB. GIF, BMP, TIFF and WebP are
    converted, a larger one is scaled down until it fits; boxes come back as ratios, so they map onto
    the original's pixels unchanged."""
    from ...ports.media import open_image

    img = open_image(image)
    if img.format in ("PNG", "JPEG") and len(image) <= REKOGNITION_BYTES:
        return image
    from PIL import ImageOps

    img = ImageOps.exif_transpose(img) if img.format == "JPEG" else img
    rgb = img.convert("RGB")
    scale = 1.0
    while True:
        buf = io.BytesIO()
        size = (max(1, int(rgb.width * scale)), max(1, int(rgb.height * scale)))
        (rgb if scale == 1.0 else rgb.resize(size)).save(buf, format="JPEG", quality=90)
        if buf.tell() <= REKOGNITION_BYTES:
            return buf.getvalue()
        scale *= 0.8


def _plain(response: dict[str, Any]) -> dict[str, Any]:
    """A response as kept in ``raw``: without botocore's transport metadata."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def _message(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Message") or exc)[:300]


def _action(fn: Any, exc: Exception) -> str:
    """The IAM action a refused call needed: the service's signing name and the operation."""
    try:
        meta = fn.__self__.meta
        return f"{meta.service_model.signing_name}:{getattr(exc, 'operation_name', '') or fn.__name__}"
    except AttributeError:
        return str(getattr(exc, "operation_name", "the call"))


def comprehend_languages(cmp: Any, operation: str) -> frozenset[str]:
    """The languages a Comprehend operation takes, from botocore's own service model (the enum of
    its ``LanguageCode``), so a text in another is refused before a paid call fails."""
    members = cmp.meta.service_model.operation_model(operation).input_shape.members
    return frozenset(members["LanguageCode"].enum)


def _box(b: dict[str, float], width: int, height: int) -> Box:
    left, top = max(0.0, float(b.get("Left", 0.0))), max(0.0, float(b.get("Top", 0.0)))
    return Box(left=round(left * width), top=round(top * height), width=round(float(b.get("Width", 0.0)) * width),
               height=round(float(b.get("Height", 0.0)) * height))


def _pct(value: Any) -> float:
    return min(1.0, max(0.0, float(value) / 100.0))


class AwsAI:
    name = NAME

    def __init__(self, aws: AwsSettings, clients: dict[str, Any] | None = None) -> None:
        self.aws = aws
        self._clients = dict(clients or {})

    def _c(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service, self.aws)
        return self._clients[service]

    # -- vision -------------------------------------------------------------------------------
    def analyze_image(self, image: bytes, features: Sequence[str] = ("labels", "objects", "faces", "text")) -> ImageAnalysis:
        check_features(NAME, features, IMAGE_FEATURES, IMAGE_FEATURES)
        width, height = image_size(image)
        rek, img = self._c("rekognition"), {"Bytes": rekognition_image(image)}
        labels, objects, faces, lines = [], [], [], []
        if {"labels", "objects"} & set(features):
            for lab in _call(rek.detect_labels, Image=img, MaxLabels=50, MinConfidence=50.0).get("Labels", []):
                if "labels" in features:
                    labels.append(Label(name=lab["Name"], confidence=_pct(lab.get("Confidence", 0))))
                if "objects" in features:
                    objects += [DetectedObject(name=lab["Name"], confidence=_pct(inst.get("Confidence", lab.get("Confidence", 0))),
                                               box=_box(inst.get("BoundingBox", {}), width, height))
                                for inst in lab.get("Instances", [])]
        if "faces" in features:
            faces = [Face(confidence=_pct(f.get("Confidence", 0)), box=_box(f.get("BoundingBox", {}), width, height))
                     for f in _call(rek.detect_faces, Image=img, Attributes=["DEFAULT"]).get("FaceDetails", [])]
        truncated = False
        if "text" in features:
            found = _call(rek.detect_text, Image=img).get("TextDetections", [])
            lines = [TextLine(text=t["DetectedText"], confidence=_pct(t.get("Confidence", 0)),
                              box=_box(t.get("Geometry", {}).get("BoundingBox", {}), width, height))
                     for t in found if t.get("Type") == "LINE"]
            truncated = sum(1 for t in found if t.get("Type") == "WORD") >= DETECT_TEXT_WORDS
        return ImageAnalysis(provider=NAME, labels=labels, objects=objects, faces=faces, text=lines, truncated=truncated)

    # -- language ------------------------------------------------------------------------------
    def analyze_text(self, text: str, features: Sequence[str] = ("sentiment", "entities", "key_phrases", "language")) -> TextAnalysis:
        check_features(NAME, features, TEXT_FEATURES, TEXT_FEATURES)
        if not text.strip():
            raise InvalidRequest("no text to analyse")
        if len(text.encode()) > MAX_TEXT:
            raise InvalidRequest(f"text of {len(text.encode()):,} bytes is above Comprehend's {MAX_TEXT:,}-byte limit")
        cmp = self._c("comprehend")
        found: list[dict[str, Any]] = _call(cmp.detect_dominant_language, Text=text).get("Languages", [])
        best: dict[str, Any] = max(found, key=lambda x: float(x.get("Score", 0)), default={"LanguageCode": "en", "Score": 0.0})
        code = str(best["LanguageCode"])
        for feature, op in (("sentiment", "DetectSentiment"), ("entities", "DetectEntities"), ("key_phrases", "DetectKeyPhrases")):
            if feature not in features:
                continue
            langs = comprehend_languages(cmp, op)
            if code not in langs:  # refused before a paid call fails
                raise NotSupported(f"Comprehend's {feature} takes {', '.join(sorted(langs))}; this text reads as {code!r}: "
                                   "use --provider gcp or azure, or ask for language alone")
        sentiment, entities, phrases = None, [], []
        raw: dict[str, Any] = {"DetectDominantLanguage": {"Languages": found}}
        if "sentiment" in features:
            s = _call(cmp.detect_sentiment, Text=text, LanguageCode=code)
            raw["DetectSentiment"] = _plain(s)
            p = {k: float(v) for k, v in s.get("SentimentScore", {}).items()}
            sentiment = Sentiment(label=str(s["Sentiment"]).lower(),
                                  score=max(-1.0, min(1.0, p.get("Positive", 0.0) - p.get("Negative", 0.0))),
                                  positive=p.get("Positive"), negative=p.get("Negative"), neutral=p.get("Neutral"),
                                  mixed=p.get("Mixed"))
        if "entities" in features:
            found_entities = _call(cmp.detect_entities, Text=text, LanguageCode=code)
            raw["DetectEntities"] = _plain(found_entities)
            entities = [Entity.of(e["Text"], str(e["Type"]), e.get("Score")) for e in found_entities.get("Entities", [])]
        if "key_phrases" in features:
            kp = _call(cmp.detect_key_phrases, Text=text, LanguageCode=code)
            raw["DetectKeyPhrases"] = _plain(kp)
            phrases = [p["Text"] for p in kp.get("KeyPhrases", [])]
        return TextAnalysis(provider=NAME, language=iso639(code) if "language" in features else None,
                            language_confidence=float(best.get("Score", 0)) if "language" in features else None,
                            sentiment=sentiment, entities=entities, key_phrases=phrases, raw=raw)

    def translate(self, text: str, target_language: str, *, source_language: str | None = None) -> Translation:
        if not text.strip():
            raise InvalidRequest("no text to translate")
        pieces = split_text(text, max_bytes=TRANSLATE_BYTES)
        outs = [_call(self._c("translate").translate_text, Text=piece, SourceLanguageCode=source_language or "auto",
                      TargetLanguageCode=target_language) for piece in pieces]
        return Translation(provider=NAME, text="".join(_spaced(o["TranslatedText"], p) for o, p in zip(outs, pieces)),
                           source_language=iso639(outs[0]["SourceLanguageCode"]) or "", target_language=target_language,
                           raw={"TranslateText": [_plain(o) for o in outs]})

    # -- speech --------------------------------------------------------------------------------
    def synthesize(self, text: str, *, voice: str | None = None, audio_format: str = "wav") -> Speech:
        check_speech(NAME, text, audio_format)
        voice = voice or "Joanna"
        pieces = []
        for piece in split_text(text, max_chars=POLLY_CHARS):
            res = _call(self._c("polly").synthesize_speech, Text=piece, VoiceId=voice,
                        OutputFormat="pcm" if audio_format == "wav" else "mp3",
                        **({"SampleRate": str(PCM_RATE)} if audio_format == "wav" else {}))
            pieces.append(res["AudioStream"].read())
        # Polly's PCM is signed 16-bit little-endian mono: made a WAV file
        audio = wav_bytes(b"".join(pieces), PCM_RATE) if audio_format == "wav" else b"".join(pieces)
        return speech(NAME, audio, audio_format, voice)

    def job_of(self, uri: str) -> str | None:
        """The Transcribe job whose output this object is (``transcribe/<job>.json``), if it is one."""
        return job_output_of(uri, f"s3://{self.aws.bucket}", JOB_NAME)

    def transcribe(self, audio: bytes, *, language: str | None = None, media_format: str = "wav") -> Transcript:
        media_format = media_format.lower()  # ZOOM0001.WAV
        if media_format not in ("wav", "mp3", "flac", "ogg", "mp4", "webm", "amr", "m4a"):
            raise NotSupported(f"Transcribe takes no {media_format} audio")
        digest = hashlib.sha256(audio).hexdigest()  # names the audio's copy: one per content
        # names the job: the same audio asked for in another language is another job
        job = "skyloop-" + hashlib.sha256(audio + b"\0" + (language or "").encode()).hexdigest()[:40]
        s3, tr = self._c("s3"), self._c("transcribe")
        try:
            found = tr.get_transcription_job(TranscriptionJobName=job)["TranscriptionJob"]
        except Exception as exc:
            if error_code(exc) != "BadRequestException":  # no such job yet
                raise
            key = f"{TRANSCRIBE_PREFIX}{digest}.{media_format}"
            s3.put_object(Bucket=self.aws.bucket, Key=key, Body=audio)
            args: dict[str, Any] = {"TranscriptionJobName": job, "MediaFormat": media_format,
                                    "Media": {"MediaFileUri": f"s3://{self.aws.bucket}/{key}"},
                                    "OutputBucketName": self.aws.bucket, "OutputKey": f"{TRANSCRIBE_PREFIX}{job}.json"}
            args.update({"LanguageCode": language} if language else {"IdentifyLanguage": True})
            found = _call(tr.start_transcription_job, **args)["TranscriptionJob"]
        status = found.get("TranscriptionJobStatus")
        if status == "FAILED":
            raise InvalidRequest(f"Transcribe job {job} failed: {found.get('FailureReason', 'no reason given')}")
        if status != "COMPLETED":
            return Transcript.heard(NAME, "", language, job_id=job)
        body = s3.get_object(Bucket=self.aws.bucket, Key=f"{TRANSCRIBE_PREFIX}{job}.json")["Body"].read()
        doc = json.loads(body)
        words = [it["alternatives"][0] for it in doc["results"].get("items", []) if it.get("alternatives")]
        conf = [float(w["confidence"]) for w in words if w.get("confidence") not in (None, "")]
        return Transcript.heard(NAME, doc["results"]["transcripts"][0]["transcript"], found.get("LanguageCode") or language,
                                confidence=sum(conf) / len(conf) if conf else None, raw=doc)
