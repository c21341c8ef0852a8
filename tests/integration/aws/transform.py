"""Batch Transform's data plane, for the jobs moto accepts: moto records CreateTransformJob and marks
it Completed, but runs no container. This does what SageMaker does with the job as it was created:
the model's ``ModelDataUrl`` unpacked as /opt/ml/model, Skyloop's serving image (serve.py, its own
process on 127.0.0.1) started with the model's and the job's ``Environment``, the input split by
line (``SplitType=Line``) into multi-record mini-batches of at most ``MaxPayloadInMB``, each posted
with the job's ``ContentType`` and ``Accept``, every answer line joined to its record
(``JoinSource=Input``) and the whole assembled by line into ``<S3OutputPath>/<input name>.out``.
Not emulated: instance counts, concurrency, retries."""

from __future__ import annotations

import gzip
import http.client
import io
import tarfile
from pathlib import Path
from typing import Any


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def run_transform_job(aws: Any, name: str, workdir: Path) -> None:
    from bench.serving import start_image

    sm, s3 = aws.client("sagemaker"), aws.client("s3")
    job = sm.describe_transform_job(TransformJobName=name)
    container = sm.describe_model(ModelName=job["ModelName"])["PrimaryContainer"]
    folder = workdir / name
    folder.mkdir(parents=True)
    bucket, key = _split(container["ModelDataUrl"])
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
        tar.extractall(folder, filter="data")
    source = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    bucket, key = _split(source)
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    if job["TransformInput"].get("CompressionType") == "Gzip":
        data = gzip.decompress(data)
    assert job["TransformInput"]["SplitType"] == "Line" and job["BatchStrategy"] == "MultiRecord"
    records = data.decode().splitlines()
    limit = int(job.get("MaxPayloadInMB", 6)) * 1024 * 1024
    batches: list[list[str]] = [[]]
    for rec in records:
        if batches[-1] and sum(len(r) + 1 for r in batches[-1]) + len(rec) + 1 > limit:
            batches.append([])
        batches[-1].append(rec)
    env = {**container.get("Environment", {}), **job.get("Environment", {})}
    proc, port = start_image(folder, env["SKYLOOP_ARTIFACT_SHA256"], workers=1, extra_env=env)
    answers: list[str] = []
    try:
        for batch in batches:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("POST", "/invocations", body="\n".join(batch).encode(),
                         headers={"Content-Type": job["TransformInput"]["ContentType"],
                                  "Accept": job["TransformOutput"]["Accept"]})
            resp = conn.getresponse()
            body = resp.read().decode()
            assert resp.status == 200, body
            lines = body.splitlines()
            assert len(lines) == len(batch), "JoinSource=Input needs one answer per record"
            answers += lines
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert job["DataProcessing"]["JoinSource"] == "Input" and job["TransformOutput"]["AssembleWith"] == "Line"
    joined = "".join(f"{rec},{ans}\n" for rec, ans in zip(records, answers))
    bucket, prefix = _split(job["TransformOutput"]["S3OutputPath"].rstrip("/"))
    s3.put_object(Bucket=bucket, Key=f"{prefix}/{Path(key).name}.out", Body=joined.encode())
