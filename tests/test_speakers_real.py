"""Speakers on a real two-voice recording and on sub-second exchanges, with the real models.

real_two_voices is 39.5 s of two real male voices (LibriSpeech, see
fixtures/README.md) taking five turns, one of them 2.2 s; its RTTM is exact.
fast_exchange is synthetic (espeak-ng) with one-word turns ("Hello.",
"Really?", "Right.") between long ones, 0.2-0.4 s apart: a turn must never be
merged into its neighbour's segment.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from media.audio import load_audio
from pipeline.speakers import assign_speakers, diarize
from pipeline.transcript import Segment, Transcript, Word

FIXTURES = Path(__file__).parent / "fixtures"
SHORT_S = 1.0


def read_rttm(path: Path) -> list[tuple[float, float, str]]:
    turns = []
    for line in path.read_text().splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            turns.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return turns


@cache
def ingested(name: str) -> Transcript:
    """The fixture through the real ingest (Whisper + diarization), no speaker hint."""
    import tempfile

    from pipeline.ingest import Ingestor
    from pipeline.library import Library

    tmp = tempfile.mkdtemp(prefix="speakers-real-")
    library = Library(tmp)
    result = Ingestor(library).run([FIXTURES / f"{name}.mp4"]).results[0]
    assert result.status == "done", result
    return library.load_transcript(result.video_id)


def words_in(transcript: Transcript, start: float, end: float) -> list[Word]:
    """Words whose middle falls inside [start, end]."""
    return [w for s in transcript.segments for w in s.words if start <= (w.start + w.end) / 2 <= end]


# -- a real two-voice recording -----------------------------------------------------
@pytest.mark.slow
def test_real_voices_are_counted_without_a_hint():
    transcript = ingested("real_two_voices")
    assert {s.speaker for s in transcript.segments} == {"SPEAKER_1", "SPEAKER_2"}


@pytest.mark.slow
def test_real_turns_land_on_the_right_words():
    transcript = ingested("real_two_voices")
    reference = read_rttm(FIXTURES / "real_two_voices.rttm")
    labels = []
    for start, end, who in reference:
        words = words_in(transcript, start, end)
        speakers = {w.speaker for w in words}
        assert len(speakers) <= 1, (who, start, [(w.word, w.speaker) for w in words])
        labels.append((who, speakers.pop() if speakers else None))
    mapping = {}
    for who, label in labels:
        if label is not None:
            assert mapping.setdefault(who, label) == label, labels  # one label per reference speaker
    assert len(set(mapping.values())) == len(mapping) == 2, labels
    assert all(a[1] != b[1] for a, b in zip(labels, labels[1:], strict=False) if a[1] and b[1]), labels


@pytest.mark.slow
def test_no_real_turn_is_left_without_words():
    transcript = ingested("real_two_voices")
    empty = [t for t in read_rttm(FIXTURES / "real_two_voices.rttm") if not words_in(transcript, t[0], t[1])]
    assert not empty


# -- sub-second exchanges (synthetic) ---------------------------------------------------
@cache
def truth(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.truth.json").read_text())


def truth_words_as_one_segment(name: str) -> list[Segment]:
    """Every truth word in one segment, as a recognizer that runs turns together would give them."""
    t = truth(name)
    words = []
    for turn in t["turns"]:
        ws = [w for w in t["words"] if w["turn"] == turn["index"]]
        for i, w in enumerate(ws):
            words.append(Word(w["word"], w["start"], ws[i + 1]["start"] if i + 1 < len(ws) else turn["end"]))
    return [Segment(words[0].start, words[-1].end, " ".join(w.word for w in words), words)]


def speaker_of_time(name: str, time: float) -> str:
    return min(truth(name)["turns"], key=lambda t: max(t["start"] - time, time - t["end"], 0.0))["speaker"]


def test_fast_exchange_turns_get_their_own_label():
    name = "fast_exchange"
    turns = diarize(load_audio(FIXTURES / f"{name}.mp4"))
    segments, speakers = assign_speakers(truth_words_as_one_segment(name), turns)
    assert len(speakers) == 2
    truth_of = {}
    for seg in segments:  # a segment never mixes two speakers
        who = {speaker_of_time(name, (w.start + w.end) / 2) for w in seg.words}
        assert len(who) == 1, (seg.text, who)
        assert truth_of.setdefault(who.pop(), seg.speaker) == seg.speaker, seg.text
    short = [t for t in truth(name)["turns"] if t["end"] - t["start"] < SHORT_S]
    assert len(short) >= 3
    for turn in short:  # each one-word turn is a segment of its own with its speaker's label
        seg = [s for s in segments if s.words and turn["start"] <= s.words[0].start < turn["end"]]
        assert seg and seg[0].speaker == truth_of[turn["speaker"]], turn["text"]
        assert len(seg[0].words) == len(turn["text"].split()), (turn["text"], seg[0].text)


@pytest.mark.slow
def test_fast_exchange_ingested_segments_never_mix_speakers():
    name = "fast_exchange"
    transcript = ingested(name)
    assert len(transcript.speakers) == 2
    for seg in transcript.segments:
        # a word is placed by its end (Whisper stretches a turn's first word back over the pause)
        who = {speaker_of_time(name, w.end - 0.05) for w in seg.words}
        assert len(who) == 1, (seg.text, who)


# -- one real voice, a short recording ------------------------------------------------
@pytest.mark.slow
def test_one_real_voice_in_a_short_recording_stays_one_speaker():
    """The best of the many ways to split one voice in two stands out more the fewer windows it
    has: 30 s of a single real reader (real_one_voice, LibriSpeech 2414) must be one speaker
    (it was two when every split needed the same separation)."""
    turns = diarize(load_audio(FIXTURES / "real_one_voice.m4a"))
    assert turns and len({t.label for t in turns}) == 1


# -- the speaker encoder on real voices ---------------------------------------------------------
@pytest.mark.slow
def test_campplus_loads_the_packaged_weights_strictly():
    import torch

    from pipeline.speakers import campplus

    state = torch.load(campplus.weights_path(), map_location="cpu", weights_only=True)
    model = campplus.load()  # load_state_dict(strict=True): every tensor has its place, and no place is left empty
    assert set(model.state_dict()) == set(state) and len(state) == 937
    assert model.xvector.dense.linear.weight.shape[0] == campplus.EMBED_DIM == 192


@pytest.mark.slow
def test_two_real_voices_embed_further_apart_than_one_voice():
    """Three s of LibriSpeech 2033 and 2414 (real_two_voices, and 2414 again in real_one_voice, another utterance):
    any two clips of one reader are closer than any two of different readers, by a wide margin."""
    import numpy as np

    from media.audio import load_audio
    from pipeline.speakers.embed import get_encoder

    encoder = get_encoder("campplus")
    two, one = load_audio(FIXTURES / "real_two_voices.mp4"), load_audio(FIXTURES / "real_one_voice.m4a")

    def embed(audio, start: float) -> np.ndarray:
        feats = encoder.features(audio[int(start * 16000) : int((start + 3) * 16000)])
        return encoder.embed([(feats, [(0, len(feats))])])[0][0]

    readers = {"2033": [embed(two, 1), embed(two, 13), embed(two, 30)], "2414": [embed(two, 20), embed(one, 15)]}
    same = [float(a @ b) for v in readers.values() for i, a in enumerate(v) for b in v[i + 1 :]]
    cross = [float(a @ b) for a in readers["2033"] for b in readers["2414"]]
    assert min(same) > max(cross) + 0.3, (same, cross)
