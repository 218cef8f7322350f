"""Transcript -> subtitles (SRT, WebVTT), interview-style text, and JSON.

Cues follow broadcast conventions: at most 2 lines of at most 42 characters,
at most 7 s on screen, never overlapping, split at word boundaries using the
word timings. A cue never spans two speakers, and prefers to end at the end
of a sentence, so each subtitle reads as a unit; a word is not left alone on
a cue when a neighbouring cue of the same speaker can take it.

Whisper's words are pieces of the text ("high", "-technology"); every format
shows them joined the same way (`join_words`). The `srt` and `webvtt-py`
packages write the files and their times.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from .timefmt import clock, vtt_time
from .transcript import Segment, Speaker, Transcript, Word

FORMATS = ("srt", "vtt", "txt", "json")
MAX_CHARS = 42
MAX_LINES = 2
MAX_DURATION = 7.0
MIN_DURATION = 0.7  # a cue shorter than this flashes by; stretch into the gap if there is one
SENTENCE_END = (".", "?", "!")
CLAUSE_END = (",", ";", ":")
_CLOSING = set(",.;:!?%)]}…")  # written straight after the word before


class FormatError(ValueError):
    """An output format this module cannot write (the CLI reports it as a usage error)."""


def format_for(output: Path | None, formats: Sequence[str] = FORMATS) -> str:
    """The format to write `output` in when none is given: its extension, srt without one.

    An extension naming no format (x.pdf) is refused rather than filled with SRT.
    """
    suffix = output.suffix.lstrip(".").lower() if output is not None else ""
    if not suffix:
        return "srt"
    if suffix not in formats:
        raise FormatError(f"cannot write .{suffix} files; use --format {'|'.join(formats)}")
    return suffix


# -- words -----------------------------------------------------------------------


def _glued(previous: str, piece: str) -> bool:
    """Whether `piece` continues `previous` without a space ("high" + "-technology", "Ellis" + "'s", "40" + "%")."""
    if not previous or not piece:
        return False
    if piece[0] in "-'’" and len(piece) > 1 and piece[1].isalnum():
        return True
    if all(ch in _CLOSING for ch in piece):
        return True
    return previous[-1] == "-" and len(previous) > 1 and previous[-2].isalnum()  # "inter-" + "mune"


def join_words(words: Sequence[str]) -> str:
    """Recognised words as text: the one place pieces are joined, for every format."""
    out = ""
    for w in (x.strip() for x in words):
        if not w:
            continue
        out += w if not out or _glued(out, w) else " " + w
    return out


@dataclass
class _Unit:
    """A word as shown: one or more recognised pieces, with the first's start and the last's end."""

    text: str
    start: float
    end: float


def _units(words: Sequence[Word]) -> list[_Unit]:
    units: list[_Unit] = []
    for w in words:
        piece = w.word.strip()
        if not piece:
            continue
        if units and _glued(units[-1].text, piece):
            units[-1].text += piece
            units[-1].end = max(units[-1].end, w.end)
        else:
            units.append(_Unit(piece, w.start, w.end))
    return units


def segment_text(seg: Segment) -> str:
    return join_words([w.word for w in seg.words]) if seg.words else seg.text.strip()


# -- cues ------------------------------------------------------------------------


@dataclass
class Cue:
    start: float
    end: float
    lines: list[str]
    speaker: str | None  # display name
    speaker_changed: bool  # first cue of a new speaker's turn
    units: list[_Unit] = field(default_factory=list, repr=False)
    prefix: str = ""  # "[Name] " on screen before the first word (SRT at a speaker change)


def wrap(words: list[str], max_chars: int = MAX_CHARS, max_lines: int = MAX_LINES) -> list[str] | None:
    """Balanced lines for these words, or None when they do not fit."""
    text = " ".join(words)
    if len(text) <= max_chars:
        return [text]
    if max_lines < 2:
        return None
    best: list[str] | None = None
    best_cost = float("inf")
    for k in range(1, len(words)):
        a, b = " ".join(words[:k]), " ".join(words[k:])
        if len(a) <= max_chars and len(b) <= max_chars:
            # Balanced lines, but a line that ends a clause reads better.
            cost = max(len(a), len(b)) - (10 if words[k - 1].endswith(SENTENCE_END + CLAUSE_END) else 0)
            if cost < best_cost:
                best, best_cost = [a, b], cost
    return best


def _tokens(units: list[_Unit], prefix: str) -> list[str]:
    tokens = [u.text for u in units]
    tokens[0] = prefix + tokens[0]
    return tokens


def _cue(units: list[_Unit], prefix: str, speaker: str | None, changed: bool, max_chars: int) -> Cue:
    tokens = _tokens(units, prefix)
    lines = wrap(tokens, max_chars) or [" ".join(tokens)]
    return Cue(units[0].start, units[-1].end, lines, speaker, changed, list(units), prefix)


def _fits(units: list[_Unit], prefix: str, max_chars: int, max_duration: float) -> bool:
    return wrap(_tokens(units, prefix), max_chars) is not None and units[-1].end - units[0].start <= max_duration


def _last_break(units: list[_Unit]) -> int:
    """Index of the word to end a cue on: a sentence end, else a clause end, else the last."""
    for marks in (SENTENCE_END, CLAUSE_END):
        for k in range(len(units) - 2, 0, -1):
            if units[k].text.endswith(marks):
                return k
    return len(units) - 1


def build_cues(
    transcript: Transcript,
    *,
    speakers: bool = True,
    label_style: str = "srt",
    max_chars: int = MAX_CHARS,
    max_duration: float = MAX_DURATION,
) -> list[Cue]:
    """Pack words into cues. With `label_style="srt"` the `[Name] ` prefix shown
    at a speaker change counts towards the line length, since it is on screen."""
    cues: list[Cue] = []
    previous_speaker: object = object()
    for seg in transcript.segments:
        units = _units(seg.words or [Word(seg.text, seg.start, seg.end)])
        if not units:
            continue
        name = transcript.speaker_name(seg.speaker) if speakers else None
        changed = speakers and name is not None and name != previous_speaker
        previous_speaker = name
        prefix = f"[{name}] " if (changed and label_style == "srt") else ""
        current: list[_Unit] = []
        for u in units:
            if current and not _fits(current + [u], prefix, max_chars, max_duration):
                # Break after the last sentence or clause end if there is one, so
                # that a sentence's last word is not left alone on the next cue.
                k = _last_break(current)
                cues.append(_cue(current[: k + 1], prefix, name, changed, max_chars))
                prefix, changed = "", False
                current = current[k + 1 :] + [u]
                if len(current) > 1 and not _fits(current, "", max_chars, max_duration):
                    cues.append(_cue(current[:-1], "", name, False, max_chars))
                    current = [u]
            else:
                current = current + [u]
            # End at a sentence when the cue is already reasonably full.
            full = len(" ".join(x.text for x in current)) > max_chars
            if current and u.text.endswith(SENTENCE_END) and full:
                cues.append(_cue(current, prefix, name, changed, max_chars))
                prefix, changed = "", False
                current = []
        if current:
            cues.append(_cue(current, prefix, name, changed, max_chars))
    _no_lone_words(cues, max_chars, max_duration)
    _fix_timing(cues)
    return cues


def _no_lone_words(cues: list[Cue], max_chars: int, max_duration: float) -> None:
    """A one-word cue goes to the next cue of the same speaker, or the previous,
    if that cue can take it; else it takes the previous cue's last word."""

    def same_speaker(a: Cue, b: Cue) -> bool:  # b follows a
        return a.speaker == b.speaker and not b.speaker_changed

    def rebuild(i: int, units: list[_Unit]) -> None:
        c = cues[i]
        cues[i] = _cue(units, c.prefix, c.speaker, c.speaker_changed, max_chars)

    i = 0
    while i < len(cues):
        cue = cues[i]
        if len(cue.units) != 1:
            i += 1
            continue
        nxt = cues[i + 1] if i + 1 < len(cues) else None
        prev = cues[i - 1] if i else None
        if nxt is not None and same_speaker(cue, nxt) and _fits(cue.units + nxt.units, cue.prefix, max_chars,
                                                                max_duration):  # fmt: skip
            nxt_changed = cue.speaker_changed
            cues[i + 1] = _cue(cue.units + nxt.units, cue.prefix, nxt.speaker, nxt_changed, max_chars)
            del cues[i]
            continue
        if prev is not None and same_speaker(prev, cue):
            if _fits(prev.units + cue.units, prev.prefix, max_chars, max_duration):
                rebuild(i - 1, prev.units + cue.units)
                del cues[i]
                continue
            if len(prev.units) > 2 and _fits(prev.units[-1:] + cue.units, "", max_chars, max_duration):
                moved = prev.units[-1:]
                rebuild(i - 1, prev.units[:-1])
                rebuild(i, moved + cue.units)
        i += 1


