"""Fixtures shared by the unit tests of one wing and another."""

import pytest


@pytest.fixture
def two_datasets():
    """Two churn datasets of 300 rows that train two different versions of one model group."""
    from skyloop.app.demo_data import churn_csv

    return churn_csv(300, label_noise=0.1, seed=1), churn_csv(300, label_noise=0.1, seed=2)
