"""Both transcription engines on committed real speech (no mocks): words, times, guards, progress."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from faster_whisper.transcribe import get_compression_ratio as compression_ratio

from pipeline.asr import TranscribeOptions, TranscriptionResult, load_engine
from pipeline.asr.base import glossary_prompt
from pipeline.asr.faster_whisper_engine import FasterWhisperEngine
from pipeline.asr.openai_whisper_engine import OpenAIWhisperEngine
from pipeline.options import DEFAULT_ENGINE, DEFAULT_MODEL

FIXTURES = Path(__file__).parent / "fixtures"
SR = 16000


def _load(name: str) -> np.ndarray:
    path = FIXTURES / f"{name}.mp4"
    if not path.is_file():
        pytest.skip(f"tests/fixtures/{name}.mp4 is not there yet")
    from media.audio import load_audio

    return load_audio(path)


def _truth(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.truth.json").read_text())


@pytest.fixture(scope="module")
def two_voices() -> np.ndarray:
    return _load("two_voices")


@pytest.fixture(scope="module")
def fw_base() -> FasterWhisperEngine:
    return load_engine("faster-whisper", "base")


@pytest.fixture(scope="module")
def ow_base() -> OpenAIWhisperEngine:
    return load_engine("openai-whisper", "base")


def _wer(ref: str, hyp: str) -> float:
    import jiwer
    from whisper.normalizers import EnglishTextNormalizer

    norm = EnglishTextNormalizer()  # harbour/harbor, three/3, punctuation
    return jiwer.wer(norm(ref), norm(hyp))


def _check_fixture_result(result: TranscriptionResult, audio: np.ndarray, progress: list[float]) -> None:
    ref = (FIXTURES / "two_voices.ref.txt").read_text()
    hyp = " ".join(s.text for s in result.segments)
    assert _wer(ref, hyp) <= 0.1, hyp
    assert result.language == "en"

    words = [w for s in result.segments for w in s.words]
    duration = audio.size / SR
    for w in words:
        assert w.word == w.word.strip() and w.word
        assert 0.0 <= w.start <= w.end <= duration
        assert 0.0 <= w.probability <= 1.0
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert any(w.word.endswith((".", ",", "?")) for w in words)  # punctuation stays attached

    # Distinctive words land within 0.5 s of where the speaker said them.
    truth = _truth("two_voices")["words"]
    for spoken, written in (("budget", "budget"), ("fishing", "fishing"), ("winter", "winter"),
                            ("October", "october"), ("council", "council")):  # fmt: skip
        want = [t["start"] for t in truth if t["word"] == spoken]
        got = [w.start for w in words if w.word.strip(".,?!").lower() == written]
        assert len(got) == len(want), (spoken, got, want)
        assert max(abs(g - t) for g, t in zip(got, want, strict=True)) <= 0.5, (spoken, got, want)

    assert progress[0] == 0.0 and progress[-1] == 1.0
    assert progress == sorted(progress) and all(0.0 <= p <= 1.0 for p in progress)


def test_defaults():
    assert (DEFAULT_ENGINE, DEFAULT_MODEL) == ("faster-whisper", "base")
    opts = TranscribeOptions()
    assert opts.language is None and opts.vad_filter and opts.beam_size == 5 and opts.glossary == ()
    assert opts.temperatures == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0) and opts.best_of == 5  # seeded fallback on


@pytest.mark.slow
def test_faster_whisper_on_fixture(fw_base, two_voices):
    assert (fw_base.name, fw_base.model_name, fw_base.compute_type) == ("faster-whisper", "base", "int8")
    progress: list[float] = []
    result = fw_base.transcribe(two_voices, TranscribeOptions(), progress=progress.append)  # language detected
    _check_fixture_result(result, two_voices, progress)


@pytest.mark.slow
def test_openai_whisper_on_fixture(ow_base, two_voices):
    assert (ow_base.name, ow_base.model_name, ow_base.compute_type) == ("openai-whisper", "base", "int8")
    progress: list[float] = []
    result = ow_base.transcribe(two_voices, TranscribeOptions(beam_size=1), progress=progress.append)
    _check_fixture_result(result, two_voices, progress)


@pytest.mark.slow
def test_openai_whisper_int8_quantizes_only_linear_layers(ow_base):
    """Every Linear projection is int8; the attention (word alignment reads it) and the rest stay float32."""
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as QLinear

    modules = dict(ow_base.model.named_modules())
    assert not any(isinstance(m, torch.nn.Linear) for m in modules.values())  # QLinear is no nn.Linear
    block = ow_base.model.decoder.blocks[0]
    for attn in (block.attn, block.cross_attn):
        assert all(isinstance(getattr(attn, p), QLinear) for p in ("query", "key", "value", "out"))
    assert sum(isinstance(m, QLinear) for m in modules.values()) == 6 * (
        len(ow_base.model.encoder.blocks) + len(ow_base.model.decoder.blocks)
    ) + 4 * len(ow_base.model.decoder.blocks)
    assert all(p.dtype == torch.float32 for p in ow_base.model.parameters())  # convs, norms, embeddings
    assert ow_base.model.alignment_heads.any()


@pytest.mark.slow
def test_openai_whisper_compute_types():
    from pipeline.asr.weights import resolve_model

    resolved = resolve_model("openai-whisper", "tiny.en")
    fp32 = OpenAIWhisperEngine(resolved, compute_type="float32")
    assert fp32.compute_type == "float32"
    assert not any(type(m).__module__.startswith("torch.ao") for m in fp32.model.modules())
    with pytest.raises(ValueError, match="compute_type"):
        OpenAIWhisperEngine(resolved, compute_type="float16")


def _speech_silence_speech(audio: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Turn 3 (~3 s), 20 s of faint noise, turn 1's first sentence(s) (~4.5 s)."""
    a = audio[int(10.9 * SR) : int(13.8 * SR)]
    b = audio[int(0.3 * SR) : int(4.8 * SR)]
    noise = np.random.default_rng(7).normal(0, 0.002, 20 * SR).astype(np.float32)  # ~ -54 dBFS
    first_end = a.size / SR
    second_start = first_end + 20.0
    return np.concatenate([a, noise, b]), first_end, second_start


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["fw_base", "ow_base"])
def test_no_words_invented_in_silence(engine, request, two_voices):
    eng = request.getfixturevalue(engine)
    audio, first_end, second_start = _speech_silence_speech(two_voices)
    result = eng.transcribe(audio, TranscribeOptions(language="en", beam_size=1))
    words = [w for s in result.segments for w in s.words]
    inside = [(w.word, w.start) for w in words if first_end + 0.5 < w.start < second_start - 0.5]
    assert inside == []
    text = " ".join(s.text for s in result.segments).lower()
    assert "winter" in text and "welcome" in text  # the speech on both sides is still there
    assert all(w.start <= first_end for w in words if "winter" in w.word.lower())
    assert all(w.start >= second_start - 0.5 for w in words if "welcome" in w.word.lower())