def _fix_timing(cues: list[Cue]) -> None:
    """No overlaps; very short cues borrow time from the following gap."""
    for i, cue in enumerate(cues):
        nxt = cues[i + 1].start if i + 1 < len(cues) else None
        if cue.end - cue.start < MIN_DURATION:
            cue.end = cue.start + MIN_DURATION
        if nxt is not None and cue.end > nxt:
            cue.end = max(cue.start + 0.001, nxt)
        if cue.end <= cue.start:
            cue.end = cue.start + 0.001


# -- formats ---------------------------------------------------------------------


def _ms(t: float) -> timedelta:
    """Whole milliseconds, rounded (timedelta formatting would truncate 1.9996 to 1.999)."""
    return timedelta(milliseconds=max(0, round(t * 1000)))


def to_srt(transcript: Transcript, speakers: bool = True) -> str:
    import srt

    cues = build_cues(transcript, speakers=speakers, label_style="srt")
    subs = [srt.Subtitle(i, _ms(c.start), _ms(c.end), "\n".join(c.lines)) for i, c in enumerate(cues, 1)]
    return srt.compose(subs, reindex=False)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(transcript: Transcript, speakers: bool = True) -> str:
    import webvtt

    vtt = webvtt.WebVTT()
    for cue in build_cues(transcript, speakers=speakers, label_style="vtt"):
        lines = [_vtt_escape(x) for x in cue.lines]
        if speakers and cue.speaker:
            # A voice tag does not count towards the visible length.
            voice = cue.speaker.replace(">", "")
            lines[0] = f"<v {voice}>{lines[0]}"
        vtt.captions.append(webvtt.Caption(vtt_time(cue.start), vtt_time(cue.end), lines))
    return vtt.content


