"""Writing transcripts into the index.

A video's segments always change together: add_transcript deletes the
video's old documents and adds the new ones in one whoosh commit, so a
search sees either the old video or the new one, never half, never both.
After each commit the index's record (store.INFO_FILE) is updated with the
video's segment count, so `store.check` can tell a complete index from one
that lost files.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pipeline.transcript import Segment, Transcript, Word

from . import normalize, schema, store, termdict
from .errors import IndexDamagedError, SearchIndexError
from .store import DEFAULT_LOCK_TIMEOUT, WaitCallback

log = logging.getLogger(__name__)

_WORD_SEP = "\x1f"


def ms(seconds: float) -> int:
    """Times are indexed as whole milliseconds: float fields cost 4x the space."""
    return max(0, round(seconds * 1000))


def pack_words(words: list[Word], seg_start_ms: int) -> tuple[str, bytes]:
    """Words and their times in a compact stored form.

    Times are offsets from the segment start as int32 pairs (start, end);
    pickled lists of floats took ~5x the bytes.
    """
    times = array("i")
    for w in words:
        times.append(ms(w.start) - seg_start_ms)
        times.append(ms(w.end) - seg_start_ms)
    return _WORD_SEP.join(w.word for w in words), times.tobytes()


def unpack_words(packed: tuple[str, bytes], seg_start_ms: int) -> list[tuple[str, int, int]]:
    """(word, start_ms, end_ms) on the video's timeline."""
    text, raw = packed
    if not text and not raw:
        return []
    times = array("i")
    times.frombytes(raw)
    words = text.split(_WORD_SEP)
    return [(w, seg_start_ms + times[2 * i], seg_start_ms + times[2 * i + 1]) for i, w in enumerate(words)]


def _segment_words(seg: Segment) -> list[Word]:
    """The segment's timed words; an engine without word times gets the segment's times."""
    words = [w for w in seg.words if w.word.strip()]
    if words:
        return [Word(w.word.strip(), w.start, w.end) for w in words]
    return [Word(w, seg.start, seg.end) for w in seg.text.split()]


def documents(transcript: Transcript) -> Iterator[dict[str, Any]]:
    """The whoosh documents of a transcript, one per segment.

    Segments without a searchable word are indexed too: the index then holds
    exactly the transcript's segments, which is what `segment_counts` checks.
    """
    glossary = normalize.Glossary(transcript.glossary)
    for seg in transcript.segments:
        words = _segment_words(seg)
        prepared = normalize.prepare([w.word for w in words], glossary)
        start = ms(seg.start)
        doc: dict[str, Any] = {
            schema.VIDEO: transcript.video_id,
            schema.PATH: transcript.path,
            schema.START: start,
            schema.END: max(start, ms(seg.end)),
            schema.TEXT_FIELD: prepared,
            "_stored_" + schema.TEXT_FIELD: seg.text.strip(),
            schema.EXACT: prepared,
            schema.SOUND: prepared,
            schema.GRAMS: prepared,
            schema.NEAR: prepared,
            schema.WORDS: pack_words(words, start),
        }
        if seg.speaker:
            # indexed with whitespace collapsed (the filter does the same), stored as given
            display = transcript.speaker_name(seg.speaker) or seg.speaker
            doc[schema.SPEAKER_LABEL] = seg.speaker
            doc[schema.SPEAKER] = " ".join(display.split())
            doc["_stored_" + schema.SPEAKER] = display
        yield doc


def add_transcript(
    index_dir: Path,
    transcript: Transcript,
    *,
    on_wait: WaitCallback | None = None,
    timeout: float | None = DEFAULT_LOCK_TIMEOUT,
) -> None:
    """Index a transcript, replacing whatever the index had for its video.

    Speaker display names are copied into the index: after a rename, call
    this again for the video.
    """
    with store.write_lock(index_dir, on_wait, timeout):
        ix, before, w = _open_for_write(index_dir)
        added = 0
        try:
            w.delete_by_term(schema.VIDEO, transcript.video_id)
            for doc in documents(transcript):
                w.add_document(**doc)
                added += 1
        except BaseException:
            w.cancel()
            raise
        w.commit()

        def change(videos: dict[str, int], skipped: dict[str, str]) -> None:
            videos[transcript.video_id] = added
            skipped.pop(transcript.video_id, None)

        store.record_commit(index_dir, ix, before, change)


