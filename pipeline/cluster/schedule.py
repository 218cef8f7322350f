"""Files to workers and results back: submission, retries, saving in order of arrival, progress.

The cheap stages (hash, skip decision, probe) run here first, so a file done
before, or a copy of one, is never sent. Each remaining file becomes one task
(`task.analyse_file`); copies with the same bytes share it. A worker that dies
loses only the file it was on: Dask's scheduler runs that task again on
another worker, and when a file has killed workers too often (`KilledWorker`)
it is sent again up to `RETRIES` more times before it counts as failed. Each
result is saved and indexed here, under the file's content lock, as it arrives
(`Ingestor._process`, the same path a local ingest takes), so a batch stopped
halfway keeps what landed and a second run sends only the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import printable
from ..ingest import FileResult, Ingestor, IngestSummary, _Prepared
from .task import Outcome, analyse_file

RETRIES = 2  # resubmissions after Dask gave up on a file (each after several worker deaths)


def run_on_cluster(ingestor: Ingestor, paths: list[Path], client: Any) -> IngestSummary:
    from distributed import as_completed

    ingestor.check()
    reporter, options = ingestor.reporter, ingestor.options
    summary = IngestSummary()
    results: dict[int, FileResult] = {}
    preps = [ingestor._prepare(p, decode=False) for p in paths]
    waiting: dict[str, list[int]] = {}  # sha256 -> the files with those bytes
    for i, prep in enumerate(preps):
        if prep.error or prep.skip:
            results[i] = ingestor._process(prep)
            reporter.file_finished(results[i])
        else:
            assert prep.sha256
            waiting.setdefault(prep.sha256, []).append(i)
    total = len(paths)

    def submit(sha: str, attempt: int, data: Any = None) -> Any:
        prep = preps[waiting[sha][0]]
        return client.submit(analyse_file, str(prep.path.absolute()), sha, options, data,
                             key=f"interview-index-{sha[:16]}-{attempt}{'-sent' if data is not None else ''}",
                             pure=False)  # fmt: skip

    futures = {submit(sha, 0): (sha, 0) for sha in waiting}
    progress = _progress(client, reporter.message, total)
    progress(len(results), len(futures))
    pending = as_completed(list(futures))
    try:
        for future in pending:
            sha, attempt = futures.pop(future)
            outcome = _outcome(future, attempt, preps[waiting[sha][0]])
            if outcome is None:  # workers died on it: again, on whichever worker is left
                retry = submit(sha, attempt + 1)
                futures[retry] = (sha, attempt + 1)
                pending.add(retry)
                continue
            if outcome.missing:  # the workers do not see the file where we do: send its bytes
                data = client.scatter(preps[waiting[sha][0]].path.read_bytes(), hash=False)
                sent = submit(sha, attempt + 1, data)
                futures[sent] = (sha, attempt + 1)
                pending.add(sent)
                continue
            for i in waiting.pop(sha):
                results[i] = ingestor._process(_landed(preps[i], outcome))
                reporter.file_finished(results[i])
            progress(len(results), len(futures))
    except KeyboardInterrupt:
        summary.interrupted = True
        for future in futures:
            future.cancel()
        for files in waiting.values():
            for i in files:
                note = "stopped by the user; finished files kept"
                results[i] = FileResult(str(preps[i].path), "interrupted", preps[i].video_id, note=note)
                reporter.file_finished(results[i])
    summary.results = [results[i] for i in sorted(results)]
    return summary


def _outcome(future: Any, attempt: int, prep: _Prepared) -> Outcome | None:
    """The task's answer; None to run it again (its workers died); a failure line when that is spent."""
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker as e:
        if attempt < RETRIES:
            return None
        return Outcome(error=f"{printable(prep.path)}: workers died {attempt + 1} times on this file ({e})")
    except Exception as e:  # noqa: BLE001 - raised inside the task: that file's error, the batch goes on
        return Outcome(error=f"{printable(prep.path)}: {type(e).__name__}: {e}")


def _landed(prep: _Prepared, outcome: Outcome) -> _Prepared:
    """A worker's answer put where `Ingestor._process` looks: the analysis, or the error line (with the
    file named as it was given here, not by the worker's absolute path)."""
    if outcome.error:
        prep.error = outcome.error.replace(printable(prep.path.absolute()), printable(prep.path))
    else:
        prep.analysis = outcome.analysis
    return prep


def _progress(client: Any, say: Callable[[str], None], total: int) -> Callable[[int, int], None]:
    """A line per change: files landed of all, files at the workers, and how many workers there are."""
    last: list[tuple[int, int, int]] = []

    def show(landed: int, running: int) -> None:
        try:
            workers = len(client.scheduler_info().get("workers", {}))
        except Exception:  # noqa: BLE001 - progress must never stop the batch
            workers = -1
        state = (landed, running, workers)
        if last and last[-1] == state:
            return
        last.append(state)
        at = f"{workers} worker{'s' if workers != 1 else ''}" if workers >= 0 else "workers unknown"
        say(f"cluster: {landed}/{total} files landed, {running} at the workers, {at}")

    return show
