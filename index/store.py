"""The index directory: which whoosh index is current, locking, opening.

The directory holds one or more whoosh indexes told apart by name, plus
INFO_FILE naming the current one and its schema version. A rebuild writes a
new index beside the current one and switches INFO_FILE atomically, so
searches never see an empty or half-built index, and an outdated index is
detected before whoosh unpickles a schema it may not understand.

Every write (add, remove, rebuild) holds LOCK_FILE, an fcntl lock: the kernel
drops it when the holder dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.searching import Searcher
from whoosh.util.filelock import FileLock

from pipeline.atomic import write_json_atomic

from .errors import IndexLockedError, IndexVersionError
from .schema import SCHEMA_VERSION, make_schema

INFO_FILE = "index.json"
LOCK_FILE = "WRITELOCK"
DEFAULT_LOCK_TIMEOUT = 120.0  # seconds; an ingest commit takes well under one
_POLL = 0.2
_NOTIFY_EVERY = 10.0
_NAME_RE = re.compile(r"^_?(ix[0-9a-f]{8})[_.]")

WaitCallback = Callable[[str], None]


def read_info(index_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(index_dir) / INFO_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"schema_version": 0}


def stored_version(index_dir: Path) -> int | None:
    """Schema version of the index in `index_dir`; None when there is none, 0 if unreadable."""
    info = read_info(index_dir)
    if info is not None:
        return int(info.get("schema_version", 0))
    d = Path(index_dir)
    if d.is_dir() and any(p.suffix == ".toc" for p in d.iterdir()):
        return 0  # a whoosh index that predates INFO_FILE
    return None


def needs_rebuild(index_dir: Path) -> bool:
    """True when an index exists but was built with another schema (`reindex` upgrades it)."""
    version = stored_version(index_dir)
    return version is not None and version != SCHEMA_VERSION


def _check_version(index_dir: Path, info: dict[str, Any]) -> str:
    version = int(info.get("schema_version", 0))
    if version != SCHEMA_VERSION or not info.get("name"):
        raise IndexVersionError(
            f"{index_dir}: index schema v{version} does not match this interview-index "
            f"(v{SCHEMA_VERSION}); run `interview-index reindex` to rebuild it from the transcripts"
        )
    return str(info["name"])


def open_searcher(index_dir: Path) -> Searcher | None:
    """A searcher on the current index, or None when there is none yet (nothing to find).

    Retries briefly: a rebuild or a commit in another process may delete the
    files named by what we read a moment ago. Once open, a searcher keeps
    its segment files open and is unaffected by later commits.
    """
    index_dir = Path(index_dir)
    for attempt in range(5):
        info = read_info(index_dir)
        if info is None:
            if stored_version(index_dir) is None:
                return None
            info = {"schema_version": 0}
        name = _check_version(index_dir, info)
        try:
            return open_named(index_dir, name, readonly=True).searcher()
        except (OSError, whoosh_index.EmptyIndexError):
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    return None


def open_for_write(index_dir: Path) -> whoosh_index.Index:
    """The current index, created on first use. Call only while holding `write_lock`."""
    index_dir = Path(index_dir)
    if stored_version(index_dir) is None:
        switch_to(index_dir, create(index_dir))
    name = _check_version(index_dir, read_info(index_dir) or {"schema_version": 0})
    return open_named(index_dir, name)


def open_named(index_dir: Path, name: str, readonly: bool = False) -> whoosh_index.Index:
    """Open one whoosh index of the directory, without mmap.

    With mmap, whoosh-reloaded 2.7.5 copies every part of a compound segment
    into memory when a reader opens it (BufferFile), which cost each search
    of a 100k-segment index ~70 ms before it started. Without mmap the parts
    are read through the segment's one open file handle. (Non-compound
    segments avoid the copy too, but their parts are opened lazily and a
    concurrent commit may delete them under a reader.)
    """
    storage = FileStorage(os.fspath(index_dir), supports_mmap=False, readonly=readonly)
    return storage.open_index(indexname=name)


def create(index_dir: Path) -> str:
    """A new empty index beside the current one; returns its name."""
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    name = "ix" + secrets.token_hex(4)
    FileStorage(os.fspath(index_dir), supports_mmap=False).create_index(make_schema(), indexname=name)
    return name


def switch_to(index_dir: Path, name: str) -> None:
    """Make `name` the current index (atomic rename) and delete the others."""
    write_json_atomic(
        Path(index_dir) / INFO_FILE,
        {"schema_version": SCHEMA_VERSION, "name": name, "switched": time.strftime("%Y-%m-%dT%H:%M:%S")},
    )
    discard_others(index_dir, keep=name)


def discard(index_dir: Path, name: str) -> None:
    """Delete the files of index `name` (a failed rebuild's leftovers)."""
    for p in Path(index_dir).iterdir():
        m = _NAME_RE.match(p.name)
        if m and m.group(1) == name:
            _remove(p)


def discard_others(index_dir: Path, keep: str) -> None:
    """Delete every index but `keep`, and whoosh temp dirs of crashed writers.

    Readers that still have old files open keep reading them (POSIX unlink).
    Only called under the write lock, so no writer's temp files are in use.
    """
    for p in Path(index_dir).iterdir():
        m = _NAME_RE.match(p.name)
        if (m and m.group(1) != keep) or (p.is_dir() and p.name.endswith(".tmp")):
            _remove(p)


def _remove(p: Path) -> None:
    try:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink()
    except FileNotFoundError:
        pass


@contextmanager
def write_lock(
    index_dir: Path, on_wait: WaitCallback | None = None, timeout: float | None = DEFAULT_LOCK_TIMEOUT
) -> Iterator[None]:
    """Hold the index's write lock, waiting for another writer if need be.

    `on_wait` hears why we are waiting (first at once, then every few
    seconds) so a CLI can say so instead of looking hung. `timeout` None
    waits for ever.
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(os.fspath(index_dir / LOCK_FILE))
    started = time.monotonic()
    told_at: float | None = None
    while not lock.acquire(blocking=False):
        waited = time.monotonic() - started
        if timeout is not None and waited >= timeout:
            raise IndexLockedError(
                f"{index_dir}: another process is writing the index (waited {waited:.0f}s); "
                "try again when it has finished"
            )
        if on_wait is not None and (told_at is None or waited - told_at >= _NOTIFY_EVERY):
            limit = "" if timeout is None else f" (up to {timeout:.0f}s)"
            on_wait(f"index is being written by another process; waiting{limit}...")
            told_at = waited
        time.sleep(_POLL)
    try:
        yield
    finally:
        lock.release()
