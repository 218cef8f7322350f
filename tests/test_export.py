"""Cue building on transcripts with known word times: the limits hold in hard cases."""

from __future__ import annotations

from pipeline.export import MAX_CHARS, build_cues, to_srt, to_txt, to_vtt
from pipeline.timefmt import clock, parse_time, srt_time, vtt_time
from pipeline.transcript import Segment, Speaker, Transcript, Word


def transcript(turns: list[tuple[str, str, float, float]]) -> Transcript:
    """turns: (speaker, text, start, seconds per word)."""
    segments = []
    for speaker, text, start, step in turns:
        words = [Word(w, start + i * step, start + i * step + step * 0.8, speaker=speaker)
                 for i, w in enumerate(text.split())]  # fmt: skip
        segments.append(Segment(words[0].start, words[-1].end, text, words, speaker))
    labels = list(dict.fromkeys(t[0] for t in turns))
    return Transcript("v-1", "/x.mp4", 100.0, "en", "test", "test", segments, [Speaker(x) for x in labels])


LONG = ("The committee met on Thursday to discuss the extraordinary circumstances surrounding the "
        "harbour redevelopment and its consequences for the fishing families of the town. ") * 3  # fmt: skip


def test_limits_hold_for_long_and_slow_speech():
    t = transcript([("SPEAKER_1", LONG, 0.0, 0.3), ("SPEAKER_2", "Yes. Slow words here now.", 40.0, 2.5)])
    cues = build_cues(t)
    for i, c in enumerate(cues):
        assert len(c.lines) <= 2 and all(len(x) <= MAX_CHARS for x in c.lines)
        assert c.end - c.start <= 7.0 + 1e-9
        if i:
            assert c.start >= cues[i - 1].end
    words = " ".join(" ".join(c.lines) for c in cues).replace("[SPEAKER_1] ", "").replace("[SPEAKER_2] ", "")
    assert words.split() == (LONG + " Yes. Slow words here now.").split(), "no word lost or repeated"


def test_speaker_label_only_at_a_change_and_never_mixed():
    t = transcript([("SPEAKER_1", "Hello there.", 0, 0.4), ("SPEAKER_1", "Still me.", 2, 0.4),
                    ("SPEAKER_2", "Now me.", 4, 0.4)])  # fmt: skip
    t.speakers[1].name = "Alexander Okunev"
    srt = to_srt(t)
    assert srt.count("[SPEAKER_1]") == 1 and srt.count("[Alexander Okunev] Now me.") == 1
    vtt = to_vtt(t)
    assert "<v Alexander Okunev>Now me." in vtt and "<v SPEAKER_1>Still me." in vtt
    txt = to_txt(t)
    assert txt.splitlines()[0] == "[00:00:00.0] SPEAKER_1: Hello there. Still me."
    assert "Alexander Okunev: Now me." in txt


def test_time_formats_round_trip():
    for t in (0.0, 0.5, 61.234, 3600 * 2 + 59.999):
        assert abs(parse_time(srt_time(t)) - t) < 0.001
        assert abs(parse_time(vtt_time(t)) - t) < 0.001
    assert clock(754.46) == "00:12:34.5"
    assert srt_time(3723.5) == "01:02:03,500" and vtt_time(3723.5) == "01:02:03.500"
