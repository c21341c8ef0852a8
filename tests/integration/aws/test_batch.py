"""Batch scoring on AWS, in the train function (issue 34, the in-function path), on moto's server:
rows uploaded under batch/<group>/ reach train through the template's BatchUploaded rule (an
EventBridge "Object Created" event), are scored by the group's production version read from S3
(verified by its sha256; no endpoint is involved), and the predictions and their manifest land under
predictions/<group>/. A group with no production version gets a failure manifest and a dead letter
with the reason. Every call is held to TrainRole."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd

from .conftest import GROUP, TRAINING_BUCKET, Aws, load_event
from .test_lambda_handlers import CHURN, upload


def _batch_event(key: str, etag: str) -> dict[str, Any]:
    ev = load_event("eventbridge-s3-object-created.json")
    ev["detail"]["object"].update(key=key, etag=etag)
    ev["id"] = f"batch-{etag}"
    return ev


def test_rows_under_batch_are_scored_by_production(aws: Aws, context: Any) -> None:
    import common
    import train
    from skyloop.ports.registry import Status

    upload(aws)
    train.handler(load_event("s3-object-created.json"), context)  # v1, pending
    a = common.adapters()
    a.registry.set_status(GROUP, 1, Status.APPROVED, actor="oncall")
    a.registry.set_alias(GROUP, "production", 1)  # as a rollout leaves it

    rows = pd.read_csv(io.BytesIO(CHURN)).drop(columns=["churned"])
    rows.loc[3, rows.columns[1]] = None  # one row the model cannot score
    s3 = aws.client("s3")
    s3.put_object(Bucket=TRAINING_BUCKET, Key=f"batch/{GROUP}/week-48.csv", Body=rows.to_csv(index=False).encode())
    out = train.handler(_batch_event(f"batch/{GROUP}/week-48.csv", "e1"), context)
    [result] = out["results"]
    assert (result["status"], result["rows_in"], result["refused"]) == ("scored", len(rows), 1)
    manifest = json.loads(s3.get_object(Bucket=TRAINING_BUCKET, Key=f"predictions/{GROUP}/week-48.manifest.json")["Body"].read())
    assert manifest["version"] == 1 and manifest["refused_rows"][0]["line"] == 5
    scored = pd.read_csv(io.BytesIO(s3.get_object(Bucket=TRAINING_BUCKET, Key=f"predictions/{GROUP}/week-48.csv")["Body"].read()))
    assert len(scored) == len(rows) - 1 and "prediction" in scored.columns
    again = train.handler(_batch_event(f"batch/{GROUP}/week-48.csv", "e1"), context)  # redelivered
    assert again["results"][0]["duplicate"] is True


def test_no_production_version_is_a_failure_manifest_and_a_dead_letter(aws: Aws, context: Any) -> None:
    import train

    s3 = aws.client("s3")
    s3.put_object(Bucket=TRAINING_BUCKET, Key="batch/nobody/rows.csv", Body=b"a,b\n1,2\n")
    out = train.handler(_batch_event("batch/nobody/rows.csv", "e2"), context)
    assert out["status"] == "dead_lettered" and "nobody has no production version" in out["reason"]
    failed = json.loads(s3.get_object(Bucket=TRAINING_BUCKET, Key="predictions/nobody/rows.manifest.json")["Body"].read())
    assert failed["status"] == "failed" and failed["error"] == "not_found"
    [parked] = aws.messages(aws.dead_letter_url)
    assert json.loads(parked["Body"])["function"] == "train"
