"""The Deployer's contract, written once (issue 32, item 6) and run by each backend's tests where
that backend's setup lives: local here (test_deployer.py), SageMaker on moto's server
(tests/integration/aws/test_sagemaker_deployer.py), Vertex AI in
tests/integration/gcp/test_vertex_endpoints.py and Azure ML in tests/integration/azure/test_azure_ml.py
(both faked at their SDK's transport edge, as neither has an emulator).

What the rollout relies on, on every backend: a slot serves the version deployed to it; traffic
splits as set and sums to 1; undeploying a slot that had traffic gives that share to production
(a platform may first refuse with ``EndpointBusy`` while it moves the share, and the caller polls);
a change in flight may be refused with ``EndpointBusy`` until ``settled``; bytes the registry does
not vouch for are never deployed."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import pytest

from skyloop.errors import ArtifactIntegrityError, EndpointBusy
from skyloop.ports import BlobStore, Deployer


def _until(op: Callable[[], Any], settle: Callable[[], None], tries: int = 6) -> Any:
    """An operation a platform may refuse while a change is in flight: settle, then try again."""
    for _ in range(tries):
        try:
            return op()
        except EndpointBusy:
            settle()
    raise AssertionError(f"still busy after {tries} settles")


def check_deployer(d: Deployer, group: str, v1: Any, v2: Any, v3: Any, rows: Sequence[Mapping[str, Any]], *,
                   settle: Callable[[], None], store: BlobStore) -> None:
    """``v3``: a version never deployed, with bytes of its own (a deployer may keep what it verified
    by hash), whose file this check swaps after registration."""
    def done() -> None:
        for _ in range(10):
            settle()
            if d.settled(group):
                return
        raise AssertionError(f"{group} never settled")

    _until(lambda: d.deploy(group, "production", v1), done)
    done()
    _until(lambda: d.set_traffic(group, {"production": 1.0}), done)
    done()
    assert d.slots(group) == {"production": v1.version}
    assert d.traffic(group) == {"production": 1.0}
    assert len(d.predict(group, rows)) == len(rows)

    _until(lambda: d.deploy(group, "canary", v2), done)
    done()
    _until(lambda: d.set_traffic(group, {"production": 0.9, "canary": 0.1}), done)
    done()
    assert d.slots(group) == {"production": v1.version, "canary": v2.version}
    assert d.traffic(group) == pytest.approx({"production": 0.9, "canary": 0.1})
    assert len(d.predict(group, rows, slot="canary")) == len(rows)

    _until(lambda: d.undeploy(group, "canary"), done)  # an abort: the canary's share goes back to production
    done()
    assert d.slots(group) == {"production": v1.version}
    assert d.traffic(group) == pytest.approx({"production": 1.0})

    _until(lambda: d.deploy(group, "production", v2), done)  # a promotion in place
    done()
    assert d.slots(group) == {"production": v2.version}
    assert len(d.predict(group, rows)) == len(rows)

    assert v3.artifact_sha256 not in (v1.artifact_sha256, v2.artifact_sha256)
    store.put(v3.artifact_uri, b"swapped after registration")
    with pytest.raises(ArtifactIntegrityError):
        d.deploy(group, "canary", v3)
    done()
    assert d.slots(group) == {"production": v2.version}
