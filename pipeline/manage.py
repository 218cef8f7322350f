"""Library operations behind `list`, `speakers` and `remove`: callable from Python too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .library import Library
from .transcript import Transcript


def list_videos(library: Library) -> list[dict[str, Any]]:
    """Every video the library knows: ingested ones and the ones that failed or stopped."""
    rows: dict[str, dict[str, Any]] = {}
    for t in library.transcripts():
        rows[t.video_id] = {
            "video": t.video_id,
            "path": t.path,
            "state": "done",
            "duration": t.duration,
            "language": t.language,
            "speakers": [s.display for s in t.speakers],
            "segments": len(t.segments),
            "engine": t.engine,
            "model": t.model,
            "error": None,
        }
    for job in library.jobs():
        key = job.video_id or job.key
        if key in rows:
            if job.status != "done":
                rows[key]["state"] = job.status
            continue
        state = job.status
        if state == "running":
            with library.file_lock(job.key) as free:
                state = "interrupted" if free else "running"
        rows[key] = {
            "video": job.video_id,
            "path": job.path,
            "state": state,
            "stage": job.stage or None,
            "duration": None,
            "language": None,
            "speakers": [],
            "segments": 0,
            "engine": None,
            "model": None,
            "error": job.error,
        }
    return sorted(rows.values(), key=lambda r: (r["state"] != "done", r["path"]))


@dataclass
class SpeakerStats:
    label: str
    name: str
    talk_time: float
    segments: int
    first_words: str


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
            )
        )
    return out


def rename_speakers(library: Library, transcript: Transcript, names: dict[str, str]) -> Transcript:
    """Name speakers (by label or current name); saved, then the index updated at once."""
    for key, name in names.items():
        sp = transcript.find_speaker(key)
        if sp is None:
            known = ", ".join(s.label + (f" ({s.name})" if s.name else "") for s in transcript.speakers)
            raise LookupError(f"{transcript.video_id}: no speaker {key!r}; speakers are {known or 'none'}")
        sp.name = name.strip() or None
    library.save_transcript(transcript)
    from index.writer import add_transcript

    add_transcript(library.index_dir, transcript)
    return transcript
