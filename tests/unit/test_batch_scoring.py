"""Batch scoring as an event (issue 34, the in-function path): rows under batch/<group>/ are scored
by production in chunks, predictions and a manifest land under predictions/<group>/, a bad row is
left out with its line and reason, a redelivery returns the first manifest, a file the model cannot
score gets a failure manifest and a typed refusal, and nothing under predictions/ is ever trained on."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from skyloop.clouds.decoding import upload_event
from skyloop.errors import InvalidEvent, InvalidRequest, NotFound, NotSupported
from skyloop.events import BatchPredictionRequested, TrainingDataArrived
from skyloop.handlers import invoke

from .test_batch_predict import deployed  # noqa: F401  # pyflakes: ignore - the fixture: churn in production


def _rows(data: bytes, bad_line_at: int | None = None) -> bytes:
    frame = pd.read_csv(io.BytesIO(data)).drop(columns=["churned"])
    if bad_line_at is not None:
        col = frame.columns[1]
        frame[col] = frame[col].astype(object)
        frame.loc[bad_line_at, col] = "lots"
        frame.loc[bad_line_at + 3, col] = None
    return frame.to_csv(index=False).encode()


def test_rows_are_scored_with_refusals_listed_and_redelivery_answers_the_same(deployed, monkeypatch) -> None:  # noqa: F811
    rt, data = deployed
    monkeypatch.setattr(rt.settings.batch, "chunk_rows", 64)
    uri = rt.adapters.store.put("batch/churn/week-48.csv", _rows(data, bad_line_at=150))
    event = BatchPredictionRequested(uri=uri, version="v1")
    first = invoke("score", event.model_dump_json(), rt.adapters)
    assert first["status"] == "scored" and (first["rows_in"], first["rows_out"], first["refused"]) == (300, 298, 2)
    manifest = json.loads(rt.adapters.store.get(first["manifest"]))
    mv = rt.registry.alias("churn", "production")
    assert (manifest["version"], manifest["artifact_sha256"], manifest["input_version"]) == (mv.version, mv.artifact_sha256, "v1")
    assert [r["line"] for r in manifest["refused_rows"]] == [152, 155]
    assert "not a finite number" in manifest["refused_rows"][0]["reason"]
    out = pd.read_csv(io.BytesIO(rt.adapters.store.get(first["predictions"])))
    assert len(out) == 298 and "prediction" in out.columns and first["predictions"].endswith("predictions/churn/week-48.csv")
    again = invoke("score", event.model_dump_json(), rt.adapters)
    assert again["duplicate"] is True and again["manifest"] == first["manifest"]  # redelivered: one effect


def test_the_same_as_the_cli_on_clean_rows(deployed, tmp_path) -> None:  # noqa: F811
    from skyloop.serving.batch import predict_csv

    rt, data = deployed
    rows = _rows(data)
    (tmp_path / "rows.csv").write_bytes(rows)
    predict_csv(tmp_path / "rows.csv", tmp_path / "cli.csv", group="churn", registry=rt.registry, store=rt.adapters.store)
    uri = rt.adapters.store.put("batch/churn/rows.csv", rows)
    done = invoke("score", BatchPredictionRequested(uri=uri).model_dump_json(), rt.adapters)
    assert rt.adapters.store.get(done["predictions"]) == (tmp_path / "cli.csv").read_bytes()


def test_a_file_the_model_cannot_score_gets_a_failure_manifest(deployed) -> None:  # noqa: F811
    rt, data = deployed
    frame = pd.read_csv(io.BytesIO(_rows(data))).drop(columns=["tenure_months"], errors="ignore")
    frame = frame.drop(columns=[frame.columns[0]])
    uri = rt.adapters.store.put("batch/churn/broken.csv", frame.to_csv(index=False).encode())
    with pytest.raises(InvalidRequest, match="lacks the model's feature"):
        invoke("score", BatchPredictionRequested(uri=uri, version="g1").model_dump_json(), rt.adapters)
    failed = json.loads(rt.adapters.store.get("predictions/churn/broken.manifest.json"))
    assert failed["status"] == "failed" and failed["error"] == "invalid_request" and "lacks" in failed["reason"]
    other = rt.adapters.store.put("batch/nobody/rows.csv", _rows(data))
    with pytest.raises(NotFound, match="nobody has no production version"):
        invoke("score", BatchPredictionRequested(uri=other, version="g1").model_dump_json(), rt.adapters)


def test_too_large_for_a_function_is_a_typed_refusal(deployed) -> None:  # noqa: F811
    rt, _ = deployed
    big = BatchPredictionRequested(uri="s3://b/batch/churn/huge.csv", size=rt.settings.batch.max_in_function_bytes + 1)
    with pytest.raises(NotSupported, match="batch service"):
        invoke("score", big.model_dump_json(), rt.adapters)


def test_what_the_storage_triggers_make_of_batch_and_predictions() -> None:
    assert upload_event("batch/churn/week-48.csv") is not None
    made = upload_event("batch/churn/week-48.csv")(uri="gs://b/batch/churn/week-48.csv", size=10, version="7")  # type: ignore[misc]
    assert isinstance(made, BatchPredictionRequested) and made.model_group == "churn"
    assert upload_event("predictions/churn/week-48.csv") is None  # what scoring wrote: never trained on
    assert upload_event("batch/churn/notes.txt") is None
    assert upload_event("datasets/churn.csv") is TrainingDataArrived
    with pytest.raises(InvalidEvent, match="not a valid name"):
        upload_event("batch/Churn_2026/x.csv")(uri="s3://b/batch/Churn_2026/x.csv")  # type: ignore[misc]


def test_a_batch_that_could_not_be_scored_is_told(deployed, monkeypatch) -> None:  # noqa: F811
    """A failed batch writes its reason where the manifest would be, and notifies."""
    from skyloop.notify.watch import notices

    rt, data = deployed
    uri = rt.adapters.store.put("batch/nobody/rows.csv", _rows(data))
    with pytest.raises(NotFound):
        invoke("score", BatchPredictionRequested(uri=uri, version="g9").model_dump_json(), rt.adapters)
    [told] = [n for n in notices(rt.adapters) if n.kind == "batch_failed"]
    assert "nobody: the rows in" in told.title and "not_found" in told.text and told.subject == uri