def _open_for_write(index_dir: Path) -> tuple[Any, int, Any]:
    """The index, its generation and a writer; an index whose files are gone or cut is IndexDamagedError."""
    try:
        ix = store.open_for_write(index_dir)
        ix.reader().close()  # opens every segment file: a missing one is found here, not halfway through
        return ix, ix.latest_generation(), ix.writer(timeout=5.0)
    except SearchIndexError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever a cut or missing file makes whoosh raise
        raise IndexDamagedError(
            f"{index_dir}: the index is damaged ({type(e).__name__}: {e}); {store.REINDEX_ADVICE}"
        ) from e


def remove_video(
    index_dir: Path,
    video_id: str,
    *,
    on_wait: WaitCallback | None = None,
    timeout: float | None = DEFAULT_LOCK_TIMEOUT,
) -> None:
    """Drop every segment of a video; a video the index does not have is not an error."""
    if store.stored_version(index_dir) is None:
        return
    with store.write_lock(index_dir, on_wait, timeout):
        ix, before, w = _open_for_write(index_dir)
        try:
            w.delete_by_term(schema.VIDEO, video_id)
        except BaseException:
            w.cancel()
            raise
        w.commit()

        def change(videos: dict[str, int], skipped: dict[str, str]) -> None:
            videos.pop(video_id, None)
            skipped.pop(video_id, None)

        store.record_commit(index_dir, ix, before, change)


def segment_counts(index_dir: Path) -> dict[str, int]:
    """Live (not deleted) segments per video id: what the index holds, to check it against the library."""
    searcher = store.open_searcher(index_dir)
    if searcher is None:
        return {}
    with searcher as s:
        return store.live_counts(s)


def rebuild(
    index_dir: Path,
    transcripts: Iterable[Transcript],
    *,
    procs: int = 1,
    on_wait: WaitCallback | None = None,
    timeout: float | None = DEFAULT_LOCK_TIMEOUT,
    progress: Callable[[int], None] | None = None,
    skipped: Callable[[], dict[str, str]] | None = None,
) -> int:
    """Build a fresh index (current schema) from transcripts; returns how many videos it holds.

    The new index is built beside the old one and switched in only when
    complete: searches keep using the old one meanwhile, and a failure
    leaves it untouched. The write lock is held throughout, so adds from
    other processes wait rather than land in the index being replaced.
    A video given twice is indexed once (the first one). `procs=2` analyses
    in two processes (about half the time on two cores). `progress` is
    called with the number of videos done. `skipped`, called once the
    transcripts are consumed, names the videos that were left out (damaged
    transcripts) and why: the index's record keeps them, so `store.check`
    does not take them for lost.
    """
    with store.write_lock(index_dir, on_wait, timeout):
        name = store.create(index_dir)
        w = None
        try:
            ix = store.open_named(index_dir, name)
            w = ix.writer(procs=procs, multisegment=True) if procs > 1 else ix.writer()
            seen: dict[str, int] = {}
            for t in transcripts:
                if t.video_id in seen:
                    log.warning("rebuild: video %s given twice; indexed once", t.video_id)
                    continue
                seen[t.video_id] = 0
                for doc in documents(t):
                    w.add_document(**doc)
                    seen[t.video_id] += 1
                if progress is not None:
                    progress(len(seen))
            w.commit()
            w = None
            with ix.reader() as reader:  # the sound keys' arrays, before the first search needs them
                termdict.write_sidecars(reader)
            left_out = {k: v for k, v in (skipped() if skipped else {}).items() if k not in seen}
            store.switch_to(index_dir, name, videos=seen, skipped=left_out)
        except BaseException:
            if w is not None:
                w.cancel()
            store.discard(index_dir, name)
            raise
        return len(seen)
