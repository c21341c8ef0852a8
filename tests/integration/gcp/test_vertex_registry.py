"""The Vertex AI registry adapter, beyond the port contract (tests/contract/ports/test_registry.py):
the requests Vertex receives, approval as label plus alias, a console approval read back, a crash
between upload and record, and what Skyloop refuses. Vertex is faked at the transport edge
(vertex_fake.FakeModelService, the SDK's own request and Model types); cards and state are on
fake-gcs-server."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

pytest.importorskip("google.cloud.aiplatform_v1")

from skyloop.errors import ArtifactIntegrityError, ForeignModel, InvalidEvent  # noqa: E402
from skyloop.ports.registry import Status  # noqa: E402

from .vertex_fake import FakeModelService  # noqa: E402

LOCATION = "projects/skyloop-test/locations/us-central1"


@pytest.fixture
def setup(gcs: Any) -> Any:
    from skyloop.clouds.gcp.vertex import VertexModelRegistry

    fake = FakeModelService()
    gcp = gcs.settings(serving_image="us-docker.pkg.dev/p/r/serving:1")
    return VertexModelRegistry(gcp, gcs.store, gcs.kv, client=fake), fake, gcs.store, gcs.kv


def _register(reg: Any, key: str, group: str = "churn-2026") -> Any:
    data = f"model {key}".encode()
    uri = reg.store.put(f"models/{group}/{key}.joblib", data)
    return reg.register(group, artifact_uri=uri, artifact_sha256=hashlib.sha256(data).hexdigest(),
                        metrics={"roc_auc": 0.91}, params={"model": "hist_gradient_boosting"},
                        lineage={"task": "classification"}, idempotency_key=key)


def test_versions_are_uploaded_under_one_model_with_skyloops_labels(setup: Any) -> None:
    reg, fake, _, _ = setup
    v1, v2 = _register(reg, "d1"), _register(reg, "d2")
    assert (v1.version, v2.version, v1.status, v1.metrics) == (1, 2, Status.PENDING, {"roc_auc": 0.91})
    first, second = [r for r in fake.requests if type(r).__name__ == "UploadModelRequest"]
    assert (first.parent, first.model_id, first.parent_model) == (LOCATION, "churn-2026", "")
    assert (second.model_id, second.parent_model) == ("", f"{LOCATION}/models/churn-2026")
    m, sha = first.model, hashlib.sha256(b"model d1").hexdigest()
    # the version names a folder with model.joblib at its root and the serving program beside it
    assert m.artifact_uri == f"gs://{reg.store.bucket}/models/churn-2026/serving/{sha}"
    assert reg.store.get(f"{m.artifact_uri}/model.joblib") == b"model d1"
    assert b"def model_fn" in reg.store.get(f"{m.artifact_uri}/code/inference.py")
    spec = m.container_spec
    assert spec.image_uri == "us-docker.pkg.dev/p/r/serving:1"
    assert (spec.predict_route, spec.health_route, [p.container_port for p in spec.ports]) == ("/invocations", "/ping", [8080])
    assert [(e.name, e.value) for e in spec.env] == [("SKYLOOP_ARTIFACT_SHA256", sha)]
    assert m.labels["skyloop-status"] == "pending" and len(m.labels["skyloop-idem"]) == 63
    assert json.loads(m.version_description)["skyloop"]["artifact_sha256"] == sha
    assert reg.groups() == ["churn-2026"]


def test_approval_is_a_label_and_the_approved_alias(setup: Any) -> None:
    reg, fake, _, _ = setup
    _register(reg, "d1")
    _register(reg, "d2")
    assert reg.set_status("churn-2026", 2, Status.APPROVED, actor="oncall").status is Status.APPROVED
    name = f"{LOCATION}/models/churn-2026@2"
    model = fake.get_model({"name": name})
    assert model.labels["skyloop-status"] == "approved" and "approved" in model.version_aliases
    assert fake.get_model({"name": f"{LOCATION}/models/churn-2026@approved"}).version_id == "2"
    reg.set_status("churn-2026", 2, Status.ARCHIVED, actor="oncall")  # leaving approval takes the alias away
    assert "approved" not in fake.get_model({"name": name}).version_aliases


def test_an_approval_made_in_the_console_is_read_back(setup: Any) -> None:
    reg, fake, _, _ = setup
    _register(reg, "d1")
    fake.merge_version_aliases({"name": f"{LOCATION}/models/churn-2026@1", "version_aliases": ["approved"]})
    assert reg.get("churn-2026", 1).status is Status.APPROVED


def test_a_crash_between_upload_and_record_uploads_nothing_twice(setup: Any) -> None:
    reg, fake, _, kv = setup
    v = _register(reg, "d1")
    for key, _ in kv.items("registry:idem:"):  # the record is lost, as if the function died right after the upload
        kv.bucket.blob(kv.PREFIX + key).delete()
    again = _register(reg, "d1")
    assert again.version == v.version
    assert len([r for r in fake.requests if type(r).__name__ == "UploadModelRequest"]) == 1


def test_a_first_upload_racing_another_adds_a_version_instead_of_failing(setup: Any) -> None:
    from google.cloud import aiplatform_v1

    reg, fake, _, _ = setup
    real = fake.upload_model

    def racing(request: Any) -> Any:  # another worker creates the group's model just before this one
        if request.model_id and not fake.models:
            real(aiplatform_v1.UploadModelRequest(parent=LOCATION, model_id=request.model_id, model=request.model))
        return real(request)

    fake.upload_model = racing
    v = _register(reg, "d1")
    assert v.version == 2 and [m.version_id for m in fake.list_model_versions({"name": f"{LOCATION}/models/churn-2026"})] == ["1", "2"]


def test_what_skyloop_refuses(setup: Any) -> None:
    from google.cloud import aiplatform_v1

    reg, fake, store, _ = setup
    with pytest.raises(InvalidEvent, match="not a valid Vertex AI model ID"):
        _register(reg, "d1", group="Churn")
    fake.upload_model(aiplatform_v1.UploadModelRequest(parent=LOCATION, model_id="theirs",
                                                       model=aiplatform_v1.Model(display_name="theirs")))
    with pytest.raises(ForeignModel):
        reg.get("theirs", 1)
    v = _register(reg, "d1")
    card_uri = json.loads(fake.get_model({"name": f"{LOCATION}/models/churn-2026@1"}).version_description)["skyloop"]["card_uri"]
    store.put(card_uri, json.dumps({"artifact_uri": v.artifact_uri, "metrics": {"roc_auc": 0.99}, "params": {},
                                    "lineage": {}}).encode())
    with pytest.raises(ArtifactIntegrityError, match="card"):
        reg.get("churn-2026", 1)
    with pytest.raises(ArtifactIntegrityError, match="sha256 it is registered with"):  # bytes it does not vouch for
        reg.register("churn-2026", artifact_uri=v.artifact_uri, artifact_sha256="0" * 64, metrics={}, params={},
                     lineage={}, idempotency_key="swapped")
