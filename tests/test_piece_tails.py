"""A piece whose decoding stops writing before the piece ends: the speech after its last segment is
decoded again (`FasterWhisperEngine._decode_one_piece`), so it is not lost unseen; silence is not."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from media.audio import load_audio
from pipeline.asr import faster_whisper_engine as fwe
from pipeline.asr.gate import Gate
from pipeline.options import TranscribeOptions

from conftest import fixture

SR = 16000


def test_sure_seconds_counts_speech_not_silence():
    speech = load_audio(fixture("three_voices.mp4"))
    audio = np.concatenate([speech, np.zeros(5 * SR, np.float32)])
    gate = Gate(audio, TranscribeOptions())
    end = gate.audio.size / SR
    assert gate.sure_seconds(0.0, end) > 0.5 * speech.size / SR  # most of the reading
    assert gate.sure_seconds(end - 0.3, end) == 0.0  # the padding into the silence after the last word
    assert gate.sure_seconds(3.0, 3.0) == 0.0
    assert Gate(audio, TranscribeOptions(vad_filter=False)).sure_seconds(0.0, 10.0) == 0.0  # Silero not asked


def test_sure_onset_is_where_the_next_speech_begins():
    speech = load_audio(fixture("three_voices.mp4"))
    first = speech[: 5 * SR]
    audio = np.concatenate([first, np.zeros(3 * SR, np.float32), speech])
    gate = Gate(audio, TranscribeOptions())
    end = gate.audio.size / SR
    sure = gate._spans(0.5, 200, pad_ms=0)
    again = next(c["start"] for c in sure if c["start"] >= first.size) / SR  # the second reading, original time
    after = gate.sure_onset(2.0, end)  # from inside the first reading: its speech goes on, decoded from there
    assert after == 2.0
    last = max(c["end"] for c in sure if c["end"] <= first.size + 0.1 * SR) / SR  # the first reading's end
    onset = gate.sure_onset(last - 0.1, end)  # gated seconds; its original time is the next speech, padded
    assert abs(gate.span(onset, onset)[0] - (again - TranscribeOptions().vad_speech_pad_ms / 1000)) < 0.05
    assert gate.sure_onset(end - 0.2, end) == end - 0.2  # nothing sure after it


def _stopping_early(monkeypatch):
    """The model as it fails on noisy speech: its first window closes after its first segment with a
    timestamp alone, so faster-whisper takes the whole window as done."""
    from faster_whisper.transcribe import WhisperModel

    native = WhisperModel.generate_with_fallback
    calls = []

    def generate(self, encoder_output, prompt, tokenizer, options):
        result, avg_logprob, temperature, ratio = native(self, encoder_output, prompt, tokenizer, options)
        calls.append(1)
        if len(calls) > 1:
            return result, avg_logprob, temperature, ratio
        tokens = list(result.sequences_ids[0])
        stamp = [t >= tokenizer.timestamp_begin for t in tokens]
        first = next(i for i in range(1, len(tokens) - 1) if stamp[i] and stamp[i + 1])  # the first segment's end
        cut = SimpleNamespace(sequences_ids=[tokens[: first + 1]], no_speech_prob=result.no_speech_prob)
        return cut, avg_logprob, temperature, ratio

    monkeypatch.setattr(WhisperModel, "generate_with_fallback", generate)


def _decode_piece(fw, audio: np.ndarray, piece: tuple[float, float]):
    gate = Gate(audio, TranscribeOptions(language="en"))
    lane = fw._lane(0)
    try:
        segs, _, _, _ = fw._decode_one_piece(lane, gate, TranscribeOptions(language="en"), piece, None, None)
    finally:
        lane[1].end()
    return [w for s in segs for w in s.words]


@pytest.mark.slow
def test_speech_after_an_early_stop_is_decoded(fw, monkeypatch):
    audio = load_audio(fixture("three_voices.mp4"))
    piece = (0.0, min(25.0, audio.size / SR))
    plain = _decode_piece(fw, audio, piece)
    _stopping_early(monkeypatch)
    again = _decode_piece(fw, audio, piece)
    assert again[-1].end >= plain[-1].end - 1.0, (again, plain)  # written up to where the whole decoding wrote
    monkeypatch.setattr(fwe, "MAX_TAILS", 0)
    _stopping_early(monkeypatch)
    lost = _decode_piece(fw, audio, piece)  # as before: the rest of the piece never looked at
    assert lost[-1].end < plain[-1].end - 5.0 and len(lost) < 0.5 * len(again), (lost, again)
