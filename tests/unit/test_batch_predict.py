"""Batch prediction: streamed in chunks, same answers as the endpoint, bad rows refused by line."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from skyloop.serving.batch import predict_csv
from skyloop.errors import ArtifactIntegrityError, InvalidRequest, NotFound

from .test_deployment import approve_and_deploy, train_version


@pytest.fixture
def deployed(runtime):
    from skyloop.app.demo_data import churn_csv

    data = churn_csv(300, label_noise=0.1, seed=1)
    approve_and_deploy(runtime, train_version(runtime, data))
    return runtime, data


def test_chunked_predictions_equal_the_endpoint(deployed, tmp_path):
    rt, data = deployed
    src = tmp_path / "rows.csv"
    frame = pd.read_csv(io.BytesIO(data)).drop(columns=["churned"])
    frame.to_csv(src, index=False)
    seen = []
    res = predict_csv(src, tmp_path / "out.csv", group="churn", registry=rt.registry, store=rt.adapters.store,
                      chunk_rows=64, on_chunk=seen.append)
    assert res.rows == len(frame) == sum(seen) and len(seen) == -(-len(frame) // 64)
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns[: frame.shape[1]]) == list(frame.columns) and len(out) == len(frame)
    direct = rt.deployer.predict("churn", frame.head(20).to_dict("records"), slot="production")
    assert list(out["prediction"].head(20)) == direct
    assert ((out["proba_0"] + out["proba_1"]).round(4) == 1).all()


def test_bad_rows_are_refused_with_their_line_and_nothing_is_left(deployed, tmp_path):
    rt, data = deployed
    frame = pd.read_csv(io.BytesIO(data)).drop(columns=["churned"])
    col = frame.columns[1]
    frame[col] = frame[col].astype(object)
    frame.loc[150, col] = "lots"
    src = tmp_path / "rows.csv"
    frame.to_csv(src, index=False)
    with pytest.raises(InvalidRequest, match="line 152"):
        predict_csv(src, tmp_path / "out.csv", group="churn", registry=rt.registry, store=rt.adapters.store, chunk_rows=100)
    assert not list(tmp_path.glob("out.csv*"))  # no half-written file under any name
    frame.drop(columns=[frame.columns[0]]).to_csv(src, index=False)
    with pytest.raises(InvalidRequest, match="lacks the model's feature"):
        predict_csv(src, tmp_path / "out.csv", group="churn", registry=rt.registry, store=rt.adapters.store)


def test_no_production_model_and_tampered_artifact(deployed, tmp_path):
    rt, data = deployed
    src = tmp_path / "rows.csv"
    src.write_bytes(data)
    with pytest.raises(NotFound):
        predict_csv(src, tmp_path / "o.csv", group="nope", registry=rt.registry, store=rt.adapters.store)
    mv = rt.registry.alias("churn", "production")
    rt.adapters.store.path_of(mv.artifact_uri).write_bytes(b"evil")
    with pytest.raises(ArtifactIntegrityError):
        predict_csv(src, tmp_path / "o.csv", group="churn", registry=rt.registry, store=rt.adapters.store)
