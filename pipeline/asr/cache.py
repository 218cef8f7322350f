"""The model cache: where derived weights live, how they are built and verified.

Shared by weight resolution (`weights`) and checkpoint conversion (`convert`),
so that neither imports the other's internals.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from ..atomic import write_text_atomic
from ..library import file_sha256, user_dir

log = logging.getLogger(__name__)

CACHE_ENV = "INTERVIEW_INDEX_CACHE"


class ModelError(RuntimeError):
    """A model can't be found or resolved; the message says what to do."""


class ModelIntegrityError(ModelError):
    """A model file's content differs from the pinned digest."""


def cache_root() -> Path:
    """The per-user cache; INTERVIEW_INDEX_CACHE moves it (tests, shared machines, CI)."""
    return user_dir(CACHE_ENV, "cache")


def models_dir() -> Path:
    d = cache_root() / "models"
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextmanager
def build_lock(name: str) -> Iterator[None]:
    """Serialise the building of one cached artifact across processes."""
    lock_dir = models_dir() / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_dir / f"{name}.lock")):
        yield


# -- digests -------------------------------------------------------------------


sha256_file = file_sha256  # one implementation, shared with the library's content identity


def _stamp_path(path: Path) -> Path:
    key = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:32]
    return models_dir() / ".stamps" / f"{key}.json"


def _stat_key(path: Path) -> dict[str, int]:
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


_SAMPLE = 1 << 20  # bytes read at each of the start, middle and end of a file on every check


def partial_digest(path: Path) -> str:
    """SHA-256 of the size and of the first, middle and last MiB: ~3 MiB read, a few ms.

    Read on every load, so a file rewritten with its time put back (a flipped
    byte there, a truncation, another file copied over) is hashed in full again.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        h = hashlib.sha256(str(size).encode())
        for offset in sorted({0, max(0, size // 2 - _SAMPLE // 2), max(0, size - _SAMPLE)}):
            f.seek(offset)
            h.update(f.read(_SAMPLE))
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file; a remembered one is used only while nothing we can check cheaply changed.

    The stamp keeps the size, mtime, inode and `partial_digest` of the file
    the full hash was taken of; all four are checked on every call, and any
    difference means a full hash. (A change outside the sampled 3 MiB that
    also keeps the size, mtime and inode is not seen: the price of not
    reading 140 MB on every start; delete the stamp to force a full check.)
    """
    path = Path(path)
    stamp = _stamp_path(path)
    key = _stat_key(path)
    partial = partial_digest(path)
    try:
        saved = json.loads(stamp.read_text())
        if saved.get("path") == str(path.resolve()) and saved.get("stat") == key and saved.get("partial") == partial:
            return saved["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    digest = sha256_file(path)
    if _stat_key(path) == key and partial_digest(path) == partial:  # unchanged while we read it
        try:
            write_text_atomic(
                stamp,
                json.dumps({"path": str(path.resolve()), "stat": key, "partial": partial, "sha256": digest}),
                mode=0o644,
            )
        except OSError as e:  # a read-only cache only costs time
            log.debug("could not write digest stamp %s: %s", stamp, e)
    return digest


def verify_file(path: Path, expected_sha256: str, *, what: str = "", fix: str = "") -> None:
    """Raise ModelIntegrityError unless `path` hashes to `expected_sha256`."""
    path = Path(path)
    if not path.is_file():
        raise ModelIntegrityError(f"{what or 'model file'} is missing: {path}. {fix}".strip())
    got = file_digest(path)
    if got != expected_sha256:
        raise ModelIntegrityError(
            f"{what or 'model file'} {path} is corrupt or not the expected version: "
            f"sha256 {got}, expected {expected_sha256}. {fix}".strip()
        )


def publish_mode(path: Path) -> None:
    """mkstemp/mkdtemp make owner-only files; cached weights are public data, readable by all."""
    try:
        os.chmod(path, 0o755 if Path(path).is_dir() else 0o644)
    except OSError:
        pass
