"""Batch ingest time with --jobs 1 and --jobs 2, as a ratio (issue 4).

    python bench/bench_batch.py [--video ../shared/bench/htp_interview.mp4] [--copies 10] [--model base]
                                [--cluster local:2|tcp://HOST:PORT]

Makes COPIES variants of the interview that differ in content (a small gain
change each, so every copy hashes differently and is really ingested), then
times the real CLI over the whole batch once per --jobs value, each into a
fresh library, in this same script. With --cluster, the same batch through
`ingest --cluster SPEC` too (issue 14), and the transcripts are checked to be
identical to the local run's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "bench"


def make_copies(video: Path, n: int, dest: Path) -> list[Path]:
    import ffmpeg

    from media.binaries import ffmpeg_exe

    out = []
    for i in range(n):
        target = dest / f"{video.stem}_{i:02d}{video.suffix}"
        (
            ffmpeg.input(str(video))
            .output(str(target), vcodec="copy", acodec="aac", af=f"volume={0.80 + 0.02 * i:.2f}")
            .global_args("-nostdin", "-loglevel", "error")
            .run(cmd=ffmpeg_exe(), overwrite_output=True)
        )
        out.append(target)
    return out


def ingest(files: list[Path], jobs: int, model: str, lib: Path, cluster: str | None = None) -> tuple[float, dict]:
    argv = [sys.executable, "-m", "pipeline.cli", "ingest", *map(str, files), "--library", str(lib),
            "--jobs", str(jobs), "--json", "--language", "en"]  # fmt: skip
    if cluster:
        argv += ["--cluster", cluster]
    if model:
        argv += ["--model", model]
    t = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return wall, json.loads(proc.stdout)


def transcripts(lib: Path) -> dict[str, dict]:
    out = {}
    for p in sorted((lib / "transcripts").glob("*.json")):
        data = json.loads(p.read_text())
        data.pop("created", None)
        out[p.stem] = data
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=SHARED / "htp_interview.mp4")
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--model", default="")
    ap.add_argument("--cluster", default=None, help="also time `ingest --cluster SPEC` on the same batch")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "media").mkdir()
        files = make_copies(args.video, args.copies, tmp / "media")
        times = {}
        for jobs in (1, 2):
            wall, summary = ingest(files, jobs, args.model, tmp / f"lib{jobs}")
            assert summary["done"] == len(files), summary
            times[jobs] = wall
            print(f"--jobs {jobs}: {wall:7.1f} s for {len(files)} files")
        if args.cluster:
            wall, summary = ingest(files, 1, args.model, tmp / "libc", args.cluster)
            assert summary["done"] == len(files), summary
            times[args.cluster] = wall
            same = transcripts(tmp / "lib1") == transcripts(tmp / "libc")
            print(f"--cluster {args.cluster}: {wall:7.1f} s for {len(files)} files, "
                  f"ratio to --jobs 1 {wall / times[1]:.3f}; transcripts identical to --jobs 1: {same}")  # fmt: skip
    ratio = times[2] / times[1]
    print(f"ratio jobs2/jobs1: {ratio:.3f} ({(1 - ratio):.1%} faster)")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "batch.json").write_text(json.dumps({"copies": args.copies, "times": times, "ratio": ratio}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
