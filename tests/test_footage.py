"""From hits to footage (issue #13): clips and reels cut by the real ffmpeg, quote sheets, timelines, DOCX.

The library is built from the fixtures' truth (transcripts saved and indexed
directly: no recognizer, no diarization), over two videos: two_voices
re-encoded at 29.97 fps (drop-frame timecode) and three_voices as committed
(2 fps, so on the 25 fps fallback grid). Word times are the truth's, so a
clip's expected in point is known to the millisecond.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from index.search import search
from index.writer import add_transcript
from media.audio import load_audio
from media.binaries import ffmpeg_exe
from media.cut import Cut, Format, render, stream_times
from media.probe import probe
from pipeline.footage.clips import FALLBACK_RATE, Source, plan_clip, timeline_rate
from pipeline.footage.outputs import clips_for
from pipeline.library import Library, file_sha256, make_video_id
from pipeline.transcript import Segment, Speaker, Transcript, Word

from conftest import fixture, run_cli, truth, truth_word
from fake_engine import _truth_words

NTSC = 30000 / 1001
NAMES = {"two_voices": {"HOST": "Marsh", "GUEST": "Okunev"}, "three_voices": {}}


def transcript_from_truth(name: str, media: Path) -> Transcript:
    t = truth(name)
    labels = {spk: f"SPEAKER_{i}" for i, spk in enumerate(dict.fromkeys(x["speaker"] for x in t["turns"]), 1)}
    words = _truth_words(t)
    segments = []
    for turn in t["turns"]:
        ws = [
            Word(w["word"], w["start"], w["end"], 1.0, labels[turn["speaker"]])
            for w in words
            if w["turn"] == turn["index"]
        ]
        segments.append(Segment(ws[0].start, ws[-1].end, " ".join(w.word for w in ws), ws, labels[turn["speaker"]]))
    sha = file_sha256(media)
    speakers = [Speaker(label, NAMES[name].get(spk)) for spk, label in labels.items()]
    return Transcript(make_video_id(media, sha), str(media), t["duration_s"], "en", "truth", "truth", segments,
                      speakers, sha256=sha)  # fmt: skip


@pytest.fixture(scope="session")
def footage_lib(tmp_path_factory) -> Path:
    """two_voices at 29.97 fps and three_voices (2 fps), transcripts from truth, indexed."""
    media = tmp_path_factory.mktemp("footage-media")
    ntsc = media / "two_voices.mp4"
    src = str(fixture("two_voices.mp4"))
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", src, "-vf", "fps=30000/1001",
           "-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-c:a", "copy", str(ntsc)]  # fmt: skip
    subprocess.run(cmd, check=True)
    shutil.copy(fixture("three_voices.mp4"), media / "three_voices.mp4")
    lib = Library(tmp_path_factory.mktemp("footage-lib")).ensure()
    for name in ("two_voices", "three_voices"):
        t = transcript_from_truth(name, media / f"{name}.mp4")
        lib.save_transcript(t)
        add_transcript(lib.index_dir, t)
    return lib.root


def only_hit(lib: Path, query: str, **kw):
    hits = search(Library(lib).index_dir, query, **kw).hits
    assert hits, query
    return hits[0]


def source_offset(clip_path: Path, source: Path) -> float:
    """Where in the source the clip's audio starts, found by correlating the two (10 ms resolution)."""
    clip, src = load_audio(clip_path), load_audio(source)
    frame = 160

    def env(a):
        n = a.size // frame
        return np.log10(np.mean(a[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-6)

    c, s = env(clip), env(src)
    c = (c - c.mean()) / c.std()
    best = max(range(s.size - c.size + 1), key=lambda k: float(np.dot(c, (s[k : k + c.size] - s[k : k + c.size].mean()))
                                                               / (s[k : k + c.size].std() + 1e-9)))  # fmt: skip
    return best * frame / 16000


# --------------------------------------------------------------------------- planning
def test_timeline_rate_is_the_videos_own_or_the_fallback():
    assert timeline_rate(NTSC) == NTSC and timeline_rate(25.0) == 25.0
    assert timeline_rate(2.0) == FALLBACK_RATE and timeline_rate(0.0) == FALLBACK_RATE


def test_probe_reads_the_exact_ntsc_rate(footage_lib):
    info = probe(Library(footage_lib).load_transcript(only_hit(footage_lib, "relief").video).path)
    assert info.frame_rate == NTSC and (info.width, info.height) == (160, 120)


def test_clip_is_padded_on_word_boundaries_and_frames(footage_lib):
    lib = Library(footage_lib)
    hit = only_hit(footage_lib, '"tax relief"')
    t = lib.load_transcript(hit.video)
    clip = plan_clip(hit, Source(t, 19.99, NTSC, True), pad=1.0)
    words = t.words
    tax = truth_word("two_voices", "tax")["start"]
    # 1 s before "tax" falls inside "fishing": the clip starts where "fishing" starts.
    inside = next(w for w in words if w.start < tax - 1.0 < w.end)
    assert abs(clip.start - inside.start) < 1 / NTSC
    assert not any(w.start < clip.start - 1e-6 and w.end > clip.start + 1 / NTSC for w in words)
    assert not any(w.start < clip.end - 1 / NTSC and w.end > clip.end + 1e-6 for w in words)
    assert clip.in_frame == round(clip.start * NTSC) and abs(clip.start * NTSC - clip.in_frame) < 1e-6
    assert clip.start <= tax - 1.0 and clip.end >= hit.end + 1.0
    assert clip.speaker == "Okunev" and clip.matched.lower().startswith("tax relief")


def test_sentence_clip_holds_the_sentence_and_no_neighbouring_word(footage_lib):
    lib = Library(footage_lib)
    hit = only_hit(footage_lib, "relief")
    t = lib.load_transcript(hit.video)
    clip = plan_clip(hit, Source(t, 19.99, NTSC, True), pad=1.0, sentence=True)
    assert clip.sentence == "The budget gives fishing families tax relief for three years."
    first, last = truth_word("two_voices", "budget", 1)["start"], truth("two_voices")["turns"][1]["end"]
    assert clip.start <= first - 0.05 and clip.end >= last - 0.05
    thank = truth_word("two_voices", "you")  # "Thank you." ends just before the sentence
    assert clip.start >= thank["start"], "the sentence clip took in the word before it"


# --------------------------------------------------------------------------- cutting
def test_clip_starts_at_the_pad_before_its_word_and_keeps_av_in_sync(footage_lib, tmp_path):
    lib = Library(footage_lib)
    hit = only_hit(footage_lib, "Yes")
    source = Path(lib.load_transcript(hit.video).path)
    out = run_cli("clips", "Yes", "--pad", "0.5", "--separate", str(tmp_path / "c"), library=footage_lib)
    assert out.exit_code == 0, out.output
    [clip_file] = list((tmp_path / "c").glob("*.mp4"))
    word = truth_word("two_voices", "yes")["start"]
    assert abs((word - source_offset(clip_file, source)) - 0.5) <= 0.1
    times = stream_times(clip_file)
    assert abs(times["video"][0] - times["audio"][0]) < 1 / NTSC, times
    assert abs(times["video"][1] - times["audio"][1]) < 1 / NTSC, times


def test_reel_is_as_long_as_its_clips(footage_lib, tmp_path):
    lib = Library(footage_lib)
    hits = search(lib.index_dir, "harbour OR bridge", limit=None).hits
    clips = clips_for(lib, hits)
    assert len({c.video for c in clips}) == 2 and len(clips) >= 3
    out = run_cli("clips", "harbour OR bridge", "-o", str(tmp_path / "reel.mp4"), library=footage_lib)
    assert out.exit_code == 0, out.output
    times = stream_times(tmp_path / "reel.mp4")
    frame = 1 / clips[0].rate
    assert abs(times["video"][1] - sum(c.duration for c in clips)) < frame, times
    assert abs(times["audio"][1] - times["video"][1]) < frame and abs(times["audio"][0] - times["video"][0]) < frame


def test_reel_in_chunks_equals_one_pass(footage_lib, tmp_path):
    src = str(fixture("two_voices.mp4"))
    cuts = [Cut(src, 1.0, 1.2, True), Cut(src, 6.0, 0.8, True), Cut(src, 12.4, 1.6, True)]
    fmt = Format(True, 160, 120, 25.0)
    a = stream_times(render(cuts, tmp_path / "one.mp4", fmt))
    b = stream_times(render(cuts, tmp_path / "chunked.mp4", fmt, chunk=2))
    assert abs(a["video"][1] - 3.6) < 0.04 and abs(b["video"][1] - 3.6) < 0.04 and abs(b["audio"][1] - 3.6) < 0.04


def test_a_late_audio_track_stays_on_the_pictures_timeline(tmp_path):
    """late_audio's sound starts 1.5 s into the video: a cut from 1.0 s has 0.5 s of silence, then the words."""
    src = fixture("late_audio.mp4")
    clip = render([Cut(str(src), 1.0, 3.0, True)], tmp_path / "late.mp4", Format(True, 160, 120, 25.0))
    audio = load_audio(clip)
    assert np.abs(audio[: int(0.45 * 16000)]).max() < 1e-3, "the silence before the track starts is missing"
    assert abs(source_offset(clip, src) - 1.0) <= 0.02
    times = stream_times(clip)
    assert abs(times["video"][0] - times["audio"][0]) < 0.04 and abs(times["video"][1] - times["audio"][1]) < 0.04


def _frame(path: Path, t: float) -> np.ndarray:
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-ss", str(t), "-i", str(path),
           "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"]  # fmt: skip
    raw = subprocess.run(cmd, capture_output=True, check=True)
    return np.frombuffer(raw.stdout, np.uint8).reshape(120, 160).astype(float)


def test_burned_subtitles_draw_on_the_picture(footage_lib, tmp_path):
    plain = run_cli("clips", '"tax relief"', "-o", str(tmp_path / "plain.mp4"), library=footage_lib)
    burned = run_cli("clips", '"tax relief"', "--burn-subtitles", "--lower-third", "-o", str(tmp_path / "b.mp4"),
                     library=footage_lib)  # fmt: skip
    assert plain.exit_code == 0 and burned.exit_code == 0, burned.output
    a, b = _frame(tmp_path / "plain.mp4", 1.2), _frame(tmp_path / "b.mp4", 1.2)
    assert np.abs(a[90:] - b[90:]).mean() > 5, "no subtitle drawn at the bottom"
    assert np.abs(a[:20] - b[:20]).mean() > 2, "no lower third drawn at the top"


def test_audio_source_gives_an_audio_clip(tmp_path, footage_lib):
    wav = tmp_path / "talk.m4a"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(fixture("two_voices.mp4")), "-vn",
                    "-c:a", "copy", str(wav)], check=True)  # fmt: skip
    lib = Library(tmp_path / "lib").ensure()
    t = transcript_from_truth("two_voices", wav)
    lib.save_transcript(t)
    add_transcript(lib.index_dir, t)
    out = run_cli("clips", "budget", "--separate", str(tmp_path / "c"), library=lib.root)
    assert out.exit_code == 0, out.output
    files = sorted((tmp_path / "c").iterdir())
    assert files and all(f.suffix == ".m4a" for f in files)
    assert set(stream_times(files[0])) == {"audio"}


