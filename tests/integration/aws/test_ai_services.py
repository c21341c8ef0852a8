"""The AWS AI provider (clouds/aws/ai.py). On moto's server: Rekognition DetectLabels and
DetectText, Polly SynthesizeSpeech, Transcribe's jobs and S3. moto answers those with canned
results, whatever the input: it checks the request's shape, not the image, the text or the audio,
and it never writes a transcript. Where moto has no implementation (Rekognition DetectFaces,
Comprehend's DetectDominantLanguage and DetectEntities, and Translate) and where its canned answer
lacks fields the real API always sends (Comprehend's key phrases have no text), the client is
botocore's own Stubber, which validates each request against the service model; each test says
which it uses."""

from __future__ import annotations

import io
import json
import wave
from typing import Any

import pytest
from botocore.stub import Stubber

from skyloop.ports.ai import ImageAnalysis, Speech, TextAnalysis, Transcript, Translation
from skyloop.errors import AccessDenied, InvalidRequest, NotSupported, TransientError

from .conftest import REGION, TRAINING_BUCKET, Aws


def _png(width: int = 200, height: int = 100) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, "PNG")
    return buf.getvalue()


def _ai(aws: Aws, **clients: Any) -> Any:
    from skyloop.clouds.aws.ai import AwsAI
    from skyloop.clouds.aws.config import AwsSettings

    return AwsAI(AwsSettings(endpoint_url=aws.endpoint, region=REGION, bucket=TRAINING_BUCKET), clients)


def _stubbed(service: str) -> tuple[Any, Stubber]:
    import boto3

    c = boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    return c, Stubber(c)


def test_labels_objects_and_text_on_moto(aws: Aws) -> None:
    """moto: canned labels and text lines; checked here is the mapping (0-100 -> 0-1, ratios -> pixels)."""
    out = _ai(aws).analyze_image(_png(200, 100), features=("labels", "objects", "text"))
    assert isinstance(out, ImageAnalysis) and out.provider == "aws"
    assert out.labels and all(0.0 <= lab.confidence <= 1.0 for lab in out.labels)
    raw = aws.client("rekognition").detect_labels(Image={"Bytes": _png(200, 100)})["Labels"]
    first = next(lab for lab in raw if lab.get("Instances"))
    bb = first["Instances"][0]["BoundingBox"]
    obj = next(o for o in out.objects if o.name == first["Name"])
    assert (obj.box.left, obj.box.top, obj.box.width) == (round(bb["Left"] * 200), round(bb["Top"] * 100), round(bb["Width"] * 200))
    assert out.text and all(line.text for line in out.text)
    with pytest.raises(InvalidRequest, match="not an image"):
        _ai(aws).analyze_image(b"not an image")
    with pytest.raises(InvalidRequest, match="unknown feature 'celebrities'"):
        _ai(aws).analyze_image(_png(), features=("celebrities",))


def test_faces_through_the_stubber(aws: Aws) -> None:
    rek, stub = _stubbed("rekognition")
    stub.add_response("detect_faces", {"FaceDetails": [{"BoundingBox": {"Width": 0.25, "Height": 0.5, "Left": 0.5, "Top": 0.1},
                                                          "Confidence": 99.5}]},
                      {"Image": {"Bytes": _png(400, 200)}, "Attributes": ["DEFAULT"]})
    with stub:
        out = _ai(aws, rekognition=rek).analyze_image(_png(400, 200), features=("faces",))
    [face] = out.faces
    assert (face.box.left, face.box.top, face.box.width, face.box.height, face.confidence) == (200, 20, 100, 100, 0.995)


def test_text_analysis_through_the_stubber(aws: Aws) -> None:
    cmp, stub = _stubbed("comprehend")
    text = "Skyloop shipped in Berlin and the team loves it."
    stub.add_response("detect_dominant_language", {"Languages": [{"LanguageCode": "en", "Score": 0.99}]}, {"Text": text})
    stub.add_response("detect_sentiment", {"Sentiment": "POSITIVE", "SentimentScore": {
        "Positive": 0.97, "Negative": 0.01, "Neutral": 0.02, "Mixed": 0.0}}, {"Text": text, "LanguageCode": "en"})
    stub.add_response("detect_entities", {"Entities": [{"Text": "Berlin", "Type": "LOCATION", "Score": 0.98,
                                                        "BeginOffset": 19, "EndOffset": 25}]}, {"Text": text, "LanguageCode": "en"})
    stub.add_response("detect_key_phrases", {"KeyPhrases": [{"Text": "the team", "Score": 0.9, "BeginOffset": 30,
                                                             "EndOffset": 38}]}, {"Text": text, "LanguageCode": "en"})
    with stub:
        out = _ai(aws, comprehend=cmp).analyze_text(text)
    assert isinstance(out, TextAnalysis)
    assert (out.language, out.language_confidence, out.sentiment.label) == ("en", 0.99, "positive")  # type: ignore[union-attr]
    assert [(e.text, e.type) for e in out.entities] == [("Berlin", "location")] and out.key_phrases == ["the team"]
    with pytest.raises(InvalidRequest, match="byte limit"):
        _ai(aws, comprehend=cmp).analyze_text("x" * 6000)

    cmp2, stub2 = _stubbed("comprehend")
    stub2.add_client_error("detect_dominant_language", service_error_code="ThrottlingException", http_status_code=400)
    with stub2, pytest.raises(TransientError, match="ThrottlingException"):
        _ai(aws, comprehend=cmp2).analyze_text(text)


