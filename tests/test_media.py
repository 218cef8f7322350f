"""media/: probing and decoding with real ffmpeg, on both probe paths."""

from __future__ import annotations

import numpy as np
import pytest

from media import binaries
from media.audio import SAMPLE_RATE, load_audio
from media.errors import MediaError
from media.probe import probe

from conftest import fixture, truth


@pytest.fixture(params=["ffprobe", "ffmpeg-only"])
def probe_path(request, monkeypatch):
    """Users with only imageio-ffmpeg's binary have no ffprobe: cover both."""
    if request.param == "ffmpeg-only":
        monkeypatch.setenv(binaries.ENV_FFPROBE, "none")
    elif binaries.ffprobe_exe.__wrapped__() is None:
        pytest.skip("no ffprobe on this machine")
    binaries.ffprobe_exe.cache_clear()
    yield request.param
    binaries.ffprobe_exe.cache_clear()


def test_probe_reads_duration_and_audio(probe_path):
    info = probe(fixture("two_voices.mp4"))
    assert info.has_video
    assert len(info.audio) == 1 and info.audio[0].codec == "aac" and info.audio[0].sample_rate == 16000
    assert abs(info.duration - truth("two_voices")["duration_s"]) < 1.0


@pytest.mark.parametrize(
    "make, cause",
    [
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: (d / "empty.mp4").write_bytes(b"") and d / "empty.mp4" or d / "empty.mp4", "empty file"),
        (lambda d: (d / "notes.mp4").write_text("just text\n" * 50) and d / "notes.mp4", "not a media file"),
        (lambda d: fixture("no_audio.mp4"), "no audio track"),
        (lambda d: d, "is a directory"),
    ],
)
def test_probe_errors_name_the_file_and_cause(tmp_path, probe_path, make, cause):
    path = make(tmp_path)
    with pytest.raises(MediaError) as err:
        probe(path)
    line = str(err.value)
    assert line.startswith(str(path)) and cause in line and "\n" not in line


def test_truncated_file(tmp_path, probe_path):
    data = fixture("three_voices.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="truncated"):
        info = probe(cut)
        load_audio(cut, expected_duration=info.duration)


def test_audio_is_16k_mono_float32():
    audio = load_audio(fixture("two_voices.mp4"))
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size / SAMPLE_RATE - truth("two_voices")["duration_s"]) < 0.2
    assert 0.05 < np.abs(audio).max() <= 1.0


def first_sound(audio: np.ndarray, level: float = 0.02) -> float:
    return int(np.argmax(np.abs(audio) > level)) / SAMPLE_RATE


def test_late_audio_track_is_on_the_video_timeline():
    """The audio stream starts 1.5 s into the video: sample 0 must be video time 0."""
    t = truth("late_audio")
    audio = load_audio(fixture("late_audio.mp4"))
    first_word = t["words"][0]["start"] + t["audio_offset"]
    assert abs(first_sound(audio) - first_word) < 0.1, (first_sound(audio), first_word)