def to_txt(transcript: Transcript, speakers: bool = True) -> str:
    """Reads like an interview transcript: a paragraph per turn, with its start time."""
    paragraphs: list[tuple[float, str | None, list[str]]] = []
    last_end = float("-inf")
    for seg in transcript.segments:
        name = transcript.speaker_name(seg.speaker) if speakers else None
        # Without speakers, a long pause is the only sign of a new turn.
        same_turn = paragraphs and paragraphs[-1][1] == name and (speakers or seg.start - last_end < 2.0)
        if same_turn:
            paragraphs[-1][2].append(segment_text(seg))
        else:
            paragraphs.append((seg.start, name, [segment_text(seg)]))
        last_end = seg.end
    blocks = []
    for start, name, texts in paragraphs:
        who = f"{name}: " if name else ""
        blocks.append(f"[{clock(start)}] {who}{' '.join(t for t in texts if t)}")
    return "\n\n".join(blocks) + "\n"


def to_json_dict(transcript: Transcript, speakers: bool = True) -> dict:
    def spk(label: str | None) -> dict:
        if not speakers:
            return {}
        # speaker: the person's name when the voice is linked to one, with how sure (suggested, confirmed)
        return {"speaker": transcript.speaker_name(label), "speaker_label": label,
                "speaker_state": transcript.speaker_state(label)}  # fmt: skip

    return {
        "video": transcript.video_id,
        "path": transcript.path,
        "duration": transcript.duration,
        "language": transcript.language,
        "engine": transcript.engine,
        "model": transcript.model,
        "speakers": [_speaker_dict(s) for s in transcript.speakers] if speakers else [],
        "segments": [
            {
                "start": s.start,
                "end": s.end,
                **spk(s.speaker),
                "text": segment_text(s),
                "words": [
                    {"word": w.word, "start": w.start, "end": w.end, **spk(w.speaker or s.speaker)} for w in s.words
                ],
            }
            for s in transcript.segments
        ],
        # second speakers where two talk at once (the words above keep the speaker whose turn they are in)
        "overlaps": [{"start": o.start, "end": o.end, **spk(o.speaker)} for o in transcript.overlaps if speakers],
        # speech heard where no word was written, and whose voice it is (a word the recognizer missed)
        "wordless": [{"start": w.start, "end": w.end, **spk(w.speaker)} for w in transcript.wordless if speakers],
    }


def _speaker_dict(s: Speaker) -> dict:
    return {"label": s.label, "name": s.display, "state": s.name_state, "similarity": s.similarity}


def to_json(transcript: Transcript, speakers: bool = True) -> str:
    return json.dumps(to_json_dict(transcript, speakers), ensure_ascii=False, indent=1) + "\n"


def export(transcript: Transcript, fmt: str, speakers: bool = True) -> str:
    writers = {"srt": to_srt, "vtt": to_vtt, "txt": to_txt, "json": to_json}
    if fmt not in writers:
        raise FormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return writers[fmt](transcript, speakers)
