"""Decode a file's audio in fixed-size blocks, for stages that must not hold it all.

Same ffmpeg arguments as `media.audio` (16 kHz mono float32, timestamps
honoured by `aresample`), so sample N is at N/16000 s here too; only the
delivery differs: a pipe read a block at a time, so a 3-hour file costs the
memory of one block.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, _decoder
from .binaries import ffmpeg_exe
from .errors import MediaError, ffmpeg_cause


def iter_audio(path: str | Path, block_s: float = 30.0, sr: int = SAMPLE_RATE, stream: int = 0) -> Iterator[np.ndarray]:
    """Yield float32 blocks of `block_s` seconds (the last may be shorter)."""
    p = Path(path)
    need = max(1, int(block_s * sr)) * 4
    proc = _decoder(p, stream, sr).run_async(cmd=ffmpeg_exe(), pipe_stdout=True, pipe_stderr=True)
    got_any = False
    try:
        pending = b""
        while True:
            data = proc.stdout.read(need - len(pending))
            if not data:
                break
            pending += data
            if len(pending) == need:
                got_any = True
                yield np.frombuffer(pending, np.float32).copy()
                pending = b""
        whole = len(pending) // 4 * 4
        if whole:
            got_any = True
            yield np.frombuffer(pending[:whole], np.float32).copy()
        err = proc.stderr.read()
        code = proc.wait()
        if code != 0 or not got_any:
            cause = ffmpeg_cause(err) if err and err.strip() else "no audio could be decoded"
            raise MediaError(p, cause)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()
