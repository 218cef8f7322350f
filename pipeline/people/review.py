"""Reviewing suggestions: `people match` over the archive, `people confirm` and `people reject` one speaker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..library import Library
from ..transcript import CONFIRMED, SUGGESTED, Speaker, Transcript
from .links import _add_print, _drop_prints, _link, _unlink, _update, speaker_row
from .match import best_matches
from .store import PeopleStore, Print, Voice


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
                person.rejected.append(Print(vid, label_, voice.vector, encoder=voice.encoder))

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