def test_translate_through_the_stubber(aws: Aws) -> None:
    tr, stub = _stubbed("translate")
    stub.add_response("translate_text", {"TranslatedText": "Hallo Welt", "SourceLanguageCode": "en", "TargetLanguageCode": "de"},
                      {"Text": "Hello world", "SourceLanguageCode": "auto", "TargetLanguageCode": "de"})
    with stub:
        out = _ai(aws, translate=tr).translate("Hello world", "de")
    assert out == Translation(provider="aws", text="Hallo Welt", source_language="en", target_language="de", raw=out.raw)
    assert out.raw == {"TranslateText": [{"TranslatedText": "Hallo Welt", "SourceLanguageCode": "en", "TargetLanguageCode": "de"}]}


def test_speech_on_moto_becomes_a_wav_file(aws: Aws) -> None:
    """moto: Polly answers a few canned PCM bytes; checked is the WAV written around them."""
    out = _ai(aws).synthesize("Hello from Skyloop", voice="Matthew")
    assert isinstance(out, Speech) and (out.format, out.sample_rate, out.voice) == ("wav", 16_000, "Matthew")
    with wave.open(io.BytesIO(out.audio)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16_000)
        assert out.duration_seconds == pytest.approx(w.getnframes() / 16_000)
    with pytest.raises(NotSupported, match="wav or mp3"):
        _ai(aws).synthesize("x", audio_format="ogg")


def test_mp3_duration_is_counted_from_its_frames() -> None:
    from skyloop.ports.media import mp3_duration

    # MPEG-1 Layer III, 128 kbps, 44.1 kHz, no padding: 417 bytes and 1152 samples a frame
    frame = bytes([0xFF, 0xFB, 0x90, 0x00]) + bytes(413)
    assert mp3_duration(frame * 100) == pytest.approx(100 * 1152 / 44100)
    assert mp3_duration(b"ID3\x03\x00\x00\x00\x00\x00\x0a" + bytes(10) + frame * 10) == pytest.approx(10 * 1152 / 44100)
    assert mp3_duration(b"") == 0.0


def test_transcription_is_a_job_and_a_retry_finds_it(aws: Aws) -> None:
    """moto: Transcribe's jobs move QUEUED -> IN_PROGRESS -> COMPLETED on reads and write no
    transcript; the test writes the transcript JSON where the job's OutputKey says, as the service does."""
    ai = _ai(aws)
    audio = b"RIFF....WAVEfmt fake audio"
    first = ai.transcribe(audio, language="en-US")
    assert isinstance(first, Transcript) and first.job_id and first.text == ""
    s3 = aws.client("s3")
    key = f"transcribe/{first.job_id}.json"
    s3.put_object(Bucket=TRAINING_BUCKET, Key=key, Body=json.dumps({"results": {
        "transcripts": [{"transcript": "hello skyloop"}],
        "items": [{"alternatives": [{"confidence": "0.9", "content": "hello"}]},
                  {"alternatives": [{"confidence": "0.7", "content": "skyloop"}]}]}}).encode())
    for _ in range(5):
        out = ai.transcribe(audio, language="en-US")  # the same audio: the same job, never a second one
        if not out.job_id:
            break
    assert (out.text, out.confidence) == ("hello skyloop", pytest.approx(0.8))
    jobs = aws.client("transcribe").list_transcription_jobs()["TranscriptionJobSummaries"]
    assert [j["TranscriptionJobName"] for j in jobs] == [first.job_id]
    german = ai.transcribe(audio, language="de-DE")  # the same audio in another language: another job
    assert german.job_id and german.job_id != first.job_id
    jobs = aws.client("transcribe").list_transcription_jobs()["TranscriptionJobSummaries"]
    assert sorted(j["TranscriptionJobName"] for j in jobs) == sorted([first.job_id, german.job_id])
    stored = s3.list_objects_v2(Bucket=TRAINING_BUCKET, Prefix="transcribe/")["Contents"]
    assert len([o for o in stored if not o["Key"].endswith(".json")]) == 1  # the audio, content-addressed, once


