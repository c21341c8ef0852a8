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


def _production(aws: Aws, context: Any) -> None:
    """Version 1 trained, approved and production, as a rollout leaves it."""
    import common
    import train
    from skyloop.ports.registry import Status

    upload(aws)
    train.handler(load_event("s3-object-created.json"), context)  # v1, pending
    a = common.adapters()
    a.registry.set_status(GROUP, 1, Status.APPROVED, actor="oncall")
    a.registry.set_alias(GROUP, "production", 1)


def test_rows_under_batch_are_scored_by_production(aws: Aws, context: Any) -> None:
    import train

    _production(aws, context)
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


def _job_ended(name: str, status: str = "Completed", reason: str = "") -> dict[str, Any]:
    ev = load_event("eventbridge-sagemaker-transform-job-completed.json")
    ev["detail"].update(TransformJobName=name, TransformJobStatus=status,
                        TransformJobArn=f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}")
    if reason:
        ev["detail"]["FailureReason"] = reason
    ev["id"] = f"{name}-{status}"
    return ev


def test_rows_above_the_size_rule_are_scored_by_batch_transform(aws: Aws, context: Any, monkeypatch: Any,
                                                               tmp_path: Any) -> None:
    """Above the size rule the train function starts a Batch Transform job on the version's serving
    model and returns; the job's "Transform Job State Change" writes the manifest from the joined
    output, streamed. A redelivered upload starts no second job, a redelivered end writes nothing
    twice. Every call is held to TrainRole."""
    import common
    import train

    from .transform import run_transform_job

    _production(aws, context)
    monkeypatch.setenv("SKYLOOP_BATCH__MAX_IN_FUNCTION_BYTES", "2000")
    common.reset()
    rows = pd.read_csv(io.BytesIO(CHURN)).drop(columns=["churned"]).astype(object)
    rows.loc[7, rows.columns[2]] = "n/a"  # line 9 of the file: refused by the container, alone
    body = rows.to_csv(index=False).encode()
    assert len(body) > 2000
    s3, sm = aws.client("s3"), aws.client("sagemaker")
    key = f"batch/{GROUP}/customers-2026-12.csv"
    s3.put_object(Bucket=TRAINING_BUCKET, Key=key, Body=body)
    upload_event = _batch_event(key, "big1")
    upload_event["detail"]["object"]["size"] = len(body)

    [started] = train.handler(upload_event, context)["results"]
    assert started["status"] == "submitted" and started["job_id"].startswith("skyloop-batch-"), started
    job = sm.describe_transform_job(TransformJobName=started["job_id"])
    assert job["TransformInput"]["SplitType"] == "Line" and job["BatchStrategy"] == "MultiRecord"
    assert job["TransformOutput"]["AssembleWith"] == "Line" and job["DataProcessing"]["JoinSource"] == "Input"
    assert json.loads(job["Environment"]["SKYLOOP_BATCH_COLUMNS"]) == list(rows.columns)
    assert train.handler(upload_event, context)["results"][0]["duplicate"] is True  # redelivered: no second job
    assert len(sm.list_transform_jobs()["TransformJobSummaries"]) == 1

    run_transform_job(aws, started["job_id"], tmp_path)  # what SageMaker does with the job
    [done] = train.handler(_job_ended(started["job_id"]), context)["results"]
    assert (done["status"], done["rows_in"], done["rows_out"], done["refused"]) == ("scored", len(rows), len(rows) - 1, 1)
    manifest = json.loads(s3.get_object(Bucket=TRAINING_BUCKET,
                                        Key=f"predictions/{GROUP}/customers-2026-12.manifest.json")["Body"].read())
    assert (manifest["backend"], manifest["version"], manifest["input_version"]) == ("sagemaker", 1, "big1")
    assert manifest["refused_rows"] == [{"line": 9, "reason": "feature 'support_calls' is missing or not a finite number"}]
    [out] = manifest["predictions"]
    scored = pd.read_csv(io.BytesIO(s3.get_object(Bucket=TRAINING_BUCKET, Key=out.split("/", 3)[3])["Body"].read()))
    assert list(scored.columns) == [*rows.columns, "prediction", "refused"] and len(scored) == len(rows)
    assert train.handler(_job_ended(started["job_id"]), context)["results"][0]["duplicate"] is True


def test_a_failed_transform_job_writes_why_where_the_manifest_would_be(aws: Aws, context: Any, monkeypatch: Any) -> None:
    import common
    import train

    _production(aws, context)
    monkeypatch.setenv("SKYLOOP_BATCH__MAX_IN_FUNCTION_BYTES", "100")
    common.reset()
    s3 = aws.client("s3")
    s3.put_object(Bucket=TRAINING_BUCKET, Key=f"batch/{GROUP}/rows.csv", Body=CHURN)
    ev = _batch_event(f"batch/{GROUP}/rows.csv", "f1")
    ev["detail"]["object"]["size"] = len(CHURN)
    [started] = train.handler(ev, context)["results"]
    out = train.handler(_job_ended(started["job_id"], "Failed", "ClientError: the container exited"), context)
    assert out["status"] == "dead_lettered" and "the container exited" in out["reason"]
    failed = json.loads(s3.get_object(Bucket=TRAINING_BUCKET, Key=f"predictions/{GROUP}/rows.manifest.json")["Body"].read())
    assert failed["status"] == "failed" and failed["job_id"] == started["job_id"] and "the container exited" in failed["reason"]
    assert common.adapters().kv.items("batch-failed:")  # what the watch tells the on-call from
