"""Changes made on the page: text corrections and speaker names.

Every change goes load → change one thing → save → index under one lock per
video, held across threads (the server's worker pool) and processes (two
servers, or the CLI's `speakers --rename`): two tabs that change different
segments both keep their change; two that change the same segment from the
same starting text get "last write wins", and one that started from text that
has changed since gets a conflict, never a silent loss.

A corrected segment keeps the times of the words the user did not touch;
words that are new or changed get times by interpolation over the span of
the words they replace (or the gap they were inserted into), shared by
length, so playback highlighting and search times stay close.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from filelock import FileLock

from ..library import Library
from ..manage import rename_speakers
from ..transcript import Segment, Transcript, Word

_thread_locks: dict[tuple[str, str], threading.Lock] = {}
_guard = threading.Lock()


class EditConflict(Exception):
    """The segment changed since the page loaded it."""


@contextmanager
def video_lock(library: Library, video_id: str, purpose: str = "edit") -> Iterator[None]:
    """Exclusive hold on a video's transcript, in this process and across processes."""
    key = (str(library.root), f"{video_id}.{purpose}")
    with _guard:
        tlock = _thread_locks.setdefault(key, threading.Lock())
    with tlock:
        path = library.lock_path(video_id).with_suffix(f".{purpose}.lock")  # from the validated id
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(path, thread_local=False):  # released by the kernel if the process dies
            yield


def _index(library: Library, transcript: Transcript) -> None:
    from index.writer import add_transcript

    add_transcript(library.index_dir, transcript)


def retime(words: list[Word], new_tokens: list[str], seg: Segment) -> list[Word]:
    """New words for `new_tokens`: untouched words keep their times, the rest are interpolated."""
    old_tokens = [w.word for w in words]
    out: list[Word] = []
    matcher = difflib.SequenceMatcher(a=old_tokens, b=new_tokens, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(Word(w.word, w.start, w.end, w.probability, w.speaker) for w in words[i1:i2])
            continue
        if j1 == j2:  # deleted words
            continue
        if i2 > i1:  # replaced: the new words share the old ones' span
            lo, hi = words[i1].start, words[i2 - 1].end
            speaker = words[i1].speaker
        else:  # inserted: the gap between the neighbours
            lo = words[i1 - 1].end if i1 > 0 else seg.start
            hi = words[i1].start if i1 < len(words) else seg.end
            speaker = (words[i1 - 1] if i1 > 0 else words[i1]).speaker if words else None
        hi = max(lo, hi)
        pieces = new_tokens[j1:j2]
        weights = [max(1, len(p)) for p in pieces]
        total, acc = sum(weights), 0
        for token, weight in zip(pieces, weights, strict=True):
            a = lo + (hi - lo) * acc / total
            acc += weight
            b = lo + (hi - lo) * acc / total
            out.append(Word(token, round(a, 3), round(b, 3), 1.0, speaker or seg.speaker))
    return out


def edit_segment(library: Library, video_id: str, index: int, text: str, base: str | None) -> Transcript:
    """Replace segment `index`'s text; `base` is the text the user started from (None: no check).

    Saves the transcript with a record of the edit, then re-indexes the video.
    Raises IndexError for no such segment, ValueError for empty text,
    EditConflict when the segment no longer holds `base`.
    """
    text = " ".join(text.split())
    if not text:
        raise ValueError("the corrected text is empty (to drop words, keep at least one)")
    with video_lock(library, video_id):
        transcript = library.load_transcript(video_id)
        if not 0 <= index < len(transcript.segments):
            raise IndexError(f"{video_id}: no segment {index}")
        seg = transcript.segments[index]
        current = " ".join(seg.text.split())
        if current == text:
            return transcript
        if base is not None and " ".join(base.split()) != current:
            raise EditConflict(
                f"segment {index} was changed elsewhere since this page loaded it; now: {current!r} (reload)"
            )
        words = seg.words or [Word(t, seg.start, seg.end, 1.0, seg.speaker) for t in seg.text.split()]
        seg.words = retime(words, text.split(), seg)
        seg.text = text
        transcript.edits.append(
            {"segment": index, "before": current, "after": text, "at": datetime.now(UTC).isoformat(timespec="seconds")}
        )
        library.save_transcript(transcript)
        _index(library, transcript)
        return transcript


def rename_speaker(library: Library, video_id: str, key: str, name: str) -> Transcript:
    """`speakers --rename` from the page, under the video's lock (reloads the saved transcript first)."""
    with video_lock(library, video_id):
        transcript = library.load_transcript(video_id)
        return rename_speakers(library, transcript, {key: name})
