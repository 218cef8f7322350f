"""Word times held to the speech they were heard in.

The gate (`gate`) glues the speech regions together before decoding, so the
recognizer never hears the silences between them, and Whisper's word times
are loose at the edges of speech anyway. Measured on a far-field meeting: one
segment ran from 5.7 to 24.1 s, its first four words before an 16-s silence
the gate had cut out and the rest after it, and a turn's first word is often
stretched back over the pause before it. A user then jumps to silence from a
search hit, a subtitle stays on screen over a pause, and the speaker turns
read from the transcript count that silence as someone's speech.

So, after decoding, every word is

* kept inside the gate region its end lies in (the map back from the glued
  audio can put a word's start in the silence before its region; a stretched
  word's end is the reliable one, see `pipeline.speakers.assign`);
* clipped to the stretches of speech it overlaps (`Gate.stretches`: the same
  VAD with the same threshold and padding as the gate, but cut at pauses of
  `gate.STRETCH_SILENCE_MS` instead of the gate's seconds), so a word does not span a
  silence between turns. The padding stays the gate's (0.4 s): Silero opens
  0.3-0.5 s late on a turn's first syllable (measured on real readers), where
  Whisper's start was right, so a tighter stretch cut real onsets off;
* when it overlaps no such stretch (far-field speech the VAD scores below the
  threshold, or a word the recognizer placed in a pause), left where it is but
  no longer than `UNHEARD_MAX_S`, its end kept;

and a segment whose words lie in two gate regions is cut in two there: the
silence between them was never decoded, so nothing joins the two parts but
the glue. Only word times and segment bounds change: no word is added or left
out, so nothing goes on record in `Transcript.dropped`.
"""

from __future__ import annotations

import bisect
from dataclasses import replace

from ..transcript import Segment, Word

UNHEARD_MAX_S = 1.0  # longest a word over no detected speech may last
TAIL_S = 0.4  # a word is placed by its last TAIL_S seconds (as in pipeline.speakers.assign)

Span = tuple[float, float]


class _Spans:
    """Sorted, non-overlapping spans, for 'which span holds t' and 'which spans overlap [a, b]'."""

    def __init__(self, spans: list[Span]):
        self.spans = sorted(spans)
        self.starts = [a for a, _b in self.spans]

    def index_at(self, t: float) -> int | None:
        """Index of the span holding `t`, else of the nearest one; None when there are none."""
        if not self.spans:
            return None
        i = bisect.bisect_right(self.starts, t) - 1
        if i >= 0 and t <= self.spans[i][1]:
            return i
        after = i + 1
        if i < 0:
            return 0
        if after >= len(self.spans):
            return i
        return i if t - self.spans[i][1] <= self.spans[after][0] - t else after

    def overlapping(self, a: float, b: float) -> list[Span]:
        lo = max(0, bisect.bisect_right(self.starts, a) - 1)
        hi = bisect.bisect_left(self.starts, b)
        return [s for s in self.spans[lo:hi] if s[0] < b and s[1] > a]


def _bounded(word: Word, region: Span | None, stretches: _Spans) -> Word:
    start, end = word.start, word.end
    if region is not None:
        start = min(max(start, region[0]), region[1])
        end = min(max(end, start), region[1])
    over = stretches.overlapping(start, end) if end > start else stretches.overlapping(start - 1e-3, start + 1e-3)
    if over:
        start, end = max(start, over[0][0]), min(end, over[-1][1])
    elif end - start > UNHEARD_MAX_S:
        start = end - UNHEARD_MAX_S
    start, end = round(start, 3), round(max(start, end), 3)
    if (start, end) == (word.start, word.end):
        return word
    return replace(word, start=start, end=end)


def _join(words: list[Word], original: str) -> str:
    spaced = " " in original.strip() or len(words) < 2
    return (" " if spaced else "").join(w.word for w in words).strip()


def bound_to_speech(segments: list[Segment], regions: list[Span], stretches: list[Span]) -> list[Segment]:
    """`segments` with word times held to the speech (see the module docstring), cut between gate regions.

    `regions` are the gate's speech regions, `stretches` those of `Gate.stretches`,
    on the segments' timeline.
    """
    gate, fine = _Spans(regions), _Spans(stretches)
    out: list[Segment] = []
    for seg in segments:
        if not seg.words:
            out.append(seg)
            continue
        runs: list[tuple[int | None, list[Word]]] = []
        for w in seg.words:
            at = gate.index_at((max(w.start, w.end - TAIL_S) + w.end) / 2)
            bounded = _bounded(w, gate.spans[at] if at is not None else None, fine)
            if runs and runs[-1][0] == at:
                runs[-1][1].append(bounded)
            else:
                runs.append((at, [bounded]))
        if len(runs) == 1:
            words = runs[0][1]
            out.append(replace(seg, start=words[0].start, end=max(words[0].start, words[-1].end), words=words))
            continue
        for _at, words in runs:
            out.append(Segment(start=words[0].start, end=max(words[0].start, words[-1].end),
                               text=_join(words, seg.text), words=words, speaker=seg.speaker))  # fmt: skip
    return out
