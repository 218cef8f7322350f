"""Batch ingestion that never loses work: bad input, interruption, concurrency.

These run the real CLI in subprocesses (so that SIGKILL and SIGINT are real)
on committed fixtures, with the fake recognizer (tests/fake_engine.py: the
fixtures' true words; ffmpeg and the index are real). Each window takes
FAKE_DELAY_S, so a file can be caught while it is transcribed. The
subprocesses skip diarization (NO_DIARIZE): loading its models in every
process would cost more than the rest; the in-process tests diarize.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.writer import segment_counts
from pipeline.library import Library

from conftest import fixture, run_cli
from fake_engine import DELAY_ENV, install

QUERIES = ["harbour", "budget", "the", '"tax relief"']


FAKE_DELAY_S = 0.3
NO_DIARIZE = "--no-diarize"


def ingest_here(*args: str) -> dict:
    """An ingest run in this process (fake engine, no delay): the runs nothing interrupts need no process."""
    with pytest.MonkeyPatch.context() as mp:
        install(mp)
        result = run_cli("ingest", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def cli_argv(*args: str) -> list[str]:
    """The CLI in its own process, recognising with the fake engine."""
    return [sys.executable, str(Path(__file__).with_name("fake_engine.py")), *args]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + e.get("PYTHONPATH", "")
    e[DELAY_ENV] = str(FAKE_DELAY_S)
    return e


def copy_fixtures(dest: Path, names=("two_voices.mp4", "three_voices.mp4", "made_up_name.mp4")) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for n in names:
        shutil.copy(fixture(n), dest / n)
        out.append(dest / n)
    return out


def hits(lib: Path) -> dict[str, list[tuple]]:
    """What a user sees: every query's hits, comparable across libraries."""
    out = {}
    for q in QUERIES:
        res = run_cli("search", q, "--json", "--limit", "200", library=lib)
        assert res.exit_code == 0, res.output
        out[q] = sorted((h["video"], h["start"], h["end"], h["speaker"], h["text"]) for h in json.loads(res.stdout))
    return out


def assert_indexed_once(lib: Path, expected_videos: int) -> None:
    library = Library(lib)
    counts = segment_counts(library.index_dir)
    assert len(counts) == expected_videos, counts
    for t in library.transcripts():
        assert counts[t.video_id] == len(t.segments), (t.video_id, counts)


def wait_for_stage(lib: Path, proc: subprocess.Popen, stage: str, done_before: int, timeout: float = 240) -> None:
    """Block until `done_before` files are done and another is at `stage`."""
    deadline = time.monotonic() + timeout
    jobs = lib / "jobs"
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        states = []
        for p in jobs.glob("*.json") if jobs.is_dir() else []:
            try:
                states.append(json.loads(p.read_text()))
            except ValueError:
                continue
        done = sum(s["status"] == "done" for s in states)
        if done >= done_before and any(s["status"] == "running" and s["stage"] == stage for s in states):
            return
        time.sleep(0.05)
    raise AssertionError(f"never reached {stage} after {done_before} files")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> dict:
    """An uninterrupted run over the same three files."""
    lib = tmp_path_factory.mktemp("baseline")
    files = copy_fixtures(tmp_path_factory.mktemp("media"))
    ingest_here(*map(str, files), "--language", "en", NO_DIARIZE, "--library", str(lib))
    return hits(lib)


