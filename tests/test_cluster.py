"""`ingest --cluster`: real Dask (a LocalCluster of worker processes; a `dask scheduler` and a
`dask worker` started as processes), the library written by the one ingest process.

The workers recognise with tests/fake_engine.py, installed on each worker by a Dask worker
plugin (the fast tier's `fake_engine` fixture only reaches this process); the slow test runs
the real packaged model on `--cluster local:2`. Results are compared with a local ingest of
the same files: the saved transcripts must be identical.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin

from conftest import fixture, run_cli

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FILES = ("two_voices.mp4", "three_voices.mp4", "late_audio.mp4")


class FakeRecognizer(WorkerPlugin):
    """On each worker: `pipeline.asr.load_engine` gives FakeEngines. With `kill_marker`, the first
    transcription on any worker ends its own process (SIGKILL, mid-file), once: the marker file says
    it happened."""

    def __init__(self, kill_marker: str | None = None) -> None:
        self.kill_marker = kill_marker

    def setup(self, worker) -> None:
        for p in (str(TESTS), str(ROOT)):
            if p not in sys.path:
                sys.path.insert(0, p)
        import fake_engine

        fake_engine.install()
        if self.kill_marker is None:
            return
        marker, transcribe = self.kill_marker, fake_engine.FakeEngine.transcribe

        def dying(engine, audio, options, progress=None):
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return transcribe(engine, audio, options, progress)
            Path(marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)

        fake_engine.FakeEngine.transcribe = dying


def _media(tmp_path: Path, names=FILES) -> list[Path]:
    media = tmp_path / "media"
    media.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(fixture(name), media / name)
    return [media / n for n in names]


def _transcripts(lib: Path) -> dict[str, dict]:
    """Every saved transcript, without its creation time."""
    out = {}
    for p in sorted((lib / "transcripts").glob("*.json")):
        data = json.loads(p.read_text())
        data.pop("created", None)
        out[p.stem] = data
    return out


def _first_difference(a, b, at: str = "") -> str | None:
    """Where two transcript trees first differ, for the assertion message."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            d = _first_difference(a.get(k), b.get(k), f"{at}/{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = _first_difference(x, y, f"{at}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{at}: {a!r} != {b!r}"


def _ingest(lib: Path, files: list[Path], *extra: str):
    result = run_cli("ingest", *map(str, files), "--language", "en", "--json", *extra, library=lib)
    return result, (json.loads(result.stdout) if result.stdout.strip().startswith("{") else None)


@pytest.fixture
def local_run(tmp_path, fake_engine):
    """The same files ingested here, without a cluster: what the cluster must reproduce."""
    files = _media(tmp_path)
    result, summary = _ingest(tmp_path / "local", files)
    assert result.exit_code == 0 and summary["done"] == len(files), result.output
    return files, _transcripts(tmp_path / "local")


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes recognising with the fake engine (started once: seconds)."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as lc:
        with Client(lc) as client:
            client.register_plugin(FakeRecognizer(), name="fake-recognizer")
            yield lc, client


@pytest.mark.slow  # worker processes start in seconds; the fast tier has one minute in all
def test_a_local_cluster_ingests_like_a_local_run(tmp_path, local_run, cluster):
    files, expected = local_run
    lc, client = cluster
    result, summary = _ingest(tmp_path / "cluster", files, "--cluster", lc.scheduler_address)
    assert result.exit_code == 0, result.output
    assert summary["done"] == 3 and summary["failed"] == 0, summary
    assert [Path(f["path"]).name for f in summary["files"]] == list(FILES)  # the order given, not of arrival
    got = _transcripts(tmp_path / "cluster")
    assert got == expected, _first_difference(expected, got)  # words, times, speakers, drops: identical
    assert all(t["segments"] and t["speakers"] for t in got.values())
    assert "cluster: 3/3 files landed" in result.stderr and "2 workers" in result.stderr
    hits = json.loads(run_cli("search", "budget", "--json", library=tmp_path / "cluster").stdout)
    assert hits and {h["video"] for h in hits} <= set(got)
    # Run again: nothing is sent, everything is skipped.
    again, summary = _ingest(tmp_path / "cluster", files, "--cluster", lc.scheduler_address)
    assert again.exit_code == 0 and summary["skipped"] == 3, again.output


@pytest.mark.slow  # worker processes start in seconds; the fast tier has one minute in all
def test_a_bad_file_fails_alone_on_the_cluster(tmp_path, cluster):
    lc, _ = cluster
    files = _media(tmp_path, ("two_voices.mp4", "no_audio.mp4"))
    result, summary = _ingest(tmp_path / "lib", files, "--cluster", lc.scheduler_address)
    assert result.exit_code == 1
    assert summary["done"] == 1 and summary["failed"] == 1, summary
    bad = next(f for f in summary["files"] if f["status"] == "failed")
    assert bad["error"] == f"{files[1]}: no audio track"  # named as given here, not by the worker
    assert result.stderr.count("error:") == 1


@pytest.mark.slow
def test_a_worker_killed_mid_file_loses_only_that_file(tmp_path):
    """The first transcription kills its worker process; the file is run again and lands once."""
    marker = tmp_path / "killed"
    files = _media(tmp_path, FILES[:2])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as lc:
        with Client(lc) as client:
            client.register_plugin(FakeRecognizer(str(marker)), name="fake-recognizer")
            result, summary = _ingest(tmp_path / "lib", files, "--cluster", lc.scheduler_address)
    assert marker.is_file() and marker.read_text().isdigit()  # a worker really died
    assert result.exit_code == 0, result.output
    assert summary["done"] == 2 and summary["failed"] == 0, summary
    transcripts = _transcripts(tmp_path / "lib")
    assert len(transcripts) == 2 and {Path(t["path"]).name for t in transcripts.values()} == set(FILES[:2])
    rows = json.loads(run_cli("list", "--json", library=tmp_path / "lib").stdout)
    assert len(rows) == 2 and {r["state"] for r in rows} == {"done"}
    hits = json.loads(run_cli("search", "budget", "--json", "--limit", "100", library=tmp_path / "lib").stdout)
    assert len({(h["video"], h["start"]) for h in hits}) == len(hits)  # indexed once, not twice


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_dask_scheduler_and_worker_started_as_processes(tmp_path, local_run):
    """`dask scheduler` and `dask worker` as a user starts them, used through --cluster tcp://."""
    files, expected = local_run
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).with_name("dask"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", "127.0.0.1:0", "--no-show"],
                              stdout=subprocess.DEVNULL, stderr=(logs / "scheduler").open("w"), env=env)]  # fmt: skip
    try:
        procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1"],
                                      stdout=subprocess.DEVNULL, stderr=(logs / "worker").open("w"), env=env,
                                      cwd=tmp_path))  # fmt: skip
        with Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=60)
            client.register_plugin(FakeRecognizer(), name="fake-recognizer")
            result, summary = _ingest(tmp_path / "cluster", files, "--cluster", address)
        assert result.exit_code == 0, result.output + (logs / "worker").read_text()[-2000:]
        assert summary["done"] == 3, summary
        assert _transcripts(tmp_path / "cluster") == expected
        assert "1 worker" in result.stderr
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.mark.slow
def test_the_real_model_on_a_local_cluster_gives_the_local_words(tmp_path):
    """The packaged model on `--cluster local:2` and in this process: the same transcripts."""
    files = _media(tmp_path, ("two_voices.mp4", "real_two_voices.mp4"))
    local, summary = _ingest(tmp_path / "local", files)
    assert local.exit_code == 0 and summary["done"] == 2, local.output
    started = time.monotonic()
    remote, summary = _ingest(tmp_path / "cluster", files, "--cluster", "local:2")
    assert remote.exit_code == 0 and summary["done"] == 2, remote.output
    assert time.monotonic() - started < 600
    expected, got = _transcripts(tmp_path / "local"), _transcripts(tmp_path / "cluster")
    assert got == expected, _first_difference(expected, got)
    assert all(t["engine"] == "faster-whisper" and t["segments"] for t in got.values())


