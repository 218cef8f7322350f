"""Speaker diarization on a plain CPU: who speaks when.

    speech regions (vad), with the short pauses inside them
    -> 1.6 s windows every 0.4 s over each region (FIND), and over each
       stretch between its pauses (LABEL), embedded (embed)
    -> speakers found on the FIND windows, each window one item (cluster),
       without those that mostly hear two people at once (segmentation)
    -> every LABEL window scored against the speaker centroids, smoothed
       within its region (Viterbi; switching is cheaper at a pause), and cut
       into turns, at the pause where a change falls between two stretches
    -> if a region changed speaker, speakers are found again without the
       windows that straddle the change.

Speakers are found on single windows, not on longer pieces of a region: in a
meeting people talk without pausing and a piece of a few seconds mixes their
voices; the split test in `cluster` already compares window pairs, and
needs more separation from speakers heard in few windows. Turns are placed by
the stretch windows because a one-word answer between short pauses is heard
whole only there. Audio goes through in 30 s blocks and only the open speech
region is buffered, so memory does not grow with length beyond ~1-2 KB of
embeddings per 0.4 s of speech.

Limits: the two closest espeak-ng voices tried (en-gb-x-rp+m1 and en-us+m3)
sound alike to the encoder and are taken for one speaker; a change of speaker
with no pause at all is placed to ~0.4 s; far-field meeting speech embeds
poorly, and people heard for a second or two are not found.

Contract used by the orchestrator:

    diarize(audio, *, num_speakers=None, min_speakers=1, max_speakers=MAX_SPEAKERS, progress=None) -> list[Turn]
        (a `Turns`: also `.voices`, each label's mean window embedding, for pipeline.people)
    assign_speakers(segments, turns) -> (segments, speakers)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media.audio import SAMPLE_RATE

from ..options import MAX_SPEAKERS
from ..transcript import TURN_PAUSE_S
from .assign import assign_speakers
from .cluster import Items, cluster
from .embed import FIND, LABEL, WindowEmbedder
from .overlap import merged_voices, overlap_turns, with_merged_voices
from .reconstruct import heard
from .segmentation import FRAME_HOP, FRAME_SPAN, Segmentation, Segmenter
from .vad import SpeechDetector

__all__ = ["Turn", "Turns", "diarize", "diarize_file", "diarize_stream", "assign_speakers"]

BLOCK_S = 30.0  # audio is read in blocks this long
SWITCH_PENALTY = 0.15  # in cosine units: how much better a new speaker must fit to switch
PAUSE_SWITCH_PENALTY = 0.05  # ... at a pause inside a region, where people take turns
BRIDGE_S = 0.5  # a pause shorter than this inside one speaker's talk stays inside the turn
MAX_TWO_VOICES = 0.5  # a window with two voices at once on more of its frames than this finds no speaker


@dataclass
class Turn:
    start: float
    end: float
    label: str  # "SPEAKER_1".. in order of first appearance


class Turns(list):
    """The turns (a plain list of Turn), and `voices`: each label's voice as (unit mean of the
    windows placed in its turns, how many windows). pipeline.people keeps them as voiceprints,
    so a speaker can be recognised in other recordings without embedding the audio again."""

    voices: dict[str, tuple[np.ndarray, int]]
    overlaps: list[tuple[float, float, str]]  # second speakers where two talk at once (pipeline.speakers.overlap)
    speech: list[tuple[float, float, str]]  # every speaker's speech as the segmentation hears it (reconstruct)

    def __init__(self, turns: Iterable[Turn] = (), voices: dict[str, tuple[np.ndarray, int]] | None = None):
        super().__init__(turns)
        self.voices = voices or {}
        self.overlaps = []
        self.speech = []


def _voices(turns: list[Turn], spans: np.ndarray, vectors: np.ndarray) -> dict[str, tuple[np.ndarray, int]]:
    """Per label, the unit mean of the windows whose centre lies in one of its turns."""
    centres = spans.mean(axis=1)
    order = sorted(range(len(turns)), key=lambda i: turns[i].start)
    starts = np.array([turns[i].start for i in order])
    at = np.searchsorted(starts, centres, side="right") - 1  # the last turn starting before each centre
    ends = np.array([turns[i].end for i in order] + [-1.0])
    names = np.array([turns[i].label for i in order] + [""])
    held = np.where((at >= 0) & (centres <= ends[at]), at, -1)
    of = names[held]
    out: dict[str, tuple[np.ndarray, int]] = {}
    for label in dict.fromkeys(t.label for t in turns):
        inside = of == label
        if inside.any():
            mean = vectors[inside].astype(np.float64).mean(axis=0)
            out[label] = ((mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32), int(inside.sum()))
    return out


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
        pauses = self.vad.take_pauses()
        first = len(self.regions)
        for start, end in regions:
            a = max(0, int(round(start * SAMPLE_RATE)) - self._buf_start)
            b = max(a, int(round(end * SAMPLE_RATE)) - self._buf_start)
            self.embedder.add_region(self._buf[a:b], start, len(self.regions), pauses[len(self.regions) - first])
            self.regions.append((start, end))


def _two_voices(seg: Segmentation, spans: np.ndarray) -> np.ndarray:
    """Per window (rows of (start, end) seconds): the share of its segmentation frames where the
    likeliest count is two speakers at once (`Segmentation.count`)."""
    two = np.r_[0, np.cumsum(seg.count() >= 2)]
    n = len(two) - 1
    hop, centre = FRAME_HOP / SAMPLE_RATE, FRAME_SPAN / 2 / SAMPLE_RATE
    a = np.clip(np.round((spans[:, 0] - centre) / hop).astype(int), 0, n)
    b = np.clip(np.round((spans[:, 1] - centre) / hop).astype(int), 0, n)
    return (two[b] - two[a]) / np.maximum(1, b - a)


def _one_voice(seg: Segmentation | None, spans: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`rows` without the windows that mostly hear two people at once (more than MAX_TWO_VOICES of
    their frames), as pyannote leaves overlapped speech out of its speaker embeddings: such a
    window embeds a mix of two voices, which lies between the two speakers' and, in a meeting
    where a third of the speech overlaps, is taken for a speaker of its own (one voice split in
    three). The windows are still labelled, and still speech to the clustering's sliver rule; only
    the search for speakers leaves them out. All of them stay if none hears one voice."""
    if seg is None or not len(rows):
        return rows
    keep = _two_voices(seg, spans[rows]) <= MAX_TWO_VOICES
    return rows[keep] if keep.any() else rows


