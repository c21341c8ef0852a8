"""The lazy cloud registry (skyloop.clouds) and the one bootstrap: a composition root names a
runtime and gets its adapter set, or one typed reason naming the fix."""

import subprocess
import sys

import pytest

from skyloop.adapters import Adapters
from skyloop.bootstrap import bootstrap
from skyloop.clouds import CLOUDS, Cloud, cloud
from skyloop.config import Settings
from skyloop.errors import CloudUnavailable


def test_unknown_cloud_lists_the_known_ones():
    with pytest.raises(CloudUnavailable, match="unknown cloud 'ibm'; known: local, aws, gcp, azure"):
        cloud("ibm")


def test_a_cloud_not_shipped_yet_says_so(monkeypatch):
    monkeypatch.setitem(CLOUDS, "azure", Cloud("azure", "skyloop.clouds.absent", (), "azure"))
    with pytest.raises(CloudUnavailable, match="the azure adapters are not in this version"):
        bootstrap("azure")


def test_a_missing_sdk_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(CLOUDS, "aws", Cloud("aws", "skyloop.clouds.aws", ("boto3", "surely_absent_sdk.sub"), "aws"))
    with pytest.raises(CloudUnavailable) as info:
        bootstrap("aws")
    assert info.value.reason == "the aws adapters need surely_absent_sdk.sub: pip install 'skyloop[aws]'"
    assert info.value.code == "cloud_unavailable" and not info.value.retryable


def test_local_builds_the_embedded_adapter_set(tmp_path):
    a = bootstrap("local", Settings(home=tmp_path))
    assert isinstance(a, Adapters) and a.settings.home == tmp_path


def test_the_registry_imports_no_cloud_package_until_asked():
    code = ("import sys, skyloop.clouds; c = skyloop.clouds.cloud('aws'); "
            "bad = [m for m in sys.modules if m.startswith('skyloop.clouds.aws') or m.split('.')[0] == 'boto3']; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
