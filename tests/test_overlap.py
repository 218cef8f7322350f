"""Overlapped speech: the segmentation model, the second speakers it adds, and the transcript field.

The real-voice fixture `real_overlap.m4a` (tests/fixtures/README.md) is two LibriSpeech
readers of `real_two_voices.mp4` laid over each other: 2414 talks over 2033 from 4.00 s
for 2.2 s, then each talks alone (2414 at 10-15 s, 2033 at 16-21.8 s).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from pipeline.transcript import SCHEMA_VERSION, Overlap, Segment, Speaker, Transcript, Word, Wordless

FIXTURES = Path(__file__).parent / "fixtures"
OVERLAP = (4.0, 6.2)  # where the fixture's two voices talk at once


def _transcript(**kw) -> Transcript:
    words = [Word("Hello", 0.5, 1.0, speaker="SPEAKER_1"), Word("there.", 1.0, 1.6, speaker="SPEAKER_1")]
    segments = [Segment(0.5, 1.6, "Hello there.", words, "SPEAKER_1"),
                Segment(3.0, 4.0, "Yes.", [Word("Yes.", 3.0, 4.0, speaker="SPEAKER_2")], "SPEAKER_2")]  # fmt: skip
    return Transcript("v-1", "/a.mp4", 5.0, "en", "e", "m", segments=segments,
                      speakers=[Speaker("SPEAKER_1"), Speaker("SPEAKER_2")], **kw)  # fmt: skip


def test_overlaps_round_trip_through_json():
    t = _transcript(overlaps=[Overlap(1.0, 1.5, "SPEAKER_2")])
    saved = json.loads(json.dumps(t.to_dict()))
    assert saved["overlaps"] == [{"start": 1.0, "end": 1.5, "speaker": "SPEAKER_2"}]
    assert saved["schema_version"] == SCHEMA_VERSION >= 4
    back = Transcript.from_dict(saved)
    assert back.overlaps == [Overlap(1.0, 1.5, "SPEAKER_2")]
    assert back.to_dict() == t.to_dict()


def test_a_file_from_before_overlaps_loads_with_none():
    old = _transcript().to_dict()
    del old["overlaps"]
    old["schema_version"] = 3
    t = Transcript.from_dict(old)
    assert t.overlaps == [] and t.schema_version == SCHEMA_VERSION
    assert [s.text for s in t.segments] == ["Hello there.", "Yes."]


def test_turns_with_overlaps_hold_both_speakers_at_once():
    t = _transcript(overlaps=[Overlap(1.0, 1.5, "SPEAKER_2")])
    turns = t.turns_with_overlaps()
    assert [(x.start, x.end, x.speaker) for x in turns] == [
        (0.5, 1.6, "SPEAKER_1"), (1.0, 1.5, "SPEAKER_2"), (3.0, 4.0, "SPEAKER_2")]  # fmt: skip
    assert turns[1].segments == []  # the words stay with the speaker whose voice they are
    assert [(x.start, x.speaker) for x in t.turns()] == [(0.5, "SPEAKER_1"), (3.0, "SPEAKER_2")]


def test_json_export_carries_the_overlaps_with_the_speakers_names():
    from pipeline.export import to_json_dict

    t = _transcript(overlaps=[Overlap(1.0, 1.5, "SPEAKER_2")])
    t.speakers[1].name = "Peter Doyle"
    assert to_json_dict(t)["overlaps"] == [{"start": 1.0, "end": 1.5, "speaker": "Peter Doyle",
                                            "speaker_label": "SPEAKER_2", "speaker_state": "confirmed"}]  # fmt: skip
    assert to_json_dict(t, speakers=False)["overlaps"] == []


def test_json_export_carries_the_speech_heard_without_words():
    from pipeline.export import to_json_dict
    from pipeline.transcript import Wordless

    t = _transcript()
    t.wordless = [Wordless(2.0, 2.6, "SPEAKER_2")]
    t.speakers[1].name = "Peter Doyle"
    assert to_json_dict(t)["wordless"] == [{"start": 2.0, "end": 2.6, "speaker": "Peter Doyle",
                                            "speaker_label": "SPEAKER_2", "speaker_state": "confirmed"}]  # fmt: skip
    assert to_json_dict(t, speakers=False)["wordless"] == []


class _Turns(list):
    """What the diarizer hands over: turns in its own labels, and `.overlaps`."""

    overlaps: list


def _turn(start, end, label):
    from pipeline.speakers import Turn

    return Turn(start, end, label)


def test_overlaps_take_the_transcript_labels_and_a_voice_heard_only_over_others_is_a_new_speaker():
    from pipeline.speakers.overlap import add_overlaps

    t = _transcript()
    # The diarizer numbered its speakers the other way round from the transcript's order.
    turns = _Turns([_turn(0.4, 1.7, "SPEAKER_2"), _turn(2.9, 4.1, "SPEAKER_1")])
    turns.overlaps = [(1.0, 1.5, "SPEAKER_1"), (3.2, 3.6, "SPEAKER_3"), (3.6, 3.9, "SPEAKER_1")]
    add_overlaps(t, turns)
    # SPEAKER_1 of the diarizer said "Yes." (transcript SPEAKER_2); SPEAKER_3 has no words: new.
    # The last one's speaker already holds the floor there: nothing to add.
    assert t.overlaps == [Overlap(1.0, 1.5, "SPEAKER_2"), Overlap(3.2, 3.6, "SPEAKER_3")]
    assert [s.label for s in t.speakers] == ["SPEAKER_1", "SPEAKER_2", "SPEAKER_3"]
    assert all(w.speaker in ("SPEAKER_1", "SPEAKER_2") for w in t.words)


def test_no_overlaps_no_change():
    from pipeline.speakers.overlap import add_overlaps

    t = _transcript()
    turns = _Turns([_turn(0.4, 1.7, "SPEAKER_1")])
    turns.overlaps = []
    add_overlaps(t, turns)
    assert t.overlaps == [] and len(t.speakers) == 2


# -- speech without words (speakers.reconstruct, Transcript.wordless) ------------------------------
def test_wordless_turns_round_trip_and_a_file_from_before_them_loads_with_none():
    t = _transcript(wordless=[Wordless(2.0, 2.8, "SPEAKER_2")])
    saved = json.loads(json.dumps(t.to_dict()))
    assert saved["wordless"] == [{"start": 2.0, "end": 2.8, "speaker": "SPEAKER_2"}]
    assert saved["schema_version"] == SCHEMA_VERSION >= 5
    assert Transcript.from_dict(saved).to_dict() == t.to_dict()
    del saved["wordless"]
    saved["schema_version"] = 4
    old = Transcript.from_dict(saved)
    assert old.wordless == [] and old.schema_version == SCHEMA_VERSION


def test_who_spoke_when_goes_on_where_no_word_was_written():
    t = _transcript(wordless=[Wordless(2.0, 2.8, "SPEAKER_2")])
    turns = t.turns_with_overlaps()
    assert [(x.start, x.end, x.speaker) for x in turns] == [
        (0.5, 1.6, "SPEAKER_1"), (2.0, 2.8, "SPEAKER_2"), (3.0, 4.0, "SPEAKER_2")]  # fmt: skip
    assert turns[1].segments == [] and len(t.turns()) == 2


def test_speech_heard_without_words_becomes_wordless_turns_and_is_never_counted_twice():
    from pipeline.speakers.overlap import add_overlaps

    t = _transcript()  # words: SPEAKER_1 0.5-1.6 s, SPEAKER_2 3.0-4.0 s
    turns = _Turns([_turn(0.4, 1.7, "SPEAKER_2"), _turn(2.9, 4.1, "SPEAKER_1")])  # the diarizer's own numbers
    turns.overlaps = []
    turns.speech = [(0.6, 1.5, "SPEAKER_2"),  # under its own words: nothing to add
                    (2.0, 3.5, "SPEAKER_1"),  # words from 3.0 s: only 2.0-3.0 s has none
                    (4.5, 4.9, "SPEAKER_3")]  # a voice with no words at all: a new speaker  # fmt: skip
    add_overlaps(t, turns)
    assert t.wordless == [Wordless(2.0, 3.0, "SPEAKER_2"), Wordless(4.5, 4.9, "SPEAKER_3")]
    assert t.overlaps == [] and [s.label for s in t.speakers] == ["SPEAKER_1", "SPEAKER_2", "SPEAKER_3"]
    assert all(w.speaker in ("SPEAKER_1", "SPEAKER_2") for w in t.words)  # words keep one speaker each


def test_the_reconstruction_gives_each_frame_as_many_speakers_as_talk_the_most_active_first():
    from pipeline.speakers.reconstruct import heard
    from pipeline.speakers.segmentation import FRAMES, Segmentation

    n = FRAMES
    local = np.zeros((1, n, 3), np.float16)
    local[0, 50:300, 0] = 1  # local speaker 0 talks for 250 frames, local speaker 1 from 200 to 400
    local[0, 200:400, 1] = 1
    speech = (local[0].sum(axis=1) >= 1).astype(np.float32)
    overlap = (local[0].sum(axis=1) >= 2).astype(np.float32)
    seg = Segmentation(speech, overlap, local, np.array([0]), local >= 0.5)
    t = Segmentation.frame_time
    turns = [_turn(float(t(50)), float(t(200)), "A"), _turn(float(t(300)), float(t(400)), "B")]  # each one's solo part
    got = heard(seg, turns, bridge_s=0.0)
    edge = [
        (g, float(t(x)) - 0.016875 / 2, float(t(y - 1)) + 0.016875 / 2) for g, x, y in (("A", 50, 300), ("B", 200, 400))
    ]
    assert [g for _a, _b, g in got] == ["A", "B"]
    assert [x for a, b, _g in got for x in (a, b)] == pytest.approx([x for _g, a, b in edge for x in (a, b)], abs=2e-3)
    assert heard(seg, [], bridge_s=0.0) == []


def test_how_many_speak_is_the_likeliest_count_not_a_half_for_two():
    """Where one window hears two voices and the other one, the pair classes average under a half
    but still outweigh "one" and "nobody": two speak there (pyannote also takes an argmax)."""
    from pipeline.speakers.segmentation import Segmentation

    speech = np.array([0.2, 0.45, 0.6, 0.9, 0.9, 0.95], np.float32)  # P(anyone)
    overlap = np.array([0.0, 0.0, 0.1, 0.3, 0.46, 0.6], np.float32)  # P(two)
    seg = Segmentation(speech, overlap, np.zeros((0, 589, 3), np.float16), np.zeros(0, int))
    # nobody 0.8 / 0.55 beat one; one 0.5 > nobody 0.4; one 0.6 > two 0.3; two 0.46 > one 0.44 and nobody 0.1
    assert seg.count().tolist() == [0, 0, 1, 1, 2, 2]


def test_a_voice_the_diarizer_has_no_turn_for_takes_its_speaker_from_the_window_before():
    """Windows overlap by half: the local speaker that talks on the shared frames in both is one voice."""
    from pipeline.speakers.reconstruct import heard
    from pipeline.speakers.segmentation import FRAMES, Segmentation

    shift = FRAMES // 2
    local = np.zeros((2, FRAMES, 3), np.float16)
    local[0, 100:, 1] = 1  # window 0: local speaker 1 talks from frame 100 to past its end (frame 700) ...
    local[1, : 700 - shift, 2] = 1  # ... which window 1 (from frame `shift`) calls its local speaker 2
    n = shift + FRAMES
    speech = np.zeros(n, np.float32)
    speech[100:700] = 1
    seg = Segmentation(speech, np.zeros(n, np.float32), local, np.array([0, shift]), local >= 0.5)
    t = Segmentation.frame_time
    turns = [_turn(float(t(100)), float(t(250)), "A")]  # the diarizer heard only the first part
    got = heard(seg, turns, bridge_s=0.0)
    assert len(got) == 1 and got[0][2] == "A"
    assert got[0][1] == pytest.approx(float(t(699)) + 0.016875 / 2, abs=2e-3)  # to the end of the voice


def test_frame_times_are_the_networks_receptive_field_as_pyannote_3_1_places_them():
    """A frame's time is the centre of the samples it hears (pyannote 3.1's receptive field, not
    3.0's 10 s / 589): its span and hop follow from SincNet's convolutions and max-pools alone."""
    from pipeline.speakers.segmentation import FRAME_HOP, FRAME_SPAN, FRAMES, WINDOW, Segmentation, frames_in

    span, hop = 1, 1
    for kernel, stride in ((251, 10), (3, 3), (5, 1), (3, 3), (5, 1), (3, 3)):
        span += (kernel - 1) * hop
        hop *= stride
    assert (span, hop) == (FRAME_SPAN, FRAME_HOP) == (991, 270)
    assert FRAMES == frames_in(WINDOW) == 589
    assert (FRAMES - 1) * FRAME_HOP + FRAME_SPAN <= WINDOW  # the last frame hears only the window
    assert Segmentation.frame_time(0) == pytest.approx(991 / 2 / 16000)
    assert Segmentation.frame_at(float(Segmentation.frame_time(1234))) == 1234


# -- the real model ----------------------------------------------------------------------------
@pytest.mark.slow
def test_the_model_loads_strictly_from_the_packaged_weights():
    import torch

    from pipeline.speakers.segmentation import FRAMES, load_model, weights_path

    checkpoint = torch.load(weights_path(), map_location="cpu", weights_only=True)
    model = load_model()
    assert set(model.state_dict()) == set(checkpoint["state_dict"])  # strict: no layer missing or extra
    for name, value in checkpoint["state_dict"].items():
        assert torch.equal(model.state_dict()[name], value), name
    with torch.inference_mode():
        out = model(torch.zeros(1, 1, 160000))
    assert out.shape == (1, FRAMES, 7)
    assert torch.allclose(out.exp().sum(-1), torch.ones(1, FRAMES), atol=1e-5)  # 7 powerset classes


@cache
def _audio() -> np.ndarray:
    from media.audio import load_audio

    return load_audio(FIXTURES / "real_overlap.m4a")


@cache
def _segmentation():
    from pipeline.speakers.segmentation import segment

    return _audio(), segment(_audio())


@pytest.mark.slow
def test_overlap_is_heard_where_two_real_voices_talk_at_once_and_nowhere_else():
    from pipeline.speakers.segmentation import Segmentation

    audio, seg = _segmentation()
    times = Segmentation.frame_time(np.arange(len(seg.overlap)))
    over = seg.overlap >= 0.5
    inside = (times >= OVERLAP[0]) & (times < OVERLAP[1])
    assert over[inside].mean() >= 0.8  # most of the 2.2 s
    near = (times >= OVERLAP[0] - 0.3) & (times < OVERLAP[1] + 0.3)
    assert not over[~near].any(), times[over & ~near]  # one voice at a time, or silence, is no overlap
    assert seg.duration == pytest.approx(len(audio) / 16000, abs=0.1)
    # Speech is heard in each voice's solo turn, and not in the silence between them.
    assert seg.speech[(times > 12.3) & (times < 14.5)].min() > 0.9
    assert seg.speech[(times > 15.2) & (times < 15.8)].max() < 0.5


@pytest.mark.slow
def test_the_second_speaker_is_the_voice_heard_alone_later():
    from pipeline.speakers import diarize

    turns = diarize(_audio())
    assert len(turns.overlaps) == 1
    start, end, label = turns.overlaps[0]
    assert start == pytest.approx(OVERLAP[0], abs=0.4) and end == pytest.approx(OVERLAP[1], abs=0.3)
    alone = [t.label for t in turns if t.start < 12.5 < t.end]  # 2414, alone at 10-15 s
    first = [t.label for t in turns if t.start < 7.5 < t.end]  # 2033, who holds the floor in the overlap
    assert alone and first and label == alone[0] != first[0]


@pytest.mark.slow
def test_a_real_voice_heard_for_a_second_is_split_from_the_one_it_was_merged_into():
    """17-27 s of real_two_voices: 2033 ends a sentence (0-1.34 s of the cut), then 2414 reads for
    7.6 s. Too few windows of 2033 for the clustering to split them; the segmentation hears two."""
    from media.audio import load_audio
    from pipeline.speakers import diarize

    audio = load_audio(FIXTURES / "real_two_voices.mp4")[17 * 16000 : 27 * 16000]
    turns = diarize(audio)
    assert len({t.label for t in turns}) == 2
    first = [t for t in turns if t.start < 1.0]
    assert len(first) == 1 and first[0].end == pytest.approx(1.34, abs=0.3)
    assert {t.label for t in turns if t.start > 2.0} == {t.label for t in turns} - {first[0].label}


@pytest.mark.slow
def test_both_real_voices_are_heard_where_they_talk_at_once():
    from pipeline.speakers import diarize

    turns = diarize(_audio())
    alone = next(t.label for t in turns if t.start < 12.5 < t.end)  # 2414, alone at 10-15 s
    first = next(t.label for t in turns if t.start < 7.5 < t.end)  # 2033, who holds the floor in the overlap
    second = sum(max(0.0, min(b, OVERLAP[1]) - max(a, OVERLAP[0])) for a, b, who in turns.speech if who == alone)
    assert second >= 0.4 * (OVERLAP[1] - OVERLAP[0])
    assert any(a <= 5.5 <= b for a, b, who in turns.speech if who == first)
    # Nowhere else are two heard: the second voice's speech outside the overlap is its own turn.
    assert all(b <= OVERLAP[1] + 0.3 or a >= 9.5 for a, b, who in turns.speech if who == alone)


@pytest.mark.slow
def test_far_field_meeting_speech_the_turns_miss_is_heard_with_its_speaker():
    """The AMI fixture: the VAD keeps little of its far speech, and the turns miss most of it."""
    from media.audio import load_audio
    from pipeline.speakers import diarize

    audio = load_audio(FIXTURES / "ami_far_field.flac")
    turns = diarize(audio)
    ref = []
    for line in (FIXTURES / "ami_far_field.rttm").read_text().splitlines():
        f = line.split()
        ref.append((float(f[3]), float(f[3]) + float(f[4])))
    grid = np.arange(0, 15.0, 0.01)

    def covered(spans):
        return np.any([(grid >= a) & (grid < b) for a, b in spans], axis=0)

    speech = covered(ref)
    by_turns = (covered([(t.start, t.end) for t in turns]) & speech).sum() / speech.sum()
    by_model = (covered([(a, b) for a, b, _who in turns.speech]) & speech).sum() / speech.sum()
    assert by_model >= by_turns + 0.1, (by_model, by_turns)
    assert {who for _a, _b, who in turns.speech} <= {t.label for t in turns}
