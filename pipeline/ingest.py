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

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from media.audio import SAMPLE_RATE, load_audio
from media.errors import MediaError
from media.probe import MediaInfo, check_readable, probe

from .library import Job, Library, file_sha256, make_video_id, now, path_key
from .transcript import Segment, Speaker, Transcript, write_json_atomic

STAGES = ("probe", "audio", "transcribe", "speakers", "save", "index")


@dataclass
class IngestOptions:
    engine: str | None = None  # None: the measured default (pipeline.engines)
    model: str | None = None
    language: str | None = None  # None: detect
    beam_size: int = 5
    diarize: bool = True
    num_speakers: int | None = None
    min_speakers: int = 1
    max_speakers: int = 8
    glossary: list[str] = field(default_factory=list)
    glossary_as_hotwords: bool = True  # faster-whisper: every window (hotwords) or the first (prompt)
    force: bool = False
    jobs: int = 1


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


class FatalError(RuntimeError):
    """Stops the whole batch (e.g. the model cannot load); files are not at fault."""


@dataclass
class _Prepared:
    """The cheap stages' result for one file, made ahead of transcription with --jobs."""

    path: Path
    sha256: str | None = None
    video_id: str | None = None
    info: MediaInfo | None = None
    audio: np.ndarray | None = None
    skip: str | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