def test_a_missing_video_is_one_error_line_and_the_rest_is_cut(footage_lib, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(footage_lib, lib)
    gone = Library(lib).load_transcript(only_hit(lib, "bridge").video)
    moved = tmp_path / "moved"
    moved.mkdir()
    t = Library(lib).load_transcript(gone.video_id)
    t.path = str(moved / "nowhere.mp4")
    Library(lib).save_transcript(t)
    out = run_cli("clips", "harbour OR bridge", "--separate", str(tmp_path / "c"), library=lib)
    assert out.exit_code == 1
    assert "error: " in out.stderr and "nowhere.mp4: no such file" in out.stderr and "Traceback" not in out.output
    assert list((tmp_path / "c").glob("*.mp4")), "the readable video's clips were not cut"


# --------------------------------------------------------------------------- sheets and timelines
@pytest.mark.parametrize("fmt", ["edl", "xml", "otio"])
def test_timelines_read_back_with_the_same_in_and_out_points(footage_lib, tmp_path, fmt):
    lib = Library(footage_lib)
    query = "harbour"
    clips = clips_for(lib, search(lib.index_dir, query, video=only_hit(footage_lib, "relief").video).hits)
    video = Library(footage_lib).resolve(clips[0].video).video_id
    dst = tmp_path / f"hits.{fmt}"
    out = run_cli("search", query, "--video", video, "--format", fmt, "-o", str(dst), library=footage_lib)
    assert out.exit_code == 0, out.output
    kwargs = {"rate": NTSC} if fmt == "edl" else {}
    timeline = otio.adapters.read_from_file(str(dst), **kwargs)
    got = [c for c in timeline.video_tracks()[0].find_clips()]
    assert len(got) == len(clips) >= 2
    for c, g in zip(clips, got, strict=True):
        r = g.source_range
        assert round(r.start_time.to_seconds() * NTSC) == c.in_frame
        assert round(r.end_time_exclusive().to_seconds() * NTSC) == c.out_frame
        if fmt != "edl":
            assert "nowhere" not in g.media_reference.target_url and g.media_reference.target_url.endswith(
                "two_voices.mp4"
            )
            assert g.name == c.name and "harbour" in g.name.lower()
    if fmt == "edl":
        text = dst.read_text()
        assert "FCM: DROP FRAME" in text and ";" in text.split("\n")[3], text  # drop-frame timecodes at 29.97
        assert text.split("\n")[3].split()[6] == "01:00:00;00", text  # the record side starts at one hour
        assert "Marsh: harbour" in text


def test_clips_writes_a_timeline_of_its_own_cuts(footage_lib, tmp_path):
    """`clips --sentence -o x.otio`: the timeline holds the sentence clips, as the reel would cut them."""
    lib = Library(footage_lib)
    clips = clips_for(lib, search(lib.index_dir, "relief").hits, pad=0.2, sentence=True)
    out = run_cli("clips", "relief", "--sentence", "--pad", "0.2", "-o", str(tmp_path / "s.otio"), library=footage_lib)
    assert out.exit_code == 0, out.output
    [got] = otio.adapters.read_from_file(str(tmp_path / "s.otio")).video_tracks()[0].find_clips()
    assert (got.source_range.start_time.value, got.source_range.duration.value) == (
        clips[0].in_frame,
        clips[0].out_frame - clips[0].in_frame,
    )
    assert got.metadata["interview_index"]["sentence"].startswith("The budget gives fishing families tax relief")


def test_quote_sheet_csv_and_docx_hold_the_hits(footage_lib, tmp_path):
    from docx import Document

    query = "harbour OR bridge"
    hits = json.loads(run_cli("search", query, "--json", library=footage_lib).stdout)
    out = run_cli("search", query, "-o", str(tmp_path / "q.csv"), library=footage_lib)
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "q.csv").read_text())))
    assert [(r["video"], r["speaker"]) for r in rows] == [(h["video"], h["speaker"]) for h in hits]
    assert all(r["match"] in ("exact", "stem", "phonetic", "fuzzy") for r in rows)
    assert all(r["in"].count(":") + r["in"].count(";") == 3 and r["in"] < r["out"] for r in rows)
    assert any("Will the harbour wall be repaired before winter?" == r["sentence"] for r in rows)
    out = run_cli("search", query, "--format", "docx", "-o", str(tmp_path / "q.docx"), library=footage_lib)
    assert out.exit_code == 0, out.output
    table = Document(str(tmp_path / "q.docx")).tables[0]
    cells = [[c.text for c in row.cells] for row in table.rows]
    assert cells[0][:5] == ["video", "file", "speaker", "in", "out"]
    assert [r[5] for r in cells[1:]] == [r["sentence"] for r in rows]


