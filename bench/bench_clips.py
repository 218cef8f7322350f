"""Clips bench: a reel of 50 hits from the bench interview against one hand-written ffmpeg call.

Ingests /work/shared/bench/htp_interview.mp4 once into a library (a temp
folder, or --library DIR to keep and reuse it), searches common words until
there are 50 hits, plans their clips (pad 1 s, on word boundaries and
frames) and times:

- the reel as `interview-index clips -o reel.mp4` makes it (media.cut.render:
  one ffmpeg process, one seeked input per clip, normalised, concat filter);
- one file per clip (`--separate`), per clip;
- the floor: a single ffmpeg call doing the same cuts with one filter_complex
  (split/asplit, trim/atrim per clip, concat), same encoder settings.

Each is run --repeat times, alternating, and the fastest run is kept (the
CPU is shared). Pass: the reel takes at most 1.5x the single call, and its
length equals the sum of the clip spans (within a frame).

    .venv/bin/python bench/bench_clips.py [--library DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.search import search  # noqa: E402
from media.binaries import ffmpeg_exe, ffmpeg_url  # noqa: E402
from media.cut import AUDIO_RATE, VIDEO_CODEC, _rate_text, stream_times  # noqa: E402
from pipeline.footage.outputs import clips_for  # noqa: E402
from pipeline.footage.render import Look, output_format, render_one, render_reel  # noqa: E402
from pipeline.library import Library  # noqa: E402

VIDEO = Path("/work/shared/bench/htp_interview.mp4")
WORDS = ["we", "the", "mining", "company", "people", "and", "is", "of", "to", "a", "in", "that", "it", "our"]
HITS = 50
FLOOR = 1.5


def library_with_interview(root: Path) -> Library:
    lib = Library(root)
    if not lib.video_ids():
        print(f"ingesting {VIDEO.name} into {root} (once) ...", flush=True)
        cmd = [sys.executable, "-m", "pipeline.cli", "ingest", str(VIDEO), "--library", str(root), "--language", "en"]
        subprocess.run(cmd, check=True, cwd=ROOT)
    return lib


def fifty_hits(lib: Library) -> list:
    hits, seen = [], set()
    for word in WORDS:
        for h in search(lib.index_dir, word, limit=None, exact=True).hits:
            key = (h.video, round(h.start, 2))
            if key not in seen:
                seen.add(key)
                hits.append(h)
        if len(hits) >= HITS:
            break
    return hits[:HITS]


def single_call(clips, fmt, dst: Path) -> None:
    """The floor: one input, split into a trim per clip, concatenated; the same encoders as the reel."""
    n = len(clips)
    rate = _rate_text(fmt.rate)
    chains = [f"[0:v]split={n}" + "".join(f"[s{k}]" for k in range(n)),
              f"[0:a]asplit={n}" + "".join(f"[t{k}]" for k in range(n))]  # fmt: skip
    for k, c in enumerate(clips):
        chains.append(f"[s{k}]trim=start={c.start:.6f}:end={c.end:.6f},setpts=PTS-STARTPTS,fps={rate}[v{k}]")
        chains.append(f"[t{k}]atrim=start={c.start:.6f}:end={c.end:.6f},asetpts=PTS-STARTPTS,"
                      f"aresample={AUDIO_RATE},aformat=channel_layouts=stereo[a{k}]")  # fmt: skip
    chains.append("".join(f"[v{k}][a{k}]" for k in range(n)) + f"concat=n={n}:v=1:a=1[v][a]")
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-i", ffmpeg_url(VIDEO),
           "-filter_complex", ";".join(chains), "-map", "[v]", "-map", "[a]", *VIDEO_CODEC, "-r", rate,
           "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(dst)]  # fmt: skip
    subprocess.run(cmd, check=True)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--library", type=Path, default=None, help="keep the ingested library here (reused)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-clips-") as tmp:
        tmp = Path(tmp)
        lib = library_with_interview(args.library or tmp / "library")
        hits = fifty_hits(lib)
        clips = clips_for(lib, hits)
        fmt = output_format(clips)
        span = sum(c.duration for c in clips)
        print(f"{len(clips)} clips from {len({c.video for c in clips})} video(s), {span:.2f} s in all "
              f"({fmt.width}x{fmt.height} at {fmt.rate:g} fps)")  # fmt: skip
        reel_t, single_t, sep_t, burn_t = [], [], [], []
        for _ in range(args.repeat):
            reel_t.append(timed(lambda: render_reel(clips, tmp / "reel.mp4")))
            single_t.append(timed(lambda: single_call(clips, fmt, tmp / "single.mp4")))
        for _ in range(max(1, args.repeat - 1)):
            burn_t.append(timed(lambda: render_reel(clips, tmp / "burn.mp4", Look(subtitles=True, lower_third=True))))
        folder = tmp / "separate"
        folder.mkdir()
        sep_t.append(timed(lambda: [render_one(k, c, folder) for k, c in enumerate(clips, 1)]))
        got = stream_times(tmp / "reel.mp4")
        floor = stream_times(tmp / "single.mp4")
        reel, single = min(reel_t), min(single_t)
        ratio = reel / single
        length_ok = abs(got["video"][1] - span) < 1 / fmt.rate and abs(got["audio"][1] - span) < 1 / fmt.rate
        print(f"reel (clips -o, one ffmpeg process):       {reel:6.2f} s  ({1000 * reel / len(clips):5.1f} ms per clip)"
              f"  runs: {', '.join(f'{t:.2f}' for t in reel_t)}")  # fmt: skip
        print(f"single ffmpeg call (trim/concat floor):     {single:6.2f} s  "
              f"runs: {', '.join(f'{t:.2f}' for t in single_t)}")  # fmt: skip
        print(f"reel with --burn-subtitles --lower-third:   {min(burn_t):6.2f} s")
        print(f"--separate (a process per clip):            {sep_t[0]:6.2f} s  ({1000 * sep_t[0] / len(clips):5.1f} ms "
              "per clip)")  # fmt: skip
        print(f"reel length {got['video'][1]:.3f} s video / {got['audio'][1]:.3f} s audio; sum of clip spans "
              f"{span:.3f} s; single call {floor['video'][1]:.3f} s")  # fmt: skip
        ok = ratio <= FLOOR and length_ok
        print(f"reel / single call = {ratio:.2f}x (floor {FLOOR}x); length {'ok' if length_ok else 'WRONG'}: "
              f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
