#!/usr/bin/env python3
"""Speed, memory and accuracy of the transcription engines on a real-length interview.

Each configuration runs in its own process, so its peak RSS (VmHWM) is its
own and one run's warm caches don't flatter the next. WER uses Whisper's
English normalizer (numbers, spelling variants, punctuation) and jiwer.

    .venv/bin/python bench/bench_engines.py                       # the default set
    .venv/bin/python bench/bench_engines.py --repeat 2 --only fw-base-b5,ow-base-b1
    .venv/bin/python bench/bench_engines.py --media X.mp4 --ref X.ref.txt

Timings are noisy when other work shares the CPU: use --repeat and read the
best run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench"

# name: (engine, model, beam, extra TranscribeOptions[, faster-whisper compute type])
CONFIGS: dict[str, tuple] = {
    "fw-tiny.en-b5": ("faster-whisper", "tiny.en", 5, {}),
    "fw-tiny.en-b1": ("faster-whisper", "tiny.en", 1, {}),
    "fw-base-b5": ("faster-whisper", "base", 5, {}),
    "fw-base-b1": ("faster-whisper", "base", 1, {}),
    "ow-base-b1": ("openai-whisper", "base", 1, {}),
    "ow-base-b5": ("openai-whisper", "base", 5, {}),
    "fw-base-b5-novad": ("faster-whisper", "base", 5, {"vad_filter": False}),
    "ow-base-b1-novad": ("openai-whisper", "base", 1, {"vad_filter": False}),
    # the glossary as faster-whisper's initial_prompt (first window only) instead of hotwords
    "fw-base-b5-prompt": ("faster-whisper", "base", 5, {"glossary_as_hotwords": False}),
    "fw-base-b5-fp32": ("faster-whisper", "base", 5, {}, "float32"),
}
DEFAULT_SET = "fw-tiny.en-b5,fw-tiny.en-b1,fw-base-b5,fw-base-b1,ow-base-b1"


def child(spec: dict) -> None:
    """Runs in the measuring process: load, transcribe, report as JSON on stdout."""
    sys.path.insert(0, str(ROOT))
    from media.audio import load_audio
    from pipeline.asr import TranscribeOptions, load_engine

    audio = load_audio(spec["media"])
    t0 = time.perf_counter()
    engine = load_engine(spec["engine"], spec["model"], compute_type=spec.get("compute_type", "int8"))
    t1 = time.perf_counter()
    opts = TranscribeOptions(language=spec.get("language"), beam_size=spec["beam"], **spec["extra"])
    result = engine.transcribe(audio, opts)
    t2 = time.perf_counter()
    hwm = next(
        int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM")
    )
    text = " ".join(s.text for s in result.segments)
    print(
        json.dumps(
            {
                "load_s": t1 - t0,
                "transcribe_s": t2 - t1,
                "audio_s": audio.size / 16000,
                "peak_rss_mb": hwm / 1024,
                "language": result.language,
                "text": text,
            }
        )
    )


def wer(ref: str, hyp: str) -> float:
    import jiwer
    from whisper.normalizers import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    return jiwer.wer(norm(ref), norm(hyp))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--media", default=str(BENCH / "htp_interview.mp4"))
    ap.add_argument("--ref", default=str(BENCH / "htp_interview.ref.txt"))
    ap.add_argument("--only", default=DEFAULT_SET, help="comma-separated config names: " + ", ".join(CONFIGS))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--language", default=None)
    ap.add_argument("--glossary", default="", help="comma-separated terms (TranscribeOptions.glossary)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "engines.json"))
    ap.add_argument("--terms", default="", help="comma-separated terms to count in each output (glossary recall)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return

    ref = Path(args.ref).read_text()
    rows = []
    print(f"{'config':22} {'run':>3} {'load s':>7} {'asr s':>7} {'RTF':>6} {'peak MB':>8} {'WER %':>6}")
    for name in args.only.split(","):
        engine, model, beam, extra, *compute = CONFIGS[name]
        extra = dict(extra)
        if args.glossary:
            extra["glossary"] = [t.strip() for t in args.glossary.split(",")]
        spec = {"media": args.media, "engine": engine, "model": model, "beam": beam, "extra": extra,
                "language": args.language, "compute_type": compute[0] if compute else "int8"}  # fmt: skip
        for run in range(args.repeat):
            proc = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, cwd=ROOT
            )
            if proc.returncode:
                print(f"{name}: failed\n{proc.stderr[-2000:]}")
                break
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r.update(config=name, run=run, rtf=r["transcribe_s"] / r["audio_s"], wer=wer(ref, r["text"]))
            rows.append(r)
            terms = {t: r["text"].lower().count(t.lower()) for t in args.terms.split(",") if t}
            r["terms"] = terms
            print(f"{name:22} {run:>3} {r['load_s']:7.1f} {r['transcribe_s']:7.1f} {r['rtf']:6.3f} "
                  f"{r['peak_rss_mb']:8.0f} {100 * r['wer']:6.2f} {terms or ''}", flush=True)  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    print(f"details: {out}")


if __name__ == "__main__":
    main()
