"""The voice of each speaker of a transcript, from what diarization computed.

Diarization hands out a voice per turn label (`Turns.voices`); assigning words
to turns renumbers the labels in order of first appearance in the
transcript, so each transcript label takes the voice of the turn label its
words fell in most.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..speakers.assign import label_votes
from ..transcript import Segment
from .store import Voice, as_vector


def transcript_voices(segments: Sequence[Segment], turns: Sequence[Any]) -> dict[str, Voice]:
    """Transcript label -> Voice; labels whose words fall in no turn with a voice get none."""
    diarized = getattr(turns, "voices", None) or {}
    if not diarized:
        return {}
    votes: dict[str, Counter] = {}
    for (label, turn_label), n in label_votes(segments, turns).items():
        votes.setdefault(label, Counter())[turn_label] += n
    out: dict[str, Voice] = {}
    for label, counter in votes.items():
        turn_label = counter.most_common(1)[0][0]
        if turn_label in diarized:
            vector, windows = diarized[turn_label]
            out[label] = Voice(as_vector(vector), int(windows))
    return out
