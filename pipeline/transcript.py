"""The transcript: plain data passed between stages and saved as versioned JSON.

The saved JSON is the source of truth of the library; the search index is
derived from it and can always be rebuilt from it. Bump SCHEMA_VERSION when
the shape changes, and teach `from_dict` to read the older shape.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# 2: `dropped` (version 1 files read as having dropped nothing on record)
# 3: a speaker's link to a known person (`person`, `state`, `similarity`; older files read as unlinked)
# 4: `overlaps`, second speakers where two talk at once (older files read as having none)
# 5: `wordless`, speech heard where no word was written, with its speaker (older files read as having none)
SCHEMA_VERSION = 5
SUGGESTED, CONFIRMED = "suggested", "confirmed"  # Speaker.state: matched by voice, or named/confirmed by the user
# A speaker's pause shorter than this stays inside their turn: readers and interviewees
# pause between sentences without giving up the floor.
TURN_PAUSE_S = 1.0


@dataclass
class Word:
    word: str  # as recognised, without surrounding whitespace
    start: float  # seconds on the video's playback timeline
    end: float
    probability: float = 1.0
    speaker: str | None = None  # speaker label, e.g. "SPEAKER_1"


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    speaker: str | None = None  # speaker label; display names live in Transcript.speakers


@dataclass
class Speaker:
    """A voice of this recording. Linked to a known person (pipeline.people) it carries the
    person's name, so every reader (index, exports, web page) shows it without the people store."""

    label: str  # stable label "SPEAKER_1", in order of first appearance
    name: str | None = None  # the person's name, or a user-given name (`speakers --rename`)
    person: str | None = None  # id of the known person this voice is (pipeline.people), if linked
    state: str | None = None  # SUGGESTED (matched by voice) or CONFIRMED; None: unlinked
    similarity: float | None = None  # cosine of this voice to the person's voiceprints when matched

    @property
    def display(self) -> str:
        return self.name or self.label

    @property
    def name_state(self) -> str | None:
        """How sure the shown name is: the link's state; a plain user-given name is confirmed; no name, None."""
        if self.state:
            return self.state
        return CONFIRMED if self.name else None


@dataclass
class Dropped:
    """Decoded audio that a hallucination guard left out of the transcript, kept for audit.

    A guard that throws away a window or a segment may be wrong (real speech
    decoded badly looks like a hallucination); recording what it threw away,
    where and why lets the decision be checked and the text recovered.
    """

    start: float  # seconds on the video's playback timeline
    end: float
    reason: str  # "no speech" | "repetitive" | "glossary echo" | "below the speech gate"
    text: str = ""  # what the recognizer wrote for it


@dataclass
class Overlap:
    """A second speaker talking over the one whose words are there (words keep one speaker each)."""

    start: float  # seconds on the video's playback timeline
    end: float
    speaker: str  # speaker label, as on segments and words


@dataclass
class Wordless:
    """Speech the speaker model heard where the recognizer wrote no word (a far voice, a backchannel):
    who spoke from when to when, so who-spoke-when does not stop where the words do."""

    start: float  # seconds on the video's playback timeline
    end: float
    speaker: str  # speaker label, as on segments and words


@dataclass
class SpeakerTurn:
    """Who held the floor from when to when: consecutive segments of one speaker."""

    start: float
    end: float
    speaker: str | None
    segments: list[Segment]


@dataclass
class Transcript:
    video_id: str
    path: str
    duration: float
    language: str
    engine: str
    model: str
    segments: list[Segment] = field(default_factory=list)
    speakers: list[Speaker] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)  # what the recognizer's guards left out, and why
    overlaps: list[Overlap] = field(default_factory=list)  # second speakers talking over the words' speaker
    wordless: list[Wordless] = field(default_factory=list)  # speech heard with no words written, and its speaker
    sha256: str = ""
    glossary: list[str] = field(default_factory=list)
    created: str = ""
    edits: list[dict[str, Any]] = field(default_factory=list)  # hand corrections: segment, before, after, at
    schema_version: int = SCHEMA_VERSION

    # -- speakers -----------------------------------------------------------
    def speaker_name(self, label: str | None) -> str | None:
        """Display name for a label: the user's name if given, else the label."""
        if label is None:
            return None
        for s in self.speakers:
            if s.label == label:
                return s.display
        return label

    def speaker_state(self, label: str | None) -> str | None:
        """`suggested` or `confirmed` for a named speaker, None for an unnamed one or no speaker."""
        for s in self.speakers:
            if s.label == label:
                return s.name_state
        return None

    def find_speaker(self, name_or_label: str) -> Speaker | None:
        key = name_or_label.casefold()
        for s in self.speakers:
            if s.label.casefold() == key or (s.name and s.name.casefold() == key):
                return s
        return None

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments).strip()

    def turns(self, max_pause_s: float | None = TURN_PAUSE_S) -> list[SpeakerTurn]:
        """Speaker turns: consecutive segments of one speaker, joined across pauses shorter
        than `max_pause_s` (None: any pause, as a transcript's paragraphs are)."""
        out: list[SpeakerTurn] = []
        for seg in self.segments:
            last = out[-1] if out else None
            if last and last.speaker == seg.speaker and (max_pause_s is None or seg.start - last.end < max_pause_s):
                last.segments.append(seg)
                last.end = max(last.end, seg.end)
            else:
                out.append(SpeakerTurn(seg.start, seg.end, seg.speaker, [seg]))
        return out

    def turns_with_overlaps(self, max_pause_s: float | None = TURN_PAUSE_S) -> list[SpeakerTurn]:
        """Who speaks when, everyone: `turns()` and a turn (with no segments) for each overlap and
        each stretch of speech without words, in order of start. Two turns can overlap in time;
        this is what an RTTM or a DER holds."""
        extra = [SpeakerTurn(o.start, o.end, o.speaker, []) for o in [*self.overlaps, *self.wordless]]
        return sorted(self.turns(max_pause_s) + extra, key=lambda t: (t.start, t.end))

    # -- serialisation ------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        version = data.get("schema_version", 1)
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"transcript schema {version} is newer than this interview-index "
                f"understands ({SCHEMA_VERSION}); upgrade interview-index"
            )
        data = dict(data)
        segments = [
            Segment(
                start=s["start"],
                end=s["end"],
                text=s["text"],
                speaker=s.get("speaker"),
                words=[Word(**w) for w in s.get("words", [])],
            )
            for s in data.pop("segments", [])
        ]
        speakers = [Speaker(**s) for s in data.pop("speakers", [])]
        dropped = [Dropped(**d) for d in data.pop("dropped", [])]  # absent in version 1
        overlaps = [Overlap(**o) for o in data.pop("overlaps", [])]  # absent before version 4
        wordless = [Wordless(**o) for o in data.pop("wordless", [])]  # absent before version 5
        data["schema_version"] = SCHEMA_VERSION
        known = {f for f in cls.__dataclass_fields__}
        rest = {k: v for k, v in data.items() if k in known}
        return cls(segments=segments, speakers=speakers, dropped=dropped, overlaps=overlaps, wordless=wordless, **rest)

    @classmethod
    def load(cls, path: Path) -> Transcript:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
