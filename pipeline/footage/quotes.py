"""Quote sheets: a row per hit with where to find it, for producers (CSV) and writers (a Word table).

In and out are the sentence's, in timecode at the video's own rate (what an
editor types into a source monitor); the row also carries the matched words
and how they matched (exact, stem, phonetic, fuzzy), so a sounds-alike hit
is not mistaken for a quote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from opentimelineio.opentime import RationalTime, to_timecode

from .clips import Clip

FORMATS = ("csv", "docx")
COLUMNS = ("video", "file", "speaker", "in", "out", "sentence", "words", "match")


def timecode(seconds: float, rate: float) -> str:
    """HH:MM:SS:FF at `rate` (HH:MM:SS;FF drop-frame at 29.97 and 59.94)."""
    return to_timecode(RationalTime(round(seconds * rate), rate), rate)


def rows(clips: Sequence[Clip]) -> list[dict[str, str]]:
    return [
        {
            "video": c.video,
            "file": c.path,
            "speaker": c.speaker or "",
            "in": timecode(c.sentence_start, c.rate),
            "out": timecode(c.sentence_end, c.rate),
            "sentence": c.sentence,
            "words": c.matched,
            "match": c.match,
        }
        for c in clips
    ]


def to_csv(clips: Sequence[Clip]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")  # RFC 4180, what Excel expects
    writer.writeheader()
    writer.writerows(rows(clips))
    return out.getvalue()


def write_docx(clips: Sequence[Clip], dst: Path, title: str) -> None:
    """The rows as a Word table with a header row; `dst` is written whole (save to a temp name, rename)."""
    from docx import Document

    from .docx_transcript import save_atomic

    doc = Document()
    doc.add_heading(title, level=1)
    table = doc.add_table(rows=1, cols=len(COLUMNS))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, COLUMNS, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(name).bold = True
    for row in rows(clips):
        cells = table.add_row().cells
        for cell, name in zip(cells, COLUMNS, strict=True):
            cell.text = row[name]
    save_atomic(doc, dst)
