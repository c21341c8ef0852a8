"""Azure Storage adapters on Azurite (started by tests/conftest.py): Blob Storage as the
BlobStore, and the remediation Storage Queue with its poison queue. Table Storage state runs the
KeyValueStore and IdempotencyStore contract suites (tests/contract/ports)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

pytest.importorskip("azure.storage.blob")
pytest.importorskip("azure.storage.queue")

from skyloop.errors import NotFound  # noqa: E402


@pytest.fixture
def settings(azurite: str, tmp_path: Any) -> Any:
    from skyloop.clouds.azure.config import AzureSettings

    suffix = "".join(c for c in tmp_path.name.lower() if c.isalnum())[-20:]
    return AzureSettings(connection_string=azurite, container=f"datasets{suffix}", remediation_queue=f"remediation{suffix}")


def test_blob_store_round_trip(settings: Any) -> None:
    from skyloop.clouds.azure.blob import AzureBlobStore
    from skyloop.clouds.azure.storage import blob_service

    blob_service(settings).create_container(settings.container)
    store = AzureBlobStore(settings)
    url = store.put("models/churn/v1/model.joblib", b"\x00bytes")
    assert url.endswith(f"/{settings.container}/models/churn/v1/model.joblib")
    assert store.get(url) == store.get("models/churn/v1/model.joblib") == b"\x00bytes"
    spaced = store.put("datasets/churn 2026.csv", b"a,b\n")
    assert "churn%202026.csv" in spaced and store.get(spaced) == b"a,b\n"  # a URL, percent-encoded, as Event Grid sends
    assert store.exists(url)
    store.delete(url)
    store.delete(url)
    assert not store.exists(url)
    with pytest.raises(NotFound, match="no blob at"):
        store.get(url)


def test_queue_receive_ack_nack_dead_letter_and_depth(settings: Any) -> None:
    from skyloop.clouds.azure.queue import StorageQueue

    q = StorageQueue(settings)
    q.client.create_queue()
    q.poison.create_queue()
    for i in range(3):
        q.send(json.dumps({"type": "RemediationRequested", "n": i}))
    assert q.depth() == 3
    got = q.receive(max_messages=2, visibility_timeout=30)
    assert len(got) == 2 and {json.loads(m.body)["n"] for m in got} <= {0, 1, 2}
    assert got[0].receive_count == 1
    q.ack(got[0])
    q.nack(got[1], delay=0)  # back at once, received again with its count
    again = [m for m in q.receive(max_messages=5, visibility_timeout=30) if m.message_id == got[1].message_id]
    assert again and again[0].receive_count == 2
    q.dead_letter(again[0], "unknown action 'reboot_datacenter'")
    [dl] = q.dead_letters()
    assert (dl.message_id, dl.reason, dl.receive_count) == (got[1].message_id, "unknown action 'reboot_datacenter'", 2)
    assert json.loads(dl.body)["n"] == json.loads(got[1].body)["n"]


def test_messages_are_base64_as_the_functions_host_reads_them(settings: Any) -> None:
    from azure.storage.queue import QueueClient

    from skyloop.clouds.azure.queue import StorageQueue

    q = StorageQueue(settings)
    q.client.create_queue()
    q.send('{"type": "RemediationRequested"}')
    raw = QueueClient.from_connection_string(settings.connection_string, settings.remediation_queue)  # no decode policy
    [m] = raw.peek_messages()
    assert base64.b64decode(m.content) == b'{"type": "RemediationRequested"}'


def test_a_message_the_host_moved_to_poison_is_listed_with_that_reason(settings: Any) -> None:
    from skyloop.clouds.azure.queue import StorageQueue

    q = StorageQueue(settings)
    q.poison.create_queue()
    q.poison.send_message('{"type": "RemediationRequested", "action": "restart_service"}')  # as the host does
    time.sleep(0.1)
    [dl] = q.dead_letters()
    assert dl.reason == "moved after maxDequeueCount" and "restart_service" in dl.body


def test_a_blob_whose_copy_is_still_pending_is_not_read_yet() -> None:
    """On an account with a hierarchical namespace, BlobCreated for CopyBlob fires when the copy
    starts: what is there is not the blob yet. The read is refused as transient (a redelivery reads
    the finished blob), never trained on."""
    from types import SimpleNamespace

    from skyloop.clouds.azure.blob import AzureBlobStore
    from skyloop.clouds.azure.config import AzureSettings
    from skyloop.errors import TransientError

    class Download:
        def __init__(self, status: str | None) -> None:
            self.properties = SimpleNamespace(copy=SimpleNamespace(status=status))

        def readall(self) -> bytes:
            return b"a,b\n1,2\n"

    class Blob:
        url = "https://acct.blob.core.windows.net/datasets/churn.csv"
        status: str | None = "pending"

        def download_blob(self, **kw: object) -> Download:
            return Download(self.status)

    blob = Blob()
    service = SimpleNamespace(account_name="acct", get_blob_client=lambda container, name: blob)
    store = AzureBlobStore(AzureSettings(container="datasets", connection_string="UseDevelopmentStorage=true"), service=service)
    with pytest.raises(TransientError, match="still in progress"):
        store.get(blob.url)
    blob.status = "success"
    assert store.get(blob.url) == b"a,b\n1,2\n"
