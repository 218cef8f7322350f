"""openai-whisper float32 against int8 (dynamically quantized Linear layers) on the bench interview.

    python bench/bench_openai_int8.py [--video ../shared/bench/htp_interview.mp4] [--model base] [--runs 2]
                                      [--with-faster-whisper]

Each run is its own child process (so its peak RSS is that engine's alone),
and the runs alternate float32, int8, float32, int8, ... so that load on the
shared machine falls on both alike. A child loads the engine (not timed),
transcribes the whole file through the engine with the default options and
reports wall time, peak RSS, WER (Whisper's English normalizer + jiwer, as
bench_pipeline.py) and, for the bench keywords, the error of the word start
against the true one: for each time the word was spoken, the distance to the
nearest recognised occurrence ("worst" is the largest such distance, "first"
the first recognised occurrence's distance to the nearest true one).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_pipeline import KEYWORDS, SHARED, truth_start, wer  # noqa: E402


def keyword_errors(words: list, truth: dict) -> dict:
    out = {}
    for kw in KEYWORDS:
        toks = kw.strip('"').lower().split()
        keys = [w.word.lower().strip(".,?!") for w in words]
        got = [words[i].start for i in range(len(words)) if keys[i : i + len(toks)] == toks]
        spoken = truth_start(truth, kw)
        if not got or not spoken:
            out[kw] = {"found": len(got), "spoken": len(spoken), "first_s": None, "worst_s": None}
            continue
        first = min(abs(got[0] - s) for s in spoken)
        worst = max(min(abs(g - s) for g in got) for s in spoken)
        out[kw] = {"found": len(got), "spoken": len(spoken), "first_s": round(first, 3), "worst_s": round(worst, 3)}
    return out


def child(video: Path, engine_name: str, model: str, compute_type: str) -> dict:
    from media.audio import load_audio
    from pipeline.asr import TranscribeOptions, load_engine

    truth = json.loads(video.with_suffix(".truth.json").read_text())
    ref = video.with_suffix(".ref.txt").read_text()
    audio = load_audio(video)
    t = time.perf_counter()
    engine = load_engine(engine_name, model, compute_type=compute_type)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    result = engine.transcribe(audio, TranscribeOptions())
    wall = time.perf_counter() - t
    words = [w for s in result.segments for w in s.words]
    hyp = " ".join(s.text for s in result.segments)
    return {
        "engine": engine_name,
        "compute_type": compute_type,
        "audio_s": round(audio.size / 16000, 1),
        "load_s": round(load_s, 2),
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "wer": round(wer(ref, hyp), 4),
        "words": len(words),
        "keywords": keyword_errors(words, truth),
        "text": hyp,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=SHARED / "htp_interview.mp4")
    ap.add_argument("--model", default="base")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--with-faster-whisper", action="store_true", help="one faster-whisper int8 run for reference")
    ap.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.video, args.child[0], args.model, args.child[1])))
        return 0
    plan = [("openai-whisper", ct) for _ in range(args.runs) for ct in ("float32", "int8")]
    if args.with_faster_whisper:
        plan.append(("faster-whisper", "int8"))
    rows = []
    for engine, ct in plan:
        proc = subprocess.run([sys.executable, __file__, "--child", engine, ct, "--video", str(args.video),
                               "--model", args.model], capture_output=True, text=True)  # fmt: skip
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            return 1
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        kws = row["keywords"].values()
        worst = [k["worst_s"] for k in kws if k["worst_s"] is not None]
        print(f"{engine:15} {ct:8} wall {row['wall_s']:6.1f} s  load {row['load_s']:4.1f} s  "
              f"RSS {row['peak_rss_mib']:5d} MiB  WER {row['wer']:6.2%}  "
              f"kw found {sum(k['found'] > 0 for k in kws)}/{len(kws)}  "
              f"kw worst err max {max(worst):.2f} s mean {sum(worst) / len(worst):.2f} s", flush=True)  # fmt: skip
    for r in rows[:2]:
        print(f"\n{r['engine']} {r['compute_type']} keywords:")
        for kw, k in r["keywords"].items():
            print(f"    {kw:16} found {k['found']}/{k['spoken']}  first {k['first_s']}  worst {k['worst_s']}")
    same = all(r["text"] == next(x for x in rows if x["compute_type"] == r["compute_type"]
                                 and x["engine"] == r["engine"])["text"] for r in rows)  # fmt: skip
    print(f"\nrepeat runs give the same text: {same}")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "openai_int8.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
