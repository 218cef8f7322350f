"""Library operations behind `list`, `speakers`, `remove` and `reindex`: callable from Python too.

Damaged files are never fatal here: `list` shows them as "damaged" rows,
`reindex` leaves them out and returns them, `remove` deletes them. A video
is removed under the lock of its content, the one ingest holds, so a removal
never races an ingest of the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import InterviewIndexError, printable
from .library import DamagedFileError, Entry, Library
from .transcript import Transcript

LOCK_WAIT_S = 2.0  # how long remove waits for the lock of a video (a `list` probe holds it for an instant)


class BusyError(InterviewIndexError):
    """Another process is working on the video right now."""


def _row(video: str | None, path: str, state: str, error: str | None = None, **kw: Any) -> dict[str, Any]:
    row = {"video": video, "path": path, "state": state, "stage": None, "duration": None, "language": None,
           "speakers": [], "segments": 0, "engine": None, "model": None, "error": error}  # fmt: skip
    row.update(kw)
    return row


def list_videos(library: Library) -> list[dict[str, Any]]:
    """Every video the library knows: ingested ones, the ones that failed or stopped, damaged files.

    Every `video` shown is an id each command accepts (`remove` forgets a failed or damaged one).
    """
    rows: dict[str, dict[str, Any]] = {}
    damaged: list[DamagedFileError] = []
    for t in library.transcripts(damaged):
        rows[t.video_id] = _row(
            t.video_id, t.path, "done", duration=t.duration, language=t.language,
            speakers=[s.display for s in t.speakers], segments=len(t.segments), engine=t.engine, model=t.model,
        )  # fmt: skip
    for d in damaged:
        rows[d.key or str(d.path)] = _row(d.key, str(d.path), "damaged", str(d))
    job_damage: list[DamagedFileError] = []
    for job in library.jobs(job_damage):
        state = job.status
        if state == "running" and not library.is_locked(job.key):
            state = "interrupted"  # its process is gone
        if job.key in rows:
            if rows[job.key]["state"] == "done" and state != "done":
                rows[job.key]["state"] = state
            continue
        rows[job.key] = _row(job.key, job.path, state, job.error, stage=job.stage or None)
    for d in job_damage:
        rows.setdefault(d.key or str(d.path), _row(d.key, str(d.path), "damaged", str(d)))
    return sorted(rows.values(), key=lambda r: (r["state"] != "done", r["path"]))


@dataclass
class SpeakerStats:
    label: str
    name: str
    talk_time: float
    segments: int
    first_words: str
    state: str | None = None  # the name's: suggested (matched by voice) or confirmed; None: unnamed
    similarity: float | None = None  # cosine of the voice to the person's voiceprints, when matched


def speaker_stats(transcript: Transcript, first_words: int = 12) -> list[SpeakerStats]:
    out = []
    for sp in transcript.speakers:
        segs = [s for s in transcript.segments if s.speaker == sp.label]
        words = [w.word for s in segs for w in s.words][:first_words]
        out.append(
            SpeakerStats(
                label=sp.label,
                name=sp.display,
                talk_time=round(sum(s.end - s.start for s in segs), 1),
                segments=len(segs),
                first_words=" ".join(words),
                state=sp.name_state,
                similarity=sp.similarity,
            )
        )
    return out


def rename_speakers(library: Library, transcript: Transcript, names: dict[str, str]) -> Transcript:
    """Name speakers (by label or current name): each name is a known person with this voice among
    their prints (pipeline.people); saved, then the index updated at once."""
    from .people import name_speakers

    return name_speakers(library, transcript, names).transcript


# -- remove ------------------------------------------------------------------------


def remove_entry(library: Library, entry: Entry, wait: float = LOCK_WAIT_S) -> None:
    """Delete every trace of a video or failed file: index entries, transcript, work file, job record.

    Index entries go first: a transcript without index entries is repaired by
    `reindex`; index entries without a transcript would be orphans. Taken
    under the content's lock, so it never races an ingest of the same bytes.
    """
    sha = entry.sha256
    lock = library.content_lock(sha, wait) if sha else library.file_lock(entry.key, wait)
    with lock as owned:
        if not owned:
            raise BusyError(f"{entry.key}: being ingested by another process; try again when it has finished")
        _remove_files(library, entry.key)


def remove_video(library: Library, video_id: str, wait: float = LOCK_WAIT_S) -> None:
    """`remove_entry` for a video id."""
    remove_entry(library, library.entry(video_id), wait)


def _remove_files(library: Library, key: str) -> None:
    from index.errors import IndexDamagedError, IndexVersionError
    from index.writer import remove_video as remove_from_index

    try:
        remove_from_index(library.index_dir, key)
    except (IndexDamagedError, IndexVersionError):
        pass  # the index must be rebuilt anyway, and a rebuild reads only the transcripts left
    library.transcript_path(key).unlink(missing_ok=True)
    library.asr_path(key).unlink(missing_ok=True)
    from .people import PeopleStore

    PeopleStore(library).drop_voices(key)  # its speakers' voices (people's prints stay until `people forget`)
    library.drop_job(key)


# -- the index against the transcripts ----------------------------------------------


@dataclass
class ReindexResult:
    videos: int
    damaged: list[DamagedFileError] = field(default_factory=list)


def reindex(library: Library) -> ReindexResult:
    """Rebuild the whole index from the saved transcripts (also upgrades its schema); damaged ones are left out."""
    from index.writer import rebuild

    from .asr import default_threads

    damaged: list[DamagedFileError] = []
    # Two writer processes build a 30k-segment index in 0.40x the time (bench/bench_index.py);
    # for a handful of videos, starting them costs more than it saves.
    procs = min(2, default_threads()) if len(library.video_ids()) >= 20 else 1
    n = rebuild(
        library.index_dir,
        library.transcripts(damaged),
        procs=procs,
        skipped=lambda: {d.key: d.cause for d in damaged if d.key},
    )
    return ReindexResult(n, damaged)


def index_problem(library: Library) -> str | None:
    """None when the index holds exactly the saved transcripts' videos, else one line saying what is wrong.

    Cheap enough to run before every search: it reads the index's record and
    lists transcripts/ without reading them. Videos a process is working on
    right now (saved but not indexed yet, or being removed) are not counted
    as missing; videos a rebuild left out as damaged are not either.
    """
    from index.store import REINDEX_ADVICE as fix
    from index.store import check

    state = check(library.index_dir)
    if state.problem:
        return state.problem
    ids = set(library.video_ids())
    missing = sorted(v for v in ids - set(state.videos) - set(state.skipped) if not library.is_locked(v))
    orphans = sorted(v for v in set(state.videos) - ids if not library.is_locked(v))
    where = printable(library.index_dir)
    if missing and not state.exists:
        return f"{where}: the index is missing ({len(ids)} saved transcripts); {fix}"
    if missing:
        return f"{where}: the index lacks {len(missing)} of {len(ids)} videos ({_some(missing)}); {fix}"
    if orphans:
        return f"{where}: the index holds {len(orphans)} videos with no transcript ({_some(orphans)}); {fix}"
    return None


def _some(ids: list[str], n: int = 3) -> str:
    return ", ".join(ids[:n]) + (f" and {len(ids) - n} more" if len(ids) > n else "")
