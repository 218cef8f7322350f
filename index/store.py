"""The index directory: which whoosh index is current, locking, opening.

The directory holds one or more whoosh indexes told apart by name, plus
INFO_FILE naming the current one and its schema version. A rebuild writes a
new index beside the current one and switches INFO_FILE atomically, so
searches never see an empty or half-built index, and an outdated index is
detected before whoosh unpickles a schema it may not understand.

INFO_FILE also records which videos the index holds (segments per video) and
the whoosh generation that record describes, written after each commit under
the write lock. `check` compares it with what the index really holds, so a
deleted or damaged segment file, or a deleted index, is found (the library
then compares the videos with its transcripts) instead of answering "no hits".

Searches go through `searching`, which keeps the searcher of each index open
between searches (opening one, and reading its segments' field lengths,
cost more than most searches) and reopens it when any file of the directory
changed: a commit, a rebuild, or a lost or cut segment file, which is then
reported as when opening afresh. Things derived from the index (see
index.soundkeys) are cached with the searcher, so they live exactly as long
as the index generation they describe.

Every write (add, remove, rebuild) holds LOCK_FILE, a `filelock` lock (flock
on POSIX), the one lock mechanism of the project: the kernel drops it when
the holder dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.query import Term
from whoosh.searching import Searcher

from pipeline.atomic import write_json_atomic

from . import schema, sidecar
from .errors import IndexDamagedError, IndexLockedError, IndexVersionError, SearchIndexError
from .schema import SCHEMA_VERSION, make_schema

INFO_FILE = "index.json"
LOCK_FILE = "WRITELOCK"
REINDEX_ADVICE = "run `interview-index reindex` to rebuild it from the transcripts"
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
            f"(v{SCHEMA_VERSION}); {REINDEX_ADVICE}"
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
        except Exception as e:  # noqa: BLE001 - whatever a cut or missing file makes whoosh raise
            if attempt == 4:
                raise IndexDamagedError(f"{index_dir}: the index is damaged ({_cause(e)}); {REINDEX_ADVICE}") from e
            time.sleep(0.05 * (attempt + 1))
    return None


@dataclass
class _Open:
    """A searcher kept open, the directory signature it was opened on, and caches derived from it."""

    searcher: Searcher
    signature: tuple
    lock: threading.Lock = field(default_factory=threading.Lock)
    derived: dict[str, Any] = field(default_factory=dict)


_OPEN: OrderedDict[str, _Open] = OrderedDict()
_OPEN_LOCK = threading.Lock()
MAX_OPEN = 4  # indexes kept open per process (a server has one; tests make many)


class CachedSearcher:
    """What `searching` yields: the searcher, and a dict for things derived from this index generation."""

    def __init__(self, entry: _Open):
        self.searcher = entry.searcher
        self.derived = entry.derived


def _signature(index_dir: Path) -> tuple:
    """Every file of the directory with its size and mtime: any commit, rebuild or damage changes it.
    A segment's sidecar (index.sidecar), written by a search, is derived from the segment: not counted."""
    try:
        with os.scandir(index_dir) as it:
            return tuple(sorted((e.name, *_stat(e)) for e in it if not sidecar.is_sidecar(e.name)))
    except FileNotFoundError:
        return ()


def _stat(entry: os.DirEntry) -> tuple[int, int]:
    try:
        st = entry.stat()
    except FileNotFoundError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


@contextmanager
def searching(index_dir: Path) -> Iterator[CachedSearcher | None]:
    """A searcher on the current index kept open between calls (None when there is no index yet).

    The searcher is used by one caller at a time (whoosh readers share file
    handles): concurrent searches of one index wait for each other, which on
    a CPU-bound, GIL-bound search costs nothing. It is reopened, with the same
    errors as `open_searcher`, whenever the directory changed since it was opened.
    """
    key = os.path.abspath(index_dir)
    sig = _signature(Path(index_dir))
    with _OPEN_LOCK:
        entry = _OPEN.get(key)
        if entry is not None and entry.signature != sig:
            _OPEN.pop(key)
            _close_later(entry)
            entry = None
        if entry is not None:
            _OPEN.move_to_end(key)
    if entry is None:
        searcher = open_searcher(index_dir)
        if searcher is None:
            yield None
            return
        preload_lengths(searcher)
        entry = _Open(searcher, sig)
        with _OPEN_LOCK:
            _OPEN[key] = entry
            while len(_OPEN) > MAX_OPEN:
                _close_later(_OPEN.popitem(last=False)[1])
    with entry.lock:
        yield CachedSearcher(entry)


def _close_later(entry: _Open) -> None:
    """Close a searcher no longer cached, once whoever is using it is done."""
    with entry.lock:
        try:
            entry.searcher.close()
        except Exception:  # noqa: BLE001 - files already gone: nothing left to release
            pass


def forget(index_dir: Path) -> None:
    """Close the kept-open searcher of an index (its directory is about to go)."""
    with _OPEN_LOCK:
        entry = _OPEN.pop(os.path.abspath(index_dir), None)
    if entry is not None:
        _close_later(entry)


