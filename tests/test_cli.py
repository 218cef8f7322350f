"""The real CLI end to end: real ffmpeg, real diarization, a real whoosh index; the fake recognizer
(the fixtures' true words, tests/fake_engine.py) except in the tests marked slow, which run Whisper."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from pipeline.timefmt import parse_time

from conftest import fixture, run_cli, truth, truth_word, video_id


def search_json(lib, *args):
    result = run_cli("search", *args, "--json", library=lib)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_search_gives_the_time_of_the_word(ingested):
    hits = search_json(ingested, "harbour", "--video", video_id(ingested, "two_voices.mp4"))
    expected = [w["start"] for w in truth("two_voices")["words"] if w["word"].lower().startswith("harbour")]
    assert len(hits) >= 2
    for hit in hits:
        assert {"video", "path", "start", "end", "speaker", "text", "segment_start", "segment_end", "score"} <= set(hit)
        # The word's time, not the segment's: within 0.5 s of where it was said.
        assert min(abs(hit["start"] - t) for t in expected) < 0.5, (hit, expected)
        assert hit["segment_start"] <= hit["start"] <= hit["end"] <= hit["segment_end"] + 0.01


def test_phrase_search_and_speaker(ingested):
    hits = search_json(ingested, '"tax relief"')
    assert hits, "the phrase was said once in two_voices"
    top = hits[0]
    assert abs(top["start"] - truth_word("two_voices", "tax")["start"]) < 0.5
    assert "tax relief" in top["text"].lower()
    assert re.fullmatch(r"SPEAKER_\d", top["speaker"])


def test_boolean_and_filters(ingested):
    both = search_json(ingested, "harbour OR budget")
    only_budget = search_json(ingested, "budget NOT harbour")
    assert len(both) > len(only_budget) >= 1
    vid = video_id(ingested, "three_voices.mp4")
    assert all(h["video"] == vid for h in search_json(ingested, "the", "--video", vid))


def test_human_output_one_line_per_hit(ingested):
    result = run_cli("search", "budget", library=ingested)
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert lines and all(re.match(r"\S+  \d\d:\d\d:\d\d\.\d  \S+", ln) for ln in lines)
    assert "**" in lines[0]


def test_bad_query_is_one_clear_line(ingested):
    result = run_cli("search", '"unclosed phrase AND (', library=ingested)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error:") and len(result.stderr.strip().splitlines()) == 1


def parse_srt(text: str) -> list[tuple[float, float, list[str]]]:
    cues = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        assert lines[0].isdigit()
        start, end = (parse_time(x) for x in lines[1].split(" --> "))
        cues.append((start, end, lines[2:]))
    return cues


def test_export_srt_follows_broadcast_conventions(ingested, tmp_path):
    out = tmp_path / "a.srt"
    result = run_cli("export", video_id(ingested, "three_voices.mp4"), "--format", "srt", "-o", str(out),
                     library=ingested)  # fmt: skip
    assert result.exit_code == 0, result.output
    cues = parse_srt(out.read_text())
    assert len(cues) >= 5
    for i, (start, end, lines) in enumerate(cues):
        assert 1 <= len(lines) <= 2
        assert all(len(ln) <= 42 for ln in lines), lines
        assert 0 < end - start <= 7.0
        if i:
            assert start >= cues[i - 1][1], "cues overlap"
    first_lines = [lines[0] for _, _, lines in cues]
    assert first_lines[0].startswith("[SPEAKER_1] ")
    assert sum(ln.startswith("[") for ln in first_lines) >= 3, "a label at each speaker change"


def test_export_vtt_txt_json(ingested):
    vid = video_id(ingested, "two_voices.mp4")
    vtt = run_cli("export", vid, "--format", "vtt", library=ingested).stdout
    assert vtt.startswith("WEBVTT") and "<v SPEAKER_1>" in vtt
    txt = run_cli("export", vid, "--format", "txt", library=ingested).stdout
    assert re.match(r"\[00:00:0\d\.\d\] SPEAKER_1: ", txt)
    data = json.loads(run_cli("export", vid, "--format", "json", library=ingested).stdout)
    assert {"video", "path", "duration", "language", "engine", "model", "speakers", "segments"} <= set(data)
    seg = data["segments"][0]
    assert {"start", "end", "speaker", "text", "words"} <= set(seg)
    assert {"word", "start", "end"} <= set(seg["words"][0])
    plain = run_cli("export", vid, "--format", "srt", "--no-speakers", library=ingested).stdout
    assert "[SPEAKER" not in plain


def test_export_by_original_path_and_unknown_video(ingested):
    rows = json.loads(run_cli("list", "--json", library=ingested).stdout)
    path = next(r["path"] for r in rows if r["path"].endswith("two_voices.mp4"))
    assert run_cli("export", path, "--format", "txt", library=ingested).exit_code == 0
    missing = run_cli("export", "no-such-video", library=ingested)
    assert missing.exit_code == 1 and "no-such-video" in missing.stderr


def test_list_json(ingested):
    rows = json.loads(run_cli("list", "--json", library=ingested).stdout)
    assert len(rows) == 2
    for r in rows:
        assert r["state"] == "done" and r["language"] == "en"
        assert r["engine"] and r["model"] and r["duration"] > 10
    by_name = {r["path"].rsplit("/", 1)[1]: r for r in rows}
    assert len(by_name["two_voices.mp4"]["speakers"]) == 2
    assert len(by_name["three_voices.mp4"]["speakers"]) == 3


def test_reingest_is_idempotent_and_content_identified(ingested, tmp_path):
    copy = tmp_path / "renamed copy.mp4"
    shutil.copy(fixture("two_voices.mp4"), copy)
    before = search_json(ingested, "harbour")
    result = run_cli("ingest", str(copy), "--json", library=ingested)
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["skipped"] == 1 and summary["done"] == 0
    assert search_json(ingested, "harbour") == before


@pytest.mark.parametrize("speakers_flag", ["--no-diarize"])
def test_late_audio_track_keeps_playback_time(tmp_path, fake_engine, speakers_flag):
    """The audio starts 1.5 s into the video: hits must be at playback time."""
    lib = tmp_path / "lib"
    result = run_cli("ingest", str(fixture("late_audio.mp4")), "--language", "en", speakers_flag, library=lib)
    assert result.exit_code == 0, result.output
    hits = search_json(lib, "budget")
    t = truth("late_audio")
    spoken = [w["start"] + t["audio_offset"] for w in t["words"] if w["word"].lower().startswith("budget")]
    assert hits and all(min(abs(h["start"] - s) for s in spoken) < 0.5 for h in hits), (hits, spoken)


def test_speakers_rename_reaches_search_and_export(tmp_path, fake_engine):
    lib = tmp_path / "lib"
    assert run_cli("ingest", str(fixture("two_voices.mp4")), "--language", "en", library=lib).exit_code == 0
    vid = video_id(lib, "two_voices.mp4")
    listing = run_cli("speakers", vid, "--json", library=lib)
    stats = json.loads(listing.stdout)
    assert [s["label"] for s in stats] == ["SPEAKER_1", "SPEAKER_2"]
    assert stats[0]["first_words"].lower().startswith("welcome back")
    assert all(s["talk_time"] > 3 for s in stats)

    renamed = run_cli("speakers", vid, "--rename", "speaker_2=Alexander Okunev", "--rename",
                      'SPEAKER_1="Jane Host"', library=lib)  # fmt: skip
    assert renamed.exit_code == 0, renamed.output
    assert "Alexander Okunev (SPEAKER_2)" in renamed.stdout

    # The guest says "tax relief": search shows the name, and filters by name or label, any case.
    hits = search_json(lib, '"tax relief"')
    assert hits[0]["speaker"] == "Alexander Okunev" and hits[0]["speaker_label"] == "SPEAKER_2"
    assert search_json(lib, '"tax relief"', "--speaker", "alexander okunev")
    assert search_json(lib, '"tax relief"', "--speaker", "speaker_2")
    assert search_json(lib, '"tax relief"', "--speaker", "Jane Host") == []
    srt = run_cli("export", vid, "--format", "srt", library=lib).stdout
    assert "[Jane Host] Welcome back." in srt and "[Alexander Okunev] Thank you." in srt
    assert "<v Alexander Okunev>" in run_cli("export", vid, "--format", "vtt", library=lib).stdout
    data = json.loads(run_cli("export", vid, "--format", "json", library=lib).stdout)
    assert {s["speaker"] for s in data["segments"]} == {"Jane Host", "Alexander Okunev"}
    assert data["segments"][0]["words"][0]["speaker"] == "Jane Host"

    bad = run_cli("speakers", vid, "--rename", "SPEAKER_9=Nobody", library=lib)
    assert bad.exit_code == 1 and "SPEAKER_9" in bad.stderr


def test_audio_files_are_accepted(tmp_path, fake_engine):
    """wav, flac, mp3 and m4a, made from the fixture's audio with the same ffmpeg the tool uses."""
    import ffmpeg

    from media.binaries import ffmpeg_exe

    media = tmp_path / "audio only"
    media.mkdir()
    for ext in ("wav", "flac", "mp3", "m4a"):
        (
            ffmpeg.input(str(fixture("two_voices.mp4")))
            .output(str(media / f"interview.{ext}"), vn=None, ac=1)
            .global_args("-nostdin", "-loglevel", "error")
            .run(cmd=ffmpeg_exe(), overwrite_output=True)
        )
    lib = tmp_path / "lib"
    result = run_cli("ingest", str(media), "--language", "en", "--no-diarize", "--json", library=lib)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["done"] == 4
    hits = search_json(lib, '"tax relief"', "--limit", "10")
    assert sorted(h["path"].rsplit(".", 1)[1] for h in hits) == ["flac", "m4a", "mp3", "wav"]
    spoken = truth_word("two_voices", "tax")["start"]
    assert all(abs(h["start"] - spoken) < 0.5 for h in hits), hits


@pytest.mark.slow
def test_openai_whisper_engine_through_the_cli(tmp_path):
    """The user's named package end to end: ingest, word time, subtitles."""
    lib = tmp_path / "lib"
    result = run_cli("ingest", str(fixture("two_voices.mp4")), "--engine", "openai-whisper", "--language", "en",
                     library=lib)  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(run_cli("list", "--json", library=lib).stdout)
    assert rows[0]["engine"] == "openai-whisper" and rows[0]["model"] == "base"
    hits = search_json(lib, '"tax relief"')
    assert hits and abs(hits[0]["start"] - truth_word("two_voices", "tax")["start"]) < 0.5
    cues = parse_srt(run_cli("export", rows[0]["video"], "--format", "srt", library=lib).stdout)
    assert cues and all(len(ln) <= 42 for _, _, lines in cues for ln in lines)
