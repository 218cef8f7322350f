"""Word times held to the speech they were heard in (`pipeline.asr.speech_bounds`).

The gate glues speech regions together before decoding, so a recognizer segment can run across a
silence it never heard (measured on a far-field meeting: one sentence's words spread over 5.7-24.1 s).
The fast tests build such segments by hand; the slow one decodes real voices (LibriSpeech, see
fixtures/README.md) with long silences put between their turns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.asr.gate import Gate
from pipeline.asr.speech_bounds import UNHEARD_MAX_S, bound_to_speech
from pipeline.options import TranscribeOptions
from pipeline.transcript import Segment, Word

FIXTURES = Path(__file__).parent / "fixtures"
SR = 16000


def _segment(*words: tuple[str, float, float]) -> Segment:
    ws = [Word(w, a, b) for w, a, b in words]
    return Segment(ws[0].start, ws[-1].end, " ".join(w for w, _a, _b in words), ws)


def test_a_segment_across_a_cut_out_silence_is_cut_in_two():
    # The recognizer heard "so that" and "looks like" glued together; 16 s of silence lay between them.
    seg = _segment(("so", 5.7, 6.2), ("that", 6.2, 6.4), ("looks", 6.4, 22.9), ("like", 23.1, 23.4))
    out = bound_to_speech([seg], regions=[(5.6, 6.6), (22.8, 24.0)], stretches=[(5.65, 6.5), (22.95, 23.9)])
    assert [s.text for s in out] == ["so that", "looks like"]
    assert (out[0].start, out[0].end) == (5.7, 6.4)
    assert out[1].start >= 22.8 and out[1].words[0].start >= 22.8  # not stretched back over the silence
    assert all(w.end - w.start <= 1.0 for s in out for w in s.words)


def test_a_word_is_clipped_to_the_speech_it_overlaps():
    # "Well," stretched back over 1.2 s of silence; "yes." on past the speech's end.
    seg = _segment(("Well,", 9.0, 10.6), ("yes.", 10.7, 12.5))
    out = bound_to_speech([seg], regions=[(8.5, 13.0)], stretches=[(10.2, 10.9), (11.0, 11.3)])
    assert [(w.start, w.end) for w in out[0].words] == [(10.2, 10.6), (10.7, 11.3)]
    assert (out[0].start, out[0].end) == (10.2, 11.3)


def test_a_word_over_no_detected_speech_keeps_its_end_and_a_bounded_length():
    seg = _segment(("Okay.", 3.0, 6.0), ("Right.", 6.1, 6.4))
    out = bound_to_speech([seg], regions=[(2.5, 7.0)], stretches=[(6.0, 6.5)])
    okay, right = out[0].words
    assert okay.end == 6.0 and okay.end - okay.start == pytest.approx(UNHEARD_MAX_S)
    assert (right.start, right.end) == (6.1, 6.4)


def test_words_and_text_are_all_kept():
    segs = [_segment(("a", 0.0, 0.5), ("b", 3.0, 3.5), ("c", 9.0, 9.4)), Segment(12.0, 13.0, "[music]", [])]
    out = bound_to_speech(segs, regions=[(0.0, 4.0), (8.8, 9.6)], stretches=[(0.1, 0.4), (9.0, 9.3)])
    assert [w.word for s in out for w in s.words] == ["a", "b", "c"]
    assert [s.text for s in out] == ["a b", "c", "[music]"]


@pytest.mark.slow
def test_real_words_stay_on_real_speech_across_long_silences():
    """Real voices with 6 s of silence put between their turns: no word and no segment spans a
    silence, and every word lies on a reference turn or within the gate's padding (0.4 s) of one."""
    from media.audio import load_audio
    from pipeline.asr import load_engine
    from pipeline.options import EngineOptions

    audio = load_audio(FIXTURES / "real_two_voices.mp4")
    turns = [(float(f[3]), float(f[3]) + float(f[4]))
             for f in (ln.split() for ln in (FIXTURES / "real_two_voices.rttm").read_text().splitlines())
             if f and f[0] == "SPEAKER"]  # fmt: skip
    gap = np.zeros(6 * SR, np.float32)
    pieces, shifted, at, prev_end = [], [], 0.0, 0.0
    for i, (start, end) in enumerate(turns):
        cut_from = prev_end if i == 0 else (prev_end + start) / 2  # cut in the middle of each pause
        cut_to = (end + turns[i + 1][0]) / 2 if i + 1 < len(turns) else audio.size / SR
        piece = audio[int(cut_from * SR) : int(cut_to * SR)]
        if i:
            pieces.append(gap)
            at += gap.size / SR
        shifted.append((at + start - cut_from, at + end - cut_from))
        pieces.append(piece)
        at += piece.size / SR
        prev_end = end
    spaced = np.concatenate(pieces)
    pad = TranscribeOptions().vad_speech_pad_ms / 1000 + 0.05
    silences = [(a[1] + pad, b[0] - pad) for a, b in zip(shifted, shifted[1:], strict=False)]

    engine = load_engine(options=EngineOptions())
    result = engine.transcribe(spaced, TranscribeOptions(language="en"))
    words = [w for s in result.segments for w in s.words]
    assert len(words) > 40
    # A word's end may run on as far as the stretch it is held to: Silero closes 0.2-0.4 s after the
    # last syllable (as it opens late on the first), then the gate's padding; measured on this
    # fixture, stretches end 0.64-0.76 s after the reference turns. Within the 6-s silences is wrong.
    late = pad + 0.4
    for w in words:
        assert any(a - pad <= w.start and w.end <= b + late for a, b in shifted), (w, shifted)
    for s in result.segments:
        assert not any(s.start < a and b < s.end for a, b in silences), (s.start, s.end, s.text)
    # The stretches the words are held to cover the real speech.
    stretches = Gate(spaced, TranscribeOptions()).stretches()
    assert all(any(a <= (t0 + t1) / 2 <= b for a, b in stretches) for t0, t1 in shifted)
