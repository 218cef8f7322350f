"""Speaker diarization on a plain CPU: who speaks when.

    speech regions (vad) -> 1.6 s windows every 0.4 s, embedded (embed)
    -> speakers found on ~3.6 s pieces of the regions (cluster)
    -> every window scored against the speaker centroids, smoothed within
       its region (Viterbi with a switch penalty), and cut into turns
    -> if a region changed speaker without a pause, speakers are found
       again without the windows that straddle the change.

Clustering works on pieces rather than single windows: 1.6 s windows of two
voices overlap in similarity, pieces of a few seconds separate cleanly. The
windows then place a change that happens inside a region (to ~0.4 s). Audio
goes through in 30 s blocks and only the open speech region is buffered, so
memory does not grow with length beyond ~1 KB of embedding per 0.4 s of
speech (25 MB for 3 hours).

Limits, measured: the two closest espeak-ng voices tried (en-gb-x-rp+m1 and
en-us+m3) sound alike to the encoder and are taken for one speaker; turns
shorter than ~1 s with no pause around them are not resolved.

Contract used by the orchestrator:

    diarize(audio, *, num_speakers=None, min_speakers=1, max_speakers=MAX_SPEAKERS, progress=None) -> list[Turn]
    assign_speakers(segments, turns) -> (segments, speakers)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media.audio import SAMPLE_RATE

from ..options import MAX_SPEAKERS
from .assign import assign_speakers
from .cluster import Items, cluster
from .embed import WindowEmbedder
from .vad import SpeechDetector

__all__ = ["Turn", "diarize", "diarize_file", "diarize_stream", "assign_speakers"]

BLOCK_S = 30.0  # audio is read in blocks this long
PIECE_WINDOWS = 6  # windows per clustering item: 1.6 s + 5 x 0.4 s = 3.6 s of speech
SWITCH_PENALTY = 0.15  # in cosine units: how much better a new speaker must fit to switch
BRIDGE_S = 0.5  # a pause shorter than this inside one speaker's talk stays inside the turn


@dataclass
class Turn:
    start: float
    end: float
    label: str  # "SPEAKER_1".. in order of first appearance


class _Analysis:
    """Streaming front half: VAD and window embeddings, keeping only the open region's audio."""

    def __init__(self, hop_s: float = 0.4):
        self.vad = SpeechDetector()
        self.embedder = WindowEmbedder(hop_s=hop_s)
        self.regions: list[tuple[float, float]] = []
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # sample index of _buf[0]
        self.samples = 0

    def feed(self, block: np.ndarray) -> None:
        block = np.asarray(block, np.float32).reshape(-1)
        self._buf = np.concatenate([self._buf, block]) if self._buf.size else block
        self.samples += block.size
        self._take(self.vad.feed(block))
        keep_from = int(self.vad.pending_from() * SAMPLE_RATE)
        if keep_from > self._buf_start:
            self._buf = self._buf[keep_from - self._buf_start :].copy()
            self._buf_start = keep_from

    def finish(self) -> np.ndarray:
        self._take(self.vad.flush())
        self._buf = np.zeros(0, np.float32)
        return self.embedder.finish()

    def _take(self, regions: list[tuple[float, float]]) -> None:
        for start, end in regions:
            a = max(0, int(round(start * SAMPLE_RATE)) - self._buf_start)
            b = max(a, int(round(end * SAMPLE_RATE)) - self._buf_start)
            self.embedder.add_region(self._buf[a:b], start, len(self.regions))
            self.regions.append((start, end))


