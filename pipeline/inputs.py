"""Turn the command line's files, folders and globs into a list of files.

Files named explicitly are always tried (a bad one gets its own error line).
Inside folders, media is picked by content (the first bytes), not only by
extension: archives have camera files without extensions, and `.txt` notes
next to the videos must not turn into a wall of errors.
"""

from __future__ import annotations

import glob
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


def collect(args: list[str]) -> list[Path]:
    """Files in command-line order, folders recursed, globs expanded, no repeats."""
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.absolute()
        if key not in seen:
            seen.add(key)
            out.append(p)

    for arg in args:
        p = Path(arg).expanduser()
        if p.is_dir():
            for f in sorted(x for x in p.rglob("*") if x.is_file() and not x.name.startswith(".")):
                if looks_like_media(f):
                    add(f)
        elif not p.exists() and glob.has_magic(arg):
            matches = sorted(glob.glob(str(p), recursive=True))
            for m in matches:
                mp = Path(m)
                if mp.is_file():
                    add(mp)
                elif mp.is_dir():
                    for f in collect([m]):
                        add(f)
            if not matches:
                add(p)  # reported as "no such file"
        else:
            add(p)
    return out
