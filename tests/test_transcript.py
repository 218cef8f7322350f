"""The transcript's speaker turns: what DER is scored on and what paragraphs are made of."""

from __future__ import annotations

from pipeline.transcript import Segment, Transcript, Word


def _seg(start: float, end: float, speaker: str) -> Segment:
    return Segment(start, end, "x", [Word("x", start, end, speaker=speaker)], speaker=speaker)


def _transcript(*segments: Segment) -> Transcript:
    return Transcript("v-00000000", "/v.mp4", 30.0, "en", "fake", "fake", segments=list(segments))


def test_turns_join_a_speakers_short_pauses_and_split_at_long_ones_and_speaker_changes():
    t = _transcript(_seg(0, 2, "A"), _seg(2.6, 4, "A"), _seg(5.5, 6, "A"), _seg(6.2, 7, "B"), _seg(7.1, 8, "A"))
    turns = t.turns()
    assert [(x.start, x.end, x.speaker, len(x.segments)) for x in turns] == [
        (0, 4, "A", 2),
        (5.5, 6, "A", 1),
        (6.2, 7, "B", 1),
        (7.1, 8, "A", 1),
    ]
    assert [(x.start, x.end) for x in t.turns(max_pause_s=None)][:1] == [(0, 6)]


def test_schema_2_file_reads_with_unlinked_speakers():
    """Version 2 files (before people across the archive) read as speakers linked to no one."""
    from pipeline.transcript import SCHEMA_VERSION, Transcript

    speakers = [{"label": "SPEAKER_1", "name": "Anna"}, {"label": "SPEAKER_2"}]
    old = {"video_id": "a-1", "path": "/a.mp4", "duration": 1.0, "language": "en", "engine": "e", "model": "m",
           "schema_version": 2, "speakers": speakers}  # fmt: skip
    t = Transcript.from_dict(old)
    assert t.schema_version == SCHEMA_VERSION >= 3
    anna, other = t.speakers
    assert (anna.person, anna.state, anna.similarity) == (None, None, None)
    assert t.speaker_state("SPEAKER_1") == "confirmed" and t.speaker_state("SPEAKER_2") is None
    again = Transcript.from_dict(t.to_dict())
    assert again.speakers == t.speakers
