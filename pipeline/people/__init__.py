"""People across the archive: name a voice once, and every interview knows that person.

`store` keeps the voiceprints (LIBRARY/people/), `voices` gives each
transcript speaker the voice diarization heard, `match` decides who sounds
like whom; what the commands do: `links` (a speaker's link to a person, the
transcripts changed under their video's lock), `naming` (name a voice; link
after an ingest), `review` (match, confirm, reject), `identity` (merge,
rename, forget), `listing` (list people, search hits with their states).
"""

from .identity import forget, merge, rename_person
from .links import find_person, name_matches, speaker_row
from .listing import hit_rows, list_people
from .match import THRESHOLD
from .naming import Named, link_after_ingest, name_speakers
from .review import MatchReport, confirm, match_library, reject
from .store import PeopleBusyError, PeopleStore

__all__ = [
    "THRESHOLD", "MatchReport", "Named", "PeopleBusyError", "PeopleStore", "confirm", "find_person", "forget",
    "hit_rows", "link_after_ingest", "list_people", "match_library", "merge", "name_matches", "name_speakers",
    "reject", "rename_person", "speaker_row",
]  # fmt: skip
