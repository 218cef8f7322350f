"""The voice of each speaker of a transcript, from what diarization computed.

Diarization hands out a voice per turn label (`Turns.voices`); assigning words
to turns renumbers the labels in order of first appearance in the
transcript, so each transcript label takes the voice of the turn label its
words fell in most.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..transcript import Segment, Word
from .store import Voice, as_vector


def transcript_voices(segments: Sequence[Segment], turns: Sequence[Any]) -> dict[str, Voice]:
    """Transcript label -> Voice; labels whose words fall in no turn with a voice get none."""
    diarized = getattr(turns, "voices", None) or {}
    if not diarized:
        return {}
    ordered = sorted(turns, key=lambda t: t.start)
    starts = [t.start for t in ordered]
    votes: dict[str, Counter] = {}
    for seg in segments:
        for w in seg.words or [Word(seg.text, seg.start, seg.end, speaker=seg.speaker)]:
            if not w.speaker:
                continue
            mid = (max(w.start, w.end - 0.4) + w.end) / 2
            i = bisect.bisect_right(starts, mid) - 1
            near = [t for t in ordered[max(0, i) : i + 2] if t.start - 0.5 <= mid <= t.end + 0.5]
            if near:
                turn = min(near, key=lambda t: max(t.start - mid, mid - t.end, 0.0))
                votes.setdefault(w.speaker, Counter())[turn.label] += 1
    out: dict[str, Voice] = {}
    for label, counter in votes.items():
        turn_label = counter.most_common(1)[0][0]
        if turn_label in diarized:
            vector, windows = diarized[turn_label]
            out[label] = Voice(as_vector(vector), int(windows))
    return out
