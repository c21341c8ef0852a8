"""Skyloop's serving image (infra/aws/serving/serve.py) under Vertex AI's custom-container
contract: started as Vertex starts it (no arguments, ``AIP_*`` variables, the container spec the
registry uploaded), it fetches the version's folder from Cloud Storage (fake-gcs-server here,
where the metadata server's token is not needed), answers the health and predict routes, and
refuses bytes the registry does not vouch for. The venv's Python runs it: the image's own
libraries are the train package's, tested on AWS (tests/integration/aws/test_built_packages.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.cloud.aiplatform_v1")

from bench.serving import wait_healthy  # noqa: E402

from .vertex_fake import FakeModelService  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_serving_image_speaks_vertex(gcs: Any, gcs_endpoint: str) -> None:
    from skyloop.clouds.gcp.vertex import VertexModelRegistry
    from skyloop.config import Settings
    from skyloop.serving.deployment import smoke_rows
    from skyloop.ports.artifacts import write_artifact
    from skyloop.training.usecase import fit

    gcp, store, models = gcs.gcp, gcs.store, FakeModelService()
    fitted = fit((ROOT / "events/local/data/churn.csv").read_bytes(), source_uri="x", settings=Settings())
    art = write_artifact(store, "churn", fitted.model_bytes)
    v = VertexModelRegistry(gcp, store, gcs.kv, client=models).register(
        "churn", artifact_uri=art.uri, artifact_sha256=art.sha256, metrics=fitted.metrics, params=fitted.params,
        lineage=fitted.lineage)
    spec = models.get_model({"name": f"projects/skyloop-test/locations/us-central1/models/churn@{v.version}"})

    def serve(sha256: str) -> tuple[subprocess.Popen[str], str]:
        port = _port()
        env = {**{k: val for k, val in os.environ.items() if k in ("PATH", "HOME", "LANG")},
               "AIP_STORAGE_URI": spec.artifact_uri, "AIP_HTTP_PORT": str(port),
               "AIP_HEALTH_ROUTE": f"/v1/endpoints/1/deployedModels/{port}", "AIP_PREDICT_ROUTE": "/v1/endpoints/1:predict",
               "STORAGE_EMULATOR_HOST": gcs_endpoint, "SKYLOOP_BIND": "127.0.0.1", "SKYLOOP_ARTIFACT_SHA256": sha256}
        proc = subprocess.Popen([sys.executable, "-I", str(ROOT / "infra/aws/serving/serve.py")], env=env,
                                stderr=subprocess.PIPE, text=True)
        return proc, f"http://127.0.0.1:{port}"

    sha = next(e.value for e in spec.container_spec.env if e.name == "SKYLOOP_ARTIFACT_SHA256")
    assert sha == art.sha256
    proc, url = serve(sha)
    try:
        port = int(url.rsplit(":", 1)[1])
        wait_healthy(proc, port, f"/v1/endpoints/1/deployedModels/{port}")
        rows = smoke_rows(v.lineage, 4)
        req = urllib.request.Request(f"{url}/v1/endpoints/1:predict", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"instances": rows}, default=str).encode())
        answer: Any = json.loads(urllib.request.urlopen(req, timeout=30).read())
        assert len(answer["predictions"]) == 4, answer
    finally:
        proc.terminate()
        proc.communicate(timeout=30)

    proc, _ = serve("0" * 64)  # bytes the registry does not vouch for: never loaded, never healthy
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "refusing to load" in err
