"""What users do with people: name a voice, confirm, reject, merge, rename, forget, match, list.

The transcript is the source of truth for who speaks in a video: a speaker
linked to a person carries the person's id, name, state (suggested or
confirmed) and similarity, so the index, exports and web page show the
person's name without reading the people store. Every operation here first
changes the people store (pipeline.people.store), then each affected
transcript under its video's lock, saved and re-indexed at once; `people
match` repairs transcripts that an interrupted operation left behind.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..library import DamagedFileError, Library, is_video_id
from ..transcript import CONFIRMED, SUGGESTED, Speaker, Transcript
from .match import THRESHOLD, best_matches, confirmed_print, similarity
from .store import PeopleBusyError, PeopleStore, Person, Print, Voice, new_person

LOCK_WAIT_S = 5.0  # how long an operation waits for a video an ingest holds


# -- a speaker's link ------------------------------------------------------------------
def _link(sp: Speaker, person: Person, state: str, score: float | None) -> None:
    sp.person, sp.name, sp.state = person.id, person.name, state
    sp.similarity = None if score is None else round(float(score), 4)


def _unlink(sp: Speaker) -> None:
    sp.person = sp.name = sp.state = sp.similarity = None


def _add_print(person: Person, video: str, label: str, voice: Voice | None) -> bool:
    """Keep this voice as one of the person's prints (once per video and label)."""
    if voice is None or any(p.video == video and p.label == label for p in person.prints):
        return False
    person.prints.append(Print(video, label, voice.vector))
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


# -- naming a voice (`speakers VIDEO --rename LABEL=Name`) --------------------------------
@dataclass
class Named:
    transcript: Transcript
    without_voice: list[str] = field(default_factory=list)  # labels named with no voiceprint kept


def name_speakers(library: Library, transcript: Transcript, names: dict[str, str]) -> Named:
    """Name speakers (by label or current name): each name is a known person, made if new.

    The speaker's voice becomes one of the person's prints; a name given to a
    voice suggested as someone else rejects that suggestion; an empty name
    unlinks the speaker (and rejects what was suggested). Saved and
    re-indexed at once.
    """
    store = PeopleStore(library)
    vid = transcript.video_id
    voices = store.voices(vid)
    out = Named(transcript)
    targets = []
    for key, name in names.items():
        sp = transcript.find_speaker(key)
        if sp is None:
            known = ", ".join(s.label + (f" ({s.name})" if s.name else "") for s in transcript.speakers)
            raise LookupError(f"{vid}: no speaker {key!r}; speakers are {known or 'none'}")
        targets.append((sp, " ".join(name.split())))
    with store.edit() as people:
        for sp, name in targets:
            voice = voices.get(sp.label)
            old = people.get(sp.person) if sp.person else None
            if old is not None and name.casefold() == old.name.casefold():
                _add_print(old, vid, sp.label, voice)
                _link(sp, old, CONFIRMED, sp.similarity)
                continue
            if old is not None:
                _drop_prints(old, vid, sp.label)
                if sp.state == SUGGESTED and voice is not None:
                    old.rejected.append(Print(vid, sp.label, voice.vector))
            if not name:
                _unlink(sp)
                continue
            person = _by_name(people, name)
            if person is None:
                person = new_person(name)
                people[person.id] = person
            score = similarity(voice.vector, person) if voice is not None and person.prints else None
            _add_print(person, vid, sp.label, voice)
            _link(sp, person, CONFIRMED, score)
            for other in transcript.speakers:  # the user's word outranks a guess on another voice of this video
                if other is not sp and other.person == person.id and other.state == SUGGESTED:
                    _unlink(other)
            if voice is None:
                out.without_voice.append(sp.label)
    library.save_transcript(transcript)
    from index.writer import add_transcript

    add_transcript(library.index_dir, transcript)
    return out


