"""The Vertex AI deployer (clouds/gcp/endpoints.py): slots as deployed models and endpoints,
traffic splits in whole percentages, operations that finish later, a replaced version undeployed
once its successor serves, and predictions from a real model. Vertex is faked at the transport
edge (vertex_fake: the generated Model, Endpoint and Prediction service clients, with the SDK's
own request types); the model's files are on fake-gcs-server, and the fake prediction service
runs the very ``code/inference.py`` the registry laid out beside ``model.joblib``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.cloud.aiplatform_v1")

from skyloop.errors import ArtifactIntegrityError, DeploymentFailed, EndpointBusy  # noqa: E402

from .vertex_fake import FakeEndpointService, FakeModelService, FakePredictionService  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
LOCATION = "projects/skyloop-test/locations/us-central1"


@pytest.fixture(scope="module")
def fitted() -> Any:
    from skyloop.config import Settings
    from skyloop.training.usecase import fit

    return fit((ROOT / "events/local/data/churn.csv").read_bytes(), source_uri="gs://b/datasets/churn.csv",
               settings=Settings())


@pytest.fixture
def vertex(gcs: Any, tmp_path: Path, fitted: Any) -> Any:
    from skyloop.clouds.gcp.endpoints import VertexDeployer
    from skyloop.clouds.gcp.vertex import VertexModelRegistry
    from skyloop.ports.artifacts import write_artifact

    store, kv = gcs.store, gcs.kv
    models = FakeModelService()
    endpoints = FakeEndpointService(models)
    registry = VertexModelRegistry(gcs.gcp, store, kv, client=models)
    deployer = VertexDeployer(gcs.gcp, store, kv, endpoint_client=endpoints,
                              prediction_client=FakePredictionService(endpoints, store, tmp_path), wait_seconds=0)

    def version(key: str, model: Any = fitted) -> Any:
        art = write_artifact(store, "churn", model.model_bytes)
        return registry.register("churn", artifact_uri=art.uri, artifact_sha256=art.sha256, metrics=model.metrics,
                                 params=model.params, lineage=model.lineage, idempotency_key=key)

    return deployer, endpoints, version


def _settle(deployer: Any, endpoints: Any) -> None:
    """Let minutes pass until the group is settled, as the rollout's polls do."""
    for _ in range(10):
        endpoints.finish_all()
        if deployer.settled("churn"):
            return
    raise AssertionError("never settled")


