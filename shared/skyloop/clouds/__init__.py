"""Cloud adapters: one package per cloud, each importing its SDK lazily, behind one registry.

Nothing in the core imports these packages. A composition root (a cloud's entry points, the
local runtime, a test) asks ``skyloop.bootstrap.bootstrap(name)`` for a cloud's adapter set; the
cloud's package is imported only then, and when it cannot (an unknown name, a cloud this
version does not ship yet, or the cloud's SDK extra missing) it raises ``CloudUnavailable``
with the one command that fixes it, instead of an ``ImportError`` from deep inside a module.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from ..errors import CloudUnavailable


@dataclass(frozen=True)
class Cloud:
    name: str
    package: str  # the adapter package: its ``adapter_table()`` is what ``skyloop.bootstrap`` builds from
    sdk: tuple[str, ...]  # top-level modules the adapters need: checked before importing them
    extra: str  # pip extra that installs them


CLOUDS: dict[str, Cloud] = {
    "local": Cloud("local", "skyloop.local", (), ""),
    "aws": Cloud("aws", "skyloop.clouds.aws", ("boto3",), "aws"),
    "gcp": Cloud("gcp", "skyloop.clouds.gcp", ("google.cloud.storage", "google.cloud.pubsub_v1", "google.cloud.aiplatform_v1",
                                             "google.cloud.monitoring_v3"), "gcp"),
    "azure": Cloud("azure", "skyloop.clouds.azure", ("azure.storage.blob", "azure.data.tables", "azure.storage.queue",
                                                 "azure.ai.ml"), "azure"),
}


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:  # a parent package (google, azure) is absent
        return True


def cloud(name: str) -> Cloud:
    """The registry entry for ``name``, checked: its package is in this version and its SDK installed."""
    try:
        c = CLOUDS[name]
    except KeyError:
        raise CloudUnavailable(f"unknown cloud {name!r}; known: {', '.join(CLOUDS)}") from None
    if _missing(c.package):
        raise CloudUnavailable(f"the {name} adapters are not in this version of skyloop yet")
    absent = [m for m in c.sdk if _missing(m)]
    if absent:
        raise CloudUnavailable(f"the {name} adapters need {', '.join(absent)}: pip install 'skyloop[{c.extra}]'")
    return c


__all__ = ["CLOUDS", "Cloud", "cloud"]
