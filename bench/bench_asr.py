"""The pipeline's transcription against faster-whisper's own defaults, in one run.

    python bench/bench_asr.py [FILE ...]      # default: htp_interview, htp_noisy, real/real_*.mp4

For each file: words from the engine's `transcribe` as ingest calls it
(default options, language detected, the whole file as one window) against
`WhisperModel(base).transcribe(path, beam_size=5, word_timestamps=True)`
(faster-whisper's defaults: no VAD, temperature fallback, conditioning on
previous text) on the same packaged model; WER of both where a reference
text is next to the file (`NAME.ref.txt`); for files with an RTTM, the turns
that got no word at all (speech dropped); what the pipeline dropped on record;
and the time ratio pipeline / defaults (measured in this run, one after the
other, on a CPU other jobs may share). Exit status 1 when the pipeline's WER
is more than 0.5 points above the defaults' on a file with a reference.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
SHARED = ROOT.parent / "shared" / "bench"
WER_SLACK = 0.005

from wer import wer  # noqa: E402


def default_files() -> list[Path]:
    return [SHARED / "htp_interview.mp4", SHARED / "htp_noisy.mp4", *sorted((SHARED / "real").glob("real_*.mp4"))]


def turns(path: Path) -> list[tuple[float, float]]:
    """(start, end) of each turn in the RTTM next to `path`, if any."""
    rttm = path.with_suffix(".rttm")
    if not rttm.is_file():
        return []
    out = []
    for line in rttm.read_text().splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            out.append((float(f[3]), float(f[3]) + float(f[4])))
    return out


def silent_turns(spans: list[tuple[float, float]], word_times: list[tuple[float, float]]) -> int:
    """Turns with no word overlapping them."""
    return sum(1 for s, e in spans if not any(ws < e and we > s for ws, we in word_times))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                    help="a pipeline TranscribeOptions field, e.g. condition_on_previous_text=false")  # fmt: skip
    args = ap.parse_args()
    files = args.files or default_files()
    overrides = {k: ast.literal_eval(v.capitalize() if v in ("true", "false") else v)
                 for k, v in (s.split("=", 1) for s in args.set)}  # fmt: skip

    from faster_whisper import WhisperModel

    from media.audio import load_audio
    from pipeline.asr import load_engine
    from pipeline.asr.base import default_threads
    from pipeline.options import TranscribeOptions

    engine = load_engine("faster-whisper", "base")
    plain = WhisperModel(str(engine.resolved.path), device="cpu", compute_type="int8", cpu_threads=default_threads())
    rows, failed = [], False
    for path in files:
        audio = load_audio(path)
        t = time.perf_counter()
        result = engine.transcribe(audio, TranscribeOptions(**overrides))
        t_pipe = time.perf_counter() - t
        t = time.perf_counter()
        segments, _ = plain.transcribe(str(path), beam_size=5, word_timestamps=True)
        segments = list(segments)
        t_def = time.perf_counter() - t
        p_words = [(w.start, w.end) for s in result.segments for w in s.words]
        d_words = [(w.start, w.end) for s in segments for w in s.words or []]
        row = {"file": path.name, "pipe_words": len(p_words), "def_words": len(d_words),
               "ratio": t_pipe / t_def, "dropped": len(result.dropped)}  # fmt: skip
        ref = path.with_suffix(".ref.txt")
        if ref.is_file():
            text = ref.read_text()
            row["pipe_wer"] = wer(text, " ".join(s.text for s in result.segments))
            row["def_wer"] = wer(text, " ".join(s.text for s in segments))
            failed |= row["pipe_wer"] > row["def_wer"] + WER_SLACK
        spans = turns(path)
        if spans:
            row["turns"] = len(spans)
            row["pipe_silent"] = silent_turns(spans, p_words)
            row["def_silent"] = silent_turns(spans, d_words)
        for d in result.dropped:
            print(f"  {path.name}: dropped {d.start:.1f}-{d.end:.1f} s ({d.reason}): {d.text[:80]!r}", flush=True)
        rows.append(row)
        print(row, flush=True)

    print()
    print(
        "| file | words: pipeline | words: fw defaults | WER: pipeline | WER: fw defaults "
        "| turns without words: pipeline / defaults | dropped on record | time pipeline / defaults |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        w = (f"{100 * r['pipe_wer']:.1f} %", f"{100 * r['def_wer']:.1f} %") if "pipe_wer" in r else ("-", "-")
        silent = f"{r['pipe_silent']} / {r['def_silent']} of {r['turns']}" if "turns" in r else "-"
        print(f"| {r['file']} | {r['pipe_words']} | {r['def_words']} | {w[0]} | {w[1]} | {silent} "
              f"| {r['dropped']} | {r['ratio']:.2f} |")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