class Ingestor:
    def __init__(
        self, library: Library, options: IngestOptions | None = None, reporter: Reporter | None = None
    ):
        self.library = library.ensure()
        self.options = options or IngestOptions()
        self.reporter = reporter or Reporter()
        self._engine = None

    # -- the engine is loaded once, and only when a file needs it -------------
    @property
    def engine(self):
        if self._engine is None:
            from .engines import load_engine

            try:
                wanted = (("engine", self.options.engine), ("model", self.options.model))
                kwargs = {k: v for k, v in wanted if v}
                self._engine = load_engine(**kwargs)
            except Exception as e:  # noqa: BLE001 - any load failure ends the batch with one line
                raise FatalError(f"cannot load the recognizer: {e}") from e
        return self._engine

    def run(self, paths: list[Path]) -> IngestSummary:
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
        try:
            for i, path in enumerate(paths):
                current = str(path)
                self.reporter.file_started(i, len(paths), current)
                result = self._process(prepared(i))
                summary.results.append(result)
                self.reporter.file_finished(result)
                current = None
        except KeyboardInterrupt:
            summary.interrupted = True
            if current is not None:
                result = FileResult(current, "interrupted", note="stopped by the user; finished stages kept")
                summary.results.append(result)
                self.reporter.file_finished(result)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        return summary

    # -- cheap stages ----------------------------------------------------------
    def _prepare(self, path: Path) -> _Prepared:
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
            if self.options.force or not self.library.has_transcript(prep.video_id):
                t1 = time.perf_counter()
                prep.audio = load_audio(path, expected_duration=prep.info.duration)
                prep.timings["audio"] = time.perf_counter() - t1
        except MediaError as e:
            prep.error = str(e)
        except OSError as e:
            prep.error = f"{path}: {e.strerror or e}"
        return prep

    def _find_by_sha(self, sha256: str) -> str | None:
        for p in self.library.transcripts_dir.glob(f"*-{sha256[:8]}.json"):
            return p.stem
        for job in self.library.jobs():
            if job.sha256 == sha256 and job.video_id:
                return job.video_id
        return None

    # -- the expensive part ----------------------------------------------------
    def _process(self, prep: _Prepared) -> FileResult:
        path = str(prep.path)
        if prep.error:
            self._record_failure(prep, prep.error)
            return FileResult(path, "failed", prep.video_id, error=prep.error, timings=prep.timings)
        if prep.skip:
            return FileResult(path, "skipped", prep.video_id, note=prep.skip)
        assert prep.video_id and prep.info
        with self.library.file_lock(prep.video_id) as owned:
            if not owned:
                return FileResult(path, "skipped", prep.video_id, note="being ingested by another process")
            job = Job(key=prep.video_id, path=str(prep.path.absolute()), status="running",
                      video_id=prep.video_id, sha256=prep.sha256)  # fmt: skip
            try:
                return self._stages(prep, job)
            except KeyboardInterrupt:
                job.status = "interrupted"
                self.library.save_job(job)
                raise
            except FatalError:
                job.status, job.error = "failed", "the recognizer could not load"
                self.library.save_job(job)
                raise
            except MediaError as e:
                self._record_failure(prep, str(e), job)
                return FileResult(path, "failed", prep.video_id, error=str(e), timings=prep.timings)

    def _stages(self, prep: _Prepared, job: Job) -> FileResult:
        lib, opts, vid = self.library, self.options, prep.video_id
        assert vid and prep.info
        timings = dict(prep.timings)
        path = str(prep.path)
        note = None
        if opts.force or not lib.has_transcript(vid):
            audio = prep.audio
            if audio is None:
                audio = load_audio(prep.path, expected_duration=prep.info.duration)
            segments, language, engine_name, model_name = self._transcribe(prep, job, audio, timings)
            self._set_stage(job, "speakers")
            t = time.perf_counter()
            segments, speakers = self._speakers(segments, audio)
            timings["speakers"] = time.perf_counter() - t
            duration = prep.info.duration or audio.size / SAMPLE_RATE
            transcript = Transcript(
                video_id=vid,
                path=str(prep.path.absolute()),
                duration=round(duration, 3),
                language=language,
                engine=engine_name,
                model=model_name,
                segments=segments,
                speakers=speakers,
                sha256=prep.sha256 or "",
                glossary=list(opts.glossary),
                created=now(),
            )
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

    def _transcribe(
        self, prep: _Prepared, job: Job, audio: np.ndarray, timings: dict[str, float]
    ) -> tuple[list[Segment], str, str, str]:
        """Transcription, or the saved result of a run that died after it."""
        lib, opts = self.library, self.options
        asr_path = lib.asr_path(job.key)
        if asr_path.is_file() and not opts.force:
            saved = Transcript.load(asr_path)
            return saved.segments, saved.language, saved.engine, saved.model
        self._set_stage(job, "transcribe")
        from .engines import TranscribeOptions

        engine = self.engine
        t = time.perf_counter()
        result = engine.transcribe(
            audio,
            TranscribeOptions(
                language=opts.language,
                beam_size=opts.beam_size,
                glossary=list(opts.glossary),
                glossary_as_hotwords=opts.glossary_as_hotwords,
            ),
            progress=lambda f: self.reporter.progress(str(prep.path), f),
        )
        timings["transcribe"] = time.perf_counter() - t
        partial = Transcript(job.key, job.path, audio.size / SAMPLE_RATE, result.language,
                             engine.name, engine.model_name, result.segments)  # fmt: skip
        write_json_atomic(asr_path, partial.to_dict())
        return result.segments, result.language, engine.name, engine.model_name

    def _speakers(self, segments: list[Segment], audio: np.ndarray) -> tuple[list[Segment], list[Speaker]]:
        opts = self.options
        if not segments:
            return segments, []
        if not opts.diarize:
            for s in segments:
                s.speaker = "SPEAKER_1"
                for w in s.words:
                    w.speaker = "SPEAKER_1"
            return segments, [Speaker("SPEAKER_1")]
        from .diarize import assign_speakers, diarize

        turns = diarize(
            audio,
            num_speakers=opts.num_speakers,
            min_speakers=opts.min_speakers,
            max_speakers=opts.max_speakers,
        )
        return assign_speakers(segments, turns)

    def _set_stage(self, job: Job, stage: str) -> None:
        job.stage = stage
        self.library.save_job(job)
        self.reporter.stage(job.path, stage)

    def _record_failure(self, prep: _Prepared, error: str, job: Job | None = None) -> None:
        key = prep.video_id or path_key(prep.path)
        job = job or Job(key=key, path=str(prep.path.absolute()), video_id=prep.video_id, sha256=prep.sha256)
        job.status, job.error = "failed", error
        self.library.save_job(job)

    def _drop_superseded(self, transcript: Transcript) -> None:
        """A changed file at the same path replaces its old entries."""
        for job in self.library.jobs():
            if job.path == transcript.path and job.key != transcript.video_id:
                remove_video(self.library, job.key)


def remove_video(library: Library, video_id: str) -> None:
    """Index entries first: a transcript without index entries is repaired by
    `reindex`; index entries without a transcript would be orphans."""
    from index.writer import remove_video as remove_from_index

    remove_from_index(library.index_dir, video_id)
    library.transcript_path(video_id).unlink(missing_ok=True)
    library.asr_path(video_id).unlink(missing_ok=True)
    library.drop_job(video_id)


def reindex(library: Library) -> int:
    """Rebuild the whole index from the saved transcripts (also upgrades its schema)."""
    from index.writer import rebuild

    return rebuild(library.index_dir, library.transcripts())
