"""What is in a media file: duration and audio streams, read by ffmpeg.

Probing first lets a batch reject a bad file in milliseconds, with a cause a
user understands, before any decoding or model loading.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import ffmpeg

from .binaries import ffmpeg_exe, ffmpeg_url, ffprobe_exe
from .errors import MediaError, ffmpeg_cause
from .sniff import looks_like_media


@dataclass
class AudioStream:
    index: int  # position among the file's audio streams (0 = first)
    codec: str
    sample_rate: int
    channels: int


@dataclass
class MediaInfo:
    path: str
    duration: float  # seconds; 0.0 when the container does not say
    format: str
    has_video: bool
    audio: list[AudioStream] = field(default_factory=list)
    frame_rate: float = 0.0  # frames per second of the first video stream (30000/1001 for 29.97); 0.0 without
    width: int = 0  # picture size of the first video stream; 0 without
    height: int = 0


# Rates written rounded ("29.97 fps") that are really NTSC fractions: timecode needs the exact value.
_NTSC = {23.976: 24000 / 1001, 23.98: 24000 / 1001, 29.97: 30000 / 1001, 47.95: 48000 / 1001, 59.94: 60000 / 1001}


def frame_rate(text: str | None) -> float:
    """'30000/1001', '25/1', '29.97' or '25' as frames per second, NTSC rates exact; 0.0 if unknown."""
    try:
        num, _, den = (text or "").partition("/")
        rate = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return 0.0
    return next((exact for shown, exact in _NTSC.items() if abs(rate - shown) < 0.006), rate)


_SPECIAL = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def special_kind(path: str | Path) -> str | None:
    """What a path that exists but is no regular file or folder is, or None.

    Opening a FIFO blocks until someone writes to it and /dev/zero never ends:
    either would hang a batch, so they are refused before they are opened.
    """
    mode = os.stat(path).st_mode
    return next((kind for test, kind in _SPECIAL if test(mode)), None)


def check_readable(path: str | Path) -> Path:
    """The file-system faults, named before ffmpeg turns them into noise."""
    p = Path(path)
    if not p.exists():
        raise MediaError(p, "no such file")
    if p.is_dir():
        raise MediaError(p, "is a directory, not a media file")
    kind = special_kind(p)
    if kind:
        raise MediaError(p, f"not a regular file but {kind}")
    if not os.access(p, os.R_OK):
        raise MediaError(p, "permission denied")
    try:
        with open(p, "rb") as f:
            f.read(1)
    except OSError as e:
        raise MediaError(p, f"cannot read ({e.strerror})") from e
    if p.stat().st_size == 0:
        raise MediaError(p, "empty file (0 bytes)")
    return p


def probe(path: str | Path, require_audio: bool = True) -> MediaInfo:
    p = check_readable(path)
    probe_bin = ffprobe_exe()
    try:
        info = _probe_ffprobe(p, probe_bin) if probe_bin else _probe_ffmpeg(p)
    except MediaError:
        if not looks_like_media(p):
            raise MediaError(p, "not a media file (its content is no audio or video format)") from None
        raise
    if require_audio and not info.audio:
        raise MediaError(p, "no audio track")
    return info


def _probe_ffprobe(p: Path, cmd: str) -> MediaInfo:
    try:
        data = ffmpeg.probe(ffmpeg_url(p), cmd=cmd)
    except ffmpeg.Error as e:
        raise MediaError(p, ffmpeg_cause(e.stderr)) from None
    streams = data.get("streams", [])
    fmt = data.get("format", {})
    audio = [
        AudioStream(
            index=k,
            codec=s.get("codec_name", "?"),
            sample_rate=int(s.get("sample_rate") or 0),
            channels=int(s.get("channels") or 0),
        )
        for k, s in enumerate(x for x in streams if x.get("codec_type") == "audio")
    ]
    has_video = any(
        s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic") for s in streams
    )
    duration = float(fmt.get("duration") or 0.0)
    if not streams:
        raise MediaError(p, "not a media file, or corrupt (no streams)")
    info = MediaInfo(str(p), duration, fmt.get("format_name", "?"), has_video, audio)
    video = [s for s in streams if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")]
    if video:
        v = video[0]
        info.frame_rate = frame_rate(v.get("r_frame_rate")) or frame_rate(v.get("avg_frame_rate"))
        info.width, info.height = int(v.get("width") or 0), int(v.get("height") or 0)
    return info


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_INPUT = re.compile(r"Input #0, ([^,]+(?:,[^,\s]+)*), from")
_STREAM = re.compile(r"Stream #0:\d+.*?: (Audio|Video): (\w+)([^\n]*)")


def _probe_ffmpeg(p: Path) -> MediaInfo:
    """Read `ffmpeg -i` when there is no ffprobe (the imageio-ffmpeg binary)."""
    try:
        _, err = (
            ffmpeg.input(ffmpeg_url(p))
            .output("-", f="null", t=0)
            .global_args("-nostdin", "-hide_banner")
            .run(cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True)
        )
    except ffmpeg.Error as e:
        text = e.stderr.decode("utf-8", "replace")
        if "Stream #0:" not in text or "Invalid data" in text or "moov atom" in text:
            raise MediaError(p, ffmpeg_cause(e.stderr)) from None
        err = e.stderr
    text = err.decode("utf-8", "replace").split("Output #0", 1)[0]
    m = _DURATION.search(text)
    duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else 0.0
    fm = _INPUT.search(text)
    audio, has_video = [], False
    fps_value, width, height = 0.0, 0, 0
    for kind, codec, rest in _STREAM.findall(text):
        if kind == "Video":
            if "attached pic" not in rest and not has_video:
                fps, size = re.search(r"([\d.]+) (?:fps|tbr)", rest), re.search(r", (\d+)x(\d+)", rest)
                fps_value = frame_rate(fps[1]) if fps else 0.0
                width, height = (int(size[1]), int(size[2])) if size else (0, 0)
            has_video = has_video or "attached pic" not in rest
            continue
        rate = re.search(r"(\d+) Hz", rest)
        ch = 1 if " mono" in rest else 2 if "stereo" in rest else 0
        audio.append(AudioStream(len(audio), codec, int(rate[1]) if rate else 0, ch))
    if not audio and not has_video and "Stream #0:" not in text:
        raise MediaError(p, "not a media file, or corrupt (no streams)")
    return MediaInfo(str(p), duration, fm[1] if fm else "?", has_video, audio, fps_value, width, height)
