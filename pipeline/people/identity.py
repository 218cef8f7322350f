"""Changing who a person is: merge two into one, rename, forget; the store first, then every linked video."""

from __future__ import annotations

from ..library import Library, is_video_id
from .links import _by_name, _linked_videos, _relink_everywhere, find_person
from .store import PeopleStore, Person


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
