"""What `search --format csv|docx|edl|xml|otio` and `clips` do, behind the CLI's thin command bodies.

A hit whose video cannot be read (moved, deleted, unreadable) gets one
`error: FILE: cause` line and is left out; the other hits are still cut or
written, and the command exits 1 at the end (`Outcome.failed`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from media.errors import MediaError

from ..atomic import write_text_atomic
from ..errors import InterviewIndexError, UsageError, printable
from ..library import Library
from . import quotes, timelines
from .clips import DEFAULT_PAD, Clip, plan_clip
from .render import AUDIO_SUFFIXES, Look, render_one, render_reel
from .sources import Sources

DOCUMENT_FORMATS = quotes.FORMATS + timelines.FORMATS  # csv docx edl xml otio
MEDIA_SUFFIXES = (".mp4", ".mov", ".mkv") + AUDIO_SUFFIXES
Echo = Callable[[str], None]


@dataclass
class Outcome:
    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors)


def clips_for(library: Library, hits: Sequence, *, pad: float = DEFAULT_PAD, sentence: bool = False,
              outcome: Outcome | None = None) -> list[Clip]:  # fmt: skip
    """A clip per hit; hits of unreadable videos are left out and their error recorded once per video."""
    outcome = outcome if outcome is not None else Outcome()
    sources = Sources(library)
    clips = []
    for h in hits:
        try:
            clips.append(plan_clip(h, sources(h.video), pad=pad, sentence=sentence))
        except MediaError as e:
            if str(e) not in outcome.errors:
                outcome.errors.append(str(e))
    return clips


def document_format(fmt: str | None, output: Path | None) -> str:
    """--format, else -o's extension; a usage error when neither names a document format."""
    if fmt:
        return fmt
    suffix = output.suffix.lstrip(".").lower() if output else ""
    if suffix in DOCUMENT_FORMATS:
        return suffix
    raise UsageError(f"-o {printable(output or '')}: say --format ({', '.join(DOCUMENT_FORMATS)}) or use one of "
                     "those extensions")  # fmt: skip


def check_folder(output: Path) -> None:
    folder = output.absolute().parent
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "no such folder"
        raise InterviewIndexError(f"{printable(output)}: {printable(folder)} {what}")


def write_document(clips: Sequence[Clip], fmt: str, output: Path | None, title: str) -> str | None:
    """Write the clips as a quote sheet or a timeline to `output`; without `output`, return the text."""
    if not clips:
        raise InterviewIndexError(f"no hits for {title}; nothing written")
    if output is not None:
        check_folder(output)
    if fmt == "docx":
        if output is None:
            raise UsageError("--format docx needs -o FILE")
        quotes.write_docx(clips, output, title)
        return None
    text = quotes.to_csv(clips) if fmt == "csv" else timelines.write_timeline(clips, fmt, title)
    if output is None:
        return text
    write_text_atomic(output, text)
    return None


def write_hits(library: Library, hits: Sequence, fmt: str | None, output: Path | None, query: str,
               echo: Echo) -> Outcome:  # fmt: skip
    """`search ... --format csv|docx|edl|xml|otio [-o FILE]`: timelines use the default clip padding."""
    fmt = document_format(fmt, output)
    outcome = Outcome()
    clips = clips_for(library, hits, outcome=outcome)
    for e in outcome.errors:
        echo(f"error: {e}")
    text = write_document(clips, fmt, output, query)
    if text is not None:
        sys.stdout.write(text)
    else:
        echo(f"wrote {printable(output)} ({len(clips)} hits)")
    return outcome


def make_clips(library: Library, hits: Sequence, *, output: Path | None, separate: Path | None, pad: float,
               sentence: bool, look: Look, query: str, echo: Echo) -> Outcome:  # fmt: skip
    """`clips`: a reel (-o FILE.mp4), one file per hit (--separate DIR), or a sheet/timeline (-o FILE.edl ...)."""
    if (output is None) == (separate is None):
        raise UsageError("give -o FILE (a reel, or a .csv/.docx/.edl/.xml/.otio sheet) or --separate FOLDER")
    outcome = Outcome()
    clips = clips_for(library, hits, pad=pad, sentence=sentence, outcome=outcome)
    for e in outcome.errors:
        echo(f"error: {e}")
    if output is not None and output.suffix.lower().lstrip(".") in DOCUMENT_FORMATS:
        write_document(clips, output.suffix.lower().lstrip("."), output, query)
        echo(f"wrote {printable(output)} ({len(clips)} clips)")
        outcome.written.append(output)
        return outcome
    if not clips:
        raise InterviewIndexError(f"no hits for {query}; nothing cut" if not outcome.errors else "nothing to cut")
    from tqdm import tqdm

    if separate is not None:
        if separate.exists() and not separate.is_dir():
            raise InterviewIndexError(f"{printable(separate)}: is a file, not a folder")
        separate.mkdir(parents=True, exist_ok=True)
        with tqdm(total=len(clips), desc="clips", unit="clip", file=sys.stderr, disable=None, leave=False) as bar:
            for k, clip in enumerate(clips, 1):
                try:
                    outcome.written.append(render_one(k, clip, separate, look))
                except MediaError as e:
                    outcome.errors.append(str(e))
                    echo(f"error: {e}")
                bar.update(1)
        echo(f"wrote {len(outcome.written)} clips to {printable(separate)}")
        return outcome
    if output.suffix.lower() not in MEDIA_SUFFIXES:
        raise UsageError(f"-o {printable(output)}: a reel is .mp4, .mov, .mkv or .m4a; sheets are "
                         f"{', '.join('.' + f for f in DOCUMENT_FORMATS)}")  # fmt: skip
    check_folder(output)
    ends, total = [], 0.0
    for c in clips:
        total += c.duration
        ends.append(total)
    with tqdm(total=len(clips), desc="reel", unit="clip", file=sys.stderr, disable=None, leave=False) as bar:

        def progress(seconds: float) -> None:
            bar.n = sum(1 for e in ends if e <= seconds + 1e-3)
            bar.refresh()

        render_reel(clips, output, look, progress=progress)
        bar.n = len(clips)
        bar.refresh()
    outcome.written.append(output)
    echo(f"wrote {printable(output)} ({len(clips)} clips, {total:.1f} s)")
    return outcome
