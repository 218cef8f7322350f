"""The library folder: the one place that decides where everything lives.

LIBRARY/
  transcripts/ID.json   saved transcripts, the source of truth
  index/                whoosh index, derived; `reindex` rebuilds it
  jobs/KEY.json         per-file ingest state (stage, status, error)
  work/ID.asr.json      finished transcription of a file not yet saved
  locks/KEY.lock        held while a process works on a file (see `content_lock`)
  glossary.txt          library-wide glossary, one term a line

Every path below the library is built from an id that `check_video_id`
accepted (one pattern, no separators, no dots) and is checked to resolve
inside the library: a transcript or job file naming `../../victim` is
reported as damaged and never used to build a path. A file that cannot be
read (truncated JSON, a foreign id) is a `DamagedFileError` naming the file:
the commands skip it, say so, and `remove` deletes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import platformdirs
from filelock import FileLock, Timeout

from .atomic import write_json_atomic
from .errors import NotFoundError, printable
from .transcript import Transcript

ENV_LIBRARY = "INTERVIEW_INDEX_LIBRARY"

# What make_video_id ("slug-3fa9c2d1"), path_key ("path-" + 16 hex) and content_key make.
VIDEO_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,80}")


class InvalidVideoId(NotFoundError, ValueError):
    """A name that is not a video id of this library; never turned into a path (a LookupError: no such video)."""


class DamagedFileError(NotFoundError):
    """A library file that cannot be used (truncated, not JSON, a foreign or hostile id).

    `str(err)` is one line naming the file; `key` is the id its name gives,
    which `remove` accepts to delete it.
    """

    def __init__(self, path: Path, cause: str, key: str | None = None):
        self.path = Path(path)
        self.cause = cause
        self.key = key
        super().__init__(f"{printable(path)}: damaged ({cause})")


def check_video_id(video_id: object) -> str:
    """`video_id` if it is a valid id, else InvalidVideoId: the one decision on ids."""
    if not isinstance(video_id, str) or not VIDEO_ID_PATTERN.fullmatch(video_id):
        shown = printable(video_id) if isinstance(video_id, str) else repr(video_id)
        raise InvalidVideoId(f"{shown!r} is not a video id (lower-case letters, digits and '-', at most 81)")
    return video_id


def is_video_id(video_id: object) -> bool:
    return isinstance(video_id, str) and VIDEO_ID_PATTERN.fullmatch(video_id) is not None


def user_dir(env: str, kind: str) -> Path:
    """The folder named by `env` if set, else the user's data or cache dir for the app."""
    value = os.environ.get(env)
    if value:
        return Path(value).expanduser()
    where = platformdirs.user_cache_dir if kind == "cache" else platformdirs.user_data_dir
    return Path(where("interview-index"))


def default_library() -> Path:
    return user_dir(ENV_LIBRARY, "data")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Content identity: the same bytes under another name are the same video."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def slug(text: str, max_len: int = 40) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return text[:max_len].strip("-") or "video"


def make_video_id(path: Path, sha256: str) -> str:
    """Readable and content-derived: `htp-interview-3fa9c2d1`."""
    return f"{slug(path.stem)}-{sha256[:8]}"


def path_key(path: str | Path) -> str:
    """Job key for a file that failed before its content could be hashed."""
    return "path-" + hashlib.sha1(os.fsencode(Path(path).absolute())).hexdigest()[:16]


def content_key(sha256: str) -> str:
    """Lock key of a file's content: two names of the same bytes share it."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise InvalidVideoId(f"{sha256!r} is not a SHA-256 digest")
    return "sha-" + sha256[:32]


def _cause(e: BaseException) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


@dataclass
class Job:
    key: str  # video id, or path_key() for files that never got one
    path: str
    status: str = "pending"  # pending | running | done | failed | interrupted
    stage: str = ""  # the last stage started
    video_id: str | None = None
    sha256: str | None = None
    error: str | None = None
    updated: str = field(default_factory=now)
    note: str | None = None


_JOB_FIELDS = {f.name for f in fields(Job)}


@dataclass
class Entry:
    """What a name given on the command line refers to: a transcript, a job record, or both.

    `how` says how the name matched: "id", "path" (the original file),
    "prefix" (of an id) or "content" (a file with the same bytes).
    """

    key: str
    how: str = "id"
    transcript: Transcript | None = None
    job: Job | None = None
    damage: list[DamagedFileError] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The original file, for messages."""
        if self.transcript is not None:
            return self.transcript.path
        if self.job is not None:
            return self.job.path
        return str(self.damage[0].path) if self.damage else ""

    @property
    def sha256(self) -> str | None:
        for sha in (self.transcript and self.transcript.sha256, self.job and self.job.sha256):
            if sha and re.fullmatch(r"[0-9a-f]{64}", sha):
                return sha
        return None


