"""The embedded adapters are real (SQLite, files): test their contracts directly."""

import sqlite3

import pytest

from skyloop.errors import NotFound, SkyloopError
from skyloop.local.audit import SqliteAuditLog
from skyloop.local.blobstore import FolderBlobStore
from skyloop.local.db import Database
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
    from skyloop.ports.audit import HeadSeal

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
    from skyloop.clock import ManualClock

    log = SqliteAuditLog(db, clock=ManualClock(1_800_000_000.0))
    log.append("approved", {"request_id": "r1", "at": 123.0, "seq": "x"})
    (e,) = log.entries()
    assert e["at"] == "2027-01-15T08:00:00+00:00" and e["payload_at"] == 123.0 and e["seq"] == 1
    assert e["payload_seq"] == "x" and log.verify()[0]


def test_a_home_made_before_the_alias_book_keeps_its_aliases(tmp_path):
    """Aliases moved from two SQLite tables to the shared AliasBook: an older home's production,
    and the history rollback walks back along, are adopted once and the old tables dropped."""
    from skyloop.local.registry import SqliteModelRegistry

    d = Database(tmp_path / "old.db")
    reg = SqliteModelRegistry(d)
    for _ in range(3):
        reg.register("churn", artifact_uri="blob:x", artifact_sha256="0" * 64, metrics={}, params={}, lineage={})
    with d.tx() as c:  # what the older schema held
        c.execute("CREATE TABLE model_aliases (model_group TEXT, alias TEXT, version INTEGER, PRIMARY KEY (model_group, alias))")
        c.execute("CREATE TABLE model_alias_history (id INTEGER PRIMARY KEY AUTOINCREMENT, model_group TEXT, alias TEXT,"
                  " version INTEGER, at TEXT)")
        for v in (1, 2, None, 3):
            c.execute("INSERT INTO model_alias_history(model_group, alias, version, at) VALUES ('churn','production',?,'t')", (v,))
        c.execute("INSERT INTO model_aliases VALUES ('churn', 'production', 3)")
    d.close()
    d = Database(tmp_path / "old.db")
    reg = SqliteModelRegistry(d)
    assert reg.alias("churn", "production").version == 3
    assert reg.alias_history("churn", "production") == [1, 2, 3]
    tables = {r[0] for r in d.conn().execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not {"model_aliases", "model_alias_history"} & tables
    reg.set_alias("churn", "production", 2)
    assert SqliteModelRegistry(d).alias_history("churn", "production") == [1, 2, 3, 2]  # adopted once, not again
    d.close()