# -- after an ingest: the links made again, new voices matched ----------------------------------
def link_after_ingest(library: Library, transcript: Transcript, turns: Any,
                      warn: Callable[[str], None] | None = None) -> None:  # fmt: skip
    """Called by ingest between diarization and saving: keeps every speaker's voice, and links speakers.

    - a voice the user named or confirmed before in this video (a re-ingest,
      `--force`, another engine or model) is that person again, confirmed:
      found by voice, since labels can change;
    - other voices that sound like a known person are suggested;
    - a link or a plain name of the previous transcript that the voice did
      not decide is carried over by label (videos ingested before voices were kept).

    A damaged people store does not fail the ingest: the voices are kept, nobody
    is matched, and `warn` says so (the `people` commands name the file).
    """
    from .voices import transcript_voices

    store = PeopleStore(library)
    vid = transcript.video_id
    voices = transcript_voices(transcript.segments, turns) if turns is not None else {}
    if voices:
        store.save_voices(vid, voices)
    else:
        store.drop_voices(vid)  # stale: the labels they were kept under are gone
    try:
        old = library.load_transcript(vid)
    except LookupError:
        old = None
    old_by_person = {s.person: s for s in old.speakers if s.person} if old else {}
    damaged = False
    try:
        people = store.load()
    except DamagedFileError as e:
        if warn is not None:
            warn(f"warning: {e}; {vid}'s speakers were not matched to known people")
        people, damaged = {}, True
    by_label = {s.label: s for s in transcript.speakers}
    taken: dict[str, str] = {}
    moved: list[tuple[str, Print, str]] = []  # (person, print, new label): prints follow relabelled voices
    for label, voice in voices.items():
        found = [(p, pr) for p in people.values() if (pr := confirmed_print(p, vid, voice.vector)) is not None]
        if not found:
            continue
        person, pr = max(found, key=lambda x: float(x[1].vector @ voice.vector))
        if person.id in taken.values():
            continue
        before = old_by_person.get(person.id)
        _link(by_label[label], person, CONFIRMED, before.similarity if before else None)
        taken[label] = person.id
        if pr.label != label:
            moved.append((person.id, pr, label))
    if old is not None:  # what the voices could not decide: by label, as before voices were kept
        for osp in old.speakers:
            sp = by_label.get(osp.label)
            if sp is None or sp.label in taken or not (osp.name or osp.person):
                continue
            if osp.person and damaged:  # the store cannot say who they are: the links stay as they were
                sp.person, sp.name, sp.state, sp.similarity = osp.person, osp.name, osp.state, osp.similarity
                taken[sp.label] = osp.person
            elif osp.person:
                person = people.get(osp.person)
                if person is None or person.id in taken.values() or (voices and osp.state == SUGGESTED):
                    continue
                _link(sp, person, osp.state or CONFIRMED, osp.similarity)
                taken[sp.label] = person.id
            else:
                sp.name = osp.name
                taken[sp.label] = ""
    for m in best_matches(vid, voices, people, taken):
        _link(by_label[m.label], people[m.person], SUGGESTED, m.similarity)
    if moved:
        with store.edit() as fresh:
            for pid, pr, label in moved:
                for p in fresh.get(pid, Person(pid, "")).prints:
                    if p.video == pr.video and p.label == pr.label and p.added == pr.added:
                        p.label = label


# -- people match, confirm, reject -----------------------------------------------------------
@dataclass
class MatchReport:
    suggestions: list[dict[str, Any]] = field(default_factory=list)  # every suggested speaker now
    videos: int = 0  # videos compared
    without_voices: list[str] = field(default_factory=list)  # videos ingested before voices were kept


def match_library(library: Library) -> MatchReport:
    """Compare every speaker not confirmed with the known people, in every video; suggestions updated.

    Confirmed speakers and plain names are left alone; a suggestion whose
    person is gone or no longer matches is withdrawn. Names of linked
    speakers are brought in line with the store on the way.
    """
    store = PeopleStore(library)
    people = store.load()
    report = MatchReport()
    for t0 in list(library.transcripts()):
        vid = t0.video_id
        voices = store.voices(vid)
        if not voices and t0.speakers:
            report.without_voices.append(vid)

        def change(t: Transcript, voices: dict[str, Voice] = voices, vid: str = vid) -> bool:
            before = [(s.person, s.name, s.state, s.similarity) for s in t.speakers]
            taken: dict[str, str] = {}
            for sp in t.speakers:
                if sp.person and sp.person not in people:
                    _unlink(sp)
                if sp.state == SUGGESTED:
                    _unlink(sp)  # decided again below
                elif sp.person:
                    sp.name = people[sp.person].name
                    taken[sp.label] = sp.person
                elif sp.name:
                    taken[sp.label] = ""
            by_label = {s.label: s for s in t.speakers}
            for m in best_matches(vid, {k: v for k, v in voices.items() if k in by_label}, people, taken):
                _link(by_label[m.label], people[m.person], SUGGESTED, m.similarity)
            return before != [(s.person, s.name, s.state, s.similarity) for s in t.speakers]

        t = _update(library, vid, change)
        if t is None:
            continue
        report.videos += 1
        report.suggestions += [speaker_row(t, sp) for sp in t.speakers if sp.state == SUGGESTED]
    return report


