"""The speech gate reads the audio with Silero once (`pipeline.asr.gate`): its three uses (the gate at
its threshold, the sure speech, the stretches word times are held to) give the very spans three separate
faster-whisper VAD runs give, from one run of the model."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from pipeline.asr.gate import STRETCH_SILENCE_MS, SURE_THRESHOLD, Gate
from pipeline.options import TranscribeOptions

FIXTURES = Path(__file__).parent / "fixtures"
SR = 16000


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    from media.audio import load_audio

    return load_audio(FIXTURES / "ami_far_field.flac")  # real speech, quiet and loud, with pauses


def _fresh(audio: np.ndarray, threshold: float, silence_ms: int, pad_ms: int) -> list[dict]:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    vad = VadOptions(threshold=threshold, min_silence_duration_ms=silence_ms, speech_pad_ms=pad_ms)
    return get_speech_timestamps(audio, vad, sampling_rate=SR)


def test_one_silero_run_gives_the_spans_of_three(speech):
    o = TranscribeOptions()
    gate = Gate(speech, o)
    sure, stretches = gate.sure_speech(), gate.stretches()
    assert gate._vad is not None and gate._vad.runs == 1

    spans = _fresh(speech, o.vad_threshold, o.vad_min_silence_ms, o.vad_speech_pad_ms)
    assert gate.regions == [(c["start"] / SR, c["end"] / SR) for c in spans]
    short = _fresh(speech, o.vad_threshold, STRETCH_SILENCE_MS, o.vad_speech_pad_ms)
    assert stretches == [(c["start"] / SR, c["end"] / SR) for c in short]
    sure_spans = _fresh(speech, SURE_THRESHOLD, o.vad_min_silence_ms, o.vad_speech_pad_ms)
    assert np.array_equal(sure, np.concatenate([speech[c["start"] : c["end"]] for c in sure_spans]))
    # The three differ: they are three readings, not one answer returned three times.
    assert len(short) > len(spans) and sure.size < gate.audio.size


def test_other_audio_and_other_threads_get_their_own_run(speech):
    from faster_whisper.vad import get_vad_model

    gate = Gate(speech, TranscribeOptions())
    other = speech[: speech.size // 2]
    seen: list[object] = []
    with gate._vad.in_use():
        seen.append(get_vad_model())
        t = threading.Thread(target=lambda: seen.append(get_vad_model()))
        t.start()
        t.join()
        spans = _fresh(other, 0.5, 2000, 400)  # another audio through the same gate's reader: computed anew
    assert seen[0] is gate._vad and seen[1] is not gate._vad  # another thread's calls run Silero itself
    assert get_vad_model() is not gate._vad  # and so do calls outside the gate
    assert spans == _fresh(other, 0.5, 2000, 400)
