"""Decode a file's first audio stream to what the engines eat: 16 kHz mono float32.

The samples come through a pipe, never a temporary file. The `aresample`
filter with `async` and `first_pts=0` pads or trims against the stream's
timestamps, so sample N is at N/16000 s of the video's playback time even
when the container has gaps, edit lists or an audio track that starts late.
Without it, word times drift from the picture on such files.
"""

from __future__ import annotations

from pathlib import Path

import ffmpeg
import numpy as np

from .binaries import ffmpeg_exe, ffmpeg_url
from .errors import MediaError, ffmpeg_cause

SAMPLE_RATE = 16000


def _decoder(path: Path, stream: int, sr: int):
    return (
        ffmpeg.input(ffmpeg_url(path))
        .output(
            "pipe:",
            map=f"0:a:{stream}",
            format="f32le",
            acodec="pcm_f32le",
            ac=1,
            ar=sr,
            af="aresample=async=1:first_pts=0",
        )
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
    )


def load_audio(
    path: str | Path, sr: int = SAMPLE_RATE, stream: int = 0, expected_duration: float | None = None
) -> np.ndarray:
    """All of the stream's samples as float32 in [-1, 1].

    `expected_duration` (from the probe) turns a silently short decode into
    an error: a truncated file otherwise yields half an interview without
    complaint.
    """
    p = Path(path)
    try:
        out, err = _decoder(p, stream, sr).run(cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as e:
        raise MediaError(p, ffmpeg_cause(e.stderr)) from None
    audio = np.frombuffer(out, np.float32)
    if audio.size == 0:
        cause = ffmpeg_cause(err) if err and err.strip() else "no audio could be decoded"
        raise MediaError(p, cause)
    if expected_duration and expected_duration > 5.0:
        got = audio.size / sr
        if got < 0.9 * expected_duration:
            cause = f"truncated or corrupt: decoded {got:.1f} s of audio of {expected_duration:.1f} s"
            raise MediaError(p, cause)
    return audio
