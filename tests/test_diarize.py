"""Diarization on the committed espeak-ng fixtures, with the real models (no mocks).

The fixtures' truth gives every word's start and speaker, so a word's
expected speaker is exact; the diarizer's labels are compared under the best
one-to-one mapping, since SPEAKER_n numbering is arbitrary up to order.
"""

from __future__ import annotations

import itertools
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from media.audio import load_audio
from media.stream import iter_audio
from pipeline.speakers import Turn, assign_speakers, diarize, diarize_file
from pipeline.speakers.diarize import Turns, _Analysis
from pipeline.speakers.vad import speech_regions
from pipeline.transcript import Segment, Word

FIXTURES = Path(__file__).parent / "fixtures"


@cache
def audio(name: str) -> np.ndarray:
    return load_audio(FIXTURES / f"{name}.mp4")


@cache
def truth(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.truth.json").read_text())


@cache
def turns_of(name: str, **kw) -> tuple[Turn, ...]:
    return tuple(diarize(audio(name), **kw))


def truth_segments(name: str) -> list[Segment]:
    """One Segment per truth turn, words at the truth times (a word ends where the next starts)."""
    t = truth(name)
    segs = []
    for turn in t["turns"]:
        ws = [w for w in t["words"] if w["turn"] == turn["index"]]
        words = [
            Word(w["word"], w["start"], ws[i + 1]["start"] if i + 1 < len(ws) else turn["end"])
            for i, w in enumerate(ws)
        ]
        segs.append(Segment(turn["start"], turn["end"], " ".join(w.word for w in words), words))
    return segs


def best_mapping_accuracy(pairs: list[tuple[str, str | None]]) -> float:
    """Share of (truth, predicted) pairs that agree under the best one-to-one label mapping."""
    truths = sorted({a for a, _ in pairs})
    preds = sorted({b for _, b in pairs if b is not None})
    best = 0
    for perm in itertools.permutations(preds, min(len(truths), len(preds))):
        mapping = dict(zip(truths, perm, strict=False))
        best = max(best, sum(mapping.get(a) == b for a, b in pairs))
    return best / len(pairs)


# -- how many speakers ------------------------------------------------------------
# two_voices in the slow tier (a whole diarization of its own); three_voices shares the fast tier's cached one
@pytest.mark.parametrize("name, expected", [pytest.param("two_voices", 2, marks=pytest.mark.slow), ("three_voices", 3)])
def test_counts_speakers_without_a_hint(name, expected):
    labels = {t.label for t in turns_of(name)}
    assert len(labels) == expected, turns_of(name)


@pytest.mark.slow  # several whole diarizations: the fast tier keeps the one-pass checks
def test_three_voices_is_not_counted_as_two_or_four():
    # Both errors have a cause here: two of the three voices are the closest
    # pair (British male), and HOST's three short turns could split off.
    for kw in ({}, {"min_speakers": 1, "max_speakers": 8}, {"max_speakers": 5}):
        assert len({t.label for t in turns_of("three_voices", **kw)}) == 3


@pytest.mark.slow  # two more whole diarizations; the fast tier keeps the count found without a hint
@pytest.mark.parametrize("k", [2, 4])
def test_num_speakers_forces_the_count(k):
    assert len({t.label for t in turns_of("three_voices", num_speakers=k)}) == k


@pytest.mark.slow  # several whole diarizations: the fast tier keeps the one-pass checks
def test_bounds_clamp_the_estimate():
    assert len({t.label for t in turns_of("three_voices", max_speakers=2)}) == 2
    assert len({t.label for t in turns_of("two_voices", min_speakers=3)}) == 3


# -- who speaks when ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["two_voices", pytest.param("three_voices", marks=pytest.mark.slow)])
def test_words_get_the_right_speaker(name):
    segs, speakers = assign_speakers(truth_segments(name), list(turns_of(name)))
    words = [w for s in segs for w in s.words]
    expected = [w["speaker"] for w in truth(name)["words"]]
    assert len(words) == len(expected)
    accuracy = best_mapping_accuracy(list(zip(expected, [w.speaker for w in words], strict=True)))
    assert accuracy >= 0.95, accuracy
    assert len(speakers) == len(truth(name)["speakers"])


def test_turns_follow_the_reference():
    """Each reference turn is covered by one hypothesis speaker for >= 90 % of its length."""
    turns = turns_of("three_voices")
    for ref in truth("three_voices")["turns"]:
        cover: dict[str, float] = {}
        for t in turns:
            overlap = min(t.end, ref["end"]) - max(t.start, ref["start"])
            if overlap > 0:
                cover[t.label] = cover.get(t.label, 0.0) + overlap
        assert max(cover.values()) >= 0.9 * (ref["end"] - ref["start"]), (ref, cover)


def test_labels_are_numbered_in_order_of_first_appearance():
    seen: list[str] = []
    for t in turns_of("three_voices"):
        if t.label not in seen:
            seen.append(t.label)
    assert seen == [f"SPEAKER_{i}" for i in range(1, len(seen) + 1)]
    turns = turns_of("three_voices")
    assert all(a.end <= b.start for a, b in itertools.pairwise(turns))
    assert all(t.end > t.start for t in turns)


def test_same_input_same_labels():
    again = diarize(audio("three_voices"))
    assert tuple(again) == turns_of("three_voices")


@pytest.mark.slow  # several whole diarizations: the fast tier keeps the one-pass checks
def test_streamed_file_matches_the_array():
    assert tuple(diarize_file(FIXTURES / "two_voices.mp4")) == turns_of("two_voices")


# -- segments -----------------------------------------------------------------------
@pytest.mark.slow  # a whole diarization of its own (the fast tier keeps the synthetic fast exchange)
def test_segments_are_split_where_the_speaker_changes():
    # One segment holding the whole interview, as a recogniser might return
    # for rapid exchanges: it must come back as one segment per turn.
    words = [w for s in truth_segments("three_voices") for w in s.words]
    one = Segment(words[0].start, words[-1].end, " ".join(w.word for w in words), words)
    segs, speakers = assign_speakers([one], list(turns_of("three_voices")))
    assert len(speakers) == 3
    for s in segs:
        assert s.words and {w.speaker for w in s.words} == {s.speaker}
        assert s.text == " ".join(w.word for w in s.words)
    assert all(a.speaker != b.speaker for a, b in itertools.pairwise(segs))
    assert len(segs) == len(truth("three_voices")["turns"])
    assert [w.word for s in segs for w in s.words] == [w.word for w in words]


def test_assign_speakers_edge_cases():
    turns = [Turn(0.0, 2.0, "SPEAKER_2"), Turn(3.0, 5.0, "SPEAKER_1")]
    segs = [
        Segment(0.0, 1.0, "no words here"),  # takes its span's speaker
        Segment(2.2, 2.4, "gap", [Word("gap", 2.2, 2.4)]),  # nearest turn
        Segment(3.5, 4.0, "later", [Word("later", 3.5, 4.0)]),
    ]
    out, speakers = assign_speakers(segs, turns)
    # Renumbered in order of first appearance in the transcript.
    assert [s.speaker for s in out] == ["SPEAKER_1", "SPEAKER_1", "SPEAKER_2"]
    assert [s.label for s in speakers] == ["SPEAKER_1", "SPEAKER_2"]
    assert segs[1].words[0].speaker is None  # inputs are not modified
    assert assign_speakers([], turns) == ([], [])


def test_a_word_stretched_back_over_a_pause_goes_by_its_end():
    # Whisper gave the first word of a turn, "A", 100.05-101.09 s: most of it
    # in the pause and the end of the previous turn, but it was said at 101.01.
    turns = [Turn(95.0, 100.26, "SPEAKER_1"), Turn(101.01, 106.0, "SPEAKER_2")]
    words = [Word("A", 100.05, 101.09), Word("few", 101.09, 101.4), Word("months", 101.4, 101.8)]
    out, _ = assign_speakers([Segment(100.05, 101.8, "A few months", words)], turns)
    assert [(s.speaker, s.text) for s in out] == [("SPEAKER_1", "A few months")]  # renumbered: first heard


def test_the_last_word_of_a_turn_ends_where_the_speech_does():
    # The recogniser ended "so." at 13.2 s; the voice fades out at 13.5 s (the turn's end).
    turns = [Turn(10.0, 13.5, "SPEAKER_1"), Turn(14.0, 20.0, "SPEAKER_2"), Turn(21.0, 23.0, "SPEAKER_2")]
    words = [Word("do", 12.7, 13.0), Word("so.", 13.0, 13.2), Word("Yes", 14.2, 14.5), Word("it", 14.6, 14.8),
             Word("was.", 21.1, 21.4)]  # fmt: skip
    out, _ = assign_speakers([Segment(12.7, 21.4, "do so. Yes it was.", words)], turns)
    ends = {w.word: w.end for s in out for w in s.words}
    assert ends["so."] == 13.5  # extended to the end of the detected speech
    assert ends["do"] == 13.0 and ends["Yes"] == 14.5  # another word follows inside the turn: untouched
    assert ends["it"] == 15.3  # by at most half a second, however long the turn runs on
    assert ends["was."] == 21.9
    assert [s.end for s in out] == [13.5, 15.3, 21.9]  # segments end with their words (split at the 6-s pause)
    assert words[1].end == 13.2  # inputs are not modified


def test_a_segment_is_split_where_its_words_pause_for_a_turn():
    # Whisper's segment ran on over a 2.7-s silence ("joy." ... "Aren't"): as one segment, the
    # transcript said someone spoke through it. A pause of a turn's length (TURN_PAUSE_S) splits it,
    # a shorter one does not.
    turns = [Turn(0.0, 8.6, "SPEAKER_1"), Turn(11.1, 14.0, "SPEAKER_1")]
    words = [Word("great", 8.0, 8.1), Word("joy.", 8.1, 8.5), Word("Aren't", 11.2, 11.7), Word("they", 11.7, 11.8),
             Word("suing", 12.5, 12.9)]  # fmt: skip
    out, _ = assign_speakers([Segment(8.0, 12.9, "great joy. Aren't they suing", words)], turns)
    assert [(s.start, s.text) for s in out] == [(8.0, "great joy."), (11.2, "Aren't they suing")]
    assert {s.speaker for s in out} == {"SPEAKER_1"}
    assert out[0].end < 9.1 and out[1].end >= 12.9
    # The same pause with a voice heard in it (the segmentation's speech, no turn): not a silence, one segment.
    heard = Turns(turns)
    heard.speech = [(9.0, 10.6, "SPEAKER_1")]
    out, _ = assign_speakers([Segment(8.0, 12.9, "great joy. Aren't they suing", words)], heard)
    assert [s.text for s in out] == ["great joy. Aren't they suing"]


def test_a_word_stretched_back_over_a_silence_starts_after_it():
    # Whisper gave "-hmm." 24.07-27.21 s (ami_trn07): nobody is heard from 24.44 to 26.62 s, by the
    # diarizer or the segmentation. As one 3-s word it held the floor through the silence, and a
    # voice heard at 26.62 s (another speaker's) was taken for part of it. A word starts where a
    # silence of a turn's pause inside it ends; a shorter pause inside a word stays in it.
    turns = Turns([Turn(22.6, 24.44, "SPEAKER_1"), Turn(26.9, 30.0, "SPEAKER_2")])
    turns.speech = [(26.62, 27.26, "SPEAKER_1")]
    words = [Word("Mm", 23.99, 24.07), Word("-hmm.", 24.07, 27.21), Word("Did", 27.23, 27.49)]
    out, _ = assign_speakers([Segment(23.99, 27.49, "Mm -hmm. Did", words)], turns)
    starts = {w.word: w.start for s in out for w in s.words}
    assert starts == {"Mm": 23.99, "-hmm.": 26.62, "Did": 27.23}
    assert [(s.start, s.text) for s in out] == [(23.99, "Mm"), (26.62, "-hmm. Did")]  # split at the silence
    assert words[1].start == 24.07  # inputs are not modified
    # Nobody heard for under a turn's pause (25.9-26.62 s): the word keeps its start.
    turns.speech = [(24.3, 25.9, "SPEAKER_1"), (26.62, 27.26, "SPEAKER_1")]
    out, _ = assign_speakers([Segment(23.99, 27.49, "Mm -hmm. Did", words)], turns)
    assert {w.word: w.start for s in out for w in s.words}["-hmm."] == 24.07


# -- silence and length -------------------------------------------------------------
def test_silence_gives_no_turns_and_one_speaker_at_most():
    silent = load_audio(FIXTURES / "silence.mp4")
    assert diarize(silent) == []
    assert diarize(np.zeros(0, np.float32)) == []
    assert diarize(np.zeros(100, np.float32), num_speakers=2) == []
    assert speech_regions(silent) == []
    assert assign_speakers([], []) == ([], [])
    # Words the VAD did not hear (very quiet speech) still get a speaker.
    segs, speakers = assign_speakers([Segment(1.0, 2.0, "hm", [Word("hm", 1.0, 1.5)])], [])
    assert segs[0].speaker == segs[0].words[0].speaker == "SPEAKER_1"
    assert [s.label for s in speakers] == ["SPEAKER_1"]


@pytest.mark.slow  # a whole diarization of its own
def test_progress_is_reported_up_to_one():
    seen: list[float] = []
    diarize(audio("two_voices"), progress=seen.append)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


@pytest.mark.slow
def test_memory_stays_flat_on_long_audio():
    """Twenty passes of a fixture (6.5 min): the buffered audio never exceeds one region plus a chunk."""
    long = np.tile(audio("two_voices"), 20)
    analysis = _Analysis()
    peak = 0
    for at in range(0, len(long), 16000 * 30):
        analysis.feed(long[at : at + 16000 * 30])
        peak = max(peak, analysis._buf.size)
    vectors = analysis.finish()
    assert peak <= 16000 * (30 + analysis.vad.opt.max_region_s + 1)
    assert vectors.nbytes <= 512 * len(long) / 16000 / 0.4  # 512 bytes (float16) per 0.4 s, at most


@pytest.mark.slow
def test_longer_mixed_recording_keeps_the_count():
    """Three fixtures back to back: the same three voices saying different things.

    (Not one fixture tiled: exact copies of a chunk are more alike than any
    two real utterances, and would pass for speakers of their own.)
    """
    turns = diarize(np.concatenate([audio("three_voices"), audio("two_voices"), audio("made_up_name")]))
    assert len({t.label for t in turns}) == 3


def test_iter_audio_matches_load_audio():
    chunks = list(iter_audio(FIXTURES / "two_voices.mp4", block_s=3.0))
    assert all(len(c) == 48000 for c in chunks[:-1])
    assert np.array_equal(np.concatenate(chunks), audio("two_voices"))


# -- CAM++'s features -------------------------------------------------------------------------
def _chirp() -> np.ndarray:
    t = np.arange(8000) / 16000
    return (0.3 * np.sin(2 * np.pi * (200 * t + 1500 * t * t)) + 0.05 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)


def test_fbank_matches_kaldi():
    """Values of torchaudio.compliance.kaldi.fbank(x, num_mel_bins=80, dither=0) on the same chirp (torchaudio 2.8)."""
    from pipeline.speakers.fbank import fbank

    feats = fbank(_chirp())
    assert feats.shape == (48, 80)  # 1 + (8000 - 400) // 160 frames: no padding at the edges
    expected = [[-9.277, -1.561, -12.797, -15.942, -15.455, -15.942],
                [-8.005, -11.488, -4.257, -15.942, -15.438, -15.942],
                [-9.558, -14.918, -10.652, -12.480, -15.412, -15.942],
                [-12.109, -15.942, -15.525, -3.154, -15.822, -15.942]]  # fmt: skip
    np.testing.assert_allclose(feats[[0, 10, 30, 47]][:, [0, 5, 20, 40, 60, 79]], expected, atol=0.01)


def test_fbank_finds_a_tone_in_its_band_and_ignores_the_level():
    from pipeline.speakers.fbank import SAMPLE_RATE, _mel, fbank

    tone = np.sin(2 * np.pi * 1000 * np.arange(SAMPLE_RATE) / SAMPLE_RATE).astype(np.float32) * 0.1
    feats = fbank(tone)
    lo, hi = _mel(20.0), _mel(8000.0)
    centres = 700 * (np.exp((lo + (hi - lo) / 81 * (np.arange(80) + 1)) / 1127) - 1)  # Hz of each band's peak
    assert abs(centres[int(np.median(feats.argmax(axis=1)))] - 1000) < 60
    loud = fbank(tone * 8)
    np.testing.assert_allclose(loud - loud.mean(0), feats - feats.mean(0), atol=1e-3)  # only the mean moves


# -- speakers are found on windows of one voice -------------------------------------------------
def test_windows_that_mostly_hear_two_voices_find_no_speaker():
    """A window over two people talking at once embeds a mix that lies between their voices and,
    heard in enough windows, passes for a third speaker; without those windows the two are found."""
    from pipeline.speakers.diarize import _find_speakers, _one_voice, _two_voices
    from pipeline.speakers.segmentation import Segmentation, frames_in

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=192), rng.normal(size=192)

    def voice(centre: np.ndarray, n: int) -> np.ndarray:
        v = centre + 0.8 * rng.normal(size=(n, 192)) * np.linalg.norm(centre) / np.sqrt(192)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    vectors = np.concatenate([voice(a, 60), voice(b, 60), voice(a + b, 30)]).astype(np.float32)
    starts = np.arange(len(vectors)) * 0.4  # 1.6-s windows every 0.4 s: A, then B, then both at once
    spans = np.stack([starts, starts + 1.6], axis=1)
    n = frames_in(int((starts[-1] + 3) * 16000))
    overlap = np.where(Segmentation.frame_time(np.arange(n)) >= starts[120], 0.8, 0.0).astype(np.float32)
    seg = Segmentation(np.full(n, 0.9, np.float32), overlap, np.zeros((0, 589, 3), np.float16), np.zeros(0, int))
    rows = np.arange(len(vectors))
    share = _two_voices(seg, spans)
    assert share[:117].max() == 0 and 0 < share[117] < share[118] < 0.5 < share[119] and share[120:].min() == 1
    bounds = {"num_speakers": None, "min_speakers": 1, "max_speakers": 8}
    assert len(_find_speakers(vectors, spans, rows, bounds)) == 3  # the mix is taken for a speaker
    kept = _one_voice(seg, spans, rows)
    assert kept.tolist() == list(range(119))  # the last window of B is mostly over the overlap
    assert len(_find_speakers(vectors, spans, kept, bounds)) == 2
    assert _one_voice(seg, spans, rows[120:]).tolist() == rows[120:].tolist()  # nothing but overlap: all stay
    assert _one_voice(None, spans, rows) is rows


def test_windows_left_out_of_the_search_still_count_in_a_speakers_share_of_the_speech():
    """A voice in 4 of 64 windows (6 % of them) is a speaker; the same voice beside 25 more windows
    of speech left out of the search (mixed voices) has under the sliver share (5 %) and is not."""
    from pipeline.speakers.cluster import SLIVER_SHARE, Items, cluster

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=192), rng.normal(size=192)

    def voice(centre: np.ndarray, n: int) -> np.ndarray:
        v = centre + 0.8 * rng.normal(size=(n, 192)) * np.linalg.norm(centre) / np.sqrt(192)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    vectors = np.concatenate([voice(a, 60), voice(b, 4)]).astype(np.float32)
    starts = np.arange(64) * 2.0
    items = Items.from_windows(vectors, np.stack([starts, starts + 1.6], axis=1), np.arange(64), np.arange(64))
    assert 4 * 1.6 > SLIVER_SHARE * 64 * 1.6 and 4 * 1.6 < SLIVER_SHARE * (64 + 25) * 1.6
    assert len(cluster(items).centroids) == 2
    assert len(cluster(items, left_out_s=25 * 1.6).centroids) == 1