def _find_speakers(
    vectors: np.ndarray, spans: np.ndarray, rows: np.ndarray, bounds: dict, left_out_s: float = 0.0
) -> np.ndarray:
    """Unit centroids of the speakers heard in windows `rows`, each window its own clustering item
    (`left_out_s`: seconds of the recording's windows left out, see `cluster`).

    Single windows rather than pieces of several: on real meetings, pieces of a
    few seconds mix the voices of people who talk without pausing, and the
    split between them disappears; 1.6 s windows keep it (see the README).
    """
    items = Items.from_windows(vectors, spans, np.arange(len(rows)), rows)
    return cluster(items, left_out_s=left_out_s, **bounds).centroids.astype(np.float32)


def _label(
    vectors: np.ndarray, rows: np.ndarray, region_of: np.ndarray, piece_of: np.ndarray, centroids: np.ndarray
) -> np.ndarray:
    """Speaker of each window `rows`: its score against every centroid, smoothed within its region.

    Switching speaker costs less between two stretches of a region (at a
    short pause) than inside one: a one-word answer between pauses is heard
    in one short window, whose score is noisy, and is still a turn.
    """
    scores = np.concatenate(
        [vectors[rows[at : at + 4096]].astype(np.float32) @ centroids.T for at in range(0, len(rows), 4096)]
    ).astype(np.float64)
    pieces = piece_of[rows]
    penalty = np.where(np.r_[True, pieces[1:] != pieces[:-1]], PAUSE_SWITCH_PENALTY, SWITCH_PENALTY)
    labels = np.zeros(len(rows), int)
    for a, b in _runs(region_of[rows]):
        labels[a:b] = _viterbi(scores[a:b], penalty[a:b])
    return labels