# SIGKILL in the slow tier (a process killed outright); the fast tier keeps Ctrl-C's resume
@pytest.mark.parametrize(
    "sig, status", [pytest.param(signal.SIGKILL, -9, marks=pytest.mark.slow), (signal.SIGINT, 130)]
)
def test_interrupted_ingest_resumes_to_the_same_index(tmp_path, baseline, sig, status):
    lib = tmp_path / "lib"
    files = copy_fixtures(tmp_path / "media")
    argv = cli_argv("ingest", *map(str, files), "--language", "en", NO_DIARIZE, "--library", str(lib))
    # A shell without job control starts background jobs with SIGINT ignored, and
    # Python keeps it ignored: give the child the default, as a terminal would.
    proc = subprocess.Popen(argv, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    wait_for_stage(lib, proc, "transcribe", done_before=1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    if sig == signal.SIGINT:
        assert "interrupted" in err
    rows = json.loads(run_cli("list", "--json", library=lib).stdout)
    assert sum(r["state"] == "done" for r in rows) >= 1
    assert any(r["state"] == "interrupted" for r in rows), rows

    summary = ingest_here(*map(str, files), "--language", "en", NO_DIARIZE, "--library", str(lib))
    assert summary["failed"] == 0 and summary["done"] + summary["skipped"] == 3
    assert summary["skipped"] >= 1
    assert_indexed_once(lib, 3)
    assert hits(lib) == baseline


@pytest.mark.slow  # two ingest processes and searches beside them: seconds
def test_search_while_ingesting_and_two_ingests_at_once(tmp_path, baseline):
    lib = tmp_path / "lib"
    files = copy_fixtures(tmp_path / "media")
    argv = cli_argv("ingest", *map(str, files), "--language", "en", NO_DIARIZE, "--library", str(lib), "--json")
    first = subprocess.Popen(argv, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_stage(lib, first, "transcribe", done_before=1)
    second = subprocess.Popen(argv, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # A search while both run sees the video already indexed.
    during = run_cli("search", "harbour", "--json", library=lib)
    assert during.exit_code == 0 and json.loads(during.stdout), during.output
    out1, err1 = first.communicate(timeout=600)
    out2, err2 = second.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    s1, s2 = json.loads(out1), json.loads(out2)
    assert s1["done"] + s2["done"] == 3, (s1, s2)
    assert_indexed_once(lib, 3)
    assert hits(lib) == baseline


def make_bad_inputs(d: Path) -> dict[str, Path]:
    d.mkdir(parents=True, exist_ok=True)
    good = d / "good interview – Ærø.mp4"
    shutil.copy(fixture("two_voices.mp4"), good)
    empty = d / "empty.mp4"
    empty.write_bytes(b"")
    text = d / "notes.mp4"
    text.write_text("not a video, just notes\n" * 20)
    data = fixture("three_voices.mp4").read_bytes()
    truncated = d / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    unreadable = d / "unreadable.mp4"
    shutil.copy(fixture("two_voices.mp4"), unreadable)
    unreadable.chmod(0)
    return {
        "good": good,
        "silence": shutil.copy(fixture("silence.mp4"), d / "silence.mp4"),
        "missing": d / "missing.mp4",
        "empty": empty,
        "text": text,
        "truncated": truncated,
        "no_audio": shutil.copy(fixture("no_audio.mp4"), d / "no_audio.mp4"),
        "unreadable": unreadable,
    }


def test_bad_inputs_in_one_batch(tmp_path, monkeypatch, fake_engine):
    files = {k: Path(v) for k, v in make_bad_inputs(tmp_path / "media").items()}
    if os.geteuid() == 0:
        # root reads any file: cause the permission fault the only way left.
        import media.probe

        real_access = os.access

        def access(p, mode):
            return False if Path(p) == files["unreadable"] else real_access(p, mode)

        monkeypatch.setattr(media.probe.os, "access", access)
    lib = tmp_path / "lib"
    result = run_cli("ingest", *map(str, files.values()), "--language", "en", "--json", library=lib)
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    by_path = {Path(f["path"]).name: f for f in summary["files"]}
    assert by_path[files["good"].name]["status"] == "done"
    silence = by_path["silence.mp4"]
    assert silence["status"] == "done" and silence["segments"] == 0 and "no speech" in silence["note"]
    causes = {
        "missing": "no such file",
        "empty": "empty",
        "text": "not a media file",
        "truncated": "truncated",
        "no_audio": "no audio track",
        "unreadable": "permission denied",
    }
    for key, cause in causes.items():
        f = by_path[files[key].name]
        assert f["status"] == "failed", f
        assert str(files[key]) in f["error"] and cause in f["error"], f["error"]
    # One line per bad file on stderr, naming file and cause.
    for key in causes:
        assert sum(str(files[key]) in ln for ln in result.stderr.splitlines() if ln.startswith("error:")) == 1
    # Nothing written for the bad ones; the good one is searchable.
    library = Library(lib)
    assert len(library.video_ids()) == 2
    found = json.loads(run_cli("search", "harbour", "--json", library=lib).stdout)
    assert found and all(Path(h["path"]).name == files["good"].name for h in found)
    rows = json.loads(run_cli("list", "--json", library=lib).stdout)
    assert sum(r["state"] == "failed" for r in rows) == 6
    assert all(r["error"] for r in rows if r["state"] == "failed")


@pytest.mark.slow  # three ingests and a remove; the fast tier keeps the bad-input batch and the resume
def test_changed_file_replaces_its_entries_and_remove(tmp_path, fake_engine):
    lib = tmp_path / "lib"
    media = tmp_path / "media"
    media.mkdir()
    target = media / "interview.mp4"
    shutil.copy(fixture("two_voices.mp4"), target)
    assert run_cli("ingest", str(target), "--language", "en", library=lib).exit_code == 0
    shutil.copy(fixture("three_voices.mp4"), target)  # same path, new content
    assert run_cli("ingest", str(target), "--language", "en", library=lib).exit_code == 0
    library = Library(lib)
    assert len(library.video_ids()) == 1
    assert_indexed_once(lib, 1)
    assert json.loads(run_cli("search", "harbour", "--json", "--exact", library=lib).stdout) == []
    assert run_cli("remove", str(target), library=lib).exit_code == 0
    assert library.video_ids() == [] and segment_counts(library.index_dir) == {}


def test_long_file_resumes_mid_file_from_the_last_window(tmp_path, monkeypatch):
    """Windows of 8 s stand in for a long file's 10-minute windows: a run
    killed after some windows resumes at the next one, to the same transcript."""
    media = tmp_path / "media"
    (target,) = copy_fixtures(media, ("three_voices.mp4",))
    small = dict(env(), INTERVIEW_INDEX_WINDOW_S="8")
    whole_lib, lib = tmp_path / "whole", tmp_path / "lib"
    monkeypatch.setenv("INTERVIEW_INDEX_WINDOW_S", "8")
    ingest_here(str(target), "--language", "en", NO_DIARIZE, "--library", str(whole_lib))
    argv = cli_argv("ingest", str(target), "--language", "en", NO_DIARIZE, "--library", str(lib))
    proc = subprocess.Popen(argv, env=small, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    partial = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((lib / "work").glob("*.asr.json")) if (lib / "work").is_dir() else []
        if found:
            try:
                state = json.loads(found[0].read_text())
            except ValueError:
                continue
            if state["segments"] and not state["complete"]:
                partial = state
                break
        time.sleep(0.02)
    assert partial is not None, "never saw a window finished before the file"
    proc.kill()
    proc.wait()
    again = ingest_here(str(target), "--language", "en", NO_DIARIZE, "--library", str(lib))
    resumed = Library(lib).load_transcript(again["files"][0]["video_id"])
    whole = next(Library(whole_lib).transcripts())
    kept = [(w["word"], w["start"]) for s in partial["segments"] for w in s["words"]]
    assert [(w.word, w.start) for w in resumed.words[: len(kept)]] == kept, "finished windows are kept as they were"
    assert [(w.word, w.start, w.end) for w in resumed.words] == [(w.word, w.start, w.end) for w in whole.words]
    assert [s.speaker for s in resumed.segments] == [s.speaker for s in whole.segments]


def test_folders_are_recursed_and_media_picked_by_content(tmp_path, fake_engine):
    root = tmp_path / "archive"
    (root / "day 1" / "camera").mkdir(parents=True)
    shutil.copy(fixture("silence.mp4"), root / "day 1" / "camera" / "CLIP0001")  # no extension
    shutil.copy(fixture("silence.mp4"), root / "room tone.mp4")
    (root / "day 1" / "notes.txt").write_text("interview notes, not media\n")
    (root / "day 1" / "notes.mp4.txt").write_text("still not media\n")
    lib = tmp_path / "lib"
    result = run_cli("ingest", str(root), "--json", "--no-diarize", library=lib)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    names = sorted(Path(f["path"]).name for f in summary["files"])
    # The two copies have the same bytes: the second is skipped as the same video.
    assert names == ["CLIP0001", "room tone.mp4"]
    assert summary["done"] == 1 and summary["skipped"] == 1
    globbed = run_cli("ingest", str(root / "**" / "CLIP*"), "--json", library=lib)
    assert json.loads(globbed.stdout)["skipped"] == 1
