"""Port contract suite, part two (issue 32, item 6): the BlobStore, the remediation Queue and the
EventPublisher, each test written once and run on every backend this machine has: local (a folder,
SQLite), AWS on moto's server (S3, SQS, EventBridge into SQS), Google Cloud on fake-gcs-server and
the Pub/Sub emulator, Azure on Azurite (Blob Storage, Storage Queues). Event Grid has no emulator:
its publisher is held to the contract in tests/integration/azure with a fake client, and says so.
The Deployer's contract is written once (deployer_contract.py) and run where each backend's setup lives."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from skyloop.errors import NotFound
from skyloop.events import ModelVersionApproved, parse_event
from skyloop.ports import BlobStore, EventPublisher, Queue

from .conftest import REGION, _bucket_name, aws_credentials, gcs_client

PROJECT = "skyloop-test"


def _suffix(tmp_path: Path) -> str:
    return "".join(c for c in tmp_path.name.lower() if c.isalnum())[-20:] + uuid.uuid4().hex[:6]


# ---- BlobStore ---------------------------------------------------------------------------------
@pytest.fixture(params=["local", "aws", "gcp", "azure"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BlobStore]:
    if request.param == "local":
        from skyloop.local.blobstore import FolderBlobStore

        yield FolderBlobStore(tmp_path / "blobs")
    elif request.param == "aws":
        boto3 = pytest.importorskip("boto3")
        aws_credentials(monkeypatch)
        endpoint = request.getfixturevalue("moto_endpoint")
        bucket = _bucket_name(tmp_path)
        boto3.client("s3", region_name=REGION, endpoint_url=endpoint).create_bucket(Bucket=bucket)
        from skyloop.clouds.aws.config import AwsSettings
        from skyloop.clouds.aws.s3 import S3BlobStore

        yield S3BlobStore(AwsSettings(endpoint_url=endpoint, region=REGION, bucket=bucket))
    elif request.param == "gcp":
        from skyloop.clouds.gcp.config import GcpSettings
        from skyloop.clouds.gcp.gcs import GcsBlobStore

        client = gcs_client(request.getfixturevalue("gcs_endpoint"), monkeypatch)
        bucket = _bucket_name(tmp_path)
        client.create_bucket(bucket)
        yield GcsBlobStore(GcpSettings(project=PROJECT, bucket=bucket), client)
    else:
        pytest.importorskip("azure.storage.blob")
        from skyloop.clouds.azure.blob import AzureBlobStore
        from skyloop.clouds.azure.config import AzureSettings
        from skyloop.clouds.azure.storage import blob_service

        azure = AzureSettings(connection_string=request.getfixturevalue("azurite"), container=f"c{_suffix(tmp_path)}")
        blob_service(azure).create_container(azure.container)
        yield AzureBlobStore(azure)


def test_bytes_come_back_as_they_went_in(blobs: BlobStore) -> None:
    data = bytes(range(256)) * 64 + b"\x00"  # every byte value, NULs included
    uri = blobs.put("models/churn/abc.joblib", data)
    assert blobs.get(uri) == data and blobs.exists(uri)
    empty = blobs.put("inbox/empty.csv", b"")
    assert blobs.get(empty) == b""


def test_a_put_returns_the_uri_get_takes_and_a_second_put_replaces(blobs: BlobStore) -> None:
    first = blobs.put("inbox/churn.csv", b"a,b\n1,2\n")
    second = blobs.put("inbox/churn.csv", b"a,b\n3,4\n")
    assert first == second  # one key, one object
    assert blobs.get(first) == b"a,b\n3,4\n"


def test_keys_in_different_folders_are_different_objects(blobs: BlobStore) -> None:
    a, b = blobs.put("x/model.joblib", b"a"), blobs.put("y/model.joblib", b"b")
    assert a != b and (blobs.get(a), blobs.get(b)) == (b"a", b"b")


def test_a_missing_object_is_not_found_and_deleting_twice_is_fine(blobs: BlobStore) -> None:
    uri = blobs.put("tmp/gone.bin", b"x")
    blobs.delete(uri)
    blobs.delete(uri)  # a redelivered cleanup must not fail
    assert not blobs.exists(uri)
    with pytest.raises(NotFound):
        blobs.get(uri)


# ---- Queue -------------------------------------------------------------------------------------
class QueueCase:
    """A backend's queue with what the platform decides for it: whether it counts receives itself
    (SQS, Storage Queues and SQLite do; Pub/Sub only behind a dead-letter policy) and whether it
    reports a depth (Pub/Sub does not: -1)."""

    def __init__(self, queue: Queue, *, counts: bool = True, has_depth: bool = True,
                 settle: Callable[[], None] = lambda: None) -> None:
        self.queue, self.counts, self.has_depth, self.settle = queue, counts, has_depth, settle

    def receive_all(self, want: int, tries: int = 20) -> list[Any]:
        got: list[Any] = []
        for _ in range(tries):
            got += self.queue.receive(max_messages=10, visibility_timeout=30)
            if len(got) >= want:
                break
        return got


@pytest.fixture(params=["local", "aws", "gcp", "azure"])
def queue(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[QueueCase]:
    if request.param == "local":
        from skyloop.local.db import Database
        from skyloop.local.queue import SqliteQueue

        db = Database(tmp_path / "q.db")
        yield QueueCase(SqliteQueue(db, "remediation"))
        db.close()
    elif request.param == "aws":
        boto3 = pytest.importorskip("boto3")
        aws_credentials(monkeypatch)
        endpoint = request.getfixturevalue("moto_endpoint")
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
        name = f"q-{_suffix(tmp_path)}"
        dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        from skyloop.clouds.aws.config import AwsSettings
        from skyloop.clouds.aws.sqs import SqsQueue

        yield QueueCase(SqsQueue(AwsSettings(endpoint_url=endpoint, region=REGION), url, dlq))
    elif request.param == "gcp":
        pytest.importorskip("google.cloud.pubsub_v1")
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", request.getfixturevalue("pubsub_host"))
        from google.cloud import pubsub_v1

        from skyloop.clouds.gcp.config import GcpSettings
        from skyloop.clouds.gcp.pubsub import PubSubQueue, publisher_client

        publisher_client.cache_clear()
        pub, sub = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        s = _suffix(tmp_path)
        for t in ("remediation", "dead"):
            topic = pub.create_topic(name=pub.topic_path(PROJECT, f"{t}-{s}")).name
            sub.create_subscription(name=sub.subscription_path(PROJECT, f"{t}-{s}-pull"), topic=topic)
        gcp = GcpSettings(project=PROJECT, remediation_topic=f"remediation-{s}", dead_letter_topic=f"dead-{s}",
                          remediation_subscription=f"remediation-{s}-pull", dead_letter_subscription=f"dead-{s}-pull")
        yield QueueCase(PubSubQueue(gcp, publisher=pub, subscriber=sub), counts=False, has_depth=False)
        publisher_client.cache_clear()
    else:
        pytest.importorskip("azure.storage.queue")
        from skyloop.clouds.azure.config import AzureSettings
        from skyloop.clouds.azure.queue import StorageQueue

        q = StorageQueue(AzureSettings(connection_string=request.getfixturevalue("azurite"),
                                       remediation_queue=f"q{_suffix(tmp_path)}"))
        q.client.create_queue()
        q.poison.create_queue()
        yield QueueCase(q)


def _bodies(msgs: list[Any]) -> list[int]:
    return sorted(json.loads(m.body)["n"] for m in msgs)


def test_what_is_sent_is_received_then_acked_away(queue: QueueCase) -> None:
    q = queue.queue
    for i in range(3):
        q.send(json.dumps({"n": i}), message_id=f"req-{i}")
    if queue.has_depth:
        assert q.depth() == 3
    got = queue.receive_all(3)
    assert _bodies(got) == [0, 1, 2] and all(m.receive_count >= 1 and m.receipt for m in got)
    for m in got:
        q.ack(m)
    assert q.receive(max_messages=10, visibility_timeout=30) == []
    if queue.has_depth:
        assert q.depth() == 0


def test_a_nacked_message_comes_back(queue: QueueCase) -> None:
    q = queue.queue
    q.send(json.dumps({"n": 7}), message_id="req-7")
    [first] = queue.receive_all(1)
    q.nack(first, delay=0)
    [again] = queue.receive_all(1)
    assert json.loads(again.body) == {"n": 7}
    if queue.counts:
        assert (first.receive_count, again.receive_count) == (1, 2)
    q.ack(again)


def test_a_dead_letter_leaves_the_queue_with_its_body_and_reason(queue: QueueCase) -> None:
    q = queue.queue
    q.send(json.dumps({"n": 1}), message_id="req-1")
    q.send(json.dumps({"n": 2}), message_id="req-2")
    got = queue.receive_all(2)
    bad = next(m for m in got if json.loads(m.body)["n"] == 1)
    q.dead_letter(bad, "unknown_action: no action 'reboot_universe'")
    q.ack(next(m for m in got if m is not bad))
    assert q.receive(max_messages=10, visibility_timeout=30) == []
    parked = [d for d in q.dead_letters() if json.loads(d.body) == {"n": 1}]
    assert len(parked) == 1 and "reboot_universe" in parked[0].reason


# ---- EventPublisher ----------------------------------------------------------------------------
class Bus:
    """A backend's publisher and a way to read back what it delivered, as the subscriber gets it."""

    def __init__(self, publisher: EventPublisher, delivered: Callable[[], list[Any]]) -> None:
        self.publisher, self.delivered = publisher, delivered


