"""The library folder stays consistent and honest: ids, damaged files, locks, the index, weights.

Transcripts are written directly (Library.save_transcript + index.writer.add_transcript)
where ingesting is not the point; where it is, the fake recognizer ingests
through the real CLI (ffmpeg, whoosh and the file locks stay real).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_index import make_transcript

from index.writer import add_transcript, segment_counts
from pipeline.library import Job, Library, check_video_id, file_sha256, make_video_id, path_key

from conftest import fixture, run_cli
from fake_engine import DELAY_ENV

ROOT = Path(__file__).resolve().parents[1]


def save(lib: Library, video_id: str, text: str = "harbour budget", **kw) -> None:
    t = make_transcript(video_id, [(0.0, "SPEAKER_1", text)], **kw)
    t.sha256 = (video_id.encode().hex() * 8)[:64]
    lib.ensure().save_transcript(t)
    add_transcript(lib.index_dir, t)


def search_videos(root: Path, query: str = "harbour", *args: str) -> list[str]:
    res = run_cli("search", query, "--json", "--limit", "100", *args, library=root)
    assert res.exit_code == 0, res.output
    return [h["video"] for h in json.loads(res.stdout)]


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# -- 1. every library path comes from a validated id ---------------------------


def test_ids_the_library_makes_are_valid_and_others_are_refused(tmp_path):
    sha = "3fa9c2d1" + "0" * 56
    for made in (make_video_id(Path("Ünïcode interview (final).MP4"), sha), make_video_id(Path("...mp4"), sha),
                 make_video_id(Path("x" * 300 + ".mp4"), sha), path_key(tmp_path / "a.mp4")):  # fmt: skip
        assert check_video_id(made) == made
    lib = Library(tmp_path / "lib")
    for bad in ("../../victim", "a/b", "", ".hidden", "UPPER-12345678", "-lead", "x" * 82, "a\x00b", "a b"):
        with pytest.raises(ValueError):
            check_video_id(bad)
        with pytest.raises(ValueError):
            lib.transcript_path(bad)
        with pytest.raises(ValueError):
            lib.job_path(bad)


def test_transcript_with_hostile_video_id_is_reported_and_never_followed(tmp_path):
    root = tmp_path / "lib"
    lib = Library(root)
    save(lib, "good-00000000")
    victim = tmp_path / "victim.json"  # transcripts/../../victim.json
    victim.write_text("precious")
    evil = make_transcript("../../victim", [(0.0, "SPEAKER_1", "harbour")])
    (root / "transcripts" / "evil-12345678.json").write_text(json.dumps(evil.to_dict()))

    renamed = run_cli("speakers", "evil-12345678", "--rename", "SPEAKER_1=Mallory", library=root)
    assert renamed.exit_code == 1
    line = one_error_line(renamed.stderr)
    assert "evil-12345678.json" in line and "damaged" in line
    listed = json.loads(run_cli("list", "--json", library=root).stdout)
    assert {r["video"]: r["state"] for r in listed} == {"good-00000000": "done", "evil-12345678": "damaged"}
    removed = run_cli("remove", "evil-12345678", "--yes", library=root)
    assert removed.exit_code == 0, removed.output
    assert victim.read_text() == "precious"
    assert not (root / "transcripts" / "evil-12345678.json").exists()
    assert search_videos(root) == ["good-00000000"]


# -- 2. a missing or incomplete index is detected ------------------------------


def test_deleted_index_makes_search_say_reindex_and_ingest_rebuild_it(tmp_path, fake_engine):
    root = tmp_path / "lib"
    assert run_cli("ingest", str(fixture("two_voices.mp4")), "--no-diarize", library=root).exit_code == 0
    first = search_videos(root)
    assert first
    shutil.rmtree(root / "index")
    res = run_cli("search", "harbour", library=root)
    assert res.exit_code == 1 and "reindex" in one_error_line(res.stderr)

    assert run_cli("ingest", str(fixture("three_voices.mp4")), "--no-diarize", library=root).exit_code == 0
    assert set(first) <= set(search_videos(root)), "the videos ingested before are searchable again"
    assert len(segment_counts(root / "index")) == 2


def test_deleted_segment_files_are_detected_and_reindex_repairs(tmp_path):
    root = tmp_path / "lib"
    lib = Library(root)
    for vid in ("alpha-11111111", "beta-22222222"):
        save(lib, vid)
    for seg in (root / "index").glob("*.seg"):
        seg.unlink()
    res = run_cli("search", "harbour", library=root)
    assert res.exit_code == 1 and "reindex" in one_error_line(res.stderr)
    assert run_cli("reindex", library=root).exit_code == 0
    assert sorted(search_videos(root)) == ["alpha-11111111", "beta-22222222"]


def test_index_missing_a_video_is_detected(tmp_path):
    root = tmp_path / "lib"
    lib = Library(root)
    save(lib, "alpha-11111111")
    lib.save_transcript(make_transcript("beta-22222222", [(0.0, "SPEAKER_1", "harbour")]))  # never indexed
    res = run_cli("search", "harbour", library=root)
    assert res.exit_code == 1 and "reindex" in one_error_line(res.stderr)
    assert run_cli("reindex", library=root).exit_code == 0
    assert sorted(search_videos(root)) == ["alpha-11111111", "beta-22222222"]


# -- 3. weights are checked on every load --------------------------------------


@pytest.mark.parametrize("where", ["start", "middle", "end", "size"])
def test_changed_weights_with_restored_mtime_are_refused(tmp_path, monkeypatch, where):
    from pipeline.asr import cache

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    f = tmp_path / "model.bin"
    f.write_bytes(os.urandom(5 << 20))
    good = file_sha256(f)
    cache.verify_file(f, good)  # checked once: remembered
    st = f.stat()
    with open(f, "r+b") as fh:
        if where == "size":
            fh.truncate(st.st_size - 1)
        else:
            at = {"start": 10, "middle": st.st_size // 2, "end": st.st_size - 10}[where]
            fh.seek(at)
            byte = fh.read(1)
            fh.seek(at)
            fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_mtime_ns == st.st_mtime_ns and f.stat().st_ino == st.st_ino
    with pytest.raises(cache.ModelIntegrityError, match="corrupt"):
        cache.verify_file(f, good)


# -- 4. identity by content holds across processes ------------------------------


@pytest.mark.slow  # two ingest processes: seconds
def test_two_processes_ingesting_the_same_bytes_under_two_names_ingest_once(tmp_path):
    root = tmp_path / "lib"
    media = tmp_path / "media"
    media.mkdir()
    a, b = media / "first name.mp4", media / "second name.mp4"
    shutil.copy(fixture("two_voices.mp4"), a)
    shutil.copy(fixture("two_voices.mp4"), b)
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{DELAY_ENV: "2"})
    go = tmp_path / "go"
    starter = (
        "import sys, time, runpy, pathlib\n"
        f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.01)\n"
        f"sys.argv = [{str(ROOT / 'tests' / 'fake_engine.py')!r}] + sys.argv[1:]\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", starter, "ingest", str(p), "--no-diarize", "--json",
                          "--library", str(root)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for p in (a, b)
    ]  # fmt: skip
    time.sleep(1.0)
    go.touch()
    outs = [p.communicate(timeout=180) for p in procs]
    summaries = [json.loads(out) for out, _ in outs]
    assert sorted(s["done"] for s in summaries) == [0, 1], outs
    assert sorted(s["skipped"] for s in summaries) == [0, 1], outs
    assert len(Library(root).video_ids()) == 1
    videos = search_videos(root)
    assert videos and len(set(videos)) == 1


# -- 5. --force keeps the speakers' names -----------------------------------------


def test_force_reingest_keeps_speaker_names(tmp_path, fake_engine):
    root = tmp_path / "lib"
    video = fixture("two_voices.mp4")
    assert run_cli("ingest", str(video), "--no-diarize", library=root).exit_code == 0
    vid = Library(root).video_ids()[0]
    assert run_cli("speakers", vid, "--rename", "SPEAKER_1=Jane Host", library=root).exit_code == 0
    res = run_cli("ingest", str(video), "--no-diarize", "--force", "--json", library=root)
    assert res.exit_code == 0 and json.loads(res.stdout)["done"] == 1
    assert Library(root).load_transcript(vid).speaker_name("SPEAKER_1") == "Jane Host"
    hits = json.loads(run_cli("search", "harbour", "--json", library=root).stdout)
    assert hits and {h["speaker"] for h in hits} == {"Jane Host"}


# -- 6. remove: short prefixes are confirmed ------------------------------------


def test_remove_by_short_prefix_asks_and_refuses_without_a_terminal(tmp_path, monkeypatch):
    root = tmp_path / "lib"
    lib = Library(root)
    for vid in ("alpha-11111111", "alpine-22222222", "beta-33333333"):
        save(lib, vid)
    refused = run_cli("remove", "b", library=root)  # CliRunner's stdin is not a terminal
    assert refused.exit_code == 1 and "--yes" in one_error_line(refused.stderr)
    assert len(lib.video_ids()) == 3
    ambiguous = run_cli("remove", "alp", "--yes", library=root)
    assert ambiguous.exit_code == 1 and "ambiguous" in one_error_line(ambiguous.stderr)

    import pipeline.cli

    monkeypatch.setattr(pipeline.cli, "stdin_is_interactive", lambda: True)
    kept = run_cli("remove", "b", library=root, input="n\n")
    assert kept.exit_code == 0 and "kept beta-33333333" in kept.output and len(lib.video_ids()) == 3
    assert run_cli("remove", "b", library=root, input="y\n").exit_code == 0
    assert lib.video_ids() == ["alpha-11111111", "alpine-22222222"]
    monkeypatch.setattr(pipeline.cli, "stdin_is_interactive", lambda: False)
    assert run_cli("remove", "alpine", library=root).exit_code == 0  # 6 characters, one match: no question
    assert run_cli("remove", "a", "--yes", library=root).exit_code == 0
    assert lib.video_ids() == [] and search_videos(root) == []


# -- 7. every id `list` prints is accepted by every command ---------------------


def test_failed_entries_listed_can_be_removed(tmp_path, fake_engine):
    root = tmp_path / "lib"
    media = tmp_path / "media"
    media.mkdir()
    (media / "notes.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))  # mp4-looking, not decodable
    shutil.copy(fixture("no_audio.mp4"), media / "silent film.mp4")
    res = run_cli("ingest", str(media / "notes.mp4"), str(media / "silent film.mp4"), library=root)
    assert res.exit_code == 1
    lib = Library(root)
    lib.save_job(Job(key=path_key(media / "gone.mp4"), path=str(media / "gone.mp4"), status="failed", error="gone"))
    listing = run_cli("list", library=root)
    ids = [line.split("  ")[0] for line in listing.stdout.splitlines()]
    assert len(ids) == 3 and "-" not in ids, listing.stdout
    for vid in ids:
        for cmd in (["export", vid], ["speakers", vid], ["search", "x", "--video", vid]):
            res = run_cli(*cmd, library=root)
            assert res.exit_code == 1 and "no such video" not in res.stderr and "failed" in one_error_line(res.stderr)
    for vid in ids:
        res = run_cli("remove", vid, "--yes", library=root)
        assert res.exit_code == 0, res.output
    assert run_cli("list", "--json", library=root).stdout.strip() == "[]"
    assert list((root / "jobs").iterdir()) == []


# -- 12. damaged files are reported, skipped, removable -----------------------------


def test_truncated_transcript_is_reported_skipped_and_removable(tmp_path):
    root = tmp_path / "lib"
    lib = Library(root)
    save(lib, "alpha-11111111")
    save(lib, "beta-22222222")
    broken = lib.transcript_path("beta-22222222")
    broken.write_text(broken.read_text()[:50])

    listing = run_cli("list", "--json", library=root)
    assert listing.exit_code == 0
    rows = {r["video"]: r for r in json.loads(listing.stdout)}
    assert rows["beta-22222222"]["state"] == "damaged" and str(broken) in rows["beta-22222222"]["error"]
    assert search_videos(root, "harbour", "--video", "alpha-11111111") == ["alpha-11111111"]
    res = run_cli("search", "harbour", "--video", "beta-22222222", library=root)
    assert res.exit_code == 1 and str(broken) in one_error_line(res.stderr)
    reindexed = run_cli("reindex", library=root)
    assert reindexed.exit_code == 1 and str(broken) in reindexed.stderr and "Traceback" not in reindexed.stderr
    assert search_videos(root) == ["alpha-11111111"]
    assert run_cli("search", "harbour", library=root).exit_code == 0, "a damaged transcript is not a stale index"
    assert run_cli("remove", "beta-22222222", "--yes", library=root).exit_code == 0
    assert not broken.exists() and lib.video_ids() == ["alpha-11111111"]


def test_truncated_job_file_does_not_stop_the_batch(tmp_path, fake_engine):
    root = tmp_path / "lib"
    video = fixture("two_voices.mp4")
    lib = Library(root).ensure()
    vid = make_video_id(video, file_sha256(video))
    lib.job_path(vid).write_text('{"key": "' + vid + '", "pa')
    res = run_cli("ingest", str(video), "--no-diarize", "--json", library=root)
    assert res.exit_code == 0 and json.loads(res.stdout)["done"] == 1, res.output
    assert lib.load_job(vid).status == "done"


# -- one lock mechanism: a probe for "is someone working on it" -------------------


def test_is_locked_tells_a_live_job_from_a_dead_one(tmp_path):
    root = tmp_path / "lib"
    lib = Library(root).ensure()
    sha = "ab" * 32
    lib.save_job(Job(key="talk-abababab", path="/v/talk.mp4", status="running", video_id="talk-abababab", sha256=sha))
    assert not lib.is_locked("talk-abababab")
    assert json.loads(run_cli("list", "--json", library=root).stdout)[0]["state"] == "interrupted"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pipeline.library import Library\n"
         f"with Library({str(root)!r}).content_lock({sha!r}) as owned:\n"
         "    print(owned, flush=True); time.sleep(30)\n"],
        env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "True"
        assert lib.is_locked("talk-abababab")
        assert json.loads(run_cli("list", "--json", library=root).stdout)[0]["state"] == "running"
    finally:
        holder.kill()
        holder.wait(10)
    assert not lib.is_locked("talk-abababab")
