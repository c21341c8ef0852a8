"""The Deployer's contract (deployer_contract.py) on the local deployer: SQLite slots and traffic,
real models served in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skyloop.config import Settings
from skyloop.local.runtime import LocalRuntime

from .deployer_contract import check_deployer

ROOT = Path(__file__).resolve().parents[3]


def test_the_local_deployer_keeps_the_contract(tmp_path: Path) -> None:
    from skyloop.ports.artifacts import write_artifact
    from skyloop.serving.deployment import smoke_rows
    from skyloop.training.usecase import fit

    data = (ROOT / "events/local/data/churn.csv").read_bytes()
    fitted = fit(data, source_uri="x", settings=Settings())
    other = fit(b"\n".join(data.splitlines()[:-20]) + b"\n", source_uri="y", settings=Settings())  # other bytes
    rt = LocalRuntime(Settings(home=tmp_path))
    try:
        a = rt.adapters

        def version(key: str, model: Any = fitted) -> Any:
            art = write_artifact(a.store, "churn", model.model_bytes)
            return a.registry.register("churn", artifact_uri=art.uri, artifact_sha256=art.sha256, metrics=model.metrics,
                                       params=model.params, lineage=model.lineage, idempotency_key=key)

        v1, v2, v3 = version("k1"), version("k2"), version("k3", other)
        check_deployer(a.deployer, "churn", v1, v2, v3, smoke_rows(v1.lineage, 4), settle=lambda: None, store=a.store)
    finally:
        rt.close()
