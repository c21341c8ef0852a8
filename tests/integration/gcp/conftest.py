"""Google Cloud's local services for the tests: fake-gcs-server and the Pub/Sub emulator (both
started by tests/conftest.py on 127.0.0.1 and stopped by PID; the port contract suite uses them too).

The Pub/Sub emulator ships with the Google Cloud CLI (Debian ``google-cloud-cli-pubsub-emulator``,
Java 17), which no package registry here provides: the tests that need it skip with that reason
where it is absent (``../shared/cloud-facts.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("google.cloud.storage")
pytest.importorskip("google.cloud.pubsub_v1")

PROJECT = "skyloop-test"


@pytest.fixture
def pubsub(pubsub_host: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Topic and subscription admin against the emulator; the publisher's cached client is reset."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_host)
    from google.cloud import pubsub_v1

    from skyloop.clouds.gcp.pubsub import publisher_client

    publisher_client.cache_clear()
    yield pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    publisher_client.cache_clear()


class Gcs:
    """A fresh bucket on fake-gcs-server with Skyloop's store and state on it."""

    def __init__(self, client: Any, bucket: str) -> None:
        from skyloop.clouds.gcp.gcs import GcsBlobStore, GcsKeyValueStore

        self.client, self.bucket = client, bucket
        self.gcp = self.settings()
        self.store, self.kv = GcsBlobStore(self.gcp, client), GcsKeyValueStore(self.gcp, client)

    def settings(self, **fields: Any) -> Any:
        from skyloop.clouds.gcp.config import GcpSettings

        return GcpSettings(project="skyloop-test", bucket=self.bucket, **fields)


