"""Turn the command line's files, folders and globs into a list of files.

Files named explicitly are always tried (a bad one gets its own error line).
Inside folders, media is picked by content (the first bytes), not only by
extension: archives have camera files without extensions, and `.txt` notes
next to the videos must not turn into a wall of errors.
"""

from __future__ import annotations

import glob
from pathlib import Path

from media.errors import printable
from media.probe import special_kind
from media.sniff import looks_like_media

from .errors import InterviewIndexError


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


def refuse_special(path: Path) -> None:
    """Refuse a named pipe or a device before anything opens it: opening a FIFO blocks
    until someone writes to it, and /dev/zero never ends."""
    try:
        kind = special_kind(path)
    except OSError:
        return  # missing or unreadable: the read that follows says so
    if kind:
        raise InterviewIndexError(f"{printable(path)}: not a regular file but {kind}")
