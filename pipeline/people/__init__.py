"""People across the archive: name a voice once, and every interview knows that person.

`store` keeps the voiceprints (LIBRARY/people/), `voices` gives each
transcript speaker the voice diarization heard, `match` decides who sounds
like whom, `ops` is what the commands do (name, confirm, reject, merge,
rename, forget, match, list).
"""

from .match import THRESHOLD
from .ops import (
    MatchReport,
    Named,
    confirm,
    find_person,
    forget,
    hit_rows,
    link_after_ingest,
    list_people,
    match_library,
    merge,
    name_matches,
    name_speakers,
    reject,
    rename_person,
    speaker_row,
)
from .store import PeopleBusyError, PeopleStore

__all__ = [
    "THRESHOLD", "MatchReport", "Named", "PeopleBusyError", "PeopleStore", "confirm", "find_person", "forget",
    "hit_rows", "link_after_ingest", "list_people", "match_library", "merge", "name_matches", "name_speakers",
    "reject", "rename_person", "speaker_row",
]  # fmt: skip