@pytest.fixture(params=["local", "aws", "gcp"])
def bus(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bus]:
    if request.param == "local":
        from skyloop.local.db import Database
        from skyloop.local.queue import QueuePublisher, SqliteQueue

        db = Database(tmp_path / "bus.db")
        events = SqliteQueue(db, "events")

        def local_delivered() -> list[Any]:
            msgs = events.receive(10, visibility_timeout=30)
            for m in msgs:
                events.ack(m)
            return [parse_event(m.body) for m in msgs]

        yield Bus(QueuePublisher(events), local_delivered)
        db.close()
    elif request.param == "aws":  # an EventBridge rule on Skyloop's source, delivering to SQS
        boto3 = pytest.importorskip("boto3")
        aws_credentials(monkeypatch)
        endpoint = request.getfixturevalue("moto_endpoint")
        from skyloop.clouds.aws.config import AwsSettings
        from skyloop.clouds.aws.eventbridge import EventBridgeBus
        from skyloop.clouds.aws.events import to_domain as aws_domain

        s = _suffix(tmp_path)
        events_client = boto3.client("events", region_name=REGION, endpoint_url=endpoint)
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint)
        events_client.create_event_bus(Name=f"bus-{s}")
        url = sqs.create_queue(QueueName=f"target-{s}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events_client.put_rule(Name=f"all-{s}", EventBusName=f"bus-{s}", EventPattern=json.dumps({"source": ["skyloop"]}))
        events_client.put_targets(Rule=f"all-{s}", EventBusName=f"bus-{s}", Targets=[{"Id": "q", "Arn": arn}])

        def aws_delivered() -> list[Any]:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            # as EventBridge hands it to the deploy function: the event document, decoded by the one decoder
            return [aws_domain(json.loads(m["Body"]), training_bucket="none", read=lambda uri: b"") for m in got]

        yield Bus(EventBridgeBus(AwsSettings(endpoint_url=endpoint, region=REGION, event_bus=f"bus-{s}")),
                  aws_delivered)
    else:
        pytest.importorskip("google.cloud.pubsub_v1")
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", request.getfixturevalue("pubsub_host"))
        from google.cloud import pubsub_v1

        from skyloop.clouds.gcp.config import GcpSettings
        from skyloop.clouds.gcp.events import to_domain as gcp_domain
        from skyloop.clouds.gcp.pubsub import PubSubPublisher, publisher_client

        publisher_client.cache_clear()
        pub, sub = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        s = _suffix(tmp_path)
        topic = pub.create_topic(name=pub.topic_path(PROJECT, f"events-{s}")).name
        subscription = sub.create_subscription(name=sub.subscription_path(PROJECT, f"events-{s}-pull"), topic=topic).name

        def gcp_delivered() -> list[Any]:
            got = sub.pull(request={"subscription": subscription, "max_messages": 10}, timeout=5).received_messages
            if got:
                sub.acknowledge(request={"subscription": subscription, "ack_ids": [r.ack_id for r in got]})
            # as the Pub/Sub push (through Eventarc) hands it to a function: a CloudEvent with the message
            return [gcp_domain(_pubsub_cloudevent(topic, r.message), training_bucket="none") for r in got]

        yield Bus(PubSubPublisher(GcpSettings(project=PROJECT, events_topic=f"events-{s}"), f"events-{s}", pub),
                  gcp_delivered)
        publisher_client.cache_clear()


def _pubsub_cloudevent(topic: str, message: Any) -> Any:
    import base64

    return {"specversion": "1.0", "id": message.message_id, "source": f"//pubsub.googleapis.com/{topic}",
            "type": "google.cloud.pubsub.topic.v1.messagePublished", "datacontenttype": "application/json",
            "data": {"message": {"data": base64.b64encode(message.data).decode(), "messageId": message.message_id,
                                 "attributes": dict(message.attributes)},
                     "subscription": "projects/skyloop-test/subscriptions/events-pull"}}


def _delivered(bus: Bus, want: int) -> list[Any]:
    out: list[Any] = []
    for _ in range(10):
        for got in bus.delivered():
            out += got if isinstance(got, list) else [got]
        if len(out) >= want:
            break
    return out


def test_a_published_event_reaches_the_subscriber_as_the_same_event(bus: Bus) -> None:
    event = ModelVersionApproved(event_id="approved:churn:3", model_group="churn", version=3, approved_by="alice")
    bus.publisher.publish(event)
    [got] = _delivered(bus, 1)
    assert isinstance(got, ModelVersionApproved)
    assert (got.model_group, got.version, got.approved_by) == ("churn", 3, "alice")
