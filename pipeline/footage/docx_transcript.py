"""A transcript as a Word document, laid out as transcription services deliver them.

A paragraph per speaker turn: the timecode and the speaker's name in bold,
then what they said. Writers and producers work in Word; subtitles and JSON
are for machines.
"""

from __future__ import annotations

import io
from pathlib import Path

from ..atomic import write_bytes_atomic
from ..timefmt import clock
from ..transcript import Transcript


def turns(transcript: Transcript, speakers: bool = True) -> list[tuple[float, str | None, str]]:
    """(start, speaker name, text) per turn: consecutive segments of one speaker joined."""
    out: list[tuple[float, str | None, list[str]]] = []
    last_end = float("-inf")
    for seg in transcript.segments:
        name = transcript.speaker_name(seg.speaker) if speakers else None
        if out and out[-1][1] == name and (speakers or seg.start - last_end < 2.0):
            out[-1][2].append(seg.text.strip())
        else:
            out.append((seg.start, name, [seg.text.strip()]))
        last_end = seg.end
    return [(start, name, " ".join(t for t in texts if t)) for start, name, texts in out]


def save_atomic(doc, dst: Path) -> None:
    """Save a python-docx Document through the one atomic write: never half a file."""
    buffer = io.BytesIO()
    doc.save(buffer)
    write_bytes_atomic(dst, buffer.getvalue(), mode=0o644)


def write_docx(transcript: Transcript, dst: Path, speakers: bool = True) -> None:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    doc.add_heading(Path(transcript.path).name or transcript.video_id, level=1)
    meta = doc.add_paragraph(f"Duration {clock(transcript.duration)} · language {transcript.language}")
    meta.runs[0].italic = True
    for start, name, text in turns(transcript, speakers):
        p = doc.add_paragraph()
        stamp = p.add_run(f"[{clock(start)}] ")
        stamp.font.size = Pt(9)
        if name:
            p.add_run(f"{name}: ").bold = True
        p.add_run(text)
    save_atomic(doc, dst)