def test_export_docx_is_a_paragraph_per_turn_with_the_speaker_in_bold(footage_lib, tmp_path):
    from docx import Document

    video = only_hit(footage_lib, "relief").video
    for args, name in (
        (["-o", str(tmp_path / "a.docx")], "a.docx"),
        (["--format", "docx", "-o", str(tmp_path / "b")], "b"),
    ):
        out = run_cli("export", video, *args, library=footage_lib)
        assert out.exit_code == 0, out.output
        paragraphs = [p for p in Document(str(tmp_path / name)).paragraphs if p.text.startswith("[")]
        assert len(paragraphs) == 4
        assert [r.text for r in paragraphs[1].runs if r.bold] == ["Okunev: "]
        assert paragraphs[1].text.startswith("[00:00:05.6] Okunev: Thank you.")


# --------------------------------------------------------------------------- the real recognizer
@pytest.mark.slow
def test_clip_of_a_word_is_heard_again_by_the_real_engine(footage_lib, tmp_path):
    """'Yes' follows a 0.8 s pause: with --pad 0.5 the clip starts in silence, 0.5 s before the word."""
    from pipeline.asr import load_engine
    from pipeline.options import TranscribeOptions

    out = run_cli("clips", "Yes", "--pad", "0.5", "--separate", str(tmp_path / "c"), library=footage_lib)
    assert out.exit_code == 0, out.output
    [clip_file] = list((tmp_path / "c").glob("*.mp4"))
    engine = load_engine("faster-whisper", "tiny.en")
    result = engine.transcribe(load_audio(clip_file), TranscribeOptions(language="en"))
    heard = [w for s in result.segments for w in s.words]
    assert "yes" in [w.word.strip(".,?!").lower() for w in heard], heard
    source = Path(Library(footage_lib).load_transcript(only_hit(footage_lib, "Yes").video).path)
    truth_start = truth_word("two_voices", "yes")["start"]
    cut_at = source_offset(clip_file, source)  # where in the source the clip's sound really begins
    assert abs((truth_start - cut_at) - 0.5) <= 0.1
    # Whisper stretches a first word back over the silence before it (it put "Yes" at 0.11 s), so
    # the recognizer's check is on the word's end: "Yes" ends where the pause after it starts.
    yes = next(w for w in heard if w.word.strip(".,?!").lower() == "yes")
    truth_end = truth("two_voices")["pauses"][2][0]
    assert abs(yes.end - (truth_end - cut_at)) <= 0.15, yes
