"""Is this voice someone we know? Cosine similarity of speaker embeddings against voiceprints.

A speaker's similarity to a person is the best cosine between the speaker's
voice and any of the person's prints (several prints: one voice recorded in
different rooms and microphones). Within one video a person is at most one
speaker and a speaker at most one person: pairs are taken best first.

THRESHOLD was chosen on bench/bench_people.py (see the README, "People"): the
same person in two recordings scored at or above the top of the band where
different people stop, and the threshold sits between them. Only prints of the
voice's own encoder count: another encoder's vectors live in another space. A speaker heard
in fewer than MIN_WINDOWS windows (under ~3 s of speech) has too noisy a
voice to be matched at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..speakers.embed import ENCODER
from .store import Person, Print, Voice

THRESHOLD = 0.72  # cosine of CAM++ voices: at or above, a voice is suggested as the person
SAME_VOICE = 0.95  # cosine: the same speaker of the same recording (a re-ingest gives ~1.0)
MIN_WINDOWS = 4  # a voice averaged over fewer 1.6 s windows is not matched


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def similarity(voice: np.ndarray, person: Person, encoder: str = ENCODER) -> float:
    """Best cosine of `voice` (made by `encoder`) with the person's prints of that encoder; -1 if none."""
    return max((cosine(voice, p.vector) for p in person.prints if p.encoder == encoder), default=-1.0)


def _heard_in(prints: list[Print], video: str, voice: np.ndarray, encoder: str) -> Print | None:
    """The print (or rejection) of this very voice in this video, if any: same video, same voice."""
    mine = (p for p in prints if p.video == video and p.encoder == encoder)
    best = max(mine, key=lambda p: cosine(voice, p.vector), default=None)
    return best if best is not None and cosine(voice, best.vector) >= SAME_VOICE else None


def rejected(person: Person, video: str, voice: np.ndarray, encoder: str = ENCODER) -> bool:
    """The user said this voice of this video is not `person` (labels may change on re-ingest; voices do not)."""
    return _heard_in(person.rejected, video, voice, encoder) is not None


def confirmed_print(person: Person, video: str, voice: np.ndarray, encoder: str = ENCODER) -> Print | None:
    """The person's print taken from this voice of this video: the user named or confirmed it before."""
    return _heard_in(person.prints, video, voice, encoder)


@dataclass
class Match:
    label: str
    person: str  # person id
    similarity: float


def best_matches(
    video: str,
    voices: dict[str, Voice],
    people: dict[str, Person],
    taken: dict[str, str],
    threshold: float = THRESHOLD,
) -> list[Match]:
    """Suggestions for the voices of `video` not in `taken` (label -> person id already linked).

    A pair must reach `threshold`, not be rejected, and involve neither a
    speaker nor a person already linked in this video; best pairs first.
    """
    busy = set(taken.values())
    pairs = []
    for label, voice in voices.items():
        if label in taken or voice.windows < MIN_WINDOWS:
            continue
        for pid, person in people.items():
            if pid in busy:
                continue
            score = similarity(voice.vector, person, voice.encoder)
            if score >= threshold and not rejected(person, video, voice.vector, voice.encoder):
                pairs.append(Match(label, pid, round(score, 4)))
    out: list[Match] = []
    used_labels: set[str] = set()
    for m in sorted(pairs, key=lambda m: -m.similarity):
        if m.label not in used_labels and m.person not in busy:
            out.append(m)
            used_labels.add(m.label)
            busy.add(m.person)
    return out
