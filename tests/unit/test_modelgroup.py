"""One model-group rule, the strictest of the three registries, held where events enter: a name
derived from a file is valid on every cloud (``gs://b/2026-churn.csv`` became ``2026-churn``,
accepted locally and on SageMaker, refused by Vertex AI at registration)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyloop.errors import InvalidEvent
from skyloop.events import ModelVersionApproved, TrainingDataArrived
from skyloop.modelgroup import check, from_stem
from skyloop.training.usecase import group_from_uri


def _every_registry_takes(name: str) -> bool:
    """Each cloud registry's own rule, as its adapter holds it."""
    import re

    vertex = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")  # clouds/gcp/vertex.py
    sagemaker = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # clouds/aws/sagemaker.py
    azure = bool(name) and len(name) <= 255 and name[0].isalnum()  # clouds/azure/ml.py
    return bool(vertex.match(name) and sagemaker.match(name) and azure)


def test_the_adapters_rules_are_the_ones_this_test_reads() -> None:
    import inspect

    from skyloop.clouds.aws import sagemaker
    from skyloop.clouds.gcp import vertex

    assert vertex._ID_RE.pattern == r"^[a-z][a-z0-9_-]{0,62}$"
    assert sagemaker._NAME_RE.pattern == r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
    assert "not group[0].isalnum()" in inspect.getsource(__import__("skyloop.clouds.azure.ml", fromlist=["x"]))


@pytest.mark.parametrize("uri, group", [
    ("gs://b/2026-churn.csv", "m-2026-churn"),
    ("s3://b/data/churn-2026-01.csv.gz", "churn-2026-01"),
    ("https://acct.blob.core.windows.net/datasets/churn%202026.csv", "churn-2026"),
    ("/tmp/Churn_Data.CSV", "churn-data"),
    ("/tmp/___.csv", "default"),
])
def test_a_file_names_group_is_valid_everywhere(uri: str, group: str) -> None:
    assert group_from_uri(uri) == group and _every_registry_takes(group)


@settings(max_examples=400, deadline=None)
@given(st.text(min_size=0, max_size=120))
def test_every_stem_gives_a_group_every_registry_takes(stem: str) -> None:
    name = from_stem(stem)
    assert check(name) == name and _every_registry_takes(name)


@pytest.mark.parametrize("name", ["2026-churn", "Churn", "churn_data", "churn--x", "churn-", "-churn", "a" * 64, ""])
def test_a_name_some_registry_refuses_is_refused_at_entry(name: str) -> None:
    with pytest.raises(InvalidEvent, match="not a valid name"):
        check(name)
    with pytest.raises(ValueError):  # pydantic's error, which each decoder types as InvalidEvent
        ModelVersionApproved(model_group=name, version=1)
    with pytest.raises(ValueError):
        TrainingDataArrived(uri="s3://b/x.csv", model_group=name)


def test_a_sidecars_group_is_held_to_the_rule_before_training(runtime, churn_bytes) -> None:
    """A sidecar names its group outside any event model: checked in the train handler, before
    anything trains or registers."""
    from skyloop.events import TrainingDataArrived as Arrived
    from skyloop.handlers.train import on_training_data

    from ..conftest import put_dataset

    uri = put_dataset(runtime, "data", churn_bytes, {"target": "churned", "model_group": "2026-churn"})
    with pytest.raises(InvalidEvent, match="not a valid name"):
        on_training_data(Arrived(uri=uri), runtime.adapters)
    assert runtime.registry.versions() == []
    uri = put_dataset(runtime, "2026-churn", churn_bytes, {"target": "churned"})  # the file's own name: prefixed
    assert on_training_data(Arrived(uri=uri), runtime.adapters)["model_group"] == "m-2026-churn"
