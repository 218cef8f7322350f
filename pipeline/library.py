"""The library folder: the one place that decides where everything lives.

LIBRARY/
  transcripts/ID.json   saved transcripts, the source of truth
  index/                whoosh index, derived; `reindex` rebuilds it
  jobs/KEY.json         per-file ingest state (stage, status, error)
  work/ID.asr.json      finished transcription of a file not yet saved
  locks/ID.lock         held while a process works on a file
  glossary.txt          library-wide glossary, one term a line
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import platformdirs

from .atomic import write_json_atomic
from .transcript import Transcript

ENV_LIBRARY = "INTERVIEW_INDEX_LIBRARY"


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
    def work_dir(self) -> Path:
        return self.root / "work"

    @property
    def locks_dir(self) -> Path:
        return self.root / "locks"

    @property
    def glossary_path(self) -> Path:
        return self.root / "glossary.txt"

    def transcript_path(self, video_id: str) -> Path:
        return self.transcripts_dir / f"{video_id}.json"

    def asr_path(self, video_id: str) -> Path:
        return self.work_dir / f"{video_id}.asr.json"

    def ensure(self) -> Library:
        for d in (self.transcripts_dir, self.jobs_dir, self.work_dir, self.locks_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self

    # -- transcripts --------------------------------------------------------
    def has_transcript(self, video_id: str) -> bool:
        return self.transcript_path(video_id).is_file()

    def load_transcript(self, video_id: str) -> Transcript:
        return Transcript.load(self.transcript_path(video_id))

    def save_transcript(self, transcript: Transcript) -> None:
        write_json_atomic(self.transcript_path(transcript.video_id), transcript.to_dict())

    def transcripts(self) -> Iterator[Transcript]:
        if not self.transcripts_dir.is_dir():
            return
        for p in sorted(self.transcripts_dir.glob("*.json")):
            yield Transcript.load(p)

    def video_ids(self) -> list[str]:
        if not self.transcripts_dir.is_dir():
            return []
        return sorted(p.stem for p in self.transcripts_dir.glob("*.json"))

    def resolve(self, ref: str) -> Transcript:
        """A video named by its id, a unique id prefix, or its original path."""
        ids = self.video_ids()
        if ref in ids:
            return self.load_transcript(ref)
        target = str(Path(ref).expanduser().absolute())
        by_path = [t for t in self.transcripts() if t.path == target]
        if by_path:
            return by_path[0]
        prefixed = [i for i in ids if i.startswith(ref)]
        if len(prefixed) == 1:
            return self.load_transcript(prefixed[0])
        if len(prefixed) > 1:
            raise LookupError(f"{ref}: ambiguous, matches {', '.join(prefixed)}")
        if Path(ref).is_file():
            sha = file_sha256(Path(ref))
            for t in self.transcripts():
                if t.sha256 == sha:
                    return t
        raise LookupError(f"{ref}: no such video in the library {self.root} (see `interview-index list`)")

    # -- jobs ---------------------------------------------------------------
    def job_path(self, key: str) -> Path:
        return self.jobs_dir / f"{key}.json"

    def save_job(self, job: Job) -> None:
        job.updated = now()
        write_json_atomic(self.job_path(job.key), asdict(job))

    def load_job(self, key: str) -> Job | None:
        p = self.job_path(key)
        if not p.is_file():
            return None
        return Job(**json.loads(p.read_text(encoding="utf-8")))

    def jobs(self) -> list[Job]:
        if not self.jobs_dir.is_dir():
            return []
        out = []
        for p in sorted(self.jobs_dir.glob("*.json")):
            try:
                out.append(Job(**json.loads(p.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError):
                continue  # a job file being replaced right now
        return out

    def drop_job(self, key: str) -> None:
        self.job_path(key).unlink(missing_ok=True)

    # -- locks --------------------------------------------------------------
    @contextmanager
    def file_lock(self, key: str) -> Iterator[bool]:
        """Yields True when this process owns the file, False when another one does.

        flock locks vanish with their process, so a killed ingest never
        leaves a stale lock behind.
        """
        self.locks_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.locks_dir / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
