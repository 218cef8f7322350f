"""Is this file media at all? Decided from its first bytes.

ffmpeg picks a demuxer by extension, so a text file named `.mp4` comes back
as "moov atom not found"; the signature check tells a user the truth, and
lets folder scans skip non-media without starting ffmpeg per file.
"""

from __future__ import annotations

from pathlib import Path

MEDIA_EXTENSIONS = {
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv", ".mpg", ".mpeg", ".ts", ".mts", ".3gp",
    ".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".wma", ".aiff", ".aif",
}  # fmt: skip


def looks_like_media(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return path.suffix.lower() in MEDIA_EXTENSIONS
    if len(head) < 4:
        return False
    return (
        head[4:8] == b"ftyp"  # mp4, mov, m4a, 3gp
        or head[:4] in (b"RIFF", b"FORM", b"fLaC", b"OggS", b"\x1aE\xdf\xa3", b"FLV\x01")
        or head[:3] == b"ID3"  # mp3 with tags
        or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0)  # mp3/aac frame sync
        or head[:4] == b"\x00\x00\x01\xba"  # MPEG-PS
        or head[:4] == b"\x30\x26\xb2\x75"  # ASF/WMV
        or (head[0] == 0x47 and path.suffix.lower() in (".ts", ".mts", ".m2ts"))
        or head[4:8] in (b"moov", b"mdat", b"wide", b"free")  # older QuickTime
    )
