"""What a cluster worker runs for one file: probe, decode, transcribe, diarize; nothing saved.

The very code of a local ingest (`Ingestor.analyse`) runs here, on a scratch
library in a temporary folder, so a file gives the same words and speakers
on a worker as at home. The media is read from the path the client sent when
this machine sees the same bytes there (a shared folder; checked by hash),
or from the bytes the client sends when it does not. The loaded recognizer is
kept for the worker process's next files; one file at a time per process.
"""

from __future__ import annotations

import socket
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ingest import Analysis, Ingestor, Reporter
from ..library import Job, Library
from ..options import EngineOptions, IngestOptions

_engines: dict[EngineOptions, Any] = {}
_one_file = threading.Lock()  # an engine decodes one file at a time, whatever --nthreads the worker has


@dataclass
class Outcome:
    """A worker's answer for one file: its analysis, its error line, or that it needs the bytes."""

    analysis: Analysis | None = None
    error: str | None = None
    missing: bool = False  # the path is not there, or holds other bytes: send the file
    worker: str = ""


def _engine(options: EngineOptions) -> Any:
    import pipeline.asr  # looked up at call time: tests put a fake recognizer there

    if options not in _engines:
        _engines[options] = pipeline.asr.load_engine(options=options)
    return _engines[options]


def analyse_file(path: str, sha256: str, options: IngestOptions, data: bytes | None = None) -> Outcome:
    """The expensive stages of `path` (whose bytes hash to `sha256`), as `Ingestor.analyse` does them."""
    where = socket.gethostname()
    with _one_file, tempfile.TemporaryDirectory(prefix="interview-index-worker-") as tmp:
        media = Path(path)
        if data is not None:
            media = Path(tmp) / f"media{Path(path).suffix}"
            media.write_bytes(data)
        elif not media.is_file():
            return Outcome(missing=True, worker=where)
        ingestor = Ingestor(Library(Path(tmp) / "library"), options, Reporter())
        prep = ingestor._prepare(media)
        if prep.sha256 is not None and prep.sha256 != sha256:
            return Outcome(missing=True, worker=where)  # another file under the same path here
        if prep.error:
            return Outcome(error=prep.error.replace(str(media), path), worker=where)
        ingestor._engine = _engine(options.engine)
        assert prep.video_id
        job = Job(key=prep.video_id, path=str(media), status="running", video_id=prep.video_id, sha256=sha256)
        try:
            analysis = ingestor.analyse(prep, job, dict(prep.timings))
        except Exception as e:  # noqa: BLE001 - whatever one file does, it is that file's error
            return Outcome(error=ingestor._file_error(prep, e).replace(str(media), path), worker=where)
        return Outcome(analysis=analysis, worker=where)
