"""Transcript -> subtitles (SRT, WebVTT), interview-style text, and JSON.

Cues follow broadcast conventions: at most 2 lines of at most 42 characters,
at most 7 s on screen, never overlapping, split at word boundaries using the
word timings. A cue never spans two speakers, and prefers to end at the end
of a sentence, so each subtitle reads as a unit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .timefmt import clock, srt_time, vtt_time
from .transcript import Transcript, Word

FORMATS = ("srt", "vtt", "txt", "json")
MAX_CHARS = 42
MAX_LINES = 2
MAX_DURATION = 7.0
MIN_DURATION = 0.7  # a cue shorter than this flashes by; stretch into the gap if there is one
SENTENCE_END = (".", "?", "!")


@dataclass
class Cue:
    start: float
    end: float
    lines: list[str]
    speaker: str | None  # display name
    speaker_changed: bool  # first cue of a new speaker's turn


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
            cost = max(len(a), len(b)) - (10 if words[k - 1].endswith((",", ".", "?", "!", ";", ":")) else 0)
            if cost < best_cost:
                best, best_cost = [a, b], cost
    return best


def _cue(words: list[Word], prefix: str, speaker: str | None, changed: bool, max_chars: int) -> Cue:
    tokens = [w.word for w in words]
    tokens[0] = prefix + tokens[0]
    lines = wrap(tokens, max_chars) or [" ".join(tokens)]
    return Cue(words[0].start, words[-1].end, lines, speaker, changed)


def _fits(words: list[Word], prefix: str, max_chars: int, max_duration: float) -> bool:
    tokens = [prefix + words[0].word] + [w.word for w in words[1:]]
    return wrap(tokens, max_chars) is not None and words[-1].end - words[0].start <= max_duration


def _last_break(words: list[Word]) -> int:
    """Index of the word to end a cue on: a sentence end, else a clause end, else the last."""
    for marks in (SENTENCE_END, (",", ";", ":")):
        for k in range(len(words) - 2, 0, -1):
            if words[k].word.endswith(marks):
                return k
    return len(words) - 1


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
        words = seg.words or [Word(seg.text, seg.start, seg.end)]
        name = transcript.speaker_name(seg.speaker) if speakers else None
        changed = speakers and name is not None and name != previous_speaker
        previous_speaker = name
        prefix = f"[{name}] " if (changed and label_style == "srt") else ""
        current: list[Word] = []
        for w in words:
            if current and not _fits(current + [w], prefix, max_chars, max_duration):
                # Break after the last sentence or clause end if there is one, so
                # that a sentence's last word is not left alone on the next cue.
                k = _last_break(current)
                cues.append(_cue(current[: k + 1], prefix, name, changed, max_chars))
                prefix, changed = "", False
                current = current[k + 1 :] + [w]
                if len(current) > 1 and not _fits(current, "", max_chars, max_duration):
                    cues.append(_cue(current[:-1], "", name, False, max_chars))
                    current = [w]
            else:
                current = current + [w]
            # End at a sentence when the cue is already reasonably full.
            full = len(" ".join(x.word for x in current)) > max_chars
            if current and w.word.endswith(SENTENCE_END) and full:
                cues.append(_cue(current, prefix, name, changed, max_chars))
                prefix, changed = "", False
                current = []
        if current:
            cues.append(_cue(current, prefix, name, changed, max_chars))
    _fix_timing(cues)
    return cues


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


def to_srt(transcript: Transcript, speakers: bool = True) -> str:
    out = []
    for i, cue in enumerate(build_cues(transcript, speakers=speakers, label_style="srt"), 1):
        out.append(f"{i}\n{srt_time(cue.start)} --> {srt_time(cue.end)}\n" + "\n".join(cue.lines) + "\n")
    return "\n".join(out)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(transcript: Transcript, speakers: bool = True) -> str:
    out = ["WEBVTT\n"]
    for cue in build_cues(transcript, speakers=speakers, label_style="vtt"):
        lines = [_vtt_escape(x) for x in cue.lines]
        if speakers and cue.speaker:
            # A voice tag does not count towards the visible length.
            voice = cue.speaker.replace(">", "")
            lines[0] = f"<v {voice}>{lines[0]}"
        out.append(f"{vtt_time(cue.start)} --> {vtt_time(cue.end)}\n" + "\n".join(lines) + "\n")
    return "\n".join(out)


def to_txt(transcript: Transcript, speakers: bool = True) -> str:
    """Reads like an interview transcript: a paragraph per turn, with its start time."""
    paragraphs: list[tuple[float, str | None, list[str]]] = []
    last_end = float("-inf")
    for seg in transcript.segments:
        name = transcript.speaker_name(seg.speaker) if speakers else None
        # Without speakers, a long pause is the only sign of a new turn.
        same_turn = paragraphs and paragraphs[-1][1] == name and (speakers or seg.start - last_end < 2.0)
        if same_turn:
            paragraphs[-1][2].append(seg.text.strip())
        else:
            paragraphs.append((seg.start, name, [seg.text.strip()]))
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
        return {"speaker": transcript.speaker_name(label), "speaker_label": label}

    return {
        "video": transcript.video_id,
        "path": transcript.path,
        "duration": transcript.duration,
        "language": transcript.language,
        "engine": transcript.engine,
        "model": transcript.model,
        "speakers": [{"label": s.label, "name": s.display} for s in transcript.speakers] if speakers else [],
        "segments": [
            {
                "start": s.start,
                "end": s.end,
                **spk(s.speaker),
                "text": s.text,
                "words": [
                    {"word": w.word, "start": w.start, "end": w.end, **spk(w.speaker or s.speaker)} for w in s.words
                ],
            }
            for s in transcript.segments
        ],
    }


def to_json(transcript: Transcript, speakers: bool = True) -> str:
    return json.dumps(to_json_dict(transcript, speakers), ensure_ascii=False, indent=1) + "\n"


def export(transcript: Transcript, fmt: str, speakers: bool = True) -> str:
    writers = {"srt": to_srt, "vtt": to_vtt, "txt": to_txt, "json": to_json}
    if fmt not in writers:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return writers[fmt](transcript, speakers)
