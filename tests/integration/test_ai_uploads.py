"""AI services on uploads, on every provider's storage: a real-shaped upload notification from
each cloud (events/<cloud>/*ai-upload*) goes through that cloud's decoder to a MediaArrived, the
same core function analyses the file with the local provider, and ``<name>.skyloop-ai.json`` is
written beside it in that storage: the local folder, S3 (moto's server), Cloud Storage
(fake-gcs-server) and Blob Storage (Azurite). A redelivered notification has one effect, a new
version is analysed again, and a file that cannot be analysed is a typed refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from skyloop.local.ai import LocalAI
from skyloop.ai.uploads import analyze_upload
from skyloop.errors import InvalidRequest
from skyloop.events import MediaArrived
from skyloop.composed.idempotency import KvIdempotencyStore
from skyloop.local.db import Database
from skyloop.local.kv import SqliteKeyValueStore

pytest.importorskip("vaderSentiment")
pytest.importorskip("langid")

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOTE = b"The rollback worked perfectly and the on-call team is relieved.\n"


def _local(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, Callable[[bytes, str], list[Any]]]:
    from skyloop.local.blobstore import FolderBlobStore

    store = FolderBlobStore(tmp_path / "blobs")

    def upload(data: bytes, version: str) -> list[Any]:
        uri = store.put("ai/incident-note.txt", data)  # the local trigger: a file put in the store
        return [MediaArrived(uri=uri, version=version, size=len(data))]

    return store, upload


def _aws(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, Callable[[bytes, str], list[Any]]]:
    boto3 = pytest.importorskip("boto3")
    endpoint = request.getfixturevalue("moto_endpoint")
    monkeypatch = request.getfixturevalue("monkeypatch")
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    from skyloop.clouds.aws.config import AwsSettings
    from skyloop.clouds.aws.events import to_domain
    from skyloop.clouds.aws.s3 import S3BlobStore

    bucket = f"ai-{tmp_path.name}".lower().replace("_", "-")[:60]
    boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    store = S3BlobStore(AwsSettings(endpoint_url=endpoint, region="us-east-1", bucket=bucket))

    def upload(data: bytes, version: str) -> list[Any]:
        store.put("ai/incident-note.txt", data)
        raw = json.loads((EVENTS / "aws" / "s3-ai-upload-created.json").read_text())
        raw["Records"][0]["s3"]["bucket"]["name"] = bucket
        raw["Records"][0]["s3"]["object"].update(eTag=version, size=len(data))
        return to_domain(raw, training_bucket=bucket, read=store.get)

    return store, upload


def _gcp(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, Callable[[bytes, str], list[Any]]]:
    pytest.importorskip("google.cloud.storage")
    from skyloop.clouds.gcp.config import GcpSettings
    from skyloop.clouds.gcp.events import to_domain
    from skyloop.clouds.gcp.gcs import GcsBlobStore

    from ..contract.ports.conftest import _bucket_name, gcs_client

    client = gcs_client(request.getfixturevalue("gcs_endpoint"), request.getfixturevalue("monkeypatch"))
    bucket = _bucket_name(tmp_path)
    client.create_bucket(bucket)
    store = GcsBlobStore(GcpSettings(project="skyloop-test", bucket=bucket), client)

    def upload(data: bytes, version: str) -> list[Any]:
        store.put("ai/incident-note.txt", data)
        raw = json.loads((EVENTS / "gcp" / "storage-ai-upload-finalized.json").read_text())
        raw["data"].update(bucket=bucket, generation=version, size=str(len(data)))
        return to_domain(raw, training_bucket=bucket)

    return store, upload


def _azure(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, Callable[[bytes, str], list[Any]]]:
    pytest.importorskip("azure.storage.blob")
    from skyloop.clouds.azure.blob import AzureBlobStore
    from skyloop.clouds.azure.config import AzureSettings
    from skyloop.clouds.azure.events import to_domain
    from skyloop.clouds.azure.storage import blob_service

    container = "d" + "".join(c for c in tmp_path.name.lower() if c.isalnum())[-30:]
    settings = AzureSettings(connection_string=request.getfixturevalue("azurite"), container=container)
    blob_service(settings).create_container(container)
    store = AzureBlobStore(settings)

    def upload(data: bytes, version: str) -> list[Any]:
        url = store.put("ai/incident-note.txt", data)
        [raw] = json.loads((EVENTS / "azure" / "eventgrid-ai-upload-created.json").read_text())
        raw["subject"] = f"/blobServices/default/containers/{container}/blobs/ai/incident-note.txt"
        raw["data"].update(url=url, eTag=version, contentLength=len(data))
        return to_domain([raw], container=container)

    return store, upload


STORAGES = {"local": _local, "aws": _aws, "gcp": _gcp, "azure": _azure}


@pytest.mark.parametrize("storage", list(STORAGES))
def test_an_upload_is_analysed_and_the_result_written_beside_it(storage: str, request: pytest.FixtureRequest,
                                                                 tmp_path: Path) -> None:
    store, upload = STORAGES[storage](request, tmp_path)
    idem = KvIdempotencyStore(SqliteKeyValueStore(Database(tmp_path / "idem.db")))

    def analyse(event: Any) -> dict[str, Any]:
        return analyze_upload(event, store=store, idempotency=idem, ai=LocalAI(), max_bytes=1_000_000)

    [event] = upload(NOTE, "v1")
    assert isinstance(event, MediaArrived) and event.uri.endswith("ai/incident-note.txt")
    first = analyse(event)
    assert (first["status"], first["kind"], first["duplicate"]) == ("analysed", "text", False)
    assert first["result_uri"].endswith("ai/incident-note.txt.skyloop-ai.json")
    doc = json.loads(store.get(first["result_uri"]))
    assert doc["source"] == event.uri and doc["version"] == "v1" and doc["provider"] == "local"
    assert doc["result"]["sentiment"]["label"] == "positive" and doc["result"]["language"] == "en"

    assert analyse(event)["duplicate"] is True  # the notification redelivered
    [again] = upload(b"The outage was terrible and everyone is furious.\n", "v2")  # a new version
    assert analyse(again)["duplicate"] is False
    assert json.loads(store.get(first["result_uri"]))["result"]["sentiment"]["label"] == "negative"

    bad = MediaArrived(uri=event.uri.replace("incident-note.txt", "photo.png"), version="v1")
    store.put(bad.uri, b"not a png at all")
    with pytest.raises(InvalidRequest, match="not an image"):
        analyse(bad)


def _decode(cloud: str, raw: Any) -> list[Any]:
    import importlib

    to_domain = importlib.import_module(f"skyloop.clouds.{cloud}.events").to_domain
    if cloud == "aws":
        return to_domain(raw, training_bucket="skyloop-training-123456789012-us-east-1", read=lambda uri: b"")
    if cloud == "gcp":
        return to_domain(raw, training_bucket="skyloop-training-dev")
    return to_domain(raw, container="datasets")


@pytest.mark.parametrize("cloud,path", [("aws", "aws/s3-ai-upload-created.json"),
                                        ("gcp", "gcp/storage-ai-upload-finalized.json"),
                                        ("azure", "azure/eventgrid-ai-upload-created.json")])
def test_each_clouds_sample_is_a_media_upload_and_a_result_is_not(cloud: str, path: str) -> None:
    if cloud != "aws":
        pytest.importorskip("google.cloud.storage" if cloud == "gcp" else "azure.storage.blob")
    raw = json.loads((EVENTS / path).read_text())
    [event] = _decode(cloud, raw)
    assert isinstance(event, MediaArrived) and event.size == 64
    text = json.dumps(raw).replace("incident-note.txt", "incident-note.txt.skyloop-ai.json")
    assert _decode(cloud, json.loads(text)) == []  # the result Skyloop wrote does not trigger another analysis


class _JobProvider:
    """A provider whose transcription is a job (AWS Transcribe's contract, at the port): pending
    until the test finishes it, then the transcript; its outputs land under transcribe/.
    A stand-in at the port edge: AWS's own provider runs this on moto in tests/integration/aws."""

    name = "jobs"

    def __init__(self, store: Any) -> None:
        self.store, self.finished, self.started = store, False, 0

    def job_of(self, uri: str) -> str | None:
        tail = uri.rsplit("transcribe/", 1)
        return tail[1][:-len(".json")] if len(tail) == 2 and tail[1].endswith(".json") else None

    def transcribe(self, audio: bytes, *, language: str | None = None, media_format: str = "wav") -> Any:
        from skyloop.ports.ai import Transcript

        if not self.finished:
            self.started += 1
            return Transcript(provider=self.name, text="", job_id="job-1")
        return Transcript(provider=self.name, text=f"{len(audio)} bytes heard", confidence=0.9)


def test_long_audio_waits_on_its_job_and_the_jobs_output_finishes_every_upload_waiting(tmp_path: Path) -> None:
    from skyloop.local.blobstore import FolderBlobStore

    store = FolderBlobStore(tmp_path / "blobs")
    kv = SqliteKeyValueStore(Database(tmp_path / "state.db"))
    idem = KvIdempotencyStore(kv)
    ai = _JobProvider(store)

    def analyse(event: Any) -> dict[str, Any]:
        return analyze_upload(event, store=store, idempotency=idem, ai=ai, max_bytes=1_000_000, kv=kv)

    uris = [store.put(f"ai/{name}.wav", b"RIFF same audio") for name in ("standup", "standup-copy", "gone")]
    for uri in uris:
        assert analyse(MediaArrived(uri=uri, version="v1"))["status"] == "running"
    assert analyse(MediaArrived(uri=uris[0], version="v1"))["duplicate"] is True  # redelivered: no second job
    assert ai.started == 3
    running = json.loads(store.get(uris[0] + ".skyloop-ai.json"))
    assert (running["status"], running["result"]["job_id"]) == ("running", "job-1")
    store.delete(uris[2])  # deleted while its job ran: nothing is written beside it
    output = store.put("transcribe/job-1.json", b"{}")
    early = analyse(MediaArrived(uri=output, version="o0"))  # the output seen before the job reads as done
    assert early["status"] == "still running" and early["results"] == []
    ai.finished = True
    done = analyse(MediaArrived(uri=output, version="o1"))
    assert done["status"] == "finished" and sorted(done["results"]) == sorted(u + ".skyloop-ai.json" for u in uris[:2])
    for uri in uris[:2]:
        doc = json.loads(store.get(uri + ".skyloop-ai.json"))
        assert (doc["status"], doc["result"]["text"], doc["result"]["job_id"]) == ("done", "15 bytes heard", None)
    assert analyse(MediaArrived(uri=output, version="o1"))["status"] == "nothing waiting"  # redelivered
    with pytest.raises(InvalidRequest, match="no state store"):  # a job, and nowhere to wait on it
        ai.finished = False
        analyze_upload(MediaArrived(uri=uris[0], version="v2"), store=store, idempotency=idem, ai=ai, max_bytes=1_000_000)
