"""Attribute a transcript's words to diarization turns.

Each word takes the turn its end overlaps most (or the nearest one: a word
in a pause still belongs to someone). Segments are then split wherever the
speaker changes, so no segment ever mixes two speakers, and where the words
stop for a turn's pause that nobody is heard in, so no segment spans a silence. Labels are
renumbered in order of first appearance in the transcript, so the first
voice a reader meets is always SPEAKER_1 even when the diarizer's first
turn held no words (music, a cough). The last word of each turn ends where the
detected speech ends: recognisers cut the fading end of a sentence short, and
a clip or a subtitle cut at the word's end would lose it.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Protocol

from ..transcript import TURN_PAUSE_S, Segment, Speaker, Word

MAX_GAP_S = 2.0  # a word further than this from every turn keeps its neighbours' speaker
# Whisper-style recognisers stretch the start of a word back over the pause
# before it (measured: the first word of a turn, "A", given 100.05-101.09 s
# when it was spoken at 101.01), while its end is reliable. A word is placed
# by its last TAIL_S seconds.
TAIL_S = 0.4
# ... and they end the last word before a pause early (measured on real readers: 0.3-0.8 s
# before the voice fades out). The speech detector knows where the voice stops, so a word
# that is the last one in its turn is extended to the turn's end, by at most END_SNAP_S.
END_SNAP_S = 0.5
# A segment is cut where its words stop for a pause a turn would end at (TURN_PAUSE_S) and nobody is
# heard for that long: Whisper's segments run on across silences ("joy." ... 2.7 s ... "Aren't"), and
# a segment is what the transcript says was spoken, from its start to its end.
SPLIT_PAUSE_S = TURN_PAUSE_S


class _TurnLike(Protocol):
    start: float
    end: float
    label: str


class _TurnIndex:
    """Turns sorted by start, for overlap queries in O(log n)."""

    def __init__(self, turns: list[_TurnLike]):
        self.turns = sorted(turns, key=lambda t: (t.start, t.end))
        self.starts = [t.start for t in self.turns]
        self.max_len = max((t.end - t.start for t in self.turns), default=0.0)

    def holding(self, t: float) -> _TurnLike | None:
        """The turn that `t` falls in, if any."""
        i = bisect.bisect_right(self.starts, t) - 1
        while i >= 0 and self.starts[i] >= t - self.max_len:
            if self.turns[i].end >= t:
                return self.turns[i]
            i -= 1
        return None

    def label_at(self, start: float, end: float) -> str | None:
        """Label of the turn overlapping [start, end] most, else of the nearest turn within MAX_GAP_S."""
        end = max(end, start)
        lo = bisect.bisect_left(self.starts, start - self.max_len)
        hi = bisect.bisect_right(self.starts, end)
        best, best_score = None, -MAX_GAP_S
        # Score = overlap when positive, minus the gap when not; the turns
        # around [lo, hi) are the only ones that can overlap or be nearest.
        for t in self.turns[max(0, lo - 1) : hi + 1]:
            score = min(end, t.end) - max(start, t.start)
            if score > best_score:
                best, best_score = t.label, score
        return best


class _Heard:
    """Where anyone was heard: the turns, and the speech the segmentation heard (`turns.speech`)."""

    def __init__(self, turns: Sequence[_TurnLike]):
        spans = sorted([(t.start, t.end) for t in turns] + [(a, b) for a, b, _ in getattr(turns, "speech", None) or []])
        self.spans: list[list[float]] = []
        for a, b in spans:
            if self.spans and a <= self.spans[-1][1]:
                self.spans[-1][1] = max(self.spans[-1][1], b)
            else:
                self.spans.append([a, b])
        self.starts = [a for a, _b in self.spans]

    def _heard_after_pauses(self, start: float, end: float) -> Iterator[float]:
        """Where speech is heard again after each stretch of SPLIT_PAUSE_S with nobody heard inside
        [start, end], in order; then `end` if [start, end] ends in such a stretch."""
        if end - start < SPLIT_PAUSE_S:
            return
        at = start
        for a, b in self.spans[max(0, bisect.bisect_right(self.starts, start) - 1) :]:
            if a >= end:
                break
            if a - at >= SPLIT_PAUSE_S:
                yield a
            at = max(at, b)
        if end - at >= SPLIT_PAUSE_S:
            yield end

    def silent(self, start: float, end: float) -> bool:
        """Whether [start, end] holds a stretch of SPLIT_PAUSE_S with nobody heard."""
        return next(self._heard_after_pauses(start, end), None) is not None

    def after_silence(self, start: float, end: float) -> float:
        """Where the last stretch of SPLIT_PAUSE_S with nobody heard inside [start, end] ends, if
        speech is heard after it before `end`; else `start`."""
        return max((t for t in self._heard_after_pauses(start, end) if t < end), default=start)


def _clip_starts(seg: Segment, heard: _Heard) -> Segment:
    """A copy of `seg` whose words start after any silence of SPLIT_PAUSE_S inside them.

    Recognisers stretch a word's start back over the pause before it (TAIL_S), at times over seconds
    nobody is heard in (a backchannel's "-hmm." running back over the silence before it): the word
    then held the floor through the silence, and a voice heard where it ends, someone else's, was
    hidden under it. Neither the diarizer nor the segmentation hearing anyone for a turn's pause is
    the rule that already cuts a segment between two words; a shorter pause stays inside the word.
    """
    if not seg.words:
        return seg
    words = []
    for w in seg.words:
        start = heard.after_silence(w.start, w.end)
        words.append(replace(w, start=round(start, 3)) if start > w.start else w)
    return replace(seg, words=words, start=max(seg.start, words[0].start))


def _fill_gaps(labels: list[str | None], default: str | None) -> list[str | None]:
    """Unattributed items take the previous item's speaker (or the next one's at the start)."""
    out = list(labels)
    last = None
    for i, lab in enumerate(out):
        if lab is None:
            out[i] = last
        last = out[i]
    nxt = None
    for i in range(len(out) - 1, -1, -1):
        if out[i] is None:
            out[i] = nxt
        nxt = out[i]
    return [lab if lab is not None else default for lab in out]


def _join(words: list[Word], original: str) -> str:
    spaced = " " in original.strip() or len(words) < 2
    return (" " if spaced else "").join(w.word for w in words).strip()


def _end_at_speech_ends(segments: list[Segment], index: _TurnIndex) -> None:
    """Extend each turn's last word to where the detected speech of that turn stops (in place).

    Only a word after which no other word starts inside the same turn, and only
    forward: the recogniser's start times and every other word stay as they are.
    """
    words = [w for seg in segments for w in seg.words]
    for i, w in enumerate(words):
        turn = index.holding(w.end)
        if turn is None or turn.end <= w.end:
            continue
        following = words[i + 1].start if i + 1 < len(words) else float("inf")
        if following >= turn.end:
            w.end = round(min(turn.end, w.end + END_SNAP_S), 3)
    for seg in segments:
        if seg.words:
            seg.end = max(seg.end, seg.words[-1].end)


def assign_speakers(segments: list[Segment], turns: list[_TurnLike]) -> tuple[list[Segment], list[Speaker]]:
    """Copies of `segments` with every word and segment labelled, split at speaker changes.

    With no turns at all (silence, or speech too quiet for the VAD) but some
    words, everything goes to a single SPEAKER_1; with no segments, no speakers.
    """
    index = _TurnIndex(turns)
    heard = _Heard(turns)
    default = "SPEAKER_1" if not turns else None

    # One label per word, or per segment when the recogniser gave no words.
    units: list[tuple[int, int | None, float, float]] = []  # (segment, word or None, start, end)
    segments = [_clip_starts(seg, heard) for seg in segments]
    for si, seg in enumerate(segments):
        if seg.words:
            units += [(si, wi, max(w.start, w.end - TAIL_S), w.end) for wi, w in enumerate(seg.words)]
        else:
            units.append((si, None, seg.start, seg.end))
    raw = [index.label_at(a, b) for _si, _wi, a, b in units]
    labels = _fill_gaps(raw, default)

    out: list[Segment] = []
    by_seg: dict[int, list[tuple[int | None, str | None]]] = {}
    for (si, wi, _a, _b), lab in zip(units, labels, strict=True):
        by_seg.setdefault(si, []).append((wi, lab))
    for si, seg in enumerate(segments):
        marks = by_seg.get(si, [])
        if not seg.words:
            out.append(replace(seg, words=[], speaker=marks[0][1] if marks else default))
            continue
        words = [replace(w, speaker=lab) for w, (_wi, lab) in zip(seg.words, marks, strict=True)]
        runs: list[list[Word]] = []
        for w in words:
            if runs and runs[-1][-1].speaker == w.speaker and not heard.silent(runs[-1][-1].end, w.start):
                runs[-1].append(w)
            else:
                runs.append([w])
        if len(runs) == 1:
            out.append(replace(seg, words=words, speaker=words[0].speaker))
            continue
        for k, run in enumerate(runs):
            start = seg.start if k == 0 else run[0].start
            end = seg.end if k == len(runs) - 1 else run[-1].end
            out.append(Segment(start=start, end=end, text=_join(run, seg.text), words=run, speaker=run[0].speaker))

    _end_at_speech_ends(out, index)

    # Renumber in order of first appearance in the transcript.
    names: dict[str, str] = {}
    for seg in out:
        for lab in [seg.speaker] + [w.speaker for w in seg.words]:
            if lab is not None and lab not in names:
                names[lab] = f"SPEAKER_{len(names) + 1}"
    for seg in out:
        seg.speaker = names.get(seg.speaker) if seg.speaker else None
        for w in seg.words:
            w.speaker = names.get(w.speaker) if w.speaker else None
    return out, [Speaker(label=v) for v in names.values()]


def label_votes(segments: Sequence[Segment], turns: Sequence[_TurnLike]) -> Counter[tuple[str, str]]:
    """(transcript label, diarizer turn label) -> how many words of the one fall in a turn of the other.

    Assigning words renumbers the diarizer's labels, so whatever diarization
    computed per turn label (a voice, an overlap's second speaker) is carried
    to the transcript through this count. A segment without words counts as one.
    """
    ordered = sorted(turns, key=lambda t: t.start)
    starts = [t.start for t in ordered]
    votes: Counter[tuple[str, str]] = Counter()
    for seg in segments:
        for w in seg.words or [Word(seg.text, seg.start, seg.end, speaker=seg.speaker)]:
            if not w.speaker:
                continue
            mid = (max(w.start, w.end - TAIL_S) + w.end) / 2
            i = bisect.bisect_right(starts, mid) - 1
            near = [t for t in ordered[max(0, i) : i + 2] if t.start - 0.5 <= mid <= t.end + 0.5]
            if near:
                turn = min(near, key=lambda t: max(t.start - mid, mid - t.end, 0.0))
                votes[w.speaker, turn.label] += 1
    return votes
