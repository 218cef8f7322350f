"""What the video page plays: the original file, or its audio made playable.

Probing costs a run of ffmpeg, so each file's answer is remembered per
(path, size, mtime) for the server's life. The transcoded audio lives in
LIBRARY/playback/ID.m4a, made once (under the video's lock, so two tabs do
not transcode twice) and made again only when the source file is newer.
"""

from __future__ import annotations

import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path

from ..library import Library
from ..transcript import Transcript

MIME = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
    ".mkv": "video/x-matroska", ".avi": "video/x-msvideo", ".m4a": "audio/mp4", ".mp3": "audio/mpeg",
    ".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg",
    ".aac": "audio/aac",
}  # fmt: skip

_cache: dict[tuple[str, int, int], object] = {}
_cache_lock = threading.Lock()


@dataclass
class Plan:
    element: str  # "video" | "audio"
    src: str  # URL
    mime: str
    note: str  # shown above the player when the original cannot play


def mime_type(path: Path) -> str:
    return MIME.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _playability(path: Path):
    from media.playback import playability, streams

    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    value = playability(streams(path))
    with _cache_lock:
        _cache[key] = value
    return value


def plan(library: Library, t: Transcript) -> Plan:
    path = Path(t.path)
    src = f"/media/{t.video_id}"
    if not path.is_file():
        return Plan("video", src, mime_type(path), f"The media file {t.path} is not there any more.")
    try:
        p = _playability(path)
    except Exception as e:  # noqa: BLE001 - an unreadable file still gets its transcript page
        return Plan("video", src, mime_type(path), f"The media file cannot be read ({e}).")
    if p.playable:
        return Plan("video" if p.has_video else "audio", src, mime_type(path), "")
    if not p.has_audio:
        return Plan("video", src, mime_type(path), f"A browser cannot play this file ({p.reason}).")
    note = f"A browser cannot play this file's picture ({p.reason}); playing its sound."
    return Plan("audio", f"{src}/audio", "audio/mp4", note)


def audio_copy(library: Library, t: Transcript) -> Path:
    """LIBRARY/playback/ID.m4a, transcoded from the original the first time it is asked for."""
    from media.playback import transcode_audio

    from .edits import video_lock

    dst = library.root / "playback" / f"{t.video_id}.m4a"
    src = Path(t.path)
    with video_lock(library, t.video_id, "playback"):
        if not dst.is_file() or dst.stat().st_mtime < src.stat().st_mtime:
            transcode_audio(src, dst)
    return dst
