#!/usr/bin/env python3
"""Overlapped speech: how well segmentation-3.0 hears it, what overlap turns do to DER, and what it costs.

    .venv/bin/python bench/bench_overlap.py [--only NAME ...] [--cost] [--threshold P]

Per file of ../shared/bench/real/ (AMI excerpts and real-voice mosaics, with
reference RTTM and UEM) and the two synthetic interviews, no Whisper:

- detection, on the model's 16.875-ms frames inside the UEM: speech missed and
  false alarm against the reference (any speaker) for the segmentation model
  (p >= threshold) and for Silero, the speaker stage's VAD; overlap (two or
  more reference speakers at once) share of the reference speech, precision
  and recall of the frames the model calls overlap;
- the diarizer's turns scored as DER (bench_real's scoring) without and with
  the overlap turns `pipeline.speakers.overlap` adds, and with every speaker's
  speech as `pipeline.speakers.reconstruct` hears it: the speaker stage alone,
  before any word is placed;
- `--cost`: on htp_interview, the CPU time of the segmentation against the
  diarization without it (same process, same audio, alternating, medians).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_real import REAL, SYNTHETIC, der, read_rttm, read_uem  # noqa: E402

from media.audio import load_audio  # noqa: E402
from pipeline.speakers.segmentation import Segmentation, segment  # noqa: E402


def files(only: list[str]) -> list[Path]:
    found = sorted(p for p in REAL.iterdir() if p.suffix in {".wav", ".mp4"}) + SYNTHETIC
    return [p for p in found if not only or any(o in p.name for o in only)]


def reference_counts(ref, n: int) -> np.ndarray:
    """Reference speakers talking in each model frame (by the frame's centre)."""
    times = Segmentation.frame_time(np.arange(n))
    count = np.zeros(n, int)
    for start, end, _who in ref:
        count += (times >= start) & (times < end)
    return count


def scored_mask(uem, n: int) -> np.ndarray:
    times = Segmentation.frame_time(np.arange(n))
    if not uem:
        return np.ones(n, bool)
    return np.any([(times >= a) & (times < b) for a, b in uem], axis=0)


def silero_speech(audio: np.ndarray, n: int) -> np.ndarray:
    from pipeline.speakers.vad import speech_regions

    times = Segmentation.frame_time(np.arange(n))
    out = np.zeros(n, bool)
    for a, b in speech_regions(audio):
        out |= (times >= a) & (times < b)
    return out


def pct(x: float | None) -> str:
    return "" if x is None or np.isnan(x) else f"{100 * x:.1f} %"


CACHE: Path | None = None  # --cache DIR: the segmentation and the diarizer's turns kept between runs


def cached(name: str, make):
    import pickle

    if CACHE is None:
        return make()
    path = CACHE / f"{name}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    value = make()
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(value))
    return value


def detection(path: Path, threshold: float) -> dict:
    audio = load_audio(path)
    seg = cached(path.name + ".seg", lambda: segment(audio))
    n = len(seg.speech)
    ref = read_rttm(path.with_suffix(".rttm"))
    uem = read_uem(path.with_suffix(".uem"))
    mask = scored_mask(uem, n)
    count = reference_counts(ref, n)[mask]
    speech = seg.speech[mask] >= threshold
    over = seg.overlap[mask] >= threshold
    silero = silero_speech(audio, n)[mask]
    ref_speech, ref_over = count >= 1, count >= 2
    return {
        "name": path.name,
        "ref_speech_s": ref_speech.sum() * 0.016875,
        "seg_miss": (ref_speech & ~speech).sum() / max(1, ref_speech.sum()),
        "seg_fa": (~ref_speech & speech).sum() / max(1, ref_speech.sum()),
        "silero_miss": (ref_speech & ~silero).sum() / max(1, ref_speech.sum()),
        "silero_fa": (~ref_speech & silero).sum() / max(1, ref_speech.sum()),
        "ref_overlap": ref_over.sum() / max(1, ref_speech.sum()),
        "overlap_precision": (over & ref_over).sum() / over.sum() if over.any() else float("nan"),
        "overlap_recall": (over & ref_over).sum() / ref_over.sum() if ref_over.any() else float("nan"),
        "detected_overlap_s": over.sum() * 0.016875,
        "seg": seg,
        "audio": audio,
        "ref": ref,
        "uem": uem,
    }


def detection_table(rows: list[dict]) -> str:
    lines = [
        "| file | reference speech | speech missed: segmentation / Silero | false alarm: segmentation / Silero "
        "| reference overlap share | overlap detected | overlap precision | overlap recall |",
        "|" + " --- |" * 8,
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['ref_speech_s']:.1f} s | {pct(r['seg_miss'])} / {pct(r['silero_miss'])} "
            f"| {pct(r['seg_fa'])} / {pct(r['silero_fa'])} | {pct(r['ref_overlap'])} | {r['detected_overlap_s']:.1f} s "
            f"| {pct(r['overlap_precision'])} | {pct(r['overlap_recall'])} |"
        )
    return "\n".join(lines)


