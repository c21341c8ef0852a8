"""A deployed function's own virtualenv: built from its requirements.txt alone (what the
platform's build installs), never the development one, in which every extra is installed.

The check runs in that venv, on the built source folder: it imports the entry point, every module
of the ``skyloop`` package a code path from it reaches (``closure.reachable``: lazy imports too) and
every third-party module those import (``closure.imports``), then decodes every sample event of the cloud
(``events/<cloud>/``) with the cloud's decoder, where a refusal is a typed ``SkyloopError`` and
anything else is a failure. ``SKYLOOP_BLOCK`` names modules to hide (the broken fixture: a
requirement that went missing)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / "build" / "venvs"

CHECK = r"""
import importlib, importlib.abc, json, os, pathlib, sys
source, cloud = pathlib.Path(sys.argv[1]), sys.argv[2]
entry, samples, third, own = sys.argv[3], json.loads(sys.argv[4]), json.loads(sys.argv[5]), json.loads(sys.argv[6])
blocked = [b for b in os.environ.get("SKYLOOP_BLOCK", "").split(",") if b]

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden)", name=name)
        return None

sys.meta_path.insert(0, Block())
sys.path.insert(0, str(source))
failed = []
for name in [entry, *own, *third]:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        parent, _, attr = name.rpartition(".")
        try:  # "from google.cloud import storage" names a module; "from x import Y" may name an attribute
            if parent and exc.name == name and hasattr(importlib.import_module(parent), attr):
                continue
        except ImportError:
            pass
        failed.append(f"{name}: {exc}")
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
from skyloop.errors import SkyloopError
events = importlib.import_module(f"skyloop.clouds.{cloud}.events")
kwargs = {"gcp": {"training_bucket": "skyloop-training-dev"}, "azure": {"container": "datasets"}}[cloud]
decoded, refused = 0, 0
for sample in samples:
    try:
        decoded += len(events.to_domain(json.loads(pathlib.Path(sample).read_text()), **kwargs))
    except SkyloopError:
        refused += 1
    except Exception as exc:
        failed.append(f"{pathlib.Path(sample).name}: {type(exc).__name__}: {exc}")
print(json.dumps({"failed": failed, "imported": len(own) + len(third) + 1, "samples": len(samples),
                  "decoded": decoded, "refused": refused}))
"""


def venv(requirements: Path, cloud: str) -> Path:
    """The venv for exactly these requirements (rebuilt when they change), its Python's path."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    home = VENVS / f"{cloud}-{digest}"
    python = home / "bin" / "python"
    if not (home / "ok").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True, timeout=300)
        # the pip a venv bundles may predate the resolver the platforms' builds use (23.x raised
        # InconsistentCandidate on the Azure requirements' OpenTelemetry pins)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade",
                        "pip"], check=True, timeout=600)
        res = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              "-r", str(requirements)], capture_output=True, text=True, timeout=1800)
        if res.returncode != 0:
            raise AssertionError(f"pip install -r {requirements} failed:\n{res.stderr[-3000:]}")
        (home / "ok").write_text(requirements.read_text())
    return python


def check(python: Path, source: Path, cloud: str, entry: str, third: list[str], own: list[str],
          block: str = "") -> dict[str, Any]:
    samples = sorted(str(p) for p in (ROOT / "events" / cloud).glob("*.json"))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "SKYLOOP_BLOCK": block}
    res = subprocess.run([str(python), "-I", "-c", CHECK, str(source), cloud, entry, json.dumps(samples),
                          json.dumps(third), json.dumps(own)], capture_output=True, text=True, timeout=600, cwd=source, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return out
