"""Deterministic tarballs of what Skyloop ships to a cloud's containers: a serving model
directory, or this very package's code for a managed training job. Fixed times and modes, so
the same inputs give the same bytes, and so the same content-addressed object."""

from __future__ import annotations

from typing import Mapping


def tar_gz(files: Mapping[str, bytes]) -> bytes:
    import gzip
    import io
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def skyloop_sources() -> dict[str, bytes]:
    """The skyloop package's modules without the cloud adapters: what a training job imports."""
    from pathlib import Path

    import skyloop

    root = Path(skyloop.__file__).parent
    return {f"skyloop/{p.relative_to(root).as_posix()}": p.read_bytes()
            for p in sorted(root.rglob("*.py")) if "clouds" not in p.relative_to(root).parts}