def test_the_provider_name_builds_it() -> None:
    pytest.importorskip("boto3")
    from skyloop.bootstrap import ai_provider as provider

    assert provider("aws").name == "aws"


def test_the_analyze_function_writes_the_result_beside_the_upload(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """functions/aws/analyze.py on the S3 sample for ai/incident-note.txt, its calls held to the
    AnalyzeRole in template.yaml (the aws fixture checks every recorded call). Comprehend through
    the Stubber (moto lacks DetectDominantLanguage); S3 and the idempotency table on moto."""
    import dataclasses

    import analyze
    import common

    from skyloop.clouds.aws.ai import AwsAI

    from .conftest import LambdaContext, load_event

    note = b"The checkout service failed again overnight and customers are angry."
    aws.client("s3").put_object(Bucket=TRAINING_BUCKET, Key="ai/incident-note.txt", Body=note)
    cmp, stub = _stubbed("comprehend")
    text = note.decode()
    stub.add_response("detect_dominant_language", {"Languages": [{"LanguageCode": "en", "Score": 0.99}]}, {"Text": text})
    stub.add_response("detect_sentiment", {"Sentiment": "NEGATIVE", "SentimentScore": {
        "Positive": 0.01, "Negative": 0.95, "Neutral": 0.03, "Mixed": 0.01}}, {"Text": text, "LanguageCode": "en"})
    stub.add_response("detect_entities", {"Entities": []}, {"Text": text, "LanguageCode": "en"})
    stub.add_response("detect_key_phrases", {"KeyPhrases": [{"Text": "the checkout service", "Score": 0.9}]},
                      {"Text": text, "LanguageCode": "en"})
    built = common.adapters()
    common.instance.use(dataclasses.replace(built, ai=AwsAI(common.aws_settings(), {"comprehend": cmp})), common.aws_settings())
    event = load_event("s3-ai-upload-created.json")
    event["Records"][0]["s3"]["bucket"]["name"] = TRAINING_BUCKET
    event["Records"][0]["s3"]["object"]["size"] = len(note)
    with stub:
        out = analyze.handler(event, LambdaContext())
    assert out["status"] == "ok" and out["results"][0]["status"] == "analysed", out
    doc = json.loads(aws.client("s3").get_object(Bucket=TRAINING_BUCKET, Key="ai/incident-note.txt.skyloop-ai.json")["Body"].read())
    assert (doc["provider"], doc["result"]["sentiment"]["label"], doc["result"]["key_phrases"]) == (
        "aws", "negative", ["the checkout service"])


def _audio_upload(aws: Aws, key: str, audio: bytes) -> dict[str, Any]:
    """The audio put in the training bucket, and the S3 notification of its upload."""
    from .conftest import load_event

    aws.client("s3").put_object(Bucket=TRAINING_BUCKET, Key=key, Body=audio)
    upload = load_event("s3-ai-upload-created.json")
    upload["Records"][0]["s3"]["bucket"]["name"] = TRAINING_BUCKET
    upload["Records"][0]["s3"]["object"].update(key=key, size=len(audio))
    return upload


def test_a_long_recording_gets_its_transcript_when_the_job_finishes(aws: Aws) -> None:
    """The upload's result says "running" with the job id; Transcribe's output landing under
    transcribe/ (EventBridge, the sample event) finishes it. All through functions/aws/analyze.py,
    its calls held to AnalyzeRole (the waiting list is in the state table). moto's jobs advance a
    state per read and write no transcript: the test reads the job to COMPLETED and writes the
    transcript where the job's OutputKey says, as the service does."""
    import analyze

    from .conftest import LambdaContext, load_event

    s3 = aws.client("s3")
    out = analyze.handler(_audio_upload(aws, "ai/standup.wav", b"RIFF....WAVEfmt a long stand-up recording"),
                          LambdaContext())
    [started] = out["results"]
    assert started["status"] == "running", out
    job = started["job_id"]
    result_key = "ai/standup.wav.skyloop-ai.json"
    running = json.loads(s3.get_object(Bucket=TRAINING_BUCKET, Key=result_key)["Body"].read())
    assert (running["status"], running["result"]["job_id"], running["result"]["text"]) == ("running", job, "")

    finished_event = load_event("eventbridge-transcribe-output-created.json")
    finished_event["detail"]["bucket"]["name"] = TRAINING_BUCKET
    finished_event["detail"]["object"]["key"] = f"transcribe/{job}.json"
    other = analyze.handler(load_event("eventbridge-transcribe-output-created.json"), LambdaContext())
    assert other["results"][0]["status"] == "nothing waiting", other  # a job no upload waits on
    tr = aws.client("transcribe")
    while tr.get_transcription_job(TranscriptionJobName=job)["TranscriptionJob"]["TranscriptionJobStatus"] != "COMPLETED":
        pass
    s3.put_object(Bucket=TRAINING_BUCKET, Key=f"transcribe/{job}.json", Body=json.dumps({"results": {
        "transcripts": [{"transcript": "the deploy went out at nine"}],
        "items": [{"alternatives": [{"confidence": "0.95", "content": "deploy"}]}]}}).encode())
    done = analyze.handler(finished_event, LambdaContext())
    assert done["results"][0]["status"] == "finished", done
    doc = json.loads(s3.get_object(Bucket=TRAINING_BUCKET, Key=result_key)["Body"].read())
    assert (doc["status"], doc["result"]["text"], doc["result"]["job_id"]) == ("done", "the deploy went out at nine", None)
    again = analyze.handler(finished_event, LambdaContext())  # redelivered: nothing left waiting, the result stands
    assert again["results"][0]["status"] == "nothing waiting", again
    assert json.loads(s3.get_object(Bucket=TRAINING_BUCKET, Key=result_key)["Body"].read()) == doc


def test_a_failed_transcription_finishes_its_uploads_with_the_reason(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job that FAILED writes no output, so its uploads read "running" for ever. Its state change
    (EventBridge, the sample event) finishes them: each result says failed, with Transcribe's reason."""
    import analyze

    from skyloop.clouds.aws.ai import AwsAI
    from skyloop.errors import InvalidRequest

    from .conftest import LambdaContext, load_event

    s3 = aws.client("s3")
    upload = _audio_upload(aws, "ai/broken.wav", b"RIFF....WAVEfmt a recording Transcribe cannot read")
    [started] = analyze.handler(upload, LambdaContext())["results"]
    job = started["job_id"]

    def failed(self: Any, audio: bytes, **kw: Any) -> Any:
        raise InvalidRequest(f"Transcribe job {job} failed: The media format provided does not match the detected format")

    monkeypatch.setattr(AwsAI, "transcribe", failed)
    event = load_event("eventbridge-transcribe-job-failed.json")
    event["detail"]["TranscriptionJobName"] = job
    done = analyze.handler(event, LambdaContext())
    assert done["results"][0]["status"] == "finished", done
    doc = json.loads(s3.get_object(Bucket=TRAINING_BUCKET, Key="ai/broken.wav.skyloop-ai.json")["Body"].read())
    assert doc["status"] == "failed" and "does not match the detected format" in doc["reason"]
    assert analyze.handler(event, LambdaContext())["results"][0]["status"] == "nothing waiting"  # redelivered


def test_missing_credentials_are_the_environments_to_fix() -> None:
    from botocore.exceptions import NoCredentialsError

    from skyloop.clouds.aws.ai import AwsAI
    from skyloop.clouds.aws.config import AwsSettings
    from skyloop.errors import CloudUnavailable

    class Unsigned:  # what botocore raises before any request when no credentials resolve
        def detect_dominant_language(self, **kw: Any) -> Any:
            raise NoCredentialsError()

    with pytest.raises(CloudUnavailable, match="no AWS credentials"):
        AwsAI(AwsSettings(), {"comprehend": Unsigned()}).analyze_text("hello")


def test_a_language_comprehend_lacks_is_refused_before_the_paid_call(aws: Aws) -> None:
    """Russian has no Comprehend sentiment: botocore's model lists the 12 it takes, and the refusal
    comes before DetectSentiment (the Stubber fails on any call it was not given). Language alone
    still answers."""
    cmp, stub = _stubbed("comprehend")
    text = "Обслуживание было отличным, еда вкусной."
    for _ in range(2):
        stub.add_response("detect_dominant_language", {"Languages": [{"LanguageCode": "ru", "Score": 0.99}]}, {"Text": text})
    with stub:
        with pytest.raises(NotSupported, match="sentiment takes ar, de, en.*reads as 'ru'"):
            _ai(aws, comprehend=cmp).analyze_text(text)
        assert _ai(aws, comprehend=cmp).analyze_text(text, features=("language",)).language == "ru"
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("code,error,match", [
    ("UnsupportedLanguagePairException", NotSupported, "aws provider does not support this"),
    ("AccessDeniedException", AccessDenied, "AWS denied translate:TranslateText"),
    ("ValidationException", InvalidRequest, "AWS refused the input"),
])
def test_refusals_are_one_line_typed_errors_not_bugs(aws: Aws, code: str, error: type, match: str) -> None:
    """Each was "internal_error ... (a bug)", and in uploads retried by the delivery rule, paying each time."""
    tr, stub = _stubbed("translate")
    stub.add_client_error("translate_text", service_error_code=code, service_message="from the service", http_status_code=400)
    with stub, pytest.raises(error, match=match) as caught:
        _ai(aws, translate=tr).translate("Hello", "xx")
    assert not caught.value.retryable and "\n" not in caught.value.reason


def test_a_text_above_one_calls_limit_goes_in_pieces_cut_at_sentence_ends(aws: Aws) -> None:
    """Translate takes 10,000 bytes and Polly 3,000 characters a call: a longer file was refused whole."""
    from botocore.stub import ANY

    from skyloop.clouds.aws.ai import POLLY_CHARS, TRANSLATE_BYTES

    sentence = "Die Bereitstellung ist fehlgeschlagen, und der Dienst wird neu gestartet. "  # 75 bytes (ä: 2)
    text = sentence * 300  # 22,500 bytes
    tr, stub = _stubbed("translate")
    sent: list[str] = []
    for _ in range(3):
        stub.add_response("translate_text", {"TranslatedText": "The deployment failed.", "SourceLanguageCode": "de",
                                             "TargetLanguageCode": "en"},
                          {"Text": ANY, "SourceLanguageCode": "auto", "TargetLanguageCode": "en"})
    tr.meta.events.register("before-parameter-build.translate.TranslateText", lambda params, **kw: sent.append(params["Text"]))
    with stub:
        out = _ai(aws, translate=tr).translate(text, "en")
    stub.assert_no_pending_responses()
    assert len(sent) == 3 and all(len(p.encode()) <= TRANSLATE_BYTES for p in sent) and "".join(sent) == text
    assert all(p.endswith(". ") for p in sent)  # cut at sentence ends
    assert out.source_language == "de" and len(out.raw["TranslateText"]) == 3  # type: ignore[index]

    polly, pstub = _stubbed("polly")
    for _ in range(3):
        pstub.add_response("synthesize_speech", {"AudioStream": _Body(b"\x00\x01" * 8_000), "ContentType": "audio/pcm"})
    with pstub:
        spoken = _ai(aws, polly=polly).synthesize("Restart the service now. " * 300)  # 7,500 characters
    pstub.assert_no_pending_responses()
    assert spoken.duration_seconds == pytest.approx(3 * 0.5) and POLLY_CHARS == 3_000  # the pieces' audio, in order


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


def test_an_image_rekognition_cannot_take_is_converted_and_a_cut_result_is_marked(aws: Aws) -> None:
    """Rekognition takes PNG or JPEG up to 5 MB; uploads take GIF, BMP, TIFF, WebP and 20 MB. DetectText
    stops at 100 words, and nothing said the text was cut."""
    import random

    from PIL import Image

    from skyloop.clouds.aws.ai import REKOGNITION_BYTES, rekognition_image

    gif = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(gif, format="GIF")
    converted = rekognition_image(gif.getvalue())
    assert Image.open(io.BytesIO(converted)).format in ("JPEG", "PNG")
    rng = random.Random(1)
    noisy = Image.frombytes("RGB", (1800, 1400), bytes(rng.getrandbits(8) for _ in range(1800 * 1400 * 3)))
    big = io.BytesIO()
    noisy.save(big, format="PNG")
    assert len(big.getvalue()) > REKOGNITION_BYTES
    small = rekognition_image(big.getvalue())
    assert len(small) <= REKOGNITION_BYTES and Image.open(io.BytesIO(small)).format == "JPEG"

    rek, stub = _stubbed("rekognition")
    box = {"Width": 0.1, "Height": 0.05, "Left": 0.1, "Top": 0.1}
    words = [{"DetectedText": f"w{i}", "Type": "WORD", "Id": i + 1, "ParentId": 0, "Confidence": 99.0,
              "Geometry": {"BoundingBox": box}} for i in range(100)]
    stub.add_response("detect_text", {"TextDetections": [
        {"DetectedText": "w0 w1", "Type": "LINE", "Id": 0, "Confidence": 99.0, "Geometry": {"BoundingBox": box}}, *words]})
    with stub:
        out = _ai(aws, rekognition=rek).analyze_image(gif.getvalue(), features=("text",))
    assert out.truncated is True and out.text[0].text == "w0 w1"
