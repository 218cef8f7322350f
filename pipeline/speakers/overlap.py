"""Overlap-aware turns: where two people talk at once, the second one is added.

The diarizer places one speaker at a time, and a transcript gives each word
one speaker; in a meeting a large share of speech is two people at once, and
every second voice there was lost. The segmentation model (`segmentation`)
says where two local speakers are active; this module says who they are.

The second speaker of an overlap is found in two ways, the better first:

1. Window by window, each local speaker of the segmentation is matched to
   the diarizer's speaker whose turns hold its solo frames (the frames where
   it alone talks), one-to-one (Hungarian). In an overlap, the active local
   speaker that is not the one holding the floor names the second speaker.
2. Where that local speaker matches nobody (it never talks alone, or only
   inside another speaker's turns: the clustering merged it), the second
   speaker is the nearest other speaker in time (Bullock, Bredin and
   Garcia-Perera 2020); with no other speaker at all, a new one: a person
   heard only over someone else.

The result is plain data for the transcript (`Transcript.overlaps`): spans
with a speaker, beside the words, which keep the speaker whose turn they
are in.

The same matching finds a voice the clustering merged into another's
(`merged_voices`): a local speaker heard alone for a second or more inside
the turns of a speaker that another local speaker of the window already is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from ..transcript import Overlap, Segment, Speaker, Transcript, Wordless
from .assign import label_votes
from .segmentation import FRAME_HOP, FRAMES, Segmentation

ACTIVE = 0.5  # a local speaker, or two at once, counts from this probability (the powerset's majority)
MIN_OVERLAP_S = 0.1  # shorter overlaps are left out: a frame or two of crossfade between turns
MERGE_GAP_S = 0.1  # overlaps closer than this are one
MIN_MATCH_S = 0.4  # a local speaker matches a diarizer speaker on at least this much of its solo speech
HOP_S = FRAME_HOP / 16000


class _TurnLike(Protocol):
    start: float
    end: float
    label: str


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _owner(turns: Sequence[_TurnLike], labels: list[str], n: int) -> np.ndarray:
    """Index of the diarizer's speaker holding each frame, -1 for none."""
    times = Segmentation.frame_time(np.arange(n))
    owner = np.full(n, -1, int)
    for t in turns:
        owner[(times >= t.start) & (times < t.end)] = labels.index(t.label)
    return owner


def _windows(
    seg: Segmentation, owner: np.ndarray
) -> Iterator[tuple[int, int, int, np.ndarray, np.ndarray, np.ndarray]]:
    """Per window: (index, first frame, end frame, local speakers active, active alone, frame owners)."""
    n = len(owner)
    for w, at in enumerate(seg.window_frame):
        b = min(n, at + FRAMES)
        if b <= at:
            continue
        active = seg.local[w, : b - at].astype(np.float32) >= ACTIVE
        solo = active & (active.sum(axis=1) == 1)[:, None]
        yield w, at, b, active, solo, owner[at:b]


def _match(seg: Segmentation, owner: np.ndarray, speakers: int) -> np.ndarray:
    """(windows, 3): the diarizer's speaker each local speaker is, -1 for none."""
    from scipy.optimize import linear_sum_assignment

    mapped = np.full((len(seg.local), seg.local.shape[2] if len(seg.local) else 3), -1, int)
    if not speakers:
        return mapped
    for w, _at, _b, _active, solo, own in _windows(seg, owner):
        held = np.stack([(solo & (own == g)[:, None]).sum(axis=0) for g in range(speakers)], axis=1)  # (3, G)
        for k, g in zip(*linear_sum_assignment(-held), strict=True):
            if held[k, g] * HOP_S >= MIN_MATCH_S and held[k, g] > 0.5 * held[k].sum():
                mapped[w, k] = g
    return mapped


def _nearest_other(turns: Sequence[_TurnLike], start: float, end: float, label: str) -> str | None:
    best, gap = None, float("inf")
    for t in turns:
        if t.label != label:
            d = max(t.start - end, start - t.end, 0.0)
            if d < gap:
                best, gap = t.label, d
    return best


