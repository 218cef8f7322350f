"""From search hits to clip in/out points: padded, on word boundaries, on the frame grid.

A clip starts `pad` seconds before the matched word and ends `pad` after the
matched word or phrase; a point that falls inside another word is moved out
to that word's boundary, so no clip starts or ends mid-word. With
`sentence=True` the clip is the whole sentence around the hit, padded by at
most `pad` into the silence around it (never into the neighbouring words).

Both points are then put on the frame grid of the timeline rate (in down,
out up, so the span only grows): the clip that is rendered and the event an
EDL or XML names are the same frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pipeline.transcript import Transcript, Word

SENTENCE_END = (".", "?", "!")
# Rates SMPTE timecode is defined for; a video at another rate (a 5 fps screen
# recording) or an audio file is put on FALLBACK_RATE's grid.
TIMECODE_RATES = (24000 / 1001, 24.0, 25.0, 30000 / 1001, 30.0, 48000 / 1001, 48.0, 50.0, 60000 / 1001, 60.0)
FALLBACK_RATE = 25.0
DEFAULT_PAD = 1.0


def timeline_rate(frame_rate: float) -> float:
    """The video's own rate if timecode exists for it, else FALLBACK_RATE."""
    return next((r for r in TIMECODE_RATES if abs(frame_rate - r) < 0.005), FALLBACK_RATE)


@dataclass(frozen=True)
class Cue:
    """Words spoken inside a clip, for burned-in subtitles: source seconds."""

    start: float
    end: float
    speaker: str | None
    text: str


@dataclass(frozen=True)
class Clip:
    video: str
    path: str  # the source media
    start: float  # source seconds, on the frame grid of `rate`
    end: float
    rate: float  # frames per second of the grid and of the timecodes
    has_video: bool
    speaker: str | None
    matched: str  # the matched words as heard
    match: str  # exact | stem | phonetic | fuzzy
    hit_start: float
    hit_end: float
    sentence: str  # the sentence around the hit
    sentence_start: float
    sentence_end: float
    media_duration: float = 0.0  # seconds of the source media
    cues: tuple[Cue, ...] = field(default=(), repr=False)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def in_frame(self) -> int:
        return round(self.start * self.rate)

    @property
    def out_frame(self) -> int:
        """Exclusive, as in EDL and OTIO ranges."""
        return round(self.end * self.rate)

    @property
    def name(self) -> str:
        """The clip name editors see: speaker and words."""
        who = self.speaker or "?"
        return f"{who}: {self.matched}" if self.matched else who


@dataclass(frozen=True)
class Source:
    """What planning needs to know of a video: its transcript and its media."""

    transcript: Transcript
    duration: float  # seconds of media (0: unknown, the transcript's is used)
    frame_rate: float  # 0 for audio
    has_video: bool


def _inside(words: list[Word], t: float) -> Word | None:
    return next((w for w in words if w.start < t < w.end), None)


def _sentence_bounds(words: list[Word], speakers: list[str | None], first: int, last: int) -> tuple[int, int]:
    """Indexes of the first and last word of the sentence(s) holding words[first..last]."""
    a = first
    while a > 0 and not words[a - 1].word.endswith(SENTENCE_END) and speakers[a - 1] == speakers[first]:
        a -= 1
    b = last
    while b < len(words) - 1 and not words[b].word.endswith(SENTENCE_END) and speakers[b + 1] == speakers[last]:
        b += 1
    return a, b


def _cues(transcript: Transcript, words: list[Word], labels: list[str | None], start: float, end: float,
          max_chars: int = 42) -> tuple[Cue, ...]:  # fmt: skip
    """Words spoken inside [start, end], in short lines that never span two speakers."""
    cues: list[Cue] = []
    line: list[Word] = []
    label: str | None = None
    for w, lab in zip(words, labels, strict=True):
        if w.end <= start or w.start >= end:
            continue
        text = " ".join(x.word for x in line + [w])
        if line and (lab != label or len(text) > max_chars or w.end - line[0].start > 4.0):
            cues.append(_cue(transcript, line, label))
            line = []
        if not line:
            label = lab
        line.append(w)
    if line:
        cues.append(_cue(transcript, line, label))
    return tuple(cues)


def _cue(transcript: Transcript, line: list[Word], label: str | None) -> Cue:
    return Cue(line[0].start, line[-1].end, transcript.speaker_name(label), " ".join(x.word for x in line))


def plan_clip(hit, source: Source, *, pad: float = DEFAULT_PAD, sentence: bool = False) -> Clip:
    """The clip for one hit (an index.search.Hit)."""
    t = source.transcript
    words: list[Word] = []
    labels: list[str | None] = []
    for seg in t.segments:
        for w in seg.words:
            words.append(w)
            labels.append(w.speaker or seg.speaker)
    duration = source.duration or t.duration or max((w.end for w in words), default=hit.end)
    rate = timeline_rate(source.frame_rate if source.has_video else 0.0)
    if words:
        first = min(range(len(words)), key=lambda i: abs(words[i].start - hit.start))
        last = min(range(len(words)), key=lambda i: abs(words[i].end - hit.end))
        a, b = _sentence_bounds(words, labels, first, max(first, last))
        sent_start, sent_end = words[a].start, words[b].end
        sentence_text = " ".join(w.word for w in words[a : b + 1])
    else:
        a, b, sent_start, sent_end, sentence_text = 0, -1, hit.segment_start, hit.segment_end, hit.text
    if sentence and words:
        before = words[a - 1].end if a > 0 else 0.0
        after = words[b + 1].start if b + 1 < len(words) else duration
        start = max(sent_start - pad, min(before, sent_start))
        end = min(sent_end + pad, max(after, sent_end))
    else:
        start, end = hit.start - pad, hit.end + pad
        w = _inside(words, start)
        start = w.start if w else start
        w = _inside(words, end)
        end = w.end if w else end
    start, end = max(0.0, start), min(duration, end) if duration > 0 else end
    # On the frame grid: in down, out up (the span only grows), then within the media.
    in_frame = math.floor(start * rate + 1e-6)
    out_frame = math.ceil(end * rate - 1e-6)
    if duration > 0:
        out_frame = min(out_frame, math.floor(duration * rate + 1e-6))
    out_frame = max(out_frame, in_frame + 1)
    start, end = in_frame / rate, out_frame / rate
    return Clip(
        video=hit.video, path=t.path or hit.path, start=start, end=end, rate=rate, has_video=source.has_video,
        speaker=hit.speaker, matched=hit.matched_text, match=hit.match, hit_start=hit.start, hit_end=hit.end,
        sentence=sentence_text, sentence_start=sent_start, sentence_end=sent_end, media_duration=duration,
        cues=_cues(t, words, labels, start, end),
    )  # fmt: skip


def plan(hits: Iterable, source_of: Callable[[str], Source], *, pad: float = DEFAULT_PAD,
         sentence: bool = False) -> list[Clip]:  # fmt: skip
    """A clip per hit, in the order given (best first, as `search` lists them)."""
    return [plan_clip(h, source_of(h.video), pad=pad, sentence=sentence) for h in hits]
