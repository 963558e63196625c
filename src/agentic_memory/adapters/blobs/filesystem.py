"""FilesystemBlobStore: files under the data dir, written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from agentic_memory.domain.keys import check_key
from agentic_memory.errors import StorageError


class FilesystemBlobStore:
    probe_inline = True  # ping is two syscalls on a local directory: /health runs it on the event loop

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"unsafe object key: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise StorageError(f"could not write blob: {exc.strerror}") from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None
        except OSError as exc:
            raise StorageError(f"could not read blob: {exc.strerror}") from exc

    def delete(self, key: str) -> bool:
        """Unlink the file, then its folders left empty (a call's folder is named after its conversation)."""
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"could not delete blob: {exc.strerror}") from exc
        parent = path.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break  # not empty (or gone): stop climbing
            parent = parent.parent
        return True

    def delete_prefix(self, prefix: str) -> int:
        folder = self._path(prefix.rstrip("/"))
        if folder == self.root:
            raise ValueError("refusing to delete the whole blob store")
        try:
            if not folder.is_dir():
                return 0
            count = sum(1 for path in folder.rglob("*") if path.is_file())
            shutil.rmtree(folder)
        except OSError as exc:
            raise StorageError(f"could not erase blobs: {exc.strerror}") from exc
        return count

    def ping(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise StorageError("blob directory is not writable")
        except OSError as exc:
            raise StorageError(f"blob directory unavailable: {exc.strerror}") from exc
