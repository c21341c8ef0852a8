"""Folder-backed BlobStore: atomic writes, URIs relative to the store.

What the store writes is named ``blob:<key>`` (relative to its root), so the registry
never records an absolute path: a copied or moved ``SKYLOOP_HOME`` reads its own files,
not the original's. ``file://`` URIs and plain paths still name files outside the store
(a CSV given to ``skyloop train``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..errors import InvalidDataset, NotFound, SkyloopError


class FolderBlobStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path_for_key(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if self.root not in p.parents:
            raise SkyloopError(f"blob key {key!r} escapes the store root")
        return p

    SCHEME = "blob:"

    @staticmethod
    def _file_path(uri: str) -> Path:
        if uri.startswith("file://"):
            return Path(unquote(urlparse(uri).path))
        return Path(uri)

    def path_of(self, uri: str) -> Path:
        """The file behind a URI (tests tamper with artifacts through it)."""
        return self._resolve(uri)

    def key_of(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def put(self, key: str, data: bytes) -> str:
        if key.startswith(self.SCHEME):  # a URI this store returned: write under the same key
            key = key[len(self.SCHEME):]
        path = self._path_for_key(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename: a crash never leaves a half-written artifact under the final name.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.SCHEME + self.key_of(path)

    def _resolve(self, uri: str) -> Path:
        """``blob:<key>`` in the store; file:// URIs and absolute paths as given; a relative
        path from the working directory if it exists there (``skyloop train data.csv``), else
        a key in the store."""
        if uri.startswith(self.SCHEME):
            return self._path_for_key(uri[len(self.SCHEME):])
        path = self._file_path(uri)
        if path.is_absolute() or path.exists():
            return path
        return self._path_for_key(str(path))

    def get(self, uri: str) -> bytes:
        path = self._resolve(uri)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no blob at {uri}") from None

    def size(self, uri: str) -> int:
        """The object's size, before a byte is read (what a cloud's notification carries): the
        size rule once read a 1.2 GB file whole first, and ``/dev/zero`` until the kernel killed it."""
        import stat

        path = self._resolve(uri)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise NotFound(f"no blob at {uri}") from None
        if not stat.S_ISREG(st.st_mode):
            raise InvalidDataset(f"{uri} is not a regular file (a device, a pipe or a folder): nothing to train on")
        return st.st_size

    def exists(self, uri: str) -> bool:
        return self._resolve(uri).exists()

    def delete(self, uri: str) -> None:
        self._resolve(uri).unlink(missing_ok=True)
