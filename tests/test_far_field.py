"""Far-field meeting speech (a real AMI excerpt, tests/fixtures/README.md) is let through the recognizer's
speech gate (`pipeline.asr.gate`): Silero scores most of it below 0.5, and a gate at 0.5 threw away utterances
the recognizer transcribes. The language is still read from the speech Silero is sure of."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.asr.gate import Gate
from pipeline.options import TranscribeOptions

FIXTURES = Path(__file__).parent / "fixtures"
SR = 16000


@pytest.fixture(scope="module")
def far_field() -> np.ndarray:
    from media.audio import load_audio

    return load_audio(FIXTURES / "ami_far_field.flac")


def _reference_speech(n: int) -> np.ndarray:
    """(n,) 10-ms frames where some reference speaker talks."""
    speech = np.zeros(n, bool)
    for line in (FIXTURES / "ami_far_field.rttm").read_text().splitlines():
        f = line.split()
        start, dur = float(f[3]), float(f[4])
        speech[int(start * 100) : int((start + dur) * 100)] = True
    return speech


def _covered(regions: list[tuple[float, float]], n: int) -> float:
    """Share of the reference speech inside `regions`."""
    speech, kept = _reference_speech(n), np.zeros(n, bool)
    for a, b in regions:
        kept[int(a * 100) : int(b * 100)] = True
    return float((speech & kept).sum() / speech.sum())


def test_the_recognizer_gate_keeps_far_field_speech(far_field):
    n = far_field.size * 100 // SR
    gate = Gate(far_field, TranscribeOptions())
    assert _covered(gate.regions, n) >= 0.9
    # What the gate was before, on the same audio: most of the speech cut out unseen.
    assert _covered(Gate(far_field, TranscribeOptions(vad_threshold=0.5)).regions, n) < 0.6


def test_the_language_is_read_from_the_sure_speech_only(far_field):
    gate = Gate(far_field, TranscribeOptions())
    sure = gate.sure_speech()
    assert 0 < sure.size < gate.audio.size  # the murmur the low gate lets in is left out
    assert Gate(far_field, TranscribeOptions(vad_filter=False)).sure_speech().size == far_field.size


def _mask(spans: list[tuple[float, float]], n: int) -> np.ndarray:
    out = np.zeros(n, bool)
    for a, b in spans:
        out[int(a * 100) : int(b * 100)] = True
    return out


def test_what_the_gate_leaves_out_is_on_record(far_field):
    """Speech scoring under the gate is never decoded; where Silero heard it at all, the gate's record
    (`Gate.left_out`) holds it, outside everything the gate lets through."""
    n = far_field.size * 100 // SR
    strict = Gate(far_field, TranscribeOptions(vad_threshold=0.5))  # cuts most of this far-field speech
    record = _mask(strict.left_out(), n)
    passed = _mask(strict.regions, n)
    cut = _reference_speech(n) & ~passed
    assert cut.sum() > 300  # seconds of real speech the gate left out
    assert (cut & record).sum() >= 0.8 * cut.sum()
    assert not (record & passed).any()


def test_the_transcription_keeps_the_gates_record_and_silence_leaves_none(far_field):
    from pipeline.asr.base import WhisperEngine
    from pipeline.asr.decisions import BELOW_GATE

    class Deaf(WhisperEngine):  # the gate and its record are what is tested, not the words
        def _decode(self, gate, options, prompt, hot, progress, p0, p1):  # noqa: ANN001, ANN202
            return [], "en", []

        def _detect_language(self, audio, options):  # noqa: ANN001, ANN202
            return "en"

    options = TranscribeOptions(vad_threshold=0.5)
    result = Deaf().transcribe(far_field, options)
    assert [(d.start, d.end) for d in result.dropped] == Gate(far_field, options).left_out()
    assert {d.reason for d in result.dropped} == {BELOW_GATE}
    silence = np.zeros(10 * SR, np.float32)
    assert Gate(silence, TranscribeOptions()).left_out() == []
    assert Deaf().transcribe(silence, TranscribeOptions()).dropped == []
