"""Batch ingestion: each file goes probe -> audio -> transcribe -> speakers -> save -> index.

What makes it safe to interrupt: every finished stage leaves a file in the
library (the transcription in work/, the transcript in transcripts/, the
index entry), each written atomically, and the next run starts each file at
the first stage whose result is missing. A file is known by the hash of its
bytes, so a rerun, a copy under another name or a second process skips what
is done. An flock per file keeps two processes off the same file; whoosh's
own lock keeps the index whole.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import SearchIndexError
from media.audio import SAMPLE_RATE, load_audio
from media.binaries import FFmpegNotFound, ffmpeg_exe
from media.errors import MediaError
from media.probe import MediaInfo, check_readable, probe
from media.stream import iter_audio

from .asr.windows import windows
from .atomic import write_json_atomic
from .errors import FatalError, LibraryWriteError, describe_os_error, is_library_write_error, printable
from .library import Job, Library, file_sha256, is_video_id, make_video_id, now, path_key
from .options import IngestOptions
from .transcript import Dropped, Segment, Speaker, Transcript, Word

STAGES = ("probe", "audio", "transcribe", "speakers", "save", "index")
LOCK_WAIT_S = 2.0  # a `list` or `search` probe holds a file's lock for an instant; a real owner for minutes


@dataclass
class FileResult:
    path: str
    status: str  # done | skipped | failed | interrupted
    video_id: str | None = None
    error: str | None = None
    note: str | None = None
    duration: float | None = None
    segments: int = 0
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class IngestSummary:
    results: list[FileResult] = field(default_factory=list)
    interrupted: bool = False

    def by_status(self, status: str) -> list[FileResult]:
        return [r for r in self.results if r.status == status]

    @property
    def failed(self) -> list[FileResult]:
        return self.by_status("failed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "done": len(self.by_status("done")),
            "skipped": len(self.by_status("skipped")),
            "failed": len(self.failed),
            "interrupted": self.interrupted,
            "files": [asdict(r) for r in self.results],
        }


class Reporter:
    """Progress hooks; the CLI draws bars with them, a library user may ignore them."""

    def file_started(self, index: int, total: int, path: str) -> None: ...
    def stage(self, path: str, stage: str) -> None: ...
    def progress(self, path: str, fraction: float) -> None: ...
    def file_finished(self, result: FileResult) -> None: ...
    def message(self, text: str) -> None: ...


@dataclass
class Analysis:
    """What the expensive stages make of one file (words, speakers), before anything is saved.

    Made in this process, or by a cluster worker (`pipeline.cluster`) and sent back: the
    library and the index are only ever written by the process that runs the batch.
    """

    segments: list[Segment]
    speakers: list[Speaker]
    language: str
    engine: str
    model: str
    decoded_s: float
    dropped: list[Dropped]
    turns: Any = None  # diarization's turns with each speaker's voice (pipeline.people keeps them)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Prepared:
    """The cheap stages' result for one file, made ahead of transcription with --jobs."""

    path: Path
    sha256: str | None = None
    video_id: str | None = None
    info: MediaInfo | None = None
    audio: np.ndarray | None = None
    skip: str | None = None
    turns: Any = None  # diarization's turns with each speaker's voice (pipeline.people keeps them)
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    analysis: Analysis | None = None  # made elsewhere (a cluster worker): only saving and indexing are left


