"""Who speaks when, frame by frame, from the segmentation's local speakers (pyannote 3.x's reconstruction).

The diarizer's turns start from a VAD, and a transcript's turns from the
words: far-field speech the VAD does not keep, or a voice the recognizer
writes no word for (a backchannel, a far speaker), is nobody's. The
segmentation model (`segmentation`) hears up to three local speakers in every
10-s window, and hears much of that speech. Here, after pyannote 3.x (whose
step 1 embeds every local speaker instead):

1. each window's local speakers are given the recording's speakers
   (`overlap._match`: the diarizer's speaker whose turns hold the frames where
   the local speaker talks alone; one-to-one within a window), and a local
   speaker heard where the diarizer has no turn (its VAD dropped the voice)
   takes the speaker of the same voice in the next or previous window
   (`link`: windows overlap by half, and one voice is active on the same
   shared frames in both);
2. per frame, how many speak is the likeliest count (nobody / one / two) from
   the class probabilities averaged over the windows that see the frame, and who speaks is that
   many speakers with the most (Hamming-weighted) activity over those windows.

The result (`heard`) is every speaker's speech, overlaps included, for
`overlap.add_overlaps` to put beside the words where no word covers it.

Measured and not kept (README, "Speech without words"): one CAM++ embedding
per (window, local speaker), clustered into speakers with `cluster` or given
the diarizer's speakers by cosine, in place of step 1: about as good, at
twice the speaker stage's time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .overlap import HOP_S, _match, _owner, _runs, _TurnLike
from .segmentation import FRAMES, Segmentation

MIN_LINK_S = 0.4  # a local speaker is the same voice in the next window on this much shared speech (overlap's match)


def reconstruct(seg: Segmentation, assigned: np.ndarray, speakers: int) -> np.ndarray:
    """(frames, speakers) bool: per frame, the `count` speakers with the most activity (see the module doc)."""
    n = len(seg.speech)
    activation = np.zeros((n, max(1, speakers)))
    hamming = np.hamming(FRAMES) + 1e-6  # a window's edges know least (as `segmentation` aggregates)
    for w, at in enumerate(seg.window_frame):
        b = min(n, at + FRAMES)
        if b <= at:
            continue
        hard = seg.hard[w, : b - at]
        soft = seg.local[w, : b - at].astype(np.float32)
        h = hamming[: b - at]
        for k in range(hard.shape[1]):
            g = assigned[w, k]
            if g >= 0:  # two local speakers of one window are never one speaker (assignment is one-to-one)
                activation[at:b, g] += h * (hard[:, k] + 1e-3 * soft[:, k])  # the soft part breaks ties
    # How many speak: the likeliest count from the probabilities averaged over the windows (as the
    # overlap turns are found); a rounded average of each window's hard count ties at 0.5 wherever
    # one of the two windows that see a frame hears a voice and the other does not.
    count = seg.count()
    count = np.minimum(count, speakers)
    order = np.argsort(-activation, axis=1)
    out = np.zeros((n, max(1, speakers)), bool)
    for c in range(1, int(count.max(initial=0)) + 1):
        rows = np.flatnonzero(count >= c)
        out[rows, order[rows, c - 1]] = True
    out &= activation > 0
    return out[:, :speakers]


def link(seg: Segmentation, assigned: np.ndarray) -> np.ndarray:
    """`assigned` with local speakers that match nobody given the speaker of the same voice in the
    next or previous window: windows overlap, and a local speaker of one window is one of the next
    when the two are active on the same shared frames (Hungarian, at least MIN_LINK_S together and
    most of each one's activity there). A speaker already in a window is not given twice."""
    from scipy.optimize import linear_sum_assignment

    out = assigned.copy()
    pairs = []
    for w in range(len(seg.window_frame) - 1):
        shift = int(seg.window_frame[w + 1] - seg.window_frame[w])
        if not 0 < shift < FRAMES:
            continue
        a, b = seg.hard[w, shift:], seg.hard[w + 1, : FRAMES - shift]
        both = a.T.astype(int) @ b.astype(int)  # (3, 3) frames active in both
        for k, j in zip(*linear_sum_assignment(-both), strict=True):
            held = both[k, j]
            if held * HOP_S >= MIN_LINK_S and held > 0.5 * a[:, k].sum() and held > 0.5 * b[:, j].sum():
                pairs.append((w, k, w + 1, j))
    for _ in range(len(seg.window_frame)):  # until nothing changes: a voice's speaker spreads along its links
        changed = False
        for w, k, v, j in pairs:
            for (x, i), (y, m) in (((w, k), (v, j)), ((v, j), (w, k))):
                g = out[x, i]
                if g >= 0 and out[y, m] < 0 and g not in out[y]:
                    out[y, m] = g
                    changed = True
        if not changed:
            break
    return out


def runs(mask: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of the runs of True frames."""
    out = []
    for a, b in _runs(mask):
        start, end = Segmentation.span(a, b)
        out.append((round(max(0.0, start), 3), round(end, 3)))
    return out


def speaker_runs(active: np.ndarray, bridge_s: float) -> list[tuple[float, float, int]]:
    """(start, end, speaker) of each speaker's runs, a pause under `bridge_s` kept inside a run."""
    out = []
    for g in range(active.shape[1]):
        spans: list[list[float]] = []
        for a, b in runs(active[:, g]):
            if spans and a - spans[-1][1] < bridge_s:
                spans[-1][1] = b
            else:
                spans.append([a, b])
        out += [(a, b, g) for a, b in spans]
    return sorted(out)


def heard(seg: Segmentation, turns: Sequence[_TurnLike], bridge_s: float) -> list[tuple[float, float, str]]:
    """Every speaker's reconstructed speech in the turns' labels, (start, end, label) runs joined
    across pauses under `bridge_s`, overlaps included.

    Local speakers are given the turns' speakers by the frames they talk alone inside those turns
    (`overlap._match`, no embedding); one that matches nobody adds nothing.
    """
    labels = list(dict.fromkeys(t.label for t in sorted(turns, key=lambda t: t.start)))
    if not labels or not len(seg.local) or seg.hard is None:
        return []
    assigned = _match(seg, _owner(turns, labels, len(seg.speech)), len(labels))
    assigned = link(seg, assigned)
    active = reconstruct(seg, assigned, len(labels))
    return [(a, b, labels[g]) for a, b, g in speaker_runs(active, bridge_s)]
