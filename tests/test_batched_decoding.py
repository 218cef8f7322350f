"""faster-whisper's batched decoding (`batch_size` > 1, opt-in): pieces that cover all the speech, sentences
cut from a piece's words, and the real model's words against the sequential decoding."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

from media.audio import load_audio
from pipeline.asr.decisions import NO_SPEECH, REPETITIVE
from pipeline.asr.faster_whisper_engine import PIECE_S, sentences, speech_pieces
from pipeline.options import OptionsError, TranscribeOptions

from conftest import fixture, timed_words

SR = 16000
W = namedtuple("W", "start end word probability")


def test_pieces_cover_all_the_audio_each_at_most_30_s_cut_in_pauses():
    speech = load_audio(fixture("three_voices.mp4"))
    audio = np.concatenate([speech, speech, speech])  # > 90 s with pauses between turns
    pieces = speech_pieces(audio)
    assert pieces[0][0] == 0.0 and pieces[-1][1] == audio.size / SR
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))  # nothing left out between
    assert all(0 < b - a <= PIECE_S for a, b in pieces)
    assert len(pieces) <= int(audio.size / SR / PIECE_S) + 2  # as long as they can be: few cuts
    for _, cut in pieces[:-1]:  # every cut in a pause: quieter there than the speech around it
        at = int(cut * SR)
        assert np.sqrt(np.mean(audio[at - 800 : at + 800] ** 2)) < 0.5 * np.sqrt(np.mean(audio**2))


def test_a_stretch_with_no_pause_is_cut_at_30_s():
    t = np.arange(int(70 * SR)) / SR
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    pieces = speech_pieces(tone)
    assert pieces[0][0] == 0.0 and pieces[-1][1] == tone.size / SR
    assert all(b - a <= PIECE_S for a, b in pieces)


def test_sentences_end_at_a_full_stop_or_a_long_pause():
    words = [W(0.0, 0.4, " Hello", 0.9), W(0.5, 0.9, " there.", 0.9), W(1.0, 1.3, " Really?", 0.9),
             W(1.4, 1.8, " Yes", 0.9), W(4.0, 4.5, " and", 0.9), W(4.6, 5.0, " then", 0.9)]  # fmt: skip
    assert [[w.word for w in s] for s in sentences(words)] == [
        [" Hello", " there."], [" Really?"], [" Yes"], [" and", " then"]]  # fmt: skip
    assert sentences([]) == []


def test_batch_size_is_checked():
    assert TranscribeOptions().batch_size == 1  # batches are opt-in: they cost words on noisy speech
    with pytest.raises(OptionsError):
        TranscribeOptions(batch_size=0)


# -- the real recognizer ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["two_voices", "real_two_voices"])
def test_batched_gives_the_sequential_words_at_the_same_times(fw, name):
    audio = load_audio(fixture(f"{name}.mp4"))
    batched = fw.transcribe(audio, TranscribeOptions(language="en", batch_size=8))
    again = fw.transcribe(audio, TranscribeOptions(language="en", batch_size=8))
    sequential = fw.transcribe(audio, TranscribeOptions(language="en", parallel_pieces=0))
    assert timed_words(batched) == timed_words(again)  # deterministic
    b = [w.strip(".,?!").lower() for w, _, _ in timed_words(batched)]
    s = [w.strip(".,?!").lower() for w, _, _ in timed_words(sequential)]
    import difflib

    same = difflib.SequenceMatcher(a=s, b=b, autojunk=False)
    assert same.ratio() >= 0.9, (s, b)
    # Word times: the words both decodings wrote start at the same time (median), nearly all within
    # 0.3 s; a turn's first word may be stretched differently (the keyword floor: within 1 s).
    bt, st = timed_words(batched), timed_words(sequential)
    gaps = [abs(bt[j][1] - st[i][1]) for i, j, n in same.get_matching_blocks() for i, j in
            zip(range(i, i + n), range(j, j + n), strict=True)]  # fmt: skip
    assert gaps and np.median(gaps) <= 0.1 and np.percentile(gaps, 95) <= 0.3 and max(gaps) <= 1.0, gaps
    # Segments are sentences, not whole pieces.
    assert max(s.end - s.start for s in batched.segments) < 20


@pytest.mark.slow
def test_batched_pieces_that_fail_the_checks_are_on_record_or_decoded_again(fw):
    audio = load_audio(fixture("two_voices.mp4"))
    silent = TranscribeOptions(language="en", no_speech_threshold=0.0, log_prob_threshold=0.0, temperatures=(0.0,),
                               batch_size=8)  # fmt: skip
    result = fw.transcribe(audio, silent)  # every piece looks silent: skipped, and on record with its text
    assert result.segments == [] and {d.reason for d in result.dropped} == {NO_SPEECH}
    assert "budget" in " ".join(d.text for d in result.dropped).lower()
    loop = TranscribeOptions(language="en", compression_ratio_threshold=0.5, temperatures=(0.0,), batch_size=8)
    result = fw.transcribe(audio[: 10 * SR], loop)  # decoded again alone, then dropped by the guard, on record
    assert result.segments == [] and {d.reason for d in result.dropped} == {REPETITIVE}
