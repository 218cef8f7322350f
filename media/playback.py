"""Can a browser play this file, and if not, its audio in a form it can.

The web page plays the original file when a browser can decode it. For one it
cannot (HEVC in Matroska, say) the page still plays the sound: the first audio
stream is transcoded once to AAC in an .m4a, on the same timeline as the video
(`aresample=async=1:first_pts=0`, as the transcription audio), so word times
still point at the right place.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .binaries import ffmpeg_exe, ffmpeg_url
from .errors import MediaError, ffmpeg_cause

# What Chromium and Firefox both decode; anything else gets the audio-only fallback.
BROWSER_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2", "mp3", "wav", "flac", "ogg", "matroska,webm", "aac"}
BROWSER_VIDEO = {"h264", "vp8", "vp9", "av1"}
BROWSER_AUDIO = {"aac", "mp3", "opus", "vorbis", "flac", "pcm_s16le", "pcm_s24le", "pcm_u8", "pcm_f32le"}
# Matroska plays in Chromium only when it is really WebM (VP8/VP9/AV1 with Opus/Vorbis).
WEBM_VIDEO = {"vp8", "vp9", "av1"}
WEBM_AUDIO = {"opus", "vorbis"}

_INPUT = re.compile(r"Input #0, ([^\s]+?), from")
_STREAM = re.compile(r"Stream #0:\d+[^:]*: (Audio|Video): (\w+)([^\n]*)")


@dataclass
class Streams:
    container: str
    video: list[str] = field(default_factory=list)  # codec names; cover pictures left out
    audio: list[str] = field(default_factory=list)


@dataclass
class Playability:
    playable: bool  # the original file plays in a browser
    has_video: bool
    has_audio: bool
    reason: str  # why not, in words for the page ("video codec hevc in matroska")


def streams(path: str | Path) -> Streams:
    """Container and codecs as `ffmpeg -i` reports them (works without ffprobe)."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", ffmpeg_url(path)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=60,
    )
    text = proc.stderr.split("Output #0", 1)[0]
    m = _INPUT.search(text)
    if not m:
        raise MediaError(path, ffmpeg_cause(proc.stderr))
    out = Streams(container=m[1].rstrip(","))
    for kind, codec, rest in _STREAM.findall(text):
        if kind == "Video" and "attached pic" not in rest:
            out.video.append(codec)
        elif kind == "Audio":
            out.audio.append(codec)
    return out


def playability(s: Streams) -> Playability:
    has_video, has_audio = bool(s.video), bool(s.audio)
    bad_video = [c for c in s.video[:1] if c not in BROWSER_VIDEO]
    bad_audio = [c for c in s.audio[:1] if c not in BROWSER_AUDIO]
    if s.container not in BROWSER_CONTAINERS:
        return Playability(False, has_video, has_audio, f"container {s.container}")
    if s.container == "matroska,webm" and (
        any(c not in WEBM_VIDEO for c in s.video[:1]) or any(c not in WEBM_AUDIO for c in s.audio[:1])
    ):
        codecs = ", ".join(s.video[:1] + s.audio[:1])
        return Playability(False, has_video, has_audio, f"{codecs} in Matroska")
    if bad_video:
        return Playability(False, has_video, has_audio, f"video codec {bad_video[0]}")
    if bad_audio:
        return Playability(False, has_video, has_audio, f"audio codec {bad_audio[0]}")
    return Playability(True, has_video, has_audio, "")


def transcode_audio(src: str | Path, dst: str | Path, bitrate: str = "96k") -> Path:
    """The first audio stream as AAC in `dst` (.m4a), written to a temporary name and renamed.

    Padded to the video's timeline so that second N of the .m4a is second N
    of the video. Raises MediaError with ffmpeg's cause.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".m4a", dir=dst.parent)
    os.close(fd)
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-i", ffmpeg_url(src), "-map", "0:a:0", "-vn",
        "-af", "aresample=async=1:first_pts=0", "-c:a", "aac", "-b:a", bitrate,
        "-movflags", "+faststart", "-f", "mp4", tmp,
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        if proc.returncode != 0:
            raise MediaError(src, ffmpeg_cause(proc.stderr))
        os.replace(tmp, dst)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return dst