@pytest.mark.slow
def test_silent_file_gives_no_segments(fw_base):
    audio = _load("silence")
    result = fw_base.transcribe(audio, TranscribeOptions(language="en"))
    assert result.segments == [] and result.language == "en"


@pytest.mark.slow
def test_engine_is_reusable_and_deterministic(two_voices):
    """Loaded once, used for several files; the fallback is seeded, so the same input gives the same output."""
    engine = load_engine("faster-whisper", "tiny.en")
    clip = two_voices[: 10 * SR]
    first = engine.transcribe(clip, TranscribeOptions(beam_size=1))
    other = engine.transcribe(two_voices[10 * SR :], TranscribeOptions(beam_size=1))
    again = engine.transcribe(clip, TranscribeOptions(beam_size=1))
    assert first.segments and other.segments
    assert first == again


@pytest.mark.slow
def test_glossary_steers_both_engines(fw_base, ow_base):
    """made_up_name says "Vellacourt" three times; base writes "Melacort" unless told."""
    audio = _load("made_up_name")
    opts = TranscribeOptions(language="en", beam_size=1, glossary=["Vellacourt"])
    for engine in (fw_base, ow_base):
        words = [w.word.strip(".,") for s in engine.transcribe(audio, opts).segments for w in s.words]
        assert words.count("Vellacourt") == 3, (engine.name, words)


def test_guards_helpers():
    assert glossary_prompt([" Vellacourt ", "", "Port Ellis"]) == "Vellacourt, Port Ellis."
    assert glossary_prompt([]) is None
    assert compression_ratio("Thank you. " * 30) > 2.4 > compression_ratio("The budget gives fishing families relief.")


def test_repetition_loops_are_dropped():
    from pipeline.asr.base import _guard
    from pipeline.transcript import Segment

    loop = Segment(0.0, 30.0, "Thank you. " * 30)
    real = Segment(30.0, 33.0, "The budget gives fishing families tax relief.")
    assert _guard([loop, real], TranscribeOptions()) == [real]
    assert _guard([loop, real], TranscribeOptions(compression_ratio_threshold=None)) == [loop, real]
