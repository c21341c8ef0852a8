"""Azure's world for the tests: Azurite (tests/conftest.py's ``azurite``) for blobs, tables and
queues, with Azure ML, Event Grid publishing, Azure Monitor and the management clients faked at
their SDK clients (none has an emulator)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("azure.storage.blob")
pytest.importorskip("azure.ai.ml")

APP = "/subscriptions/5f3c2a1e/resourceGroups/skyloop/providers/Microsoft.App/containerApps/api"


class FakeEventGrid:
    """``EventGridPublisherClient.send``: the SDK's EventGridEvent objects, kept for delivery."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, events: Any, **kwargs: Any) -> None:
        from azure.eventgrid import EventGridEvent

        for e in events if isinstance(events, list) else [events]:
            assert isinstance(e, EventGridEvent)
            self.sent.append(e)


class FakeContainerApps:
    """``ContainerAppsAPIClient``: container_apps.get / begin_update and revision restarts."""

    def __init__(self) -> None:
        from azure.mgmt.appcontainers import models

        self.app = models.ContainerApp(location="westeurope", template=models.Template(
            scale=models.Scale(min_replicas=1, max_replicas=3)))
        self.app.latest_revision_name = "api--rev1"  # type: ignore[misc]
        self.restarts: list[str] = []
        outer = self

        class Apps:
            def get(self, rg: str, name: str) -> Any:
                assert (rg, name) == ("skyloop", "api")
                import copy

                return copy.deepcopy(outer.app)

            def begin_update(self, rg: str, name: str, app: Any) -> Any:
                outer.app.template.scale = app.template.scale

                class Done:
                    def result(self) -> None:
                        return None

                return Done()

        class Revisions:
            def restart_revision(self, rg: str, name: str, revision: str) -> None:
                outer.restarts.append(revision)

        self.container_apps, self.container_apps_revisions = Apps(), Revisions()


# what infra/azure/main.bicep creates and may read the datasets container
ENDPOINT_IDENTITY = ("/subscriptions/5f3c2a1e/resourceGroups/skyloop/providers/Microsoft.ManagedIdentity/"
                     "userAssignedIdentities/skyloop-ml-endpoints")


class AzureEnv:
    def __init__(self, connection: str, tmp_path: Path, **settings: Any) -> None:
        from skyloop.clouds.azure.config import AzureSettings
        from skyloop.bootstrap import bootstrap
        from skyloop.clouds.azure.storage import blob_service, queue_client, table_client
        from skyloop.config import Settings

        from .ml_fake import FakeMLClient
        from .test_monitor import FakeMetricsQuery

        suffix = "".join(c for c in tmp_path.name.lower() if c.isalnum())[-16:]
        self.azure = AzureSettings(
            connection_string=connection, container=f"datasets{suffix}", state_table=f"state{suffix}",
            remediation_queue=f"remediation{suffix}", dead_letter_queue=f"deadletters{suffix}",
            subscription_id="5f3c2a1e", resource_group="skyloop", workspace="skyloop-ml",
            endpoint_identity=ENDPOINT_IDENTITY,
            targets={"api": {"resource_id": APP, "kind": "containerapp", "model_group": "churn-2026"}})
        blob_service(self.azure).create_container(self.azure.container)
        table_client(self.azure, self.azure.state_table).create_table()
        for q in (self.azure.remediation_queue, self.azure.remediation_queue + "-poison", self.azure.dead_letter_queue):
            queue_client(self.azure, q).create_queue()
        self.tmp = tmp_path
        self.settings = Settings(home=tmp_path / "home", **settings)
        self.eventgrid, self.apps = FakeEventGrid(), FakeContainerApps()
        self.monitor = FakeMetricsQuery(_window())
        self.ml = FakeMLClient(None, tmp_path / "ml")
        from .test_ai_services import Language

        self.clients = dict(ml=self.ml, eventgrid=self.eventgrid, containerapp=self.apps, monitor=self.monitor,
                            language=Language())  # AI Language at its client
        self.adapters = bootstrap("azure", self.settings, self.azure, **self.clients)
        self.ml.store = self.adapters.store

    def rebuilt(self, settings: Any, azure: Any, **clients: Any) -> Any:
        """The same world's adapters under other settings (the same fakes and Azurite)."""
        from skyloop.bootstrap import bootstrap

        return bootstrap("azure", settings, azure, **{**self.clients, **clients})

    def queue(self, name: str) -> Any:
        from skyloop.clouds.azure.storage import queue_client

        return queue_client(self.azure, name)

    def dead_letters(self) -> list[dict[str, Any]]:
        import json

        q = self.queue(self.azure.dead_letter_queue)
        return [json.loads(m.content) for m in q.peek_messages(max_messages=32)]


def _window() -> dict[tuple[str, str | None], list[Any]]:
    """The api Container App's window: the recorded CPU incident (events/aws/data/metric-stream-records.jsonl),
    ending now, as the AWS and GCP tests replay it."""
    import json
    from datetime import datetime, timedelta, timezone

    root = Path(__file__).resolve().parents[3]
    lines = [json.loads(x) for x in (root / "events/aws/data/metric-stream-records.jsonl").read_text().splitlines()]
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    last = max(d["timestamp"] for d in lines)
    cpu = [(end - timedelta(milliseconds=last - d["timestamp"]), d["value"]["sum"] / d["value"]["count"] / 100.0 * 1e9)
           for d in lines if d["metric_name"] == "CPUUtilization"]
    mem = [(end - timedelta(milliseconds=last - d["timestamp"]), d["value"]["sum"] / d["value"]["count"] * 2**20 * 5)
           for d in lines if d["metric_name"] == "MemoryUtilization"]
    return {("UsageNanoCores", None): cpu, ("WorkingSetBytes", None): mem,
            ("Requests", None): [(t, 1200.0) for t, _ in cpu], ("Requests", "statusCodeCategory eq '5xx'"): []}


@pytest.fixture
def azure_env(azurite: str, tmp_path: Path) -> Iterator[AzureEnv]:
    env = AzureEnv(azurite, tmp_path)
    yield env
    import sys

    app = sys.modules.get("function_app")
    if app is not None:
        app.use(None, None)
