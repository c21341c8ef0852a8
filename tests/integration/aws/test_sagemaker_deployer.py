"""The one Deployer contract (tests/contract/ports/deployer_contract.py) on SageMaker, against
moto's server: slots are an endpoint's production variants. moto has no UpdateEndpoint and runs
no container, so the two stand-ins of test_lambda_handlers.py apply: the update is checked and
replayed as delete + create, and the container's answers (the serving bundle's own inference.py
run here on the real model) are queued for moto to return."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import GROUP, ROOT, Aws
from .test_lambda_handlers import UpdateEndpointFallback, _queue_predictions


def test_sagemaker_keeps_the_deployer_contract(aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import common
    from skyloop.config import Settings
    from skyloop.ports.artifacts import write_artifact
    from skyloop.serving.deployment import smoke_rows
    from skyloop.training.usecase import fit
    from tests.contract.ports.deployer_contract import check_deployer

    a = common.adapters()
    fallback = UpdateEndpointFallback(aws).attach(a.deployer.sm)
    try:
        data = (ROOT / "events/local/data/churn.csv").read_bytes()
        fitted = fit(data, source_uri="s3://b/churn.csv", settings=Settings())
        other = fit(b"\n".join(data.splitlines()[:-20]) + b"\n", source_uri="s3://b/churn-b.csv", settings=Settings())

        def version(key: str, model: Any) -> Any:
            art = write_artifact(a.store, GROUP, model.model_bytes)
            return a.registry.register(GROUP, artifact_uri=art.uri, artifact_sha256=art.sha256, metrics=model.metrics,
                                       params=model.params, lineage=model.lineage, idempotency_key=key)

        v1, v2, v3 = version("c1", fitted), version("c2", fitted), version("c3", other)
        _queue_predictions(aws, GROUP, v1.version, [4], tmp_path, monkeypatch)  # production, then the canary
        _queue_predictions(aws, GROUP, v2.version, [4], tmp_path, monkeypatch)
        check_deployer(a.deployer, GROUP, v1, v2, v3, smoke_rows(v1.lineage, 4), settle=lambda: None, store=a.store)
        assert fallback.calls, "the endpoint was updated in place, not re-created"
    finally:
        a.deployer.sm.meta.events.unregister("before-call.sagemaker.UpdateEndpoint", fallback)
