"""faster-whisper's default decoding: pieces cut in the longest pause near their end, two decoded at
a time with the text before them as context; against window-after-window decoding on real speech."""

from __future__ import annotations

import difflib

import numpy as np
import pytest

from media.audio import load_audio
from pipeline.asr.faster_whisper_engine import CUT_LOOK_S, PIECE_S, speech_pieces
from pipeline.options import OptionsError, TranscribeOptions

from conftest import fixture, timed_words

SR = 16000


def test_pieces_end_in_a_pause_of_their_last_seconds_and_cover_all_the_audio():
    speech = load_audio(fixture("three_voices.mp4"))
    audio = np.concatenate([speech, speech, speech, speech])  # 120 s with pauses between turns
    pieces = speech_pieces(audio, look=CUT_LOOK_S)
    assert pieces[0][0] == 0.0 and pieces[-1][1] == audio.size / SR
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))  # nothing left out between
    assert all(0 < b - a <= PIECE_S for a, b in pieces)
    assert all(b - a > PIECE_S - CUT_LOOK_S for a, b in pieces[:-1])  # long pieces: few windows
    level = np.sqrt(np.mean(audio**2))
    for _, cut in pieces[:-1]:  # every cut in a pause: quieter there than the speech around it
        at = int(cut * SR)
        assert np.sqrt(np.mean(audio[at - 800 : at + 800] ** 2)) < 0.5 * level


def test_parallel_pieces_is_checked():
    assert TranscribeOptions().parallel_pieces == 2
    assert TranscribeOptions(parallel_pieces=0).parallel_pieces == 0  # window after window
    with pytest.raises(OptionsError):
        TranscribeOptions(parallel_pieces=-1)


# -- the real recognizer ---------------------------------------------------------------


@pytest.mark.slow
def test_pieces_side_by_side_give_the_windows_words_at_the_same_times(fw):
    one = load_audio(fixture("real_two_voices.mp4"))
    audio = np.concatenate([one, load_audio(fixture("three_voices.mp4")), one])  # 109 s: 4+ pieces, 2 groups
    assert len(speech_pieces(audio, look=CUT_LOOK_S)) >= 4
    pieces = fw.transcribe(audio, TranscribeOptions(language="en"))
    again = fw.transcribe(audio, TranscribeOptions(language="en"))
    windows = fw.transcribe(audio, TranscribeOptions(language="en", parallel_pieces=0))
    assert timed_words(pieces) == timed_words(again)  # deterministic, whatever thread finished first
    p = [w.strip(".,?!").lower() for w, _, _ in timed_words(pieces)]
    s = [w.strip(".,?!").lower() for w, _, _ in timed_words(windows)]
    same = difflib.SequenceMatcher(a=s, b=p, autojunk=False)
    assert same.ratio() >= 0.9, (s, p)
    pt, st = timed_words(pieces), timed_words(windows)
    gaps = [abs(pt[j][1] - st[i][1]) for i, j, n in same.get_matching_blocks() for i, j in
            zip(range(i, i + n), range(j, j + n), strict=True)]  # fmt: skip
    assert gaps and np.median(gaps) <= 0.1 and np.percentile(gaps, 95) <= 0.3 and max(gaps) <= 1.0, gaps
    starts = [s.start for s in pieces.segments]
    assert starts == sorted(starts) and all(0 <= t <= audio.size / SR for _, t, _ in pt)  # one timeline, in order


@pytest.mark.slow
def test_pieces_that_fail_the_checks_are_on_record(fw):
    audio = load_audio(fixture("real_two_voices.mp4"))
    silent = TranscribeOptions(language="en", no_speech_threshold=0.0, log_prob_threshold=0.0, temperatures=(0.0,))
    result = fw.transcribe(audio, silent)  # every window looks silent: skipped, and on record with its text
    assert result.segments == [] and result.dropped
    assert all(0 <= d.start <= d.end <= audio.size / SR for d in result.dropped)
    assert sum(len(d.text.split()) for d in result.dropped) > 20  # the words of both pieces, not lost unseen
