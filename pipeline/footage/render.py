"""Planned clips to media files: one reel, or one file per clip; subtitles and a lower third burned in.

The ffmpeg work is media.cut's; this module decides the output format (the
first video's picture size and frame grid, so most clips need no scaling),
writes the ASS subtitles (speaker in bold, the words as spoken, timed to the
words) and names the files of `--separate`.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from media.cut import Cut, Format, render
from media.errors import MediaError
from media.probe import probe

from ..timefmt import clock
from .clips import Clip

DEFAULT_SIZE = (1280, 720)  # a video reel of audio files only shows black at this size
LOWER_THIRD_S = 3.0


@dataclass(frozen=True)
class Look:
    """What is drawn on the picture."""

    subtitles: bool = False  # the words spoken, with the speaker's name
    lower_third: bool = False  # video name and source time, for the first seconds of each clip


def output_format(clips: Sequence[Clip], audio_only: bool = False) -> Format:
    """The first video clip's size and frame grid; audio-only when no clip has a picture (or asked)."""
    first = next((c for c in clips if c.has_video), None)
    if first is None or audio_only:
        return Format(video=False, rate=clips[0].rate if clips else 25.0)
    info = probe(first.path)
    width, height = (info.width, info.height) if info.width and info.height else DEFAULT_SIZE
    return Format(video=True, width=width + width % 2, height=height + height % 2, rate=first.rate)


def _ass_time(t: float) -> str:
    cs = max(0, round(t * 100))
    h, cs = divmod(cs, 360000)
    m, cs = divmod(cs, 6000)
    s, cs = divmod(cs, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def _ass_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("{", "(").replace("}", ")").replace("\n", " ")


def ass_for(clips: Sequence[Clip], fmt: Format, look: Look) -> str:
    """ASS subtitles for these clips laid end to end from 0."""
    size = max(10, fmt.height // 16)
    head = (
        "[Script Info]\nScriptType: v4.00+\nWrapStyle: 0\n"
        f"PlayResX: {fmt.width}\nPlayResY: {fmt.height}\n\n"
        "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
        "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
        "Alignment, MarginL, MarginR, MarginV, Encoding\n"
        f"Style: Words,DejaVu Sans,{size},&H00FFFFFF,&H000000FF,&H00000000,&H80000000,0,0,0,0,100,100,0,0,"
        f"1,{max(1, size // 12)},0,2,{size},{size},{size // 2},1\n"
        f"Style: Third,DejaVu Sans,{size * 3 // 4},&H00FFFFFF,&H000000FF,&H00000000,&HA0000000,0,0,0,0,100,100,0,0,"
        f"3,{max(1, size // 8)},0,7,{size // 2},{size // 2},{size // 2},1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )
    events: list[str] = []
    offset = 0.0
    for clip in clips:
        if look.subtitles:
            for cue in clip.cues:
                a = max(cue.start, clip.start) - clip.start + offset
                b = min(max(cue.end, cue.start + 0.7), clip.end) - clip.start + offset
                who = f"{{\\b1}}{_ass_text(cue.speaker)}:{{\\b0}} " if cue.speaker else ""
                events.append(f"Dialogue: 0,{_ass_time(a)},{_ass_time(b)},Words,,0,0,0,,{who}{_ass_text(cue.text)}")
        if look.lower_third:
            label = f"{_ass_text(Path(clip.path).name)}  {clock(clip.start)}"
            end = offset + min(LOWER_THIRD_S, clip.duration)
            events.append(f"Dialogue: 1,{_ass_time(offset)},{_ass_time(end)},Third,,0,0,0,,{label}")
        offset += clip.duration
    return head + "\n".join(events) + "\n"


def _cut(c: Clip) -> Cut:
    return Cut(c.path, c.start, c.duration, c.has_video)


def _subtitles(clips: Sequence[Clip], fmt: Format, look: Look, folder: Path) -> Callable[[int, int], Path | None]:
    def make(first: int, stop: int) -> Path | None:
        if not fmt.video or not (look.subtitles or look.lower_third):
            return None
        path = folder / f"clips-{first}.ass"
        path.write_text(ass_for(clips[first:stop], fmt, look), encoding="utf-8")
        return path

    return make


def render_reel(clips: Sequence[Clip], output: Path, look: Look = Look(),
                progress: Callable[[float], None] | None = None) -> Path:  # fmt: skip
    """Every clip, in order, as one file. Raises MediaError."""
    fmt = output_format(clips, audio_only=output.suffix.lower() in AUDIO_SUFFIXES)
    with tempfile.TemporaryDirectory(prefix="interview-index-clips-") as tmp:
        return render([_cut(c) for c in clips], output, fmt, subtitles=_subtitles(clips, fmt, look, Path(tmp)),
                      progress=progress)  # fmt: skip


AUDIO_SUFFIXES = (".m4a", ".mp3", ".wav", ".flac", ".aac")


def clip_filename(number: int, clip: Clip) -> str:
    """`003_two-voices-1a2b3c4d_00-01-23_tax-relief.mp4`: sorts in reel order, says where and what."""
    words = re.sub(r"[^a-z0-9]+", "-", clip.matched.lower()).strip("-")[:40] or "clip"
    stamp = clock(clip.start).split(".")[0].replace(":", "-")
    return f"{number:03d}_{clip.video}_{stamp}_{words}{'.mp4' if clip.has_video else '.m4a'}"


def render_one(number: int, clip: Clip, folder: Path, look: Look = Look()) -> Path:
    """One clip as its own file in `folder` (mp4, or m4a for an audio source). Raises MediaError."""
    fmt = output_format([clip])
    with tempfile.TemporaryDirectory(prefix="interview-index-clips-") as tmp:
        return render([_cut(clip)], folder / clip_filename(number, clip), fmt,
                      subtitles=_subtitles([clip], fmt, look, Path(tmp)))  # fmt: skip


__all__ = ["Look", "MediaError", "ass_for", "clip_filename", "output_format", "render_one", "render_reel"]