def test_percentages_are_whole_and_add_up_to_100() -> None:
    from skyloop.clouds.gcp.endpoints import probe_attempts
    from skyloop.clouds.traffic import percentages

    assert percentages({"a": 0.9, "b": 0.1}) == {"a": 90, "b": 10}
    assert percentages({"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert percentages({"a": 0.0}) == {} and percentages({}) == {}
    assert probe_attempts(1.0) == 1 and probe_attempts(0.0) == 0 and probe_attempts(0.1) == 132


def test_a_rollout_on_vertex(vertex: Any) -> None:
    deployer, endpoints, version = vertex
    v1 = version("v1")
    rows = [{k: v for k, v in r.items()} for r in _rows(v1)]

    deployer.deploy("churn", "production", v1)
    assert not deployer.settled("churn")  # a deployment takes minutes: nothing waits for it
    with pytest.raises(EndpointBusy):
        deployer.deploy("churn", "staging", v1)  # a change waits for the previous one
    _settle(deployer, endpoints)
    assert deployer.slots("churn") == {"production": 1} and deployer.traffic("churn") == {"production": 1.0}
    live = endpoints.endpoints[f"{LOCATION}/endpoints/skyloop-churn"]
    d = live.deployed_models[0]
    assert (d.model, d.display_name, d.dedicated_resources.machine_spec.machine_type) == \
        (f"{LOCATION}/models/churn@1", "production", "n1-standard-2")
    assert len(deployer.predict("churn", rows)) == len(rows)

    v2 = version("v2")
    deployer.deploy("churn", "staging", v2)  # staging: an endpoint of its own
    _settle(deployer, endpoints)
    assert f"{LOCATION}/endpoints/skyloop-churn-staging" in endpoints.endpoints
    assert deployer.slots("churn") == {"production": 1, "staging": 2}
    assert len(deployer.predict("churn", rows, slot="staging")) == len(rows)

    deployer.deploy("churn", "canary", v2)
    _settle(deployer, endpoints)
    assert deployer.traffic("churn") == {"production": 1.0}  # a new slot takes no traffic
    deployer.set_traffic("churn", {"production": 0.9, "canary": 0.1})
    assert deployer.traffic("churn") == {"production": 0.9, "canary": 0.1}
    before = deployer.prediction.calls
    assert len(deployer.predict("churn", rows, slot="canary")) == len(rows)  # until the canary answers
    assert deployer.prediction.calls - before <= 132

    # promote: production's model replaced in one request, the old one undeployed once it serves
    deployer.deploy("churn", "production", v2)
    _settle(deployer, endpoints)
    assert sorted((x.display_name, x.model_version_id) for x in live.deployed_models) == [("canary", "2"), ("production", "2")]
    deployer.set_traffic("churn", {"production": 1.0})
    deployer.undeploy("churn", "canary")
    _settle(deployer, endpoints)
    deployer.undeploy("churn", "staging")
    _settle(deployer, endpoints)
    assert deployer.slots("churn") == {"production": 2} and deployer.traffic("churn") == {"production": 1.0}
    kinds = [type(r).__name__ for r in endpoints.requests]
    assert kinds.count("DeployModelRequest") == 4 and kinds.count("UndeployModelRequest") == 3


def test_undeploying_a_slot_with_traffic_gives_it_to_production(vertex: Any) -> None:
    deployer, endpoints, version = vertex
    v1, v2 = version("v1"), version("v2")
    deployer.deploy("churn", "production", v1)
    _settle(deployer, endpoints)
    deployer.deploy("churn", "canary", v2)
    _settle(deployer, endpoints)
    deployer.set_traffic("churn", {"production": 0.75, "canary": 0.25})
    deployer.undeploy("churn", "canary")  # the abort path: traffic back on production in the same request
    _settle(deployer, endpoints)
    assert deployer.traffic("churn") == {"production": 1.0} and deployer.slots("churn") == {"production": 1}


def test_a_failed_deployment_and_bytes_the_registry_does_not_vouch_for(vertex: Any) -> None:
    deployer, endpoints, version = vertex
    v1 = version("v1")
    endpoints.fail_next = "the container did not answer its health route"
    deployer.deploy("churn", "production", v1)
    endpoints.finish_all()
    with pytest.raises(DeploymentFailed, match="did not answer its health route"):
        deployer.settled("churn")
    assert deployer.settled("churn") and deployer.slots("churn") == {}  # reported once, nothing serves
    deployer.store.put(v1.artifact_uri, b"swapped")
    with pytest.raises(ArtifactIntegrityError):
        deployer.deploy("churn", "production", v1)


def test_the_vertex_deployer_keeps_the_deployer_contract(vertex: Any, gcs: Any) -> None:
    """The one Deployer contract (tests/contract/ports/deployer_contract.py), on Vertex's slots."""
    from skyloop.config import Settings
    from skyloop.training.usecase import fit
    from tests.contract.ports.deployer_contract import check_deployer

    deployer, endpoints, version = vertex
    data = (ROOT / "events/local/data/churn.csv").read_bytes()
    other = fit(b"\n".join(data.splitlines()[:-20]) + b"\n", source_uri="gs://b/datasets/churn-b.csv", settings=Settings())
    v1, v2, v3 = version("c1"), version("c2"), version("c3", other)
    check_deployer(deployer, "churn", v1, v2, v3, _rows(v1), settle=endpoints.finish_all, store=gcs.store)


def _rows(v: Any) -> list[dict[str, Any]]:
    from skyloop.serving.deployment import smoke_rows

    return smoke_rows(v.lineage, 5)
