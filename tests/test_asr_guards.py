"""The recognizer's hallucination guards: what they leave out is on record, the fallback is seeded,
and no spoken turn of a committed fixture ends up without words."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.asr import load_engine
from pipeline.asr.base import _guard
from pipeline.asr.decisions import NO_SPEECH, REPETITIVE, Window, pick_language, skipped_windows
from pipeline.asr.gate import Gate
from pipeline.options import IngestOptions, OptionsError, SpeakerOptions, TranscribeOptions
from pipeline.transcript import SCHEMA_VERSION, Dropped, Segment, Transcript

FIXTURES = Path(__file__).parent / "fixtures"
SR = 16000


def _audio(name: str) -> np.ndarray:
    path = FIXTURES / f"{name}.mp4"
    if not path.is_file():
        pytest.skip(f"tests/fixtures/{name}.mp4 is not there yet")
    from media.audio import load_audio

    return load_audio(path)


def _turns(name: str) -> list[tuple[float, float]]:
    lines = (FIXTURES / f"{name}.rttm").read_text().splitlines()
    return [(float(f[3]), float(f[3]) + float(f[4])) for f in (ln.split() for ln in lines) if f and f[0] == "SPEAKER"]


def _words(result) -> list[str]:
    return [w.word for s in result.segments for w in s.words]


# -- no recognizer ---------------------------------------------------------------------


def test_schema_2_records_drops_and_reads_version_1():
    segments = [{"start": 0.0, "end": 1.0, "text": "Hi.", "words": []}]
    v1 = {"video_id": "a-1", "path": "/a.mp4", "duration": 3.0, "language": "en", "engine": "faster-whisper",
          "model": "base", "segments": segments, "schema_version": 1}  # fmt: skip
    old = Transcript.from_dict(v1)
    assert old.dropped == [] and old.schema_version == SCHEMA_VERSION >= 2
    old.dropped.append(Dropped(1.0, 31.0, NO_SPEECH, "Thank you."))
    again = Transcript.from_dict(json.loads(json.dumps(old.to_dict())))
    assert again.dropped == [Dropped(1.0, 31.0, "no speech", "Thank you.")]


def test_the_repetition_guard_records_what_it_drops():
    loop = Segment(0.0, 30.0, "Thank you. " * 30)
    real = Segment(30.0, 33.0, "The budget gives fishing families tax relief.")
    dropped: list[Dropped] = []
    assert _guard([loop, real], TranscribeOptions(), dropped) == [real]
    assert dropped == [Dropped(0.0, 30.0, REPETITIVE, loop.text)]


def test_skipped_windows_sit_between_the_kept_ones():
    gate = Gate(np.zeros(90 * SR, np.float32), TranscribeOptions(vad_filter=False))
    kept, skip = Window(0.1, -0.3, 0.0, "Hello there.", False), Window(0.9, -1.5, 0.0, "Thank you.", True)
    out = skipped_windows([kept, skip, kept, skip], [(0.0, 12.5), (42.5, 60.0)], gate)
    assert out == [Dropped(12.5, 42.5, NO_SPEECH, "Thank you."), Dropped(60.0, 90.0, NO_SPEECH, "Thank you.")]


def test_language_from_several_windows():
    unsure_fi = [("fi", 0.48), ("en", 0.36)]
    assert pick_language([unsure_fi, [("en", 0.9)]]) == "en"  # the first sure window decides
    assert pick_language([unsure_fi, [("en", 0.45)], [("en", 0.4)]]) == "en"  # else the most named
    assert pick_language([[("de", 0.7)], [("en", 0.9)]]) == "de"


def test_temperatures_start_at_zero_and_rise():
    assert TranscribeOptions().temperatures[0] == 0.0
    for bad in ((), (0.2, 0.4), (0.0, 0.6, 0.4)):
        with pytest.raises(OptionsError):
            TranscribeOptions(temperatures=bad)


# -- the real recognizer ---------------------------------------------------------------


@pytest.mark.slow
def test_a_skipped_window_is_on_record(fw):
    """Thresholds that call every window silence: nothing is kept, and all of it is on record."""
    audio = _audio("two_voices")
    opts = TranscribeOptions(language="en", beam_size=1, no_speech_threshold=0.0, log_prob_threshold=0.0,
                             temperatures=(0.0,))  # fmt: skip
    result = fw.transcribe(audio, opts)
    assert result.segments == []
    assert result.dropped and {d.reason for d in result.dropped} == {NO_SPEECH}
    assert "budget" in " ".join(d.text for d in result.dropped).lower()
    assert all(0.0 <= d.start < d.end <= audio.size / SR for d in result.dropped)


@pytest.mark.slow
def test_a_discarded_segment_is_on_record(fw):
    audio = _audio("two_voices")[: 10 * SR]
    opts = TranscribeOptions(language="en", beam_size=1, compression_ratio_threshold=0.5, temperatures=(0.0,))
    result = fw.transcribe(audio, opts)
    assert result.segments == []
    assert result.dropped and {d.reason for d in result.dropped} == {REPETITIVE}
    assert "welcome" in " ".join(d.text for d in result.dropped).lower()


@pytest.mark.slow
def test_ingest_saves_the_drops_in_the_transcript(tmp_path):
    from pipeline.ingest import Ingestor
    from pipeline.library import Library

    media = tmp_path / "two_voices.mp4"
    shutil.copy(FIXTURES / "two_voices.mp4", media)
    opts = IngestOptions(
        transcribe=TranscribeOptions(language="en", beam_size=1, no_speech_threshold=0.0, log_prob_threshold=0.0,
                                     temperatures=(0.0,)),
        speakers=SpeakerOptions(diarize=False),
    )  # fmt: skip
    library = Library(tmp_path / "lib")
    summary = Ingestor(library, opts).run([media])
    (file,) = summary.results
    assert file.status == "done", file
    saved = json.loads(library.transcript_path(file.video_id).read_text())
    assert saved["schema_version"] == SCHEMA_VERSION and saved["segments"] == []
    assert saved["dropped"] and saved["dropped"][0]["reason"] == NO_SPEECH
    assert "budget" in " ".join(d["text"] for d in saved["dropped"]).lower()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["faster-whisper", "openai-whisper"])
def test_the_fallback_is_seeded_per_transcription(engine, fw):
    """Every window is made to fall back (no log probability is good enough), so words are sampled.
    The same clip gives the same words, also after another clip sampled in between."""
    eng = fw if engine == "faster-whisper" else load_engine("openai-whisper", "base")
    audio = _audio("two_voices")
    clip, other = audio[: 10 * SR], audio[10 * SR :]
    opts = TranscribeOptions(language="en", beam_size=1, log_prob_threshold=0.0, no_speech_threshold=None,
                             temperatures=(0.0, 1.0), best_of=2)  # fmt: skip
    before = eng._sampling.samples if engine == "faster-whisper" else None
    first = eng.transcribe(clip, opts)
    eng.transcribe(other, opts)
    again = eng.transcribe(clip, opts)
    if before is not None:
        assert eng._sampling.samples > before  # the fallback really sampled
    assert _words(first) and _words(first) == _words(again)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["two_voices", "three_voices", "real_two_voices"])
def test_every_spoken_turn_gets_words(fw, name):
    audio = _audio(name)
    result = fw.transcribe(audio, TranscribeOptions())
    words = [(w.start, w.end) for s in result.segments for w in s.words]
    silent = [(s, e) for s, e in _turns(name) if not any(ws < e and we > s for ws, we in words)]
    assert silent == [], (silent, result.dropped)