def preload_lengths(searcher: Searcher) -> None:
    """Read each segment's per-document field lengths (one byte a document) into memory.

    BM25 needs a document's field length for every document it scores;
    whoosh reads each with a seek and a read of one byte, which dominated
    searches of common words. Best effort: another codec is left alone.
    """
    from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

    for leaf in searcher.reader().leaf_readers():
        reader = leaf[0] if isinstance(leaf, tuple) else leaf
        perdoc = getattr(reader, "_perdoc", None)
        if perdoc is None or not hasattr(perdoc, "_cached_reader"):
            continue
        for fieldname in searcher.schema.scorable_names():
            try:
                col = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
                if col is None or isinstance(col, bytes):
                    continue
                count = perdoc.doc_count_all()
                raw = col._dbfile.get(col._basepos, col._count) if col._count else b""
                perdoc._readers[_lenfield(fieldname)] = raw + bytes(max(0, count - len(raw)))
            except Exception:  # noqa: BLE001 - an optimisation, never a reason to fail
                continue


def _cause(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename:
        return f"{Path(str(e.filename)).name}: {e.strerror or e}"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def live_counts(searcher: Searcher) -> dict[str, int]:
    """Live (not deleted) segments per video id, counted from the index itself."""
    counts: dict[str, int] = {}
    for term in list(searcher.reader().field_terms(schema.VIDEO)):
        n = sum(1 for _ in searcher.docs_for_query(Term(schema.VIDEO, term)))
        if n:
            counts[term] = n
    return counts


@dataclass
class IndexState:
    """What `check` found: the videos the index holds, the ones a rebuild skipped, or the problem."""

    exists: bool
    videos: dict[str, int] = field(default_factory=dict)  # video id -> live segments
    skipped: dict[str, str] = field(default_factory=dict)  # video id -> why the last rebuild left it out
    problem: str | None = None  # one line: what is wrong and that `reindex` fixes it


def check(index_dir: Path) -> IndexState:
    """Open the index and compare it with its record (INFO_FILE): cheap, done before searching.

    The record is trusted only for the generation it was written for; for
    another one (a commit in progress, an index from before records) the
    videos are counted from the index.
    """
    index_dir = Path(index_dir)
    try:
        with searching(index_dir) as cached:
            return _check(index_dir, cached.searcher) if cached is not None else IndexState(False)
    except SearchIndexError as e:
        return IndexState(True, problem=str(e))


def _check(index_dir: Path, s: Searcher) -> IndexState:
    info = read_info(index_dir) or {}
    skipped = info.get("skipped") if isinstance(info.get("skipped"), dict) else {}
    videos = info.get("videos")
    generation = s.reader().generation()
    if isinstance(videos, dict) and generation is not None and info.get("generation") == generation:
        total = sum(int(n) for n in videos.values())
        if total != s.doc_count():
            return IndexState(True, skipped=skipped, problem=(
                f"{index_dir}: the index is damaged (it holds {s.doc_count()} segments, its record says "
                f"{total}); {REINDEX_ADVICE}"))  # fmt: skip
        return IndexState(True, {str(k): int(n) for k, n in videos.items()}, skipped)
    return IndexState(True, live_counts(s), skipped)


def record_commit(
    index_dir: Path, ix: whoosh_index.Index, before: int, change: Callable[[dict[str, int], dict[str, str]], None]
) -> None:
    """After a commit, under the write lock: update the record of which videos the index holds.

    `before` is the generation the commit started from; if the record is not
    of that one (a crash between a commit and its record, an old index) the
    videos are counted afresh instead of changed.
    """
    info = read_info(index_dir) or {"schema_version": 0}
    videos, skipped = info.get("videos"), info.get("skipped")
    skipped = dict(skipped) if isinstance(skipped, dict) else {}
    if isinstance(videos, dict) and info.get("generation") == before:
        videos = dict(videos)
        change(videos, skipped)
    else:
        with ix.searcher() as s:
            videos = live_counts(s)
        change({}, skipped)
    info.update(generation=ix.latest_generation(), videos=videos, skipped=skipped)
    write_json_atomic(Path(index_dir) / INFO_FILE, info)


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


def switch_to(
    index_dir: Path, name: str, videos: dict[str, int] | None = None, skipped: dict[str, str] | None = None
) -> None:
    """Make `name` the current index (atomic rename) and delete the others.

    `videos` (segments per video) and `skipped` (videos left out, and why)
    become the record `check` compares the index with.
    """
    generation = open_named(index_dir, name).latest_generation()
    write_json_atomic(
        Path(index_dir) / INFO_FILE,
        {"schema_version": SCHEMA_VERSION, "name": name, "switched": time.strftime("%Y-%m-%dT%H:%M:%S"),
         "generation": generation, "videos": videos or {}, "skipped": skipped or {}},
    )  # fmt: skip
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
    lock = FileLock(os.fspath(index_dir / LOCK_FILE), thread_local=False)
    started = time.monotonic()
    told_at: float | None = None
    while not _try(lock):
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


def _try(lock: FileLock) -> bool:
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    return True
