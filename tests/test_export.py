"""Cue building on transcripts with known word times: the limits hold in hard cases."""

from __future__ import annotations

import json

import pytest

from pipeline.export import MAX_CHARS, build_cues, export, join_words, to_srt, to_txt, to_vtt
from pipeline.timefmt import clock, parse_time, srt_time, vtt_time
from pipeline.transcript import Segment, Speaker, Transcript, Word

from conftest import run_cli


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


# -- issue #9 item 18 ------------------------------------------------------------


def test_no_one_word_cue_when_a_neighbour_can_take_the_word():
    t = transcript([
        ("SPEAKER_1", "We are also offering tax relief to small businesses that stay open through the winter.", 0, 0.3),
        ("SPEAKER_2", "Tom, what does the port need most?", 30, 0.3),
        ("SPEAKER_2", "Dredging, mostly. The channel silts up every single year now and ships wait.", 33, 0.3),
        ("SPEAKER_2", "Yes.", 60, 0.3),
    ])  # fmt: skip
    cues = build_cues(t, speakers=False)
    singles = [c.lines for c in cues if len(" ".join(c.lines).split()) == 1]
    assert singles == [["Yes."]], singles  # alone in its turn, far from the rest: nothing could take it
    words = " ".join(" ".join(c.lines) for c in cues).split()
    assert words == " ".join(s.text for s in t.segments).split()
    for c in cues:
        assert len(c.lines) <= 2 and all(len(x) <= MAX_CHARS for x in c.lines) and c.end - c.start <= 7.0


def _pieces() -> Transcript:
    """Whisper's word pieces: "high-technology" comes as "high" and "-technology"."""
    t = transcript([("SPEAKER_1", "It was high -technology work , the 40 % part of Port Ellis 's plan.", 0, 0.3)])
    t.segments[0].text = " It was high-technology work, the 40% part of Port Ellis's plan."
    return t


@pytest.mark.parametrize("fmt", ["srt", "vtt", "txt", "json"])
def test_word_pieces_are_joined_the_same_way_in_every_format(fmt):
    out = export(_pieces(), fmt)
    text = " ".join(json.loads(out)["segments"][0]["text"].split()) if fmt == "json" else " ".join(out.split())
    assert "high-technology work, the 40% part of Port Ellis's plan." in text, out
    assert join_words(["high", "-technology", "work", ","]) == "high-technology work,"


def test_subtitles_are_written_by_the_srt_and_webvtt_libraries():
    import srt
    import webvtt

    t = transcript([("SPEAKER_1", "Hello there & welcome <all>.", 3723.5004, 0.4), ("SPEAKER_2", "Hi.", 3730, 0.4)])
    subs = list(srt.parse(to_srt(t)))
    assert [s.index for s in subs] == [1, 2] and subs[0].start.total_seconds() == pytest.approx(3723.5)
    assert subs[0].content == "[SPEAKER_1] Hello there & welcome <all>."
    vtt = webvtt.from_string(to_vtt(t))
    assert vtt.captions[0].start == "01:02:03.500" and vtt.captions[1].voice == "SPEAKER_2"
    assert "&amp;" in to_vtt(t) and "&lt;all&gt;" in to_vtt(t)
    assert srt_time(1.9996) == "00:00:02,000" and vtt_time(1.9996) == "00:00:02.000"


@pytest.mark.parametrize("name", ["interview.pdf", "interview.doc", "interview.SRTX"])
def test_export_refuses_an_output_format_it_cannot_write(ingested, tmp_path, name):
    vid = json.loads(run_cli("list", "--json", library=ingested).stdout)[0]["video"]
    out = tmp_path / name
    result = run_cli("export", vid, "-o", str(out), library=ingested)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert "cannot write" in result.stderr and not out.exists()
    ok = run_cli("export", vid, "-o", str(tmp_path / "subs.VTT"), library=ingested)
    assert ok.exit_code == 0 and (tmp_path / "subs.VTT").read_text().startswith("WEBVTT")
