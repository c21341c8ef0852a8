"""Google Cloud's local services for the tests: fake-gcs-server (tests/conftest.py's
``gcs_endpoint``) and the Pub/Sub emulator, started here on 127.0.0.1 and stopped by PID.

The Pub/Sub emulator ships with the Google Cloud CLI (Debian ``google-cloud-cli-pubsub-emulator``,
Java 17), which no package registry here provides: the tests that need it skip with that reason
where it is absent (``../shared/cloud-facts.md``)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("google.cloud.storage")
pytest.importorskip("google.cloud.pubsub_v1")

PUBSUB_EMULATOR = Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator")
PROJECT = "skyloop-test"


@pytest.fixture(scope="session")
def pubsub_host() -> Iterator[str]:
    from tests.conftest import _free_port

    if not PUBSUB_EMULATOR.exists():
        pytest.skip(f"the Pub/Sub emulator is not installed ({PUBSUB_EMULATOR}: Debian google-cloud-cli-pubsub-emulator)")
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="pubsub-emulator-", suffix=".log", delete=False)
    # its log goes to a file: a pipe nobody reads would fill and stall the emulator
    proc = subprocess.Popen([str(PUBSUB_EMULATOR), "--host=127.0.0.1", f"--port={port}"], stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "Server started" not in Path(log.name).read_text(errors="replace"):
        assert proc.poll() is None, Path(log.name).read_text(errors="replace")[-2000:]
        assert time.monotonic() < deadline, "the Pub/Sub emulator did not start in 60 s"
        time.sleep(0.2)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    os.unlink(log.name)


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
