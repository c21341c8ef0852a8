"""Skyloop's serving image's server (infra/aws/serving/serve.py) under load and abuse, run as the
image runs it: its own process, ``serve``, two uvicorn workers sharing the port, the model
directory SageMaker unpacks. On 127.0.0.1 only, every loop bounded. The image's libraries are the
train package's (tests/integration/aws/test_built_packages.py runs it on exactly those); here the
venv's Python runs it, with the same Starlette and uvicorn pins."""

from __future__ import annotations

import http.client
import json
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from bench.http_load import hammer
from bench.serving import model_dir, start_image as start

@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    folder, sha, rows = model_dir(tmp_path_factory.mktemp("model"))
    proc, port = start(folder, sha)
    try:
        yield port, rows
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def post(port: int, body: bytes, path: str = "/invocations") -> tuple[int, str, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.getheader("content-type") or "", json.loads(data)


def test_load_32_clients_x_400_requests_without_an_error(served: tuple[int, list[dict[str, Any]]]) -> None:
    port, rows = served
    result = hammer("127.0.0.1", port, "/invocations", json.dumps({"instances": rows}).encode())
    assert not result.errors, result.errors[:5]
    assert result.ok == 32 * 400, (result.ok, result.seconds)


@pytest.mark.parametrize("body, status, code", [
    (b"{not json", 400, "invalid_request"),
    (b'{"instances": [{"nope": 1}]}', 400, "invalid_request"),
    (b'{"instances": 3}', 400, "invalid_request"),
    (b"x" * (6 * 1024 * 1024 + 1), 413, "too_large"),
])
def test_bad_requests_are_json_errors(served: tuple[int, list[dict[str, Any]]], body: bytes, status: int,
                                      code: str) -> None:
    port, _ = served
    got, ctype, doc = post(port, body)
    assert (got, ctype, doc["error"]) == (status, "application/json", code), doc


def test_unknown_routes_are_json_404(served: tuple[int, list[dict[str, Any]]]) -> None:
    got, ctype, doc = post(served[0], b"{}", path="/nope")
    assert (got, ctype, doc["error"]) == (404, "application/json", "not_found")


def test_one_clients_bad_value_fails_alone(served: tuple[int, list[dict[str, Any]]]) -> None:
    """8 good and 2 hostile clients at once: batched with a value beyond float32, a good request
    is answered from its own model call, never with the hostile one's error."""
    port, rows = served
    feature = next(k for k, v in rows[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    good, bad = json.dumps({"instances": rows}).encode(), json.dumps({"instances": [{**rows[0], feature: 1e39}]}).encode()
    failures: list[str] = []

    def client(body: bytes, expect: int) -> None:
        for _ in range(100):
            status, _, doc = post(port, body)
            if status != expect:
                failures.append(f"{status} {doc}")

    threads = [threading.Thread(target=client, args=(good, 200)) for _ in range(8)]
    threads += [threading.Thread(target=client, args=(bad, 400)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not failures, failures[:5]


def test_unvouched_bytes_never_serve(tmp_path: Path) -> None:
    folder, _, _ = model_dir(tmp_path)
    with pytest.raises(AssertionError, match="refusing to load"):
        start(folder, "0" * 64)


def test_a_training_job_that_fails_says_why_where_sagemaker_reads_it(tmp_path: Path) -> None:
    """``train`` with no hyperparameters and no code channel: exit 1, and the reason in
    /opt/ml/output/failure, which DescribeTrainingJob reports as FailureReason."""
    import subprocess
    import sys

    from bench.serving import SERVE

    ran = subprocess.run([sys.executable, "-I", str(SERVE), "train"], env={"SKYLOOP_ML_ROOT": str(tmp_path)},
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 1
    assert "hyperparameters.json" in (tmp_path / "output" / "failure").read_text()


def test_a_batch_jobs_records_are_each_answered_in_order(tmp_path: Path) -> None:
    """SageMaker Batch Transform (``SplitType=Line``, ``BatchStrategy=MultiRecord``) posts a mini-batch
    of CSV lines, the file's header among them, and joins each answer line to its record
    (``JoinSource=Input``): so one line per record comes back, the header answered with the output's
    header, and a bad record refused alone with its reason. Vertex AI batch prediction posts arrays
    with the header in ``parameters``; its answers are one per instance."""
    import csv
    import io

    import pandas as pd

    from bench.serving import CHURN

    folder, sha, _ = model_dir(tmp_path)
    frame = pd.read_csv(CHURN).drop(columns=["churned"]).head(6).astype(object)
    columns = list(frame.columns)
    frame.loc[2, columns[1]] = None  # a hole
    frame.loc[4, columns[0]] = "lots"  # not a number
    lines = frame.to_csv(index=False).splitlines() + ["1,2"]  # and a record with the wrong field count
    proc, port = start(folder, sha, extra_env={"SKYLOOP_BATCH_COLUMNS": json.dumps(columns)})
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", "/invocations", body="\n".join(lines).encode(),
                     headers={"Content-Type": "text/csv", "Accept": "text/csv"})
        resp = conn.getresponse()
        answer, ctype = resp.read().decode(), resp.getheader("content-type") or ""
        assert resp.status == 200 and ctype.startswith("text/csv"), answer
        out = answer.splitlines()
        assert len(out) == len(lines)
        joined = "\n".join(f"{rec},{ans}" for rec, ans in zip(lines, out))  # what JoinSource=Input writes
        table = list(csv.DictReader(io.StringIO(joined)))
        assert list(table[0])[-2:] == ["prediction", "refused"]
        answers = [row for row in csv.reader(out)]  # a ragged record's joined line is ragged: read the answers
        refused = {i - 1: why for i, (_, why) in enumerate(answers) if why and i}
        assert set(refused) == {2, 4, 6}, refused
        assert "is missing or not a finite number" in refused[2] and "the header has" in refused[6]
        assert all(r["prediction"] in ("0", "1") for i, r in enumerate(table) if i not in refused)

        status, _, doc = post(port, json.dumps({"instances": frame.where(frame.notna(), None).values.tolist(),
                                                "parameters": {"columns": columns}}).encode())
        assert status == 200 and len(doc["predictions"]) == 6
        assert [i for i, p in enumerate(doc["predictions"]) if isinstance(p, dict)] == [2, 4]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
