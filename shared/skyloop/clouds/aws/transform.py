"""Rows above the in-function size rule, scored by SageMaker Batch Transform on the serving image.

The job runs the version's SageMaker model (the one its endpoints use, ``sagemaker.serving_model``):
``SplitType=Line`` with multi-record mini-batches of up to 6 MB, the file's header passed to the
container in the job's ``Environment`` (``SKYLOOP_BATCH_COLUMNS``), each record's answer
(``prediction,refused``) joined to it (``JoinSource=Input``) and assembled line by line into
``predictions/<group>/jobs/<key>/<file>.out``: the input with two columns more, header included.
The job's end is SageMaker's "Transform Job State Change" (its name carries Skyloop's key), and the
train function writes the manifest from the output, streamed.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any, Iterator

from ...errors import InvalidRequest
from ...ports import BlobStore
from ...ports.batch import HEAD_BYTES, BatchJob, BatchOutcome, csv_answers
from .config import AwsSettings
from .s3 import split_uri
from .session import client, error_code
from .sagemaker import MANAGED_TAG, serving_model

PREFIX = "skyloop-batch-"  # + the job's 40-character key: 54 of SageMaker's 63
STATES = {"InProgress": "running", "Stopping": "running", "Completed": "succeeded", "Failed": "failed", "Stopped": "failed"}
MAX_ENV_VALUE = 10_240  # SageMaker's limit on one Environment value


class SageMakerBatchScorer:
    name = "sagemaker"

    def __init__(self, aws: AwsSettings, store: BlobStore) -> None:
        self.aws, self.store = aws, store
        self.sm = client("sagemaker", aws)
        self.s3 = client("s3", aws)

    def head(self, uri: str) -> bytes:
        bucket, key = split_uri(uri, self.aws.bucket)
        body: bytes = self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEAD_BYTES - 1}")["Body"].read()
        return body

    def submit(self, job: BatchJob) -> str:
        columns = json.dumps(job.columns)
        if len(columns) > MAX_ENV_VALUE:
            raise InvalidRequest(f"the file's header is {len(columns):,} characters as JSON; a Batch Transform job "
                                 f"passes at most {MAX_ENV_VALUE:,} to its container")
        name = PREFIX + job.key
        model = serving_model(self.sm, self.aws, self.store, job.version)
        try:
            self.sm.create_transform_job(
                TransformJobName=name, ModelName=model, BatchStrategy="MultiRecord", MaxPayloadInMB=6,
                Environment={"SKYLOOP_BATCH_COLUMNS": columns},
                TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": job.input_uri}},
                                "ContentType": "text/csv", "SplitType": "Line",
                                "CompressionType": "Gzip" if job.compressed else "None"},
                TransformOutput={"S3OutputPath": f"s3://{self.aws.bucket}/{job.output_folder.rstrip('/')}",
                                 "Accept": "text/csv", "AssembleWith": "Line"},
                TransformResources={"InstanceType": self.aws.batch_instance_type,
                                    "InstanceCount": self.aws.batch_instance_count},
                DataProcessing={"JoinSource": "Input"},
                Tags=[MANAGED_TAG, {"Key": "skyloop:source", "Value": job.input_uri[:256]}])
        except Exception as exc:
            if error_code(exc) != "ResourceInUse" and "already" not in str(exc).lower():
                raise  # the same key again: the job exists, and is reported
        return name

    def outcome(self, job_id: str) -> BatchOutcome:
        d = self.sm.describe_transform_job(TransformJobName=job_id)
        source = d["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        name = PurePosixPath(split_uri(source, self.aws.bucket)[1]).name
        out = f"{d['TransformOutput']['S3OutputPath'].rstrip('/')}/{name}.out"
        return BatchOutcome(state=STATES.get(d["TransformJobStatus"], "running"), reason=str(d.get("FailureReason") or ""),
                            outputs=[out])

    def answers(self, outcome: BatchOutcome) -> Iterator[tuple[int | None, str | None]]:
        for uri in outcome.outputs:
            bucket, key = split_uri(uri, self.aws.bucket)
            body: Any = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
            yield from csv_answers(body.iter_lines())