def _speaker(library: Library, video: str, label: str) -> tuple[Transcript, Speaker]:
    t = library.resolve(video)
    sp = t.find_speaker(label)
    if sp is None:
        known = ", ".join(s.label + (f" ({s.name})" if s.name else "") for s in t.speakers)
        raise LookupError(f"{t.video_id}: no speaker {label!r}; speakers are {known or 'none'}")
    return t, sp


def confirm(library: Library, video: str, label: str) -> dict[str, Any]:
    """The suggested name of LABEL in VIDEO is right: confirmed, and the voice added to the person's prints."""
    t, sp = _speaker(library, video, label)
    if not sp.person:
        raise LookupError(f"{t.video_id}: {sp.label} has no suggested name to confirm "
                          f"(`interview-index speakers {t.video_id} --rename {sp.label}=NAME` names it)")  # fmt: skip
    store = PeopleStore(library)
    voice = store.voices(t.video_id).get(sp.label)
    pid, label_ = sp.person, sp.label
    with store.edit() as people:
        person = people.get(pid)
        if person is None:
            raise LookupError(f"{t.video_id}: {sp.label} is linked to a person who was forgotten; run `people match`")
        _add_print(person, t.video_id, label_, voice)

    def change(t: Transcript) -> bool:
        s = next((x for x in t.speakers if x.label == label_ and x.person == pid), None)
        if s is None:
            raise LookupError(f"{t.video_id}: {label_} changed meanwhile; run the command again")
        s.state, s.name = CONFIRMED, person.name
        return True

    t = _update(library, t.video_id, change) or t
    return speaker_row(t, t.find_speaker(label_) or sp)


def reject(library: Library, video: str, label: str) -> dict[str, Any]:
    """LABEL in VIDEO is not the person it is linked to: unlinked, never suggested as them again.

    The speaker may then be suggested as someone else who sounds like them.
    """
    t, sp = _speaker(library, video, label)
    if not sp.person:
        raise LookupError(f"{t.video_id}: {sp.label} is not linked to anyone; nothing to reject")
    store = PeopleStore(library)
    voices = store.voices(t.video_id)
    voice = voices.get(sp.label)
    pid, label_, vid = sp.person, sp.label, t.video_id
    with store.edit() as people:
        person = people.get(pid)
        if person is not None:
            _drop_prints(person, vid, label_)
            if voice is not None:
                person.rejected.append(Print(vid, label_, voice.vector))

    def change(t: Transcript) -> bool:
        s = next((x for x in t.speakers if x.label == label_), None)
        if s is None:
            return False
        _unlink(s)
        taken = {x.label: x.person or "" for x in t.speakers if x.person or x.name}
        by_label = {x.label: x for x in t.speakers}
        mine = {label_: voice} if voice is not None else {}
        for m in best_matches(vid, mine, people, taken):
            _link(by_label[m.label], people[m.person], SUGGESTED, m.similarity)
        return True

    t = _update(library, vid, change) or t
    return speaker_row(t, t.find_speaker(label_) or sp)


# -- merge, rename, forget ---------------------------------------------------------------------
def merge(library: Library, source: str, target: str) -> Person:
    """SOURCE and TARGET are one person: SOURCE's prints, rejections and videos go to TARGET (its name kept)."""
    store = PeopleStore(library)
    with store.edit() as people:
        a, b = find_person(people, source), find_person(people, target)
        if a.id == b.id:
            raise LookupError(f"{source!r} and {target!r} are the same person ({a.name})")
        b.prints += a.prints
        b.rejected += a.rejected
        del people[a.id]
    _relink_everywhere(library, people, _linked_videos(library, [a.id, b.id]), {a.id: b.id})
    return b