@pytest.fixture
def gcs(gcs_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Gcs:
    from ...contract.ports.conftest import _bucket_name, gcs_client

    client = gcs_client(gcs_endpoint, monkeypatch)
    bucket = _bucket_name(tmp_path)
    client.create_bucket(bucket)
    return Gcs(client, bucket)


class GcpEnv:
    """The GCP functions' world for one test: a bucket on fake-gcs-server, the topics and pull
    subscriptions on the Pub/Sub emulator, Vertex AI, Cloud Monitoring, Cloud Run and Workflows
    faked at their clients, and the adapters the functions run on (``skyloop.clouds.gcp.table``)."""

    TOPICS = ("events", "remediation", "dead-letters")

    def __init__(self, gcs: Gcs, pubsub: Any, tmp_path: Path, **settings: Any) -> None:
        from skyloop.bootstrap import bootstrap
        from skyloop.config import Settings

        from .test_executors import RUN, FakeRun
        from .vertex_fake import (FakeDatasetService, FakeEndpointService, FakeJobService, FakeModelService,
                                  FakePipelineService, FakePredictionService)

        self.gcs, self.tmp = gcs, tmp_path
        self.publisher, self.subscriber = pubsub
        suffix = gcs.bucket[-12:]
        names = {t: f"skyloop-{t}-{suffix}" for t in self.TOPICS}
        for name in names.values():
            topic = self.publisher.create_topic(name=self.publisher.topic_path(PROJECT, name)).name
            self.subscriber.create_subscription(name=self.subscriber.subscription_path(PROJECT, f"{name}-pull"), topic=topic)
        self.gcp = gcs.settings(
            events_topic=names["events"], remediation_topic=names["remediation"],
            dead_letter_topic=names["dead-letters"], remediation_subscription=f"{names['remediation']}-pull",
            dead_letter_subscription=f"{names['dead-letters']}-pull", endpoint_wait_seconds=0,
            rollout_workflow=f"projects/{PROJECT}/locations/us-central1/workflows/skyloop-rollout",
            targets={"api": {"kind": "cloud-run", "name": RUN, "model_group": "churn-2026"}})
        self.models = FakeModelService()
        self.endpoints = FakeEndpointService(self.models)
        self.predictions = FakePredictionService(self.endpoints, gcs.store, tmp_path)
        self.jobs, self.run = FakeJobService(self.models), FakeRun()
        self.datasets = FakeDatasetService()
        self.pipelines = FakePipelineService(self.models, self.datasets)
        self.monitoring = metric_window()
        self.workflows = FakeExecutions()
        self.settings = Settings(home=tmp_path / "home", **settings)
        self.language, self.speech = language_client(), speech_client()
        self.clients = dict(storage=gcs.client, models=self.models, endpoints=self.endpoints, predictions=self.predictions,
                            jobs=self.jobs, pipelines=self.pipelines, datasets=self.datasets, monitoring=self.monitoring, run=self.run, workflows=self.workflows,
                            language=self.language, speech=self.speech)
        self.adapters = bootstrap("gcp", self.settings, self.gcp, deploy_wait_seconds=0, **self.clients)

    def rebuilt(self, settings: Any, gcp: Any) -> Any:
        """The same world's adapters under other settings (the same fakes and emulators)."""
        from skyloop.bootstrap import bootstrap

        return bootstrap("gcp", settings, gcp, deploy_wait_seconds=0, **self.clients)

    def pull(self, topic: str, max_messages: int = 10) -> list[Any]:
        sub = self.subscriber.subscription_path(PROJECT, f"{getattr(self.gcp, topic)}-pull")
        res = self.subscriber.pull(subscription=sub, max_messages=max_messages, timeout=3)
        if res.received_messages:
            self.subscriber.acknowledge(subscription=sub, ack_ids=[r.ack_id for r in res.received_messages])
        return [r.message for r in res.received_messages]


def language_client() -> Any:
    """Natural Language at its generated client (test_ai_services.Fake): what an ai/ text upload is analysed with."""
    from google.cloud import language_v2 as L

    from .test_ai_services import Fake

    return Fake(analyze_sentiment=(L.AnalyzeSentimentRequest, L.AnalyzeSentimentResponse(
                    document_sentiment=L.Sentiment(score=-0.6, magnitude=1.2), language_code="en")),
                analyze_entities=(L.AnalyzeEntitiesRequest, L.AnalyzeEntitiesResponse(language_code="en")))


def speech_client() -> Any:
    """Speech-to-Text at its generated client: a long recording's recognition starts an operation
    (api_core's own Operation around the longrunning message); the test writes its response."""
    from google.api_core import operation
    from google.cloud import speech_v1 as S
    from google.longrunning import operations_pb2

    from .test_ai_services import Fake

    op = operation.Operation(operations_pb2.Operation(name=f"projects/{PROJECT}/locations/global/operations/1"),
                             refresh=lambda: None, cancel=lambda: None, result_type=S.LongRunningRecognizeResponse)
    return Fake(long_running_recognize=(S.LongRunningRecognizeRequest, op))


class FakeExecutions:
    """``ExecutionsClient`` for the rollout workflow: create (argument and labels kept) and list
    with a ``labels.k="v"`` filter. The tests run an execution with harness.Workflow."""

    def __init__(self) -> None:
        self.executions: list[Any] = []

    def create_execution(self, request: Any) -> Any:
        from google.cloud.workflows import executions_v1

        assert isinstance(request, executions_v1.CreateExecutionRequest)
        e = executions_v1.Execution(request.execution)
        e.name = f"{request.parent}/executions/{len(self.executions) + 1}"
        self.executions.append(e)
        return e

    def list_executions(self, request: Any) -> list[Any]:
        import re as _re

        wanted = dict(_re.findall(r'labels\.([\w-]+)="([^"]*)"', request.filter))
        return [e for e in self.executions if e.name.startswith(request.parent + "/")
                and all(e.labels.get(k) == v for k, v in wanted.items())]


def metric_window() -> Any:
    """Cloud Monitoring's answer for the api service: the recorded CPU incident
    (events/aws/data/metric-stream-records.jsonl, the same minutes AWS's tests replay), ending now."""
    import json
    from datetime import datetime, timedelta, timezone

    from skyloop.clouds.gcp.monitoring import RUN

    from .test_monitoring import FakeMetricService

    root = Path(__file__).resolve().parents[3]
    lines = [json.loads(x) for x in (root / "events/aws/data/metric-stream-records.jsonl").read_text().splitlines()]
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    last = max(d["timestamp"] for d in lines)
    series: dict[str, list[Any]] = {RUN + "container/cpu/utilizations": [], RUN + "container/memory/utilizations": []}
    for d in lines:
        when = end - timedelta(milliseconds=last - d["timestamp"])
        name = "cpu" if d["metric_name"] == "CPUUtilization" else "memory"
        series[RUN + f"container/{name}/utilizations"].append((when, (d["value"]["sum"] / d["value"]["count"] / 100.0,)))
    minutes = [w for w, _ in series[RUN + "container/cpu/utilizations"]]
    series[RUN + "request_latencies"] = [(w, (80.0,)) for w in minutes]
    series[RUN + "request_count"] = [(w, 20.0) for w in minutes]
    series[RUN + "request_count|5xx"] = []
    return FakeMetricService(series)


@pytest.fixture
def gcp_env(gcs: Gcs, pubsub: Any, tmp_path: Path) -> Iterator[GcpEnv]:
    import sys

    env = GcpEnv(gcs, pubsub, tmp_path)
    yield env
    main = sys.modules.get("main")
    if main is not None and hasattr(main, "use"):
        main.use(None, None)
