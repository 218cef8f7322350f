"""One error boundary, no tracebacks, nothing lost (issue #9).

Each test drives the real CLI in process (click's CliRunner) with the fake
recognizer (tests/fake_engine.py) or fails before any recognizer is needed;
ffmpeg, the library and the whoosh index are real. Faults that cannot be
caused for real without root mounts (a full disk, a read-only file system)
are raised by a mock at the write call.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import pipeline.atomic
from media import binaries
from pipeline.cli import main
from pipeline.library import Library

from conftest import fixture
from fake_engine import install

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, env: dict[str, str] | None = None, catch: bool = True):
    """The CLI as a user runs it: exceptions are the boundary's business, not the runner's."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=catch)


def error_lines(result) -> list[str]:
    return [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]


def assert_one_line(result, status: int, *needles: str) -> str:
    assert result.exit_code == status, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.fixture
def fake(monkeypatch):
    return install(monkeypatch)


@pytest.fixture
def media(tmp_path) -> Path:
    d = tmp_path / "media"
    d.mkdir()
    for name in ("two_voices.mp4", "three_voices.mp4"):
        shutil.copy(fixture(name), d / name)
    return d


def no_temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.tmp")] if root.exists() else []


def rows(lib: Path) -> list[dict]:
    result = cli("list", "--json", "--library", str(lib))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout_bytes.decode("utf-8", "surrogateescape"))  # file names are bytes


# --------------------------------------------------------------------------- the boundary
def test_unexpected_exception_is_one_line_and_traceback_on_request(tmp_path, monkeypatch):
    def boom(library):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("pipeline.cli.list_videos", boom)
    lib = str(tmp_path / "lib")
    line = assert_one_line(cli("list", "--library", lib), 1)
    assert line == "error: unexpected ZeroDivisionError: division by zero (run with --traceback for details)"

    shown = cli("--traceback", "list", "--library", lib)
    assert isinstance(shown.exception, ZeroDivisionError) and not error_lines(shown)
    by_env = cli("list", "--library", lib, env={"INTERVIEW_INDEX_DEBUG": "1"})
    assert isinstance(by_env.exception, ZeroDivisionError)


def test_statuses_usage_2_not_found_1_interrupted_130(tmp_path, monkeypatch):
    lib = str(tmp_path / "lib")
    assert_one_line(cli("ingest", "x.mp4", "--speakers", "3", "--max-speakers", "2", "--library", lib), 2,
                    "--speakers 3 contradicts")  # fmt: skip
    assert_one_line(cli("export", "nope", "--library", lib), 1, "nope: no such video")

    def interrupted(library):
        raise KeyboardInterrupt

    monkeypatch.setattr("pipeline.cli.list_videos", interrupted)
    assert_one_line(cli("list", "--library", lib), 130, "interrupted")