def _items(group: np.ndarray) -> np.ndarray:
    """Piece id per window: each run of one group cut into near-equal pieces of <= PIECE_WINDOWS windows."""
    item = np.zeros(len(group), int)
    next_id = 0
    for a, b in _runs(group):
        parts = -(-(b - a) // PIECE_WINDOWS)
        item[a:b] = next_id + (np.arange(b - a) * parts) // (b - a)
        next_id += parts
    return item


def _viterbi(scores: np.ndarray, penalty: float) -> np.ndarray:
    """Best label path through (n, k) scores, paying `penalty` per switch."""
    n, k = scores.shape
    back = np.zeros((n, k), np.int32)
    total = scores[0].copy()
    stay = np.eye(k, dtype=bool)
    for t in range(1, n):
        move = total[:, None] - penalty * ~stay  # from row to column
        back[t] = np.argmax(move, axis=0)
        total = move[back[t], np.arange(k)] + scores[t]
    path = np.zeros(n, int)
    path[-1] = int(np.argmax(total))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _label_windows(
    vectors: np.ndarray,
    spans: np.ndarray,
    region_of: np.ndarray,
    group: np.ndarray,
    keep: np.ndarray,
    bounds: dict,
) -> np.ndarray:
    """Cluster pieces of the kept windows (pieces never cross a `group` edge), then label every window."""
    if not keep.any():
        keep = np.ones(len(vectors), bool)
    rows = np.flatnonzero(keep)
    items = Items.from_windows(vectors, spans, _items(group[rows]), rows)
    result = cluster(items, **bounds)
    centroids = result.centroids.astype(np.float32)
    scores = np.concatenate(
        [vectors[at : at + 4096].astype(np.float32) @ centroids.T for at in range(0, len(vectors), 4096)]
    ).astype(np.float64)
    labels = np.zeros(len(vectors), int)
    for a, b in _runs(region_of):
        labels[a:b] = _viterbi(scores[a:b], SWITCH_PENALTY)
    return labels


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index ranges of the runs of equal consecutive values."""
    edges = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.r_[0, edges]
    ends = np.r_[edges, len(values)]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _changes(region_of: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """True at each window whose speaker differs from the previous window's in the same region."""
    out = np.zeros(len(labels), bool)
    out[1:] = (region_of[1:] == region_of[:-1]) & (labels[1:] != labels[:-1])
    return out


def _straddles(spans: np.ndarray, region_of: np.ndarray, labels: np.ndarray, margin: float = 0.2) -> np.ndarray:
    """Windows that hear more than `margin` s on both sides of an in-region speaker change."""
    centres = spans.mean(axis=1)
    out = np.zeros(len(labels), bool)
    changes = _changes(region_of, labels)
    for a, b in _runs(region_of):
        for t in np.flatnonzero(changes[a:b]) + a:
            cut = (centres[t - 1] + centres[t]) / 2
            out[a:b] |= (spans[a:b, 0] + margin < cut) & (cut < spans[a:b, 1] - margin)
    return out


def _turns(
    regions: list[tuple[float, float]],
    spans: np.ndarray,
    region_of: np.ndarray,
    labels: np.ndarray,
) -> list[Turn]:
    """Cut each region at the midpoints between windows whose speaker differs."""
    pieces: list[tuple[float, float, int]] = []
    centres = spans.mean(axis=1)
    for a, b in _runs(region_of):
        start, end = regions[region_of[a]]
        cur_start, cur = start, labels[a]
        for t in range(a + 1, b):
            if labels[t] != cur:
                cut = float((centres[t - 1] + centres[t]) / 2)
                pieces.append((cur_start, cut, cur))
                cur_start, cur = cut, labels[t]
        pieces.append((cur_start, end, cur))

    merged: list[list] = []
    for start, end, lab in pieces:
        if merged and merged[-1][2] == lab and start - merged[-1][1] < BRIDGE_S:
            merged[-1][1] = end
        else:
            merged.append([start, end, lab])

    names: dict[int, str] = {}
    out = []
    for start, end, lab in merged:
        names.setdefault(lab, f"SPEAKER_{len(names) + 1}")
        out.append(Turn(round(start, 3), round(end, 3), names[lab]))
    return out


def diarize_stream(
    blocks: Iterable[np.ndarray],
    *,
    num_speakers: int | None = None,
    min_speakers: int = 1,
    max_speakers: int = MAX_SPEAKERS,
    progress: Callable[[float], None] | None = None,
    total_s: float | None = None,
) -> list[Turn]:
    """Diarize 16 kHz mono float32 audio arriving in blocks of any size."""
    analysis = _Analysis()
    for block in blocks:
        analysis.feed(block)
        if progress and total_s:
            progress(min(0.9, 0.9 * analysis.samples / SAMPLE_RATE / total_s))
    vectors = analysis.finish()
    if progress:
        progress(0.9)
    if len(vectors) == 0:
        if progress:
            progress(1.0)
        return []

    emb = analysis.embedder
    spans = emb.spans
    region_of = emb.regions
    bounds = {"num_speakers": num_speakers, "min_speakers": min_speakers, "max_speakers": max_speakers}
    labels = _label_windows(vectors, spans, region_of, region_of, np.ones(len(vectors), bool), bounds)
    changes = _changes(region_of, labels)
    if changes.any():
        # A region where the speaker changes without a pause: its pieces and
        # the windows across the change mix two voices, and can pass for a
        # speaker of their own. Find the speakers again without them.
        group = np.cumsum(changes | np.r_[True, region_of[1:] != region_of[:-1]])
        keep = ~_straddles(spans, region_of, labels)
        labels = _label_windows(vectors, spans, region_of, group, keep, bounds)
    turns = _turns(analysis.regions, spans, region_of, labels)
    if progress:
        progress(1.0)
    return turns


def diarize(
    audio: np.ndarray,
    *,
    num_speakers: int | None = None,
    min_speakers: int = 1,
    max_speakers: int = MAX_SPEAKERS,
    progress: Callable[[float], None] | None = None,
) -> list[Turn]:
    """Turns of a whole 16 kHz mono float32 array (read in blocks, never copied whole)."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    step = int(BLOCK_S * SAMPLE_RATE)
    return diarize_stream(
        (audio[at : at + step] for at in range(0, len(audio), step)),
        num_speakers=num_speakers,
        min_speakers=min_speakers,
        max_speakers=max_speakers,
        progress=progress,
        total_s=len(audio) / SAMPLE_RATE,
    )


def diarize_file(
    path: str | Path,
    *,
    num_speakers: int | None = None,
    min_speakers: int = 1,
    max_speakers: int = MAX_SPEAKERS,
    progress: Callable[[float], None] | None = None,
    total_s: float | None = None,
) -> list[Turn]:
    """Turns of a media file, decoded by ffmpeg in blocks: memory stays flat for any length."""
    from media.stream import iter_audio

    return diarize_stream(
        iter_audio(path, BLOCK_S),
        num_speakers=num_speakers,
        min_speakers=min_speakers,
        max_speakers=max_speakers,
        progress=progress,
        total_s=total_s,
    )