def rename_person(library: Library, current: str, new_name: str) -> Person:
    """The person is called NEW_NAME everywhere: every video's speakers, the index, exports, the web page."""
    new_name = " ".join(new_name.split())
    if not new_name:
        raise ValueError("a person's name cannot be empty")
    store = PeopleStore(library)
    with store.edit() as people:
        person = find_person(people, current)
        other = _by_name(people, new_name)
        if other is not None and other.id != person.id:
            raise ValueError(f"{other.name!r} is another known person; `people merge` makes them one")
        person.name = new_name
    _relink_everywhere(library, people, _linked_videos(library, [person.id]))
    return person


def forget(library: Library, name: str) -> Person:
    """Delete a person: their voiceprints and rejections, the kept voices of every speaker linked to
    them, and their name on those speakers (who go back to their labels)."""
    store = PeopleStore(library)
    with store.edit() as people:
        person = find_person(people, name)
        del people[person.id]
    heard: dict[str, set[str]] = {}
    for p in person.prints:
        if is_video_id(p.video):
            heard.setdefault(p.video, set()).add(p.label)
    for t in library.transcripts():
        labels = {s.label for s in t.speakers if s.person == person.id}
        if labels:
            heard.setdefault(t.video_id, set()).update(labels)
    _relink_everywhere(library, people, _linked_videos(library, [person.id]))
    for vid, labels in heard.items():
        store.drop_voices(vid, labels)
    return person


# -- listing ---------------------------------------------------------------------------------
def list_people(library: Library) -> list[dict[str, Any]]:
    """Every known person: the videos they are linked in (state, similarity, talk time), total talk time."""
    people = PeopleStore(library).load()
    rows: dict[str, dict[str, Any]] = {
        p.id: {"name": p.name, "id": p.id, "prints": len(p.prints), "talk_time": 0.0, "videos": []}
        for p in people.values()
    }
    for t in library.transcripts():
        for sp in t.speakers:
            if sp.person in rows:
                row = speaker_row(t, sp)
                rows[sp.person]["videos"].append(row)
                rows[sp.person]["talk_time"] = round(rows[sp.person]["talk_time"] + row["talk_time"], 1)
    return sorted(rows.values(), key=lambda r: r["name"].casefold())


__all__ = [
    "THRESHOLD", "MatchReport", "Named", "confirm", "find_person", "forget", "hit_rows", "link_after_ingest",
    "list_people",
    "match_library", "merge", "name_matches", "name_speakers", "reject", "rename_person", "speaker_row",
]  # fmt: skip


UNNAMED = {"speaker_state": None, "similarity": None}


@functools.lru_cache(maxsize=512)
def _states(library_root: str, video: str, identity: tuple[int, int]) -> dict[str, dict[str, Any]]:
    """label -> state and similarity of one saved transcript, cached per file identity (mtime, size)."""
    t = Library(library_root).load_transcript(video)
    return {sp.label: {"speaker_state": sp.name_state, "similarity": sp.similarity} for sp in t.speakers}


def hit_rows(library: Library, hits: Iterable[Any]) -> list[dict[str, Any]]:
    """Search hits as `search --json` and `/api/search` give them: each with its speaker's
    `speaker_state` and `similarity`.

    Only transcripts of hits whose speaker has a name are read, once per version
    of the file: an archive without people costs nothing, a repeated search a stat.
    """
    hits = list(hits)
    named: dict[str, dict[str, dict[str, Any]]] = {}
    for h in hits:
        if not h.speaker_label or h.speaker == h.speaker_label or h.video in named:
            continue
        named[h.video] = {}
        try:
            st = library.transcript_path(h.video).stat()
            named[h.video] = _states(str(library.root), h.video, (st.st_mtime_ns, st.st_size))
        except (OSError, LookupError):
            continue
    return [h.to_dict() | named.get(h.video, {}).get(h.speaker_label or "", UNNAMED) for h in hits]