# --------------------------------------------------------------------------- 15: --library before the command
def test_library_before_the_command_and_from_the_environment(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("--library", str(a), "glossary", "add", "Skolkovo").exit_code == 0
    assert (a / "glossary.txt").read_text() == "Skolkovo\n"
    assert cli("glossary", "list", "--library", str(a)).stdout == "Skolkovo\n"
    assert cli("glossary", "add", "BelAZ", env={"INTERVIEW_INDEX_LIBRARY": str(b)}).exit_code == 0
    assert (b / "glossary.txt").read_text() == "BelAZ\n"
    # Given on the command line, before or after the command, it beats the environment.
    assert cli("--library", str(a), "glossary", "list", env={"INTERVIEW_INDEX_LIBRARY": str(b)}).stdout == "Skolkovo\n"
    after = cli("--library", str(b), "glossary", "list", "--library", str(a))
    assert after.stdout == "Skolkovo\n"


# --------------------------------------------------------------------------- per-file isolation
def test_recognizer_error_on_one_file_is_that_files_error(tmp_path, media, fake, monkeypatch):
    from fake_engine import FakeEngine

    real = FakeEngine.transcribe

    def flaky(self, audio, options, progress=None):
        if self.calls == 0:
            self.calls += 1
            raise RuntimeError("CTranslate2 ran out of memory")
        return real(self, audio, options, progress)

    monkeypatch.setattr(FakeEngine, "transcribe", flaky)
    lib = tmp_path / "lib"
    first, second = media / "three_voices.mp4", media / "two_voices.mp4"
    result = cli("ingest", str(first), str(second), "--no-diarize", "--library", str(lib))
    assert result.exit_code == 1, result.output
    assert error_lines(result) == [f"error: {first}: RuntimeError: CTranslate2 ran out of memory"]
    assert "1 done, 0 skipped, 1 failed" in result.stderr
    by_path = {Path(r["path"]).name: r for r in rows(lib)}
    assert by_path["two_voices.mp4"]["state"] == "done"
    assert by_path["three_voices.mp4"]["state"] == "failed"
    assert "out of memory" in by_path["three_voices.mp4"]["error"]


# --------------------------------------------------------------------------- 9: FIFOs
def run_process(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """A real process: a FIFO that is opened blocks it, and the timeout ends the test."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)  # fmt: skip


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_not_opened(tmp_path):
    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)
    lib = str(tmp_path / "lib")
    proc = run_process("ingest", str(fifo), "--no-diarize", "--library", lib)
    assert proc.returncode == 1, proc.stderr
    assert f"error: {fifo}: not a regular file but a named pipe (FIFO)" in proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr

    glossary = tmp_path / "names.txt"
    os.mkfifo(glossary)
    proc = run_process("ingest", str(fixture("two_voices.mp4")), "--glossary", str(glossary), "--library", lib)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines() == [f"error: {glossary}: not a regular file but a named pipe (FIFO)"]


# --------------------------------------------------------------------------- 10: odd file names
def test_file_name_that_is_not_utf8(tmp_path, fake):
    folder = tmp_path / "media"
    folder.mkdir()
    good = os.path.join(os.fsencode(folder), b"caf\xe9.mp4")
    bad = os.path.join(os.fsencode(folder), b"notes\xe9.mp4")
    shutil.copy(fixture("two_voices.mp4"), good)
    with open(bad, "w") as f:
        f.write("not a video\n" * 20)
    lib = tmp_path / "lib"
    result = cli("ingest", os.fsdecode(bad), os.fsdecode(good), "--no-diarize", "--library", str(lib))
    assert result.exit_code == 1, (result.output, result.exception)
    assert error_lines(result) == [
        f"error: {folder}/notes\\xe9.mp4: not a media file (its content is no audio or video format)"
    ]
    assert "1 done" in result.stderr
    done = [r for r in rows(lib) if r["state"] == "done"]
    assert len(done) == 1 and os.fsencode(done[0]["path"]) == good  # the name survives, byte for byte
    listed = cli("list", "--library", str(lib))
    assert listed.exit_code == 0 and b"/caf\xe9.mp4" in listed.stdout_bytes
    hits = cli("search", "harbour", "--json", "--library", str(lib))
    assert hits.exit_code == 0 and json.loads(hits.stdout)


def test_leading_dash_and_colon_names_reach_ffmpeg_as_files(tmp_path, fake, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    data = fixture("two_voices.mp4").read_bytes()
    for k, name in enumerate(("-dash.mp4", "-found-in-folder.mp4", "a:b.mp4", "-")):
        (work / name).write_bytes(data + b"\0" * k)  # other bytes each: not copies of one video
    monkeypatch.chdir(work)
    lib = tmp_path / "lib"
    # Named on the command line, and found by scanning "." (which yields "-found-in-folder.mp4").
    result = cli("ingest", "./-dash.mp4", "a:b.mp4", ".", "--no-diarize", "--library", str(lib))
    assert result.exit_code == 0, result.output
    done = sorted(Path(r["path"]).name for r in rows(lib) if r["state"] == "done")
    assert done == ["-", "-dash.mp4", "-found-in-folder.mp4", "a:b.mp4"]


# --------------------------------------------------------------------------- 11: full disk, read-only library
def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_during_ingest_keeps_earlier_data(tmp_path, media, fake, monkeypatch):
    lib = tmp_path / "lib"
    first = cli("ingest", str(media / "two_voices.mp4"), "--no-diarize", "--library", str(lib))
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in (lib / "transcripts").iterdir()}

    monkeypatch.setattr(pipeline.atomic.os, "fsync", enospc)
    result = cli("ingest", str(media / "three_voices.mp4"), "--no-diarize", "--library", str(lib))
    assert_one_line(result, 1, f"no space left on {lib}")
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in (lib / "transcripts").iterdir()} == before
    assert not no_temp_files(lib)
    found = cli("search", "harbour", "--json", "--library", str(lib))
    assert found.exit_code == 0 and json.loads(found.stdout)


def test_read_only_library(tmp_path, media, fake, monkeypatch):
    lib = tmp_path / "lib"
    Library(lib).ensure()

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(pipeline.atomic, "write_bytes_atomic", read_only)
    result = cli("ingest", str(media / "two_voices.mp4"), "--no-diarize", "--library", str(lib))
    assert_one_line(result, 1, f"library is read-only: {lib}")
    assert_one_line(cli("glossary", "add", "Skolkovo", "--library", str(lib)), 1, f"library is read-only: {lib}")


def test_disk_full_in_every_writing_command(tmp_path, media, fake, monkeypatch):
    lib = tmp_path / "lib"
    assert cli("ingest", str(media / "two_voices.mp4"), "--no-diarize", "--library", str(lib)).exit_code == 0
    assert cli("glossary", "add", "Skolkovo", "--library", str(lib)).exit_code == 0
    vid = rows(lib)[0]["video"]
    transcript = (lib / "transcripts" / f"{vid}.json").read_bytes()
    glossary = (lib / "glossary.txt").read_bytes()
    old_export = tmp_path / "old.srt"
    old_export.write_text("old subtitles\n")

    import index.writer

    def full_index(index_dir, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(index_dir) / "MAIN_1.seg"))

    monkeypatch.setattr(pipeline.atomic.os, "fsync", enospc)
    monkeypatch.setattr(index.writer, "rebuild", full_index)
    monkeypatch.setattr(index.writer, "remove_video", full_index)
    monkeypatch.setattr(index.writer, "add_transcript", full_index)
    for args in (["reindex"], ["remove", vid], ["speakers", vid, "--rename", "SPEAKER_1=Ann"],
                 ["glossary", "add", "BelAZ"]):  # fmt: skip
        assert_one_line(cli(*args, "--library", str(lib)), 1, f"no space left on {lib}")
    line = assert_one_line(cli("export", vid, "-o", str(old_export), "--library", str(lib)), 1, "no space left")
    assert str(tmp_path) in line
    new_export = tmp_path / "new.srt"
    assert_one_line(cli("export", vid, "-o", str(new_export), "--library", str(lib)), 1, "no space left")
    monkeypatch.undo()

    assert (lib / "transcripts" / f"{vid}.json").read_bytes() == transcript
    assert (lib / "glossary.txt").read_bytes() == glossary
    assert old_export.read_text() == "old subtitles\n" and not new_export.exists()
    assert not no_temp_files(lib) and not no_temp_files(tmp_path)


# --------------------------------------------------------------------------- 13: bad language, ffmpeg, export folder
def test_language_names_are_codes_and_unknown_is_a_usage_error(tmp_path, media, fake):
    lib = tmp_path / "lib"
    bad = cli("ingest", str(media / "two_voices.mp4"), "--language", "klingon", "--library", str(lib))
    assert_one_line(bad, 2, "--language", "klingon")
    assert not fake and not (lib / "jobs").exists()  # before any work
    good = cli("ingest", str(media / "two_voices.mp4"), "--language", "English", "--no-diarize", "--json",
               "--library", str(lib))  # fmt: skip
    assert good.exit_code == 0, good.output
    assert rows(lib)[0]["language"] == "en"


def test_missing_ffmpeg_named_by_the_variable(tmp_path, media, monkeypatch):
    monkeypatch.setenv(binaries.ENV_FFMPEG, str(tmp_path / "nope"))
    binaries.ffmpeg_exe.cache_clear()
    binaries.ffprobe_exe.cache_clear()
    try:
        result = cli("ingest", str(media / "two_voices.mp4"), "--library", str(tmp_path / "lib"))
    finally:
        monkeypatch.undo()
        binaries.ffmpeg_exe.cache_clear()
        binaries.ffprobe_exe.cache_clear()
    assert_one_line(result, 1, f"INTERVIEW_INDEX_FFMPEG={tmp_path / 'nope'}: no such file")


def test_export_into_a_missing_folder_or_under_a_file(tmp_path, media, fake):
    lib = tmp_path / "lib"
    assert cli("ingest", str(media / "two_voices.mp4"), "--no-diarize", "--library", str(lib)).exit_code == 0
    vid = rows(lib)[0]["video"]
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    assert_one_line(cli("export", vid, "-o", str(tmp_path / "nope" / "a.srt"), "--library", str(lib)), 1,
                    "no such folder")  # fmt: skip
    assert_one_line(cli("export", vid, "-o", str(a_file / "a.srt"), "--library", str(lib)), 1, "not a folder")
    assert not (tmp_path / "nope").exists() and a_file.read_text() == "x"


# --------------------------------------------------------------------------- list: a dead process is not running
def test_list_does_not_call_a_dead_process_running(tmp_path, media, fake):
    lib = tmp_path / "lib"
    assert cli("ingest", str(media / "two_voices.mp4"), "--no-diarize", "--library", str(lib)).exit_code == 0
    library = Library(lib)
    vid = rows(lib)[0]["video"]
    job = library.load_job(vid)
    job.status, job.stage = "running", "transcribe"  # what a killed ingest leaves behind
    library.save_job(job)
    assert [r["state"] for r in rows(lib)] == ["interrupted"]
