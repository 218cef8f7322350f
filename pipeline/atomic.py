"""Atomic file writes: the one helper every saved file goes through.

A file is written to a temporary name in its own folder, flushed to disk and
renamed over the target, so a crash, a kill or a full disk leaves either the
old file or the new one, never half of one. Standard library only, so that
every part of the project (the index too) can use it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` in one rename; `mode` sets the permissions (mkstemp makes 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str, *, mode: int | None = None) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), mode=mode)


def write_json_atomic(path: str | os.PathLike, data: Any, *, mode: int | None = None) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=1)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # a file name that is not UTF-8 ('caf\udce9.wav'): escaped, it reads back byte for byte
        raw = json.dumps(data, ensure_ascii=True, indent=1).encode("ascii")
    write_bytes_atomic(path, raw, mode=mode)