def test_analyse_file_asks_for_the_bytes_when_the_path_is_not_there(tmp_path, fake_engine):
    """A worker on another machine: the path is missing (or holds other bytes) -> it asks for the
    file; given the bytes, it gives what it gives from the path."""
    from pipeline.cluster.task import analyse_file
    from pipeline.library import file_sha256
    from pipeline.options import IngestOptions, SpeakerOptions, TranscribeOptions

    (media,) = _media(tmp_path, ("two_voices.mp4",))
    sha = file_sha256(media)
    opts = IngestOptions(transcribe=TranscribeOptions(language="en"), speakers=SpeakerOptions(diarize=False))
    assert analyse_file(str(tmp_path / "elsewhere.mp4"), sha, opts).missing
    assert analyse_file(str(fixture("three_voices.mp4")), sha, opts).missing  # same name here, other bytes
    here = analyse_file(str(media), sha, opts)
    sent = analyse_file(str(tmp_path / "elsewhere.mp4"), sha, opts, media.read_bytes())
    assert here.analysis is not None and here.analysis.segments
    assert sent.analysis.segments == here.analysis.segments and sent.analysis.speakers == here.analysis.speakers


def test_cluster_without_dask_is_one_line_and_status_2(tmp_path, monkeypatch, fake_engine):
    (media,) = _media(tmp_path, ("two_voices.mp4",))
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    result = run_cli("ingest", str(media), "--cluster", "local:2", library=tmp_path / "lib")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: --cluster needs Dask distributed, which is not installed: pip install 'interview-index[cluster]'"
    )
    assert not list((tmp_path / "lib").glob("transcripts/*.json"))


@pytest.mark.parametrize("spec", ["tcp://nowhere", "local:0", "local:x", "8786"])
def test_a_bad_cluster_address_is_a_usage_error(tmp_path, spec, fake_engine):
    (media,) = _media(tmp_path, ("two_voices.mp4",))
    result = run_cli("ingest", str(media), "--cluster", spec, library=tmp_path / "lib")
    assert result.exit_code == 2 and result.stderr.startswith("error: --cluster"), result.output


def test_workers_get_the_threads_numpy_runs_with_not_what_a_nanny_left_in_the_environment(monkeypatch):
    """A nanny started earlier in this process (a LocalCluster with Dask's defaults) writes OMP_NUM_THREADS=1
    and the like into os.environ for good; numpy here still runs with what it loaded with, and workers must too
    (given the leaked 1, they decoded "I what he not" where this process decoded "I what him not")."""
    import numpy
    from threadpoolctl import threadpool_info

    from pipeline.cluster.connect import THREAD_VARIABLES, thread_environment

    (real,) = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas" and "numpy" in i["filepath"]}
    assert numpy
    for name in THREAD_VARIABLES:
        monkeypatch.setenv(name, str(real + 1))
    assert thread_environment() == {name: str(real) for name in THREAD_VARIABLES}