def _viterbi(scores: np.ndarray, penalty: np.ndarray | float) -> np.ndarray:
    """Best label path through (n, k) scores, paying penalty[t] for a switch between steps t-1 and t."""
    n, k = scores.shape
    penalty = np.broadcast_to(np.asarray(penalty, float), (n,))
    back = np.zeros((n, k), np.int32)
    total = scores[0].copy()
    stay = np.eye(k, dtype=bool)
    for t in range(1, n):
        move = total[:, None] - penalty[t] * ~stay  # from row to column
        back[t] = np.argmax(move, axis=0)
        total = move[back[t], np.arange(k)] + scores[t]
    path = np.zeros(n, int)
    path[-1] = int(np.argmax(total))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index ranges of the runs of equal consecutive values."""
    if len(values) == 0:
        return []
    edges = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.r_[0, edges]
    ends = np.r_[edges, len(values)]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _cut(spans: np.ndarray, piece_of: np.ndarray, piece_spans: list, t: int) -> float:
    """Where the speaker changes between window t-1 and t: at the pause between stretches, else midway."""
    if piece_of[t] != piece_of[t - 1]:
        return float(piece_spans[piece_of[t]][0])
    return float((spans[t - 1].mean() + spans[t].mean()) / 2)


def _change_times(spans: np.ndarray, region_of: np.ndarray, piece_of: np.ndarray, piece_spans: list,
                  labels: np.ndarray) -> list[tuple[int, float]]:  # fmt: skip
    """(region, time) of every speaker change inside a region, from the labelled windows."""
    out = []
    for t in range(1, len(labels)):
        if region_of[t] == region_of[t - 1] and labels[t] != labels[t - 1]:
            out.append((int(region_of[t]), _cut(spans, piece_of, piece_spans, t)))
    return out


def _straddles(spans: np.ndarray, region_of: np.ndarray, changes: list[tuple[int, float]], margin: float = 0.2):
    """Windows that hear more than `margin` s on both sides of an in-region speaker change."""
    out = np.zeros(len(spans), bool)
    for region, cut in changes:
        out |= (region_of == region) & (spans[:, 0] + margin < cut) & (cut < spans[:, 1] - margin)
    return out


def _turns(piece_spans: list, spans: np.ndarray, piece_of: np.ndarray, labels: np.ndarray) -> list[Turn]:
    """Cut each stretch at the midpoints between windows whose speaker differs; stretches meet at pauses."""
    pieces: list[tuple[float, float, int]] = []
    centres = spans.mean(axis=1)
    for a, b in _runs(piece_of):
        start, end = piece_spans[piece_of[a]]
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
    overlaps: bool = True,
) -> list[Turn]:
    """Diarize 16 kHz mono float32 audio arriving in blocks of any size; with `overlaps`, the
    segmentation model also runs and `.overlaps` holds the second speakers (`overlap`)."""
    analysis = _Analysis()
    segmenter = Segmenter() if overlaps else None
    for block in blocks:
        analysis.feed(block)
        if segmenter is not None:
            segmenter.feed(block)
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
    spans, region_of, roles, piece_of = emb.spans, emb.regions, emb.roles, emb.pieces
    find = np.flatnonzero(roles & FIND)
    lab = np.flatnonzero(roles & LABEL)
    bounds = {"num_speakers": num_speakers, "min_speakers": min_speakers, "max_speakers": max_speakers}
    seg = segmenter.finish() if segmenter is not None else None
    one = _one_voice(seg, spans, find)
    mixed_s = float(np.ptp(spans[np.setdiff1d(find, one)], axis=1).sum())
    find = one
    centroids = _find_speakers(vectors, spans, find, bounds, mixed_s)
    labels = _label(vectors, lab, region_of, piece_of, centroids)
    changes = _change_times(spans[lab], region_of[lab], piece_of[lab], emb.piece_spans, labels)
    if changes:
        # A region where the speaker changes without a pause: the windows
        # across the change mix two voices, and can pass for a speaker of
        # their own. Find the speakers again without them.
        keep = find[~_straddles(spans[find], region_of[find], changes)]
        if len(keep):
            centroids = _find_speakers(vectors, spans, keep, bounds, mixed_s)
            labels = _label(vectors, lab, region_of, piece_of, centroids)
    turns = _turns(emb.piece_spans, spans[lab], piece_of[lab], labels)
    if seg is not None:  # a voice the clustering merged into another's turns is a speaker of its own
        turns = with_merged_voices(turns, merged_voices(seg, turns), Turn)
    out = Turns(turns, _voices(turns, spans[lab], vectors[lab]))
    if seg is not None:
        out.overlaps = overlap_turns(seg, out)
        out.speech = heard(seg, out, TURN_PAUSE_S)
    if progress:
        progress(1.0)
    return out


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
