"""Naming a voice by hand, and linking the speakers of a video just ingested to the known people."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..library import DamagedFileError, Library
from ..transcript import CONFIRMED, SUGGESTED, Transcript
from .links import _add_print, _by_name, _drop_prints, _link, _unlink
from .match import best_matches, confirmed_print, similarity
from .store import PeopleStore, Person, Print, new_person, stale_note


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
                    old.rejected.append(Print(vid, sp.label, voice.vector, encoder=voice.encoder))
            if not name:
                _unlink(sp)
                continue
            person = _by_name(people, name)
            if person is None:
                person = new_person(name)
                people[person.id] = person
            score = similarity(voice.vector, person, voice.encoder) if voice is not None and person.prints else None
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
    renewed: list[tuple[str, str]] = []  # (person, label): a confirmed voice whose print is another encoder's
    for label, voice in voices.items():
        found = [(p, pr) for p in people.values()
                 if (pr := confirmed_print(p, vid, voice.vector, voice.encoder)) is not None]  # fmt: skip
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
                voice = voices.get(sp.label)
                if sp.state == CONFIRMED and voice is not None and _stale_print(person, vid, sp.label, voice.encoder):
                    renewed.append((person.id, sp.label))  # enrolled again with this encoder's voice
            else:
                sp.name = osp.name
                taken[sp.label] = ""
    for m in best_matches(vid, voices, people, taken):
        _link(by_label[m.label], people[m.person], SUGGESTED, m.similarity)
    if moved or renewed:
        with store.edit() as fresh:
            for pid, pr, label in moved:
                for p in fresh.get(pid, Person(pid, "")).prints:
                    if p.video == pr.video and p.label == pr.label and p.added == pr.added:
                        p.label = label
            for pid, label in renewed:
                if pid in fresh:
                    _add_print(fresh[pid], vid, label, voices[label])
            people = fresh
    note = stale_note(people) if not damaged else None
    if note and warn is not None:
        warn(note)


def _stale_print(person: Person, video: str, label: str, encoder: str) -> bool:
    """The person has a print of this voice made by another encoder, and none by `encoder`."""
    here = [p for p in person.prints if p.video == video and p.label == label]
    return bool(here) and not any(p.encoder == encoder for p in here)
