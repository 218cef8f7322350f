"""Long recordings in windows: memory that stays flat, and resume mid-file.

A 3-hour interview is 690 MB of float32 samples, and the recognizer's
features for it several times that. Transcribing windows of `IngestOptions.window_s` seconds,
cut at the quietest moment near each window's end (so no word is split),
keeps memory at one window's worth, and lets a killed ingest resume from the
last finished window instead of the start of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from media.audio import SAMPLE_RATE
from media.stream import iter_audio

from ..options import DEFAULT_WINDOW_S

CUT_SEARCH_S = 20.0  # look this far back from a window's end for a quiet moment
FRAME_S = 0.05


def quiet_cut(audio: np.ndarray, search_from: int) -> int:
    """Sample index of the quietest FRAME_S frame in audio[search_from:]."""
    frame = int(FRAME_S * SAMPLE_RATE)
    region = audio[search_from:]
    n = region.size // frame
    if n < 2:
        return audio.size
    energy = np.square(region[: n * frame].reshape(n, frame)).mean(axis=1)
    k = n - 1 - int(np.argmin(energy[::-1]))  # the latest of equally quiet frames: longer windows
    return search_from + k * frame + frame // 2


def windows(path: str | Path, window_s: float = DEFAULT_WINDOW_S) -> Iterator[tuple[float, np.ndarray]]:
    """(offset in seconds, samples) windows covering the whole audio, cut at quiet moments.

    Deterministic: the same file always gives the same cuts, which is what
    lets a resumed run skip the windows a killed one finished.
    """
    size = int(window_s * SAMPLE_RATE)
    search = int(min(CUT_SEARCH_S, window_s / 4) * SAMPLE_RATE)
    buf = np.empty(0, np.float32)
    offset = 0
    for block in iter_audio(path, block_s=window_s):
        buf = np.concatenate([buf, block]) if buf.size else block
        while buf.size >= size + search:
            cut = quiet_cut(buf[:size], size - search)
            yield offset / SAMPLE_RATE, buf[:cut]
            offset += cut
            buf = buf[cut:]
    if buf.size:
        yield offset / SAMPLE_RATE, buf
