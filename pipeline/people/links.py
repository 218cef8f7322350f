"""A speaker's link to a person, and the transcripts that carry it: what every people command shares.

The transcript is the source of truth for who speaks in a video: a speaker
linked to a person carries the person's id, name, state (suggested or
confirmed) and similarity, so the index, exports and web page show the
person's name without reading the people store. Every operation first
changes the people store (pipeline.people.store), then each affected
transcript under its video's lock, saved and re-indexed at once; `people
match` repairs transcripts that an interrupted operation left behind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from ..library import Library
from ..transcript import Speaker, Transcript
from .store import PeopleBusyError, Person, Print, Voice

LOCK_WAIT_S = 5.0  # how long an operation waits for a video an ingest holds


# -- a speaker's link ------------------------------------------------------------------
def _link(sp: Speaker, person: Person, state: str, score: float | None) -> None:
    sp.person, sp.name, sp.state = person.id, person.name, state
    sp.similarity = None if score is None else round(float(score), 4)


def _unlink(sp: Speaker) -> None:
    sp.person = sp.name = sp.state = sp.similarity = None


def _add_print(person: Person, video: str, label: str, voice: Voice | None) -> bool:
    """Keep this voice as one of the person's prints (once per video, label and encoder)."""
    if voice is None or any(p.video == video and p.label == label and p.encoder == voice.encoder
                            for p in person.prints):  # fmt: skip
        return False
    person.prints.append(Print(video, label, voice.vector, encoder=voice.encoder))
    return True


def _drop_prints(person: Person, video: str, label: str) -> None:
    person.prints = [p for p in person.prints if not (p.video == video and p.label == label)]


def _talk_time(t: Transcript, label: str) -> float:
    return round(sum(s.end - s.start for s in t.segments if s.speaker == label), 1)


def speaker_row(t: Transcript, sp: Speaker) -> dict[str, Any]:
    """A speaker of a video as every --json shows it."""
    return {"video": t.video_id, "path": t.path, "speaker_label": sp.label, "speaker": sp.display,
            "speaker_state": sp.name_state, "similarity": sp.similarity,
            "talk_time": _talk_time(t, sp.label)}  # fmt: skip


# -- finding people by name ------------------------------------------------------------
def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def name_matches(name: str, wanted: str) -> bool:
    """`wanted` is the full name or a run of its words ("Okunev", "alexander okunev"), any case."""
    have, want = _words(name), _words(wanted)
    if not want:
        return False
    return any(have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1))


def find_person(people: dict[str, Person], wanted: str) -> Person:
    """The person `wanted` names: full name or id, else the one person a part of whose name it is."""
    key = " ".join(wanted.split()).casefold()
    exact = [p for p in people.values() if p.name.casefold() == key or p.id == wanted.strip()]
    if exact:
        return exact[0]
    parts = [p for p in people.values() if name_matches(p.name, wanted)]
    if len(parts) == 1:
        return parts[0]
    if parts:
        names = ", ".join(p.name for p in parts)
        raise LookupError(f"{wanted!r} names {len(parts)} people: {names}; give the full name")
    known = ", ".join(sorted(p.name for p in people.values())) or "none yet"
    raise LookupError(f"no person {wanted!r} (known people: {known})")


def _by_name(people: dict[str, Person], name: str) -> Person | None:
    key = name.casefold()
    return next((p for p in people.values() if p.name.casefold() == key), None)


# -- transcripts, changed under their video's lock ---------------------------------------
def _update(library: Library, video_id: str, change: Callable[[Transcript], bool]) -> Transcript | None:
    """Load, change and (when `change` says it changed) save and re-index one video, holding its lock."""
    from index.writer import add_transcript

    try:
        sha = library.load_transcript(video_id).sha256
    except LookupError:
        return None  # removed meanwhile, or damaged: nothing to relink
    lock = library.content_lock(sha, LOCK_WAIT_S) if re.fullmatch(r"[0-9a-f]{64}", sha or "") else (
        library.file_lock(video_id, LOCK_WAIT_S))  # fmt: skip
    with lock as owned:
        if not owned:
            raise PeopleBusyError(f"{video_id}: being ingested by another process; run the command again after it")
        t = library.load_transcript(video_id)
        if change(t):
            library.save_transcript(t)
            add_transcript(library.index_dir, t)
        return t


def _linked_videos(library: Library, person_ids: Iterable[str]) -> list[str]:
    ids = set(person_ids)
    return [t.video_id for t in library.transcripts() if any(sp.person in ids for sp in t.speakers)]


def _relink_everywhere(library: Library, people: dict[str, Person], videos: list[str],
                       rename: dict[str, str] | None = None) -> None:  # fmt: skip
    """Make every speaker of `videos` agree with the store: ids in `rename` moved to their new person,
    names copied from the person, links to people who are gone removed."""
    rename = rename or {}

    def change(t: Transcript) -> bool:
        before = [(s.person, s.name, s.state) for s in t.speakers]
        for sp in t.speakers:
            if sp.person in rename:
                sp.person = rename[sp.person]
            if sp.person is None:
                continue
            person = people.get(sp.person)
            if person is None:
                _unlink(sp)
            else:
                sp.name = person.name
        return before != [(s.person, s.name, s.state) for s in t.speakers]

    for vid in videos:
        _update(library, vid, change)
