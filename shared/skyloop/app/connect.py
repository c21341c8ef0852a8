"""Pointing the CLI at a deployed stack: the deployment's own SKYLOOP_* settings, read from its
infrastructure's outputs (the CloudFormation stack; ``terraform output -json``; the Bicep
deployment's outputs), kept in the state folder as ``connections/<cloud>.json``. A command run
with ``--cloud <cloud>`` takes them, under whatever the environment sets itself."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InvalidRequest

PREFIX = {"aws": "SKYLOOP_AWS_", "gcp": "SKYLOOP_GCP_", "azure": "SKYLOOP_AZURE_"}


def path(home: Path, cloud: str) -> Path:
    return home / "connections" / f"{cloud}.json"


def save(home: Path, cloud: str, settings: dict[str, str]) -> Path:
    where = path(home, cloud)
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text(json.dumps(dict(sorted(settings.items())), indent=2) + "\n")
    return where


def apply(home: Path, cloud: str) -> Path | None:
    """The saved settings into this process's environment, under what the environment already says."""
    where = path(home, cloud)
    if not where.exists():
        return None
    for k, v in json.loads(where.read_text()).items():
        os.environ.setdefault(k, str(v))
    return where


def from_terraform(doc: dict[str, Any]) -> dict[str, str]:
    """``terraform output -json`` of infra/gcp: its ``skyloop_settings`` map."""
    try:
        values = doc["skyloop_settings"]["value"]
    except (KeyError, TypeError):
        raise InvalidRequest("these Terraform outputs have no skyloop_settings: run `terraform output -json` "
                             "in infra/gcp after an apply of this version") from None
    return _only("gcp", {str(k): str(v) for k, v in dict(values).items()})


def from_bicep(doc: dict[str, Any]) -> dict[str, str]:
    """The outputs of the infra/azure deployment (``az deployment group show ... --query
    properties.outputs``): its ``skyloopSettings`` name/value list."""
    try:
        values = doc["skyloopSettings"]["value"]
    except (KeyError, TypeError):
        raise InvalidRequest("these deployment outputs have no skyloopSettings: pass `az deployment group show "
                             "-g <group> -n <deployment> --query properties.outputs` of this version") from None
    return _only("azure", {str(s["name"]): str(s["value"]) for s in values})


def _only(cloud: str, settings: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in settings.items() if k.startswith(PREFIX[cloud])}


__all__ = ["apply", "from_bicep", "from_terraform", "path", "save"]