def overlap_turns(seg: Segmentation, turns: Sequence[_TurnLike], match: bool = True) -> list[tuple[float, float, str]]:
    """(start, end, label) of every second speaker, in the diarizer's labels.

    A speaker heard only over others gets a label after the diarizer's
    (`SPEAKER_{n+1}` for n speakers). `match=False`: the nearest other
    speaker in time only (for comparison).
    """
    labels = list(dict.fromkeys(t.label for t in sorted(turns, key=lambda t: t.start)))
    n = len(seg.overlap)
    if not n or not len(seg.local):
        return []
    owner = _owner(turns, labels, n)
    mapped = _match(seg, owner, len(labels) if match else 0)
    over = seg.count() >= 2  # the likeliest count is two (Segmentation.count)
    regions: list[list[int]] = []
    for a, b in _runs(over):
        if regions and (a - regions[-1][1]) * HOP_S < MERGE_GAP_S:
            regions[-1][1] = b
        else:
            regions.append([a, b])
    extra = f"SPEAKER_{len(labels) + 1}"
    while extra in labels:
        extra += "+"
    out: list[tuple[float, float, str]] = []
    for a, b in regions:
        if (b - a) * HOP_S < MIN_OVERLAP_S:
            continue
        start, end = Segmentation.span(a, b)
        held = owner[a:b][owner[a:b] >= 0]
        if held.size:
            primary = labels[int(np.bincount(held).argmax())]
        else:
            near = _nearest_other(turns, start, end, "")
            if near is None:
                continue
            primary = near
        votes: Counter = Counter()
        for w, at in enumerate(seg.window_frame):
            lo, hi = max(a, at), min(b, at + FRAMES)
            if hi <= lo:
                continue
            activity = seg.local[w, lo - at : hi - at].astype(np.float32).mean(axis=0)
            for k in np.argsort(activity)[::-1][:2]:
                g = mapped[w, k]
                if g < 0:
                    votes[None] += hi - lo
                elif labels[g] != primary:
                    votes[labels[g]] += hi - lo
        if not votes:
            continue
        second = votes.most_common(1)[0][0]
        if second is None:
            second = _nearest_other(turns, start, end, primary) or extra
        out.append((round(start, 3), round(end, 3), second))
    return out


# -- into the transcript --------------------------------------------------------------------
def _label_map(segments: Sequence[Segment], turns: Sequence[_TurnLike]) -> dict[str, str]:
    """Diarizer label -> transcript label: the words' labels are the diarizer's, renumbered."""
    votes: dict[str, Counter] = {}
    for (name, label), n in label_votes(segments, turns).items():
        votes.setdefault(label, Counter())[name] += n
    out: dict[str, str] = {}
    for label, counter in sorted(votes.items(), key=lambda kv: -sum(kv[1].values())):
        for name, _n in counter.most_common():
            if name not in out.values():
                out[label] = name
                break
    return out


GRID_S = 0.01  # the transcript's turns and the heard speech are compared on this grid