class Ingestor:
    def __init__(self, library: Library, options: IngestOptions | None = None, reporter: Reporter | None = None):
        self.library = library.ensure()
        self.options = options or IngestOptions()
        self.reporter = reporter or Reporter()
        self._engine = None

    # -- the engine is loaded once, and only when a file needs it -------------
    @property
    def engine(self):
        if self._engine is None:
            from .asr import load_engine

            try:
                self._engine = load_engine(options=self.options.engine)
            except Exception as e:  # noqa: BLE001 - any load failure ends the batch with one line
                raise FatalError(f"cannot load the recognizer: {e}") from e
        return self._engine

    def check(self) -> None:
        """Before any work: ffmpeg is there, and the index is whole (rebuilt from the transcripts if not)."""
        from index.store import REINDEX_ADVICE

        from .manage import index_problem
        from .manage import reindex as rebuild_index

        try:
            ffmpeg_exe()  # a bad INTERVIEW_INDEX_FFMPEG is one line before any work, not an error per file
        except FFmpegNotFound as e:
            raise FatalError(str(e)) from e
        problem = index_problem(self.library)  # deleted, cut, or built by another version
        if problem:
            self.reporter.message(problem.replace(REINDEX_ADVICE, "rebuilding it from the transcripts"))
            for damaged in rebuild_index(self.library).damaged:
                self.reporter.message(f"warning: {damaged}; left out of the index")

    def run(self, paths: list[Path]) -> IngestSummary:
        self.check()
        summary = IngestSummary()
        jobs = max(1, self.options.jobs)
        pool = ThreadPoolExecutor(max_workers=jobs - 1) if jobs > 1 else None
        futures: dict[int, Future] = {}

        def prepared(i: int) -> _Prepared:
            if pool is None:
                return self._prepare(paths[i])
            for j in range(i, min(len(paths), i + jobs)):
                if j not in futures:
                    futures[j] = pool.submit(self._prepare, paths[j])
            return futures.pop(i).result()

        current: str | None = None
        current_id: str | None = None  # known once the file is hashed; the interrupted line names it
        try:
            for i, path in enumerate(paths):
                current, current_id = str(path), None
                self.reporter.file_started(i, len(paths), current)
                prep = prepared(i)
                current_id = prep.video_id
                result = self._process(prep)
                summary.results.append(result)
                self.reporter.file_finished(result)
                current = None
        except KeyboardInterrupt:
            summary.interrupted = True
            if current is not None:
                note = "stopped by the user; finished stages kept"
                result = FileResult(current, "interrupted", current_id, note=note)
                summary.results.append(result)
                self.reporter.file_finished(result)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        return summary

    # -- cheap stages ----------------------------------------------------------
    def _prepare(self, path: Path, decode: bool = True) -> _Prepared:
        """Hash, skip decision, probe, and the audio of a short file (unless `decode` is False:
        a cluster worker decodes it)."""
        prep = _Prepared(path)
        try:
            t0 = time.perf_counter()
            check_readable(path)
            prep.sha256 = file_sha256(path)
            existing = self._find_by_sha(prep.sha256)
            prep.video_id = existing or make_video_id(path, prep.sha256)
            job = self.library.load_job(prep.video_id)
            done = job is not None and job.status == "done" and self.library.has_transcript(prep.video_id)
            if done and not self.options.force:
                prep.skip = "already ingested" + (f" as {prep.video_id}" if existing else "")
                return prep
            prep.info = probe(path)
            prep.timings["probe"] = time.perf_counter() - t0
            short = prep.info.duration <= self.options.window_s
            if decode and short and (self.options.force or not self.library.has_transcript(prep.video_id)):
                t1 = time.perf_counter()
                prep.audio = load_audio(path, expected_duration=prep.info.duration)
                prep.timings["audio"] = time.perf_counter() - t1
        except FFmpegNotFound as e:
            raise FatalError(str(e)) from e
        except Exception as e:  # noqa: BLE001 - whatever one file does, it is that file's error
            prep.error = self._file_error(prep, e)
        return prep

    def _find_by_sha(self, sha256: str) -> str | None:
        """The id these bytes already have in the library, under any name; confirmed on the full hash."""
        lib = self.library
        for p in sorted(lib.transcripts_dir.glob(f"*-{sha256[:8]}.json")):
            if not is_video_id(p.stem):
                continue
            try:
                if lib.load_transcript(p.stem).sha256 == sha256:
                    return p.stem
            except LookupError:  # damaged: its job record may still say whose it is
                job = lib.load_job(p.stem)
                if job is not None and job.sha256 == sha256:
                    return p.stem
        for job in lib.jobs():
            if job.sha256 == sha256 and job.video_id:
                return job.video_id
        return None

    def _recheck(self, prep: _Prepared) -> str | None:
        """Decide again under the content's lock: another process may have ingested these
        bytes, under another name, since `_prepare` looked. Returns why to skip, if so."""
        assert prep.sha256
        existing = self._find_by_sha(prep.sha256)
        if existing is not None:
            prep.video_id = existing
        job = self.library.load_job(existing or prep.video_id or "")
        if job is not None and job.status == "done" and self.library.has_transcript(job.key):
            if not self.options.force:
                return f"already ingested as {job.key}"
        return None

    # -- the expensive part ----------------------------------------------------
    def _process(self, prep: _Prepared) -> FileResult:
        """One file, isolated: anything it raises but Ctrl-C and a batch-wide fault
        (the recognizer cannot load, the library cannot be written) is its own
        error, recorded as failed, and the batch goes on."""
        path = str(prep.path)
        if prep.error:
            self._record_failure(prep, prep.error)
            return FileResult(path, "failed", prep.video_id, error=prep.error, timings=prep.timings)
        if prep.skip:
            return FileResult(path, "skipped", prep.video_id, note=prep.skip)
        assert prep.video_id and prep.info
        try:
            return self._locked(prep)
        except OSError as e:  # the lock file itself
            raise self._library_fault(e) from e

    def _locked(self, prep: _Prepared) -> FileResult:
        path = str(prep.path)
        assert prep.video_id and prep.sha256
        # One lock per content, not per name: two names of the same bytes are one video.
        with self.library.content_lock(prep.sha256, timeout=LOCK_WAIT_S) as owned:
            if not owned:
                return FileResult(path, "skipped", prep.video_id, note="being ingested by another process")
            skip = self._recheck(prep)
            if skip:
                return FileResult(path, "skipped", prep.video_id, note=skip)
            job = Job(key=prep.video_id, path=str(prep.path.absolute()), status="running",
                      video_id=prep.video_id, sha256=prep.sha256)  # fmt: skip
            try:
                return self._stages(prep, job)
            except KeyboardInterrupt:
                job.status = "interrupted"
                self._save_job_if_possible(job)
                raise
            except FatalError as e:
                job.status, job.error = "failed", str(e)
                self._save_job_if_possible(job)
                raise
            except Exception as e:  # noqa: BLE001 - whatever one file does, it is that file's error
                error = self._file_error(prep, e)
                self._record_failure(prep, error, job)
                return FileResult(path, "failed", prep.video_id, error=error, timings=prep.timings)

    def _file_error(self, prep: _Prepared, e: Exception) -> str:
        """The `FILE: cause` line for what one file raised; a library fault is raised instead."""
        name = printable(prep.path)
        if isinstance(e, MediaError):
            return str(e)
        if isinstance(e, OSError):
            if is_library_write_error(e, self.library.root):
                raise self._library_fault(e) from e
            if e.filename is not None and Path(str(e.filename)).absolute() == prep.path.absolute():
                return describe_os_error(e)
            return f"{name}: {describe_os_error(e, self.library.root)}"
        if isinstance(e, SearchIndexError):
            return f"{name}: {e}"
        return f"{name}: {type(e).__name__}: {e}"

    def _library_fault(self, e: OSError) -> FatalError:
        if is_library_write_error(e, self.library.root):
            return LibraryWriteError(describe_os_error(e, self.library.root))
        return FatalError(describe_os_error(e, self.library.root))

    def _save_job_if_possible(self, job: Job) -> None:
        """On the way out of a fault the job file is a courtesy: a full disk must not hide the fault."""
        try:
            self.library.save_job(job)
        except (OSError, ValueError):
            pass

    def _stages(self, prep: _Prepared, job: Job) -> FileResult:
        lib, opts, vid = self.library, self.options, prep.video_id
        assert vid and prep.info
        timings = dict(prep.timings)
        path = str(prep.path)
        note = None
        if opts.force or not lib.has_transcript(vid):
            if prep.analysis is not None:
                analysis = prep.analysis
                timings.update(analysis.timings)
            else:
                analysis = self.analyse(prep, job, timings)
            prep.turns = analysis.turns
            segments, speakers = analysis.segments, analysis.speakers
            duration = prep.info.duration or analysis.decoded_s
            transcript = Transcript(
                video_id=vid,
                path=str(prep.path.absolute()),
                duration=round(duration, 3),
                language=analysis.language,
                engine=analysis.engine,
                model=analysis.model,
                segments=segments,
                speakers=speakers,
                dropped=analysis.dropped,
                sha256=prep.sha256 or "",
                glossary=list(opts.transcribe.glossary),
                created=now(),
            )
            if prep.turns is not None:  # second speakers where two talk at once (speakers.overlap)
                from .speakers.overlap import add_overlaps

                add_overlaps(transcript, prep.turns)
            self._keep_names(transcript, prep.turns)
            self._set_stage(job, "save")
            lib.save_transcript(transcript)
        else:
            transcript = lib.load_transcript(vid)
        if not transcript.segments:
            note = "no speech found; indexed with no segments"
        self._set_stage(job, "index")
        t = time.perf_counter()
        from index.writer import add_transcript

        add_transcript(lib.index_dir, transcript, on_wait=self.reporter.message)
        self._drop_superseded(transcript)
        timings["index"] = time.perf_counter() - t
        job.status, job.error, job.note = "done", None, note
        lib.save_job(job)
        lib.asr_path(vid).unlink(missing_ok=True)
        lib.drop_job(path_key(prep.path))
        return FileResult(path, "done", vid, note=note, duration=transcript.duration,
                          segments=len(transcript.segments), timings=timings)  # fmt: skip

    def analyse(self, prep: _Prepared, job: Job, timings: dict[str, float]) -> Analysis:
        """Transcription, then speakers; what a cluster worker runs for one file, too.

        Diarization needs only the audio, not the words: with `overlap_speakers`
        it runs in a thread while the file is transcribed (the recognizer
        leaves cores idle part of the time) and the words are assigned to its
        turns at the end. The turns are the same either way. That thread runs
        at a lower priority: the recognizer's worker threads meet at a barrier
        after every step, so a core taken from one of them by diarization
        leaves the other spinning; at a lower priority diarization takes the
        cores' idle moments, and the recognizer's work is not slowed.
        """
        opts = self.options
        early: Future | None = None
        pool = None
        if opts.overlap_speakers and opts.speakers.diarize:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="speakers", initializer=_yield_to_recognizer)
            early = pool.submit(self._turns, prep, False)
        finished = False
        try:
            segments, language, engine_name, model_name, decoded_s, dropped = self._transcribe(prep, job, timings)
            self._set_stage(job, "speakers")
            t = time.perf_counter()
            segments, speakers = self._speakers(prep, segments, early)
            timings["speakers"] = time.perf_counter() - t  # with overlap: only the wait after transcription
            finished = True
        finally:
            if pool is not None:  # on a failure or Ctrl-C, not waiting for turns nobody needs now
                pool.shutdown(wait=finished, cancel_futures=True)
        return Analysis(segments, speakers, language, engine_name, model_name, decoded_s, dropped, prep.turns,
                        dict(timings))  # fmt: skip

    def _windows(self, prep: _Prepared) -> Iterator[tuple[float, np.ndarray]]:
        if prep.audio is not None:
            yield 0.0, prep.audio
        else:
            yield from windows(prep.path, self.options.window_s)

    def _transcribe(
        self, prep: _Prepared, job: Job, timings: dict[str, float]
    ) -> tuple[list[Segment], str, str, str, float, list[Dropped]]:
        """Window by window, each finished window saved, so a killed run resumes where it was.

        The language is detected on the first window and kept for the rest: a
        long interview does not change language because one window is quiet.
        """
        lib, opts = self.library, self.options
        asr_path = lib.asr_path(job.key)
        state: dict[str, Any] = {"done_until": 0.0, "complete": False, "language": opts.transcribe.language,
                                 "segments": []}  # fmt: skip
        if asr_path.is_file() and not opts.force:
            state = json.loads(asr_path.read_text(encoding="utf-8"))
        segments = [Segment(s["start"], s["end"], s["text"], [Word(**w) for w in s["words"]], s.get("speaker"))
                    for s in state["segments"]]  # fmt: skip
        dropped = state.setdefault("dropped", [])  # what the recognizer's guards left out, file times
        if state["complete"]:
            return (segments, state["language"], state["engine"], state["model"], state["done_until"],
                    [Dropped(**d) for d in dropped])  # fmt: skip
        self._set_stage(job, "transcribe")
        engine = self.engine
        t = time.perf_counter()
        duration = prep.info.duration if prep.info else 0.0
        end = 0.0
        for offset, audio in self._windows(prep):
            end = offset + audio.size / SAMPLE_RATE
            if end <= state["done_until"] + 1e-6:
                continue  # finished by a run that was stopped

            def progress(f: float, offset=offset, end=end) -> None:
                self.reporter.progress(str(prep.path), (offset + f * (end - offset)) / max(duration, end))

            result = engine.transcribe(audio, replace(opts.transcribe, language=state["language"]), progress=progress)
            state["language"] = state["language"] or result.language
            for seg in result.segments:
                shift(seg, offset)
                segments.append(seg)
            dropped.extend(dict(asdict(d), start=round(d.start + offset, 3), end=round(d.end + offset, 3))
                           for d in result.dropped)  # fmt: skip
            state.update(done_until=end, engine=engine.name, model=engine.model_name,
                         segments=[asdict(x) for x in segments])  # fmt: skip
            write_json_atomic(asr_path, state)
        if duration > 5.0 and end < 0.9 * duration:
            raise MediaError(prep.path, f"truncated or corrupt: decoded {end:.1f} s of audio of {duration:.1f} s")
        state.update(complete=True, done_until=end, engine=engine.name, model=engine.model_name,
                     language=state["language"] or "en", segments=[asdict(x) for x in segments])  # fmt: skip
        write_json_atomic(asr_path, state)
        timings["transcribe"] = time.perf_counter() - t
        return segments, state["language"], engine.name, engine.model_name, end, [Dropped(**d) for d in dropped]

    def _speakers(
        self, prep: _Prepared, segments: list[Segment], early: Future | None = None
    ) -> tuple[list[Segment], list[Speaker]]:
        """Words to the speaker turns; `early` holds the turns when diarization ran alongside transcription."""
        opts = self.options
        if not segments:
            return segments, []
        if not opts.speakers.diarize:
            for s in segments:
                s.speaker = "SPEAKER_1"
                for w in s.words:
                    w.speaker = "SPEAKER_1"
            return segments, [Speaker("SPEAKER_1")]
        from .speakers import assign_speakers

        turns = early.result() if early is not None else self._turns(prep)
        prep.turns = turns
        return assign_speakers(segments, turns)

    def _turns(self, prep: _Prepared, report: bool = True) -> Any:
        """Diarization reads the audio again, as a stream: a second decode costs
        seconds, holding a long file's samples would cost gigabytes."""
        from .speakers import diarize_stream

        opts = self.options
        blocks = [prep.audio] if prep.audio is not None else iter_audio(prep.path, opts.window_s)
        return diarize_stream(
            blocks,
            **opts.speakers.bounds,
            progress=(lambda f: self.reporter.progress(str(prep.path), f)) if report else None,
            total_s=prep.info.duration if prep.info else None,
        )

    def _keep_names(self, transcript: Transcript, turns: Any) -> None:
        """People across the archive (pipeline.people): each speaker's voice kept, names given before
        found again by voice (a re-ingest, --force, another engine or model), known voices suggested."""
        from .people import link_after_ingest

        link_after_ingest(self.library, transcript, turns, warn=self.reporter.message)

    def _set_stage(self, job: Job, stage: str) -> None:
        job.stage = stage
        self.library.save_job(job)
        self.reporter.stage(job.path, stage)

    def _record_failure(self, prep: _Prepared, error: str, job: Job | None = None) -> None:
        key = prep.video_id or path_key(prep.path)
        job = job or Job(key=key, path=str(prep.path.absolute()), video_id=prep.video_id, sha256=prep.sha256)
        job.status, job.error = "failed", error
        try:
            self.library.save_job(job)
        except OSError as e:
            raise self._library_fault(e) from e

    def _drop_superseded(self, transcript: Transcript) -> None:
        """A changed file at the same path replaces its old entries."""
        for job in self.library.jobs():
            if job.path == transcript.path and job.key != transcript.video_id:
                remove_video(self.library, job.key)


SPEAKERS_NICE = 10  # how much lower the speakers thread's priority is while the recognizer runs beside it


def _yield_to_recognizer() -> None:
    """This thread (and the threads it starts) at a lower priority: Linux keeps a nice value per thread."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + SPEAKERS_NICE))
    except (AttributeError, OSError):  # not Linux, or not allowed: the same turns, only later
        pass


def shift(segment: Segment, offset: float) -> None:
    """Window times -> file times."""
    if not offset:
        return
    segment.start = round(segment.start + offset, 3)
    segment.end = round(segment.end + offset, 3)
    for w in segment.words:
        w.start = round(w.start + offset, 3)
        w.end = round(w.end + offset, 3)


def remove_video(library: Library, video_id: str) -> None:
    """Every trace of a video, under its content's lock (see manage.remove_video)."""
    from .manage import remove_video as remove

    remove(library, video_id)


def reindex(library: Library) -> int:
    """Rebuild the whole index from the saved transcripts; damaged ones are left out (see manage.reindex)."""
    from .manage import reindex as rebuild_index

    return rebuild_index(library).videos
