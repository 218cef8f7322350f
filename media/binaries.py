"""Where the ffmpeg binaries come from: the one place that decides.

Order: `INTERVIEW_INDEX_FFMPEG` (a path to an ffmpeg binary), then an `ffmpeg`
on PATH, then the static build that the `imageio-ffmpeg` wheel ships, so a
machine with nothing but pip still works. ffprobe is optional: imageio-ffmpeg
ships none, and `media.probe` reads `ffmpeg -i` when there is no ffprobe.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

ENV_FFMPEG = "INTERVIEW_INDEX_FFMPEG"
ENV_FFPROBE = "INTERVIEW_INDEX_FFPROBE"


class FFmpegNotFound(RuntimeError):
    pass


def ffmpeg_url(path: str | Path) -> str | bytes:
    """How a file is named to ffmpeg and ffprobe: `file:` and an absolute path.

    A bare name is parsed: `-dash.wav` as an option (by ffprobe), `-` as stdin,
    `a:b.mp4` as protocol `a`. The `file:` protocol takes the rest verbatim.
    A name that is not UTF-8 (b'caf\\xe9.wav') goes as bytes: ffmpeg-python
    encodes str arguments as UTF-8 and would fail on it.
    """
    url = "file:" + os.path.abspath(path)
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(url)
    return url


@functools.cache
def ffmpeg_exe() -> str:
    explicit = os.environ.get(ENV_FFMPEG)
    if explicit:
        if not Path(explicit).is_file():
            raise FFmpegNotFound(f"{ENV_FFMPEG}={explicit}: no such file (name an ffmpeg binary, or unset it)")
        if not os.access(explicit, os.X_OK):
            raise FFmpegNotFound(f"{ENV_FFMPEG}={explicit}: not executable (name an ffmpeg binary, or unset it)")
        return explicit
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as e:  # pragma: no cover - it is a hard dependency
        raise FFmpegNotFound("no ffmpeg on PATH and imageio-ffmpeg is not installed") from e
    return imageio_ffmpeg.get_ffmpeg_exe()


@functools.cache
def ffprobe_exe() -> str | None:
    """An ffprobe that belongs with ffmpeg_exe(), or None.

    `INTERVIEW_INDEX_FFPROBE=none` forces the ffmpeg-only path (used by tests
    to cover machines that have only the imageio-ffmpeg binary).
    """
    explicit = os.environ.get(ENV_FFPROBE)
    if explicit:
        return None if explicit.lower() == "none" else explicit
    sibling = Path(ffmpeg_exe()).with_name("ffprobe")
    if sibling.is_file():
        return str(sibling)
    return None
