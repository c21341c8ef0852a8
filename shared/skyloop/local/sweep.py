"""The documented sweep for the one leftover a crash can leave.

Artifacts are written before the registry row (so a registered version always has
its bytes), under their own sha256 (so a retry rewrites the same file). If the
process dies between the two and the event is never redelivered, the artifact
has no version: this sweep finds such files and, with ``apply``, deletes them.
A grace period keeps it away from a training that is registering right now.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runtime import LocalRuntime


def sweep_orphan_artifacts(rt: "LocalRuntime", *, older_than: float = 3600.0, apply: bool = False) -> list[Path]:
    root = Path(rt.settings.blob_root) / "models"
    if not root.exists():
        return []
    vouched = {v.artifact_sha256 for v in rt.registry.versions()}
    cutoff = time.time() - older_than
    orphans = [p for p in sorted(root.glob("*/*.joblib"))
               if p.stem not in vouched and p.stat().st_mtime <= cutoff]
    if apply:
        for p in orphans:
            p.unlink(missing_ok=True)
    return orphans
