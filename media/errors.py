"""One error type for every file the media layer cannot use."""

from __future__ import annotations

import os
from pathlib import Path


def printable(path: str | os.PathLike) -> str:
    """A file name that can be printed whatever bytes it holds.

    On Linux a name is bytes; one that is not UTF-8 (b'caf\\xe9.wav') arrives as
    a str with lone surrogates, which a UTF-8 stream refuses to write
    (UnicodeEncodeError). Undecodable bytes are shown as `\\xe9`, as Python's
    own reprs show them.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class MediaError(Exception):
    """A file that cannot be used, with the cause in words a user can act on.

    `str(err)` is the one line the CLI prints: "FILE: cause", printable
    whatever bytes the name holds; `path` keeps the name as it was.
    """

    def __init__(self, path: str | Path, cause: str):
        self.path = str(path)
        self.cause = cause
        super().__init__(f"{printable(path)}: {cause}")


def ffmpeg_cause(stderr: bytes | str | None) -> str:
    """The line of ffmpeg's stderr that says what went wrong, made readable."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip()]
    known = [
        ("moov atom not found", "truncated or incomplete file (moov atom not found)"),
        ("Invalid data found when processing input", "not a media file, or corrupt (ffmpeg: invalid data)"),
        ("Permission denied", "permission denied"),
        ("No such file or directory", "no such file"),
        ("does not contain any stream", "no audio track"),
        ("Stream map '0:a:0' matches no streams", "no audio track"),
        ("matches no streams", "no audio track"),
    ]
    for needle, cause in known:
        if any(needle in ln for ln in lines):
            return cause
    for ln in reversed(lines):
        if not ln.startswith(("Conversion failed", "Error opening output")):
            return f"ffmpeg: {ln}"
    return "ffmpeg could not read it"