class Library:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root else default_library()

    # -- paths --------------------------------------------------------------
    @property
    def transcripts_dir(self) -> Path:
        return self.root / "transcripts"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    @property
    def people_dir(self) -> Path:
        """Known people and every video's speaker voices (biometric data: `people forget` deletes them)."""
        return self.root / "people"

    @property
    def work_dir(self) -> Path:
        return self.root / "work"

    @property
    def locks_dir(self) -> Path:
        return self.root / "locks"

    @property
    def glossary_path(self) -> Path:
        return self.root / "glossary.txt"

    def _file(self, directory: Path, key: str, suffix: str) -> Path:
        """DIRECTORY/KEY+SUFFIX for a validated key, refused unless it resolves inside the library."""
        path = directory / f"{check_video_id(key)}{suffix}"
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise InvalidVideoId(f"{printable(path)} resolves outside the library {printable(self.root)}")
        return path

    def transcript_path(self, video_id: str) -> Path:
        return self._file(self.transcripts_dir, video_id, ".json")

    def asr_path(self, video_id: str) -> Path:
        return self._file(self.work_dir, video_id, ".asr.json")

    def job_path(self, key: str) -> Path:
        return self._file(self.jobs_dir, key, ".json")

    def lock_path(self, key: str) -> Path:
        return self._file(self.locks_dir, key, ".lock")

    def ensure(self) -> Library:
        for d in (self.transcripts_dir, self.jobs_dir, self.work_dir, self.locks_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self

    # -- transcripts --------------------------------------------------------
    def has_transcript(self, video_id: str) -> bool:
        """A readable transcript is saved: a damaged one counts as none, so ingest makes it again."""
        try:
            self.load_transcript(video_id)
        except LookupError:
            return False
        return True

    def load_transcript(self, video_id: str) -> Transcript:
        """The saved transcript; DamagedFileError if it is unreadable or names another video."""
        path = self.transcript_path(video_id)
        try:
            t = Transcript.load(path)
        except FileNotFoundError:
            raise NotFoundError(f"{video_id}: no such video in the library {printable(self.root)}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise DamagedFileError(path, _cause(e), video_id) from e
        if not is_video_id(t.video_id):
            raise DamagedFileError(path, f"its video_id {t.video_id!r} is not a valid id", video_id)
        if t.video_id != video_id:
            raise DamagedFileError(path, f"it names video {t.video_id}, not {video_id}", video_id)
        return t

    def save_transcript(self, transcript: Transcript) -> None:
        write_json_atomic(self.transcript_path(transcript.video_id), transcript.to_dict())

    def transcripts(self, damaged: list[DamagedFileError] | None = None) -> Iterator[Transcript]:
        """Every readable transcript; damaged files are skipped and appended to `damaged`."""
        if not self.transcripts_dir.is_dir():
            return
        for p in sorted(self.transcripts_dir.glob("*.json")):
            if not is_video_id(p.stem):
                if damaged is not None:
                    damaged.append(DamagedFileError(p, "its name is not a video id; move it out of the library"))
                continue
            try:
                yield self.load_transcript(p.stem)
            except DamagedFileError as e:
                if damaged is not None:
                    damaged.append(e)
            except NotFoundError:
                continue  # removed while we listed

    def video_ids(self) -> list[str]:
        """Ids of the transcript files (damaged ones too; not read)."""
        if not self.transcripts_dir.is_dir():
            return []
        return sorted(p.stem for p in self.transcripts_dir.glob("*.json") if is_video_id(p.stem))

    def keys(self) -> list[str]:
        """Every id `list` can show: transcripts' and job records' (failed files have only the latter)."""
        keys = set(self.video_ids())
        if self.jobs_dir.is_dir():
            keys.update(p.stem for p in self.jobs_dir.glob("*.json") if is_video_id(p.stem))
        return sorted(keys)

    # -- names given by the user ------------------------------------------------
    def entry(self, key: str, how: str = "id") -> Entry:
        """What the library holds under `key`, damaged files included (in `damage`)."""
        e = Entry(check_video_id(key), how)
        if self.transcript_path(key).exists():
            try:
                e.transcript = self.load_transcript(key)
            except DamagedFileError as d:
                e.damage.append(d)
            except NotFoundError:
                pass
        e.job, bad = self._read_job(key)
        if bad is not None:
            e.damage.append(bad)
        return e

    def find(self, ref: str) -> Entry:
        """A video or failed file named by its id, its original path, a unique id prefix, or its bytes."""
        keys = self.keys()
        if ref in keys:
            return self.entry(ref, "id")
        target = os.path.abspath(os.path.expanduser(ref))
        for t in self.transcripts():
            if t.path == target:
                return self.entry(t.video_id, "path")
        for job in self.jobs():
            if job.path == target:
                return self.entry(job.key, "path")
        prefixed = [k for k in keys if k.startswith(ref)] if ref else []
        if len(prefixed) == 1:
            return self.entry(prefixed[0], "prefix")
        if len(prefixed) > 1:
            raise NotFoundError(f"{ref}: ambiguous, matches {', '.join(prefixed)}")
        if os.path.isfile(target):
            sha = file_sha256(Path(target))
            for t in self.transcripts():
                if t.sha256 == sha:
                    return self.entry(t.video_id, "content")
            for job in self.jobs():
                if job.sha256 == sha:
                    return self.entry(job.key, "content")
        raise NotFoundError(f"{ref}: no such video in the library {printable(self.root)} (see `interview-index list`)")

    def resolve(self, ref: str) -> Transcript:
        """The transcript of the video `ref` names (see `find`); an entry without one says why."""
        e = self.find(ref)
        if e.transcript is not None:
            return e.transcript
        if e.damage:
            raise e.damage[0]
        job = e.job
        if job is None:  # removed while we looked
            raise NotFoundError(f"{ref}: no such video in the library {printable(self.root)}")
        if job.status == "failed":
            why = f"its ingest failed: {job.error}" if job.error else "its ingest failed"
        elif job.status == "running" and self.is_locked(e.key):
            why = f"it is being ingested (at {job.stage or 'the start'})"
        else:
            why = f"its ingest stopped at {job.stage or 'the start'}; run ingest again to finish it"
        raise NotFoundError(f"{e.key}: not ingested, {why} (`interview-index remove {e.key}` forgets it)")

    # -- jobs ---------------------------------------------------------------
    def save_job(self, job: Job) -> None:
        job.updated = now()
        write_json_atomic(self.job_path(job.key), asdict(job))

    def _read_job(self, key: str) -> tuple[Job | None, DamagedFileError | None]:
        path = self.job_path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None, None
        except (ValueError, UnicodeDecodeError) as e:
            return None, DamagedFileError(path, _cause(e), key)
        if not isinstance(data, dict):
            return None, DamagedFileError(path, "not a job record", key)
        try:
            job = Job(**{k: v for k, v in data.items() if k in _JOB_FIELDS})
        except TypeError as e:
            return None, DamagedFileError(path, _cause(e), key)
        if job.key != key or (job.video_id is not None and job.video_id != key):
            return None, DamagedFileError(path, f"it names {job.video_id or job.key!r}, not {key}", key)
        return job, None

    def load_job(self, key: str) -> Job | None:
        """The job record, or None when there is none or it is damaged (a new one replaces it)."""
        if not is_video_id(key):
            return None
        return self._read_job(key)[0]

    def jobs(self, damaged: list[DamagedFileError] | None = None) -> list[Job]:
        """Every readable job record; damaged ones are skipped and appended to `damaged`."""
        if not self.jobs_dir.is_dir():
            return []
        out = []
        for p in sorted(self.jobs_dir.glob("*.json")):
            if not is_video_id(p.stem):
                continue
            job, bad = self._read_job(p.stem)
            if job is not None:
                out.append(job)
            elif bad is not None and damaged is not None:
                damaged.append(bad)
        return out

    def drop_job(self, key: str) -> None:
        self.job_path(key).unlink(missing_ok=True)

    # -- locks --------------------------------------------------------------
    @contextmanager
    def file_lock(self, key: str, timeout: float = 0) -> Iterator[bool]:
        """Yields True when this process owns `key`, False when another one kept it for `timeout` s.

        A filelock (flock on POSIX): the kernel drops it with its process, so
        a killed ingest never leaves a stale lock behind.
        """
        path = self.lock_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path, thread_local=False)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    def content_lock(self, sha256: str, timeout: float = 0) -> AbstractContextManager[bool]:
        """The lock of a file's content, whatever its name: the one that ingest and remove take."""
        return self.file_lock(content_key(sha256), timeout)

    def _probe(self, key: str) -> bool:
        """Is `key` locked by someone right now? (Holds it for an instant when free.)"""
        path = self.lock_path(key)
        if not path.exists():
            return False
        lock = FileLock(path, thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return True
        lock.release()
        return False

    def is_locked(self, video_id: str) -> bool:
        """Is a process working on this video (or failed file) now? Tells a live `running` job from a dead one."""
        if not is_video_id(video_id):
            return False
        job = self.load_job(video_id)  # the job record names the content: cheaper than the transcript
        e = Entry(video_id, job=job) if job is not None and job.sha256 else self.entry(video_id)
        sha = e.sha256
        return self._probe(content_key(sha)) if sha else self._probe(video_id)