def cost(path: Path, rounds: int = 3) -> str:
    from pipeline.speakers.diarize import diarize_stream

    def diarize(audio):
        return diarize_stream([audio], overlaps=False)

    audio = load_audio(path)
    segment(audio[: 16000 * 12])
    diarize(audio[: 16000 * 12])  # models loaded and warm
    seg_t, dia_t = [], []
    for _ in range(rounds):
        t = time.process_time()
        segment(audio)
        seg_t.append(time.process_time() - t)
        t = time.process_time()
        diarize(audio)
        dia_t.append(time.process_time() - t)
    s, d = statistics.median(seg_t), statistics.median(dia_t)
    return (f"{path.name} ({len(audio) / 16000:.0f} s): segmentation {s:.2f} CPU s, diarization without it "
            f"{d:.2f} CPU s: ratio {s / d:.2f} (medians of {rounds}, alternating)")  # fmt: skip


def der_rows(rows: list[dict]) -> str:
    """The diarizer's turns, alone and with overlap turns (local speakers matched, or nearest only)."""
    from pipeline.speakers.diarize import Turn, diarize_stream
    from pipeline.speakers.overlap import merged_voices, overlap_turns, with_merged_voices
    from pipeline.speakers.reconstruct import heard
    from pipeline.transcript import TURN_PAUSE_S

    lines = [
        "| file | overlap in reference | overlap turns added | DER diarizer | miss | DER + overlaps (matched) | miss "
        "| confusion | DER + overlaps (nearest only) | speakers found / with overlaps / true "
        "| merged voices split out | DER + split + overlaps | speakers found then "
        "| DER + split + overlaps + speech heard (reconstruct) |",
        "|" + " --- |" * 14,
    ]
    sums: dict[str, list] = {}
    for r in rows:
        turns = cached(r["name"] + ".turns", lambda r=r: diarize_stream([r["audio"]], overlaps=False))
        plain = [(t.start, t.end, t.label) for t in turns]
        matched = overlap_turns(r["seg"], turns)
        nearest = overlap_turns(r["seg"], turns, match=False)
        duration = len(r["audio"]) / 16000
        d0 = der(r["ref"], plain, r["uem"], duration)
        d1 = der(r["ref"], plain + matched, r["uem"], duration)
        d2 = der(r["ref"], plain + nearest, r["uem"], duration)
        true = len({t[2] for t in r["ref"]})
        spans = merged_voices(r["seg"], turns)
        split = with_merged_voices(turns, spans, Turn)
        both = [(t.start, t.end, t.label) for t in split] + overlap_turns(r["seg"], split)
        d3 = der(r["ref"], both, r["uem"], duration)
        d4 = der(r["ref"], both + heard(r["seg"], split, TURN_PAUSE_S), r["uem"], duration)
        group = "ami" if r["name"].startswith("ami") else "real" if r["name"].startswith("real") else "htp"
        found = [d["speakers_found"] >= 2 for d in (d0, d1, d3)]
        sums.setdefault(group, []).append(
            (d0["der"], d1["der"], d2["der"], found[0], found[1], d3["der"], found[2], d4["der"])
        )
        lines.append(
            f"| {r['name']} | {pct(r['ref_overlap'])} | {sum(b - a for a, b, _ in matched):.1f} s | {pct(d0['der'])} "
            f"| {pct(d0['miss'])} | {pct(d1['der'])} | {pct(d1['miss'])} | {pct(d1['confusion'])} | {pct(d2['der'])} "
            f"| {d0['speakers_found']} / {d1['speakers_found']} / {true} | {sum(b - a for a, b in spans):.1f} s "
            f"| {pct(d3['der'])} | {d3['speakers_found']} | {pct(d4['der'])} |"
        )
        print(f"  {r['name']}: {matched}", file=sys.stderr, flush=True)
    for group, v in sums.items():
        m = np.mean(v, axis=0)
        two = f"{int(sum(x[3] for x in v))} / {int(sum(x[4] for x in v))} of {len(v)}"
        two3 = int(sum(x[6] for x in v))
        lines.append(f"| **mean {group}** | | | {pct(m[0])} | | {pct(m[1])} | | | {pct(m[2])} | >= 2 found {two} "
                     f"| | {pct(m[5])} | >= 2 found {two3} | {pct(m[7])} |")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=[])
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--cost", action="store_true", help="only the CPU-time ratio on htp_interview")
    ap.add_argument("--cache", type=Path, help="keep the segmentation and turns here between runs")
    args = ap.parse_args()
    global CACHE
    CACHE = args.cache
    if args.cost:
        print(cost(SYNTHETIC[0]))
        return 0
    rows = [detection(p, args.threshold) for p in files(args.only)]
    print(detection_table(rows))
    print()
    print(der_rows(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
