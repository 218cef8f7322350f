"""The voiceprint store: who the known people are, and what their voices sound like.

    LIBRARY/people/people.json     known people: id, name, voiceprints, rejected voices
    LIBRARY/people/voices/ID.json  every speaker's voice in video ID (named or not), so a
                                   person named later is found in videos ingested before

A voiceprint is a speaker embedding (192 numbers of CAM++, see
pipeline.speakers.embed): the mean of a speaker's window embeddings in one
recording, kept with the name of the encoder that made it. Vectors of two
encoders live in different spaces and are never compared: a print or a kept
voice of another encoder (those written before encoders were named are
resemblyzer's) stays stored, but matches nothing until the person is
enrolled again (`stale_people`). It is biometric data, kept apart from the
transcripts so that `people forget` and `remove` can delete it and nothing else
holds it. Vectors are written as JSON lists of floats (6 decimals: a cosine
moves by under 1e-5).

people.json is read whole and written whole (atomically) under one file lock,
`edit()`; voices files are per video and written by the ingest that holds the
video's lock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_json_atomic
from ..errors import InterviewIndexError
from ..library import DamagedFileError, Library, check_video_id, now
from ..speakers.embed import ENCODER

LEGACY_ENCODER = "resemblyzer"  # the encoder of prints and voices kept before encoders were named

STORE_VERSION = 1
LOCK_KEY = "people"  # LIBRARY/locks/people.lock
LOCK_WAIT_S = 10.0


class PeopleBusyError(InterviewIndexError):
    """Another process held the people store for longer than LOCK_WAIT_S."""


def as_vector(values: Any) -> np.ndarray:
    """A unit float32 vector (a voice is compared by cosine, i.e. a dot product of unit vectors)."""
    v = np.asarray(values, np.float32).reshape(-1)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _listed(v: np.ndarray) -> list[float]:
    return [round(float(x), 6) for x in v]


@dataclass
class Print:
    """One voice of a person: heard as speaker `label` of `video`."""

    video: str
    label: str
    vector: np.ndarray
    added: str = field(default_factory=now)
    encoder: str = ENCODER  # the speaker encoder that made `vector`

    def to_dict(self) -> dict[str, Any]:
        return {"video": self.video, "label": self.label, "added": self.added, "encoder": self.encoder,
                "vector": _listed(self.vector)}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Print:
        return cls(str(d["video"]), str(d["label"]), as_vector(d["vector"]), str(d.get("added", "")),
                   str(d.get("encoder", LEGACY_ENCODER)))  # fmt: skip


@dataclass
class Person:
    id: str
    name: str
    prints: list[Print] = field(default_factory=list)  # voices confirmed to be this person
    rejected: list[Print] = field(default_factory=list)  # voices the user said are not this person
    created: str = field(default_factory=now)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created": self.created,
                "prints": [p.to_dict() for p in self.prints],
                "rejected": [p.to_dict() for p in self.rejected]}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Person:
        return cls(str(d["id"]), str(d["name"]), [Print.from_dict(p) for p in d.get("prints", [])],
                   [Print.from_dict(p) for p in d.get("rejected", [])], str(d.get("created", "")))  # fmt: skip


def new_person(name: str) -> Person:
    return Person("p-" + uuid.uuid4().hex[:12], " ".join(name.split()))


@dataclass
class Voice:
    """A speaker's voice in one video: unit mean embedding, and how many 1.6 s windows it averages."""

    vector: np.ndarray
    windows: int
    encoder: str = ENCODER  # the speaker encoder that made `vector`


class PeopleStore:
    def __init__(self, library: Library):
        self.library = library
        self.root = library.people_dir

    @property
    def people_path(self) -> Path:
        return self.root / "people.json"

    @property
    def voices_dir(self) -> Path:
        return self.root / "voices"

    def voices_path(self, video_id: str) -> Path:
        """LIBRARY/people/voices/ID.json, for an id the library accepts (never a path of the user's making)."""
        return self.voices_dir / f"{check_video_id(video_id)}.json"

    # -- people ----------------------------------------------------------------------
    def load(self) -> dict[str, Person]:
        """Known people by id; none when the store does not exist yet."""
        try:
            data = json.loads(self.people_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (ValueError, UnicodeDecodeError) as e:
            raise DamagedFileError(self.people_path, f"not valid JSON: {e}") from e
        try:
            people = [Person.from_dict(p) for p in data["people"]]
        except (KeyError, TypeError, ValueError) as e:
            raise DamagedFileError(self.people_path, f"not a people store ({type(e).__name__}: {e})") from e
        return {p.id: p for p in people}

    def save(self, people: dict[str, Person]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = {"version": STORE_VERSION, "people": [p.to_dict() for p in people.values()]}
        write_json_atomic(self.people_path, data)

    @contextmanager
    def edit(self) -> Iterator[dict[str, Person]]:
        """The people, to change: saved on leaving the block without an error, under the store's lock."""
        with self.library.file_lock(LOCK_KEY, timeout=LOCK_WAIT_S) as owned:
            if not owned:
                raise PeopleBusyError(f"{self.people_path}: in use by another process; try again")
            people = self.load()
            yield people
            self.save(people)

    # -- every speaker's voice, per video ----------------------------------------------
    def voices(self, video_id: str) -> dict[str, Voice]:
        """The voices of video_id's speakers by label; none for a video ingested before voices were kept."""
        path = self.voices_path(video_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            encoder = str(data.get("encoder", LEGACY_ENCODER))
            return {k: Voice(as_vector(v["vector"]), int(v.get("windows", 0)), encoder)
                    for k, v in data["speakers"].items()}  # fmt: skip
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            return {}  # damaged: as if never kept; the next ingest --force writes it again

    def save_voices(self, video_id: str, voices: dict[str, Voice]) -> None:
        speakers = {k: {"windows": v.windows, "vector": _listed(v.vector)} for k, v in voices.items()}
        encoders = {v.encoder for v in voices.values()} or {ENCODER}
        if len(encoders) > 1:
            raise ValueError(f"{video_id}: voices of several encoders ({', '.join(sorted(encoders))})")
        path = self.voices_path(video_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {"video": video_id, "encoder": encoders.pop(), "speakers": speakers})

    def drop_voices(self, video_id: str, labels: set[str] | None = None) -> None:
        """Delete the kept voices of a video (all, or only `labels`)."""
        if labels is None:
            self.voices_path(video_id).unlink(missing_ok=True)
            return
        voices = self.voices(video_id)
        if labels & set(voices):
            self.save_voices(video_id, {k: v for k, v in voices.items() if k not in labels})


def stale_people(people: dict[str, Person], encoder: str = ENCODER) -> list[Person]:
    """People with voiceprints, none of them by `encoder`: they match nobody until enrolled again."""
    return [p for p in people.values() if p.prints and not any(x.encoder == encoder for x in p.prints)]


def stale_note(people: dict[str, Person], encoder: str = ENCODER) -> str | None:
    """The one line telling the user which people need enrolling again, or None."""
    stale = stale_people(people, encoder)
    if not stale:
        return None
    names = ", ".join(sorted(p.name for p in stale)[:5]) + (", ..." if len(stale) > 5 else "")
    olds = sorted({x.encoder for p in stale for x in p.prints})
    return (
        f"note: {len(stale)} known {'person has' if len(stale) == 1 else 'people have'} only voiceprints of an "
        f"older speaker encoder ({', '.join(olds)}), not compared with {encoder} voices: {names}; re-ingest one of "
        f"their videos with --force, or name them again with `speakers VIDEO --rename LABEL=NAME`"
    )
