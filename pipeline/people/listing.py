"""Reading people out: every known person with their videos, and search hits with their speaker's state."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from ..library import Library
from .links import speaker_row
from .store import PeopleStore


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
