"""Ingest spread over many machines with Dask distributed (`ingest --cluster`).

One job per module: `connect` (what `--cluster` names, and the client to it),
`task` (what a worker runs for one file: the expensive stages, nothing saved),
`schedule` (files to workers, retries when a worker dies, results back into
the library in this process, progress). The process that runs the batch is
the only one that writes the library and the index; workers only read media
and send back words and speakers (`pipeline.ingest.Analysis`). Dask is an
optional extra: `pip install 'interview-index[cluster]'`.
"""

from __future__ import annotations

from pathlib import Path

from ..ingest import Ingestor, IngestSummary


def ingest_on_cluster(ingestor: Ingestor, paths: list[Path], spec: str) -> IngestSummary:
    """`ingestor.run(paths)`, with transcription and diarization done by the cluster `spec` names."""
    from .connect import connect, parse
    from .schedule import run_on_cluster

    parse(spec)  # a bad --cluster value is a usage error before any work
    with connect(spec) as client:
        return run_on_cluster(ingestor, paths, client)
