"""The embedded adapters are real (SQLite, files): test their contracts directly."""

import sqlite3
import threading

import pytest

from skyloop.errors import InProgress, NotFound, SkyloopError
from skyloop.local.audit import SqliteAuditLog
from skyloop.local.blobstore import FolderBlobStore
from skyloop.local.db import Database
from skyloop.local.idempotency import SqliteIdempotencyStore
from skyloop.local.queue import SqliteQueue


@pytest.fixture
def db(tmp_path):
    d = Database(tmp_path / "t.db")
    yield d
    d.close()


def test_blobstore_roundtrip_and_escape(tmp_path):
    store = FolderBlobStore(tmp_path / "blobs")
    uri = store.put("a/b.bin", b"hello")
    assert uri == "blob:a/b.bin" and store.get(uri) == b"hello" and store.exists(uri)
    with pytest.raises(SkyloopError, match="escapes"):
        store.put("../outside", b"x")
    with pytest.raises(SkyloopError, match="escapes"):
        store.get("blob:../../etc/passwd")
    with pytest.raises(NotFound):
        store.get("missing/key")
    store.delete(uri)
    assert not store.exists(uri)


def test_a_copied_home_reads_its_own_files(tmp_path, churn_bytes):
    """The registry once stored absolute file:// paths, so a copy of SKYLOOP_HOME read (and
    served) the original's artifacts."""
    import shutil

    from skyloop.config import Settings
    from skyloop.events import TrainingDataArrived
    from skyloop.handlers import on_training_data
    from skyloop.local.runtime import LocalRuntime

    rt = LocalRuntime(Settings(home=tmp_path / "a"))
    uri = rt.adapters.store.put("inbox/churn.csv", churn_bytes)
    on_training_data(TrainingDataArrived(uri=uri, target="churned"), rt.adapters)
    rt.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")
    copy = LocalRuntime(Settings(home=tmp_path / "b"))
    (v,) = copy.registry.versions()
    assert v.artifact_uri.startswith("blob:models/") and str(tmp_path) not in v.artifact_uri
    copy.deployer.deploy(v.group, "production", v)  # reads and verifies the copy's bytes
    copy.close()


def test_queue_visibility_ack_and_dedup(db):
    q = SqliteQueue(db, "q")
    q.send("one", message_id="m1")
    q.send("one again", message_id="m1")
    q.send("two")
    assert q.depth() == 2
    got = q.receive(10, visibility_timeout=60)
    assert [m.body for m in got] == ["one", "two"]
    assert q.receive(10) == []  # in flight: invisible
    q.ack(got[0])
    assert q.depth() == 1


def test_queue_redelivers_after_timeout_then_dead_letters(db):
    q = SqliteQueue(db, "q", max_receives=2)
    q.send("poison", message_id="p")
    m1 = q.receive(1, visibility_timeout=0)[0]
    m2 = q.receive(1, visibility_timeout=0)[0]  # visibility expired: redelivered
    assert m2.receive_count == 2 and m1.receipt != m2.receipt
    q.ack(m1)  # a stale receipt does not delete the redelivered message
    assert q.depth() == 1
    q.nack(m2)
    assert q.depth() == 0
    (dl,) = q.dead_letters()
    assert dl.message_id == "p" and "2 deliveries" in dl.reason


def test_idempotency_claim_complete_release(db):
    s = SqliteIdempotencyStore(db)
    assert s.begin("k") is None
    with pytest.raises(InProgress):
        s.begin("k")
    s.complete("k", {"v": 1})
    assert s.begin("k") == {"v": 1}
    assert s.begin("j", expires_after=0) is None
    assert s.begin("j") is None  # expired claim (crashed worker) can be taken over
    s.release("j")
    assert s.begin("j") is None


def test_idempotency_one_winner_across_threads(tmp_path):
    path = tmp_path / "race.db"
    Database(path).close()
    wins, errors = [], []

    def worker():
        d = Database(path)
        try:
            if SqliteIdempotencyStore(d).begin("race") is None:
                wins.append(1)
        except InProgress:
            errors.append(1)
        finally:
            d.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(errors) == 7


def test_audit_chain_detects_tampering(db, tmp_path):
    log = SqliteAuditLog(db)
    for i in range(5):
        log.append("decision", {"i": i})
    assert log.verify() == (True, "5 entries, chain intact")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.conn().execute("UPDATE audit_log SET payload='{}' WHERE seq=2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.conn().execute("DELETE FROM audit_log WHERE seq=2")
    # Going around the triggers (as someone editing the file would) is detected.
    c = db.conn()
    c.execute("DROP TRIGGER audit_no_update")
    c.execute("""UPDATE audit_log SET payload='{"i": 99}' WHERE seq=3""")
    ok, detail = log.verify()
    assert not ok and "entry 3" in detail


def test_audit_head_seal_catches_cut_off_entries(db, tmp_path):
    from skyloop.remediation.auditchain import HeadSeal

    log = SqliteAuditLog(db, seal=HeadSeal(tmp_path / "audit.head"))
    for i in range(5):
        log.append("decision", {"i": i})
    assert log.verify() == (True, "5 entries, chain intact, head sealed")
    c = db.conn()
    c.execute("DROP TRIGGER audit_no_delete")
    c.execute("DELETE FROM audit_log WHERE seq >= 4")  # the chain that is left is still valid
    ok, detail = log.verify()
    assert not ok and detail.startswith("TRUNCATED: the log has 3 entries, the sealed head says 5")
    # a seal rewritten without the key does not pass either
    (tmp_path / "audit.head").write_text('{"count": 3, "head": "x", "mac": "0"}')
    ok, detail = log.verify()
    assert not ok and "signature" in detail


def test_audit_entry_keeps_the_log_time_when_the_payload_has_its_own(db):
    from skyloop.local.kv import ManualClock

    log = SqliteAuditLog(db, clock=ManualClock(1_800_000_000.0))
    log.append("approved", {"request_id": "r1", "at": 123.0, "seq": "x"})
    (e,) = log.entries()
    assert e["at"] == "2027-01-15T08:00:00+00:00" and e["payload_at"] == 123.0 and e["seq"] == 1
    assert e["payload_seq"] == "x" and log.verify()[0]