def add_overlaps(transcript: Transcript, turns: Any) -> None:
    """Put what the diarizer heard beside the words (in place), in the transcript's labels:

    - `overlaps`: a speaker heard with someone else at once (`turns.overlaps`) where another
      speaker's words hold the floor and their own do not;
    - `wordless`: a speaker heard (`turns.speech`) where nobody's words hold the floor.

    The floor is `transcript.turns()`: who-spoke-when from the words, which stays as it is;
    what the words already say is never added twice. A speaker who has no words gets a new
    label and joins `transcript.speakers`.
    """
    transcript.overlaps, transcript.wordless = [], []
    found = list(getattr(turns, "overlaps", None) or [])
    speech = list(getattr(turns, "speech", None) or [])
    if not (found or speech) or not transcript.segments:
        return
    names = _label_map(transcript.segments, turns)
    known = {s.label for s in transcript.speakers}
    floor = transcript.turns()
    end = max([t.end for t in floor] + [e for _s, e, _l in found + speech] + [transcript.duration])
    n = int(np.ceil(end / GRID_S)) + 1
    held = {}  # name -> frames where that speaker's words hold the floor
    anyone = np.zeros(n, bool)
    for t in floor:
        a, b = int(round(t.start / GRID_S)), int(round(t.end / GRID_S))
        held.setdefault(t.speaker, np.zeros(n, bool))[a:b] = True
        anyone[a:b] = True

    def name_of(label: str) -> str:
        name = names.get(label)
        if name is None:
            name = f"SPEAKER_{len(known) + 1}"
            while name in known:
                name += "+"
            names[label] = name
        return name

    def spans(items: list[tuple[float, float, str]], keep) -> list[tuple[float, float, str]]:
        out = []
        for start, stop, label in items:
            name = name_of(label)
            a, b = int(round(start / GRID_S)), int(round(stop / GRID_S))
            own = held.get(name, np.zeros(n, bool))[a:b]
            for x, y in _runs(keep[a:b] & ~own):
                if (y - x) * GRID_S >= MIN_OVERLAP_S:
                    out.append((round((a + x) * GRID_S, 3), round((a + y) * GRID_S, 3), name))
        return out

    overlaps = spans(found, anyone)
    wordless = spans(speech, ~anyone)
    for _s, _e, name in overlaps + wordless:
        if name not in known:
            known.add(name)
            transcript.speakers.append(Speaker(label=name))
    transcript.overlaps = [Overlap(*o) for o in sorted(overlaps)]
    transcript.wordless = [Wordless(*o) for o in sorted(wordless)]


# -- voices the clustering merged ---------------------------------------------------------------
# In a short recording a second person who talks for a second or two is heard in too few
# windows for the clustering to split off (see cluster.py); the segmentation model, which
# hears a 10-s window at once, tells the two voices apart. Such a local speaker, heard alone
# for MIN_SPLIT_S inside the turns of a speaker another local speaker of the same window
# already is, gets those stretches as a speaker of its own (one new speaker per recording).
MIN_SPLIT_S = 1.0


def merged_voices(seg: Segmentation, turns: Sequence[_TurnLike]) -> list[tuple[float, float]]:
    """Spans where, in some window, a local speaker talks alone for >= MIN_SPLIT_S inside the turns
    of a diarizer speaker that another local speaker of that window already is: one voice the
    clustering took for another's."""
    labels = list(dict.fromkeys(t.label for t in sorted(turns, key=lambda t: t.start)))
    n = len(seg.speech)
    if not n or not len(seg.local) or not labels:
        return []
    owner = _owner(turns, labels, n)
    mapped = _match(seg, owner, len(labels))
    out = np.zeros(n, bool)
    for w, at, b, active, solo, own in _windows(seg, owner):
        for k in range(active.shape[1]):
            if mapped[w, k] >= 0 or solo[:, k].sum() * HOP_S < MIN_SPLIT_S:
                continue
            held = own[solo[:, k] & (own >= 0)]
            if not held.size:
                continue
            g = int(np.bincount(held).argmax())
            if g in mapped[w] and (held == g).sum() * HOP_S >= MIN_SPLIT_S:
                out[at:b] |= solo[:, k] & (own == g)
    spans = []
    for a, b in _runs(out):
        if (b - a) * HOP_S >= MIN_OVERLAP_S:
            spans.append(Segmentation.span(a, b))
    if sum(b - a for a, b in spans) < MIN_SPLIT_S:
        return []
    return [(round(a, 3), round(b, 3)) for a, b in spans]


def with_merged_voices(turns: Sequence[_TurnLike], spans: list[tuple[float, float]], make) -> list:
    """The turns with `spans` cut out of them and given to one new speaker (`make(start, end, label)`)."""
    labels = list(dict.fromkeys(t.label for t in turns))
    extra = f"SPEAKER_{len(labels) + 1}"
    out = []
    for t in turns:
        pieces = [(t.start, t.end)]
        for a, b in spans:
            pieces = [p for s, e in pieces for p in ((s, min(e, a)), (max(s, b), e)) if p[1] - p[0] > 1e-3]
        out += [make(s, e, t.label) for s, e in pieces]
        out += [make(max(a, t.start), min(b, t.end), extra) for a, b in spans if min(b, t.end) - max(a, t.start) > 1e-3]
    return sorted(out, key=lambda x: x.start)
