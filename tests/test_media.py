"""media/: probing and decoding with real ffmpeg, on both probe paths."""

from __future__ import annotations

import os
import shutil
import threading

import numpy as np
import pytest

from media import binaries
from media.audio import SAMPLE_RATE, load_audio
from media.errors import MediaError
from media.probe import check_readable, probe
from media.stream import iter_audio

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


# --------------------------------------------------------------------------- names and special files (issue #9)
@pytest.mark.parametrize("name", ["-", "-dash.mp4", "a:b.mp4"])
def test_names_that_ffmpeg_would_parse_are_files(tmp_path, monkeypatch, probe_path, name):
    """Relative names reach ffmpeg as `file:/abs/path`: not stdin, not an option, not protocol `a`."""
    shutil.copy(fixture("two_voices.mp4"), tmp_path / name)
    monkeypatch.chdir(tmp_path)
    info = probe(name)
    assert abs(info.duration - truth("two_voices")["duration_s"]) < 1.0
    whole = load_audio(name, expected_duration=info.duration)
    assert sum(block.size for block in iter_audio(name, block_s=5.0)) == whole.size > 0


def test_name_that_is_not_utf8(tmp_path, probe_path):
    good = os.path.join(os.fsencode(tmp_path), b"caf\xe9.mp4")
    shutil.copy(fixture("two_voices.mp4"), good)
    assert load_audio(os.fsdecode(good), expected_duration=probe(os.fsdecode(good)).duration).size > 0
    bad = os.path.join(os.fsencode(tmp_path), b"notes\xe9.mp4")
    with open(bad, "w") as f:
        f.write("just text\n" * 50)
    with pytest.raises(MediaError) as err:
        probe(os.fsdecode(bad))
    assert str(err.value) == f"{tmp_path}/notes\\xe9.mp4: not a media file (its content is no audio or video format)"
    assert err.value.path == os.fsdecode(bad)  # the name itself is kept for the code that opens it
    str(err.value).encode("utf-8")  # printable on any UTF-8 stream


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_before_it_is_opened(tmp_path):
    fifo = tmp_path / "live.mp4"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            probe(fifo)
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            outcome.append(e)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():  # blocked in open(): let it go, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=5)
        pytest.fail("probe opened the FIFO and blocked")
    assert isinstance(outcome[0], MediaError), outcome
    assert str(outcome[0]) == f"{fifo}: not a regular file but a named pipe (FIFO)"


def test_devices_are_refused():
    with pytest.raises(MediaError, match="not a regular file but a character device"):
        check_readable("/dev/zero")  # would be hashed forever
